package codepkg

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPutTwiceIsStoredOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	z := buildZip(t, file("index.py", "x = 1\n"), ent{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755})
	first, err := s.Put(ctx, z, MaxUnzipped)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.Dir(first.Sha256)
	before, err := os.Stat(filepath.Join(d, "index.py"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Put(ctx, z, MaxUnzipped)
	if err != nil || second != first {
		t.Fatalf("second Put = %+v, %v, want %+v", second, err, first)
	}
	after, err := os.Stat(filepath.Join(d, "index.py"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("the second Put replaced the extracted files (same file: %v, err %v)", err == nil && os.SameFile(before, after), err)
	}
	if entries, _ := os.ReadDir(s.pkgs); len(entries) != 1 {
		t.Errorf("pkgs holds %d packages, want 1", len(entries))
	}
	assertNoTmp(t, s)
}

func TestPutSameBytesConcurrently(t *testing.T) {
	s := newStore(t)
	var ents []ent
	for i := range 50 {
		ents = append(ents, file(fmt.Sprintf("mod%02d.py", i), strings.Repeat("pass\n", 1000)))
	}
	z := buildZip(t, ents...)
	var wg sync.WaitGroup
	got := make([]Package, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() { got[i], errs[i] = s.Put(context.Background(), z, MaxUnzipped) })
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil || got[i] != got[0] {
			t.Errorf("Put %d = %+v, %v; Put 0 = %+v", i, got[i], errs[i], got[0])
		}
	}
	if entries, _ := os.ReadDir(s.pkgs); len(entries) != 1 {
		t.Errorf("pkgs holds %d packages, want 1", len(entries))
	}
	d, err := s.Dir(got[0].Sha256)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(d); len(entries) != 50 {
		t.Errorf("tree holds %d files, want 50", len(entries))
	}
	assertNoTmp(t, s)
}

// countdownCtx is cancelled once Err has been asked n times, so a test can
// cancel a Put at each point where it checks.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestPutCancelledLeavesNothing(t *testing.T) {
	s := newStore(t)
	var ents []ent
	for i := range 30 {
		ents = append(ents, file(fmt.Sprintf("d%d/f%02d.bin", i%3, i), strings.Repeat(string(rune('a'+i%26)), 150<<10)))
	}
	z := buildZip(t, ents...)
	cancelled := 0
	for n := int64(0); ; n++ {
		ctx := &countdownCtx{Context: context.Background()}
		ctx.left.Store(n)
		_, err := s.Put(ctx, z, MaxUnzipped)
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled after %d checks = %v, want context.Canceled", n, err)
		}
		cancelled++
		assertEmpty(t, s)
		if t.Failed() {
			t.Fatalf("cancelled after %d checks", n)
		}
	}
	if cancelled < len(ents) {
		t.Errorf("only %d cancellation points; the copy loop should check between chunks", cancelled)
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := s.Put(context.Background(), buildZip(t, file("a.py", "a")), MaxUnzipped)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// What a crash mid-put and mid-sweep leave: read-only trees in tmp.
	for _, p := range []string{"tmp/put-123/tree/a/b", "tmp/del-456/pkg/tree/x"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, p, "f"), []byte("half"), 0o444)
		for q := p; q != "tmp"; q = filepath.Dir(q) {
			os.Chmod(filepath.Join(dir, q), 0o555)
		}
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatalf("Open after a crash: %v", err)
	}
	t.Cleanup(func() { s.Close(); removeTree(dir) })
	assertNoTmp(t, s)
	if _, err := s.Dir(pkg.Sha256); err != nil {
		t.Errorf("complete package lost at Open: %v", err)
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	s := newStore(t)
	if s2, err := Open(s.dir); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same directory succeeded; it would delete the first one's puts in progress")
	} else if !errors.Is(err, ErrInUse) {
		t.Errorf("second Open = %v", err)
	}
}

func TestNotFound(t *testing.T) {
	s := newStore(t)
	absent := sha256.Sum256([]byte("never stored"))
	for _, sha := range []string{
		base64.StdEncoding.EncodeToString(absent[:]),
		"", "../../etc/passwd", "pkgs/../lock",
		base64.StdEncoding.EncodeToString(absent[:16]),                       // wrong length
		strings.TrimRight(base64.StdEncoding.EncodeToString(absent[:]), "="), // unpadded
	} {
		if _, err := s.Dir(sha); !errors.Is(err, ErrNotFound) {
			t.Errorf("Dir(%q) = %v, want ErrNotFound", sha, err)
		}
		if _, err := s.Open(sha); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", sha, err)
		}
		if _, err := s.Stat(sha); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", sha, err)
		}
	}
}

func TestRequestTooLarge(t *testing.T) {
	e := RequestTooLarge("UpdateFunctionCode")
	if e.Type != "RequestEntityTooLargeException" || e.Status != 413 ||
		e.Message != "Request must be smaller than 69905067 bytes for the UpdateFunctionCode operation" {
		t.Errorf("RequestTooLarge = %+v", e)
	}
}

// clock is a settable time for Sweep's grace period.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestSweep(t *testing.T) {
	s := newStore(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	s.now = c.now
	ctx := context.Background()
	put := func(name string) Package {
		t.Helper()
		pkg, err := s.Put(ctx, buildZip(t, file(name, name)), MaxUnzipped)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	sweep := func(keep map[string]bool, want int) {
		t.Helper()
		n, err := s.Sweep(ctx, keep)
		if err != nil || n != want {
			t.Errorf("Sweep at +%v = %d, %v, want %d removed", c.now().Sub(t0), n, err, want)
		}
		assertNoTmp(t, s)
	}
	present := func(pkg Package) bool {
		_, err := s.Dir(pkg.Sha256)
		return err == nil
	}
	a, b, cc := put("a"), put("b"), put("c")
	os.Mkdir(filepath.Join(s.pkgs, "not-a-package"), 0o755)

	c.set(t0.Add(30 * time.Minute))
	sweep(map[string]bool{a.Sha256: true}, 0) // b and c are within the grace period

	c.set(t0.Add(2 * time.Hour))
	sweep(map[string]bool{a.Sha256: true, "junk": true, b.Sha256: false}, 2)
	if !present(a) || present(b) || present(cc) {
		t.Errorf("after Sweep: a %v, b %v, c %v; want only a", present(a), present(b), present(cc))
	}
	if _, err := os.Stat(filepath.Join(s.pkgs, "not-a-package")); err != nil {
		t.Errorf("Sweep touched a directory that is not a package: %v", err)
	}

	b = put("b") // stored again after being swept: extracted afresh
	c.set(t0.Add(3 * time.Hour))
	put("a") // renews a's grace
	c.set(t0.Add(3*time.Hour + 30*time.Minute))
	sweep(nil, 1)
	if !present(a) || present(b) {
		t.Errorf("after the second Sweep: a %v, b %v; want a kept by its renewed grace, b removed", present(a), present(b))
	}
}

// TestSweepDuringPuts runs Sweep in a loop while packages are put. With no
// grace, packages vanish as soon as they appear, but never partly: each one
// is either absent or whole. With the grace, nothing a Put returned goes.
func TestSweepDuringPuts(t *testing.T) {
	for _, grace := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint("grace ", grace), func(t *testing.T) {
			s := newStore(t)
			s.grace = grace
			ctx := context.Background()
			var zips [][]byte
			for i := range 40 {
				zips = append(zips, buildZip(t,
					file("index.py", fmt.Sprint("n = ", i)), file("lib/a.py", "a"), file("lib/b.py", "b"), link("l", "lib")))
			}
			want := "index.py 0444 %d\nl -> lib\nlib/ 0555\nlib/a.py 0444 1\nlib/b.py 0444 1"

			stop := make(chan struct{})
			var sweepErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Sweep(ctx, nil); err != nil {
						sweepErr = err
						return
					}
				}
			})
			var pkgs []Package
			for i, z := range zips {
				for range 2 { // the second Put of each takes the cheap path, racing Sweep too
					pkg, err := s.Put(ctx, z, MaxUnzipped)
					if err != nil {
						t.Fatalf("Put %d: %v", i, err)
					}
					if i == len(pkgs) {
						pkgs = append(pkgs, pkg)
					}
				}
			}
			close(stop)
			wg.Wait()
			if sweepErr != nil {
				t.Fatalf("Sweep: %v", sweepErr)
			}
			for i, pkg := range pkgs {
				d, err := s.Dir(pkg.Sha256)
				if errors.Is(err, ErrNotFound) && grace == 0 {
					continue
				}
				if err != nil {
					t.Fatalf("package %d: %v", i, err)
				}
				if got, w := listTree(t, d), fmt.Sprintf(want, len(fmt.Sprint("n = ", i))); got != w {
					t.Errorf("package %d is not whole:\n%s\nwant:\n%s", i, got, w)
				}
				if _, err := s.Stat(pkg.Sha256); err != nil {
					t.Errorf("package %d has a tree but no meta: %v", i, err)
				}
			}
			assertNoTmp(t, s)
		})
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") || name == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
}

func TestPutDirIsDeterministic(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	files := map[string]string{
		"index.py":          "def handler(e, c): pass\n",
		"bootstrap":         "#!/bin/sh\n",
		"lib/x/util.py":     "u = 1\n",
		"lib/x/__init__.py": "",
		"run.sh":            "echo hi\n",
	}
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, files)
	os.Mkdir(filepath.Join(src, "empty"), 0o755)
	os.Symlink("lib/x", filepath.Join(src, "x"))

	first, err := s.PutDir(ctx, src, MaxUnzipped)
	if err != nil {
		t.Fatal(err)
	}
	// Other times, another place: the same bytes.
	later := time.Now().Add(time.Hour)
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		os.Lchown(p, os.Getuid(), os.Getgid())
		if d.Type()&fs.ModeSymlink == 0 {
			os.Chtimes(p, later, later)
		}
		return nil
	})
	copyDir := filepath.Join(t.TempDir(), "elsewhere")
	writeTree(t, copyDir, files)
	os.Mkdir(filepath.Join(copyDir, "empty"), 0o755)
	os.Symlink("lib/x", filepath.Join(copyDir, "x"))
	for _, d := range []string{src, copyDir} {
		again, err := s.PutDir(ctx, d, MaxUnzipped)
		if err != nil || again.Sha256 != first.Sha256 || again.Size != first.Size {
			t.Errorf("PutDir(%s) = %+v, %v, want %+v", d, again, err, first)
		}
	}

	tree, err := s.Dir(first.Sha256)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"bootstrap 0555 10", "empty/ 0555", "index.py 0444 24", "lib/ 0555", "lib/x/ 0555",
		"lib/x/__init__.py 0444 0", "lib/x/util.py 0444 6", "run.sh 0555 8", "x -> lib/x",
	}, "\n")
	if got := listTree(t, tree); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}

	os.WriteFile(filepath.Join(copyDir, "index.py"), []byte("changed"), 0o644)
	if changed, err := s.PutDir(ctx, copyDir, MaxUnzipped); err != nil || changed.Sha256 == first.Sha256 {
		t.Errorf("PutDir after an edit = %+v, %v; want a new sha", changed, err)
	}
}

func TestPutDirRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		budget  int64
		wantMsg string
	}{
		{name: "symlink out of the folder", setup: func(t *testing.T, dir string) {
			os.Symlink("/etc", filepath.Join(dir, "etc"))
		}, wantMsg: `Symlink "etc" points outside the package`},
		{name: "fifo", setup: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, wantMsg: `Archive entry "pipe" is not a regular file, directory or symlink`},
		{name: "over budget", setup: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"a": strings.Repeat("a", 700), "b/c": strings.Repeat("c", 700)})
		}, budget: 1000, wantMsg: "Unzipped size must be smaller than 1000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			dir := t.TempDir()
			tt.setup(t, dir)
			budget := tt.budget
			if budget == 0 {
				budget = MaxUnzipped
			}
			_, err := s.PutDir(context.Background(), dir, budget)
			if e := (*Error)(nil); !errors.As(err, &e) || e.Message != tt.wantMsg {
				t.Errorf("PutDir = %v, want %q", err, tt.wantMsg)
			}
			assertEmpty(t, s)
		})
	}
	s := newStore(t)
	if _, err := s.PutDir(context.Background(), filepath.Join(t.TempDir(), "missing"), MaxUnzipped); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("PutDir of a missing folder = %v, want a platform error", err)
	}
}
