-- gridsync server schema (PostgreSQL), version 6
-- (docs/adr/0030-staff-accounts-and-refused-requests.md): a password set
-- for a user by someone else is one-time (must_change_password), as on
-- SQLite (version 9); passwords set before cannot be told apart and are
-- left as they are. The shared rate limits count failed logins per client
-- address and per user name as well as enrollments per address, so the
-- column naming what is counted is no longer only an address: `subject`
-- holds an address, or `user:` and the SHA-256 (hex) of a user name.
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
ALTER TABLE rate_limits RENAME COLUMN address TO subject;
