-- The lab workspace's Test panel: the test events each learner saved for a
-- function of a lab (as the Lambda console keeps them per function), and
-- the results of their power-tuning runs. Both belong to the learner, not
-- to the emulated account: the grader never reads them.
CREATE TABLE test_events (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab        TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    -- The event as the learner wrote it: JSON text, kept byte for byte.
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, lab, function, name)
) STRICT;

-- One row per finished power-tuning run: the same event at several memory
-- sizes, measured on a temporary copy of the function. sizes is a JSON
-- array of the measurements, one per size, read and written only by
-- store/testevents.go.
CREATE TABLE power_tunings (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab        TEXT    NOT NULL,
    function   TEXT    NOT NULL,
    event_name TEXT    NOT NULL,
    note       TEXT    NOT NULL,
    sizes      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX power_tunings_latest ON power_tunings (user_id, lab, function, created_at);
