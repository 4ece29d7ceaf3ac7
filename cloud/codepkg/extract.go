package codepkg

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	maxDepth     = 128       // path elements in one name; extraction holds a descriptor per level
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
	name     string // last element of path
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
	if len(elems) > maxDepth {
		return nil, false, errTooDeep(raw)
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
	n := &node{kind: k, name: name, path: name, parent: parent}
	if parent.path != "" {
		n.path = parent.path + "/" + name
	}
	parent.children[name] = n
	switch k {
	case kindDir:
		n.children = map[string]*node{}
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
	x := &extractor{ctx: ctx, room: budget, buf: make([]byte, 64<<10)}
	x.startSyncers()
	err = x.dir(root, p.root)
	if err == nil {
		err = os.Chmod(treeDir, 0o555)
	}
	if err == nil {
		err = x.sync(root, ".")
	}
	if serr := x.stopSyncers(); err == nil {
		err = serr
	}
	return x.written, err
}

// extractor writes a planned tree depth first, holding one open directory
// per level. Going through os.Root from the top for every entry would cost
// one openat per path element each time: 6,000 files 2,000 levels deep
// took four minutes that way.
type extractor struct {
	ctx     context.Context
	room    int64 // bytes the files may still take
	written int64
	buf     []byte

	// Everything, modes included, must be on disk before the rename makes
	// it visible. Each fsync waits for a journal commit, and concurrent
	// ones share commits (BenchmarkPut10MB: 250 to 390 ms with one fsync
	// after another, 115 to 165 ms like this), so a few goroutines flush
	// and close what the walk hands them.
	syncq   chan *os.File
	syncers sync.WaitGroup
	mu      sync.Mutex
	syncErr error
}

// syncers is how many fsyncs run at once.
const syncers = 16

func (x *extractor) startSyncers() {
	x.syncq = make(chan *os.File)
	for range syncers {
		x.syncers.Go(func() {
			for f := range x.syncq {
				err := f.Sync()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					x.mu.Lock()
					x.syncErr = cmp.Or(x.syncErr, err)
					x.mu.Unlock()
				}
			}
		})
	}
}

func (x *extractor) stopSyncers() error {
	close(x.syncq)
	x.syncers.Wait()
	return x.syncErr
}

// sync opens name in d and has it flushed and closed.
func (x *extractor) sync(d *os.Root, name string) error {
	f, err := d.Open(name)
	if err != nil {
		return err
	}
	x.syncq <- f
	return nil
}

// dir creates n's entries in d, which is n's directory.
func (x *extractor) dir(d *os.Root, n *node) error {
	names := slices.Sorted(maps.Keys(n.children))
	// Symlinks last, so that none exists while files are being created.
	for _, last := range []bool{false, true} {
		for _, name := range names {
			c := n.children[name]
			if (c.kind == kindSymlink) != last {
				continue
			}
			if err := x.ctx.Err(); err != nil {
				return err
			}
			var err error
			switch c.kind {
			case kindDir:
				err = x.subdir(d, c)
			case kindFile:
				err = x.file(d, c)
			case kindSymlink:
				err = d.Symlink(c.target, name)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *extractor) subdir(d *os.Root, n *node) error {
	if err := d.Mkdir(n.name, 0o700); err != nil {
		return err
	}
	sub, err := d.OpenRoot(n.name)
	if err != nil {
		return err
	}
	err = x.dir(sub, n)
	sub.Close()
	if err != nil {
		return err
	}
	// Read-only only now that its entries exist.
	if n.file != nil && !n.file.Modified.IsZero() {
		if err := d.Chtimes(n.name, n.file.Modified, n.file.Modified); err != nil {
			return err
		}
	}
	if err := d.Chmod(n.name, 0o555); err != nil {
		return err
	}
	return x.sync(d, n.name)
}

// file extracts one regular file into d.
func (x *extractor) file(d *os.Root, n *node) error {
	rc, err := n.file.Open()
	if err != nil {
		return errUnzip() // unknown method, bad local header
	}
	defer rc.Close()
	// O_EXCL: never open something that is already there (the plan says
	// nothing is); os.Root adds O_NOFOLLOW.
	out, err := d.OpenFile(n.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	k, err := copyCapped(x.ctx, out, rc, x.buf, x.room)
	x.written += k
	x.room -= k
	mode := os.FileMode(0o444)
	if n.exec {
		mode = 0o555
	}
	if err == nil {
		err = out.Chmod(mode)
	}
	if err == nil && !n.file.Modified.IsZero() {
		err = d.Chtimes(n.name, n.file.Modified, n.file.Modified)
	}
	if err != nil {
		out.Close()
		return err
	}
	x.syncq <- out
	return nil
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
