package codepkg

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ent is one entry of a test zip.
type ent struct {
	name string
	body string
	mode fs.FileMode // zero means a regular 0644 file
	// hdr, when set, adjusts the header after the mode is set.
	hdr func(*zip.FileHeader)
}

func file(name, body string) ent { return ent{name: name, body: body} }
func dir(name string) ent        { return ent{name: name, mode: fs.ModeDir | 0o755} }
func link(name, target string) ent {
	return ent{name: name, body: target, mode: fs.ModeSymlink | 0o777}
}

// windows marks an entry as written by a Windows tool: FAT creator, no
// Unix mode, only the DOS archive attribute.
func windows(h *zip.FileHeader) {
	h.CreatorVersion = 0x0014
	h.ExternalAttrs = 0x20
}

func buildZip(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		if e.hdr != nil {
			e.hdr(h)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawEnt is an entry written with CreateRaw: its sizes and CRC are
// whatever the test says, true or not.
type rawEnt struct {
	name             string
	method           uint16
	data             []byte // as stored (compressed when method is Deflate)
	crc              uint32
	uncompressedSize uint64
}

func buildRawZip(t testing.TB, ents ...rawEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{
			Name:               e.name,
			Method:             e.method,
			CRC32:              e.crc,
			CompressedSize64:   uint64(len(e.data)),
			UncompressedSize64: e.uncompressedSize,
		}
		h.SetMode(0o644)
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	fw.Close()
	return buf.Bytes()
}

// zerosDeflate is a deflate stream of n zero bytes, built without
// compressing n bytes: a sync-flushed stream of zeros from a fresh
// compressor refers only to itself, so copies of it can be concatenated.
func zerosDeflate(t testing.TB, n int64) []byte {
	t.Helper()
	chunk := func(k int) []byte {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		fw.Write(make([]byte, k))
		fw.Flush()
		return buf.Bytes()
	}
	const mib = 1 << 20
	var out bytes.Buffer
	out.Write(bytes.Repeat(chunk(mib), int(n/mib)))
	if r := n % mib; r > 0 {
		out.Write(chunk(int(r)))
	}
	out.Write([]byte{0x01, 0x00, 0x00, 0xff, 0xff}) // final empty stored block
	return out.Bytes()
}

// zerosCRC is the CRC-32 of n zero bytes.
func zerosCRC(n int64) uint32 {
	var c uint32
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(zero)))
		c = crc32.Update(c, crc32.IEEETable, zero[:k])
		n -= k
	}
	return c
}

// zerosEnt is an entry of n zero bytes, declared honestly.
func zerosEnt(t testing.TB, name string, n int64) rawEnt {
	return rawEnt{name: name, method: zip.Deflate, data: zerosDeflate(t, n), crc: zerosCRC(n), uncompressedSize: uint64(n)}
}

// zerosZip is one entry of n zero bytes.
func zerosZip(t testing.TB, name string, n int64) []byte {
	t.Helper()
	return buildRawZip(t, zerosEnt(t, name, n))
}

// overlappingZip is David Fifield's "better zip bomb": n central directory
// records, with different names, that all point at the one local entry of
// single, a zip of exactly one entry whose name is 5 bytes long.
func overlappingZip(t testing.TB, single []byte, n int) []byte {
	t.Helper()
	end := bytes.LastIndex(single, []byte("PK\x05\x06"))
	cd := bytes.Index(single, []byte("PK\x01\x02"))
	if end < 0 || cd < 0 {
		t.Fatal("not a one-entry zip")
	}
	rec := single[cd:end]
	if binary.LittleEndian.Uint16(rec[28:]) != 5 {
		t.Fatal("entry name must be 5 bytes")
	}
	var out bytes.Buffer
	out.Write(single[:cd])
	for i := range n {
		r := slices.Clone(rec)
		copy(r[46:], fmt.Sprintf("f%04d", i))
		out.Write(r)
	}
	eocd := slices.Clone(single[end : end+22])
	binary.LittleEndian.PutUint16(eocd[8:], uint16(n))
	binary.LittleEndian.PutUint16(eocd[10:], uint16(n))
	binary.LittleEndian.PutUint32(eocd[12:], uint32(n*len(rec)))
	binary.LittleEndian.PutUint32(eocd[16:], uint32(cd))
	out.Write(eocd)
	return out.Bytes()
}

// newStore opens a store in a fresh directory; the test's cleanup copes
// with its read-only trees.
func newStore(t testing.TB) *Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		removeTree(dir)
	})
	return s
}

// listTree describes every path under root, one line each, sorted:
// "path mode size" for files, "path/ mode" for directories,
// "path -> target" for symlinks.
func listTree(t testing.TB, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			lines = append(lines, fmt.Sprintf("%s/ %04o", rel, info.Mode().Perm()))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("%s -> %s", rel, target))
		default:
			lines = append(lines, fmt.Sprintf("%s %04o %d", rel, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), info.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// assertEmpty fails unless the store holds nothing, in pkgs or in tmp.
func assertEmpty(t testing.TB, s *Store) {
	t.Helper()
	for _, d := range []string{s.pkgs, s.tmp} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > 0 {
			t.Errorf("%s holds %d entries after a refused put, want none (first %s)", d, len(entries), entries[0].Name())
		}
	}
}

// assertNoTmp fails if anything is left in the store's tmp.
func assertNoTmp(t testing.TB, s *Store) {
	t.Helper()
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("tmp holds %d entries, want none (first %s)", len(entries), entries[0].Name())
	}
}

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
