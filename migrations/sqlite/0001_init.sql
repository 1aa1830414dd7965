-- All times are Unix milliseconds. Rows carry their own expiry (window_end, until, expires_at)
-- so the janitor needs no configuration and replicas with different settings never delete
-- each other's live rows.

-- Request window per (scope, subnet). subnet is the sha256 hex of the subnet text.
CREATE TABLE rate_windows (
    scope         TEXT    NOT NULL,
    subnet        TEXT    NOT NULL,
    window_end    INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subnet)
) WITHOUT ROWID;

-- Bandwidth usage: path_hash '' is the subnet total, otherwise the (subnet, path) counter.
CREATE TABLE bw_usage (
    scope         TEXT    NOT NULL,
    subnet        TEXT    NOT NULL,
    path_hash     TEXT    NOT NULL,
    window_end    INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subnet, path_hash)
) WITHOUT ROWID;

-- Cached /api/fs/link answers; host is the lower-cased hostname of url (throttle key).
CREATE TABLE links (
    path_hash  TEXT    NOT NULL PRIMARY KEY,
    url        TEXT    NOT NULL,
    header     TEXT,
    host       TEXT    NOT NULL DEFAULT '',
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Landing file-size cache.
CREATE TABLE sizes (
    path_hash  TEXT    NOT NULL PRIMARY KEY,
    size       INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Upstream hosts under throttle protection.
CREATE TABLE throttle (
    host   TEXT    NOT NULL PRIMARY KEY,
    status INTEGER NOT NULL,
    until  INTEGER NOT NULL
) WITHOUT ROWID;

-- Auto-ban state.
CREATE TABLE failures (
    scope      TEXT    NOT NULL,
    subnet     TEXT    NOT NULL,
    window_end INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (scope, subnet)
) WITHOUT ROWID;

CREATE TABLE bans (
    scope  TEXT    NOT NULL,
    subnet TEXT    NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (scope, subnet)
) WITHOUT ROWID;

-- Spent single-use tokens; nonce is a sha256 hex so its size is bounded.
CREATE TABLE nonces (
    nonce      TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
