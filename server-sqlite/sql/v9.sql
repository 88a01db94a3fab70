-- gridsync server schema, version 9: a password set for a user by someone
-- else (`admin create`, `user add`, `user password`, an administrator) is
-- one-time: the user must choose their own at first login before anything
-- else (docs/adr/0030-staff-accounts-and-refused-requests.md). Passwords
-- set before this version cannot be told apart and are left as they are.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));
