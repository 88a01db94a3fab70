-- gridsync handset store, schema version 2: encryption at rest
-- (docs/adr/0008-handset-store-encryption.md).
--
-- From this version on, records.state and outbox.change hold values sealed
-- with the store key (ChaCha20-Poly1305), and the author lives in the sealed
-- device secret; device.author is written as ''. A v1 store's plaintext is
-- sealed by `Store::open` in one transaction the first time it is opened with
-- a key: while both columns below are NULL the store still holds v1
-- plaintext.

-- A known constant sealed with the store key: opening it tells a wrong key
-- from a right one before anything else is read.
ALTER TABLE device ADD COLUMN key_check BLOB;

-- The sealed, postcard-encoded device secret: the author name and the
-- device's signing key.
ALTER TABLE device ADD COLUMN secret BLOB;

-- The township CA this device trusts for HTTPS (PEM), if pinned. Public.
ALTER TABLE device ADD COLUMN ca_pem BLOB;
