-- Policy limits (issue #16): named counters live in the existing tables (bw_usage for bytes,
-- rate_windows for requests) under scope 'policy:<name>', so no new column is needed there;
-- the check logic itself lives in Go for SQLite.

-- Revoked links: a path (exact) or a prefix, refused with 410 until the given Unix ms.
CREATE TABLE revocations (
    path   TEXT    NOT NULL,
    prefix INTEGER NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (path, prefix)
) WITHOUT ROWID;
