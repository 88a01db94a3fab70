-- gridsync server schema, version 1.

-- Every accepted change, in the order the server accepted it. `seq` is the
-- server sequence number that devices use as their pull cursor. A dot
-- (record, actor, counter) is stored once: a re-sent change is recognised here.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record      BLOB    NOT NULL,
    actor       BLOB    NOT NULL,
    counter     INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    body        BLOB    NOT NULL,   -- postcard-encoded gridsync_proto::Change
    UNIQUE (record, actor, counter)
);
CREATE INDEX changes_actor_seq ON changes (actor, seq);

-- The merged state of every record (gridsync_proto::RecordState::to_bytes).
CREATE TABLE records (
    id          BLOB    PRIMARY KEY,
    kind        INTEGER NOT NULL,
    state       BLOB    NOT NULL,
    conflicted  INTEGER NOT NULL,   -- 1 while any field has competing values
    updated_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_kind ON records (kind, updated_seq);

-- Devices seen pushing, for operators.
CREATE TABLE devices (
    id            BLOB    PRIMARY KEY,
    first_seen_ms INTEGER NOT NULL,
    last_push_ms  INTEGER NOT NULL,
    changes       INTEGER NOT NULL
) WITHOUT ROWID;
