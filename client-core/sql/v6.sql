-- gridsync handset store, schema version 6: restores of the server are
-- noticed (docs/adr/0026-backups-restores-and-the-server-epoch.md).
--
-- The server epoch this device last synced with (0: not known yet). A pull
-- page of another epoch means the server was restored from a backup: the
-- device re-sends what it had sent and pulls from the start.
ALTER TABLE device ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

-- The outbox keeps what the server acknowledged, for a while, instead of
-- deleting it: `acked_ms` is when (NULL: not sent, or not acknowledged
-- yet). After a restore these changes are queued again (acked_ms set back
-- to NULL), in their order and groups; the server recognises those it has.
-- Acknowledged changes older than the store's retention are deleted.
ALTER TABLE outbox ADD COLUMN acked_ms INTEGER;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE acked_ms IS NULL;
CREATE INDEX outbox_acked ON outbox (acked_ms) WHERE acked_ms IS NOT NULL;
