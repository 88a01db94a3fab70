-- gridsync server schema, version 2: identity, enrollment, admin sessions, audit.

-- People: staff who log in to the admin API, and workers whose devices sync.
CREATE TABLE users (
    name       TEXT    PRIMARY KEY,
    role       TEXT    NOT NULL,           -- gridsync_proto::Role name
    scope      TEXT    NOT NULL,           -- place code; '' is the whole deployment
    password   TEXT,                       -- argon2id PHC string; NULL: cannot log in
    active     INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- One-time enrollment codes. Only a SHA-256 of the code is stored.
CREATE TABLE enrollments (
    code_hash  BLOB    PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES users (name),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    device     BLOB
) WITHOUT ROWID;

-- Devices now belong to a user and sign with a key.
ALTER TABLE devices ADD COLUMN user TEXT REFERENCES users (name);
ALTER TABLE devices ADD COLUMN public_key BLOB;
ALTER TABLE devices ADD COLUMN enrolled_ms INTEGER;
ALTER TABLE devices ADD COLUMN revoked_ms INTEGER;
ALTER TABLE devices ADD COLUMN wipe INTEGER NOT NULL DEFAULT 0;
CREATE INDEX devices_user ON devices (user);

-- Admin login sessions. Only a SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES users (name),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Tamper-evident audit log: each row's hash covers the previous row's hash.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    time_ms   INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
