-- The Lambda service of every account: functions and their versions,
-- aliases, layers, resource policies and concurrency settings. A version's
-- configuration is one JSON document (cloud/lambda owns its shape); code is
-- referenced by CodeSha256 in the content-addressed package store on disk.

CREATE TABLE lambda_functions (
    account_id   TEXT    NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    -- last_version is the highest version number ever published: numbers
    -- are never reused, even after a version is deleted.
    last_version INTEGER NOT NULL DEFAULT 0,
    -- reserved_concurrency is NULL when the function has no reservation.
    reserved_concurrency INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE lambda_versions (
    account_id    TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    version       TEXT    NOT NULL, -- '$LATEST' or '1', '2', …
    config        TEXT    NOT NULL, -- JSON
    code_sha256   TEXT    NOT NULL,
    code_size     INTEGER NOT NULL,
    revision_id   TEXT    NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (account_id, function, version),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE lambda_aliases (
    account_id         TEXT    NOT NULL,
    function           TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    version            TEXT    NOT NULL,
    -- additional_version is '' when the alias routes to one version only.
    additional_version TEXT    NOT NULL DEFAULT '',
    additional_weight  REAL    NOT NULL DEFAULT 0,
    description        TEXT    NOT NULL DEFAULT '',
    revision_id        TEXT    NOT NULL,
    PRIMARY KEY (account_id, function, name),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE lambda_layers (
    account_id   TEXT    NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE lambda_layer_versions (
    account_id    TEXT    NOT NULL,
    layer         TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    code_sha256   TEXT    NOT NULL,
    code_size     INTEGER NOT NULL,
    unzipped_size INTEGER NOT NULL,
    config        TEXT    NOT NULL, -- JSON: description, runtimes, architectures, licence
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, layer, version),
    FOREIGN KEY (account_id, layer) REFERENCES lambda_layers (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- One row per statement of a function's resource-based policy. qualifier is
-- '' for the unqualified function, else a version or alias name.
CREATE TABLE lambda_policy_statements (
    account_id   TEXT    NOT NULL,
    function     TEXT    NOT NULL,
    qualifier    TEXT    NOT NULL,
    statement_id TEXT    NOT NULL,
    statement    TEXT    NOT NULL, -- JSON, as GetPolicy shows it
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, function, qualifier, statement_id),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Provisioned concurrency per version or alias (never $LATEST).
CREATE TABLE lambda_provisioned_concurrency (
    account_id    TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    qualifier     TEXT    NOT NULL,
    requested     INTEGER NOT NULL CHECK (requested > 0),
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (account_id, function, qualifier),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Asynchronous invocation settings per function ('' qualifier), version or
-- alias: retries, event age, destinations.
CREATE TABLE lambda_event_invoke_configs (
    account_id    TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    qualifier     TEXT    NOT NULL,
    config        TEXT    NOT NULL, -- JSON
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (account_id, function, qualifier),
    FOREIGN KEY (account_id, function) REFERENCES lambda_functions (account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
