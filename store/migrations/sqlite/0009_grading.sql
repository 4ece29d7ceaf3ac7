-- The grader's records: what a learner (or `lambdalab grade`) submitted,
-- the report it got, each learner's standing per lab, and the durable queue
-- of grading jobs.

-- A submission is kept as it was sent so that it can be graded again and
-- shown later. user_id is NULL for a command-line run, which has no user.
CREATE TABLE submissions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    lab        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- 'dir': a folder of files (the CLI, an upload); 'account': a snapshot
    -- of the learner's emulated account.
    source     TEXT    NOT NULL CHECK (source IN ('dir', 'account')),
    -- A zip of the submitted folder; empty when there is none.
    files      BLOB    NOT NULL,
    -- A JSON snapshot of the learner's account state; empty when there is none.
    state      BLOB    NOT NULL,
    -- A JSON object, question id to the learner's answer.
    answers    TEXT    NOT NULL
) STRICT;

-- A learner's history of one lab, newest first (the rowid ends the key).
CREATE INDEX submissions_user_lab ON submissions (user_id, lab);

-- At most one report per submission: the grader's verdict on it.
CREATE TABLE grade_reports (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    status        TEXT    NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
    score         REAL    NOT NULL CHECK (score >= 0 AND score <= 1),
    -- The grader's report as JSON; the grader owns its shape.
    report        TEXT    NOT NULL,
    finished_at   INTEGER NOT NULL
) STRICT;

-- A learner's standing in one lab, kept by SaveReport in the transaction
-- that stores each report, so that it never disagrees with the reports.
-- A report with status 'error' (the learner's code could not be run at
-- all, or the platform failed) is not an attempt and changes nothing here.
CREATE TABLE lab_progress (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab             TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL,
    best_score      REAL    NOT NULL,
    -- The first passing report's time; 0 until then, and never cleared.
    passed_at       INTEGER NOT NULL,
    last_attempt_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, lab)
) STRICT, WITHOUT ROWID;

-- The grading queue. A job is queued, then running (claimed by a worker),
-- then done, canceled or failed. A job a dead process left running is put
-- back in the queue, or failed, at the next start (RecoverGradingJobs).
CREATE TABLE grading_jobs (
    id               INTEGER PRIMARY KEY,
    submission_id    INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES users (id) ON DELETE CASCADE,
    lab              TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'canceled', 'failed')),
    -- Set when a running job is asked to stop; its worker cancels the run.
    cancel_requested INTEGER NOT NULL CHECK (cancel_requested IN (0, 1)),
    queued_at        INTEGER NOT NULL,
    started_at       INTEGER NOT NULL, -- the latest attempt's; 0 while queued
    finished_at      INTEGER NOT NULL, -- 0 until done, canceled or failed
    attempts         INTEGER NOT NULL,
    -- Why the job failed (or why its last attempt was retried), for people.
    error            TEXT    NOT NULL
) STRICT;

-- The queue in order: claiming and positions read queued jobs by id.
CREATE INDEX grading_jobs_state ON grading_jobs (state, id);
-- One running job per learner, whatever the number of workers or
-- processes; command-line jobs (NULL user) are not limited, as NULLs never
-- collide in a unique index.
CREATE UNIQUE INDEX grading_jobs_running_user ON grading_jobs (user_id) WHERE state = 'running';
-- A submission is graded by one job at a time.
CREATE UNIQUE INDEX grading_jobs_active_submission ON grading_jobs (submission_id) WHERE state IN ('queued', 'running');
