-- X-Ray traces per account (cloud/xray). Entities are kept flat: one row per
-- document received, a segment (with any subsegments embedded in it) or a
-- subsegment sent on its own, as the Python SDK sends each one. A child can
-- arrive before its parent, so the tree is built when a trace is read.
-- cloud/xray owns the document's shape; the other columns are what listing,
-- filtering and the per-account bounds need without parsing documents.

CREATE TABLE xray_traces (
    -- seq orders traces by first arrival: the bounds drop the lowest first.
    seq        INTEGER PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    trace_id   TEXT    NOT NULL,
    -- The earliest start and latest end of its entities, Unix nanoseconds.
    start_ns   INTEGER NOT NULL,
    end_ns     INTEGER NOT NULL,
    -- bytes and segments count the documents kept (see PutXRaySegments).
    bytes      INTEGER NOT NULL,
    segments   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, trace_id)
) STRICT;

CREATE INDEX xray_traces_account_start ON xray_traces (account_id, start_ns);
-- Ends with the rowid (seq): the oldest traces of an account, in order.
CREATE INDEX xray_traces_account ON xray_traces (account_id);

CREATE TABLE xray_segments (
    id          INTEGER PRIMARY KEY,
    trace_seq   INTEGER NOT NULL REFERENCES xray_traces (seq) ON DELETE CASCADE,
    entity_id   TEXT    NOT NULL, -- 16 hex digits
    parent_id   TEXT    NOT NULL, -- '' when the document names none
    kind        TEXT    NOT NULL CHECK (kind IN ('segment', 'subsegment')),
    name        TEXT    NOT NULL,
    origin      TEXT    NOT NULL,
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER NOT NULL, -- 0 while in progress
    in_progress INTEGER NOT NULL CHECK (in_progress IN (0, 1)),
    -- Set when the entity or any subsegment embedded in it has the flag.
    error       INTEGER NOT NULL CHECK (error IN (0, 1)),
    fault       INTEGER NOT NULL CHECK (fault IN (0, 1)),
    throttle    INTEGER NOT NULL CHECK (throttle IN (0, 1)),
    http_method TEXT    NOT NULL,
    http_url    TEXT    NOT NULL,
    http_status INTEGER NOT NULL, -- 0 when none
    -- The annotations of the document's entities as one JSON object, '' when none.
    annotations TEXT    NOT NULL,
    -- The document as received; a BLOB so that length() counts bytes.
    doc         BLOB    NOT NULL,
    -- An entity sent again (in progress, then complete) replaces itself.
    UNIQUE (trace_seq, entity_id)
) STRICT;

-- Per-account totals, kept by triggers, so that the bounds are checked
-- without counting rows.
CREATE TABLE xray_usage (
    account_id TEXT    PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    traces     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- PutXRaySegments adds each batch's document bytes and count to its traces
-- in the statement that upserts them (one per trace, not per document: the
-- ingest path's cost). A document sent again replaces the row; this trigger
-- takes the old copy's share back out. Segments are deleted only with their
-- trace (the cascade), which the trace triggers account for.
CREATE TRIGGER xray_segments_replace AFTER UPDATE OF doc ON xray_segments BEGIN
    UPDATE xray_traces SET bytes = bytes - length(OLD.doc), segments = segments - 1 WHERE seq = NEW.trace_seq;
END;

CREATE TRIGGER xray_traces_insert AFTER INSERT ON xray_traces BEGIN
    INSERT INTO xray_usage (account_id, traces, bytes) VALUES (NEW.account_id, 1, NEW.bytes)
        ON CONFLICT (account_id) DO UPDATE SET traces = traces + 1, bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER xray_traces_bytes AFTER UPDATE OF bytes ON xray_traces BEGIN
    UPDATE xray_usage SET bytes = bytes + NEW.bytes - OLD.bytes WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER xray_traces_delete AFTER DELETE ON xray_traces BEGIN
    UPDATE xray_usage SET traces = traces - 1, bytes = bytes - OLD.bytes WHERE account_id = OLD.account_id;
END;
