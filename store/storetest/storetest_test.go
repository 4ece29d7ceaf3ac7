package storetest

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect %s: %v", u, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	return strings.TrimPrefix(p.Path, "/")
}

func TestDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	urlA, urlB := PostgresURL(t), PostgresURL(t)
	if dbName(t, urlA) == dbName(t, urlB) {
		t.Fatalf("two calls gave the same database: %s and %s", urlA, urlB)
	}
	a, b := connect(t, urlA), connect(t, urlB)

	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "INSERT INTO only_in_a (id) VALUES ($1)", 7); err != nil {
		t.Fatal(err)
	}
	var inA, inB bool
	const exists = "SELECT to_regclass('only_in_a') IS NOT NULL"
	if err := a.QueryRow(ctx, exists).Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, exists).Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if !inA || inB {
		t.Errorf("table only_in_a: in %s %v, in %s %v; want true, false", dbName(t, urlA), inA, dbName(t, urlB), inB)
	}

	// Fresh means empty: no tables beyond the catalogs.
	var tables int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("fresh database %s has %d public tables, want 0", dbName(t, urlB), tables)
	}
}

func TestDatabaseDroppedAfterCleanup(t *testing.T) {
	var name string
	t.Run("uses a database", func(t *testing.T) {
		u := PostgresURL(t)
		name = dbName(t, u)
		// An open connection at cleanup time must not stop the drop.
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn // left open on purpose
	})

	admin := connect(t, PostgresURL(t))
	var n int
	if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s is still in pg_database after its test's cleanup", name)
	}
}

func TestParallelDatabases(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			u := PostgresURL(t)
			conn := connect(t, u)
			var got string
			if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != dbName(t, u) {
				t.Errorf("connected to %s, URL names %s", got, dbName(t, u))
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[got] {
				t.Errorf("database %s handed out twice", got)
			}
			seen[got] = true
		})
	}
}

func TestEngine(t *testing.T) {
	tests := []struct {
		name, env string
		unset     bool
		want      string // empty: must panic
	}{
		{name: "unset", unset: true, want: "sqlite"},
		{name: "sqlite", env: "sqlite", want: "sqlite"},
		{name: "postgres", env: "postgres", want: "postgres"},
		{name: "other", env: "mysql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LAMBDALAB_TEST_DATABASE", tt.env) // restores the caller's value afterwards
			if tt.unset {
				os.Unsetenv("LAMBDALAB_TEST_DATABASE")
			}
			defer func() {
				r := recover()
				if tt.want != "" && r != nil {
					t.Errorf("Engine() with %q panicked: %v", tt.env, r)
				}
				if tt.want == "" {
					msg, _ := r.(string)
					if !strings.Contains(msg, "postgres") || !strings.Contains(msg, "sqlite") {
						t.Errorf("Engine() with %q: panic %v, want one naming postgres and sqlite", tt.env, r)
					}
				}
			}()
			if got := Engine(); got != tt.want {
				t.Errorf("Engine() with %q = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

// TestServerDiesWithProcess kills a test process that started a server
// without reaching Main, as a crash or a go test timeout would, and checks
// the server goes too.
func TestServerDiesWithProcess(t *testing.T) {
	if os.Getenv("STORETEST_HELPER") == "1" {
		PostgresURL(t)
		fmt.Printf("server %d %s\n", srv.pid, srv.dir)
		select {} // until killed
	}
	PostgresURL(t) // skips here when the machine has no PostgreSQL

	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithProcess$", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), "STORETEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "server %d %s", &pid, &dir); err == nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper test process did not report its server")
	}
	// Without Main the folder stays behind; this test removes it.
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !strings.HasPrefix(filepath.Base(dir), "lambdalab-pg-") {
		t.Fatalf("helper reported folder %q", dir)
	}

	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postgres %d still runs 10 s after its test process was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs; a zombie (dead, not yet reaped by an init
// that may never reap) counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// BenchmarkCreateDrop is what each PostgresURL costs a test once the server
// runs: one CREATE DATABASE now and one DROP at cleanup.
func BenchmarkCreateDrop(b *testing.B) {
	PostgresURL(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		name := pgx.Identifier{fmt.Sprintf("bench_%d_%d", os.Getpid(), i)}.Sanitize()
		mu.Lock()
		err := srv.exec(ctx, "CREATE DATABASE "+name+srv.createOpts)
		if err == nil {
			err = srv.exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		}
		mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart is what the first PostgresURL in a process costs: initdb,
// then postgres up and accepting connections (and its shutdown).
func BenchmarkStart(b *testing.B) {
	if _, err := findBinaries(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		s, err := start()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.stop(); err != nil {
			b.Fatal(err)
		}
	}
}
