package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The store's queries are written once, with $N placeholders, and run on
// both engines. What cannot be written once sits here: how the schema
// version is kept, how a write transaction excludes other writers, and how
// a constraint violation is recognised.
//
// SQLite lets one writer in at a time (transactions begin IMMEDIATE), and
// the store's transactions are written for that: many read, decide and
// write. PostgreSQL runs them with the same guarantee: every read-write
// transaction first takes one transaction-scoped advisory lock, so writers
// still go one at a time (across every replica on the database) while
// readers never wait. Read-only transactions run at REPEATABLE READ, the
// one snapshot a SQLite read transaction sees. A single statement outside a
// transaction takes no lock, so one that reads then writes must be atomic
// on its own under READ COMMITTED (or use db.begin).
type dialect struct {
	name string // "sqlite" or "postgres"
}

var (
	sqliteDialect   = &dialect{name: "sqlite"}
	postgresDialect = &dialect{name: "postgres"}
)

// history is this engine's schema history; the two folders hold the same
// names (TestMigrationFoldersMatch). It is read through the package
// variables so that tests can stand in a history of their own.
func (d *dialect) history() []migration {
	if d == postgresDialect {
		return postgresMigrations
	}
	return migrations
}

// writeLockKey is the advisory lock every PostgreSQL write transaction takes:
// any fixed 64-bit number, spelling "lambdalb" in ASCII so that it is
// recognisable in pg_locks.
const writeLockKey = 0x6c616d6264616c62

// migrationLockKey serialises migrations of one PostgreSQL database when
// several replicas start at once.
const migrationLockKey = writeLockKey + 1

// IsPostgresURL reports whether target names a PostgreSQL database rather
// than a SQLite file.
func IsPostgresURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// Engine says which engine db runs on: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.dialect.name }

// begin starts a transaction as the engine needs it to behave like SQLite's
// (see dialect). opts may be nil.
func (db *DB) begin(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if db.dialect != postgresDialect {
		return db.conn.BeginTx(ctx, opts)
	}
	if opts != nil && opts.ReadOnly {
		return db.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	}
	tx, err := db.conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(writeLockKey)); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("take the write lock: %w", err)
	}
	return tx, nil
}

// openPostgres opens the PostgreSQL database at rawURL.
func openPostgres(ctx context.Context, rawURL string, target int, prepare bool) (*DB, error) {
	shown := RedactTarget(rawURL)
	conn, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	// Every replica keeps its own pool; a server's default of 100
	// connections then serves several replicas with room for psql.
	conn.SetMaxOpenConns(24)
	conn.SetMaxIdleConns(8)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	db := &DB{conn: conn, path: shown, dialect: postgresDialect, now: time.Now}
	if err := db.migrate(ctx, target); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	if prepare {
		if err := db.prepare(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("open database %s: %w", shown, err)
		}
	}
	return db, nil
}

// RedactTarget returns a database target fit for logs and messages: a URL
// with any password hidden (in the user info or a password query
// parameter), a SQLite path unchanged.
func RedactTarget(target string) string {
	if !strings.Contains(target, "://") {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "(unparsable database URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// flag is a bool as its 0/1 BIGINT column holds it: pgx will not encode a
// Go bool as an integer (SQLite's driver does). Scanning 0/1 back into a
// bool works on both.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// schemaVersion reads the number of migrations applied.
func (d *dialect) schemaVersion(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var v int
	var err error
	if d == postgresDialect {
		err = q.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&v)
	} else {
		err = q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// setSchemaVersion records that migration v is applied, inside its
// transaction.
func (d *dialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	var err error
	if d == postgresDialect {
		_, err = tx.ExecContext(ctx, "UPDATE schema_version SET version = $1", v)
	} else {
		// PRAGMA takes no placeholders; the version is an int from our own table.
		_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
	}
	return err
}

// prepareMigrations readies the database for migrating: on PostgreSQL the
// one-row version table (which migrations cannot create, as reading the
// version comes first) and a session lock held until unlock, so that two
// replicas starting together migrate one after the other.
func (d *dialect) prepareMigrations(ctx context.Context, db *sql.DB) (unlock func(), err error) {
	if d != postgresDialect {
		return func() {}, nil
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
		c.Close()
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	unlock = func() {
		c.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
		c.Close()
	}
	_, err = c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
		version BIGINT  NOT NULL)`)
	if err == nil {
		_, err = c.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES (0) ON CONFLICT (one) DO NOTHING")
	}
	if err != nil {
		unlock()
		return nil, fmt.Errorf("create the schema version table: %w", err)
	}
	return unlock, nil
}

// sqliteCode returns SQLite's extended result code carried by err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// pgCode returns the SQLSTATE carried by a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503"
}

func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || pgCode(err) == "23505"
}
