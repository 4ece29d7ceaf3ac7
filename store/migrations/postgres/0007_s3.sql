-- The PostgreSQL form of the SQLite migration 0007_s3.sql.
-- S3 buckets and objects per account (cloud/s3). Bucket names are unique
-- within an account, not across them: two learners may both own "photos".
--
-- An object's body lives either in its row (data, for small bodies) or in
-- an immutable file under the data directory that cloud/s3 names in file;
-- exactly one of the two is set. A row is written only after its body is
-- complete and verified, so a row never points at a torn body.
--
-- s3_usage counts what each account holds, kept by the triggers below so
-- that every path that adds or removes rows (including the cascade when a
-- scratch account is deleted) keeps it right; quotas are checked against it
-- inside the writing transaction.
--
-- Keys and bucket names are COLLATE "C": S3 lists keys in byte order, and
-- ListS3Objects pages through them with >, >= and < on the key.

CREATE TABLE s3_buckets (
    account_id   TEXT   COLLATE "C" NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT   COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    -- The bucket's notification configuration as cloud/s3 encodes it; NULL
    -- for none.
    notification BYTEA,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE s3_objects (
    account_id  TEXT   COLLATE "C" NOT NULL,
    bucket      TEXT   COLLATE "C" NOT NULL,
    key         TEXT   COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL CHECK (size >= 0),
    etag        TEXT   NOT NULL,
    metadata    TEXT   NOT NULL,
    part_sizes  TEXT,
    data        BYTEA,
    file        TEXT,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, key),
    FOREIGN KEY (account_id, bucket) REFERENCES s3_buckets (account_id, name) ON DELETE CASCADE,
    CHECK ((data IS NULL) <> (file IS NULL))
);

CREATE TABLE s3_uploads (
    upload_id  TEXT   COLLATE "C" PRIMARY KEY,
    account_id TEXT   COLLATE "C" NOT NULL,
    bucket     TEXT   COLLATE "C" NOT NULL,
    key        TEXT   COLLATE "C" NOT NULL,
    metadata   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (account_id, bucket) REFERENCES s3_buckets (account_id, name) ON DELETE CASCADE
);

-- account_id is repeated from the upload so that the usage triggers need
-- no lookup of a parent row a cascade may already have removed.
CREATE TABLE s3_parts (
    upload_id   TEXT   COLLATE "C" NOT NULL REFERENCES s3_uploads (upload_id) ON DELETE CASCADE,
    part_number BIGINT NOT NULL,
    account_id  TEXT   COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL CHECK (size >= 0),
    etag        TEXT   NOT NULL,
    file        TEXT   NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);

CREATE TABLE s3_usage (
    account_id TEXT   COLLATE "C" PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    buckets    BIGINT NOT NULL DEFAULT 0,
    objects    BIGINT NOT NULL DEFAULT 0,
    bytes      BIGINT NOT NULL DEFAULT 0
);

-- Each SQLite trigger is a function here (named after it, with _fn) and an
-- AFTER row trigger of the same name; PostgreSQL runs those at the end of
-- their statement rather than after each row, which comes to the same
-- totals.

-- The usage row appears with the account's first bucket; objects and parts
-- exist only inside buckets, so their triggers only ever update it.
CREATE FUNCTION s3_buckets_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO s3_usage (account_id, buckets) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET buckets = s3_usage.buckets + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_buckets_insert AFTER INSERT ON s3_buckets
    FOR EACH ROW EXECUTE FUNCTION s3_buckets_insert_fn();

CREATE FUNCTION s3_buckets_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET buckets = buckets - 1 WHERE account_id = OLD.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_buckets_delete AFTER DELETE ON s3_buckets
    FOR EACH ROW EXECUTE FUNCTION s3_buckets_delete_fn();

CREATE FUNCTION s3_objects_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET objects = objects + 1, bytes = bytes + NEW.size WHERE account_id = NEW.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_objects_insert AFTER INSERT ON s3_objects
    FOR EACH ROW EXECUTE FUNCTION s3_objects_insert_fn();

CREATE FUNCTION s3_objects_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size - OLD.size WHERE account_id = NEW.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_objects_update AFTER UPDATE OF size ON s3_objects
    FOR EACH ROW EXECUTE FUNCTION s3_objects_update_fn();

CREATE FUNCTION s3_objects_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET objects = objects - 1, bytes = bytes - OLD.size WHERE account_id = OLD.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_objects_delete AFTER DELETE ON s3_objects
    FOR EACH ROW EXECUTE FUNCTION s3_objects_delete_fn();

CREATE FUNCTION s3_parts_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size WHERE account_id = NEW.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_parts_insert AFTER INSERT ON s3_parts
    FOR EACH ROW EXECUTE FUNCTION s3_parts_insert_fn();

CREATE FUNCTION s3_parts_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size - OLD.size WHERE account_id = NEW.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_parts_update AFTER UPDATE OF size ON s3_parts
    FOR EACH ROW EXECUTE FUNCTION s3_parts_update_fn();

CREATE FUNCTION s3_parts_delete_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE s3_usage SET bytes = bytes - OLD.size WHERE account_id = OLD.account_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER s3_parts_delete AFTER DELETE ON s3_parts
    FOR EACH ROW EXECUTE FUNCTION s3_parts_delete_fn();
