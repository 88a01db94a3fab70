-- gridsync handset store, schema version 3: typed records, write groups and
-- scoped replication (docs/adr/0010-governance-hierarchy-and-scoped-replication.md).

-- Each local write is one group: the server accepts or refuses a group
-- whole. Changes queued before this version form a group each.
ALTER TABLE outbox ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET grp = seq;
CREATE INDEX outbox_grp ON outbox (grp);

-- Groups the server refused, kept for the user to see, with the server's
-- code, field and reason. `changes` is sealed like the outbox.
CREATE TABLE rejected (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    record      BLOB    NOT NULL,
    kind        INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    field       TEXT,
    message     TEXT    NOT NULL,
    refused_ms  INTEGER NOT NULL,
    changes     BLOB    NOT NULL
);
CREATE INDEX rejected_record ON rejected (record);

-- The server's receipt of each change this device holds: when it arrived
-- and whether the sending device's clock was far off.
CREATE TABLE receipts (
    record        BLOB    NOT NULL,
    actor         BLOB    NOT NULL,
    counter       INTEGER NOT NULL,
    received_ms   INTEGER NOT NULL,
    clock_suspect INTEGER NOT NULL,
    PRIMARY KEY (record, actor, counter)
) WITHOUT ROWID;

-- The user's profile (role, assignment and the places the device needs),
-- sealed, and its version.
ALTER TABLE device ADD COLUMN profile BLOB;
ALTER TABLE device ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 0;
-- Records in scope that the device's budget left out, as the server last said.
ALTER TABLE device ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0;
