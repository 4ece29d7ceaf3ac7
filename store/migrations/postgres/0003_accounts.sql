-- The PostgreSQL form of the SQLite migration 0003_accounts.sql.
-- Every emulated AWS account, with its access keys. A user's account has the
-- user's account_id; the grader's scratch accounts have no user.
-- Secrets are kept as they are: verifying an HMAC signature needs the key
-- itself, so unlike passwords they cannot be hashed.

CREATE TABLE accounts (
    account_id TEXT   COLLATE "C" PRIMARY KEY CHECK (length(account_id) = 12),
    user_id    BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT   COLLATE "C" PRIMARY KEY CHECK (length(access_key_id) = 20),
    account_id    TEXT   COLLATE "C" NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    secret        TEXT   NOT NULL CHECK (length(secret) = 40),
    created_at    BIGINT NOT NULL
);

CREATE INDEX access_keys_account ON access_keys (account_id);

-- Users created before this migration get their account and a first key
-- pair here; new ones get theirs from CreateUser, in the same transaction.
-- The pair has the shape NewAccessKey gives (AKIA + 16 of [A-Z2-7], secret
-- 40 of [A-Za-z0-9]), so a backfilled key cannot be told from a new one.
-- The randomness comes from gen_random_uuid(), which PostgreSQL (13 and
-- later, no extension) draws from the operating system's CSPRNG; random()
-- would not do for secrets, as its generator can be predicted from its
-- output. One UUID per character: its first byte and its first 48 bits are
-- random (a v4 UUID's fixed bits come later). "& 31" picks uniformly among
-- 32 characters; "% 62" of 48 bits is off uniform by less than 2^-42.
INSERT INTO accounts (account_id, user_id, created_at)
    SELECT account_id, id, created_at FROM users;
INSERT INTO access_keys (access_key_id, account_id, secret, created_at)
    SELECT 'AKIA' || string_agg(substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
                                       (get_byte(uuid_send(gen_random_uuid()), 0) & 31) + 1, 1), '')
                         FILTER (WHERE pos.i <= 16),
           u.account_id,
           string_agg(substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
                             (('x' || translate(left(gen_random_uuid()::text, 13), '-', ''))::bit(48)::bigint % 62)::int + 1, 1), ''),
           u.created_at
    FROM users u CROSS JOIN generate_series(1, 40) AS pos (i)
    GROUP BY u.id;
