-- The lab workspace's drafts: the files of each learner's function code as
-- they edit it in the browser, kept on the server so that a reload or
-- another browser loses nothing. A draft is what the learner is writing;
-- what runs is the deployed package, in the emulated account.
CREATE TABLE drafts (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab        TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    -- A slash-separated path relative to the function's code folder.
    path       TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab, function, path)
) STRICT;

-- One row per draft that has been started (seeded from the lab's starter
-- files), so that a draft the learner emptied stays empty instead of being
-- seeded again.
CREATE TABLE draft_starts (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab        TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab, function)
) STRICT;

-- When each learner first and last opened each lab's page: a lab opened
-- but not yet passed is "in progress" on the course map.
CREATE TABLE lab_visits (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab      TEXT    NOT NULL,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab)
) STRICT;
