package s3

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rclone/gofakes3"
)

// inlineMax is the largest body kept in its SQLite row. Smaller bodies are
// most objects a lab writes (JSON, CSV, text); a row costs one commit where a
// file costs a create, an fsync and a rename. Larger bodies go to files so
// that neither SQLite nor memory holds them whole.
const inlineMax = 128 << 10

// files keeps the bodies too large for a row: one immutable file per stored
// object or part, named at random, under dir/objects/xx/, written in
// dir/tmp/ and renamed into place only once complete and verified. Because
// a file never changes once named, a copy is a hard link and a reader that
// opened a file keeps a consistent body even if the object is replaced.
type files struct {
	dir string
}

func openFiles(dir string) (*files, error) {
	for _, d := range []string{"objects", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("open s3 files: %w", err)
		}
	}
	// What is in tmp/ was being written when the last process stopped.
	tmp := filepath.Join(dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("open s3 files: %w", err)
	}
	for _, e := range entries {
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
	return &files{dir: dir}, nil
}

// newName is a fresh random file name, relative to dir/objects.
func newName() string {
	n := rand.Text()
	return n[:2] + "/" + n
}

func (f *files) path(name string) string {
	return filepath.Join(f.dir, "objects", filepath.FromSlash(name))
}

func (f *files) open(name string) (*os.File, error) { return os.Open(f.path(name)) }

// remove deletes the files named; a file already gone is not an error.
func (f *files) remove(names ...string) {
	for _, n := range names {
		if n != "" {
			os.Remove(f.path(n))
		}
	}
}

// link gives the body of file name a second name, for a copy. A hard
// link has its file's modification time, which may be older than Sweep's
// grace: Sweep, running between the link and the commit that names it,
// would take it for a leftover. So the file is touched first and the new
// name is young from its first moment; the old name only looks newer,
// which makes Sweep keep it longer, and nothing else reads the time.
func (f *files) link(name string) (string, error) {
	dst := newName()
	if err := os.MkdirAll(filepath.Dir(f.path(dst)), 0o700); err != nil {
		return "", err
	}
	now := time.Now()
	if err := os.Chtimes(f.path(name), now, now); err != nil {
		return "", err
	}
	if err := os.Link(f.path(name), f.path(dst)); err == nil {
		return dst, nil
	}
	// A file system without hard links: copy the bytes.
	src, err := f.open(name)
	if err != nil {
		return "", err
	}
	defer src.Close()
	w, err := f.create()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, src); err != nil {
		w.abort()
		return "", err
	}
	return w.commit()
}

// tempFile is a body being written.
type tempFile struct {
	f     *files
	file  *os.File
	bytes int64
}

func (f *files) create() (*tempFile, error) {
	file, err := os.CreateTemp(filepath.Join(f.dir, "tmp"), "body-*")
	if err != nil {
		return nil, fmt.Errorf("create s3 body file: %w", err)
	}
	return &tempFile{f: f, file: file}, nil
}

func (t *tempFile) Write(p []byte) (int, error) {
	n, err := t.file.Write(p)
	t.bytes += int64(n)
	return n, err
}

// commit makes the file durable and gives it its permanent name. The fsync
// comes before the database row that names the file, so a power cut cannot
// leave a row pointing at a file whose data never reached the disk.
func (t *tempFile) commit() (string, error) {
	if err := t.file.Sync(); err != nil {
		t.abort()
		return "", fmt.Errorf("sync s3 body file: %w", err)
	}
	if err := t.file.Close(); err != nil {
		os.Remove(t.file.Name())
		return "", fmt.Errorf("close s3 body file: %w", err)
	}
	name := newName()
	dst := t.f.path(name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		os.Remove(t.file.Name())
		return "", err
	}
	if err := os.Rename(t.file.Name(), dst); err != nil {
		os.Remove(t.file.Name())
		return "", fmt.Errorf("name s3 body file: %w", err)
	}
	return name, nil
}

func (t *tempFile) abort() {
	t.file.Close()
	os.Remove(t.file.Name())
}

// body is a received body: in memory when small, else a committed file.
type body struct {
	data []byte
	file string
	size int64
	md5  []byte
}

// receive reads r to its end, keeping up to inlineMax bytes in memory and
// spilling to a file beyond that, and refuses more than limit bytes with
// EntityTooLarge. check runs after the last byte and before the file is
// named: when it fails nothing is kept.
func (f *files) receive(r io.Reader, limit int64, check func() error) (body, error) {
	h := md5.New()
	buf := make([]byte, 0, min(limit+1, inlineMax+1))
	lr := io.LimitReader(r, limit+1)
	for len(buf) < cap(buf) {
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > limit {
				return body{}, gofakes3.ErrEntityTooLarge
			}
			if err := check(); err != nil {
				return body{}, err
			}
			h.Write(buf)
			return body{data: buf, size: int64(len(buf)), md5: h.Sum(nil)}, nil
		}
		if err != nil {
			return body{}, bodyError(err)
		}
	}
	if int64(len(buf)) > limit {
		return body{}, gofakes3.ErrEntityTooLarge
	}
	t, err := f.create()
	if err != nil {
		return body{}, err
	}
	w := io.MultiWriter(t, h)
	if _, err := w.Write(buf); err != nil {
		t.abort()
		return body{}, fmt.Errorf("write s3 body file: %w", err)
	}
	if _, err := copyBody(w, lr); err != nil {
		t.abort()
		return body{}, err
	}
	if t.bytes > limit {
		t.abort()
		return body{}, gofakes3.ErrEntityTooLarge
	}
	if err := check(); err != nil {
		t.abort()
		return body{}, err
	}
	size := t.bytes
	name, err := t.commit()
	if err != nil {
		return body{}, err
	}
	return body{file: name, size: size, md5: h.Sum(nil)}, nil
}

// copyBody is io.Copy that tells a failed read (the client's fault) from a
// failed write (the disk's).
func copyBody(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		nr, rerr := r.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, fmt.Errorf("write s3 body file: %w", werr)
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, bodyError(rerr)
		}
	}
}

// assemble concatenates part files into one new file, returning its name
// and the MD5 of the whole.
func (f *files) assemble(parts []string) (string, []byte, int64, error) {
	t, err := f.create()
	if err != nil {
		return "", nil, 0, err
	}
	h := md5.New()
	w := io.MultiWriter(t, h)
	for _, p := range parts {
		if err := appendFile(w, f.path(p)); err != nil {
			t.abort()
			return "", nil, 0, err
		}
	}
	size := t.bytes
	name, err := t.commit()
	if err != nil {
		return "", nil, 0, err
	}
	return name, h.Sum(nil), size, nil
}

func appendFile(w io.Writer, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read part: %w", err)
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("assemble parts: %w", err)
	}
	return nil
}

// sweep removes the files under objects/ that no row refers to and that
// are older than grace, so that a file named a moment before its row is
// committed is left alone. Such files are left by a crash between a rename
// and its commit, by a failed commit, and by the cascade that deletes a
// scratch account's rows.
func (f *files) sweep(ctx context.Context, referenced map[string]bool, grace time.Duration, now time.Time) (int, error) {
	root := filepath.Join(f.dir, "objects")
	removed := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if referenced[filepath.ToSlash(rel)] {
			return nil
		}
		info, err := d.Info()
		if err != nil || now.Sub(info.ModTime()) < grace {
			return nil
		}
		if os.Remove(path) == nil {
			removed++
		}
		return nil
	})
	return removed, err
}

// objectBody serves the body of an object, or a range of it: its row's
// data or its file.
type objectBody struct {
	file *os.File // nil for a body in the row
	r    io.Reader
}

func (o *objectBody) Read(p []byte) (int, error) { return o.r.Read(p) }

func (o *objectBody) Close() error {
	if o.file != nil {
		return o.file.Close()
	}
	return nil
}
