package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFS holds the schema history, one file per change, named
// NNNN_what.sql and numbered from 0001 without gaps. A shipped file is never
// edited: a change is a new file.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// sqliteMigrations and postgresMigrations are the embedded histories, in
// order; m[i].version == i+1. A database's schema version is the number of
// migrations applied to it (see dialect.schemaVersion).
var (
	sqliteMigrations   = mustLoadMigrations(migrationFS, "sqlite")
	postgresMigrations = mustLoadMigrations(migrationFS, "postgres")
)

// migrations is the SQLite history (tests replace it); both have the same
// length.
var migrations = sqliteMigrations

// mustLoadMigrations panics on a malformed set because it is embedded at build
// time: a bad name is a programming error caught by any test of this package.
func mustLoadMigrations(fsys fs.FS, engine string) []migration {
	ms, err := loadMigrations(fsys, engine)
	if err != nil {
		panic(err)
	}
	return ms
}

func loadMigrations(fsys fs.FS, engine string) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/"+engine+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	ms := make([]migration, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		if v != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %04d (numbers start at 1 with no gaps)", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary writes: the number of
// embedded migrations.
func SchemaVersion() int { return len(migrations) }

// migrate brings the database up to schema version target, one transaction
// per migration so a failure leaves the database at the last good version.
func (db *DB) migrate(ctx context.Context, target int) error {
	unlock, err := db.dialect.prepareMigrations(ctx, db.conn)
	if err != nil {
		return err
	}
	defer unlock()
	current, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	ms := db.dialect.history()
	if current > len(ms) {
		return fmt.Errorf("%w: the database has schema version %d and this lambdalab knows up to version %d; run a newer lambdalab or restore a backup",
			ErrNewerSchema, current, len(ms))
	}
	for _, m := range ms[:target] {
		if m.version <= current {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) schemaVersion(ctx context.Context) (int, error) {
	return db.dialect.schemaVersion(ctx, db.conn)
}

func (db *DB) apply(ctx context.Context, m migration) error {
	// On SQLite the transaction takes the write lock at BEGIN (immediate
	// mode), so two processes opening the same new file cannot both apply a
	// migration: the second waits, then sees the raised version and skips
	// it. On PostgreSQL the migration lock does the same.
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	current, err := db.dialect.schemaVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	if current >= m.version {
		return nil
	}
	if current != m.version-1 {
		return fmt.Errorf("apply migration %s: database is at version %d, expected %d", m.name, current, m.version-1)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	if err := db.dialect.setSchemaVersion(ctx, tx, m.version); err != nil {
		return fmt.Errorf("apply migration %s: set schema version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply migration %s: commit: %w", m.name, err)
	}
	return nil
}
