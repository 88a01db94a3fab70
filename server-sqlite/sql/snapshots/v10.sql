-- FROZEN SNAPSHOT of a gridsync server database at schema version 10, as a
-- build of that version left it in the field: snapshot v9 (schema steps 1
-- to 9 and their rows, copied from v9.sql), upgraded by a version 10 build
-- (step 10 as deployed, which gave the database its server epoch; the
-- random epoch it drew is written out here).
-- Version 11 adds the attachment tables and must keep every row, every
-- position, the position counter and the epoch. Frozen, never regenerated:
-- the migration test (tests/migrations.rs) opens it with today's code. Do
-- not edit; add a new snapshot for a new version instead. The test sets
-- PRAGMA user_version = 10 and the application_id after running this file.

-- Schema, version 1 (sql/v1.sql as released).
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

-- Schema, version 2 (sql/v2.sql as released).
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

-- Rows.
INSERT INTO users (name, role, scope, password, active, created_ms) VALUES
    ('admin', 'administrator', '', '$argon2id$v=19$m=19456,t=2,p=1$eEgvT++7Lxk+WIU8sIyaCQ$jXRpO/Myikqm26M/nxVSTws9cdQxsmq2ivCO3F0FNGA', 1, 1795000000000),
    ('wang', 'township_admin', '530102', '$argon2id$v=19$m=19456,t=2,p=1$d8K/ehiVthO6VpKbhS3+8w$pNLpvNp1WJ2ayEFPaoJBdFq9qkcgvQ6heTiDXwma17E', 1, 1795000001000),
    ('li', 'worker', '530102001', NULL, 1, 1795000002000),
    ('zhao', 'worker', '530102001', NULL, 0, 1795000003000),
    ('shen', 'auditor', '', NULL, 1, 1795000003500);

INSERT INTO enrollments (code_hash, user, created_ms, expires_ms, used_ms, device) VALUES
    (X'5be0b2b0d5c0e5b1a3f3c9a4d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3', 'li', 1795000004000, 1795086404000, 1795000005000, X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8'),
    (X'9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b', 'zhao', 1795000006000, 1795086406000, 1795000007000, X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e'),
    (X'0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0', 'li', 1795130300000, 1795216700000, NULL, NULL);

INSERT INTO devices (id, first_seen_ms, last_push_ms, changes, user, public_key, enrolled_ms, revoked_ms, wipe) VALUES
    (X'a0b1c2d3e4f54a6b8c7d9e0f1a2b3c4d', 1794900000000, 1794900000000, 0, NULL, NULL, NULL, NULL, 0),
    (X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 1795000005000, 1795130005004, 5, 'li', X'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 1795000005000, NULL, 0),
    (X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e', 1795000007000, 1795130065002, 3, 'zhao', X'3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 1795000007000, 1795130200000, 1);

INSERT INTO sessions (token_hash, user, created_ms, expires_ms) VALUES
    (X'1111111111111111111111111111111111111111111111111111111111111111', 'admin', 1795000008000, 4102444800000),
    (X'2222222222222222222222222222222222222222222222222222222222222222', 'wang', 1795000001500, 1795028801500);

INSERT INTO audit VALUES (1, 1795000000000, 'cli', 'user.add', 'admin', 'ok', 'role=administrator scope=', X'0000000000000000000000000000000000000000000000000000000000000000', X'bdbff4b7c2ffe7ab47343f5095606b92953c4e7e012b5164a9dc0baa721049da');
INSERT INTO audit VALUES (2, 1795000001000, 'cli', 'user.add', 'wang', 'ok', 'role=township_admin scope=530102', X'bdbff4b7c2ffe7ab47343f5095606b92953c4e7e012b5164a9dc0baa721049da', X'cd288e2c400d1a8dc5cc1d4081730b24c31b99e066c0ea6d88664a518dc88bcf');
INSERT INTO audit VALUES (3, 1795000002000, 'user:wang', 'user.add', 'li', 'ok', 'role=worker scope=530102001', X'cd288e2c400d1a8dc5cc1d4081730b24c31b99e066c0ea6d88664a518dc88bcf', X'a1cdb0dc8190741675add0d9d0077c57796e69ab83aafc0108e83efb03d0ed2f');
INSERT INTO audit VALUES (4, 1795000003000, 'user:wang', 'user.add', 'zhao', 'ok', 'role=worker scope=530102001', X'a1cdb0dc8190741675add0d9d0077c57796e69ab83aafc0108e83efb03d0ed2f', X'ae944fb1d08cf8199be09fc9a0459dd6ffb1d3d0f5401396118f07782176e859');
INSERT INTO audit VALUES (5, 1795000004000, 'user:wang', 'enroll.issue', 'li', 'ok', 'ttl_ms=86400000', X'ae944fb1d08cf8199be09fc9a0459dd6ffb1d3d0f5401396118f07782176e859', X'eaa2a5af466d2fe2be113af96e6daaaa89d3a311870213d37c4a2e0eae773678');
INSERT INTO audit VALUES (6, 1795000005000, 'device:3f8a2c1e-9b4d-4e7f-a1c2-d3e4f5a6b7c8', 'device.enroll', 'li', 'ok', '', X'eaa2a5af466d2fe2be113af96e6daaaa89d3a311870213d37c4a2e0eae773678', X'376942333c227ded24cea20aa70e393d55503415851911a44554984d015bfd4b');
INSERT INTO audit VALUES (7, 1795000006000, 'user:wang', 'enroll.issue', 'zhao', 'ok', 'ttl_ms=86400000', X'376942333c227ded24cea20aa70e393d55503415851911a44554984d015bfd4b', X'b70660d8a3d4eb732deb559d7113b414a8fc289c859b90bd5ef624ed72202c2b');
INSERT INTO audit VALUES (8, 1795000007000, 'device:7c1b9e2d-4a3f-4b8c-9d0e-1f2a3b4c5d6e', 'device.enroll', 'zhao', 'ok', '', X'b70660d8a3d4eb732deb559d7113b414a8fc289c859b90bd5ef624ed72202c2b', X'2aeda2626ea4eca82cdc47401986d336b0bd22adcbac4b99e171dc03b8bab0fc');
INSERT INTO audit VALUES (9, 1795000008000, 'user:admin', 'login', 'admin', 'ok', '', X'2aeda2626ea4eca82cdc47401986d336b0bd22adcbac4b99e171dc03b8bab0fc', X'256bf5bbf1b71de8f28f3e69a6a3639d9e9dfcbedaba10b60186f18061130899');
INSERT INTO audit VALUES (10, 1795000009000, 'anonymous', 'login', 'admin', 'bad_credentials', '', X'256bf5bbf1b71de8f28f3e69a6a3639d9e9dfcbedaba10b60186f18061130899', X'd0d10a331196fd8e8690322afa88b08c6f77c627527770fb4fa67cd5ba0d29b5');
INSERT INTO audit VALUES (11, 1795130200000, 'user:wang', 'user.deactivate', 'zhao', 'ok', 'devices_revoked=1', X'd0d10a331196fd8e8690322afa88b08c6f77c627527770fb4fa67cd5ba0d29b5', X'b0c10a2144a240fd8b6f3324f9a58b1b03aaca9717fcecc38df3aadccb8a33f3');
INSERT INTO audit VALUES (12, 1795130201000, 'user:wang', 'device.revoke_wipe', '7c1b9e2d-4a3f-4b8c-9d0e-1f2a3b4c5d6e', 'ok', '', X'b0c10a2144a240fd8b6f3324f9a58b1b03aaca9717fcecc38df3aadccb8a33f3', X'd41dd4624ad466bfaa7918569ee5072575d0192ea6710463d76d6942cd4c56c8');

INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (1, X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 1, 1795130005000, X'10019aa0c4f3e07a1b8c2d3e4f5a6b7c8d01103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c801026c698085d8b09f340000');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (2, X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 2, 1795130005001, X'10019aa0c4f3e07a1b8c2d3e4f5a6b7c8d01103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c802026c698185d8b09f3400010467726964040c3533303130323030312d303100');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (3, X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 3, 1795130005002, X'10019aa0c4f3e07a1b8c2d3e4f5a6b7c8d01103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c803026c698285d8b09f3400010a737461727465645f6d730280d0f8ddbe6800');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (4, X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 4, 1795130005003, X'10019aa0c4f3e07a1b8c2d3e4f5a6b7c8d01103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c804026c698385d8b09f3400010773756d6d617279042ae5b7a1e69fa5e4b89ce997a8e69d91e7acace4b880e7bd91e6a0bcefbc8ce4b880e58887e6ada3e5b8b800');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (5, X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 5, 1795130005004, X'10019aa0c4f3e07a1b8c2d3e4f5a6b7c8d01103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c805026c698485d8b09f340002046e6f7465010474657874041ee8b7afe781afe4b880e5a484e68d9fe59d8fefbc8ce5b7b2e68aa5e4bfae');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (6, X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e', 1, 1795130065000, X'10019aa0d1a2b37c4d9e0f1a2b3c4d5e6f02107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e01047a68616fe0d9dbb09f340000');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (7, X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e', 2, 1795130065001, X'10019aa0d1a2b37c4d9e0f1a2b3c4d5e6f02107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e02047a68616fe1d9dbb09f3400010467726964040c3533303130323030312d303200');
INSERT INTO changes (seq, record, actor, counter, received_ms, body) VALUES (8, X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e', 3, 1795130065002, X'10019aa0d1a2b37c4d9e0f1a2b3c4d5e6f02107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e03047a68616fe2d9dbb09f3400010761646472657373040ee4b89ce997a8e69d913132e58fb700');

INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', 1, X'0110019aa0c4f3e07a1b8c2d3e4f5a6b7c8d0101103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8050001103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c801026c698085d8b09f340003046772696401040c3533303130323030312d3031103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c802026c698185d8b09f34000a737461727465645f6d73010280d0f8ddbe68103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c803026c698285d8b09f34000773756d6d61727901042ae5b7a1e69fa5e4b89ce997a8e69d91e7acace4b880e7bd91e6a0bcefbc8ce4b880e58887e6ada3e5b8b8103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c804026c698385d8b09f340001103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c805046e6f7465010474657874041ee8b7afe781afe4b880e5a484e68d9fe59d8fefbc8ce5b7b2e68aa5e4bfae103f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c805026c698485d8b09f3400', 0, 5);
INSERT INTO records (id, kind, state, conflicted, updated_seq) VALUES (X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', 2, X'0110019aa0d1a2b37c4d9e0f1a2b3c4d5e6f0201107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e030001107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e01047a68616fe0d9dbb09f340002076164647265737301040ee4b89ce997a8e69d913132e58fb7107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e03047a68616fe2d9dbb09f3400046772696401040c3533303130323030312d3032107c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e02047a68616fe1d9dbb09f340000', 0, 8);

-- Schema, version 3 (sql/v3.sql as released).
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

-- Rows written by the version 3 build.
INSERT INTO places (code, name, level, parent, created_ms, moved_ms) VALUES
    ('530102', '东门镇', 'township', NULL, 1795300000000, NULL),
    ('530102001', '东门村', 'village', '530102', 1795300000001, NULL),
    ('530102001-01', '东门村第一网格', 'grid', '530102001', 1795300000002, NULL);
UPDATE meta SET value = 1 WHERE key = 'directory_version';
INSERT INTO record_access (key, record, active_ms, open) VALUES
    ('p:530102001-01', X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', 1795130005004, 0),
    ('p:530102001-01', X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', 1795130009003, 0);
INSERT INTO daily_reports (worker, date, record, grid, status, filed_ms, received_ms) VALUES
    ('li', '2026-11-20', X'019aa0e2b3c48d5e0f1a2b3c4d5e6f70', '530102001-01', 'all_safe', 1795310000000, 1795310004000);
INSERT INTO pull_tokens (token, device, log_high, issued_ms) VALUES
    (1, X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 8, 1795310005000);
INSERT INTO replicas (device, record, added_token, removed_token, rebuild, sent_through) VALUES
    (X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', X'019aa0c4f3e07a1b8c2d3e4f5a6b7c8d', 0, NULL, 0, 8),
    (X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', X'019aa0d1a2b37c4d9e0f1a2b3c4d5e6f', 1, NULL, 0, 8);

-- Schema, version 4 (sql/v4.sql as released).
-- gridsync server schema, version 4: locked months
-- (docs/adr/0015-locked-months.md).

-- A place's ledgers of a month as they stood when the month was locked,
-- one row per place of the locked subtree; `root` is the place whose lock
-- was asked for. Never updated nor deleted: a later change shows as a
-- correction beside it.
CREATE TABLE month_locks (
    place     TEXT    NOT NULL,
    month     TEXT    NOT NULL,             -- YYYY-MM
    root      TEXT    NOT NULL,
    as_of_seq INTEGER NOT NULL,             -- the log position it was computed at
    as_of_ms  INTEGER NOT NULL,
    locked_ms INTEGER NOT NULL,
    locked_by TEXT    NOT NULL,
    body      BLOB    NOT NULL,             -- gridsync_server_core::ledger::LockedMonth
    PRIMARY KEY (place, month)
);
CREATE INDEX month_locks_asked ON month_locks (month, place) WHERE root = place;

-- Schema, version 5 (sql/v5.sql as released).
-- gridsync server schema, version 5: the access index knows each record's
-- last change (docs/adr/0020-pulls-read-only-the-held-records.md), so
-- that a pull reads the log of only the records changed since the
-- device's cursor, through changes_record_seq.
ALTER TABLE record_access ADD COLUMN updated_seq INTEGER NOT NULL DEFAULT 0;
UPDATE record_access
   SET updated_seq = coalesce((SELECT max(seq) FROM changes WHERE changes.record = record_access.record), 0);

-- Schema, version 6 (sql/v6.sql as released).
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

-- Schema, version 7 (sql/v7.sql as released).
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

-- Schema, version 8 (sql/v8.sql as released).
-- gridsync server schema, version 8: the records with a field in conflict,
-- indexed apart, so that the metrics' count of open conflicts reads only
-- them (docs/adr/0031-metrics-and-fault-injection.md).
CREATE INDEX records_conflicted ON records (key) WHERE conflicted = 1;

-- Schema, version 9 (sql/v9.sql as released).
-- gridsync server schema, version 9: a password set for a user by someone
-- else (`admin create`, `user add`, `user password`, an administrator) is
-- one-time: the user must choose their own at first login before anything
-- else (docs/adr/0030-staff-accounts-and-refused-requests.md). Passwords
-- set before this version cannot be told apart and are left as they are.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));

-- Schema, version 10 (sql/v10.sql as released), with the epoch it drew.
-- gridsync server schema, version 10: the server's epoch
-- (docs/adr/0026-backups-restores-and-the-server-epoch.md).
INSERT INTO meta (key, value) VALUES ('server_epoch', 6164523389710241393);
