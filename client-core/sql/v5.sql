-- gridsync handset store, schema version 5: repairs of a damaged store
-- (docs/adr/0027-damaged-handset-store-and-doctor.md).

-- 1 while a store rebuilt by a repair has not yet pulled its records again
-- (from cursor 0, to the end). Until then it writes no record it does not
-- hold under a fixed id, and its first pull page forgets the records it
-- kept that have no unsent changes left.
ALTER TABLE device ADD COLUMN restoring INTEGER NOT NULL DEFAULT 0;

-- What each repair that built this store salvaged and lost: counts only.
CREATE TABLE repairs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    repaired_ms         INTEGER NOT NULL,
    signing_key         INTEGER NOT NULL,  -- 1 if the enrollment was salvaged
    profile             INTEGER NOT NULL,  -- 1 if the user's profile was salvaged
    pinned_ca           INTEGER NOT NULL,  -- 1 if a pinned township CA was salvaged
    unsent_changes      INTEGER NOT NULL,  -- outbox changes salvaged
    unsent_groups       INTEGER NOT NULL,  -- their write groups
    lost_changes        INTEGER NOT NULL,  -- outbox changes found but not salvageable
    rejections          INTEGER NOT NULL,  -- refused writes salvaged
    lost_rejections     INTEGER NOT NULL,  -- refused writes found but unreadable
    records_kept        INTEGER NOT NULL,  -- records with unsent changes kept to view
    records_found       INTEGER NOT NULL   -- records the damaged store still showed (all are pulled again)
);
