-- Invitations to sign up, for a class served with --signup invite. Like
-- sessions, only the SHA-256 of a code is kept: a copy of the database
-- cannot be used to join. uses counts sign-ups made with the invite and is
-- raised in the transaction that creates the user, so max_uses holds under
-- concurrent sign-ups.
CREATE TABLE invites (
    id         INTEGER PRIMARY KEY,
    code_hash  BLOB    NOT NULL UNIQUE,
    note       TEXT    NOT NULL DEFAULT '',
    -- NULL: no limit on uses, or no expiry.
    max_uses   INTEGER CHECK (max_uses IS NULL OR max_uses >= 1),
    uses       INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at INTEGER,
    revoked_at INTEGER,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Who joined with which invite. A removed user's row goes with them; the
-- invite's count of uses stays, as the use happened.
CREATE TABLE invite_uses (
    invite_id INTEGER NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    PRIMARY KEY (invite_id, user_id)
) STRICT;
