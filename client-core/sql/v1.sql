-- gridsync handset store, schema version 1.

-- This installation: its actor id, server, author and clock, and the pull
-- cursor (the last server sequence number applied). Exactly one row.
CREATE TABLE device (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    actor       BLOB    NOT NULL,
    server_url  TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    hlc_millis  INTEGER NOT NULL,
    hlc_logical INTEGER NOT NULL,
    cursor      INTEGER NOT NULL
);

-- The merged state of every record this device holds
-- (gridsync_proto::RecordState::to_bytes).
CREATE TABLE records (
    id         BLOB    PRIMARY KEY,
    kind       INTEGER NOT NULL,
    state      BLOB    NOT NULL,
    conflicted INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_kind ON records (kind);
CREATE INDEX records_conflicted ON records (conflicted) WHERE conflicted = 1;

-- Changes made here and not yet acknowledged by the server, oldest first.
CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    change BLOB    NOT NULL   -- postcard-encoded gridsync_proto::Change
);
