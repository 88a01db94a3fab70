-- gridsync server schema (PostgreSQL), version 3: locked months
-- (docs/adr/0015-locked-months.md).

-- A place's ledgers of a month as they stood when the month was locked,
-- one row per place of the locked subtree, filed by the place's township
-- (docs/adr/0013-postgresql-backend.md; '' until `migrate-data` fills it
-- in); `root` is the place whose lock was asked for. Never updated nor
-- deleted.
CREATE TABLE month_locks (
    township  text COLLATE "C" NOT NULL DEFAULT '',
    place     text COLLATE "C" NOT NULL,
    month     text COLLATE "C" NOT NULL,     -- YYYY-MM
    root      text COLLATE "C" NOT NULL,
    as_of_seq bigint           NOT NULL,     -- the log position it was computed at
    as_of_ms  bigint           NOT NULL,
    locked_ms bigint           NOT NULL,
    locked_by text             NOT NULL,
    body      bytea            NOT NULL,     -- gridsync_server_core::ledger::LockedMonth
    PRIMARY KEY (township, place, month)
);
CREATE INDEX month_locks_asked ON month_locks (month, place) WHERE root = place;
