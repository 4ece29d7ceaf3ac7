package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"lambdalab/store/storetest"
)

// TestMain stops the PostgreSQL server of LAMBDALAB_TEST_DATABASE=postgres
// runs when the tests are done.
func TestMain(m *testing.M) { storetest.Main(m) }

// newTestDB opens a fresh, fully migrated database: a file in a temp dir,
// or with LAMBDALAB_TEST_DATABASE=postgres a new PostgreSQL database.
func newTestDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), testTarget(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testTarget is what newTestDB opens, for tests that open it themselves
// (again, or twice).
func testTarget(t testing.TB) string {
	t.Helper()
	return storetest.Target(t, "test.db")
}

// sqliteOnly skips a test of something only a SQLite file has (its file
// modes, pragmas, VACUUM INTO) when the suite runs on PostgreSQL.
func sqliteOnly(t testing.TB, what string) {
	t.Helper()
	if storetest.Engine() != "sqlite" {
		t.Skipf("SQLite only: %s", what)
	}
}

// fakeClock lets a test move time by hand; set it as db.now before use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// schemaVersionOf reads the database's schema version as the store does:
// SQLite's user_version, PostgreSQL's schema_version table.
func schemaVersionOf(t *testing.T, db *DB) int {
	t.Helper()
	v, err := db.schemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tableExists reports whether the store's schema has the table.
func tableExists(t *testing.T, db *DB, name string) bool {
	t.Helper()
	query := "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = $1)"
	if db.dialect == postgresDialect {
		query = `SELECT EXISTS (SELECT 1 FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1)`
	}
	var ok bool
	if err := db.conn.QueryRowContext(context.Background(), query, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// setSchemaVersion writes v as the database's schema version, as a
// lambdalab of that version would have.
func setSchemaVersion(t *testing.T, db *DB, v int) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := db.dialect.setSchemaVersion(ctx, tx, v); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// replaceMigrations stands ms in for both engines' histories until the test
// ends. Tests that call it must not run in parallel.
func replaceMigrations(t *testing.T, ms []migration) {
	t.Helper()
	savedSQLite, savedPostgres := migrations, postgresMigrations
	t.Cleanup(func() { migrations, postgresMigrations = savedSQLite, savedPostgres })
	migrations, postgresMigrations = ms, ms
}

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	if db.dialect == postgresDialect {
		// PostgreSQL has no per-connection settings for Open to make
		// (foreign keys are always on, there is no journal to choose), but
		// the pool must be bounded: every replica keeps its own, and the
		// server's max_connections is shared among them.
		if n := db.conn.Stats().MaxOpenConnections; n <= 0 {
			t.Errorf("pool allows %d open connections; want a bound", n)
		}
	} else {
		checkSQLiteConnections(t, db)
	}
	if got := schemaVersionOf(t, db); got != SchemaVersion() {
		t.Errorf("schema version = %d, want %d", got, SchemaVersion())
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// checkSQLiteConnections checks the pragmas on several connections held at
// once, so that they are checked on more than the one connection Open
// happened to use.
func checkSQLiteConnections(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := db.conn.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		var fk, busy, sync int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 || busy != int(busyTimeout.Milliseconds()) || sync != 1 {
			t.Errorf("connection %d: journal_mode=%s foreign_keys=%d busy_timeout=%d synchronous=%d, want wal 1 %d 1",
				i, mode, fk, busy, sync, busyTimeout.Milliseconds())
		}
	}
}

func TestOpenCreatesDirectoryAndOddPaths(t *testing.T) {
	sqliteOnly(t, "a file's directory and the characters of its path")
	ctx := context.Background()
	// '?', '#' and '%' would be taken as URI syntax if the path were not escaped.
	path := filepath.Join(t.TempDir(), "new dir", "a?b#c%20d", "lab.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	if _, err := db.CreateUser(ctx, "a@example.com", "hash", false); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at %q: %v", path, err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if _, err := db.UserByEmail(ctx, "a@example.com"); err != nil {
		t.Errorf("user lost on reopen: %v", err)
	}
}

func TestOpenRefusesNonDatabaseAndKeepsIt(t *testing.T) {
	sqliteOnly(t, "a file that is not a database")
	path := filepath.Join(t.TempDir(), "notes.db")
	content := []byte(strings.Repeat("these are my notes, not a database\n", 200))
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a text file succeeded, want an error")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != string(content) {
		t.Error("Open changed a file that is not a database")
	}
}

func TestOpenEmptyPath(t *testing.T) {
	_, err := Open(context.Background(), "")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(\"\") = %v, want ErrInvalid", err)
	}
}

func TestEmbeddedMigrationsAreSequential(t *testing.T) {
	for engine, ms := range map[string][]migration{"sqlite": migrations, "postgres": postgresMigrations} {
		if len(ms) < 2 {
			t.Fatalf("%s: want at least 2 migrations, have %d", engine, len(ms))
		}
		for i, m := range ms {
			if m.version != i+1 || strings.TrimSpace(m.sql) == "" {
				t.Errorf("%s migration %d: version %d, %d bytes of SQL", engine, i, m.version, len(m.sql))
			}
		}
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "expected number 0002"},
		{"starts at 2", []string{"0002_b.sql"}, "expected number 0001"},
		{"no description", []string{"0001.sql"}, "NNNN_description.sql"},
		{"short number", []string{"1_a.sql"}, "NNNN_description.sql"},
		{"not a number", []string{"abcd_a.sql"}, "NNNN_description.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["migrations/sqlite/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			_, err := loadMigrations(fsys, "sqlite")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadMigrations(%v) = %v, want error containing %q", tt.files, err, tt.want)
			}
		})
	}
}

// TestMigrateFromOlderSchema upgrades a database as lambdalab left it before
// accounts existed (schema version 2, users but no accounts or keys): Open
// must keep what was there and give every old user an account and a key pair
// that signs.
func TestMigrateFromOlderSchema(t *testing.T) {
	ctx := context.Background()
	path := testTarget(t)
	const older = 2

	old, err := open(ctx, path, older, false)
	if err != nil {
		t.Fatalf("open at version %d: %v", older, err)
	}
	if got := old.dialect.history()[older].name; got != "0003_accounts.sql" {
		t.Fatalf("migration %d is %s; the test upgrades across 0003_accounts.sql", older+1, got)
	}
	if got := schemaVersionOf(t, old); got != older {
		t.Fatalf("schema version = %d, want %d", got, older)
	}
	if tableExists(t, old, "accounts") || tableExists(t, old, "access_keys") {
		t.Fatalf("accounts tables exist at version %d; the test no longer exercises the upgrade", older)
	}
	// Users as a version-2 binary stored them: today's CreateUser would
	// write to tables that do not exist yet.
	type oldUser struct {
		id      int64
		email   string
		account string
		created int64
	}
	olds := []oldUser{
		{email: "early@example.com", account: "100000000001", created: 1_700_000_000_000_000_000},
		{email: "Second@example.com", account: "543210987654", created: 1_700_000_001_000_000_000},
		{email: "third@example.com", account: "999999999999", created: 1_700_000_002_000_000_000},
	}
	for i := range olds {
		u := &olds[i]
		if err := old.conn.QueryRowContext(ctx,
			`INSERT INTO users (email, email_key, password_hash, role, account_id, created_at)
			 VALUES ($1, $2, 'hash', 'student', $3, $4) RETURNING id`,
			u.email, strings.ToLower(u.email), u.account, u.created).Scan(&u.id); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.MarkLessonComplete(ctx, olds[0].id, "intro"); err != nil {
		t.Fatal(err)
	}
	if err := old.InsertInvocation(ctx, sampleInvocation(olds[0].account, "f", time.Now())); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open upgrading from %d: %v", older, err)
	}
	defer db.Close()
	if got := schemaVersionOf(t, db); got != SchemaVersion() {
		t.Errorf("schema version after upgrade = %d, want %d", got, SchemaVersion())
	}
	p, err := db.Progress(ctx, olds[0].id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Completed["intro"]; !ok {
		t.Errorf("progress lost in upgrade: %+v", p)
	}
	if invs, err := db.Invocations(ctx, olds[0].account, "f", time.Time{}); err != nil || len(invs) != 1 {
		t.Errorf("invocations after upgrade: %d, %v; want 1", len(invs), err)
	}

	seen := map[string]bool{}
	for _, u := range olds {
		a, err := db.Account(ctx, u.account)
		if err != nil {
			t.Errorf("%s has no account after upgrade: %v", u.email, err)
			continue
		}
		if want := (Account{ID: u.account, UserID: u.id, CreatedAt: fromNanos(u.created)}); a != want {
			t.Errorf("backfilled account = %+v, want %+v", a, want)
		}
		keys, err := db.AccountKeys(ctx, u.account)
		if err != nil || len(keys) != 1 {
			t.Errorf("%s has keys %v, %v after upgrade; want one pair", u.email, keys, err)
			continue
		}
		k := keys[0]
		checkKeyShape(t, k)
		if seen[k.ID] || seen[k.Secret] {
			t.Errorf("backfilled key %s repeats another user's id or secret", k.ID)
		}
		seen[k.ID], seen[k.Secret] = true, true
		if got, err := db.AccessKey(ctx, k.ID); err != nil || got != k {
			t.Errorf("AccessKey(%s) = %v, %v; want %v", k.ID, got, err, k)
		}
	}

	// The upgraded file works as a new one: rotation, new users, scratch
	// accounts that avoid the old users' ids.
	keys, _ := db.AccountKeys(ctx, olds[1].account)
	k, err := db.RotateAccessKey(ctx, olds[1].account)
	if err != nil || len(keys) != 1 || k.ID == keys[0].ID {
		t.Errorf("RotateAccessKey after upgrade = %v, %v (old %v)", k, err, keys)
	}
	u, err := db.CreateUser(ctx, "later@example.com", "hash", false)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := db.AccountKeys(ctx, u.AccountID); err != nil || len(keys) != 1 {
		t.Errorf("user created after upgrade has keys %v, %v", keys, err)
	}
	if _, _, err := db.CreateScratchAccount(ctx); err != nil {
		t.Errorf("CreateScratchAccount after upgrade: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := testTarget(t)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	future := SchemaVersion() + 3
	setSchemaVersion(t, db, future)
	d := db.dialect
	db.Close()

	db, err = Open(ctx, path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer database succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{fmt.Sprint(future), fmt.Sprint(SchemaVersion()), "newer lambdalab"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The refused database must be left exactly as the newer binary wrote
	// it; read without the store, which would refuse it again.
	driver := "sqlite"
	if d == postgresDialect {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	v, err := d.schemaVersion(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if v != future {
		t.Errorf("refused database now has schema version %d, want %d untouched", v, future)
	}
}

// TestFailedMigrationRollsBack swaps in a migration set whose second file
// fails halfway: nothing of it may remain and the version must stay at 1.
// Not parallel: it replaces the package's migration list.
func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	broken := []migration{
		{version: 1, name: "0001_a.sql", sql: "CREATE TABLE a (x INTEGER);"},
		{version: 2, name: "0002_b.sql", sql: "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1); THIS IS NOT SQL;"},
	}
	replaceMigrations(t, broken)
	path := testTarget(t)
	db, err := open(ctx, path, len(broken), false)
	if err == nil {
		db.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("Open = %v, want an error naming 0002_b.sql", err)
	}
	replaceMigrations(t, broken[:1])
	db, err = open(ctx, path, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := schemaVersionOf(t, db); got != 1 {
		t.Errorf("schema version = %d after failed migration 2, want 1", got)
	}
	var rowsA int
	if err := db.conn.QueryRowContext(ctx, "SELECT count(*) FROM a").Scan(&rowsA); err != nil {
		t.Fatal(err)
	}
	if b := tableExists(t, db, "b"); b || rowsA != 0 {
		t.Errorf("failed migration left table b: %v, rows in a: %d; want neither", b, rowsA)
	}
}

// TestConcurrentOpenOfNewFile opens a new database from several goroutines
// at once, as processes (or replicas) starting together would: they migrate
// it once between them, and every one opens it.
func TestConcurrentOpenOfNewFile(t *testing.T) {
	ctx := context.Background()
	path := testTarget(t)
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctx, path)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		if got := schemaVersionOf(t, dbs[i]); got != SchemaVersion() {
			t.Errorf("Open %d: schema version %d, want %d", i, got, SchemaVersion())
		}
		dbs[i].Close()
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "keep@example.com", "hash", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MarkLessonComplete(ctx, u.ID, "lambda-basics"); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backups", "copy.db")
	if db.dialect == postgresDialect {
		// A PostgreSQL database is the operator's to back up, with the
		// server's own tools: Backup says so and writes nothing.
		err := db.Backup(ctx, dst)
		want := "back up database " + db.path + ": PostgreSQL is backed up with pg_dump, not by lambdalab"
		if err == nil || err.Error() != want {
			t.Errorf("Backup on PostgreSQL = %v, want %q", err, want)
		}
		if _, err := os.Lstat(filepath.Dir(dst)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Backup on PostgreSQL touched %s: %v", filepath.Dir(dst), err)
		}
		return
	}
	if err := db.Backup(ctx, dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// The source keeps working after the backup.
	if _, err := db.CreateUser(ctx, "later@example.com", "hash", false); err != nil {
		t.Fatal(err)
	}

	cp, err := Open(ctx, dst)
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer cp.Close()
	got, err := cp.UserByEmail(ctx, "keep@example.com")
	if err != nil {
		t.Fatalf("user missing from backup: %v", err)
	}
	if got.AccountID != u.AccountID {
		t.Errorf("backup account id %s, want %s", got.AccountID, u.AccountID)
	}
	p, err := cp.Progress(ctx, u.ID)
	if err != nil || p.Completed["lambda-basics"].IsZero() {
		t.Errorf("backup progress = %+v, %v; want lambda-basics complete", p, err)
	}
	if _, err := cp.UserByEmail(ctx, "later@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user created after the backup is in it: %v", err)
	}

	// An existing file is never overwritten.
	if err := db.Backup(ctx, dst); !errors.Is(err, os.ErrExist) {
		t.Errorf("Backup over an existing file = %v, want os.ErrExist", err)
	}
}

func TestNewDatabaseIsPrivate(t *testing.T) {
	sqliteOnly(t, "file modes")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db, err := Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateUser(ctx, "a@example.com", "h", false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "lambdalab.db", "lambdalab.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want no access for group or others", filepath.Join(dir, name), fi.Mode().Perm())
		}
	}
}

// TestBackupWhileWriting takes a backup while invocations are being written,
// as a self-hoster would on a live server: the copy must be whole and open.
func TestBackupWhileWriting(t *testing.T) {
	sqliteOnly(t, "VACUUM INTO (Backup refuses a PostgreSQL database, see TestBackup)")
	ctx := context.Background()
	db := newTestDB(t)
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := db.InsertInvocation(ctx, sampleInvocation("1", "f", start.Add(time.Duration(i)))); err != nil {
				done <- err
				return
			}
		}
	}()
	// '?' and '#' in the name: VACUUM INTO must take it as a plain file name.
	dst := filepath.Join(t.TempDir(), "back?up#1.db")
	time.Sleep(20 * time.Millisecond) // let some writes land first; not an assertion on timing
	err := db.Backup(ctx, dst)
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil {
		t.Fatalf("Backup during writes: %v", err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() == 0 {
		t.Fatalf("backup not written at %q: %v", dst, err)
	}
	cp, err := Open(ctx, dst)
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer cp.Close()
	var check string
	if err := cp.conn.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of backup = %q, %v", check, err)
	}
	inBackup, err := cp.Invocations(ctx, "1", "f", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	inLive, err := db.Invocations(ctx, "1", "f", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inBackup) > len(inLive) {
		t.Errorf("backup has %d invocations, live has %d", len(inBackup), len(inLive))
	}
	t.Logf("backup holds %d of %d invocations", len(inBackup), len(inLive))
}
