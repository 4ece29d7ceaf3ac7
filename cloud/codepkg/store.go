package codepkg

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"lambdalab/facts"
)

// Lambda's package limits (reference/lambda-behaviour.md §7, §12).
const (
	// MaxZipped is the largest zip accepted, in bytes: Lambda's 50 MB for
	// a zip uploaded directly in the request (52,428,800 bytes).
	MaxZipped = facts.MaxZipped
	// MaxUnzipped is how many bytes a function and all its layers may take
	// unzipped: 262,144,000, the figure in Lambda's "Unzipped size must be
	// smaller than 262144000 bytes".
	MaxUnzipped = facts.MaxUnzipped
	// MaxRequest is the largest CreateFunction, UpdateFunctionCode or
	// PublishLayerVersion body Lambda takes: MaxZipped in base64, as quoted
	// in its "Request must be smaller than 69905067 bytes" refusals.
	MaxRequest = 69905067
)

// SweepGrace is how long a package is safe from Sweep after a Put of it
// (first or repeated) returns. A caller must record the sha it got from Put
// in what it later passes as Sweep's keep within this time.
const SweepGrace = time.Hour

// Store is a directory of deployment packages, addressed by the SHA-256 of
// their zip bytes. It is safe for concurrent use; only one process may have
// a store directory open (Open locks it).
//
// Layout under the directory:
//
//	lock                      held (flock) while the store is open
//	pkgs/<hex sha>/code.zip   the zip as uploaded, 0444
//	pkgs/<hex sha>/meta.json  the Package, 0444
//	pkgs/<hex sha>/tree/      the extracted tree, read-only
//	tmp/                      puts and sweeps in progress
//
// A package is built in tmp, flushed to disk and renamed into pkgs in one
// step, so pkgs only ever holds complete packages: a crash leaves at most
// something in tmp, which Open removes.
type Store struct {
	dir, pkgs, tmp string
	lockFile       *os.File

	// locks serialise work on one sha (striped by its first byte): two puts
	// of the same bytes extract once, and Sweep cannot remove a package
	// while a Put of it is deciding that it exists.
	locks [256]chan struct{}

	grace         time.Duration
	now           func() time.Time
	checkDeclared bool // refuse early on declared sizes; tests turn it off to exercise the byte counter
}

// Package describes a stored deployment package.
type Package struct {
	Sha256       string // base64 of the SHA-256 of the zip bytes: Lambda's CodeSha256
	Size         int64  // zip bytes: Lambda's CodeSize
	UnzippedSize int64  // sum of regular file sizes after extraction
}

// Open opens the store in dir, creating it if needed, and removes what
// interrupted puts and sweeps left behind.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open package store %s: %w", dir, err)
	}
	s := &Store{
		dir:           abs,
		pkgs:          filepath.Join(abs, "pkgs"),
		tmp:           filepath.Join(abs, "tmp"),
		grace:         SweepGrace,
		now:           time.Now,
		checkDeclared: true,
	}
	for _, d := range []string{s.dir, s.pkgs, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open package store %s: %w", abs, err)
		}
	}
	// Cleaning tmp would destroy another process's put in progress, so a
	// second process must not open the same store.
	f, err := os.OpenFile(filepath.Join(abs, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open package store %s: %w", abs, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("package store %s: %w (%v)", abs, ErrInUse, err)
	}
	s.lockFile = f
	leftovers, err := os.ReadDir(s.tmp)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open package store %s: %w", abs, err)
	}
	for _, e := range leftovers {
		if err := removeTree(filepath.Join(s.tmp, e.Name())); err != nil {
			s.Close()
			return nil, fmt.Errorf("open package store %s: remove leftover %s: %w", abs, e.Name(), err)
		}
	}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s, nil
}

// Close releases the store's directory lock. The Store must not be used
// afterwards.
func (s *Store) Close() error {
	return s.lockFile.Close() // closing the descriptor drops the flock
}

// Put checks and stores one zip and returns its Package. budget is how many
// unzipped bytes the package may take: MaxUnzipped minus what the
// function's layers already take, or MaxUnzipped for a layer; it is clamped
// to 0..MaxUnzipped. Zips over budget are refused with Lambda's
// unzipped-size message, which names budget.
//
// Storing bytes that are already stored extracts nothing: it checks the
// stored size against budget and renews the package's SweepGrace.
//
// Refusals of the zip are *Error; other errors are the platform's. A
// failed or cancelled Put leaves nothing behind.
func (s *Store) Put(ctx context.Context, zip []byte, budget int64) (Package, error) {
	if len(zip) > MaxZipped {
		return Package{}, errZippedSize()
	}
	budget = min(max(budget, 0), MaxUnzipped)
	sum := sha256.Sum256(zip)
	key := hex.EncodeToString(sum[:])
	if err := s.lock(ctx, sum[0]); err != nil {
		return Package{}, err
	}
	defer s.unlock(sum[0])

	pkg, err := s.stat(key)
	switch {
	case err == nil:
		if pkg.UnzippedSize > budget {
			return Package{}, errUnzippedSize(budget)
		}
		if err := s.touch(key); err != nil {
			return Package{}, fmt.Errorf("put package %s: %w", pkg.Sha256, err)
		}
		return pkg, nil
	case !errors.Is(err, ErrNotFound):
		return Package{}, err
	}

	pkg = Package{Sha256: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(zip))}
	pkg.UnzippedSize, err = s.build(ctx, zip, budget, key, pkg)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			return Package{}, e
		}
		return Package{}, fmt.Errorf("put package %s: %w", pkg.Sha256, err)
	}
	return pkg, nil
}

// build extracts zip in a fresh directory under tmp and moves it into
// place. It returns the unzipped size.
func (s *Store) build(ctx context.Context, zip []byte, budget int64, key string, pkg Package) (int64, error) {
	zr, err := openZip(zip)
	if err != nil {
		return 0, err
	}
	p, err := planArchive(ctx, zr.File)
	if err != nil {
		return 0, err
	}
	if s.checkDeclared && p.declared > uint64(budget) {
		// The entries cannot all inflate to what they declare within
		// budget without failing, so refuse before writing anything.
		return 0, errUnzippedSize(budget)
	}

	work, err := os.MkdirTemp(s.tmp, "put-")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			removeTree(work) // best effort: Open retries what is left
		}
	}()
	if err := os.Chmod(work, 0o755); err != nil {
		return 0, err
	}
	size, err := extract(ctx, p, filepath.Join(work, "tree"), budget)
	if errors.Is(err, errOverBudget) {
		return 0, errUnzippedSize(budget)
	}
	if err != nil {
		return 0, err
	}
	pkg.UnzippedSize = size
	meta, err := json.Marshal(pkg)
	if err != nil {
		return 0, err
	}
	if err := writeSync(filepath.Join(work, "code.zip"), zip); err != nil {
		return 0, err
	}
	if err := writeSync(filepath.Join(work, "meta.json"), meta); err != nil {
		return 0, err
	}
	if err := syncDir(work); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The point of no return: after the rename the package is visible and
	// complete.
	if err := os.Rename(work, filepath.Join(s.pkgs, key)); err != nil {
		return 0, err
	}
	done = true
	if err := syncDir(s.pkgs); err != nil {
		return 0, err
	}
	return size, s.touch(key)
}

// Dir returns the absolute path of the extracted tree of package sha, for
// read-only use (a bind mount). It is ErrNotFound if the store does not
// hold sha.
func (s *Store) Dir(sha string) (string, error) {
	key, ok := keyOf(sha)
	if !ok {
		return "", fmt.Errorf("package %q: %w", sha, ErrNotFound)
	}
	tree := filepath.Join(s.pkgs, key, "tree")
	if _, err := os.Lstat(tree); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("package %s: %w", sha, ErrNotFound)
		}
		return "", fmt.Errorf("package %s: %w", sha, err)
	}
	return tree, nil
}

// Open opens the zip of package sha as uploaded (GetFunction's
// Code.Location serves it). The caller closes it.
func (s *Store) Open(sha string) (*os.File, error) {
	key, ok := keyOf(sha)
	if !ok {
		return nil, fmt.Errorf("package %q: %w", sha, ErrNotFound)
	}
	f, err := os.Open(filepath.Join(s.pkgs, key, "code.zip"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("package %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", sha, err)
	}
	return f, nil
}

// Stat returns the Package stored under sha.
func (s *Store) Stat(sha string) (Package, error) {
	key, ok := keyOf(sha)
	if !ok {
		return Package{}, fmt.Errorf("package %q: %w", sha, ErrNotFound)
	}
	return s.stat(key)
}

func (s *Store) stat(key string) (Package, error) {
	b, err := os.ReadFile(filepath.Join(s.pkgs, key, "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Package{}, fmt.Errorf("package %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Package{}, fmt.Errorf("package %s: %w", key, err)
	}
	var pkg Package
	if err := json.Unmarshal(b, &pkg); err != nil {
		return Package{}, fmt.Errorf("package %s: meta.json: %w", key, err)
	}
	return pkg, nil
}

// Sweep removes every stored package whose sha is not in keep and that no
// Put has returned within SweepGrace. keep holds what functions, versions
// and layers still reference; the grace covers a Put whose caller has not
// yet recorded the sha it got. A package is removed whole or not at all:
// it leaves pkgs in one rename, under the lock Put takes for that sha.
func (s *Store) Sweep(ctx context.Context, keep map[string]bool) (removed int, err error) {
	kept := make(map[string]bool, len(keep))
	for sha, ok := range keep {
		if key, valid := keyOf(sha); ok && valid {
			kept[key] = true
		}
	}
	entries, err := os.ReadDir(s.pkgs)
	if err != nil {
		return 0, fmt.Errorf("sweep packages: %w", err)
	}
	for _, e := range entries {
		key := e.Name()
		sum, err := hex.DecodeString(key)
		if err != nil || len(sum) != sha256.Size || kept[key] {
			continue
		}
		gone, err := s.sweepOne(ctx, key, sum[0])
		if err != nil {
			return removed, fmt.Errorf("sweep packages: %w", err)
		}
		if gone {
			removed++
		}
	}
	return removed, nil
}

func (s *Store) sweepOne(ctx context.Context, key string, stripe byte) (bool, error) {
	if err := s.lock(ctx, stripe); err != nil {
		return false, err
	}
	dir := filepath.Join(s.pkgs, key)
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		s.unlock(stripe)
		return false, nil
	}
	if err != nil {
		s.unlock(stripe)
		return false, err
	}
	if s.now().Sub(info.ModTime()) < s.grace {
		s.unlock(stripe)
		return false, nil
	}
	trash, err := os.MkdirTemp(s.tmp, "del-")
	if err != nil {
		s.unlock(stripe)
		return false, err
	}
	err = os.Rename(dir, filepath.Join(trash, "pkg"))
	s.unlock(stripe)
	if err != nil {
		removeTree(trash)
		return false, err
	}
	if err := syncDir(s.pkgs); err != nil {
		return true, err
	}
	// Outside the lock: nothing can reach the package any more, and a crash
	// here leaves it in tmp for Open.
	return true, removeTree(trash)
}

func (s *Store) lock(ctx context.Context, stripe byte) error {
	select {
	case s.locks[stripe] <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlock(stripe byte) { <-s.locks[stripe] }

// touch records a Put of package key now, for Sweep's grace period.
func (s *Store) touch(key string) error {
	t := s.now()
	return os.Chtimes(filepath.Join(s.pkgs, key), t, t)
}

// keyOf turns a CodeSha256 into the name of its directory, and refuses
// anything that is not exactly one (so no sha can name another path).
func keyOf(sha string) (string, bool) {
	sum, err := base64.StdEncoding.Strict().DecodeString(sha)
	if err != nil || len(sum) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(sum), true
}

// removeTree removes path and everything under it. Extracted directories
// are read-only, and unlinking an entry needs write permission on its
// directory, so they are opened up first. WalkDir visits a directory before
// reading it and never follows symlinks.
func removeTree(path string) error {
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// writeSync writes a read-only file and flushes it to disk.
func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o444) // OpenFile's mode is subject to the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
