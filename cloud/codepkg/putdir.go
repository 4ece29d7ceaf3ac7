package codepkg

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// epoch is the modification time PutDir gives every entry, so the same
// files zip to the same bytes (and the same CodeSha256) whenever they are
// zipped. It is the earliest time a zip's DOS date can hold.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// PutDir zips the host folder dir and Puts the result (the grader and the
// editor use it). The zip is deterministic: entries in lexical order, every
// time set to 1980-01-01, permission bits kept, symlinks stored as symlinks.
// The folder may hold learner files, so nothing is followed out of it and
// only regular files are opened; anything else becomes an entry that Put
// refuses by name.
func (s *Store) PutDir(ctx context.Context, dir string, budget int64) (Package, error) {
	budget = min(max(budget, 0), MaxUnzipped)
	b, err := zipDir(ctx, dir, budget)
	if errors.Is(err, errOverBudget) {
		return Package{}, errUnzippedSize(budget)
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return Package{}, e
	}
	if err != nil {
		return Package{}, fmt.Errorf("zip %s: %w", dir, err)
	}
	return s.Put(ctx, b, budget)
}

func zipDir(ctx context.Context, dir string, budget int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	out := &cappedBuffer{max: MaxZipped}
	zw := zip.NewWriter(out)
	var total int64
	entries := 0
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if entries++; entries > MaxEntries {
			return errTooManyEntries()
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		hdr := &zip.FileHeader{Name: name, Modified: epoch}
		switch {
		case mode.IsDir():
			hdr.Name += "/"
			hdr.SetMode(fs.ModeDir | mode.Perm())
			_, err = zw.CreateHeader(hdr)
			return err
		case mode&fs.ModeSymlink != 0:
			target, err := root.Readlink(name)
			if err != nil {
				return err
			}
			hdr.SetMode(fs.ModeSymlink | 0o777)
			w, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, target)
			return err
		case mode.IsRegular():
			hdr.Method = zip.Deflate
			hdr.SetMode(mode.Perm())
			n, err := zipFile(root, name, zw, hdr, budget-total)
			total += n
			return err
		default:
			// Never opened (a fifo would block); Put names it in its refusal.
			hdr.SetMode(mode.Type() | mode.Perm())
			_, err = zw.CreateHeader(hdr)
			return err
		}
	})
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// zipFile adds regular file name, of at most room bytes, to zw.
func zipFile(root *os.Root, name string, zw *zip.Writer, hdr *zip.FileHeader, room int64) (int64, error) {
	// O_NONBLOCK: if the file was swapped for a fifo since it was listed,
	// opening it must not hang; os.Root adds O_NOFOLLOW, so a swap for a
	// symlink fails here.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return 0, err
	} else if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%s changed while being zipped", name)
	}
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, io.LimitReader(f, room+1))
	if err == nil && n > room {
		err = errOverBudget
	}
	return n, err
}

// cappedBuffer is a bytes.Buffer that refuses to grow past max.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errZippedSize()
	}
	return b.Buffer.Write(p)
}
