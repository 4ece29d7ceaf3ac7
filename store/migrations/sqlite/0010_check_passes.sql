-- The checks each learner has passed in a lab, over all attempts. A lab
-- graded in stages (a canary checked before it is rolled back) is passed
-- check by check: a check that belongs to an earlier stage stays passed
-- once the learner has shown it, even though the account has moved on.
CREATE TABLE lab_check_passes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab       TEXT    NOT NULL,
    check_id  TEXT    NOT NULL,
    passed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab, check_id)
) STRICT;
