package labs

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// junk reports whether a file or folder name is something tools leave
// behind (Python's bytecode caches, Finder's metadata), which is neither
// part of a lab nor worth shipping in a function's package.
func junk(name string) bool {
	return name == "__pycache__" || name == ".DS_Store" || strings.HasSuffix(name, ".pyc")
}

func hasJunk(name string) bool {
	return slices.ContainsFunc(strings.Split(name, "/"), junk)
}

// cleanFS is a lab's folder with its junk hidden, so that the grader
// packaging a submission never sees it either.
type cleanFS struct{ fsys fs.FS }

func (c cleanFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if hasJunk(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := c.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	// Only folders are wrapped: a file keeps its Seek and ReadAt.
	if d, ok := f.(fs.ReadDirFile); ok {
		if info, err := f.Stat(); err == nil && info.IsDir() {
			return &cleanDir{d}, nil
		}
	}
	return f, nil
}

func (c cleanFS) Stat(name string) (fs.FileInfo, error) {
	if hasJunk(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fs.Stat(c.fsys, name)
}

func (c cleanFS) ReadFile(name string) ([]byte, error) {
	if hasJunk(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fs.ReadFile(c.fsys, name)
}

func (c cleanFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if hasJunk(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	es, err := fs.ReadDir(c.fsys, name)
	return withoutJunk(es), err
}

type cleanDir struct{ fs.ReadDirFile }

func (d *cleanDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		es, err := d.ReadDirFile.ReadDir(n)
		return withoutJunk(es), err
	}
	var out []fs.DirEntry
	for len(out) < n {
		es, err := d.ReadDirFile.ReadDir(n - len(out))
		out = append(out, withoutJunk(es)...)
		if err != nil {
			if errors.Is(err, io.EOF) && len(out) > 0 {
				return out, nil
			}
			return out, err
		}
	}
	return out, nil
}

func withoutJunk(es []fs.DirEntry) []fs.DirEntry {
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return junk(e.Name()) })
}
