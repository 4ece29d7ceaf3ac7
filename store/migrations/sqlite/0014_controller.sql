-- The replica of a lambdalab cluster that owns the sandbox (its instances,
-- concurrency counters, async queue runner and grading workers), so the
-- other replicas know where to forward what they do not serve themselves.
-- One row at most; it is written by whoever holds the controller lock and
-- may name a replica that has died (a reader treats it as a hint and dials
-- it to find out). A single SQLite serve writes it too, unused.
CREATE TABLE controller (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    replica  TEXT    NOT NULL,
    web_url  TEXT    NOT NULL,
    aws_url  TEXT    NOT NULL DEFAULT '',
    -- A random secret of this controller's term: a replica's forwarded
    -- request carries it, so the controller believes the client address
    -- the replica passes on.
    token    TEXT    NOT NULL,
    since    INTEGER NOT NULL
) STRICT;
