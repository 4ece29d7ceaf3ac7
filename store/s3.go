package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// s3Stmts holds the S3 statements of every open database, prepared once:
// a small object's PUT or GET is a few short statements, and parsing them
// costs more than running them. Keyed by connection pool and query.
var s3Stmts sync.Map

type s3StmtKey struct {
	conn  *sql.DB
	query string
}

// s3Stmt returns query prepared on db.
func (db *DB) s3Stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	k := s3StmtKey{db.conn, query}
	if st, ok := s3Stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s3Stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// s3TxStmt returns query prepared on db, for use inside tx.
func (db *DB) s3TxStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	st, err := db.s3Stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// ErrQuota means a write was refused because the account would hold more
// than its limits allow; the wrapping error says which limit.
var ErrQuota = errors.New("quota exceeded")

// S3Bucket is a bucket of an emulated account.
type S3Bucket struct {
	AccountID, Name string
	CreatedAt       time.Time
	// Notification is the bucket's notification configuration as cloud/s3
	// encodes it; nil for none.
	Notification []byte
}

// S3Object is the current version of an object. Its body is either Data
// (small bodies, kept in the row) or the file named File, which cloud/s3
// owns; exactly one is set.
type S3Object struct {
	AccountID, Bucket, Key string
	Size                   int64
	// ETag is the lower-case hex MD5 that names the body, without quotes.
	ETag string
	// Metadata holds the headers stored with the object (Content-Type,
	// X-Amz-Meta-*, Last-Modified, X-Amz-Tagging, checksums), by name.
	Metadata map[string]string
	// PartSizes are the sizes of the parts of a multipart object, in order;
	// nil for an object written in one piece.
	PartSizes  []int64
	Data       []byte
	File       string
	ModifiedAt time.Time
}

// S3Limits caps what one account may hold. Zero means no limit.
type S3Limits struct {
	Buckets int
	Objects int
	// Bytes counts objects and the parts of unfinished multipart uploads.
	Bytes int64
}

// S3Usage is what an account holds.
type S3Usage struct {
	Buckets, Objects int
	Bytes            int64
}

// S3Upload is an unfinished multipart upload.
type S3Upload struct {
	ID, AccountID, Bucket, Key string
	Metadata                   map[string]string
	CreatedAt                  time.Time
}

// S3Part is one uploaded part of a multipart upload; its body is a file.
type S3Part struct {
	UploadID  string
	Number    int
	AccountID string
	Size      int64
	ETag      string
	File      string
}

// CreateS3Bucket creates an empty bucket. ErrExists if the account already
// has one of this name; ErrQuota when it holds maxBuckets already (0: no
// limit).
func (db *DB) CreateS3Bucket(ctx context.Context, accountID, name string, maxBuckets int) error {
	if err := checkText("bucket name", name); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	defer tx.Rollback()
	if maxBuckets > 0 {
		st, err := db.s3TxStmt(ctx, tx, s3UsageQuery)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
		u, err := s3Usage(ctx, st, accountID)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
		if u.Buckets >= maxBuckets {
			return fmt.Errorf("create bucket %s: %w: the account has %d buckets, the most it may have", name, ErrQuota, u.Buckets)
		}
	}
	_, err = tx.ExecContext(ctx,
		"INSERT INTO s3_buckets (account_id, name, created_at) VALUES ($1, $2, $3)",
		accountID, name, toNanos(db.now().UTC()))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create bucket %s: %w", name, ErrExists)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create bucket %s: account %s: %w", name, accountID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create bucket %s: commit: %w", name, err)
	}
	return nil
}

// S3Bucket returns the account's bucket of this name or ErrNotFound.
func (db *DB) S3Bucket(ctx context.Context, accountID, name string) (S3Bucket, error) {
	if !fitsText(name) {
		// Never a bucket's name; PostgreSQL would refuse the query.
		return S3Bucket{}, fmt.Errorf("bucket %q: %w", name, ErrNotFound)
	}
	b := S3Bucket{AccountID: accountID, Name: name}
	var created int64
	st, err := db.s3Stmt(ctx, "SELECT created_at, notification FROM s3_buckets WHERE account_id = $1 AND name = $2")
	if err == nil {
		err = st.QueryRowContext(ctx, accountID, name).Scan(&created, &b.Notification)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return S3Bucket{}, fmt.Errorf("bucket %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return S3Bucket{}, fmt.Errorf("bucket %s: %w", name, err)
	}
	b.CreatedAt = fromNanos(created)
	return b, nil
}

// ListS3Buckets returns the account's buckets by name, without their
// notification configurations.
func (db *DB) ListS3Buckets(ctx context.Context, accountID string) ([]S3Bucket, error) {
	rows, err := db.conn.QueryContext(ctx,
		"SELECT name, created_at FROM s3_buckets WHERE account_id = $1 ORDER BY name", accountID)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer rows.Close()
	var out []S3Bucket
	for rows.Next() {
		b := S3Bucket{AccountID: accountID}
		var created int64
		if err := rows.Scan(&b.Name, &created); err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		b.CreatedAt = fromNanos(created)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return out, nil
}

// DeleteS3Bucket deletes an empty bucket, with any unfinished uploads into
// it, and returns the files of those uploads' parts for the caller to
// remove. ErrNotFound if there is no such bucket, ErrInUse if it holds
// objects.
func (db *DB) DeleteS3Bucket(ctx context.Context, accountID, name string) ([]string, error) {
	if !fitsText(name) {
		return nil, fmt.Errorf("delete bucket %q: %w", name, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete bucket %s: %w", name, err)
	}
	defer tx.Rollback()
	var exists, full bool
	err = tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE account_id = $1 AND name = $2),
		        EXISTS (SELECT 1 FROM s3_objects WHERE account_id = $1 AND bucket = $2)`,
		accountID, name).Scan(&exists, &full)
	switch {
	case err != nil:
		return nil, fmt.Errorf("delete bucket %s: %w", name, err)
	case !exists:
		return nil, fmt.Errorf("delete bucket %s: %w", name, ErrNotFound)
	case full:
		return nil, fmt.Errorf("delete bucket %s: %w: it holds objects", name, ErrInUse)
	}
	files, err := queryStrings(ctx, tx,
		`SELECT p.file FROM s3_parts p JOIN s3_uploads u ON u.upload_id = p.upload_id
		 WHERE u.account_id = $1 AND u.bucket = $2`, accountID, name)
	if err != nil {
		return nil, fmt.Errorf("delete bucket %s: parts: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM s3_buckets WHERE account_id = $1 AND name = $2", accountID, name); err != nil {
		return nil, fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete bucket %s: commit: %w", name, err)
	}
	return files, nil
}

// SetS3Notification replaces the bucket's notification configuration; nil
// removes it. ErrNotFound if there is no such bucket.
func (db *DB) SetS3Notification(ctx context.Context, accountID, bucket string, doc []byte) error {
	if !fitsText(bucket) {
		return fmt.Errorf("set notification of bucket %q: %w", bucket, ErrNotFound)
	}
	n, err := lambdaAffected(db.conn.ExecContext(ctx,
		"UPDATE s3_buckets SET notification = $3 WHERE account_id = $1 AND name = $2", accountID, bucket, doc))
	if err != nil {
		return fmt.Errorf("set notification of bucket %s: %w", bucket, err)
	}
	if n == 0 {
		return fmt.Errorf("set notification of bucket %s: %w", bucket, ErrNotFound)
	}
	return nil
}

// S3Usage returns what the account holds; zero for an account without
// buckets.
func (db *DB) S3Usage(ctx context.Context, accountID string) (S3Usage, error) {
	st, err := db.s3Stmt(ctx, s3UsageQuery)
	if err != nil {
		return S3Usage{}, fmt.Errorf("read s3 usage of %s: %w", accountID, err)
	}
	return s3Usage(ctx, st, accountID)
}

const s3UsageQuery = "SELECT buckets, objects, bytes FROM s3_usage WHERE account_id = $1"

func s3Usage(ctx context.Context, st *sql.Stmt, accountID string) (S3Usage, error) {
	var u S3Usage
	err := st.QueryRowContext(ctx, accountID).Scan(&u.Buckets, &u.Objects, &u.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return S3Usage{}, nil
	}
	if err != nil {
		return S3Usage{}, fmt.Errorf("read s3 usage of %s: %w", accountID, err)
	}
	return u, nil
}

// checkS3Quota refuses a write that would take the account past lim,
// adding objects and bytes (either may be negative) to what it holds now.
func (db *DB) checkS3Quota(ctx context.Context, tx *sql.Tx, accountID string, lim S3Limits, objects int, bytes int64) error {
	if lim.Objects == 0 && lim.Bytes == 0 {
		return nil
	}
	st, err := db.s3TxStmt(ctx, tx, s3UsageQuery)
	if err != nil {
		return err
	}
	u, err := s3Usage(ctx, st, accountID)
	if err != nil {
		return err
	}
	if lim.Objects > 0 && objects > 0 && u.Objects+objects > lim.Objects {
		return fmt.Errorf("%w: the account holds %d objects, the most it may hold is %d", ErrQuota, u.Objects, lim.Objects)
	}
	if lim.Bytes > 0 && bytes > 0 && u.Bytes+bytes > lim.Bytes {
		return fmt.Errorf("%w: the account holds %d bytes and this write adds %d; the most it may hold is %d", ErrQuota, u.Bytes, bytes, lim.Bytes)
	}
	return nil
}

const s3ObjectColumns = "size, etag, metadata, part_sizes, file, modified_at"

func scanS3Object(row rowScanner, o *S3Object, extra ...any) error {
	var (
		meta     string
		parts    sql.NullString
		file     sql.NullString
		modified int64
	)
	if err := row.Scan(append([]any{&o.Size, &o.ETag, &meta, &parts, &file, &modified}, extra...)...); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(meta), &o.Metadata); err != nil {
		return fmt.Errorf("decode metadata of %s: %w", o.Key, err)
	}
	if parts.Valid {
		if err := json.Unmarshal([]byte(parts.String), &o.PartSizes); err != nil {
			return fmt.Errorf("decode part sizes of %s: %w", o.Key, err)
		}
	}
	o.File = file.String
	o.ModifiedAt = fromNanos(modified)
	return nil
}

// S3Object returns the object, with its Data when withData and the body is
// in the row. ErrNotFound if there is no such object (or bucket); ErrInvalid
// for a key no object can have (see checkS3Key).
func (db *DB) S3Object(ctx context.Context, accountID, bucket, key string, withData bool) (S3Object, error) {
	return db.s3Object(ctx, nil, accountID, bucket, key, withData)
}

// s3Object reads an object, inside tx when it is not nil.
func (db *DB) s3Object(ctx context.Context, tx *sql.Tx, accountID, bucket, key string, withData bool) (S3Object, error) {
	if err := checkS3Key(key); err != nil {
		return S3Object{}, fmt.Errorf("object in %s: %w", bucket, err)
	}
	if !fitsText(bucket) {
		return S3Object{}, fmt.Errorf("object %q/%s: %w", bucket, key, ErrNotFound)
	}
	o := S3Object{AccountID: accountID, Bucket: bucket, Key: key}
	data := "NULL"
	if withData {
		data = "data"
	}
	query := "SELECT " + s3ObjectColumns + ", " + data + " FROM s3_objects WHERE account_id = $1 AND bucket = $2 AND key = $3"
	var st *sql.Stmt
	var err error
	if tx != nil {
		st, err = db.s3TxStmt(ctx, tx, query)
	} else {
		st, err = db.s3Stmt(ctx, query)
	}
	if err == nil {
		err = scanS3Object(st.QueryRowContext(ctx, accountID, bucket, key), &o, &o.Data)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return S3Object{}, fmt.Errorf("object %s/%s: %w", bucket, key, ErrNotFound)
	}
	if err != nil {
		return S3Object{}, fmt.Errorf("object %s/%s: %w", bucket, key, err)
	}
	return o, nil
}

// ListS3Objects returns up to limit objects of the bucket whose keys start
// with prefix and come after start (or at it, when inclusive), in byte
// order of their keys, without their data. prefix and start are compared
// as bytes and may be any (a marker need not be a key, nor even UTF-8).
func (db *DB) ListS3Objects(ctx context.Context, accountID, bucket, prefix, start string, inclusive bool, limit int) ([]S3Object, error) {
	if !fitsText(bucket) {
		return nil, nil
	}
	if start < prefix {
		start, inclusive = prefix, true
	}
	// Every key fits a TEXT column, so a bound that does not is replaced by
	// the least one above it that does: it selects the same keys, and
	// PostgreSQL takes it as a parameter.
	lo, ok := textCeil(start)
	if !ok {
		return nil, nil
	}
	if lo != start {
		start, inclusive = lo, true
	}
	cmp := ">"
	if inclusive {
		cmp = ">="
	}
	query := "SELECT key, " + s3ObjectColumns + " FROM s3_objects WHERE account_id = $1 AND bucket = $2 AND key " + cmp + " $3"
	args := []any{accountID, bucket, start}
	if end, ok := prefixEnd(prefix); ok {
		query += " AND key < $4"
		args = append(args, end)
	}
	query += " ORDER BY key LIMIT " + fmt.Sprint(max(limit, 1))
	rows, err := db.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list objects of %s: %w", bucket, err)
	}
	defer rows.Close()
	var out []S3Object
	for rows.Next() {
		o := S3Object{AccountID: accountID, Bucket: bucket}
		if err := scanS3Object(rowsKey{rows, &o.Key}, &o); err != nil {
			return nil, fmt.Errorf("list objects of %s: %w", bucket, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list objects of %s: %w", bucket, err)
	}
	return out, nil
}

// checkS3Key refuses a key that no object can have: S3 takes only keys of
// valid UTF-8 (and answers one that is not with 400 InvalidURI), and a TEXT
// column holds no NUL on PostgreSQL, so none is kept on either engine. The
// bounds of a listing are not keys; ListS3Objects takes any bytes.
func checkS3Key(key string) error {
	return checkText("object key", key)
}

// rowsKey scans the key column in front of the object columns.
type rowsKey struct {
	rows *sql.Rows
	key  *string
}

func (r rowsKey) Scan(dest ...any) error { return r.rows.Scan(append([]any{r.key}, dest...)...) }

// prefixEnd is the least string above every string that starts with
// prefix, compared byte by byte (as SQLite compares TEXT, and PostgreSQL
// the COLLATE "C" key), among those a TEXT column holds; false when there
// is none. For a prefix of UTF-8 that is its last character raised by one
// ("a\x7f" ends at "a\u0080", not at the invalid "a\x80"), skipping the
// surrogates; any bytes at all are taken as a byte prefix.
func prefixEnd(prefix string) (string, bool) {
	end, ok := bytesAfterPrefix(prefix)
	if !ok {
		return "", false
	}
	return textCeil(end)
}

// PutS3Object stores o as the current version of its key, replacing any,
// and returns the object it replaced (replaced false when there was none)
// so the caller can remove its file. ErrNotFound if the bucket does not
// exist; ErrQuota if the account would hold more than lim; ErrInvalid for a
// key no object can have (see checkS3Key).
func (db *DB) PutS3Object(ctx context.Context, o S3Object, lim S3Limits) (old S3Object, replaced bool, err error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return S3Object{}, false, fmt.Errorf("put object %s/%s: %w", o.Bucket, o.Key, err)
	}
	defer tx.Rollback()
	old, replaced, err = db.putS3Object(ctx, tx, o, lim)
	if err != nil {
		return S3Object{}, false, fmt.Errorf("put object %s/%s: %w", o.Bucket, o.Key, err)
	}
	if err := tx.Commit(); err != nil {
		return S3Object{}, false, fmt.Errorf("put object %s/%s: commit: %w", o.Bucket, o.Key, err)
	}
	return old, replaced, nil
}

func (db *DB) putS3Object(ctx context.Context, tx *sql.Tx, o S3Object, lim S3Limits) (S3Object, bool, error) {
	if (o.Data == nil) == (o.File == "") {
		return S3Object{}, false, fmt.Errorf("%w: an object needs exactly one of data and file", ErrInvalid)
	}
	if err := checkS3Key(o.Key); err != nil {
		return S3Object{}, false, err
	}
	if !fitsText(o.Bucket) {
		return S3Object{}, false, fmt.Errorf("bucket %q: %w", o.Bucket, ErrNotFound)
	}
	var exists bool
	st, err := db.s3TxStmt(ctx, tx, "SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE account_id = $1 AND name = $2)")
	if err != nil {
		return S3Object{}, false, err
	}
	if err := st.QueryRowContext(ctx, o.AccountID, o.Bucket).Scan(&exists); err != nil {
		return S3Object{}, false, err
	}
	if !exists {
		return S3Object{}, false, fmt.Errorf("bucket %s: %w", o.Bucket, ErrNotFound)
	}
	old, err := db.s3Object(ctx, tx, o.AccountID, o.Bucket, o.Key, false)
	replaced := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return S3Object{}, false, err
	}
	objects := 1
	if replaced {
		objects = 0
	}
	if err := db.checkS3Quota(ctx, tx, o.AccountID, lim, objects, o.Size-old.Size); err != nil {
		return S3Object{}, false, err
	}
	meta, err := json.Marshal(o.Metadata)
	if err != nil {
		return S3Object{}, false, fmt.Errorf("encode metadata: %w", err)
	}
	var parts, file any
	if o.PartSizes != nil {
		b, _ := json.Marshal(o.PartSizes)
		parts = string(b)
	}
	if o.File != "" {
		file = o.File
	}
	var data any
	if o.Data != nil {
		data = o.Data
	}
	ins, err := db.s3TxStmt(ctx, tx,
		`INSERT INTO s3_objects (account_id, bucket, key, size, etag, metadata, part_sizes, data, file, modified_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		 ON CONFLICT (account_id, bucket, key) DO UPDATE SET
		     size = excluded.size, etag = excluded.etag, metadata = excluded.metadata,
		     part_sizes = excluded.part_sizes, data = excluded.data, file = excluded.file,
		     modified_at = excluded.modified_at`)
	if err != nil {
		return S3Object{}, false, err
	}
	if _, err := ins.ExecContext(ctx, o.AccountID, o.Bucket, o.Key, o.Size, o.ETag, string(meta), parts, data, file, toNanos(o.ModifiedAt)); err != nil {
		return S3Object{}, false, err
	}
	return old, replaced, nil
}

// SetS3ObjectMetadata replaces the object's metadata, leaving its body.
// ErrNotFound if there is no such object.
func (db *DB) SetS3ObjectMetadata(ctx context.Context, accountID, bucket, key string, meta map[string]string) error {
	if err := checkS3Key(key); err != nil {
		return fmt.Errorf("set metadata of an object in %s: %w", bucket, err)
	}
	if !fitsText(bucket) {
		return fmt.Errorf("set metadata of %q/%s: %w", bucket, key, ErrNotFound)
	}
	doc, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("set metadata of %s/%s: %w", bucket, key, err)
	}
	n, err := lambdaAffected(db.conn.ExecContext(ctx,
		"UPDATE s3_objects SET metadata = $4 WHERE account_id = $1 AND bucket = $2 AND key = $3",
		accountID, bucket, key, string(doc)))
	if err != nil {
		return fmt.Errorf("set metadata of %s/%s: %w", bucket, key, err)
	}
	if n == 0 {
		return fmt.Errorf("set metadata of %s/%s: %w", bucket, key, ErrNotFound)
	}
	return nil
}

// DeleteS3Objects deletes the keys that exist in the bucket and returns
// the objects deleted, so the caller can remove their files and tell who
// listens. Keys that do not exist are skipped. ErrNotFound if the bucket
// does not exist; ErrInvalid, deleting nothing, if a key is one no object
// can have (see checkS3Key).
func (db *DB) DeleteS3Objects(ctx context.Context, accountID, bucket string, keys ...string) ([]S3Object, error) {
	for _, key := range keys {
		if err := checkS3Key(key); err != nil {
			return nil, fmt.Errorf("delete objects of %s: %w", bucket, err)
		}
	}
	if !fitsText(bucket) {
		return nil, fmt.Errorf("delete objects of %q: %w", bucket, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete objects of %s: %w", bucket, err)
	}
	defer tx.Rollback()
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE account_id = $1 AND name = $2)",
		accountID, bucket).Scan(&exists); err != nil {
		return nil, fmt.Errorf("delete objects of %s: %w", bucket, err)
	}
	if !exists {
		return nil, fmt.Errorf("delete objects of %s: %w", bucket, ErrNotFound)
	}
	var out []S3Object
	for _, key := range keys {
		o := S3Object{AccountID: accountID, Bucket: bucket, Key: key}
		err := scanS3Object(tx.QueryRowContext(ctx,
			"DELETE FROM s3_objects WHERE account_id = $1 AND bucket = $2 AND key = $3 RETURNING "+s3ObjectColumns,
			accountID, bucket, key), &o)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
		}
		out = append(out, o)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete objects of %s: commit: %w", bucket, err)
	}
	return out, nil
}

// S3Files returns the names of every file an object or part refers to,
// for a sweep of the files nothing refers to any more.
func (db *DB) S3Files(ctx context.Context) (map[string]bool, error) {
	names, err := queryStrings(ctx, db.conn,
		"SELECT file FROM s3_objects WHERE file IS NOT NULL UNION ALL SELECT file FROM s3_parts")
	if err != nil {
		return nil, fmt.Errorf("list s3 files: %w", err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// CreateS3Upload records a new multipart upload. ErrNotFound if the
// bucket does not exist; ErrInvalid for a key no object can have (see
// checkS3Key).
func (db *DB) CreateS3Upload(ctx context.Context, u S3Upload) error {
	if err := checkS3Key(u.Key); err != nil {
		return fmt.Errorf("create upload into %s: %w", u.Bucket, err)
	}
	if err := checkText("upload id", u.ID); err != nil {
		return fmt.Errorf("create upload into %s/%s: %w", u.Bucket, u.Key, err)
	}
	if !fitsText(u.Bucket) {
		return fmt.Errorf("create upload into %q/%s: bucket: %w", u.Bucket, u.Key, ErrNotFound)
	}
	meta, err := json.Marshal(u.Metadata)
	if err != nil {
		return fmt.Errorf("create upload into %s/%s: %w", u.Bucket, u.Key, err)
	}
	_, err = db.conn.ExecContext(ctx,
		"INSERT INTO s3_uploads (upload_id, account_id, bucket, key, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		u.ID, u.AccountID, u.Bucket, u.Key, string(meta), toNanos(u.CreatedAt))
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("create upload into %s/%s: bucket: %w", u.Bucket, u.Key, ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("create upload %s: %w", u.ID, ErrExists)
	case err != nil:
		return fmt.Errorf("create upload into %s/%s: %w", u.Bucket, u.Key, err)
	}
	return nil
}

// S3Upload returns the account's upload with this id or ErrNotFound.
func (db *DB) S3Upload(ctx context.Context, accountID, id string) (S3Upload, error) {
	if !fitsText(id) {
		// Never an upload's id; PostgreSQL would refuse the query.
		return S3Upload{}, fmt.Errorf("upload %q: %w", id, ErrNotFound)
	}
	u := S3Upload{ID: id, AccountID: accountID}
	var (
		meta    string
		created int64
	)
	err := db.conn.QueryRowContext(ctx,
		"SELECT bucket, key, metadata, created_at FROM s3_uploads WHERE upload_id = $1 AND account_id = $2",
		id, accountID).Scan(&u.Bucket, &u.Key, &meta, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return S3Upload{}, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return S3Upload{}, fmt.Errorf("upload %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(meta), &u.Metadata); err != nil {
		return S3Upload{}, fmt.Errorf("upload %s: decode metadata: %w", id, err)
	}
	u.CreatedAt = fromNanos(created)
	return u, nil
}

// PutS3Part stores a part, replacing one of the same number, and returns
// the replaced part's file ("" if none) for the caller to remove.
// ErrNotFound if the upload is gone; ErrQuota if the account would hold
// more bytes than lim allows.
func (db *DB) PutS3Part(ctx context.Context, p S3Part, lim S3Limits) (string, error) {
	if !fitsText(p.UploadID) {
		return "", fmt.Errorf("put part %d of %q: %w", p.Number, p.UploadID, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, err)
	}
	defer tx.Rollback()
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM s3_uploads WHERE upload_id = $1 AND account_id = $2)",
		p.UploadID, p.AccountID).Scan(&exists); err != nil {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, err)
	}
	if !exists {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, ErrNotFound)
	}
	var (
		oldFile string
		oldSize int64
	)
	err = tx.QueryRowContext(ctx, "SELECT file, size FROM s3_parts WHERE upload_id = $1 AND part_number = $2",
		p.UploadID, p.Number).Scan(&oldFile, &oldSize)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, err)
	}
	if err := db.checkS3Quota(ctx, tx, p.AccountID, lim, 0, p.Size-oldSize); err != nil {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO s3_parts (upload_id, part_number, account_id, size, etag, file) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag, file = excluded.file`,
		p.UploadID, p.Number, p.AccountID, p.Size, p.ETag, p.File); err != nil {
		return "", fmt.Errorf("put part %d of %s: %w", p.Number, p.UploadID, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("put part %d of %s: commit: %w", p.Number, p.UploadID, err)
	}
	return oldFile, nil
}

// S3Parts returns the upload's parts by number.
func (db *DB) S3Parts(ctx context.Context, uploadID string) ([]S3Part, error) {
	if !fitsText(uploadID) {
		return nil, nil
	}
	rows, err := db.conn.QueryContext(ctx,
		"SELECT part_number, account_id, size, etag, file FROM s3_parts WHERE upload_id = $1 ORDER BY part_number", uploadID)
	if err != nil {
		return nil, fmt.Errorf("parts of %s: %w", uploadID, err)
	}
	defer rows.Close()
	var out []S3Part
	for rows.Next() {
		p := S3Part{UploadID: uploadID}
		if err := rows.Scan(&p.Number, &p.AccountID, &p.Size, &p.ETag, &p.File); err != nil {
			return nil, fmt.Errorf("parts of %s: %w", uploadID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("parts of %s: %w", uploadID, err)
	}
	return out, nil
}

// DeleteS3Upload deletes the upload and returns its parts' files for the
// caller to remove. ErrNotFound if the account has no such upload.
func (db *DB) DeleteS3Upload(ctx context.Context, accountID, id string) ([]string, error) {
	if !fitsText(id) {
		return nil, fmt.Errorf("delete upload %q: %w", id, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete upload %s: %w", id, err)
	}
	defer tx.Rollback()
	files, err := deleteS3Upload(ctx, tx, accountID, id)
	if err != nil {
		return nil, fmt.Errorf("delete upload %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete upload %s: commit: %w", id, err)
	}
	return files, nil
}

func deleteS3Upload(ctx context.Context, tx *sql.Tx, accountID, id string) ([]string, error) {
	files, err := queryStrings(ctx, tx, "SELECT file FROM s3_parts WHERE upload_id = $1 AND account_id = $2", id, accountID)
	if err != nil {
		return nil, err
	}
	n, err := lambdaAffected(tx.ExecContext(ctx, "DELETE FROM s3_uploads WHERE upload_id = $1 AND account_id = $2", id, accountID))
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrNotFound
	}
	return files, nil
}

// CompleteS3Upload ends the upload by storing o, assembled from its parts,
// in one transaction: the parts go and the object arrives together. It
// returns the object replaced (replaced false if none) and the parts'
// files, for the caller to remove. ErrNotFound if the upload or bucket is
// gone; ErrInvalid as for PutS3Object, and ErrQuota too, counting the
// parts as already held.
func (db *DB) CompleteS3Upload(ctx context.Context, uploadID string, o S3Object, lim S3Limits) (old S3Object, replaced bool, parts []string, err error) {
	if !fitsText(uploadID) {
		return S3Object{}, false, nil, fmt.Errorf("complete upload %q: %w", uploadID, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return S3Object{}, false, nil, fmt.Errorf("complete upload %s: %w", uploadID, err)
	}
	defer tx.Rollback()
	parts, err = deleteS3Upload(ctx, tx, o.AccountID, uploadID)
	if err != nil {
		return S3Object{}, false, nil, fmt.Errorf("complete upload %s: %w", uploadID, err)
	}
	old, replaced, err = db.putS3Object(ctx, tx, o, lim)
	if err != nil {
		return S3Object{}, false, nil, fmt.Errorf("complete upload %s: %w", uploadID, err)
	}
	if err := tx.Commit(); err != nil {
		return S3Object{}, false, nil, fmt.Errorf("complete upload %s: commit: %w", uploadID, err)
	}
	return old, replaced, parts, nil
}

// DeleteAllS3Uploads deletes every unfinished upload of every account and
// returns their parts' files. cloud/s3 calls it at start: the protocol
// library keeps its own list of uploads in memory, so after a restart no
// client can reach these any more.
func (db *DB) DeleteAllS3Uploads(ctx context.Context) ([]string, error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete all uploads: %w", err)
	}
	defer tx.Rollback()
	files, err := queryStrings(ctx, tx, "SELECT file FROM s3_parts")
	if err != nil {
		return nil, fmt.Errorf("delete all uploads: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM s3_uploads"); err != nil {
		return nil, fmt.Errorf("delete all uploads: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete all uploads: commit: %w", err)
	}
	return files, nil
}

func queryStrings(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
