-- cmd/upload's stored files: one row per file in UPLOAD_DIR. GET serves content_type from here
-- (the type the client uploaded with, not a guess), and the FILE_TTL janitor expires files by
-- uploaded_at (Unix ms), not by the file's mtime, which a copy or a restore changes.
CREATE TABLE uploads (
    path         TEXT    NOT NULL PRIMARY KEY,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    uploaded_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_uploaded_at ON uploads (uploaded_at);
