// Package storetest gives tests a real, private PostgreSQL: one server per
// test process, started from the machine's own binaries on a Unix socket in a
// temp folder, and a fresh empty database per test.
//
// It must not import lambdalab/store (store's own tests import it) nor
// database/sql (store is that package's only importer); the admin connection
// is native pgx.
//
// A package that calls PostgresURL should run its tests through Main:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// Without Main the server still dies with the test process (the kernel sends
// it SIGKILL when its parent goes), but its temp folder, a few tens of MB of
// cluster files, is left behind.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Engine is the database engine the tests run on: "postgres" when
// LAMBDALAB_TEST_DATABASE=postgres, "sqlite" when it is unset, empty or
// "sqlite". Any other value panics, so a typo cannot quietly test SQLite.
func Engine() string {
	switch v := os.Getenv("LAMBDALAB_TEST_DATABASE"); v {
	case "", "sqlite":
		return "sqlite"
	case "postgres":
		return "postgres"
	default:
		panic(fmt.Sprintf("LAMBDALAB_TEST_DATABASE=%q: accepted values are postgres and sqlite (the default)", v))
	}
}

// Target is a fresh database for store.Open on the engine the run asks for
// (Engine): a SQLite file named name in a temp folder of t's, or
// PostgresURL(t). Opening it again, from this process or another, reaches
// the same database, as a restarted server would.
func Target(t testing.TB, name string) string {
	t.Helper()
	if Engine() == "postgres" {
		return PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), name)
}

// fix is what to run when the machine has no PostgreSQL.
const fix = "install PostgreSQL's server binaries with scripts/deps.sh postgres"

// superuser is the cluster's superuser, named explicitly at initdb so the
// URL does not depend on which OS user ran it.
const superuser = "postgres"

var (
	mu      sync.Mutex // guards srv, srvErr and srv.admin
	srv     *server
	srvErr  error // why the server could not start; every later call fails the same way
	noBins  bool  // srvErr is "no binaries": skip rather than fail
	counter atomic.Int64
)

// PostgresURL returns the URL of a fresh, empty database made for this test
// and dropped (WITH (FORCE), so leaked connections do not block it) when the
// test's cleanup runs. The URL names a Unix socket folder and trusts the
// superuser: postgres:///NAME?host=DIR&user=postgres&sslmode=disable.
//
// The first call in a process starts the server, which serves every later
// call. Without PostgreSQL binaries the test is skipped, or failed when
// LAMBDALAB_REQUIRE_POSTGRES=1. Safe for parallel tests.
func PostgresURL(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if srv == nil && srvErr == nil {
		srv, srvErr = start()
		if srvErr != nil {
			noBins = errors.Is(srvErr, errNoBinaries)
		}
	}
	if srvErr != nil {
		if noBins && os.Getenv("LAMBDALAB_REQUIRE_POSTGRES") != "1" {
			t.Skipf("%v: %s", srvErr, fix)
		}
		if noBins {
			t.Fatalf("PostgreSQL is required (LAMBDALAB_REQUIRE_POSTGRES=1): %v: %s", srvErr, fix)
		}
		t.Fatalf("start test PostgreSQL: %v", srvErr)
	}

	name := fmt.Sprintf("test_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+srv.createOpts); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if srv == nil {
			return // Main already stopped the server, and the cluster with it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return srv.url(name)
}

// Main runs a package's tests, then stops the server if one was started and
// removes its folder, and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the server if one was started and removes its folder: for a
// TestMain that has more to clean up after m.Run than Main allows.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		}
		srv = nil
	}
}

var errNoBinaries = errors.New("no PostgreSQL server binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin")

// server is one running postgres and the folder holding its cluster and socket.
type server struct {
	dir    string // temp folder: the socket, data/ and server.log
	admin  *pgx.Conn
	exited chan struct{} // closed when postgres has exited
	pid    int
	// createOpts ends CREATE DATABASE. From PostgreSQL 15 the default
	// strategy, WAL_LOG, writes the whole template through the WAL, two to
	// four times slower here than FILE_COPY, whose checkpoints cost little
	// with fsync off. Older servers only copy files and reject the option.
	createOpts string
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres:///%s?host=%s&user=%s&sslmode=disable", db, s.dir, superuser)
}

// exec runs one statement on the admin connection, reconnecting once if the
// connection has gone (a test may have terminated it). Callers hold mu: a
// pgx.Conn serves one statement at a time.
func (s *server) exec(ctx context.Context, sql string) error {
	if s.admin == nil || s.admin.IsClosed() {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err != nil {
			return fmt.Errorf("connect: %w\n%s", err, s.log())
		}
		s.admin = conn
	}
	_, err := s.admin.Exec(ctx, sql)
	return err
}

func (s *server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return "server log:\n" + string(b)
}

// stop shuts postgres down and removes its folder. It sends SIGINT, the
// "fast" shutdown, rather than SIGTERM: SIGTERM is "smart" and waits for
// every client to leave, so one pool a test forgot to close would hold it
// for the whole grace period. SIGKILL follows after 10 s.
func (s *server) stop() error {
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.admin.Close(ctx)
		cancel()
	}
	syscall.Kill(s.pid, syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(s.pid, syscall.SIGKILL)
		<-s.exited
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove test PostgreSQL folder: %w", err)
	}
	return nil
}

// start makes a cluster in a new temp folder and runs postgres on it.
func start() (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tempParent(), "lambdalab-pg-")
	if err != nil {
		return nil, err
	}
	s, err := startIn(dir, bin)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func startIn(dir, bin string) (*server, error) {
	cred, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// C.UTF-8 sorts by code point like C but knows UTF-8 character classes;
	// a system without that locale gets plain C.
	var out []byte
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := exec.Command(filepath.Join(bin, "initdb"),
			"-D", data, "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale="+locale,
			"--no-sync", "--no-instructions")
		cmd.Dir = dir // the OS user postgres may not be able to enter the caller's folder
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		out, err = cmd.CombinedOutput()
		if err == nil {
			break
		}
		os.RemoveAll(data)
	}
	if err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	// Durability is worthless for a cluster deleted at exit; these make
	// CREATE DATABASE and each test's commits cost no disk flushes.
	// max_connections: store opens a pool per test and tests run in parallel.
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-k", dir,
		"-c", "listen_addresses=",
		"-c", "max_connections=300",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "wal_level=minimal",
		"-c", "max_wal_senders=0",
		"-c", "max_wal_size=128MB", // the WAL may sit in memory (tempParent)
		"-c", "min_wal_size=32MB",
		"-c", "autovacuum=off",
		// Shared memory segments in the cluster's folder, not /dev/shm,
		// so that a killed test process leaves nothing outside it.
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "log_checkpoints=off", // FILE_COPY checkpoints at every CREATE DATABASE
	)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}

	s := &server{dir: dir, exited: make(chan struct{})}
	if err := startLocked(cmd, s.exited); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.pid = cmd.Process.Pid

	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			s.admin = conn
			return s, s.chooseCreateOpts()
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("postgres exited (%v)\n%s", cmd.ProcessState, s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("postgres did not accept connections in 20 s: %w\n%s", err, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startLocked starts cmd from a goroutine that keeps its OS thread for the
// child's whole life: Pdeathsig fires when the thread that forked the child
// exits, not the process (go.dev/issue/27505), and the Go runtime may retire
// an unlocked thread. exited is closed once the child has been reaped.
func startLocked(cmd *exec.Cmd, exited chan struct{}) error {
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the child.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	return <-started
}

func (s *server) chooseCreateOpts() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var version int
	if err := s.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		s.stop()
		return fmt.Errorf("server version: %w", err)
	}
	if version >= 150000 {
		s.createOpts = " STRATEGY FILE_COPY"
	}
	return nil
}

// tempParent is where the cluster goes: /dev/shm when it is a tmpfs with
// room, so no write waits for a disk. On a loaded VM's disk each CREATE
// DATABASE took 100 to 700 ms, stalled in the file system's journal; in
// memory it takes 20 ms, and initdb halves. Elsewhere, the temp folder.
func tempParent() string {
	const shm = "/dev/shm"
	var fs syscall.Statfs_t
	if err := syscall.Statfs(shm, &fs); err == nil &&
		fs.Type == 0x01021994 && // TMPFS_MAGIC
		uint64(fs.Bavail)*uint64(fs.Bsize) >= 1<<30 &&
		syscall.Access(shm, 2|1) == nil { // W_OK|X_OK
		return shm
	}
	// The socket path (DIR/.s.PGSQL.5432) must fit in sun_path's 108 bytes.
	if len(os.TempDir()) > 60 {
		return "/tmp"
	}
	return ""
}

// runAs returns the credential to run initdb and postgres with, nil for the
// caller's own. PostgreSQL refuses to run as root, so root hands the folder
// to the OS user postgres (Debian's package makes it) or else nobody. The
// folder's group stays root's, with group access, so the test process
// reaches the socket even without CAP_DAC_OVERRIDE.
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		if u, err = user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("running as root, and neither user postgres nor nobody exists to run PostgreSQL as")
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of %s: %w", u.Username, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of %s: %w", u.Username, err)
	}
	if err := os.Chown(dir, int(uid), os.Getegid()); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// findBinaries returns the folder holding initdb and postgres: initdb's own
// folder when it is on PATH (symlinks followed, so postgres matches its
// version), else the highest version under /usr/lib/postgresql (Debian keeps
// them off PATH). scripts/deps.sh postgres searches the same way.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasServer(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[j], dirs[i]) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", errNoBinaries
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLess orders /usr/lib/postgresql/V/bin by V numerically, so 9.6 < 15 < 16.
func versionLess(a, b string) bool {
	va := strings.Split(filepath.Base(filepath.Dir(a)), ".")
	vb := strings.Split(filepath.Base(filepath.Dir(b)), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		na, ea := strconv.Atoi(va[i])
		nb, eb := strconv.Atoi(vb[i])
		if ea != nil || eb != nil {
			if va[i] != vb[i] {
				return va[i] < vb[i]
			}
			continue
		}
		if na != nb {
			return na < nb
		}
	}
	return len(va) < len(vb)
}

// EndLockSessions ends, as an operator's pg_terminate_backend would, every
// session of the database at url that holds an advisory lock, and returns
// how many it ended: what a lock holder sees when its database restarts.
func EndLockSessions(t testing.TB, url string) int {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("end lock sessions: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if srv == nil {
		t.Fatal("end lock sessions: no test PostgreSQL is running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.exec(ctx, "SELECT 1"); err != nil { // connects the admin session
		t.Fatalf("end lock sessions: %v", err)
	}
	var n int
	if err := srv.admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1`, cfg.Database).Scan(&n); err != nil {
		t.Fatalf("end lock sessions of %s: %v", cfg.Database, err)
	}
	return n
}
