package codepkg

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const unzipMsg = "Could not unzip uploaded file. Please check your file, then try to upload again."

func TestPutRefuses(t *testing.T) {
	valid := buildZip(t, file("index.py", strings.Repeat("def handler(e, c): return 1\n", 50)))
	stored := []byte("hello, world")
	longName := strings.Repeat("a/", 2048) + "bc"
	tests := []struct {
		name     string
		zip      func(t *testing.T) []byte
		budget   int64 // zero means MaxUnzipped
		wantType string
		wantMsg  string
	}{
		// Not readable as a zip at all: Lambda's one message.
		{name: "not a zip", zip: func(*testing.T) []byte { return []byte("#!/bin/sh\necho hi\n") },
			wantMsg: unzipMsg},
		{name: "no bytes", zip: func(*testing.T) []byte { return nil }, wantMsg: unzipMsg},
		{name: "truncated", zip: func(*testing.T) []byte { return valid[:len(valid)-10] }, wantMsg: unzipMsg},
		{name: "body cut off", zip: func(t *testing.T) []byte {
			z := bytes.Clone(valid)
			// Keep the directory but zero the deflate stream.
			i := bytes.Index(z, []byte("index.py")) + len("index.py")
			for j := i; j < i+40; j++ {
				z[j] = 0
			}
			return z
		}, wantMsg: unzipMsg},
		{name: "crc mismatch", zip: func(t *testing.T) []byte {
			return buildRawZip(t, rawEnt{name: "a.txt", method: zip.Store, data: stored, crc: crc(stored) ^ 1, uncompressedSize: uint64(len(stored))})
		}, wantMsg: unzipMsg},
		{name: "unknown compression method", zip: func(t *testing.T) []byte {
			return buildRawZip(t, rawEnt{name: "a.txt", method: 99, data: stored, crc: crc(stored), uncompressedSize: uint64(len(stored))})
		}, wantMsg: unzipMsg},
		{name: "encrypted", zip: func(t *testing.T) []byte {
			return buildZip(t, ent{name: "a.txt", body: "x", hdr: func(h *zip.FileHeader) { h.Flags |= 1 }})
		}, wantMsg: unzipMsg},
		{name: "header claims fewer bytes than inflate", zip: func(t *testing.T) []byte {
			big := make([]byte, 10<<20)
			return buildRawZip(t, rawEnt{name: "a.bin", method: zip.Deflate, data: deflate(t, big), crc: crc(big[:10]), uncompressedSize: 10})
		}, wantMsg: unzipMsg},
		{name: "header claims more bytes than inflate", zip: func(t *testing.T) []byte {
			return buildRawZip(t, rawEnt{name: "a.txt", method: zip.Store, data: stored, crc: crc(stored), uncompressedSize: 1 << 20})
		}, wantMsg: unzipMsg},

		// Zip slip.
		{name: "dotdot", zip: zipOf(file("../../x", "x")), wantMsg: `Archive entry "../../x" escapes the package`},
		{name: "dotdot inside", zip: zipOf(file("a/../../x", "x")), wantMsg: `Archive entry "a/../../x" escapes the package`},
		{name: "dotdot backslashes", zip: zipOf(file(`..\..\x`, "x")), wantMsg: `Archive entry "..\\..\\x" escapes the package`},
		{name: "dotdot dir entry", zip: zipOf(dir("../")), wantMsg: `Archive entry "../" escapes the package`},
		{name: "absolute", zip: zipOf(file("/etc/x", "x")), wantMsg: `Archive entry "/etc/x" escapes the package`},
		{name: "absolute root dir", zip: zipOf(dir("/")), wantMsg: `Archive entry "/" escapes the package`},
		{name: "drive", zip: zipOf(file(`C:\x`, "x")), wantMsg: `Archive entry "C:\\x" escapes the package`},
		{name: "drive relative", zip: zipOf(file("c:x", "x")), wantMsg: `Archive entry "c:x" escapes the package`},
		{name: "unc", zip: zipOf(file(`\\server\share\x`, "x")), wantMsg: `Archive entry "\\\\server\\share\\x" escapes the package`},
		{name: "nul", zip: zipOf(file("a\x00/../../b", "x")), wantMsg: `Archive entry "a\x00/../../b" has an invalid name`},
		{name: "dot as a file", zip: zipOf(file(".", "x")), wantMsg: `Archive entry "." has an invalid name`},
		{name: "empty name", zip: zipOf(file("", "x")), wantMsg: `Archive entry "" has an invalid name`},
		{name: "name too long", zip: zipOf(file(longName, "x")),
			wantMsg: `Archive entry "` + longName[:200] + `"... has a name longer than 4096 bytes`},
		{name: "element too long", zip: zipOf(file("a/"+strings.Repeat("b", 256), "x")),
			wantMsg: `Archive entry "a/` + strings.Repeat("b", 198) + `"... has a path element longer than 255 bytes`},

		{name: "too deep", zip: zipOf(file(strings.Repeat("d/", 128)+"x", "x")),
			wantMsg: `Archive entry "` + strings.Repeat("d/", 100) + `"... is nested more than 128 levels deep`},

		// Names that clash once cleaned.
		{name: "file then file inside it", zip: zipOf(file("a", "x"), file("a/b", "y")),
			wantMsg: `Archive entry "a/b" clashes with an earlier entry of another type`},
		{name: "dir then file", zip: zipOf(dir("a/"), file("a", "x")),
			wantMsg: `Archive entry "a" clashes with an earlier entry of another type`},
		{name: "implied dir then file", zip: zipOf(file("a/b", "x"), file("./a", "y")),
			wantMsg: `Archive entry "./a" clashes with an earlier entry of another type`},
		{name: "file then symlink", zip: zipOf(file("a", "x"), link("a", "b")),
			wantMsg: `Archive entry "a" clashes with an earlier entry of another type`},
		{name: "backslash file then slash dir", zip: zipOf(file(`a\b`, "x"), file("a/b/c", "y")),
			wantMsg: `Archive entry "a/b/c" clashes with an earlier entry of another type`},

		// Symlinks.
		{name: "symlink absolute", zip: zipOf(link("l", "/etc/passwd")), wantMsg: `Symlink "l" points outside the package`},
		{name: "symlink up", zip: zipOf(link("l", "../x")), wantMsg: `Symlink "l" points outside the package`},
		{name: "symlink up from a subdir", zip: zipOf(link("a/b/l", "../../../x")), wantMsg: `Symlink "a/b/l" points outside the package`},
		{name: "symlink up with backslashes", zip: zipOf(link("l", `..\x`)), wantMsg: `Symlink "l" points outside the package`},
		{name: "symlink up through a dotdot after a dir", zip: zipOf(dir("a/"), link("l", "a/../../x")), wantMsg: `Symlink "l" points outside the package`},
		{name: "symlink up through another symlink", zip: zipOf(dir("a/b/"), link("a/b/l", "../.."), link("m", "a/b/l/..")),
			wantMsg: `Symlink "m" points outside the package`},
		{name: "symlink up through a later symlink", zip: zipOf(link("m", "x/y/.."), link("x/y", "../..")),
			wantMsg: `Symlink "m" points outside the package`},
		{name: "symlink to the parent of a linked root", zip: zipOf(link("r", "."), link("m", "r/r/r/..")),
			wantMsg: `Symlink "m" points outside the package`},
		{name: "entry through an outside symlink", zip: zipOf(link("etc", "/etc"), file("etc/passwd", "root::0:0::/:/bin/sh\n")),
			wantMsg: `Archive entry "etc/passwd" lies inside symlink "etc"`},
		{name: "entry through an inside symlink", zip: zipOf(dir("real/"), link("d", "real"), file("d/x", "x")),
			wantMsg: `Archive entry "d/x" lies inside symlink "d"`},
		{name: "dir entry through a symlink", zip: zipOf(link("d", "."), dir("d/sub/")),
			wantMsg: `Archive entry "d/sub/" lies inside symlink "d"`},
		{name: "symlink loop", zip: zipOf(link("a", "b"), link("b", "a")), wantMsg: `Symlink "a" goes through more than 40 symlinks`},
		{name: "symlink to itself", zip: zipOf(link("a", "a/x")), wantMsg: `Symlink "a" goes through more than 40 symlinks`},
		{name: "symlink empty target", zip: zipOf(link("l", "")), wantMsg: `Symlink "l" has an empty, overlong or invalid target`},
		{name: "symlink nul target", zip: zipOf(link("l", "a\x00b")), wantMsg: `Symlink "l" has an empty, overlong or invalid target`},
		{name: "symlink target too long", zip: zipOf(link("l", strings.Repeat("a", 4096))), wantMsg: `Symlink "l" has an empty, overlong or invalid target`},

		// Special files.
		{name: "block device", zip: zipOf(ent{name: "sda", mode: fs.ModeDevice | 0o660}),
			wantMsg: `Archive entry "sda" is not a regular file, directory or symlink`},
		{name: "char device", zip: zipOf(ent{name: "dev/mem", mode: fs.ModeDevice | fs.ModeCharDevice | 0o640}),
			wantMsg: `Archive entry "dev/mem" is not a regular file, directory or symlink`},
		{name: "fifo", zip: zipOf(ent{name: "pipe", mode: fs.ModeNamedPipe | 0o644}),
			wantMsg: `Archive entry "pipe" is not a regular file, directory or symlink`},
		{name: "socket", zip: zipOf(ent{name: "sock", mode: fs.ModeSocket | 0o777}),
			wantMsg: `Archive entry "sock" is not a regular file, directory or symlink`},

		// Size and count.
		{name: "over budget", zip: zipOf(file("a", strings.Repeat("x", 600)), file("b", strings.Repeat("y", 401))), budget: 1000,
			wantMsg: "Unzipped size must be smaller than 1000 bytes"},
		{name: "over the quota", zip: func(t *testing.T) []byte { return zerosZip(t, "zeros", MaxUnzipped+1) },
			wantMsg: "Unzipped size must be smaller than 262144000 bytes"},
		{name: "budget above the quota is the quota", zip: func(t *testing.T) []byte { return zerosZip(t, "zeros", MaxUnzipped+1) },
			budget: MaxUnzipped * 4, wantMsg: "Unzipped size must be smaller than 262144000 bytes"},
		{name: "too many entries", zip: func(t *testing.T) []byte {
			ents := make([]ent, MaxEntries+1)
			for i := range ents {
				ents[i] = ent{name: "f" + strconv.Itoa(i), hdr: func(h *zip.FileHeader) { h.Method = zip.Store }}
			}
			return buildZip(t, ents...)
		}, wantMsg: "The archive has more than 100000 entries"},
		{name: "zipped too large", zip: func(*testing.T) []byte { return make([]byte, MaxZipped+1) },
			wantType: RequestEntityTooLarge, wantMsg: "Zipped size must be smaller than 52428800 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			budget := tt.budget
			if budget == 0 {
				budget = MaxUnzipped
			}
			_, err := s.Put(context.Background(), tt.zip(t), budget)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Put = %v, want a refusal %q", err, tt.wantMsg)
			}
			wantType, wantStatus := tt.wantType, 413
			if wantType == "" {
				wantType, wantStatus = InvalidParameterValue, 400
			}
			if e.Type != wantType || e.Status != wantStatus || e.Message != tt.wantMsg {
				t.Errorf("Put refused with\n %s %d %q\nwant\n %s %d %q", e.Type, e.Status, e.Message, wantType, wantStatus, tt.wantMsg)
			}
			assertEmpty(t, s)
		})
	}
}

// deepListing is listTree's lines below "d/" for a file x under n
// directories named d.
func deepListing(n int) string {
	var b strings.Builder
	b.WriteString("/ 0555")
	p := "d"
	for range n - 1 {
		p += "/d"
		b.WriteString("\n" + p + "/ 0555")
	}
	b.WriteString("\n" + p + "/x 0444 1")
	return b.String()
}

func zipOf(ents ...ent) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return buildZip(t, ents...) }
}

// TestPutAccepts covers archives that look odd but are fine, and the tree
// each one gives.
func TestPutAccepts(t *testing.T) {
	tests := []struct {
		name string
		zip  []byte
		want string
	}{
		{name: "empty zip", zip: buildZip(t), want: ""},
		{name: "only the root dir", zip: buildZip(t, dir("./")), want: ""},
		{name: "parents without dir records", zip: buildZip(t, file("a/b/c.txt", "c")),
			want: "a/ 0555\na/b/ 0555\na/b/c.txt 0444 1"},
		{name: "names cleaned", zip: buildZip(t, file("./a//b/./c.txt", "c"), dir("a/")),
			want: "a/ 0555\na/b/ 0555\na/b/c.txt 0444 1"},
		{name: "backslashes are separators", zip: buildZip(t, file(`lib\util.py`, "u")),
			want: "lib/ 0555\nlib/util.py 0444 1"},
		{name: "colon after the first byte", zip: buildZip(t, file("ab:c", "x")), want: "ab:c 0444 1"},
		{name: "later duplicate wins", zip: buildZip(t, file("a.py", "first version"), file("./a.py", "second")),
			want: "a.py 0444 6"},
		{name: "dir given twice", zip: buildZip(t, dir("d/"), file("d/x", "x"), dir("d/")),
			want: "d/ 0555\nd/x 0444 1"},
		{name: "symlink within", zip: buildZip(t, file("v1/lib.py", "x"), link("current", "v1")),
			want: "current -> v1\nv1/ 0555\nv1/lib.py 0444 1"},
		{name: "symlink up then down", zip: buildZip(t, file("a/x", "x"), link("b/l", "../a/x")),
			want: "a/ 0555\na/x 0444 1\nb/ 0555\nb/l -> ../a/x"},
		{name: "symlink to the root", zip: buildZip(t, link("a/b/root", "../..")),
			want: "a/ 0555\na/b/ 0555\na/b/root -> ../.."},
		{name: "symlink dangling", zip: buildZip(t, link("l", "missing/../../..")), want: "l -> missing/../../.."},
		{name: "symlink past a file stops", zip: buildZip(t, file("f", "x"), link("l", "f/../..")),
			want: "f 0444 1\nl -> f/../.."},
		{name: "symlink chain", zip: buildZip(t, file("d/x", "x"), link("l1", "l2"), link("l2", "d"), link("l3", "l1/x")),
			want: "d/ 0555\nd/x 0444 1\nl1 -> l2\nl2 -> d\nl3 -> l1/x"},
		{name: "symlink through a link to a deeper dir", zip: buildZip(t, file("a/b/x", "x"), link("l", "a/b"), link("m", "l/../b/x")),
			want: "a/ 0555\na/b/ 0555\na/b/x 0444 1\nl -> a/b\nm -> l/../b/x"},
		{name: "symlink target of the longest length", zip: buildZip(t, link("l", strings.Repeat("a", 4095))),
			want: "l -> " + strings.Repeat("a", 4095)},
		{name: "deepest", zip: buildZip(t, file(strings.Repeat("d/", 127)+"x", "x")),
			want: strings.TrimSuffix(strings.Repeat("d/", 1), "/") + deepListing(127)},
		{name: "symlink with backslashes", zip: buildZip(t, file("a/x", "x"), link("l", `a\x`)),
			want: "a/ 0555\na/x 0444 1\nl -> a/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			pkg, err := s.Put(context.Background(), tt.zip, MaxUnzipped)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			d, err := s.Dir(pkg.Sha256)
			if err != nil {
				t.Fatal(err)
			}
			if got := listTree(t, d); got != tt.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tt.want)
			}
			assertNoTmp(t, s)
		})
	}
}

func TestPutLongestName(t *testing.T) {
	// 17 elements, 4096 bytes in all: longer than the kernel
	// takes in one path, so this only works because os.Root walks the
	// elements one by one.
	name := strings.Repeat(strings.Repeat("n", 255)+"/", 16)[:4094] + "/x"
	if len(name) != MaxNameLen {
		t.Fatalf("name is %d bytes", len(name))
	}
	s := newStore(t)
	pkg, err := s.Put(context.Background(), buildZip(t, file(name, "deep")), MaxUnzipped)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	d, _ := s.Dir(pkg.Sha256)
	root, err := os.OpenRoot(d)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if b, err := root.ReadFile(name); err != nil || string(b) != "deep" {
		t.Errorf("reading the deepest file: %q, %v", b, err)
	}
}

// TestPutHappyPath is the golden case: what a learner's real package
// turns into, byte for byte and mode for mode.
func TestPutHappyPath(t *testing.T) {
	s := newStore(t)
	ents := []ent{
		dir("pkg/"),
		file("pkg/__init__.py", ""),
		file("pkg/util.py", "def add(a, b):\n    return a + b\n"),
		file("index.py", "from pkg.util import add\n\ndef handler(event, context):\n    return add(1, 2)\n"),
		ent{name: "bootstrap", body: "#!/bin/sh\nexec python3 index.py\n", mode: 0o755},
		ent{name: "bin/tool", body: "\x7fELF", mode: 0o4750}, // setuid, group-only x
		ent{name: "secret.txt", body: "owner only", mode: 0o600},
		file("données/émoji-🦀.txt", "unicode"),
		ent{name: "win/readme.txt", body: "from windows", hdr: windows},
		ent{name: "win/bootstrap", body: "#!/bin/sh\n", hdr: windows},
		link("lib/current", "../pkg"),
		dir("empty/"),
	}
	z := buildZip(t, ents...)
	var unzipped int64
	for _, e := range ents {
		if e.mode&(fs.ModeDir|fs.ModeSymlink) == 0 {
			unzipped += int64(len(e.body))
		}
	}
	pkg, err := s.Put(context.Background(), z, MaxUnzipped)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	sum := sha256.Sum256(z)
	want := Package{Sha256: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(z)), UnzippedSize: unzipped}
	if pkg != want {
		t.Errorf("Put = %+v, want %+v", pkg, want)
	}
	if got, err := s.Stat(pkg.Sha256); err != nil || got != want {
		t.Errorf("Stat = %+v, %v, want %+v", got, err, want)
	}

	d, err := s.Dir(pkg.Sha256)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(d) {
		t.Errorf("Dir = %q, want an absolute path", d)
	}
	wantTree := strings.Join([]string{
		"bin/ 0555",
		"bin/tool 0555 4",
		"bootstrap 0555 32",
		"données/ 0555",
		"données/émoji-🦀.txt 0444 7",
		"empty/ 0555",
		"index.py 0444 76",
		"lib/ 0555",
		"lib/current -> ../pkg",
		"pkg/ 0555",
		"pkg/__init__.py 0444 0",
		"pkg/util.py 0444 32",
		"secret.txt 0444 10",
		"win/ 0555",
		"win/bootstrap 0444 10",
		"win/readme.txt 0444 12",
	}, "\n")
	if got := listTree(t, d); got != wantTree {
		t.Errorf("tree:\n%s\nwant:\n%s", got, wantTree)
	}
	if info, err := os.Stat(d); err != nil || info.Mode().Perm() != 0o555 {
		t.Errorf("tree root mode = %v, %v, want 0555", info.Mode(), err)
	}
	b, err := os.ReadFile(filepath.Join(d, "lib/current/util.py"))
	if err != nil || !strings.Contains(string(b), "return a + b") {
		t.Errorf("reading through the package's own symlink: %q, %v", b, err)
	}
	info, err := os.Stat(filepath.Join(d, "index.py"))
	if err != nil || !info.ModTime().Equal(time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)) {
		t.Errorf("index.py mtime = %v, %v, want the zip's 2024-05-06 07:08:10", info.ModTime(), err)
	}

	// The sandbox user is another uid: everything must be readable (and
	// directories searchable) by "other", and nothing writable or setuid.
	filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, _ := de.Info()
		m := info.Mode()
		if m&0o004 == 0 || (de.IsDir() && m&0o001 == 0) {
			t.Errorf("%s mode %v: not readable by another uid", p, m)
		}
		if m&0o222 != 0 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s mode %v: writable or setuid", p, m)
		}
		return nil
	})

	f, err := s.Open(pkg.Sha256)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := io.ReadAll(f); !bytes.Equal(got, z) {
		t.Errorf("Open gives %d bytes that differ from the %d uploaded", len(got), len(z))
	}
	assertNoTmp(t, s)
}

func TestBudget(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	z := buildZip(t, file("a", strings.Repeat("a", 600)), file("b", strings.Repeat("b", 400)))
	if _, err := s.Put(ctx, z, 999); err == nil || err.Error() != InvalidParameterValue+": Unzipped size must be smaller than 999 bytes" {
		t.Errorf("Put over budget = %v", err)
	}
	pkg, err := s.Put(ctx, z, 1000)
	if err != nil || pkg.UnzippedSize != 1000 {
		t.Fatalf("Put exactly at budget = %+v, %v", pkg, err)
	}
	// Stored already: the budget still applies (the layers may have grown).
	_, err = s.Put(ctx, z, 500)
	if e := (*Error)(nil); !errors.As(err, &e) || e.Message != "Unzipped size must be smaller than 500 bytes" {
		t.Errorf("second Put with less room = %v", err)
	}
	if _, err := s.Put(ctx, z, -5); err == nil || !strings.Contains(err.Error(), "smaller than 0 bytes") {
		t.Errorf("Put with a negative budget = %v, want a refusal naming 0", err)
	}
	if _, err := s.Put(ctx, buildZip(t, file("empty", "")), 0); err != nil {
		t.Errorf("Put of an empty file with budget 0 = %v", err)
	}
}

// TestZipBombs feeds bombs through both lines of defence: the early check
// on declared sizes and the byte counter behind it.
func TestZipBombs(t *testing.T) {
	gig := zerosZip(t, "zeros.bin", 1<<30)
	one := zerosEnt(t, "", 1<<20)
	var many []rawEnt
	for i := range 2000 {
		e := one
		e.name = "f" + strconv.Itoa(i)
		many = append(many, e)
	}
	manyZip := buildRawZip(t, many...)
	overlap := overlappingZip(t, zerosZip(t, "f0000", 10<<20), 1000)
	bombs := []struct {
		name string
		zip  []byte
	}{
		{"1 GiB of zeros", gig},
		{"2000 entries of 1 MiB", manyZip},
		{"1000 records over one 10 MiB entry", overlap},
	}
	const budget = 5 << 20
	for _, b := range bombs {
		for _, declared := range []bool{true, false} {
			name := b.name + "/counted"
			if declared {
				name = b.name + "/declared"
			}
			t.Run(name, func(t *testing.T) {
				if len(b.zip) > 4<<20 {
					t.Fatalf("bomb is %d bytes zipped; it should be small", len(b.zip))
				}
				s := newStore(t)
				s.checkDeclared = declared
				_, err := s.Put(context.Background(), b.zip, budget)
				if e := (*Error)(nil); !errors.As(err, &e) || e.Message != "Unzipped size must be smaller than 5242880 bytes" {
					t.Fatalf("Put = %v, want the unzipped-size refusal", err)
				}
				assertEmpty(t, s)
			})
		}
	}
}

// TestCopyCappedNeverPassesBudget checks the byte counter on its own: a
// source that never ends is cut off before the budget, not after.
func TestCopyCappedNeverPassesBudget(t *testing.T) {
	for _, room := range []int64{0, 1, 65535, 65536, 65537, 1 << 20} {
		var w countWriter
		n, err := copyCapped(context.Background(), &w, endless{}, make([]byte, 64<<10), room)
		if !errors.Is(err, errOverBudget) || n != int64(w) || n > room {
			t.Errorf("copyCapped(room %d) = %d, %v; wrote %d", room, n, err, w)
		}
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

func TestOpenZipCountsBeforeParsing(t *testing.T) {
	// A directory far over the cap is refused by the signature count,
	// before archive/zip allocates a record for each entry.
	sig := bytes.Repeat([]byte("PK\x01\x02"), 2*MaxEntries+1)
	if _, err := openZip(sig); err == nil || !strings.Contains(err.Error(), "more than 100000 entries") {
		t.Errorf("openZip = %v", err)
	}
}
