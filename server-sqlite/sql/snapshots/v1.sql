-- FROZEN SNAPSHOT of a gridsync server database at schema version 1, as a
-- build of that version left it in the field: the schema of step 1 exactly as
-- deployed, then the rows a small pilot had written. Written once (the bodies
-- and states are real postcard encodings, printed by a throwaway program) and
-- frozen, never regenerated: the migration test (tests/migrations.rs) opens it
-- with today's code and checks that the upgrade keeps every row usable. Do not
-- edit; add a new snapshot for a new version instead. The test sets
-- PRAGMA user_version = 1 and the application_id after running this file.
--
-- Two handsets (no enrollment yet in version 1) pushed two records: a patrol
-- of 5 changes (create, three fields, a note entry) and a visit of 3 changes.

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

-- Rows.
INSERT INTO devices (id, first_seen_ms, last_push_ms, changes) VALUES
    (X'3f8a2c1e9b4d4e7fa1c2d3e4f5a6b7c8', 1795130005000, 1795130005004, 5),
    (X'7c1b9e2d4a3f4b8c9d0e1f2a3b4c5d6e', 1795130065000, 1795130065002, 3);

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
