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

CREATE TABLE s3_buckets (
    account_id   TEXT    NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- The bucket's notification configuration as cloud/s3 encodes it; NULL
    -- for none.
    notification BLOB,
    PRIMARY KEY (account_id, name)
) STRICT;

CREATE TABLE s3_objects (
    account_id  TEXT    NOT NULL,
    bucket      TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,
    part_sizes  TEXT,
    data        BLOB,
    file        TEXT,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, key),
    FOREIGN KEY (account_id, bucket) REFERENCES s3_buckets (account_id, name) ON DELETE CASCADE,
    CHECK ((data IS NULL) <> (file IS NULL))
) STRICT;

CREATE TABLE s3_uploads (
    upload_id  TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL,
    bucket     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    metadata   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (account_id, bucket) REFERENCES s3_buckets (account_id, name) ON DELETE CASCADE
) STRICT;

-- account_id is repeated from the upload so that the usage triggers need
-- no lookup of a parent row a cascade may already have removed.
CREATE TABLE s3_parts (
    upload_id   TEXT    NOT NULL REFERENCES s3_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    account_id  TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) STRICT;

CREATE TABLE s3_usage (
    account_id TEXT    PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    buckets    INTEGER NOT NULL DEFAULT 0,
    objects    INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The usage row appears with the account's first bucket; objects and parts
-- exist only inside buckets, so their triggers only ever update it.
CREATE TRIGGER s3_buckets_insert AFTER INSERT ON s3_buckets BEGIN
    INSERT INTO s3_usage (account_id, buckets) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET buckets = buckets + 1;
END;
CREATE TRIGGER s3_buckets_delete AFTER DELETE ON s3_buckets BEGIN
    UPDATE s3_usage SET buckets = buckets - 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER s3_objects_insert AFTER INSERT ON s3_objects BEGIN
    UPDATE s3_usage SET objects = objects + 1, bytes = bytes + NEW.size WHERE account_id = NEW.account_id;
END;
CREATE TRIGGER s3_objects_update AFTER UPDATE OF size ON s3_objects BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size - OLD.size WHERE account_id = NEW.account_id;
END;
CREATE TRIGGER s3_objects_delete AFTER DELETE ON s3_objects BEGIN
    UPDATE s3_usage SET objects = objects - 1, bytes = bytes - OLD.size WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER s3_parts_insert AFTER INSERT ON s3_parts BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size WHERE account_id = NEW.account_id;
END;
CREATE TRIGGER s3_parts_update AFTER UPDATE OF size ON s3_parts BEGIN
    UPDATE s3_usage SET bytes = bytes + NEW.size - OLD.size WHERE account_id = NEW.account_id;
END;
CREATE TRIGGER s3_parts_delete AFTER DELETE ON s3_parts BEGIN
    UPDATE s3_usage SET bytes = bytes - OLD.size WHERE account_id = OLD.account_id;
END;
