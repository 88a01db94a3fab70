-- gridsync server schema (PostgreSQL), version 8: attachments
-- (docs/adr/0033-attachments.md).
--
-- The bytes live in the blob store; these tables keep what is known of
-- them. An upload in progress, per device and file: how many bytes of it
-- the server acknowledged (the next chunk's offset; advanced by compare
-- and set, so of two processes given the same chunk one moves it). A file
-- stored whole, by its SHA-256: its size, media type (sniffed from its
-- bytes), the record and device its first upload answered. The bytes each
-- device had accepted per day (of the deployment's time zone), which its
-- daily allowance is counted by.
CREATE TABLE attachment_uploads (
    device      bytea   NOT NULL,
    hash        bytea   NOT NULL,
    record      bytea   NOT NULL,
    size        bigint  NOT NULL,
    received    bigint  NOT NULL,
    started_ms  bigint  NOT NULL,
    PRIMARY KEY (device, hash)
);
-- Abandoned uploads are swept by age.
CREATE INDEX attachment_uploads_started ON attachment_uploads (started_ms);

CREATE TABLE attachment_files (
    hash        bytea   PRIMARY KEY,
    size        bigint  NOT NULL,
    media       text    NOT NULL,
    record      bytea   NOT NULL,
    device      bytea   NOT NULL,
    stored_ms   bigint  NOT NULL
);

CREATE TABLE attachment_days (
    device      bytea   NOT NULL,
    day         text    NOT NULL,
    bytes       bigint  NOT NULL,
    PRIMARY KEY (device, day)
);
