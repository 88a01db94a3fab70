-- gridsync server schema, version 7: the log names its records and devices
-- by small numbers (docs/adr/0024-the-log-names-records-and-devices-by-number.md).

-- The merged states take an explicit INTEGER PRIMARY KEY, `key`: the log
-- refers to a record by it. (A table's implicit rowid may be renumbered by
-- VACUUM; an INTEGER PRIMARY KEY never is.) A record's row is made by its
-- first logged change, in the transaction that then saves its state, so a
-- row's state is NULL only inside that transaction, or for a record whose
-- changes were logged without a state (the storage seam's own tests do).
CREATE TABLE records_v7 (
    key         INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL UNIQUE,
    kind        INTEGER NOT NULL,
    state       BLOB,               -- gridsync_proto::RecordState::to_bytes; NULL: not saved yet
    conflicted  INTEGER NOT NULL,   -- 1 while any field has competing values
    updated_seq INTEGER NOT NULL
);
INSERT INTO records_v7 (id, kind, state, conflicted, updated_seq)
    SELECT id, kind, state, conflicted, updated_seq FROM records ORDER BY rowid;
INSERT INTO records_v7 (id, kind, state, conflicted, updated_seq)
    SELECT record, 0, NULL, 0, 0 FROM changes
    WHERE record NOT IN (SELECT id FROM records) GROUP BY record ORDER BY min(seq);
DROP TABLE records;
ALTER TABLE records_v7 RENAME TO records;
CREATE INDEX records_kind ON records (kind, updated_seq);

-- Who made the log's changes: a device and its user, each pair under a
-- small number. A change's body leaves its author out when the row's
-- origin names it (gridsync_proto::change::log_body, format 3); the bodies
-- of earlier versions keep theirs, and their rows name an origin with an
-- empty author.
CREATE TABLE origins (
    key    INTEGER PRIMARY KEY,
    actor  BLOB    NOT NULL,
    author TEXT    NOT NULL,
    UNIQUE (actor, author)
);
INSERT INTO origins (actor, author) SELECT actor, '' FROM changes GROUP BY actor ORDER BY min(seq);

-- The log: `record` is records.key and `origin` origins.key (1 to 3 bytes
-- each instead of 16, and the author's name). Every position and the
-- AUTOINCREMENT counter are kept. The per-record index is on `record` alone: an index ends with the
-- rowid, which `seq` is, so it reads a record's changes in log order and
-- by position range without holding `seq` twice.
CREATE TABLE changes_v7 (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    record          INTEGER NOT NULL,   -- records.key
    origin          INTEGER NOT NULL,   -- origins.key
    counter         INTEGER NOT NULL,
    received_ms     INTEGER NOT NULL,
    body            BLOB    NOT NULL,   -- gridsync_proto::change::log_body
    clock_suspect   INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO changes_v7 (seq, record, origin, counter, received_ms, body, clock_suspect, clock_offset_ms)
    SELECT c.seq, r.key, o.key, c.counter, c.received_ms, c.body, c.clock_suspect, c.clock_offset_ms
    FROM changes c JOIN records r ON r.id = c.record JOIN origins o ON o.actor = c.actor AND o.author = ''
    ORDER BY c.seq;
DELETE FROM sqlite_sequence WHERE name = 'changes_v7';
INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_v7', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_v7 RENAME TO changes;
CREATE INDEX changes_record ON changes (record);
