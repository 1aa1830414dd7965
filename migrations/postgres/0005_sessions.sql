-- Sign-in sessions (issue #17). The cookie is signed and self-contained; this row is what makes
-- it revocable: a session is active while its row exists, is not ended and has not expired.
-- groups is a JSON array of names; subnet is the sha256 hex of the client's subnet, as in the
-- other tables; times are Unix ms, ended 0 while the session runs.
CREATE TABLE sessions (
    id        text   PRIMARY KEY,
    user_name text   NOT NULL,
    groups    text   NOT NULL DEFAULT '[]',
    source    text   NOT NULL DEFAULT '',
    subnet    text   NOT NULL DEFAULT '',
    created   bigint NOT NULL,
    expires   bigint NOT NULL,
    ended     bigint NOT NULL DEFAULT 0
);

-- Listing and ending every session of one user.
CREATE INDEX sessions_user ON sessions (user_name);
