-- Accounts, sessions and course progress.
-- Times are INTEGER Unix nanoseconds (UTC) so they sort and compare as numbers.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL,
    -- email_key is the lower-cased email: uniqueness and look-ups ignore case
    -- without depending on SQLite's ASCII-only NOCASE.
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('student', 'instructor')),
    account_id    TEXT    NOT NULL UNIQUE CHECK (length(account_id) = 12),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    -- Only the SHA-256 of the cookie token is kept, so a copy of the
    -- database does not hand out live sessions.
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE lesson_completions (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson       TEXT    NOT NULL,
    completed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lesson)
) STRICT, WITHOUT ROWID;

CREATE TABLE quiz_results (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson  TEXT    NOT NULL,
    quiz    TEXT    NOT NULL,
    score   INTEGER NOT NULL,
    total   INTEGER NOT NULL,
    answers TEXT    NOT NULL,
    at      INTEGER NOT NULL
) STRICT;

CREATE INDEX quiz_results_user ON quiz_results (user_id, lesson, quiz, at);

-- One row per user: the lesson they last opened, for the resume link.
CREATE TABLE lesson_visits (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    lesson  TEXT    NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
