-- gridsync server schema for PostgreSQL, version 2: townships.
--
-- Every table that grows with the work carries the township its rows
-- belong to (gridsync_server_core::home), the distribution column of a
-- distributed PostgreSQL (Citus; docs/OPERATIONS.md, "Distributing with
-- Citus"): a record's rows (changes, records, record_access,
-- daily_reports) lie in the record's home township, a device's rows
-- (replicas, pull_tokens) in the device's. Every primary key and unique
-- constraint of those tables leads with it, as a distributed table's
-- must. `township` is a place code ('' for rows with no known place), and
-- compares bytewise.
--
-- The rows of a database upgraded from version 1 get their township right
-- after this step, in the same transaction, from the records' states and
-- the directory (server-postgres/src/homes.rs): SQL cannot read the
-- postcard-encoded states.

ALTER TABLE changes ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (township, seq);
ALTER TABLE changes DROP CONSTRAINT changes_record_actor_counter_key;
ALTER TABLE changes ADD UNIQUE (township, record, actor, counter);
-- The high-water mark and a scan of every township read by position.
CREATE INDEX changes_seq ON changes (seq);

ALTER TABLE records ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE records DROP CONSTRAINT records_pkey;
ALTER TABLE records ADD PRIMARY KEY (township, id);
-- A push names records, not townships: the one lookup by id alone.
CREATE INDEX records_id ON records (id);

ALTER TABLE record_access ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE record_access DROP CONSTRAINT record_access_pkey;
ALTER TABLE record_access ADD PRIMARY KEY (township, key, record);

ALTER TABLE daily_reports ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE daily_reports DROP CONSTRAINT daily_reports_pkey;
ALTER TABLE daily_reports ADD PRIMARY KEY (township, worker, date);
CREATE INDEX daily_reports_record ON daily_reports (record);

ALTER TABLE replicas ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE replicas DROP CONSTRAINT replicas_pkey;
ALTER TABLE replicas ADD PRIMARY KEY (township, device, record);
CREATE INDEX replicas_device ON replicas (device);

ALTER TABLE pull_tokens ADD COLUMN township text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE pull_tokens DROP CONSTRAINT pull_tokens_pkey;
ALTER TABLE pull_tokens ADD PRIMARY KEY (township, token);
