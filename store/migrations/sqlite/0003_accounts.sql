-- Every emulated AWS account, with its access keys. A user's account has the
-- user's account_id; the grader's scratch accounts have no user.
-- Secrets are kept as they are: verifying an HMAC signature needs the key
-- itself, so unlike passwords they cannot be hashed.

CREATE TABLE accounts (
    account_id TEXT    PRIMARY KEY CHECK (length(account_id) = 12),
    user_id    INTEGER UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE access_keys (
    access_key_id TEXT    PRIMARY KEY CHECK (length(access_key_id) = 20),
    account_id    TEXT    NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    secret        TEXT    NOT NULL CHECK (length(secret) = 40),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX access_keys_account ON access_keys (account_id);

-- Users created before this migration get their account and a first key
-- pair here; new ones get theirs from CreateUser, in the same transaction.
-- The pair has the shape NewAccessKey gives (AKIA + 16 of [A-Z2-7], secret
-- 40 of [A-Za-z0-9]), so a backfilled key cannot be told from a new one.
-- random() draws from SQLite's PRNG (ChaCha20 seeded by the OS, as for
-- randomblob) once per row of users x 40 positions; the characters are
-- grouped per user, in no particular order, which is fine as each one is
-- random. "& 31" picks uniformly among 32 characters; "% 62" is off uniform
-- by less than 2^-58.
INSERT INTO accounts (account_id, user_id, created_at)
    SELECT account_id, id, created_at FROM users;
INSERT INTO access_keys (access_key_id, account_id, secret, created_at)
    WITH RECURSIVE pos (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM pos WHERE i < 40)
    SELECT 'AKIA' || substr(group_concat(substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', (random() & 31) + 1, 1), ''), 1, 16),
           u.account_id,
           group_concat(substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', ((random() % 62) + 62) % 62 + 1, 1), ''),
           u.created_at
    FROM users u CROSS JOIN pos
    GROUP BY u.id;
