// Package store keeps lambdalab's state in one SQLite file: users, sessions,
// course progress, emulated AWS accounts and their access keys, and
// invocation records. It is the only package that imports database/sql;
// callers get plain Go values and the sentinel errors below. It imports no
// other lambdalab package.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var (
	// ErrNotFound means the row asked for does not exist. An expired session
	// is reported as not found too.
	ErrNotFound = errors.New("not found")
	// ErrEmailTaken means another user already has this email, compared
	// case-insensitively.
	ErrEmailTaken = errors.New("email already registered")
	// ErrNewerSchema is returned by Open when the file was written by a newer
	// lambdalab than this one; the wrapping error names both versions.
	ErrNewerSchema = errors.New("database was written by a newer lambdalab")
	// ErrInvalid means an argument was rejected before touching the database
	// (an empty lesson slug, a malformed email, a negative score).
	ErrInvalid = errors.New("invalid input")
	// ErrExists means a row with this key already exists (a function, alias
	// or policy statement of that name).
	ErrExists = errors.New("already exists")
	// ErrInUse means the row cannot be deleted while something refers to it
	// (a function version an alias routes to); the wrapping error names what.
	ErrInUse = errors.New("in use")
	// ErrPrecondition means a write was refused because the row is no longer
	// as the caller last saw it (a RevisionId that does not match).
	ErrPrecondition = errors.New("precondition failed")
)

// busyTimeout is how long a connection waits for another writer before
// giving up with SQLITE_BUSY. Writes here are short, so five seconds only
// runs out when something is badly wrong.
const busyTimeout = 5 * time.Second

// DB is lambdalab's SQLite database. It is safe for concurrent use.
type DB struct {
	conn *sql.DB
	// path is the SQLite file, or the PostgreSQL URL with any password hidden.
	path    string
	dialect *dialect
	// now is the clock for timestamps and session expiry; tests replace it.
	now func() time.Time
	// Statements on hot paths (every request, every invoke), prepared once:
	// parsing the SQL each time costs about as much as running it.
	sessionUserStmt, insertInvocationStmt, accessKeyStmt *sql.Stmt
	// Every invoke resolves a version (and maybe an alias) first.
	lambdaVersionStmt, lambdaAliasStmt *sql.Stmt
}

// Open opens (creating if needed) the database at path, creating its parent
// directory, and applies any migrations this binary has that the file lacks.
// A file written by a newer lambdalab is refused with ErrNewerSchema.
//
// path may instead be a postgres:// or postgresql:// URL: the same store then
// runs on that PostgreSQL database (see dialect).
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, len(migrations), true)
}

// open is Open with a cap on the schema version it migrates to, so tests can
// build a database as an older binary would have left it. prepare=false
// skips preparing the hot statements, which need the latest tables.
func open(ctx context.Context, path string, target int, prepare bool) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("open database: %w: empty path", ErrInvalid)
	}
	if IsPostgresURL(path) {
		return openPostgres(ctx, path, target, prepare)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// The file holds password hashes and session hashes: keep the directory private.
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: create directory: %w", path, err)
	}
	// SQLite gives the -wal and -shm files the main file's mode, so creating
	// the file first makes all three private whatever the umask.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	conn, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Readers run in parallel under WAL; keep enough idle connections that a
	// busy server does not reopen (and re-run the pragmas) on every request.
	conn.SetMaxIdleConns(8)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{conn: conn, path: abs, dialect: sqliteDialect, now: time.Now}
	if err := db.init(ctx, target, prepare); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// dsn builds a URI so that any character in the path ('?', '#', '%') reaches
// SQLite intact. The pragmas run on every new pooled connection:
//   - busy_timeout lets concurrent writers wait instead of failing;
//   - foreign_keys is per connection in SQLite and off by default;
//   - WAL lets readers proceed while one writer writes;
//   - synchronous NORMAL is durable across application crashes in WAL mode
//     and avoids an fsync per commit;
//   - _txlock=immediate takes the write lock at BEGIN, so a transaction that
//     reads then writes never fails mid-way with SQLITE_BUSY (busy_timeout
//     cannot help with a deferred transaction's lock upgrade).
func dsn(abs string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	return u.String()
}

func (db *DB) init(ctx context.Context, target int, prepare bool) error {
	var mode string
	if err := db.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, not wal (is the file on a file system without shared memory?)", mode)
	}
	var fk int
	if err := db.conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("foreign keys could not be enabled")
	}
	if err := db.migrate(ctx, target); err != nil {
		return err
	}
	if !prepare {
		return nil
	}
	return db.prepare(ctx)
}

func (db *DB) prepare(ctx context.Context) error {
	var err error
	if db.sessionUserStmt, err = db.conn.PrepareContext(ctx, sessionUserQuery); err != nil {
		return fmt.Errorf("prepare session lookup: %w", err)
	}
	if db.insertInvocationStmt, err = db.conn.PrepareContext(ctx, insertInvocationQuery); err != nil {
		return fmt.Errorf("prepare invocation insert: %w", err)
	}
	if db.accessKeyStmt, err = db.conn.PrepareContext(ctx, accessKeyQuery); err != nil {
		return fmt.Errorf("prepare access key lookup: %w", err)
	}
	if db.lambdaVersionStmt, err = db.conn.PrepareContext(ctx, lambdaVersionQuery); err != nil {
		return fmt.Errorf("prepare function version lookup: %w", err)
	}
	if db.lambdaAliasStmt, err = db.conn.PrepareContext(ctx, lambdaAliasQuery); err != nil {
		return fmt.Errorf("prepare alias lookup: %w", err)
	}
	return nil
}

// exec runs query through st when it was prepared, else directly.
func (db *DB) exec(ctx context.Context, st *sql.Stmt, query string, args ...any) (sql.Result, error) {
	if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.conn.ExecContext(ctx, query, args...)
}

// queryRow runs query through st when it was prepared, else directly.
func (db *DB) queryRow(ctx context.Context, st *sql.Stmt, query string, args ...any) *sql.Row {
	if st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.conn.QueryRowContext(ctx, query, args...)
}

// Close closes the database. Call it once, after the last use.
func (db *DB) Close() error {
	for _, st := range []*sql.Stmt{db.sessionUserStmt, db.insertInvocationStmt, db.accessKeyStmt, db.lambdaVersionStmt, db.lambdaAliasStmt} {
		if st != nil {
			st.Close()
		}
	}
	if err := db.conn.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// Ping reports whether the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database %s: %w", db.path, err)
	}
	return nil
}

// Backup writes a consistent, compacted copy of the database to path while
// the database stays in use. path must not exist yet; its directory is
// created.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect == postgresDialect {
		return fmt.Errorf("back up database %s: PostgreSQL is backed up with pg_dump, not by lambdalab", db.path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("back up database to %s: %w", path, err)
	}
	if _, err := os.Lstat(abs); err == nil {
		return fmt.Errorf("back up database to %s: %w", path, os.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("back up database to %s: create directory: %w", path, err)
	}
	if _, err := db.conn.ExecContext(ctx, "VACUUM INTO $1", abs); err != nil {
		return fmt.Errorf("back up database to %s: %w", path, err)
	}
	return nil
}

// Times are stored as Unix nanoseconds; zero time is stored as 0 and read back
// as the zero time.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
