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
