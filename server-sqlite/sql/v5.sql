-- gridsync server schema, version 5: the access index knows each record's
-- last change (docs/adr/0020-pulls-read-only-the-held-records.md), so
-- that a pull reads the log of only the records changed since the
-- device's cursor, through changes_record_seq.
ALTER TABLE record_access ADD COLUMN updated_seq INTEGER NOT NULL DEFAULT 0;
UPDATE record_access
   SET updated_seq = coalesce((SELECT max(seq) FROM changes WHERE changes.record = record_access.record), 0);
