package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The emulated Lambda service's state: functions, versions, aliases, layers,
// resource policies and concurrency settings of every account. What a
// configuration document holds is cloud/lambda's business: the store keeps
// it as JSON and checks only that it is JSON. Code is referenced by its
// SHA-256 in the package store on disk (see ReferencedPackages).
//
// Methods that take an update or build callback run it inside the write
// transaction, so a read-check-write (a RevisionId precondition, "publish
// only if $LATEST changed") cannot race another writer. An error from the
// callback aborts the transaction and is returned as it is, not wrapped, so
// the caller's own messages and error types come back untouched.
//
// Text that PostgreSQL's TEXT cannot hold (invalid UTF-8, a NUL; see
// fitsText) is treated alike on both engines: a name that must already
// exist (a function, version, alias, layer, qualifier or statement id
// looked up) is not found, and new text to write (a new name, a
// description, a document) is ErrInvalid.

// latestVersion is the name of a function's unpublished, editable version.
const latestVersion = "$LATEST"

// LambdaFunction is a function as a whole (all its versions).
type LambdaFunction struct {
	AccountID, Name string
	// LastVersion is the highest version number ever published, 0 before the
	// first: numbers are never reused, even after a version is deleted.
	LastVersion int
	// ReservedConcurrency is nil when the function has no reservation; 0
	// means every invoke is throttled, as in Lambda.
	ReservedConcurrency *int
	CreatedAt           time.Time
}

// LambdaVersion is $LATEST or one published version ("1", "2", …).
type LambdaVersion struct {
	AccountID, Function, Version string
	// Config is a JSON document owned by cloud/lambda.
	Config       []byte
	CodeSha256   string
	CodeSize     int64 // bytes of the deployment package
	RevisionID   string
	LastModified time.Time
}

// LambdaAlias is a named pointer to a version, optionally sending a share of
// invokes to a second version.
type LambdaAlias struct {
	AccountID, Function, Name string
	Version                   string  // "$LATEST" or a published version
	AdditionalVersion         string  // "" when none
	AdditionalWeight          float64 // share of invokes (0 to 1) routed to AdditionalVersion
	Description               string
	RevisionID                string
}

// LambdaLayerVersion is one published version of a layer.
type LambdaLayerVersion struct {
	AccountID, Layer string
	Version          int // set by PublishLayerVersion; numbers are never reused
	CodeSha256       string
	CodeSize         int64 // bytes of the zip
	UnzippedSize     int64 // bytes once extracted
	// Config is a JSON document owned by cloud/lambda (description,
	// runtimes, architectures, licence).
	Config    []byte
	CreatedAt time.Time
}

// LambdaPolicyStatement is one statement of a function's resource-based
// policy.
type LambdaPolicyStatement struct {
	// Qualifier is "" for the unqualified function, else a version or alias.
	AccountID, Function, Qualifier, StatementID string
	Statement                                   []byte // JSON, as GetPolicy shows it
	CreatedAt                                   time.Time
}

// LambdaProvisioned is the provisioned concurrency asked for one version or
// alias.
type LambdaProvisioned struct {
	AccountID, Function, Qualifier string
	Requested                      int // instances, at least 1
	LastModified                   time.Time
}

// LambdaEventInvokeConfig is the asynchronous-invocation configuration
// (retries, event age, destinations) of a function ("" qualifier), version
// or alias.
type LambdaEventInvokeConfig struct {
	AccountID, Function, Qualifier string
	Config                         []byte // JSON owned by cloud/lambda
	LastModified                   time.Time
}

// lambdaQuerier is what both *sql.DB and *sql.Tx offer, for helpers that run
// inside or outside a transaction.
type lambdaQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lambdaKeys returns ErrInvalid naming the first part of a key, given as
// name, value pairs, that is empty or not text a TEXT column keeps (see
// fitsText).
func lambdaKeys(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			return fmt.Errorf("%w: empty %s", ErrInvalid, kv[i])
		}
		if err := checkText(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// lambdaTexts returns ErrInvalid naming the first of the given name, value
// pairs that is not text a TEXT column keeps; unlike lambdaKeys, "" is
// allowed.
func lambdaTexts(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := checkText(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// lambdaJSON rejects a document that is not JSON: a configuration the
// service could not read back is a bug better caught at the write. JSON
// is UTF-8, but json.Valid lets other bytes through inside strings, which
// PostgreSQL's text refuses.
func lambdaJSON(what string, doc []byte) error {
	if !json.Valid(doc) {
		return fmt.Errorf("%w: %s is not JSON", ErrInvalid, what)
	}
	if !utf8.Valid(doc) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, what)
	}
	return nil
}

// checkLambdaVersion checks the parts of a version to be written that the
// store does not make itself.
func checkLambdaVersion(v LambdaVersion) error {
	if err := lambdaJSON("config", v.Config); err != nil {
		return err
	}
	return lambdaTexts("code SHA-256", v.CodeSha256, "revision id", v.RevisionID)
}

// lambdaAffected returns how many rows an Exec changed.
func lambdaAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// lambdaFunctionExists reports whether the function exists in the account.
func lambdaFunctionExists(ctx context.Context, q lambdaQuerier, accountID, name string) (bool, error) {
	var ok bool
	err := q.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM lambda_functions WHERE account_id = $1 AND name = $2)",
		accountID, name).Scan(&ok)
	return ok, err
}

// lambdaCheckQualifier returns ErrNotFound unless the function exists and
// qualifier is "" or one of its versions or aliases.
func lambdaCheckQualifier(ctx context.Context, q lambdaQuerier, accountID, function, qualifier string) error {
	var fnOK, qualOK bool
	err := q.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM lambda_functions WHERE account_id = $1 AND name = $2),
		$3 = ''
		OR EXISTS (SELECT 1 FROM lambda_versions WHERE account_id = $1 AND function = $2 AND version = $3)
		OR EXISTS (SELECT 1 FROM lambda_aliases WHERE account_id = $1 AND function = $2 AND name = $3)`,
		accountID, function, qualifier).Scan(&fnOK, &qualOK)
	switch {
	case err != nil:
		return err
	case !fnOK:
		return fmt.Errorf("%w: function %s", ErrNotFound, function)
	case !qualOK:
		return fmt.Errorf("%w: version or alias %s of %s", ErrNotFound, qualifier, function)
	}
	return nil
}

// lambdaCheckVersions returns ErrNotFound naming the first of versions
// ("" skipped) that the function does not have.
func lambdaCheckVersions(ctx context.Context, q lambdaQuerier, accountID, function string, versions ...string) error {
	for _, v := range versions {
		if v == "" {
			continue
		}
		var ok bool
		if err := q.QueryRowContext(ctx,
			"SELECT EXISTS (SELECT 1 FROM lambda_versions WHERE account_id = $1 AND function = $2 AND version = $3)",
			accountID, function, v).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: version %s of %s", ErrNotFound, v, function)
		}
	}
	return nil
}

// lambdaDeleteQualifier removes the data that belongs to one version or
// alias: its policy and event invoke configuration. Lambda drops them with
// the version or alias, and keeping them would hand a stale policy to a
// later alias of the same name. Provisioned concurrency is left to the
// caller: it stands for running instances that the caller must release, and
// it looks the row up to do so.
func lambdaDeleteQualifier(ctx context.Context, tx *sql.Tx, accountID, function, qualifier string) error {
	if _, err := tx.ExecContext(ctx,
		"DELETE FROM lambda_policy_statements WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier); err != nil {
		return fmt.Errorf("delete policy of %s: %w", qualifier, err)
	}
	if _, err := tx.ExecContext(ctx,
		"DELETE FROM lambda_event_invoke_configs WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier); err != nil {
		return fmt.Errorf("delete event invoke config of %s: %w", qualifier, err)
	}
	return nil
}

// lambdaVersionNumber parses a published version's number.
func lambdaVersionNumber(version string) (int, error) {
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 || strconv.Itoa(n) != version {
		return 0, fmt.Errorf("%w: version %q is not $LATEST or a version number", ErrInvalid, version)
	}
	return n, nil
}

// Functions and versions

const lambdaFunctionColumns = "account_id, name, last_version, reserved_concurrency, created_at"

func scanLambdaFunction(row rowScanner) (LambdaFunction, error) {
	var (
		f        LambdaFunction
		reserved sql.NullInt64
		created  int64
	)
	if err := row.Scan(&f.AccountID, &f.Name, &f.LastVersion, &reserved, &created); err != nil {
		return LambdaFunction{}, err
	}
	if reserved.Valid {
		n := int(reserved.Int64)
		f.ReservedConcurrency = &n
	}
	f.CreatedAt = fromNanos(created)
	return f, nil
}

const lambdaVersionColumns = "account_id, function, version, config, code_sha256, code_size, revision_id, last_modified"

func scanLambdaVersion(row rowScanner) (LambdaVersion, error) {
	var (
		v        LambdaVersion
		modified int64
	)
	if err := row.Scan(&v.AccountID, &v.Function, &v.Version, &v.Config, &v.CodeSha256, &v.CodeSize, &v.RevisionID, &modified); err != nil {
		return LambdaVersion{}, err
	}
	v.LastModified = fromNanos(modified)
	return v, nil
}

func scanLambdaVersions(rows *sql.Rows) ([]LambdaVersion, error) {
	defer rows.Close()
	var out []LambdaVersion
	for rows.Next() {
		v, err := scanLambdaVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const lambdaVersionQuery = "SELECT " + lambdaVersionColumns +
	" FROM lambda_versions WHERE account_id = $1 AND function = $2 AND version = $3"

func insertLambdaVersion(ctx context.Context, tx *sql.Tx, v LambdaVersion) error {
	// config is TEXT in a STRICT table: bind a string, not a BLOB.
	_, err := tx.ExecContext(ctx, `INSERT INTO lambda_versions
		(account_id, function, version, config, code_sha256, code_size, revision_id, last_modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		v.AccountID, v.Function, v.Version, string(v.Config), v.CodeSha256, v.CodeSize, v.RevisionID, toNanos(v.LastModified))
	return err
}

// CreateFunction stores a new function with its $LATEST version, latest
// (latest.Version must be "$LATEST"; a zero LastModified means now).
// ErrExists if the account already has a function of that name; ErrNotFound
// if the account does not exist.
func (db *DB) CreateFunction(ctx context.Context, latest LambdaVersion) error {
	if err := lambdaKeys("account id", latest.AccountID, "function name", latest.Function); err != nil {
		return fmt.Errorf("create function %s: %w", latest.Function, err)
	}
	if latest.Version != latestVersion {
		return fmt.Errorf("create function %s: %w: version is %q, not $LATEST", latest.Function, ErrInvalid, latest.Version)
	}
	if err := checkLambdaVersion(latest); err != nil {
		return fmt.Errorf("create function %s: %w", latest.Function, err)
	}
	now := db.now().UTC()
	if latest.LastModified.IsZero() {
		latest.LastModified = now
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("create function %s: %w", latest.Function, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx,
		"INSERT INTO lambda_functions (account_id, name, last_version, created_at) VALUES ($1, $2, 0, $3)",
		latest.AccountID, latest.Function, toNanos(now))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create function %s: %w", latest.Function, ErrExists)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create function %s: %w: account %s", latest.Function, ErrNotFound, latest.AccountID)
	case err != nil:
		return fmt.Errorf("create function %s: %w", latest.Function, err)
	}
	if err := insertLambdaVersion(ctx, tx, latest); err != nil {
		return fmt.Errorf("create function %s: %w", latest.Function, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create function %s: commit: %w", latest.Function, err)
	}
	return nil
}

// LambdaFunction returns the function or ErrNotFound.
func (db *DB) LambdaFunction(ctx context.Context, accountID, name string) (LambdaFunction, error) {
	if !allFit(accountID, name) {
		return LambdaFunction{}, fmt.Errorf("function %q: %w", name, ErrNotFound)
	}
	f, err := scanLambdaFunction(db.conn.QueryRowContext(ctx,
		"SELECT "+lambdaFunctionColumns+" FROM lambda_functions WHERE account_id = $1 AND name = $2",
		accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaFunction{}, fmt.Errorf("function %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return LambdaFunction{}, fmt.Errorf("function %s: %w", name, err)
	}
	return f, nil
}

// FunctionVersion returns one version ("$LATEST" or a number) of a function,
// or ErrNotFound.
func (db *DB) FunctionVersion(ctx context.Context, accountID, name, version string) (LambdaVersion, error) {
	if !allFit(accountID, name, version) {
		return LambdaVersion{}, fmt.Errorf("version %q of %q: %w", version, name, ErrNotFound)
	}
	v, err := scanLambdaVersion(db.queryRow(ctx, db.lambdaVersionStmt, lambdaVersionQuery, accountID, name, version))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaVersion{}, fmt.Errorf("version %s of %s: %w", version, name, ErrNotFound)
	}
	if err != nil {
		return LambdaVersion{}, fmt.Errorf("version %s of %s: %w", version, name, err)
	}
	return v, nil
}

// UpdateLatest reads the function's $LATEST, lets update change a copy, and
// writes it back, all in one transaction, returning what was written. update
// may not change AccountID, Function or Version (ErrInvalid); an error from
// update aborts and is returned as it is. ErrNotFound if there is no such
// function.
func (db *DB) UpdateLatest(ctx context.Context, accountID, name string, update func(v *LambdaVersion) error) (LambdaVersion, error) {
	if !allFit(accountID, name) {
		return LambdaVersion{}, fmt.Errorf("update function %q: %w", name, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w", name, err)
	}
	defer tx.Rollback()
	old, err := scanLambdaVersion(tx.QueryRowContext(ctx, lambdaVersionQuery, accountID, name, latestVersion))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w", name, err)
	}
	v := old
	v.Config = append([]byte(nil), old.Config...)
	if err := update(&v); err != nil {
		return LambdaVersion{}, err
	}
	if v.AccountID != old.AccountID || v.Function != old.Function || v.Version != old.Version {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w: the update changed the version's key", name, ErrInvalid)
	}
	if err := checkLambdaVersion(v); err != nil {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lambda_versions
		SET config = $4, code_sha256 = $5, code_size = $6, revision_id = $7, last_modified = $8
		WHERE account_id = $1 AND function = $2 AND version = $3`,
		v.AccountID, v.Function, v.Version, string(v.Config), v.CodeSha256, v.CodeSize, v.RevisionID, toNanos(v.LastModified)); err != nil {
		return LambdaVersion{}, fmt.Errorf("update function %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return LambdaVersion{}, fmt.Errorf("update function %s: commit: %w", name, err)
	}
	return v, nil
}

// ListFunctions returns the $LATEST of each of the account's functions whose
// name sorts after after ("" = from the start), by name, at most limit (at
// least 1).
func (db *DB) ListFunctions(ctx context.Context, accountID, after string, limit int) ([]LambdaVersion, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list functions: %w: limit %d is not positive", ErrInvalid, limit)
	}
	if !fitsText(accountID) {
		return nil, nil
	}
	// A marker that is not storable text becomes the least one above it
	// that is, which no name equals: the same functions follow it.
	cmp := ">"
	if !fitsText(after) {
		var ok bool
		if after, ok = textCeil(after); !ok {
			return nil, nil
		}
		cmp = ">="
	}
	rows, err := db.conn.QueryContext(ctx, "SELECT "+lambdaVersionColumns+` FROM lambda_versions
		WHERE account_id = $1 AND version = '$LATEST' AND function `+cmp+` $2
		ORDER BY function LIMIT $3`, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	out, err := scanLambdaVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return out, nil
}

// ListFunctionVersions returns the function's $LATEST then its published
// versions in numeric order, skipping those up to and including after (""
// = from the start, "$LATEST" = the published ones), at most limit (at least
// 1). ErrNotFound if there is no such function.
func (db *DB) ListFunctionVersions(ctx context.Context, accountID, name, after string, limit int) ([]LambdaVersion, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list versions of %s: %w: limit %d is not positive", name, ErrInvalid, limit)
	}
	// $LATEST sorts as 0, before version 1; "" as -1, before $LATEST.
	start := -1
	switch after {
	case "":
	case latestVersion:
		start = 0
	default:
		n, err := lambdaVersionNumber(after)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", name, err)
		}
		start = n
	}
	if !allFit(accountID, name) {
		return nil, fmt.Errorf("list versions of %q: %w", name, ErrNotFound)
	}
	// A read-only transaction is a snapshot, so "no such function" and the
	// list agree, without taking the write lock.
	tx, err := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	defer tx.Rollback()
	if ok, err := lambdaFunctionExists(ctx, tx, accountID, name); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	} else if !ok {
		return nil, fmt.Errorf("list versions of %s: %w", name, ErrNotFound)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+lambdaVersionColumns+` FROM lambda_versions
		WHERE account_id = $1 AND function = $2
		AND (CASE WHEN version = '$LATEST' THEN 0 ELSE CAST(version AS INTEGER) END) > $3
		ORDER BY CASE WHEN version = '$LATEST' THEN 0 ELSE CAST(version AS INTEGER) END
		LIMIT $4`, accountID, name, start, limit)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	out, err := scanLambdaVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	return out, nil
}

// PublishVersion publishes the function's next version in one transaction.
// build gets $LATEST, the newest published version (nil if none) and the
// next number (LastVersion+1), and returns either the version to store with
// publish=true (its Version "" or the next number; AccountID and Function ""
// or the function's; a zero LastModified means now), or the version to
// answer with and publish=false, which writes nothing: Lambda answers a
// publish of an unchanged $LATEST with the newest version. The stored
// version row and the raised LastVersion commit together. An error from
// build aborts and is returned as it is. ErrNotFound if there is no such
// function.
func (db *DB) PublishVersion(ctx context.Context, accountID, name string,
	build func(latest LambdaVersion, newest *LambdaVersion, next int) (v LambdaVersion, publish bool, err error),
) (LambdaVersion, bool, error) {
	if !allFit(accountID, name) {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %q: %w", name, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: %w", name, err)
	}
	defer tx.Rollback()
	fn, err := scanLambdaFunction(tx.QueryRowContext(ctx,
		"SELECT "+lambdaFunctionColumns+" FROM lambda_functions WHERE account_id = $1 AND name = $2",
		accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: %w", name, err)
	}
	latest, err := scanLambdaVersion(tx.QueryRowContext(ctx, lambdaVersionQuery, accountID, name, latestVersion))
	if err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: read $LATEST: %w", name, err)
	}
	var newest *LambdaVersion
	nv, err := scanLambdaVersion(tx.QueryRowContext(ctx, "SELECT "+lambdaVersionColumns+` FROM lambda_versions
		WHERE account_id = $1 AND function = $2 AND version <> '$LATEST'
		ORDER BY CAST(version AS INTEGER) DESC LIMIT 1`, accountID, name))
	switch {
	case err == nil:
		newest = &nv
	case !errors.Is(err, sql.ErrNoRows):
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: read newest version: %w", name, err)
	}
	next := fn.LastVersion + 1
	v, publish, err := build(latest, newest, next)
	if err != nil {
		return LambdaVersion{}, false, err
	}
	if !publish {
		return v, false, nil
	}
	want := strconv.Itoa(next)
	if v.AccountID == "" {
		v.AccountID = accountID
	}
	if v.Function == "" {
		v.Function = name
	}
	if v.Version == "" {
		v.Version = want
	}
	if v.AccountID != accountID || v.Function != name || v.Version != want {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: %w: built %s:%s:%s, want %s:%s:%s",
			name, ErrInvalid, v.AccountID, v.Function, v.Version, accountID, name, want)
	}
	if err := checkLambdaVersion(v); err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version of %s: %w", name, err)
	}
	if v.LastModified.IsZero() {
		v.LastModified = db.now().UTC()
	}
	if err := insertLambdaVersion(ctx, tx, v); err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version %s of %s: %w", want, name, err)
	}
	if _, err := tx.ExecContext(ctx,
		"UPDATE lambda_functions SET last_version = $3 WHERE account_id = $1 AND name = $2",
		accountID, name, next); err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version %s of %s: %w", want, name, err)
	}
	if err := tx.Commit(); err != nil {
		return LambdaVersion{}, false, fmt.Errorf("publish version %s of %s: commit: %w", want, name, err)
	}
	return v, true, nil
}

// DeleteFunction deletes the function with its versions, aliases, policy,
// concurrency settings and event invoke configurations. ErrNotFound if there
// is no such function.
func (db *DB) DeleteFunction(ctx context.Context, accountID, name string) error {
	if !allFit(accountID, name) {
		return fmt.Errorf("delete function %q: %w", name, ErrNotFound)
	}
	// In a write transaction, though it is one statement: the writers that
	// check that the function exists and then add to it (an alias, a
	// version, a policy statement) count on no other writer between the
	// two. SQLite has one writer at a time anyway; on PostgreSQL a delete
	// outside the write lock could land between them, and the add would
	// fail on the foreign key instead of finding no function.
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	defer tx.Rollback()
	// The foreign keys cascade from lambda_functions to everything else.
	n, err := lambdaAffected(tx.ExecContext(ctx,
		"DELETE FROM lambda_functions WHERE account_id = $1 AND name = $2", accountID, name))
	if err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete function %s: %w", name, ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete function %s: commit: %w", name, err)
	}
	return nil
}

// DeleteFunctionVersion deletes one published version with its policy and
// event invoke configuration (not its provisioned concurrency: see
// DeleteAlias). ErrInUse when an
// alias routes to it, the message naming the aliases ("version 2 is in use
// by aliases [prod]"); ErrInvalid for $LATEST (delete the function instead);
// ErrNotFound if there is no such version.
func (db *DB) DeleteFunctionVersion(ctx context.Context, accountID, name, version string) error {
	if _, err := lambdaVersionNumber(version); err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	if !allFit(accountID, name) {
		return fmt.Errorf("delete version %s of %q: %w", version, name, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM lambda_aliases
		WHERE account_id = $1 AND function = $2 AND (version = $3 OR additional_version = $3)
		ORDER BY name`, accountID, name, version)
	if err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	var aliases []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return fmt.Errorf("delete version %s of %s: %w", version, name, err)
		}
		aliases = append(aliases, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	if len(aliases) > 0 {
		return fmt.Errorf("delete version %s of %s: %w: version %s is in use by aliases [%s]",
			version, name, ErrInUse, version, strings.Join(aliases, " "))
	}
	n, err := lambdaAffected(tx.ExecContext(ctx,
		"DELETE FROM lambda_versions WHERE account_id = $1 AND function = $2 AND version = $3",
		accountID, name, version))
	if err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete version %s of %s: %w", version, name, ErrNotFound)
	}
	if err := lambdaDeleteQualifier(ctx, tx, accountID, name, version); err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete version %s of %s: commit: %w", version, name, err)
	}
	return nil
}

// Aliases

const lambdaAliasColumns = "account_id, function, name, version, additional_version, additional_weight, description, revision_id"

func scanLambdaAlias(row rowScanner) (LambdaAlias, error) {
	var a LambdaAlias
	err := row.Scan(&a.AccountID, &a.Function, &a.Name, &a.Version, &a.AdditionalVersion, &a.AdditionalWeight, &a.Description, &a.RevisionID)
	return a, err
}

const lambdaAliasQuery = "SELECT " + lambdaAliasColumns +
	" FROM lambda_aliases WHERE account_id = $1 AND function = $2 AND name = $3"

// checkLambdaAlias refuses an alias's own text that a TEXT column cannot
// keep: a description is the learner's words, and may hold a NUL. (The
// versions it names must exist, so one that cannot is not found.)
func checkLambdaAlias(a LambdaAlias) error {
	return lambdaTexts("alias description", a.Description, "revision id", a.RevisionID)
}

// CreateAlias stores a new alias. ErrExists if the function already has an
// alias of that name; ErrNotFound if the function, or a version the alias
// routes to, does not exist.
func (db *DB) CreateAlias(ctx context.Context, a LambdaAlias) error {
	if !allFit(a.Function, a.Version, a.AdditionalVersion) {
		return fmt.Errorf("create alias %s of %q: %w: function %q, version %q or %q", a.Name, a.Function, ErrNotFound, a.Function, a.Version, a.AdditionalVersion)
	}
	if err := lambdaKeys("account id", a.AccountID, "function name", a.Function, "alias name", a.Name, "alias version", a.Version); err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	}
	if err := checkLambdaAlias(a); err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	}
	defer tx.Rollback()
	if ok, err := lambdaFunctionExists(ctx, tx, a.AccountID, a.Function); err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	} else if !ok {
		return fmt.Errorf("create alias %s of %s: %w: function %s", a.Name, a.Function, ErrNotFound, a.Function)
	}
	if err := lambdaCheckVersions(ctx, tx, a.AccountID, a.Function, a.Version, a.AdditionalVersion); err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO lambda_aliases
		(account_id, function, name, version, additional_version, additional_weight, description, revision_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		a.AccountID, a.Function, a.Name, a.Version, a.AdditionalVersion, a.AdditionalWeight, a.Description, a.RevisionID)
	if isUniqueViolation(err) {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create alias %s of %s: %w", a.Name, a.Function, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create alias %s of %s: commit: %w", a.Name, a.Function, err)
	}
	return nil
}

// Alias returns one alias of a function, or ErrNotFound.
func (db *DB) Alias(ctx context.Context, accountID, function, name string) (LambdaAlias, error) {
	if !allFit(accountID, function, name) {
		return LambdaAlias{}, fmt.Errorf("alias %q of %q: %w", name, function, ErrNotFound)
	}
	a, err := scanLambdaAlias(db.queryRow(ctx, db.lambdaAliasStmt, lambdaAliasQuery, accountID, function, name))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaAlias{}, fmt.Errorf("alias %s of %s: %w", name, function, ErrNotFound)
	}
	if err != nil {
		return LambdaAlias{}, fmt.Errorf("alias %s of %s: %w", name, function, err)
	}
	return a, nil
}

// UpdateAlias reads the alias, lets update change a copy, checks that the
// versions it routes to exist (ErrNotFound) and writes it back, all in one
// transaction, returning what was written. update may not change the key
// (ErrInvalid); an error from update aborts and is returned as it is.
// ErrNotFound if there is no such alias.
func (db *DB) UpdateAlias(ctx context.Context, accountID, function, name string, update func(a *LambdaAlias) error) (LambdaAlias, error) {
	if !allFit(accountID, function, name) {
		return LambdaAlias{}, fmt.Errorf("update alias %q of %q: %w", name, function, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, err)
	}
	defer tx.Rollback()
	old, err := scanLambdaAlias(tx.QueryRowContext(ctx, lambdaAliasQuery, accountID, function, name))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, ErrNotFound)
	}
	if err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, err)
	}
	a := old
	if err := update(&a); err != nil {
		return LambdaAlias{}, err
	}
	if a.AccountID != old.AccountID || a.Function != old.Function || a.Name != old.Name {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w: the update changed the alias's key", name, function, ErrInvalid)
	}
	if a.Version == "" {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w: empty alias version", name, function, ErrInvalid)
	}
	if !allFit(a.Version, a.AdditionalVersion) {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w: version %q or %q", name, function, ErrNotFound, a.Version, a.AdditionalVersion)
	}
	if err := checkLambdaAlias(a); err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, err)
	}
	if err := lambdaCheckVersions(ctx, tx, accountID, function, a.Version, a.AdditionalVersion); err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lambda_aliases
		SET version = $4, additional_version = $5, additional_weight = $6, description = $7, revision_id = $8
		WHERE account_id = $1 AND function = $2 AND name = $3`,
		a.AccountID, a.Function, a.Name, a.Version, a.AdditionalVersion, a.AdditionalWeight, a.Description, a.RevisionID); err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: %w", name, function, err)
	}
	if err := tx.Commit(); err != nil {
		return LambdaAlias{}, fmt.Errorf("update alias %s of %s: commit: %w", name, function, err)
	}
	return a, nil
}

// ListAliases returns the function's aliases by name: all of them when
// version is "", else those whose Version or AdditionalVersion is version.
// ErrNotFound if there is no such function.
func (db *DB) ListAliases(ctx context.Context, accountID, function, version string) ([]LambdaAlias, error) {
	if !allFit(accountID, function) {
		return nil, fmt.Errorf("list aliases of %q: %w", function, ErrNotFound)
	}
	tx, err := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", function, err)
	}
	defer tx.Rollback()
	if ok, err := lambdaFunctionExists(ctx, tx, accountID, function); err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", function, err)
	} else if !ok {
		return nil, fmt.Errorf("list aliases of %s: %w", function, ErrNotFound)
	}
	if !fitsText(version) {
		return nil, nil // no alias routes to a version of that name
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+lambdaAliasColumns+` FROM lambda_aliases
		WHERE account_id = $1 AND function = $2 AND ($3 = '' OR version = $3 OR additional_version = $3)
		ORDER BY name`, accountID, function, version)
	if err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", function, err)
	}
	defer rows.Close()
	var out []LambdaAlias
	for rows.Next() {
		a, err := scanLambdaAlias(rows)
		if err != nil {
			return nil, fmt.Errorf("list aliases of %s: %w", function, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", function, err)
	}
	return out, nil
}

// DeleteAlias deletes an alias with its policy and event invoke
// configuration. Its provisioned concurrency stays for the caller, which
// must release the instances and then DeleteProvisionedConcurrency.
// ErrNotFound if there is no such alias.
func (db *DB) DeleteAlias(ctx context.Context, accountID, function, name string) error {
	if !allFit(accountID, function, name) {
		return fmt.Errorf("delete alias %q of %q: %w", name, function, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete alias %s of %s: %w", name, function, err)
	}
	defer tx.Rollback()
	n, err := lambdaAffected(tx.ExecContext(ctx,
		"DELETE FROM lambda_aliases WHERE account_id = $1 AND function = $2 AND name = $3",
		accountID, function, name))
	if err != nil {
		return fmt.Errorf("delete alias %s of %s: %w", name, function, err)
	}
	if n == 0 {
		return fmt.Errorf("delete alias %s of %s: %w", name, function, ErrNotFound)
	}
	if err := lambdaDeleteQualifier(ctx, tx, accountID, function, name); err != nil {
		return fmt.Errorf("delete alias %s of %s: %w", name, function, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete alias %s of %s: commit: %w", name, function, err)
	}
	return nil
}

// Layers

const lambdaLayerVersionColumns = "account_id, layer, version, code_sha256, code_size, unzipped_size, config, created_at"

func scanLambdaLayerVersion(row rowScanner) (LambdaLayerVersion, error) {
	var (
		lv      LambdaLayerVersion
		created int64
	)
	if err := row.Scan(&lv.AccountID, &lv.Layer, &lv.Version, &lv.CodeSha256, &lv.CodeSize, &lv.UnzippedSize, &lv.Config, &created); err != nil {
		return LambdaLayerVersion{}, err
	}
	lv.CreatedAt = fromNanos(created)
	return lv, nil
}

func scanLambdaLayerVersions(rows *sql.Rows) ([]LambdaLayerVersion, error) {
	defer rows.Close()
	var out []LambdaLayerVersion
	for rows.Next() {
		lv, err := scanLambdaLayerVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, lv)
	}
	return out, rows.Err()
}

// PublishLayerVersion stores lv as the next version of its layer, creating
// the layer on its first publish, and returns it with Version set (lv.Version
// is ignored; a zero CreatedAt means now). Numbers are never reused, even
// after a version is deleted. ErrNotFound if the account does not exist.
func (db *DB) PublishLayerVersion(ctx context.Context, lv LambdaLayerVersion) (LambdaLayerVersion, error) {
	if err := lambdaKeys("account id", lv.AccountID, "layer name", lv.Layer); err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w", lv.Layer, err)
	}
	if err := lambdaJSON("config", lv.Config); err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w", lv.Layer, err)
	}
	if err := lambdaTexts("code SHA-256", lv.CodeSha256); err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w", lv.Layer, err)
	}
	if lv.CreatedAt.IsZero() {
		lv.CreatedAt = db.now().UTC()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w", lv.Layer, err)
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, `INSERT INTO lambda_layers (account_id, name, last_version) VALUES ($1, $2, 1)
		ON CONFLICT (account_id, name) DO UPDATE SET last_version = lambda_layers.last_version + 1
		RETURNING last_version`, lv.AccountID, lv.Layer).Scan(&lv.Version)
	if isForeignKeyViolation(err) {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w: account %s", lv.Layer, ErrNotFound, lv.AccountID)
	}
	if err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version of layer %s: %w", lv.Layer, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lambda_layer_versions
		(account_id, layer, version, code_sha256, code_size, unzipped_size, config, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		lv.AccountID, lv.Layer, lv.Version, lv.CodeSha256, lv.CodeSize, lv.UnzippedSize, string(lv.Config), toNanos(lv.CreatedAt)); err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version %d of layer %s: %w", lv.Version, lv.Layer, err)
	}
	if err := tx.Commit(); err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("publish version %d of layer %s: commit: %w", lv.Version, lv.Layer, err)
	}
	return lv, nil
}

// LayerVersion returns one version of a layer, or ErrNotFound.
func (db *DB) LayerVersion(ctx context.Context, accountID, layer string, version int) (LambdaLayerVersion, error) {
	if !allFit(accountID, layer) {
		return LambdaLayerVersion{}, fmt.Errorf("version %d of layer %q: %w", version, layer, ErrNotFound)
	}
	lv, err := scanLambdaLayerVersion(db.conn.QueryRowContext(ctx, "SELECT "+lambdaLayerVersionColumns+
		" FROM lambda_layer_versions WHERE account_id = $1 AND layer = $2 AND version = $3",
		accountID, layer, version))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaLayerVersion{}, fmt.Errorf("version %d of layer %s: %w", version, layer, ErrNotFound)
	}
	if err != nil {
		return LambdaLayerVersion{}, fmt.Errorf("version %d of layer %s: %w", version, layer, err)
	}
	return lv, nil
}

// ListLayers returns the newest existing version of each of the account's
// layers, by layer name. A layer whose versions were all deleted is left out.
func (db *DB) ListLayers(ctx context.Context, accountID string) ([]LambdaLayerVersion, error) {
	if !fitsText(accountID) {
		return nil, nil
	}
	rows, err := db.conn.QueryContext(ctx, `SELECT v.account_id, v.layer, v.version, v.code_sha256, v.code_size, v.unzipped_size, v.config, v.created_at
		FROM lambda_layer_versions v
		WHERE v.account_id = $1 AND v.version = (
			SELECT max(version) FROM lambda_layer_versions WHERE account_id = v.account_id AND layer = v.layer)
		ORDER BY v.layer`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	out, err := scanLambdaLayerVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	return out, nil
}

// ListLayerVersions returns the layer's versions, newest first as Lambda
// lists them; none (and no error) for an unknown layer, as Lambda answers.
func (db *DB) ListLayerVersions(ctx context.Context, accountID, layer string) ([]LambdaLayerVersion, error) {
	if !allFit(accountID, layer) {
		return nil, nil
	}
	rows, err := db.conn.QueryContext(ctx, "SELECT "+lambdaLayerVersionColumns+
		" FROM lambda_layer_versions WHERE account_id = $1 AND layer = $2 ORDER BY version DESC",
		accountID, layer)
	if err != nil {
		return nil, fmt.Errorf("list versions of layer %s: %w", layer, err)
	}
	out, err := scanLambdaLayerVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("list versions of layer %s: %w", layer, err)
	}
	return out, nil
}

// DeleteLayerVersion deletes one version of a layer. An absent version is
// not an error: Lambda answers 204 either way. The layer itself stays, so its
// numbers are never reused.
func (db *DB) DeleteLayerVersion(ctx context.Context, accountID, layer string, version int) error {
	if !allFit(accountID, layer) {
		return nil // no such layer, so no such version
	}
	if _, err := db.conn.ExecContext(ctx,
		"DELETE FROM lambda_layer_versions WHERE account_id = $1 AND layer = $2 AND version = $3",
		accountID, layer, version); err != nil {
		return fmt.Errorf("delete version %d of layer %s: %w", version, layer, err)
	}
	return nil
}

// Resource-based policies

// AddPolicyStatement adds a statement to the policy of a function (Qualifier
// "") or of one of its versions or aliases. A zero CreatedAt means now; the
// store moves it past the policy's newest statement if needed, so that
// PolicyStatements lists in creation order even when the clock repeats or
// steps back. ErrExists if the policy already has a statement with that id;
// ErrNotFound if the function or qualifier does not exist.
func (db *DB) AddPolicyStatement(ctx context.Context, s LambdaPolicyStatement) error {
	if !allFit(s.Function, s.Qualifier) {
		return fmt.Errorf("add statement %s to %q: %w: function or version or alias %q", s.StatementID, s.Function, ErrNotFound, s.Qualifier)
	}
	if err := lambdaKeys("account id", s.AccountID, "function name", s.Function, "statement id", s.StatementID); err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	if err := lambdaJSON("statement", s.Statement); err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.now().UTC()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	defer tx.Rollback()
	if err := lambdaCheckQualifier(ctx, tx, s.AccountID, s.Function, s.Qualifier); err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	var newest int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(created_at), 0) FROM lambda_policy_statements
		WHERE account_id = $1 AND function = $2 AND qualifier = $3`,
		s.AccountID, s.Function, s.Qualifier).Scan(&newest); err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	created := toNanos(s.CreatedAt)
	if created <= newest {
		created = newest + 1
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO lambda_policy_statements
		(account_id, function, qualifier, statement_id, statement, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		s.AccountID, s.Function, s.Qualifier, s.StatementID, string(s.Statement), created)
	if isUniqueViolation(err) {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add statement %s to %s: %w", s.StatementID, s.Function, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add statement %s to %s: commit: %w", s.StatementID, s.Function, err)
	}
	return nil
}

// RemovePolicyStatement removes one statement from a policy. ErrNotFound if
// the policy has no statement with that id.
func (db *DB) RemovePolicyStatement(ctx context.Context, accountID, function, qualifier, sid string) error {
	if !allFit(accountID, function, qualifier, sid) {
		return fmt.Errorf("remove statement %q from %q: %w", sid, function, ErrNotFound)
	}
	n, err := lambdaAffected(db.conn.ExecContext(ctx, `DELETE FROM lambda_policy_statements
		WHERE account_id = $1 AND function = $2 AND qualifier = $3 AND statement_id = $4`,
		accountID, function, qualifier, sid))
	if err != nil {
		return fmt.Errorf("remove statement %s from %s: %w", sid, function, err)
	}
	if n == 0 {
		return fmt.Errorf("remove statement %s from %s: %w", sid, function, ErrNotFound)
	}
	return nil
}

// PolicyStatements returns the statements of the policy of a function
// (qualifier "") or of one of its versions or aliases, in creation order;
// none when it has no policy. ErrNotFound if there is no such function.
func (db *DB) PolicyStatements(ctx context.Context, accountID, function, qualifier string) ([]LambdaPolicyStatement, error) {
	if !allFit(accountID, function) {
		return nil, fmt.Errorf("policy of %q: %w", function, ErrNotFound)
	}
	tx, err := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("policy of %s: %w", function, err)
	}
	defer tx.Rollback()
	if ok, err := lambdaFunctionExists(ctx, tx, accountID, function); err != nil {
		return nil, fmt.Errorf("policy of %s: %w", function, err)
	} else if !ok {
		return nil, fmt.Errorf("policy of %s: %w", function, ErrNotFound)
	}
	if !fitsText(qualifier) {
		return nil, nil // no version or alias of that name has a policy
	}
	rows, err := tx.QueryContext(ctx, `SELECT account_id, function, qualifier, statement_id, statement, created_at
		FROM lambda_policy_statements
		WHERE account_id = $1 AND function = $2 AND qualifier = $3
		ORDER BY created_at, statement_id`, accountID, function, qualifier)
	if err != nil {
		return nil, fmt.Errorf("policy of %s: %w", function, err)
	}
	defer rows.Close()
	var out []LambdaPolicyStatement
	for rows.Next() {
		var (
			s       LambdaPolicyStatement
			created int64
		)
		if err := rows.Scan(&s.AccountID, &s.Function, &s.Qualifier, &s.StatementID, &s.Statement, &created); err != nil {
			return nil, fmt.Errorf("policy of %s: %w", function, err)
		}
		s.CreatedAt = fromNanos(created)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy of %s: %w", function, err)
	}
	return out, nil
}

// Concurrency

// SetReservedConcurrency sets the function's reserved concurrency (0 or
// more); nil clears it. ErrNotFound if there is no such function.
func (db *DB) SetReservedConcurrency(ctx context.Context, accountID, function string, n *int) error {
	var reserved any // NULL clears
	if n != nil {
		if *n < 0 {
			return fmt.Errorf("set reserved concurrency of %s: %w: %d is negative", function, ErrInvalid, *n)
		}
		reserved = *n
	}
	if !allFit(accountID, function) {
		return fmt.Errorf("set reserved concurrency of %q: %w", function, ErrNotFound)
	}
	rows, err := lambdaAffected(db.conn.ExecContext(ctx,
		"UPDATE lambda_functions SET reserved_concurrency = $3 WHERE account_id = $1 AND name = $2",
		accountID, function, reserved))
	if err != nil {
		return fmt.Errorf("set reserved concurrency of %s: %w", function, err)
	}
	if rows == 0 {
		return fmt.Errorf("set reserved concurrency of %s: %w", function, ErrNotFound)
	}
	return nil
}

// ReservedConcurrencies returns every function of every account that has a
// reservation, by account then name, for restoring the reservations at
// start-up.
func (db *DB) ReservedConcurrencies(ctx context.Context) ([]LambdaFunction, error) {
	rows, err := db.conn.QueryContext(ctx, "SELECT "+lambdaFunctionColumns+
		" FROM lambda_functions WHERE reserved_concurrency IS NOT NULL ORDER BY account_id, name")
	if err != nil {
		return nil, fmt.Errorf("list reserved concurrency: %w", err)
	}
	defer rows.Close()
	var out []LambdaFunction
	for rows.Next() {
		f, err := scanLambdaFunction(rows)
		if err != nil {
			return nil, fmt.Errorf("list reserved concurrency: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reserved concurrency: %w", err)
	}
	return out, nil
}

const lambdaProvisionedColumns = "account_id, function, qualifier, requested, last_modified"

func scanLambdaProvisioned(row rowScanner) (LambdaProvisioned, error) {
	var (
		p        LambdaProvisioned
		modified int64
	)
	if err := row.Scan(&p.AccountID, &p.Function, &p.Qualifier, &p.Requested, &modified); err != nil {
		return LambdaProvisioned{}, err
	}
	p.LastModified = fromNanos(modified)
	return p, nil
}

// PutProvisionedConcurrency creates or replaces the provisioned concurrency
// of a version or alias (a zero LastModified means now). ErrInvalid unless
// Requested is at least 1; ErrNotFound if the function or qualifier does not
// exist.
func (db *DB) PutProvisionedConcurrency(ctx context.Context, p LambdaProvisioned) error {
	if !allFit(p.Function, p.Qualifier) {
		return fmt.Errorf("put provisioned concurrency of %q:%q: %w", p.Function, p.Qualifier, ErrNotFound)
	}
	if err := lambdaKeys("account id", p.AccountID, "function name", p.Function, "qualifier", p.Qualifier); err != nil {
		return fmt.Errorf("put provisioned concurrency of %s:%s: %w", p.Function, p.Qualifier, err)
	}
	if p.Requested < 1 {
		return fmt.Errorf("put provisioned concurrency of %s:%s: %w: %d is not positive", p.Function, p.Qualifier, ErrInvalid, p.Requested)
	}
	if p.LastModified.IsZero() {
		p.LastModified = db.now().UTC()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("put provisioned concurrency of %s:%s: %w", p.Function, p.Qualifier, err)
	}
	defer tx.Rollback()
	if err := lambdaCheckQualifier(ctx, tx, p.AccountID, p.Function, p.Qualifier); err != nil {
		return fmt.Errorf("put provisioned concurrency of %s:%s: %w", p.Function, p.Qualifier, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lambda_provisioned_concurrency
		(account_id, function, qualifier, requested, last_modified) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account_id, function, qualifier)
		DO UPDATE SET requested = excluded.requested, last_modified = excluded.last_modified`,
		p.AccountID, p.Function, p.Qualifier, p.Requested, toNanos(p.LastModified)); err != nil {
		return fmt.Errorf("put provisioned concurrency of %s:%s: %w", p.Function, p.Qualifier, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put provisioned concurrency of %s:%s: commit: %w", p.Function, p.Qualifier, err)
	}
	return nil
}

// ProvisionedConcurrency returns the provisioned concurrency of a version or
// alias, or ErrNotFound.
func (db *DB) ProvisionedConcurrency(ctx context.Context, accountID, function, qualifier string) (LambdaProvisioned, error) {
	if !allFit(accountID, function, qualifier) {
		return LambdaProvisioned{}, fmt.Errorf("provisioned concurrency of %q:%q: %w", function, qualifier, ErrNotFound)
	}
	p, err := scanLambdaProvisioned(db.conn.QueryRowContext(ctx, "SELECT "+lambdaProvisionedColumns+
		" FROM lambda_provisioned_concurrency WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaProvisioned{}, fmt.Errorf("provisioned concurrency of %s:%s: %w", function, qualifier, ErrNotFound)
	}
	if err != nil {
		return LambdaProvisioned{}, fmt.Errorf("provisioned concurrency of %s:%s: %w", function, qualifier, err)
	}
	return p, nil
}

// ListProvisionedConcurrency returns provisioned concurrency settings by
// account, function and qualifier: of one function, of every function of the
// account when function is "", or of every account when accountID is ""
// too (for the restore at start-up). ErrNotFound if a named function does not
// exist; ErrInvalid for a function without an account.
func (db *DB) ListProvisionedConcurrency(ctx context.Context, accountID, function string) ([]LambdaProvisioned, error) {
	const cols = "SELECT " + lambdaProvisionedColumns + " FROM lambda_provisioned_concurrency "
	if !allFit(accountID, function) {
		if function == "" {
			return nil, nil
		}
		return nil, fmt.Errorf("list provisioned concurrency of %q: %w", function, ErrNotFound)
	}
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case accountID == "" && function != "":
		return nil, fmt.Errorf("list provisioned concurrency of %s: %w: no account", function, ErrInvalid)
	case accountID == "":
		rows, err = db.conn.QueryContext(ctx, cols+"ORDER BY account_id, function, qualifier")
	case function == "":
		rows, err = db.conn.QueryContext(ctx, cols+"WHERE account_id = $1 ORDER BY function, qualifier", accountID)
	default:
		tx, terr := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
		if terr != nil {
			return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, terr)
		}
		defer tx.Rollback()
		if ok, err := lambdaFunctionExists(ctx, tx, accountID, function); err != nil {
			return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, err)
		} else if !ok {
			return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, ErrNotFound)
		}
		rows, err = tx.QueryContext(ctx, cols+"WHERE account_id = $1 AND function = $2 ORDER BY qualifier", accountID, function)
	}
	if err != nil {
		return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, err)
	}
	defer rows.Close()
	var out []LambdaProvisioned
	for rows.Next() {
		p, err := scanLambdaProvisioned(rows)
		if err != nil {
			return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list provisioned concurrency of %s: %w", function, err)
	}
	return out, nil
}

// DeleteProvisionedConcurrency deletes the provisioned concurrency of a
// version or alias. ErrNotFound if it has none.
func (db *DB) DeleteProvisionedConcurrency(ctx context.Context, accountID, function, qualifier string) error {
	if !allFit(accountID, function, qualifier) {
		return fmt.Errorf("delete provisioned concurrency of %q:%q: %w", function, qualifier, ErrNotFound)
	}
	n, err := lambdaAffected(db.conn.ExecContext(ctx,
		"DELETE FROM lambda_provisioned_concurrency WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier))
	if err != nil {
		return fmt.Errorf("delete provisioned concurrency of %s:%s: %w", function, qualifier, err)
	}
	if n == 0 {
		return fmt.Errorf("delete provisioned concurrency of %s:%s: %w", function, qualifier, ErrNotFound)
	}
	return nil
}

// Asynchronous invocation configuration

const lambdaEventInvokeColumns = "account_id, function, qualifier, config, last_modified"

func scanLambdaEventInvokeConfig(row rowScanner) (LambdaEventInvokeConfig, error) {
	var (
		c        LambdaEventInvokeConfig
		modified int64
	)
	if err := row.Scan(&c.AccountID, &c.Function, &c.Qualifier, &c.Config, &modified); err != nil {
		return LambdaEventInvokeConfig{}, err
	}
	c.LastModified = fromNanos(modified)
	return c, nil
}

// PutEventInvokeConfig creates or replaces the event invoke configuration of
// a function (Qualifier "") or of one of its versions or aliases (a zero
// LastModified means now). ErrNotFound if the function or qualifier does not
// exist.
func (db *DB) PutEventInvokeConfig(ctx context.Context, c LambdaEventInvokeConfig) error {
	if !allFit(c.Function, c.Qualifier) {
		return fmt.Errorf("put event invoke config of %q: %w: function or version or alias %q", c.Function, ErrNotFound, c.Qualifier)
	}
	if err := lambdaKeys("account id", c.AccountID, "function name", c.Function); err != nil {
		return fmt.Errorf("put event invoke config of %s: %w", c.Function, err)
	}
	if err := lambdaJSON("config", c.Config); err != nil {
		return fmt.Errorf("put event invoke config of %s: %w", c.Function, err)
	}
	if c.LastModified.IsZero() {
		c.LastModified = db.now().UTC()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("put event invoke config of %s: %w", c.Function, err)
	}
	defer tx.Rollback()
	if err := lambdaCheckQualifier(ctx, tx, c.AccountID, c.Function, c.Qualifier); err != nil {
		return fmt.Errorf("put event invoke config of %s: %w", c.Function, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lambda_event_invoke_configs
		(account_id, function, qualifier, config, last_modified) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account_id, function, qualifier)
		DO UPDATE SET config = excluded.config, last_modified = excluded.last_modified`,
		c.AccountID, c.Function, c.Qualifier, string(c.Config), toNanos(c.LastModified)); err != nil {
		return fmt.Errorf("put event invoke config of %s: %w", c.Function, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put event invoke config of %s: commit: %w", c.Function, err)
	}
	return nil
}

// EventInvokeConfig returns the event invoke configuration of a function
// (qualifier "") or of one of its versions or aliases, or ErrNotFound.
func (db *DB) EventInvokeConfig(ctx context.Context, accountID, function, qualifier string) (LambdaEventInvokeConfig, error) {
	if !allFit(accountID, function, qualifier) {
		return LambdaEventInvokeConfig{}, fmt.Errorf("event invoke config of %q: %w", function, ErrNotFound)
	}
	c, err := scanLambdaEventInvokeConfig(db.conn.QueryRowContext(ctx, "SELECT "+lambdaEventInvokeColumns+
		" FROM lambda_event_invoke_configs WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier))
	if errors.Is(err, sql.ErrNoRows) {
		return LambdaEventInvokeConfig{}, fmt.Errorf("event invoke config of %s: %w", function, ErrNotFound)
	}
	if err != nil {
		return LambdaEventInvokeConfig{}, fmt.Errorf("event invoke config of %s: %w", function, err)
	}
	return c, nil
}

// ListEventInvokeConfigs returns the function's event invoke configurations
// by qualifier, the unqualified one first. ErrNotFound if there is no such
// function.
func (db *DB) ListEventInvokeConfigs(ctx context.Context, accountID, function string) ([]LambdaEventInvokeConfig, error) {
	if !allFit(accountID, function) {
		return nil, fmt.Errorf("list event invoke configs of %q: %w", function, ErrNotFound)
	}
	tx, err := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list event invoke configs of %s: %w", function, err)
	}
	defer tx.Rollback()
	if ok, err := lambdaFunctionExists(ctx, tx, accountID, function); err != nil {
		return nil, fmt.Errorf("list event invoke configs of %s: %w", function, err)
	} else if !ok {
		return nil, fmt.Errorf("list event invoke configs of %s: %w", function, ErrNotFound)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+lambdaEventInvokeColumns+
		" FROM lambda_event_invoke_configs WHERE account_id = $1 AND function = $2 ORDER BY qualifier",
		accountID, function)
	if err != nil {
		return nil, fmt.Errorf("list event invoke configs of %s: %w", function, err)
	}
	defer rows.Close()
	var out []LambdaEventInvokeConfig
	for rows.Next() {
		c, err := scanLambdaEventInvokeConfig(rows)
		if err != nil {
			return nil, fmt.Errorf("list event invoke configs of %s: %w", function, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list event invoke configs of %s: %w", function, err)
	}
	return out, nil
}

// DeleteEventInvokeConfig deletes the event invoke configuration of a
// function (qualifier "") or of one of its versions or aliases. ErrNotFound
// if it has none.
func (db *DB) DeleteEventInvokeConfig(ctx context.Context, accountID, function, qualifier string) error {
	if !allFit(accountID, function, qualifier) {
		return fmt.Errorf("delete event invoke config of %q: %w", function, ErrNotFound)
	}
	n, err := lambdaAffected(db.conn.ExecContext(ctx,
		"DELETE FROM lambda_event_invoke_configs WHERE account_id = $1 AND function = $2 AND qualifier = $3",
		accountID, function, qualifier))
	if err != nil {
		return fmt.Errorf("delete event invoke config of %s: %w", function, err)
	}
	if n == 0 {
		return fmt.Errorf("delete event invoke config of %s: %w", function, ErrNotFound)
	}
	return nil
}

// Packages

// ReferencedPackages returns every CodeSha256 that a function version or a
// layer version of any account still uses: the packages the package store
// must keep. The empty hash (no package) is left out.
func (db *DB) ReferencedPackages(ctx context.Context) (map[string]bool, error) {
	rows, err := db.conn.QueryContext(ctx, `SELECT code_sha256 FROM lambda_versions WHERE code_sha256 <> ''
		UNION SELECT code_sha256 FROM lambda_layer_versions WHERE code_sha256 <> ''`)
	if err != nil {
		return nil, fmt.Errorf("list referenced packages: %w", err)
	}
	defer rows.Close()
	out := make(map[string]bool)
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return nil, fmt.Errorf("list referenced packages: %w", err)
		}
		out[sha] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list referenced packages: %w", err)
	}
	return out, nil
}
