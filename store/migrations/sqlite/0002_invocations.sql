-- One row per invoke, written by the sandbox; read by the charts, the
-- billing totals and the grader. No foreign key to users: lambdalab check
-- runs labs under scratch accounts that have no user.

CREATE TABLE invocations (
    id            INTEGER PRIMARY KEY,
    request_id    TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    instance_id   TEXT    NOT NULL,
    cold          INTEGER NOT NULL CHECK (cold IN (0, 1)),
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER NOT NULL,
    duration_ms   REAL    NOT NULL,
    billed_ms     INTEGER NOT NULL,
    init_ms       REAL    NOT NULL,
    memory_mb     INTEGER NOT NULL,
    max_memory_mb INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    error_type    TEXT    NOT NULL,
    gb_seconds    REAL    NOT NULL,
    cost_usd      REAL    NOT NULL
) STRICT;

CREATE INDEX invocations_account_function_start ON invocations (account_id, function, started_at);
