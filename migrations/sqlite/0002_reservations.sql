-- Bandwidth quotas are caps (docs/contract.md §8): the check reserves the expected bytes in bw_usage, so
-- no new column is needed there; the check logic itself lives in Go for SQLite.

-- Readiness probe: Store.Ping upserts this one row, so /readyz fails where a check's COMMIT
-- would (a full disk, a read-only file).
CREATE TABLE health (
    id INTEGER NOT NULL PRIMARY KEY,
    at INTEGER NOT NULL
);
