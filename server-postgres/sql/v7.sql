-- gridsync server schema (PostgreSQL), version 7: the server's epoch
-- (docs/adr/0026-backups-restores-and-the-server-epoch.md).
--
-- A random positive number made with the database and made anew after the
-- database is restored from a dump (`gridsync-server epoch renew`). Every
-- pull page carries it: a device that synced in another epoch re-sends what
-- it sent since and pulls from the start. A database upgraded to this
-- version gets its epoch here (gen_random_uuid: PostgreSQL 13 or later).
INSERT INTO meta (key, value)
VALUES ('server_epoch',
        (('x' || substr(md5(gen_random_uuid()::text), 1, 16))::bit(64)::bigint & 9223372036854775807) | 1)
ON CONFLICT (key) DO NOTHING;
