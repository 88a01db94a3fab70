-- gridsync server schema (PostgreSQL), version 4: the access index knows
-- each record's last change (docs/adr/0020-pulls-read-only-the-held-records.md),
-- so that a pull reads the log of only the records changed since the
-- device's cursor, through changes_record_seq.
ALTER TABLE record_access ADD COLUMN updated_seq bigint NOT NULL DEFAULT 0;
UPDATE record_access AS a
   SET updated_seq = c.seq
  FROM (SELECT record, max(seq) AS seq FROM changes GROUP BY record) AS c
 WHERE c.record = a.record;
