-- gridsync server schema, version 3: the hierarchy, typed records and
-- scoped replication (docs/adr/0010-governance-hierarchy-and-scoped-replication.md).

-- Places: city → county → township → village → grid. Records name a place by
-- its code; moving a grid changes only its `parent` here.
CREATE TABLE places (
    code       TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    level      TEXT    NOT NULL,             -- gridsync_proto::Level name
    parent     TEXT    REFERENCES places (code),
    created_ms INTEGER NOT NULL,
    moved_ms   INTEGER
) WITHOUT ROWID;
CREATE INDEX places_parent ON places (parent);

-- Units (departments) that receive transferred disputes.
CREATE TABLE units (
    code       TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    place      TEXT    NOT NULL REFERENCES places (code),
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Department users belong to a unit; every user's `scope` is a place code
-- ('' for the whole deployment).
ALTER TABLE users ADD COLUMN unit TEXT REFERENCES units (code);

-- Counters: `directory_version` moves with every change to places, units or
-- user assignments, so devices learn when to refresh their profile.
CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('directory_version', 1);

-- Who may see each record (gridsync_proto::access): one row per key
-- ('p:PLACE', 'u:UNIT', 'n:USER'), with the record's last activity and
-- whether it is an open dispute, so a device's scope is an index range.
CREATE TABLE record_access (
    key       TEXT    NOT NULL,
    record    BLOB    NOT NULL,
    active_ms INTEGER NOT NULL,
    open      INTEGER NOT NULL,
    PRIMARY KEY (key, record)
) WITHOUT ROWID;
CREATE INDEX record_access_recent ON record_access (key, active_ms);
CREATE INDEX record_access_open ON record_access (key) WHERE open = 1;
CREATE INDEX record_access_record ON record_access (record);

-- When each change's device clock was far off the server's.
ALTER TABLE changes ADD COLUMN clock_suspect INTEGER NOT NULL DEFAULT 0;
-- The device's clock minus the server's when the push arrived.
ALTER TABLE changes ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX changes_record_seq ON changes (record, seq);

-- What each device holds, as the server sent it. A row is confirmed once
-- the device presents a cursor at or after `added_token` (0: the device
-- made the record itself); a removal once it presents one at or after
-- `removed_token`. `rebuild` asks for the record's whole history to be sent
-- again (the server refused a change the device holds). `sent_through` is
-- the log position up to which the record was sent whole: later pages send
-- only its changes after that.
CREATE TABLE replicas (
    device        BLOB    NOT NULL,
    record        BLOB    NOT NULL,
    added_token   INTEGER NOT NULL,
    removed_token INTEGER,
    rebuild       INTEGER NOT NULL DEFAULT 0,
    sent_through  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, record)
) WITHOUT ROWID;

-- Pull cursors the server issued: each names the log position it covers.
CREATE TABLE pull_tokens (
    token     INTEGER PRIMARY KEY AUTOINCREMENT,
    device    BLOB    NOT NULL,
    log_high  INTEGER NOT NULL,
    issued_ms INTEGER NOT NULL
);
CREATE INDEX pull_tokens_device ON pull_tokens (device, token);

-- Daily reports by worker and day, for reporting completeness: when the
-- report was first filed (trusted time: the device's, unless its clock was
-- suspect, then the server's receipt) and what it said.
CREATE TABLE daily_reports (
    worker      TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    record      BLOB    NOT NULL,
    grid        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    filed_ms    INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (worker, date)
) WITHOUT ROWID;
CREATE INDEX daily_reports_date ON daily_reports (date);
