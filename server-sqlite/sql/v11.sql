-- gridsync server schema, version 11: attachments
-- (docs/adr/0033-attachments.md).
--
-- The bytes live in the blob store; these tables keep what is known of
-- them. An upload in progress, per device and file: how many bytes of it
-- the server acknowledged (the next chunk's offset). A file stored whole,
-- by its SHA-256: its size, media type (sniffed from its bytes), the record
-- and device its first upload answered. The bytes each device had accepted
-- per day (of the deployment's time zone), which its daily allowance is
-- counted by.
CREATE TABLE attachment_uploads (
    device      BLOB    NOT NULL,
    hash        BLOB    NOT NULL,
    record      BLOB    NOT NULL,
    size        INTEGER NOT NULL,
    received    INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    PRIMARY KEY (device, hash)
) WITHOUT ROWID;
-- Abandoned uploads are swept by age.
CREATE INDEX attachment_uploads_started ON attachment_uploads (started_ms);

CREATE TABLE attachment_files (
    hash        BLOB    PRIMARY KEY,
    size        INTEGER NOT NULL,
    media       TEXT    NOT NULL,
    record      BLOB    NOT NULL,
    device      BLOB    NOT NULL,
    stored_ms   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE attachment_days (
    device      BLOB    NOT NULL,
    day         TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    PRIMARY KEY (device, day)
) WITHOUT ROWID;
