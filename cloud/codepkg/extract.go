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
	"path/filepath"
	"strings"
	"sync"
)

// Limits on an archive's shape. Lambda documents none of these; they are
// lambdalab's, far above any real package and low enough that a hostile
// central directory cannot exhaust memory, inodes or CPU.
const (
	// MaxEntries is how many entries (files, directories, symlinks) one zip
	// may hold.
	MaxEntries = 100_000
	// MaxNameLen is the longest entry name, in bytes (Linux's PATH_MAX).
	// A symlink target must be shorter, as the kernel demands.
	MaxNameLen = 4096

	maxElemLen   = 255       // one path element (Linux's NAME_MAX)
	maxHops      = 40        // symlinks followed in one lookup (Linux's MAXSYMLINKS)
	maxWalkSteps = 1_000_000 // path elements walked while checking all symlinks of a zip
)

// errOverBudget is what the byte counter returns; Put turns it into
// Lambda's unzipped-size message, which names the budget.
var errOverBudget = errors.New("over the unzipped budget")

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindSymlink
)

// node is one path of the tree an archive will produce.
type node struct {
	kind     kind
	path     string // slash-separated, relative to the tree root; "" for the root
	parent   *node
	children map[string]*node // directories only
	file     *zip.File        // the entry that produces it; nil for implicit directories
	exec     bool             // files: the entry had an execute bit
	target   string           // symlinks
}

// plan is the whole tree an archive will produce, checked before anything
// is written: a symlink can only be judged once every entry it may go
// through is known, and a refusal should cost no disk at all.
type plan struct {
	root  *node
	dirs  []*node // parents before children
	files []*node
	links []*node
	// declared is the sum of the files' declared uncompressed sizes.
	// archive/zip fails an entry that inflates past its declared size, so
	// the sum bounds what extraction can write.
	declared uint64
}

// openZip parses the central directory of b.
func openZip(b []byte) (*zip.Reader, error) {
	// archive/zip loads every central directory record (a few hundred bytes
	// of memory each) before the entries can be counted, and a 50 MB zip
	// can hold a million of them. Every record starts with this signature,
	// so counting it bounds the work first. Stored archives inside the zip
	// count too, hence the slack; the exact count is checked after.
	if bytes.Count(b, []byte("PK\x01\x02")) > 2*MaxEntries {
		return nil, errTooManyEntries()
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	// ErrInsecurePath still returns the reader; names are judged by
	// splitName, with messages that say which entry is wrong.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, errUnzip()
	}
	if len(zr.File) > MaxEntries {
		return nil, errTooManyEntries()
	}
	return zr, nil
}

// planArchive checks every entry of an archive and returns the tree it
// describes.
func planArchive(ctx context.Context, files []*zip.File) (*plan, error) {
	p := &plan{root: &node{kind: kindDir, children: map[string]*node{}}}
	for i, f := range files {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := p.add(f); err != nil {
			return nil, err
		}
	}
	for _, n := range p.files {
		p.declared += n.file.UncompressedSize64
		if p.declared < n.file.UncompressedSize64 { // overflow
			p.declared = ^uint64(0)
		}
	}
	steps := 0
	for _, l := range p.links {
		hops := 0
		switch _, st := p.resolve(l.parent, l.target, &hops, &steps); st {
		case walkEscapes:
			return nil, errLinkOutside(l.path)
		case walkLoops:
			return nil, errLinkLoop(l.path)
		case walkTooLong:
			return nil, errLinksTooTangled()
		}
	}
	return p, nil
}

// splitName turns an entry name into path elements, refusing any name that
// could land outside the tree (zip slip).
func splitName(raw string) (elems []string, isDir bool, err error) {
	if len(raw) > MaxNameLen {
		return nil, false, errNameTooLong(raw)
	}
	if strings.IndexByte(raw, 0) >= 0 {
		// A NUL ends the name for C code (the kernel, unzip, Python) but
		// not for Go, so the two would disagree on which file this is.
		return nil, false, errBadName(raw)
	}
	// Windows tools (PowerShell's Compress-Archive on .NET before 4.6.1)
	// write backslashes and mean separators; treating them as separators
	// also stops `..\..\x` and `\\server\x`.
	name := strings.ReplaceAll(raw, `\`, "/")
	isDir = strings.HasSuffix(name, "/")
	if strings.HasPrefix(name, "/") || hasDrive(name) {
		return nil, false, errEscapes(raw)
	}
	for e := range strings.SplitSeq(name, "/") {
		switch e {
		case "", ".":
			continue
		case "..":
			return nil, false, errEscapes(raw)
		}
		if len(e) > maxElemLen {
			return nil, false, errElemTooLong(raw)
		}
		elems = append(elems, e)
	}
	if len(elems) > 0 && !filepath.IsLocal(filepath.Join(elems...)) {
		return nil, false, errEscapes(raw) // unreachable after the checks above; kept as a backstop
	}
	return elems, isDir, nil
}

// hasDrive reports whether name starts with a Windows drive ("C:").
func hasDrive(name string) bool {
	return len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z')
}

// add puts one entry into the plan.
func (p *plan) add(f *zip.File) error {
	elems, isDir, err := splitName(f.Name)
	if err != nil {
		return err
	}
	if f.Flags&0x1 != 0 { // encrypted: Lambda cannot read it either
		return errUnzip()
	}
	mode := f.Mode()
	var k kind
	switch {
	case isDir || mode.IsDir():
		k = kindDir
	case mode&fs.ModeSymlink != 0:
		k = kindSymlink
	case mode.Type() == 0:
		k = kindFile
	default:
		// A device node would give whoever opens it the host's disks or
		// terminals; a fifo hangs any reader. None belongs in code.
		return errSpecial(f.Name)
	}
	if len(elems) == 0 {
		if k == kindDir {
			return nil // "./": the root itself
		}
		return errBadName(f.Name)
	}

	parent := p.root
	for _, e := range elems[:len(elems)-1] {
		c := parent.children[e]
		switch {
		case c == nil:
			c = p.newNode(parent, e, kindDir)
		case c.kind == kindSymlink:
			// Writing "link/file" after "link -> /etc" is the classic way to
			// make an extractor write outside its tree.
			return errInsideSymlink(f.Name, c.path)
		case c.kind == kindFile:
			return errConflict(f.Name)
		}
		parent = c
	}
	last := elems[len(elems)-1]
	n := parent.children[last]
	switch {
	case n == nil:
		n = p.newNode(parent, last, k)
	case n.kind != k:
		return errConflict(f.Name)
	}
	switch k {
	case kindDir:
		n.file = f // for its modification time
	case kindFile:
		n.file = f
		n.exec = mode&0o111 != 0
	case kindSymlink:
		target, err := readTarget(f)
		if err != nil {
			return err
		}
		n.file, n.target = f, target
	}
	return nil
}

func (p *plan) newNode(parent *node, name string, k kind) *node {
	n := &node{kind: k, path: name, parent: parent}
	if parent.path != "" {
		n.path = parent.path + "/" + name
	}
	parent.children[name] = n
	switch k {
	case kindDir:
		n.children = map[string]*node{}
		p.dirs = append(p.dirs, n)
	case kindFile:
		p.files = append(p.files, n)
	case kindSymlink:
		p.links = append(p.links, n)
	}
	return n
}

// readTarget reads a symlink entry's target (its contents).
func readTarget(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", errUnzip()
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxNameLen+1))
	if err != nil {
		return "", errUnzip()
	}
	t := string(b)
	// The kernel takes targets shorter than PATH_MAX, counting the NUL.
	if t == "" || len(t) >= MaxNameLen || strings.IndexByte(t, 0) >= 0 {
		return "", errBadTarget(f.Name)
	}
	// Backslashes are separators here too, so that the check below and
	// the link the kernel follows agree.
	return strings.ReplaceAll(t, `\`, "/"), nil
}

type walk uint8

const (
	walkInside  walk = iota // ends inside the tree
	walkStops               // the kernel would stop inside the tree (ENOENT, ENOTDIR)
	walkEscapes             // reaches above the root, or is absolute
	walkLoops               // more than maxHops symlinks
	walkTooLong             // the zip's symlinks took more than maxWalkSteps to check
)

// resolve follows target from directory dir the way the kernel would, over
// the planned tree. Checking the target lexically is not enough: with
// "a/b/l -> ../.." (fine on its own) a second link "m -> a/b/l/.." cleans
// to "a/b" but the kernel goes from l's target, the root, to its parent.
func (p *plan) resolve(dir *node, target string, hops, steps *int) (*node, walk) {
	if strings.HasPrefix(target, "/") {
		return nil, walkEscapes // absolute: means the sandbox's or the host's /
	}
	cur := dir
	rest := target
	for rest != "" {
		var e string
		var more bool
		e, rest, more = strings.Cut(rest, "/")
		if *steps++; *steps > maxWalkSteps {
			return nil, walkTooLong
		}
		switch e {
		case "", ".":
			continue
		case "..":
			if cur.parent == nil {
				return nil, walkEscapes
			}
			cur = cur.parent
			continue
		}
		c := cur.children[e]
		if c == nil {
			return nil, walkStops
		}
		if c.kind == kindSymlink {
			if *hops++; *hops > maxHops {
				return nil, walkLoops
			}
			end, st := p.resolve(cur, c.target, hops, steps)
			if st != walkInside {
				return nil, st
			}
			c = end
		}
		if c.kind != kindDir {
			if more {
				return nil, walkStops // ENOTDIR
			}
			return c, walkInside
		}
		cur = c
	}
	return cur, walkInside
}

// extract writes the planned tree into the new directory treeDir and
// returns the bytes written to regular files. It writes at most budget
// bytes: a bomb is stopped by counting what inflates, not by believing
// headers.
func extract(ctx context.Context, p *plan, treeDir string, budget int64) (int64, error) {
	if err := os.Mkdir(treeDir, 0o700); err != nil {
		return 0, err
	}
	// All writes go through an os.Root: even if the plan were wrong, no
	// path can resolve outside treeDir.
	root, err := os.OpenRoot(treeDir)
	if err != nil {
		return 0, err
	}
	defer root.Close()

	for _, d := range p.dirs {
		if err := root.Mkdir(d.path, 0o700); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, 64<<10)
	var total int64
	for _, n := range p.files {
		written, err := writeFile(ctx, root, n, buf, budget-total)
		total += written
		if err != nil {
			return total, err
		}
	}
	// Symlinks last, so none exists while files are being created.
	for _, l := range p.links {
		if err := root.Symlink(l.target, l.path); err != nil {
			return total, err
		}
	}
	// Directories are made read-only only once their entries exist,
	// children first.
	for i := len(p.dirs) - 1; i >= 0; i-- {
		d := p.dirs[i]
		if m := d.file; m != nil && !m.Modified.IsZero() {
			if err := root.Chtimes(d.path, m.Modified, m.Modified); err != nil {
				return total, err
			}
		}
		if err := root.Chmod(d.path, 0o555); err != nil {
			return total, err
		}
	}
	if err := os.Chmod(treeDir, 0o555); err != nil {
		return total, err
	}
	// Everything, modes included, must be on disk before the rename makes
	// it visible. Each fsync waits for a journal commit; concurrent ones
	// share commits (BenchmarkPut10MB: about 470 ms with one fsync after
	// another, 240 ms like this).
	paths := make([]string, 0, len(p.files)+len(p.dirs)+1)
	for _, n := range p.files {
		paths = append(paths, n.path)
	}
	for _, d := range p.dirs {
		paths = append(paths, d.path)
	}
	return total, syncAll(ctx, root, append(paths, "."))
}

// writeFile extracts one regular file, writing at most room bytes.
func writeFile(ctx context.Context, root *os.Root, n *node, buf []byte, room int64) (int64, error) {
	rc, err := n.file.Open()
	if err != nil {
		return 0, errUnzip() // unknown method, bad local header
	}
	defer rc.Close()
	// O_EXCL: never open something that is already there (the plan says
	// nothing is); os.Root adds O_NOFOLLOW.
	out, err := root.OpenFile(n.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	written, err := copyCapped(ctx, out, rc, buf, room)
	mode := os.FileMode(0o444)
	if n.exec {
		mode = 0o555
	}
	if err == nil {
		err = out.Chmod(mode)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && !n.file.Modified.IsZero() {
		err = root.Chtimes(n.path, n.file.Modified, n.file.Modified)
	}
	return written, err
}

// copyCapped copies src to dst until EOF, and fails with errOverBudget
// before writing a chunk that would take the total past room. Read errors
// (bad CRC, bad deflate data, an entry longer than its header says) are
// the learner's; write errors are the platform's.
func copyCapped(ctx context.Context, dst io.Writer, src io.Reader, buf []byte, room int64) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := src.Read(buf)
		if k > 0 {
			if int64(k) > room-n {
				return n, errOverBudget
			}
			if _, err := dst.Write(buf[:k]); err != nil {
				return n, fmt.Errorf("write: %w", err)
			}
			n += int64(k)
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, errUnzip()
		}
	}
}

// syncers is how many fsyncs run at once.
const syncers = 16

// syncAll flushes the named files and directories of root to disk.
func syncAll(ctx context.Context, root *os.Root, names []string) error {
	work := make(chan string)
	errs := make(chan error, syncers)
	var wg sync.WaitGroup
	for range min(syncers, len(names)) {
		wg.Go(func() {
			for name := range work {
				if err := syncIn(root, name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for _, name := range names {
		select {
		case work <- name:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs // nil once closed and empty
	}
	return err
}

// syncIn flushes file or directory name of root to disk.
func syncIn(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
