-- 0025: a password alm generated and printed (the first administrator's, a reset without a
-- given password) is for one sign-in: the user must choose their own before anything else.
ALTER TABLE users ADD COLUMN password_must_change BIGINT NOT NULL DEFAULT 0;
