-- gridsync server schema, version 10: the server's epoch
-- (docs/adr/0026-backups-restores-and-the-server-epoch.md).
--
-- A random positive number made with the database and made anew when the
-- database is restored from a backup (`gridsync-server restore`). Every pull
-- page carries it: a device that synced in another epoch re-sends what it
-- sent since and pulls from the start, so nothing the restored server lost
-- stays lost. A database upgraded to this version gets its epoch here.
INSERT INTO meta (key, value) VALUES ('server_epoch', (random() & 9223372036854775807) | 1);
