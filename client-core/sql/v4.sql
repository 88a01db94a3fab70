-- gridsync handset store, schema version 4: record states in a rowid table
-- (docs/adr/0022-the-log-and-the-states-on-less-disk.md, the server's
-- same change). A WITHOUT ROWID table keeps at most about a quarter of a
-- page of each row in its b-tree and puts the rest on an overflow page of
-- its own: a sealed patrol or dispute state of 1.1–1.5 KB took a 4 KiB
-- page more. A rowid table keeps rows of up to a page in place. The states
-- stay sealed as they were (their additional data is the record id, which
-- does not change).
CREATE TABLE records_v4 (
    id         BLOB    PRIMARY KEY,
    kind       INTEGER NOT NULL,
    state      BLOB    NOT NULL,
    conflicted INTEGER NOT NULL
);
INSERT INTO records_v4 (id, kind, state, conflicted) SELECT id, kind, state, conflicted FROM records ORDER BY id;
DROP TABLE records;
ALTER TABLE records_v4 RENAME TO records;
CREATE INDEX records_kind ON records (kind);
CREATE INDEX records_conflicted ON records (conflicted) WHERE conflicted = 1;
