package grader

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"lambdalab/cloud/codepkg"
)

// submissionFiles are the grader's own files in a submission folder; they
// are not part of the function's package.
var submissionFiles = []string{"actions.yaml", "answers.yaml", "expect.yaml"}

// skipped reports names no package should carry: interpreter caches and
// desktop litter that an author's folder picks up.
func skipped(name string) bool {
	base := path.Base(name)
	return base == "__pycache__" || base == ".DS_Store" || strings.HasSuffix(base, ".pyc")
}

// zipTree is one folder to put in a package: root within fsys, its files at
// the package's top level.
type zipTree struct {
	fsys fs.FS
	root string
}

// zipPackage builds a deterministic deployment package from trees, the
// first tree's files winning over later ones of the same name (so a
// submission's own module shadows a bundled library's). Entries are sorted,
// every time is 1980-01-01, and files are 0644 except `bootstrap` and files
// executable in their folder, which are 0755.
func zipPackage(trees ...zipTree) ([]byte, error) {
	return zipTrees(true, trees...)
}

// ZipFolder packs a whole submission folder, its actions.yaml and
// answers.yaml included, as the store keeps it; interpreter caches are
// left out and the size is bounded as for a package.
func ZipFolder(fsys fs.FS) ([]byte, error) {
	return zipTrees(false, zipTree{fsys, "."})
}

// zipTrees is zipPackage, leaving the grader's own files out of the first
// tree when asked.
func zipTrees(dropSubmissionFiles bool, trees ...zipTree) ([]byte, error) {
	type entry struct {
		name string
		data []byte
		mode fs.FileMode
	}
	seen := map[string]bool{}
	var entries []entry
	var total int64
	for i, t := range trees {
		sub, err := fs.Sub(t.fsys, t.root)
		if err != nil {
			return nil, err
		}
		err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if name == "." {
				return nil
			}
			if skipped(name) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if dropSubmissionFiles && i == 0 && !d.IsDir() && slices.Contains(submissionFiles, name) {
				return nil
			}
			if d.IsDir() || seen[name] {
				return nil
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s: only regular files can be packaged", name)
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			// A submission folder is the learner's: it is measured before
			// it is read, against Lambda's own unzipped limit.
			if total += info.Size(); total > codepkg.MaxUnzipped {
				return Failf("the package is over Lambda's limit of %d MB unzipped (code and bundled layers together)", codepkg.MaxUnzipped>>20)
			}
			data, err := fs.ReadFile(sub, name)
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if path.Base(name) == "bootstrap" || info.Mode().Perm()&0o100 != 0 {
				mode = 0o755
			}
			seen[name] = true
			entries = append(entries, entry{name, data, mode})
			return nil
		})
		var f *Failure
		if errors.As(err, &f) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", t.root, err)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	epoch := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: epoch}
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// openZip opens a zip file on the host as a file system.
func openZip(name string) (fs.FS, func(), error) {
	r, err := zip.OpenReader(name)
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}
