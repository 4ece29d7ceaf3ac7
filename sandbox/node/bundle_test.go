package node

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tree lists every path below root, symlinks as "name -> target".
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel += " -> " + target
		}
		out = append(out, rel)
		return nil
	})
	return out
}

// instanceTree is an instance folder with its task/ and opt/, beside a
// folder "outside" that nothing may reach.
func instanceTree(t *testing.T) (inst, outside string) {
	t.Helper()
	root := t.TempDir()
	inst, outside = filepath.Join(root, "inst"), filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(inst, "task"), filepath.Join(inst, "opt"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return inst, outside
}

func TestUnpackBundleRefuses(t *testing.T) {
	file := func(name string) entry { return entry{name: name, typ: tar.TypeReg, body: "pwned"} }
	tests := []struct {
		name    string
		entries []entry
		want    string // in the error
	}{
		{"dot-dot at the top", []entry{file("../x")}, `".." in the path`},
		{"dot-dot inside", []entry{file("task/../../outside/x")}, `".." in the path`},
		{"absolute", []entry{file("/tmp/x")}, "absolute"},
		{"outside task and opt", []entry{file("var/x")}, "outside task/ and opt/"},
		{"symlink climbing out", []entry{{name: "task/l", link: "../../outside", typ: tar.TypeSymlink}, file("task/l/x")}, "points outside its folder"},
		{"symlink to an absolute path", []entry{{name: "task/etc", link: "/etc", typ: tar.TypeSymlink}, file("task/etc/x")}, "absolute path"},
		{"symlink below a symlinked folder", []entry{
			{name: "task/sub/", typ: tar.TypeDir},
			{name: "task/sub/up", link: ".", typ: tar.TypeSymlink},
			{name: "task/sub/up/l", link: "../../outside", typ: tar.TypeSymlink},
		}, "itself a symlink"},
		{"hard link", []entry{{name: "task/h", link: "/etc/passwd", typ: tar.TypeLink}}, "not a regular file, folder or symlink"},
		{"character device", []entry{{name: "task/null", typ: tar.TypeChar}}, "not a regular file, folder or symlink"},
		{"fifo", []entry{{name: "opt/fifo", typ: tar.TypeFifo}}, "not a regular file, folder or symlink"},
		{"a file for the task folder itself", []entry{file("task")}, "in place of a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, outside := instanceTree(t)
			err := unpackBundle(bytes.NewReader(tarOf(t, tt.entries...)), inst)
			var ce *codedError
			if !errors.As(err, &ce) || ce.code != codeBad || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("unpack = %v, want a refusal saying %q", err, tt.want)
			}
			if got := tree(t, outside); len(got) != 0 {
				t.Errorf("written outside the instance folder: %v", got)
			}
			for _, p := range tree(t, inst) {
				if strings.Contains(p, "pwned") || strings.HasSuffix(p, "x") && !strings.HasPrefix(p, "task/") && !strings.HasPrefix(p, "opt/") {
					t.Errorf("unexpected %s in the instance folder", p)
				}
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(inst), "x")); err == nil {
				t.Error("a file x was written beside the instance folder")
			}
		})
	}
}

func TestUnpackBundle(t *testing.T) {
	inst, outside := instanceTree(t)
	bundle := tarOf(t,
		entry{name: "task/", typ: tar.TypeDir},
		entry{name: "task/bootstrap", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o755},
		entry{name: "task/lib/mod.py", typ: tar.TypeReg, body: "x = 1\n"}, // no folder entry first
		entry{name: "task/current", link: "lib", typ: tar.TypeSymlink},
		entry{name: "task/lib/up", link: "../bootstrap", typ: tar.TypeSymlink},
		// Two layers: the second's entries replace the first's, a file by
		// a file, a folder by a file, a file by a folder.
		entry{name: "opt/which", typ: tar.TypeReg, body: "first"},
		entry{name: "opt/python/", typ: tar.TypeDir},
		entry{name: "opt/python/a.py", typ: tar.TypeReg, body: "a"},
		entry{name: "opt/bin", typ: tar.TypeReg, body: "a file"},
		entry{name: "opt/which", typ: tar.TypeReg, body: "second"},
		entry{name: "opt/python", typ: tar.TypeReg, body: "now a file"},
		entry{name: "opt/bin/", typ: tar.TypeDir}, // writeBundle puts a folder before what is in it
		entry{name: "opt/bin/tool", typ: tar.TypeReg, body: "now in a folder"},
	)
	if err := unpackBundle(bytes.NewReader(bundle), inst); err != nil {
		t.Fatal(err)
	}
	want := []string{"opt", "opt/bin", "opt/bin/tool", "opt/python", "opt/which",
		"task", "task/bootstrap", "task/current -> lib", "task/lib", "task/lib/mod.py", "task/lib/up -> ../bootstrap"}
	if got := tree(t, inst); !slices.Equal(got, want) {
		t.Errorf("tree = %v\nwant %v", got, want)
	}
	for f, body := range map[string]string{"opt/which": "second", "opt/python": "now a file", "opt/bin/tool": "now in a folder"} {
		if b, _ := os.ReadFile(filepath.Join(inst, f)); string(b) != body {
			t.Errorf("%s = %q, want %q", f, b, body)
		}
	}
	if st, _ := os.Stat(filepath.Join(inst, "task/bootstrap")); st.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap mode %v, want 0755 as packed", st.Mode().Perm())
	}
	if len(tree(t, outside)) != 0 {
		t.Error("written outside")
	}
}

// TestBindRefusesBadInput sends bad bundles and oversized bodies over the
// link: the agent refuses each with a clear error, and the link lives on.
func TestBindRefusesBadInput(t *testing.T) {
	requireRoot(t)
	r := newRig(t)
	dir := r.agent(t, "node-a", nil)
	n := r.node(t, "node-a")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prepare := func(id string) {
		t.Helper()
		if _, err := n.Prepare(ctx, id, sandbox.InstanceSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	bind := sandbox.Binding{MemoryMB: 128, Cmd: []string{"/bin/true"}}

	// A package with a symlink out of it, as a zip can hold.
	code := codeDir(t)
	if err := os.Symlink("/etc", filepath.Join(code, "etc")); err != nil {
		t.Fatal(err)
	}
	prepare("00000000000000c1")
	b := bind
	b.CodeDir = code
	_, err := n.Bind(ctx, "00000000000000c1", "", b)
	if err == nil || !strings.Contains(err.Error(), "absolute path") || errors.Is(err, ErrLinkDown) {
		t.Errorf("Bind of a package with a symlink to /etc = %v, want the agent's refusal", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "instances", "00000000000000c1", "task", "etc")); err == nil {
		t.Error("the symlink was placed in task/")
	}

	// A bundle made by hand, not by Bind's writer: the agent refuses it
	// itself.
	prepare("00000000000000c2")
	var body bytes.Buffer
	writeJSONFrame(&body, frameMeta, bindMeta{MemoryMB: 128, Cmd: []string{"/bin/true"}})
	body.Write(tarOf(t, entry{name: "task/../../../../x", typ: tar.TypeReg, body: "pwned"}))
	_, err = n.bindBody(ctx, "00000000000000c2", &body)
	if err == nil || !strings.Contains(err.Error(), `".." in the path`) {
		t.Errorf("bind with ../ in the bundle = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("x was written outside the instance folder")
	}

	// A binding's JSON over the control cap.
	prepare("00000000000000c3")
	b = bind
	b.Env = []string{"BIG=" + strings.Repeat("x", maxJSON)}
	_, err = n.Bind(ctx, "00000000000000c3", "", b)
	if err == nil || !strings.Contains(err.Error(), "over its limit of 8388608 bytes") {
		t.Errorf("Bind with %d MB of environment = %v, want a refusal naming the limit", maxJSON>>20, err)
	}
	// An event over the payload cap.
	_, err = n.Invoke(ctx, "00000000000000c3", invocation("big", bytes.Repeat([]byte("x"), 7<<20)))
	if err == nil || !strings.Contains(err.Error(), "payload frame of 7340032 bytes is over its limit") {
		t.Errorf("Invoke with 7 MB = %v, want a refusal naming the limit", err)
	}
	// A bundle over Lambda's unzipped size, refused before it is all read.
	prepare("00000000000000c4")
	body.Reset()
	writeJSONFrame(&body, frameMeta, bindMeta{MemoryMB: 128, Cmd: []string{"/bin/true"}})
	tw := tar.NewWriter(&body)
	tw.WriteHeader(&tar.Header{Name: "task/huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: maxBundleBytes + 1})
	_, err = n.bindBody(ctx, "00000000000000c4", &body) // the header alone: the size is refused first
	if err == nil || !strings.Contains(err.Error(), "over 250 MB unzipped") {
		t.Errorf("bind of a %d byte file = %v, want a refusal naming the limit", maxBundleBytes+1, err)
	}

	select {
	case <-n.Done():
		t.Fatal("the link ended over bad input")
	default:
	}
	prepare("00000000000000c5")
}
