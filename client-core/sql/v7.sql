-- gridsync handset store, schema version 7: attachments
-- (docs/adr/0033-attachments.md).
--
-- One row per file held in the attachments directory beside the store
-- (`STORE.attachments/`), named there by `name`: a keyed hash (HMAC-SHA256
-- under a key derived from the store key) of the file's content hash, so
-- neither the directory nor this table shows which known photo a phone
-- holds. The content hash, media type and the record the file was attached
-- to are sealed in `meta`, bound to `name`.
CREATE TABLE attachments (
    name       TEXT    PRIMARY KEY,        -- keyed hash, 64 hex digits: the file's name
    size       INTEGER NOT NULL,           -- bytes of the file (plain)
    own        INTEGER NOT NULL,           -- 1: attached on this device; 0: fetched
    uploaded   INTEGER NOT NULL DEFAULT 0, -- 1: the server has it whole (own files)
    added_ms   INTEGER NOT NULL,           -- when attached or fetched: uploads go oldest first
    opened_ms  INTEGER NOT NULL,           -- last read: the cache evicts the least recently opened
    meta       BLOB    NOT NULL            -- sealed: content hash, media type, record
) WITHOUT ROWID;
CREATE INDEX attachments_to_upload ON attachments (added_ms) WHERE own = 1 AND uploaded = 0;

-- Attachment transfers only on Wi-Fi (1), and the byte budget of the cache
-- of files fetched from others (own files not yet uploaded never count).
ALTER TABLE device ADD COLUMN attach_wifi_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device ADD COLUMN attach_budget INTEGER NOT NULL DEFAULT 209715200;
