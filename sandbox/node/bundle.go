package node

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"lambdalab/facts"
)

// A binding's code and layers cross the link as one tar stream: the
// deployment package under task/, then each layer under opt/, in the
// binding's order, so that a later layer's file replaces an earlier one's
// as it is unpacked (Lambda merges layers into /opt the same way). Only
// directories, regular files and symlinks travel.

const (
	bundleTask = "task"
	bundleOpt  = "opt"
	// maxBundleBytes caps the file bytes of a bundle: Lambda's limit for
	// a function and its layers, unzipped.
	maxBundleBytes = facts.MaxUnzipped
	// maxBundleEntries caps its entries, so that a bundle of empty files
	// cannot exhaust the node's inodes either.
	maxBundleEntries = 100_000
)

// writeBundle writes codeDir under task/ and each of layerDirs under opt/
// to w as a tar stream. An empty codeDir writes no task/ entries.
func writeBundle(w io.Writer, codeDir string, layerDirs []string) error {
	tw := tar.NewWriter(w)
	if codeDir != "" {
		if err := addTree(tw, codeDir, bundleTask); err != nil {
			return fmt.Errorf("bundle code: %w", err)
		}
	}
	for _, l := range layerDirs {
		if err := addTree(tw, l, bundleOpt); err != nil {
			return fmt.Errorf("bundle layer: %w", err)
		}
	}
	return tw.Close()
}

func addTree(tw *tar.Writer, src, prefix string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		switch {
		case d.IsDir(), d.Type().IsRegular():
		case d.Type()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is not a regular file, directory or symlink", rel)
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		// Names and numeric owners of this machine mean nothing on the node.
		hdr.Name = prefix + "/" + filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// unpackBundle unpacks a bundle into dir's task/ and opt/ folders. It
// refuses, before writing it, any entry that is not a directory, regular
// file or symlink, whose name is absolute, holds "..", or lies outside
// task/ and opt/, and any symlink that points outside the folder it is in
// (absolute, or climbing above it); every write goes through an os.Root,
// so even a path the checks missed cannot leave the folder. The node trusts
// the server, but a bundle is learner content, and a path out of it would
// write on the node as root.
func unpackBundle(r io.Reader, dir string) error {
	roots := map[string]*os.Root{}
	for _, name := range []string{bundleTask, bundleOpt} {
		root, err := os.OpenRoot(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("unpack bundle: %w", err)
		}
		defer root.Close()
		roots[name] = root
	}
	tr := tar.NewReader(r)
	var total int64
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return coded(codeBad, "unpack bundle: %v", err)
		}
		if entries >= maxBundleEntries {
			return coded(codeBad, "unpack bundle: more than %d entries", maxBundleEntries)
		}
		top, rel, err := bundlePath(hdr.Name)
		if err != nil {
			return err
		}
		root := roots[top]
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel == "" {
				continue
			}
			if err := placeDir(root, rel); err != nil {
				return fmt.Errorf("unpack bundle: %s: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if rel == "" {
				return coded(codeBad, "unpack bundle: %s is a file in place of a folder", hdr.Name)
			}
			total += hdr.Size
			if total > maxBundleBytes {
				return coded(codeBad, "unpack bundle: the code and layers are over %d MB unzipped", maxBundleBytes>>20)
			}
			if err := placeFile(root, rel, hdr.FileInfo().Mode().Perm(), tr); err != nil {
				return fmt.Errorf("unpack bundle: %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if rel == "" {
				return coded(codeBad, "unpack bundle: %s is a symlink in place of a folder", hdr.Name)
			}
			if err := symlinkInside(root, rel, hdr.Linkname); err != nil {
				return coded(codeBad, "unpack bundle: %s: %v", hdr.Name, err)
			}
			if err := placeSymlink(root, rel, hdr.Linkname); err != nil {
				return fmt.Errorf("unpack bundle: %s: %w", hdr.Name, err)
			}
		default:
			return coded(codeBad, "unpack bundle: %s is not a regular file, folder or symlink (tar type %q)", hdr.Name, hdr.Typeflag)
		}
	}
}

// bundlePath splits an entry's name into its top folder (task or opt) and
// the path below it, refusing anything that could point elsewhere.
func bundlePath(name string) (top, rel string, err error) {
	bad := func(why string) error { return coded(codeBad, "unpack bundle: entry %q: %s", name, why) }
	if name == "" || strings.HasPrefix(name, "/") {
		return "", "", bad("an absolute or empty path")
	}
	if strings.ContainsRune(name, 0) {
		return "", "", bad("a NUL in the path")
	}
	parts := strings.Split(strings.TrimSuffix(name, "/"), "/")
	for _, p := range parts {
		if p == ".." {
			return "", "", bad(`".." in the path`)
		}
	}
	if parts[0] != bundleTask && parts[0] != bundleOpt {
		return "", "", bad("outside task/ and opt/")
	}
	rel = path.Clean(strings.Join(parts[1:], "/"))
	if rel == "." {
		rel = ""
	}
	return parts[0], rel, nil
}

// symlinkInside refuses a symlink at rel whose target leaves the folder
// the link is unpacked into: an absolute target, or one that climbs above
// it. Inside the instance /var/task and /opt are separate mounts, so a
// target in the other one would be absolute too. The check is on the
// names, so it needs the link's folder to be where its name says: a link
// below a folder that is itself a symlink ("a -> ." then "a/l -> ../x")
// is refused too.
func symlinkInside(root *os.Root, rel, target string) error {
	if target == "" {
		return errors.New("an empty symlink target")
	}
	if path.IsAbs(target) {
		return fmt.Errorf("the symlink points to the absolute path %q", target)
	}
	resolved := path.Join(path.Dir(rel), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("the symlink to %q points outside its folder", target)
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		st, err := root.Lstat(dir)
		if err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("the symlink is below %s, itself a symlink", dir)
		}
	}
	return nil
}

// clearFor removes what stands at rel unless it is a folder and want is a
// folder: a later layer's entry replaces an earlier one's.
func clearFor(root *os.Root, rel string, wantDir bool) error {
	st, err := root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if wantDir && st.IsDir() {
		return nil
	}
	return root.RemoveAll(rel)
}

func placeDir(root *os.Root, rel string) error {
	if err := clearFor(root, rel, true); err != nil {
		return err
	}
	return root.MkdirAll(rel, 0o755)
}

func placeFile(root *os.Root, rel string, perm fs.FileMode, src io.Reader) error {
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := clearFor(root, rel, false); err != nil {
		return err
	}
	f, err := root.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	// The umask may have narrowed perm; what the package said is kept.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func placeSymlink(root *os.Root, rel, target string) error {
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := clearFor(root, rel, false); err != nil {
		return err
	}
	return root.Symlink(target, rel)
}
