-- The PostgreSQL form of the SQLite migration 0005_queue.sql.
-- Durable queues (asynchronous invocations), in the table layout that
-- maragu.dev/goqite v0.4.0 expects with SQLFlavorPostgreSQL (its
-- schema_postgres.sql); store/queue.go wraps it. Unlike on SQLite, where
-- they are text, created, updated and timeout are timestamptz here, as
-- goqite's PostgreSQL statements pass them as times.
--
-- goqite's own schema draws ids with pgcrypto's gen_random_bytes, which
-- needs CREATE EXTENSION, a right the database's role may lack.
-- gen_random_uuid() is built in (PostgreSQL 13 and later) and gives the
-- same shape: 'm_' and 32 lower-case hex digits, from the OS's CSPRNG
-- (122 random bits rather than 128: still unique).
CREATE TABLE goqite (
    id       TEXT        PRIMARY KEY DEFAULT ('m_' || replace(gen_random_uuid()::text, '-', '')),
    created  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated  TIMESTAMPTZ NOT NULL DEFAULT now(),
    queue    TEXT        NOT NULL,
    body     BYTEA       NOT NULL,
    timeout  TIMESTAMPTZ NOT NULL DEFAULT now(),
    received INTEGER     NOT NULL DEFAULT 0,
    priority INTEGER     NOT NULL DEFAULT 0
);

-- goqite's trigger, with a function named after it rather than goqite's
-- generic update_timestamp(), which another schema user could own.
CREATE FUNCTION goqite_updated_timestamp_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated = now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER goqite_updated_timestamp BEFORE UPDATE ON goqite
    FOR EACH ROW EXECUTE FUNCTION goqite_updated_timestamp_fn();

CREATE INDEX goqite_queue_priority_created_idx ON goqite (queue, priority DESC, created);
