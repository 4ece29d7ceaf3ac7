-- The PostgreSQL form of the SQLite migration 0004_lambda.sql.
-- The Lambda service of every account: functions and their versions,
-- aliases, layers, resource policies and concurrency settings. A version's
-- configuration is one JSON document (cloud/lambda owns its shape); code is
-- referenced by CodeSha256 in the content-addressed package store on disk.
-- Names, versions and qualifiers are COLLATE "C": functions are listed
-- after a marker, aliases and layers by name, settings by qualifier, all in
-- byte order as on SQLite.

CREATE TABLE lambda_functions (
    account_id   TEXT   COLLATE "C" NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT   COLLATE "C" NOT NULL,
    -- last_version is the highest version number ever published: numbers
    -- are never reused, even after a version is deleted.
    last_version BIGINT NOT NULL DEFAULT 0,
    -- reserved_concurrency is NULL when the function has no reservation.
    reserved_concurrency BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE lambda_versions (
    account_id    TEXT   COLLATE "C" NOT NULL,
    function      TEXT   COLLATE "C" NOT NULL,
    version       TEXT   COLLATE "C" NOT NULL, -- '$LATEST' or '1', '2', …
    config        TEXT   NOT NULL, -- JSON
    code_sha256   TEXT   NOT NULL,
    code_size     BIGINT NOT NULL,
    revision_id   TEXT   NOT NULL,
    last_modified BIGINT NOT NULL,
    PRIMARY KEY (account_id, function, version),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
);

CREATE TABLE lambda_aliases (
    account_id         TEXT             COLLATE "C" NOT NULL,
    function           TEXT             COLLATE "C" NOT NULL,
    name               TEXT             COLLATE "C" NOT NULL,
    version            TEXT             NOT NULL,
    -- additional_version is '' when the alias routes to one version only.
    additional_version TEXT             NOT NULL DEFAULT '',
    additional_weight  DOUBLE PRECISION NOT NULL DEFAULT 0,
    description        TEXT             NOT NULL DEFAULT '',
    revision_id        TEXT             NOT NULL,
    PRIMARY KEY (account_id, function, name),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
);

CREATE TABLE lambda_layers (
    account_id   TEXT   COLLATE "C" NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT   COLLATE "C" NOT NULL,
    last_version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE lambda_layer_versions (
    account_id    TEXT   COLLATE "C" NOT NULL,
    layer         TEXT   COLLATE "C" NOT NULL,
    version       BIGINT NOT NULL,
    code_sha256   TEXT   NOT NULL,
    code_size     BIGINT NOT NULL,
    unzipped_size BIGINT NOT NULL,
    config        TEXT   NOT NULL, -- JSON: description, runtimes, architectures, licence
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, layer, version),
    FOREIGN KEY (account_id, layer) REFERENCES lambda_layers (account_id, name) ON DELETE CASCADE
);

-- One row per statement of a function's resource-based policy. qualifier is
-- '' for the unqualified function, else a version or alias name.
CREATE TABLE lambda_policy_statements (
    account_id   TEXT   COLLATE "C" NOT NULL,
    function     TEXT   COLLATE "C" NOT NULL,
    qualifier    TEXT   COLLATE "C" NOT NULL,
    statement_id TEXT   COLLATE "C" NOT NULL,
    statement    TEXT   NOT NULL, -- JSON, as GetPolicy shows it
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, function, qualifier, statement_id),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
);

-- Provisioned concurrency per version or alias (never $LATEST).
CREATE TABLE lambda_provisioned_concurrency (
    account_id    TEXT   COLLATE "C" NOT NULL,
    function      TEXT   COLLATE "C" NOT NULL,
    qualifier     TEXT   COLLATE "C" NOT NULL,
    requested     BIGINT NOT NULL CHECK (requested > 0),
    last_modified BIGINT NOT NULL,
    PRIMARY KEY (account_id, function, qualifier),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
);

-- Asynchronous invocation settings per function ('' qualifier), version or
-- alias: retries, event age, destinations.
CREATE TABLE lambda_event_invoke_configs (
    account_id    TEXT   COLLATE "C" NOT NULL,
    function      TEXT   COLLATE "C" NOT NULL,
    qualifier     TEXT   COLLATE "C" NOT NULL,
    config        TEXT   NOT NULL, -- JSON
    last_modified BIGINT NOT NULL,
    PRIMARY KEY (account_id, function, qualifier),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
);
