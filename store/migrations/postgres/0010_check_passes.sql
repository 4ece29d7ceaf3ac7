-- The PostgreSQL form of the SQLite migration 0010_check_passes.sql.
-- The checks each learner has passed in a lab, over all attempts. A lab
-- graded in stages (a canary checked before it is rolled back) is passed
-- check by check: a check that belongs to an earlier stage stays passed
-- once the learner has shown it, even though the account has moved on.
CREATE TABLE lab_check_passes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab       TEXT   COLLATE "C" NOT NULL,
    check_id  TEXT   COLLATE "C" NOT NULL,
    passed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lab, check_id)
);
