package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
)

// Scratch accounts for the grader: copying a learner's account into one,
// listing the ones left behind, and a digest that proves an account
// unchanged.

// copyTable is one account-scoped table that CopyAccount copies, with every
// one of its columns named: a migration that adds a column fails
// TestCopyNamesEveryColumn until the column is named here too, instead of
// the copy dropping it without a word.
type copyTable struct {
	name string
	cols []string
	// text are the columns holding documents that name the account (ARNs,
	// account fields): the copy names the new account in them.
	text []string
	// blob is like text for a BLOB (BYTEA) column.
	blob []string
}

// copyTables are copied in this order, parents before children.
var copyTables = []copyTable{
	{name: "lambda_functions", cols: []string{"account_id", "name", "last_version", "reserved_concurrency", "created_at", "recursive_loop"}},
	// config holds the role ARN, the layer ARNs and the environment.
	{name: "lambda_versions", cols: []string{"account_id", "function", "version", "config", "code_sha256", "code_size", "revision_id", "last_modified"},
		text: []string{"config"}},
	// An alias row holds no ARN: the service builds an alias's ARN from the
	// row's account when it answers.
	{name: "lambda_aliases", cols: []string{"account_id", "function", "name", "version", "additional_version", "additional_weight", "description", "revision_id"}},
	{name: "lambda_layers", cols: []string{"account_id", "name", "last_version"}},
	{name: "lambda_layer_versions", cols: []string{"account_id", "layer", "version", "code_sha256", "code_size", "unzipped_size", "config", "created_at"}},
	// A statement's Resource, its AWS principal and its AWS:SourceAccount.
	{name: "lambda_policy_statements", cols: []string{"account_id", "function", "qualifier", "statement_id", "statement", "created_at"},
		text: []string{"statement"}},
	{name: "lambda_provisioned_concurrency", cols: []string{"account_id", "function", "qualifier", "requested", "last_modified"}},
	// Destinations are function ARNs of the account (or bucket ARNs, which
	// name no account).
	{name: "lambda_event_invoke_configs", cols: []string{"account_id", "function", "qualifier", "config", "last_modified"},
		text: []string{"config"}},
	// A notification names its target functions by ARN.
	{name: "s3_buckets", cols: []string{"account_id", "name", "created_at", "notification"},
		blob: []string{"notification"}},
	// Objects come last and apart: a file-backed body gets a new name.
	{name: "s3_objects", cols: []string{"account_id", "bucket", "key", "size", "etag", "metadata", "part_sizes", "data", "file", "modified_at"}},
}

// copySkipped are the account-scoped tables that CopyAccount leaves out,
// with the reason. Every account-scoped table is in copyTables or here
// (TestCopyClassifiesEveryTable), and AccountDigest reads them all.
var copySkipped = map[string]string{
	"accounts":      "the target account exists already",
	"access_keys":   "the copy has keys of its own",
	"invocations":   "the learner's history; a grading run checks the copy's own invocations",
	"xray_traces":   "the learner's history, as invocations",
	"xray_segments": "the learner's history, as invocations",
	"xray_usage":    "kept by the X-Ray triggers",
	"s3_uploads":    "unfinished multipart uploads live on in the protocol library's memory, which knows nothing of the copy",
	"s3_parts":      "parts of unfinished uploads",
	"s3_usage":      "kept by the S3 triggers as the buckets and objects are copied",
}

// accountText is SQL that rewrites the account id $1 into $2 in the text
// expr wherever it stands as an account id: between colons, as in every
// ARN that names an account (arn:aws:lambda:us-east-1:ID:function:f,
// arn:aws:iam::ID:role/r), or as a whole JSON string ("AWS:SourceAccount":
// "ID"). Nothing else is touched: a hash or a description that happens to
// hold the same twelve digits keeps them.
func accountText(expr string) string {
	return `replace(replace(` + expr + `, ':' || $1 || ':', ':' || $2 || ':'), '"' || $1 || '"', '"' || $2 || '"')`
}

// accountBlob is accountText for a BLOB column holding text: replace()
// works on text, and the result must be a BLOB again, which a STRICT
// SQLite column and a PostgreSQL BYTEA column both insist on. SQLite's
// replace() reads a BLOB as text itself; PostgreSQL converts both ways
// (the column holds JSON, so UTF-8).
func (d *dialect) accountBlob(col string) string {
	if d == postgresDialect {
		return "convert_to(" + accountText("convert_from("+col+", 'UTF8')") + ", 'UTF8')"
	}
	return "CAST(" + accountText(col) + " AS BLOB)"
}

// copySelect is the SELECT list that copies t's row of account $1 as a row
// of account $2; override replaces the named columns' expressions.
func (t copyTable) copySelect(d *dialect, override map[string]string) string {
	exprs := make([]string, len(t.cols))
	for i, c := range t.cols {
		switch {
		case override[c] != "":
			exprs[i] = override[c]
		case c == "account_id":
			exprs[i] = "$2"
		case slices.Contains(t.text, c):
			exprs[i] = accountText(c)
		case slices.Contains(t.blob, c):
			exprs[i] = d.accountBlob(c)
		default:
			exprs[i] = c
		}
	}
	return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
		" FROM " + t.name + " WHERE account_id = $1"
}

// CopyAccount copies every Lambda and S3 resource of account from into
// account to, in one transaction: functions with their versions, aliases,
// policies, event invoke and concurrency settings, layers, buckets with
// their notification configurations, and objects with their metadata.
// Documents that name from as an account (ARNs, policy principals and
// source accounts, destinations, notification targets) name to in the
// copy. Keys, invocation records, X-Ray data and unfinished multipart
// uploads are not copied. Code packages are shared by their hash.
//
// to must exist, belong to no user (ErrInvalid otherwise) and hold none of
// these resources yet (ErrExists otherwise). renameFile gives each
// file-backed object body of the copy a file of its own and returns its
// name, which must differ from old: two rows naming one file would let a
// delete in the copy remove the original's body. It runs inside the
// transaction; an error from it aborts the copy and is returned wrapped.
// ErrNotFound if either account does not exist.
func (db *DB) CopyAccount(ctx context.Context, from, to string, renameFile func(old string) (string, error)) error {
	if err := lambdaKeys("source account", from, "target account", to); err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	if from == to {
		return fmt.Errorf("copy account %s: %w: it is its own target", from, ErrInvalid)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	defer tx.Rollback()
	if err := checkCopyAccounts(ctx, tx, from, to); err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	objects := copyTables[len(copyTables)-1]
	for _, t := range copyTables[:len(copyTables)-1] {
		if _, err := tx.ExecContext(ctx, t.copySelect(db.dialect, nil), from, to); err != nil {
			if isUniqueViolation(err) {
				err = fmt.Errorf("%w: the target has %s of its own", ErrExists, t.name)
			}
			return fmt.Errorf("copy account %s to %s: %s: %w", from, to, t.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, objects.copySelect(db.dialect, nil)+" AND file IS NULL", from, to); err != nil {
		if isUniqueViolation(err) {
			err = fmt.Errorf("%w: the target has objects of its own", ErrExists)
		}
		return fmt.Errorf("copy account %s to %s: s3 objects: %w", from, to, err)
	}
	if err := copyObjectFiles(ctx, tx, objects.copySelect(db.dialect, map[string]string{"file": "$5"}), from, to, renameFile); err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("copy account %s to %s: commit: %w", from, to, err)
	}
	return nil
}

// checkCopyAccounts refuses a copy from a missing account or into one that
// is missing or a user's.
func checkCopyAccounts(ctx context.Context, tx *sql.Tx, from, to string) error {
	var fromOK bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)", from).Scan(&fromOK); err != nil {
		return err
	}
	if !fromOK {
		return fmt.Errorf("%w: account %s", ErrNotFound, from)
	}
	var owner sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT user_id FROM accounts WHERE account_id = $1", to).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: account %s", ErrNotFound, to)
	}
	if err != nil {
		return err
	}
	if owner.Valid {
		return fmt.Errorf("%w: account %s belongs to user %d; copies go into scratch accounts only", ErrInvalid, to, owner.Int64)
	}
	// A copy into an account that has resources would be a merge, and what
	// the grader then checks would not be the learner's account.
	var used bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM lambda_functions WHERE account_id = $1)
		OR EXISTS (SELECT 1 FROM lambda_layers WHERE account_id = $1)
		OR EXISTS (SELECT 1 FROM s3_buckets WHERE account_id = $1)`, to).Scan(&used); err != nil {
		return err
	}
	if used {
		return fmt.Errorf("%w: account %s has functions, layers or buckets already", ErrExists, to)
	}
	return nil
}

// copyObjectFiles copies the file-backed objects of from, each under the
// file name renameFile gives it; selectAs is the objects' copySelect with
// the file name as $5.
func copyObjectFiles(ctx context.Context, tx *sql.Tx, selectAs, from, to string, renameFile func(string) (string, error)) error {
	type fileObject struct{ bucket, key, file string }
	rows, err := tx.QueryContext(ctx,
		"SELECT bucket, key, file FROM s3_objects WHERE account_id = $1 AND file IS NOT NULL ORDER BY bucket, key", from)
	if err != nil {
		return fmt.Errorf("list file-backed objects: %w", err)
	}
	var list []fileObject
	for rows.Next() {
		var o fileObject
		if err := rows.Scan(&o.bucket, &o.key, &o.file); err != nil {
			rows.Close()
			return fmt.Errorf("list file-backed objects: %w", err)
		}
		list = append(list, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list file-backed objects: %w", err)
	}
	if len(list) > 0 && renameFile == nil {
		return fmt.Errorf("%w: %d objects keep their bodies in files and there is no renameFile", ErrInvalid, len(list))
	}
	insert := selectAs + " AND bucket = $3 AND key = $4"
	for _, o := range list {
		name, err := renameFile(o.file)
		if err != nil {
			return fmt.Errorf("body of %s/%s: %w", o.bucket, o.key, err)
		}
		if name == "" || name == o.file {
			return fmt.Errorf("body of %s/%s: %w: renameFile gave %q for %q, not a file of its own", o.bucket, o.key, ErrInvalid, name, o.file)
		}
		if _, err := tx.ExecContext(ctx, insert, from, to, o.bucket, o.key, name); err != nil {
			if isUniqueViolation(err) {
				err = fmt.Errorf("%w: the target has objects of its own", ErrExists)
			}
			return fmt.Errorf("s3 object %s/%s: %w", o.bucket, o.key, err)
		}
	}
	return nil
}

// ScratchAccounts lists the accounts that belong to no user, oldest first.
// Grading runs delete theirs when done; the ones listed while no run is
// going on were left by a crash.
func (db *DB) ScratchAccounts(ctx context.Context) ([]string, error) {
	ids, err := queryStrings(ctx, db.conn,
		"SELECT account_id FROM accounts WHERE user_id IS NULL ORDER BY created_at, account_id")
	if err != nil {
		return nil, fmt.Errorf("list scratch accounts: %w", err)
	}
	return ids, nil
}

// digestTables are every account-scoped table, in the order AccountDigest
// reads them, with the condition that picks an account's rows ($1).
var digestTables = []struct{ name, where string }{
	{"accounts", "account_id = $1"},
	{"access_keys", "account_id = $1"},
	{"invocations", "account_id = $1"},
	{"lambda_functions", "account_id = $1"},
	{"lambda_versions", "account_id = $1"},
	{"lambda_aliases", "account_id = $1"},
	{"lambda_layers", "account_id = $1"},
	{"lambda_layer_versions", "account_id = $1"},
	{"lambda_policy_statements", "account_id = $1"},
	{"lambda_provisioned_concurrency", "account_id = $1"},
	{"lambda_event_invoke_configs", "account_id = $1"},
	{"xray_traces", "account_id = $1"},
	{"xray_segments", "trace_seq IN (SELECT seq FROM xray_traces WHERE account_id = $1)"},
	{"xray_usage", "account_id = $1"},
	{"s3_buckets", "account_id = $1"},
	{"s3_objects", "account_id = $1"},
	{"s3_uploads", "account_id = $1"},
	{"s3_parts", "account_id = $1"},
	{"s3_usage", "account_id = $1"},
}

// AccountDigest is the hex SHA-256 of every row of every account-scoped
// table that belongs to the account (its keys, invocation records and X-Ray
// data included), read in one snapshot, table by table in a fixed order,
// every column with its type. Two digests of one account are equal exactly
// when none of its rows changed, and the same rows give the same digest on
// SQLite and on PostgreSQL (a copy made by Transfer digests alike). Bodies
// kept in files are not read: the row names the file, and files never
// change. The queue of asynchronous events is not account-scoped and not
// included. An account with no rows at all, deleted or never made, has the
// digest of nothing, the same for every id.
func (db *DB) AccountDigest(ctx context.Context, id string) (string, error) {
	tx, err := db.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("digest account %s: %w", id, err)
	}
	defer tx.Rollback()
	h := sha256.New()
	for _, t := range digestTables {
		if err := digestTable(ctx, db.dialect, tx, h, t.name, t.where, id); err != nil {
			return "", fmt.Errorf("digest account %s: %s: %w", id, t.name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tableColumns returns a table's columns in schema order, read from the
// schema: SQLite's table_info pragma, PostgreSQL's information_schema (in
// the schema the store's tables are in, the first on the search path).
func tableColumns(ctx context.Context, d *dialect, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, table string) ([]string, error) {
	query := "SELECT name FROM pragma_table_info($1) ORDER BY cid"
	if d == postgresDialect {
		query = `SELECT column_name::text FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	cols, err := queryStrings(ctx, q, query, table)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %s", table)
	}
	return cols, nil
}

func quoteIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
	}
	return strings.Join(q, ", ")
}

// digestTable hashes the table's name and columns, then the account's rows.
// The columns come from the schema, not from a list here, so that a column
// added later is in the digest without anyone thinking of it. Each row is
// hashed on its own and the table's row hashes are taken in sorted order:
// the set of rows decides, not the order an engine returns them in (the
// two sort text keys by different collations, and a SQLite table without a
// key of its own has only its rowid to order by, which PostgreSQL lacks).
func digestTable(ctx context.Context, d *dialect, tx *sql.Tx, h hash.Hash, table, where, id string) error {
	cols, err := tableColumns(ctx, d, tx, table)
	if err != nil {
		return err
	}
	writeField(h, 't', []byte(table))
	for _, c := range cols {
		writeField(h, 'c', []byte(c))
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+quoteIdents(cols)+" FROM "+table+" WHERE "+where, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var sums [][sha256.Size]byte
	rh := sha256.New()
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		rh.Reset()
		for i, v := range vals {
			if err := writeValue(rh, v); err != nil {
				return fmt.Errorf("column %s: %w", cols[i], err)
			}
		}
		sums = append(sums, [sha256.Size]byte(rh.Sum(nil)))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, sum := range sums {
		writeField(h, 'r', sum[:])
	}
	return nil
}

// writeField writes a tag, a length and the bytes, so that no two
// sequences of fields hash alike.
func writeField(h hash.Hash, tag byte, b []byte) {
	var n [9]byte
	n[0] = tag
	binary.BigEndian.PutUint64(n[1:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// writeValue writes one column value with its type as SQLite keeps it: an
// integer, a real, text, a blob or NULL. A PostgreSQL boolean is the integer
// 0 or 1, as on SQLite.
func writeValue(h hash.Hash, v any) error {
	var b [8]byte
	if x, ok := v.(bool); ok {
		v = int64(0)
		if x {
			v = int64(1)
		}
	}
	switch x := v.(type) {
	case nil:
		writeField(h, 'n', nil)
	case int64:
		binary.BigEndian.PutUint64(b[:], uint64(x))
		writeField(h, 'i', b[:])
	case float64:
		binary.BigEndian.PutUint64(b[:], math.Float64bits(x))
		writeField(h, 'f', b[:])
	case string:
		writeField(h, 's', []byte(x))
	case []byte:
		writeField(h, 'b', x)
	default:
		return fmt.Errorf("column value of type %T", v)
	}
	return nil
}
