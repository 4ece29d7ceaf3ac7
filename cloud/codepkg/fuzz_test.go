package codepkg

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPut feeds arbitrary bytes to Put. Whatever they are, Put must not
// panic, must not write outside the store, must refuse with an *Error
// rather than fail as a platform error, and an accepted tree must stay
// inside itself: every symlink in it resolves (if at all) inside Dir(sha).
func FuzzPut(f *testing.F) {
	seeds := [][]byte{
		buildZip(f),
		buildZip(f, file("index.py", "def handler(e, c):\n    return 1\n"), ent{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755}),
		buildZip(f, dir("a/"), file("a/b/c", "c"), link("l", "a/b"), link("a/m", "../l/c")),
		buildZip(f, dir("a/b/"), link("a/b/l", "../.."), link("m", "a/b/l/..")),
		buildZip(f, link("etc", "/etc"), file("etc/passwd", "x")),
		buildZip(f, file("../../x", "x"), file(`..\y`, "y")),
		buildZip(f, file("a", "1"), file("a/b", "2"), file("./a", "3")),
		buildZip(f, link("a", "b"), link("b", "a")),
		buildZip(f, ent{name: "p", mode: fs.ModeNamedPipe | 0o644}, ent{name: "w", body: "w", hdr: windows}),
		buildRawZip(f, rawEnt{name: "a", method: zip.Store, data: []byte("abc"), crc: 1, uncompressedSize: 3}),
		zerosZip(f, "z", 3<<20),
	}
	for _, s := range seeds {
		f.Add(s)
	}

	parent := f.TempDir()
	s, err := Open(filepath.Join(parent, "store"))
	if err != nil {
		f.Fatal(err)
	}
	s.grace = 0 // each input's package is swept right after it is checked
	f.Cleanup(func() { s.Close(); removeTree(s.dir) })

	f.Fuzz(func(t *testing.T, z []byte) { checkPut(t, s, parent, z) })
}

// FuzzPutEntries builds zips with archive/zip from fuzzed entries, so that
// the fuzzer explores names, types and symlink targets rather than CRCs.
// Each line of spec is one entry: a type byte (f file, x executable, d dir,
// l symlink, p fifo, w Windows file), the name, a tab, the body or target.
func FuzzPutEntries(f *testing.F) {
	for _, spec := range []string{
		"findex.py\tdef handler(e, c): pass\nxbootstrap\t#!/bin/sh",
		"da/b/\t\nla/b/l\t../..\nlm\ta/b/l/..",
		"letc\t/etc\nfetc/passwd\tx",
		"f../../x\tx\nf..\\y\ty\nf/abs\tz",
		"fa\t1\nfa/b\t2\nf./a\t3",
		"la\tb\nlb\ta",
		"lr\t.\nlm\tr/r/r/..\nfr2/x\tx",
		"wwin\\readme.txt\thi\npfifo\t",
	} {
		f.Add([]byte(spec))
	}
	parent := f.TempDir()
	s, err := Open(filepath.Join(parent, "store"))
	if err != nil {
		f.Fatal(err)
	}
	s.grace = 0
	f.Cleanup(func() { s.Close(); removeTree(s.dir) })

	f.Fuzz(func(t *testing.T, spec []byte) {
		var ents []ent
		for line := range strings.SplitSeq(string(spec), "\n") {
			if line == "" {
				continue
			}
			name, body, _ := strings.Cut(line[1:], "\t")
			e := ent{name: name, body: body}
			switch line[0] {
			case 'x':
				e.mode = 0o755
			case 'd':
				e.mode, e.body = fs.ModeDir|0o755, ""
			case 'l':
				e.mode = fs.ModeSymlink | 0o777
			case 'p':
				e.mode, e.body = fs.ModeNamedPipe|0o644, ""
			case 'w':
				e.hdr = windows
			}
			if strings.HasSuffix(e.name, "/") {
				e.body = "" // archive/zip writes no data for directories
			}
			ents = append(ents, e)
		}
		checkPut(t, s, parent, buildZip(t, ents...))
	})
}

// checkPut puts z into s (whose parent directory is parent) and checks
// what FuzzPut promises.
func checkPut(t *testing.T, s *Store, parent string, z []byte) {
	ctx := context.Background()
	pkg, err := s.Put(ctx, z, 1<<20)
	defer func() {
		if _, err := s.Sweep(ctx, nil); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}()
	assertOnlyStore(t, parent)
	assertNoTmp(t, s)
	if err != nil {
		if e := (*Error)(nil); !errors.As(err, &e) {
			t.Fatalf("Put failed as the platform, not as a refusal: %v", err)
		}
		return
	}
	d, err := s.Dir(pkg.Sha256)
	if err != nil {
		t.Fatalf("Dir after Put: %v", err)
	}
	var size int64
	err = filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != d && !strings.HasPrefix(p, d+"/") {
			return fmt.Errorf("%s is outside %s", p, d)
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling or a loop: the kernel stops inside
			}
			if real != d && !strings.HasPrefix(real, d+"/") {
				return fmt.Errorf("symlink %s resolves to %s, outside the tree", p, real)
			}
		case info.Mode().IsRegular():
			size += info.Size()
			if m := info.Mode().Perm(); m != 0o444 && m != 0o555 {
				return fmt.Errorf("%s has mode %v", p, info.Mode())
			}
		case info.IsDir():
			if info.Mode().Perm() != 0o555 {
				return fmt.Errorf("%s has mode %v", p, info.Mode())
			}
		default:
			return fmt.Errorf("%s is a %v", p, info.Mode().Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != pkg.UnzippedSize || size > 1<<20 {
		t.Fatalf("tree holds %d bytes; Put said %d, budget %d", size, pkg.UnzippedSize, 1<<20)
	}
}

// assertOnlyStore fails if anything but the store appeared in parent, or
// anything but the store's own entries appeared in the store.
func assertOnlyStore(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "store" {
		t.Fatalf("written outside the store: %v", entries)
	}
	entries, err = os.ReadDir(filepath.Join(parent, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "lock", "pkgs", "tmp":
		default:
			t.Fatalf("stray %s in the store", e.Name())
		}
	}
}
