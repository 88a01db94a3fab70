-- gridsync server schema, version 6: the log and the merged states on less
-- disk (docs/adr/0022-the-log-and-the-states-on-less-disk.md).

-- The merged states move to a rowid table. A WITHOUT ROWID table keeps at
-- most about a quarter of a page of each row in its b-tree and puts the rest
-- on overflow pages of its own, so a 1.4 KB state took 4 KiB of overflow
-- page; a rowid table keeps rows of up to a page in place.
-- The columns keep their order (and so `SELECT *` its meaning).
CREATE TABLE records_v6 (
    id          BLOB    PRIMARY KEY,
    kind        INTEGER NOT NULL,
    state       BLOB    NOT NULL,   -- gridsync_proto::RecordState::to_bytes
    conflicted  INTEGER NOT NULL,   -- 1 while any field has competing values
    updated_seq INTEGER NOT NULL
);
INSERT INTO records_v6 (id, kind, state, conflicted, updated_seq)
    SELECT id, kind, state, conflicted, updated_seq FROM records ORDER BY id;
DROP TABLE records;
ALTER TABLE records_v6 RENAME TO records;
CREATE INDEX records_kind ON records (kind, updated_seq);

-- The log loses two indexes that only cost: `UNIQUE (record, actor, counter)`
-- (the server recognises a change it has by the record state's causal
-- context, and reads such a change through changes_record_seq) and
-- changes_actor_seq, which no query used. Bodies written from now on leave
-- out the record and the device, which the row holds
-- (gridsync_proto::change::log_body); older bodies are read as they are.
CREATE TABLE changes_v6 (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    record          BLOB    NOT NULL,
    actor           BLOB    NOT NULL,
    counter         INTEGER NOT NULL,
    received_ms     INTEGER NOT NULL,
    body            BLOB    NOT NULL,   -- gridsync_proto::change::log_body
    clock_suspect   INTEGER NOT NULL DEFAULT 0,
    clock_offset_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO changes_v6 (seq, record, actor, counter, received_ms, body, clock_suspect, clock_offset_ms)
    SELECT seq, record, actor, counter, received_ms, body, clock_suspect, clock_offset_ms FROM changes ORDER BY seq;
-- Positions are never handed out twice: the new table's counter starts where
-- the old one stood, even past the last row.
DELETE FROM sqlite_sequence WHERE name = 'changes_v6';
INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_v6', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_v6 RENAME TO changes;
CREATE INDEX changes_record_seq ON changes (record, seq);
