package docker

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"lambdalab/sandbox"
	"lambdalab/sandbox/runtimes"
)

// sharedLayerCache keeps the layer's pins, .debs and zip between test runs,
// so that `make test` fetches from Debian's archive once per machine, not
// every time. A fresh machine fills it on first use.
func sharedLayerCache(t *testing.T) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "lambdalab-test", "xray-layer")
}

func newLayerBuilder(t *testing.T, dir, network string) *layerBuilder {
	t.Helper()
	ref := ensureTestImage(t)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &layerBuilder{cli: cli, image: ref, dir: dir, out: testWriter{t}, network: network}
}

func fileSHA(t *testing.T, p string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), data
}

// TestXRayLayer builds the layer (or finds it in the shared cache), checks
// its layout, rebuilds it offline from the pinned .debs in a fresh cache and
// compares the bytes, then runs the SDK from it as a real layer.
func TestXRayLayer(t *testing.T) {
	ref := ensureTestImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	shared := sharedLayerCache(t)
	t0 := time.Now()
	p, err := BuildXRayLayer(ctx, shared, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("layer %s in %s", p, time.Since(t0).Round(time.Millisecond))
	sum, data := fileSHA(t, p)
	checkLayerZip(t, data)

	// The same pins in a fresh cache, with no network at all: the .debs are
	// unpacked and packed again and give the same bytes.
	fresh := t.TempDir()
	lb := newLayerBuilder(t, fresh, "none")
	os.MkdirAll(lb.debDir(), 0o755)
	pins, err := os.ReadFile(filepath.Join(shared, filepath.Base(lb.pinsPath())))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lb.pinsPath(), pins, 0o644)
	debs, _ := filepath.Glob(filepath.Join(shared, "debs", "*.deb"))
	for _, d := range debs {
		b, _ := os.ReadFile(d)
		os.WriteFile(filepath.Join(lb.debDir(), filepath.Base(d)), b, 0o644)
	}
	p2, err := lb.build(ctx)
	if err != nil {
		t.Fatalf("offline rebuild from pinned .debs: %v", err)
	}
	if sum2, _ := fileSHA(t, p2); sum2 != sum || filepath.Base(p2) != filepath.Base(p) {
		t.Errorf("rebuild from the same .debs: %s sha256 %s, first build %s sha256 %s", filepath.Base(p2), sum2, filepath.Base(p), sum)
	}

	t.Run("image lacks the SDK", func(t *testing.T) {
		out := runInImage(t, ref, "python3", "-c", "import aws_xray_sdk")
		if !strings.Contains(out, "No module named 'aws_xray_sdk'") {
			t.Errorf("the runtime image imports aws_xray_sdk without the layer (DESIGN.md keeps it out): %q", out)
		}
		out = runInImage(t, ref, "python3", "-c", "import pkg_resources")
		if !strings.Contains(out, "No module named 'pkg_resources'") {
			t.Errorf("the runtime image has pkg_resources; the layer is meant to carry it: %q", out)
		}
	})
	t.Run("runs as a layer", func(t *testing.T) { runXRayLayer(t, data) })
}

// checkLayerZip checks the layer's layout, names and modes.
func checkLayerZip(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("layer: %d bytes, %d entries", len(data), len(zr.File))
	have := map[string]bool{}
	prev := ""
	var manifest string
	for _, f := range zr.File {
		have[strings.TrimSuffix(f.Name, "/")] = true
		if !fsValidZipName(strings.TrimSuffix(f.Name, "/")) || !strings.HasPrefix(f.Name, "python/") {
			t.Errorf("entry %q: want a relative name under python/", f.Name)
		}
		if f.Name <= prev {
			t.Errorf("entry %q after %q: entries are not sorted", f.Name, prev)
		}
		prev = f.Name
		if !f.Modified.Equal(zipEpoch) {
			t.Errorf("%s modified %v, want %v", f.Name, f.Modified, zipEpoch)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir() && mode.Perm() != 0o755:
			t.Errorf("directory %s has mode %v, want 0755", f.Name, mode.Perm())
		case mode.IsRegular() && mode.Perm() != 0o644 && mode.Perm() != 0o755:
			t.Errorf("file %s has mode %v, want 0644 or 0755", f.Name, mode.Perm())
		case !mode.IsDir() && !mode.IsRegular():
			t.Errorf("%s is %v, want only files and directories", f.Name, mode)
		}
		if f.Name == XRayLayerManifest {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			manifest = string(b)
		}
	}
	for _, want := range []string{
		"python/aws_xray_sdk/__init__.py", "python/aws_xray_sdk/core/patcher.py", "python/wrapt/__init__.py",
		"python/jsonpickle/__init__.py", "python/pkg_resources/__init__.py", "python/more_itertools",
		"python/jaraco", XRayLayerManifest, xrayLicenseDir + "python3-aws-xray-sdk.copyright",
	} {
		if !have[want] {
			t.Errorf("layer lacks %s", want)
		}
	}
	ext := false
	for name := range have {
		if strings.HasPrefix(name, "python/wrapt/_wrappers.cpython-313-") && strings.HasSuffix(name, ".so") {
			ext = true
		}
		if strings.Contains(name, "__pycache__") || strings.HasPrefix(name, "python/boto") || strings.HasPrefix(name, "python/requests") {
			t.Errorf("layer holds %s, which it should not (byte code, or a package the image has)", name)
		}
	}
	if !ext {
		t.Error("layer lacks wrapt's compiled extension for cpython-313")
	}
	for _, want := range []string{"python3-aws-xray-sdk 0.95-", "python3-wrapt 1.", "python3-jsonpickle ", "python3-pkg-resources "} {
		if !strings.Contains(manifest, "\n"+want) {
			t.Errorf("%s does not list %q:\n%s", XRayLayerManifest, want, manifest)
		}
	}
}

// runXRayLayer extracts the layer and starts the Python runtime client with
// it at /opt, as Lambda does: a handler that imports the SDK and patches
// every library must come up and answer.
func runXRayLayer(t *testing.T, data []byte) {
	layer := t.TempDir()
	os.Chmod(layer, 0o755)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		dst := filepath.Join(layer, filepath.FromSlash(f.Name))
		if f.Mode().IsDir() {
			os.MkdirAll(dst, 0o755)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	code := t.TempDir()
	os.Chmod(code, 0o755)
	// The handler is its own X-Ray daemon: it listens where
	// AWS_XRAY_DAEMON_ADDRESS points and returns the subsegment it got.
	os.WriteFile(filepath.Join(code, "app.py"), []byte(`import json, socket, sys
from aws_xray_sdk.core import xray_recorder, patch_all
patch_all()
import aws_xray_sdk, jsonpickle, pkg_resources, wrapt
VERSION = pkg_resources.get_distribution("aws-xray-sdk").version
from wrapt import _wrappers
import boto3

daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 2999))
daemon.settimeout(5)

@xray_recorder.capture("work")
def work():
    return boto3.client("s3", region_name="us-east-1")

def handler(event, context):
    work()
    header, doc = daemon.recvfrom(65536)[0].split(b"\n", 1)
    doc = json.loads(doc)
    return {"ok": True, "version": VERSION, "sdk": aws_xray_sdk.__file__, "wrapt_ext": _wrappers.__file__,
            "jsonpickle": jsonpickle.__file__, "pkg_resources": pkg_resources.__file__, "python": sys.version,
            "header": json.loads(header), "name": doc.get("name"), "trace_id": doc.get("trace_id")}
`), 0o644)

	cmd, err := runtimes.Command(runtimes.Python313)
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(t)
	bnd := sandbox.Binding{
		AccountID: "123456789012", Function: "xray", Version: "$LATEST",
		CodeDir: code, LayerDirs: []string{layer}, MemoryMB: 256, Cmd: cmd,
		Env: []string{
			"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "_HANDLER=app.handler", "LAMBDA_TASK_ROOT=/var/task",
			"LAMBDA_RUNTIME_DIR=/var/runtime", "PATH=/var/lang/bin:/usr/bin:/bin", "AWS_REGION=us-east-1",
			"AWS_LAMBDA_FUNCTION_NAME=xray", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
			"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2999",
		},
		// Lambda's 10 s would do on an idle machine (init takes about 2.5 s:
		// the layer ships no byte code and /opt is read-only); a busy test
		// machine needs more.
		InitTimeout: 60 * time.Second,
	}
	in := startBound(t, b, sandbox.InstanceSpec{}, bnd)
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outcome, err := in.Invoke(ctx, sandbox.Invocation{
		RequestID: "req-xray", Payload: []byte("{}"), Deadline: time.Now().Add(10 * time.Second),
		TraceID: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := result(t, outcome)
	if got["ok"] != true || got["version"] != "0.95" {
		t.Errorf("handler answered %v, want ok and SDK version 0.95", got)
	}
	if got["name"] != "work" || got["trace_id"] != root {
		t.Errorf("the SDK sent subsegment %v of trace %v, want work of %s (log:\n%s)", got["name"], got["trace_id"], root, outcome.Log)
	}
	for _, k := range []string{"sdk", "wrapt_ext", "jsonpickle", "pkg_resources"} {
		if s, _ := got[k].(string); !strings.HasPrefix(s, "/opt/python/") {
			t.Errorf("%s was imported from %q, want the layer's /opt/python/", k, got[k])
		}
	}
	if s, _ := got["wrapt_ext"].(string); !strings.Contains(s, "cpython-313") {
		t.Errorf("wrapt's extension is %q, want the cpython-313 build", s)
	}
}

// TestXRayLayerNoNetwork: with no route to Debian's archive and nothing
// cached, the build fails and says what to do.
func TestXRayLayerNoNetwork(t *testing.T) {
	lb := newLayerBuilder(t, t.TempDir(), "none")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := lb.build(ctx)
	if err == nil {
		t.Fatalf("build without network gave %s, want an error", p)
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrNoArchive) {
		t.Errorf("error %v, want ErrNoArchive", err)
	}
	for _, want := range []string{"deb.debian.org", "lambdalab xray-layer", "apt-get update failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if zips, _ := filepath.Glob(filepath.Join(lb.dir, "*.zip")); len(zips) > 0 {
		t.Errorf("a failed build left %v", zips)
	}
}

// TestXRayLayerZipPacking: the packing step alone gives the same bytes for
// the same tree, maps files to python/ and licenses, drops documentation,
// and normalizes modes.
func TestXRayLayerZipPacking(t *testing.T) {
	tree := map[string]treeFile{
		"usr/lib/python3/dist-packages/a/__init__.py": {data: []byte("a = 1\n"), mode: 0o600},
		"usr/lib/python3/dist-packages/a/tool":        {data: []byte("#!/bin/sh\n"), mode: 0o700},
		"usr/lib/python3/dist-packages/b.py":          {data: []byte("b = 2\n"), mode: 0o664},
		"usr/share/doc/python3-a/copyright":           {data: []byte("MIT\n"), mode: 0o644},
		"usr/share/doc/python3-a/changelog.Debian.gz": {data: []byte("x"), mode: 0o644},
		"usr/bin/a": {data: []byte("x"), mode: 0o755},
	}
	manifest := []byte("# test\npython3-a 1-1 all sha256:" + strings.Repeat("0", 64) + "\n")
	first, err := layerZip(tree, manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, err := layerZip(tree, manifest)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("two packings of the same tree differ")
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		got = append(got, f.Name+" "+f.Mode().String())
	}
	want := []string{
		"python/ drwxr-xr-x",
		"python/LAMBDALAB-LAYER.txt -rw-r--r--",
		"python/LAMBDALAB-LICENSES/ drwxr-xr-x",
		"python/LAMBDALAB-LICENSES/python3-a.copyright -rw-r--r--",
		"python/a/ drwxr-xr-x",
		"python/a/__init__.py -rw-r--r--",
		"python/a/tool -rwxr-xr-x",
		"python/b.py -rw-r--r--",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := layerZip(map[string]treeFile{"usr/lib/python3/dist-packages/../../etc/passwd": {}}, manifest); err == nil {
		t.Error("a name escaping python/ was packed")
	}
}

func TestXRayLayerPins(t *testing.T) {
	pins := []pin{
		{Package: "python3-a", Version: "1:2.0-1+deb13u1", Arch: "all", SHA256: strings.Repeat("a", 64)},
		{Package: "python3-b", Version: "3-1", Arch: "amd64", SHA256: strings.Repeat("b", 64)},
	}
	back, err := parsePins(formatPins(pins))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0] != pins[0] || back[1] != pins[1] {
		t.Errorf("parsePins(formatPins(%v)) = %v", pins, back)
	}
	if got := pins[0].debFile(); got != "python3-a_1%3a2.0-1+deb13u1_all.deb" {
		t.Errorf("debFile = %q", got)
	}
	for _, bad := range []string{"", "# only a comment\n", "python3-a 1 all\n", "python3-a 1 all md5:00\n"} {
		if _, err := parsePins([]byte(bad)); err == nil {
			t.Errorf("parsePins(%q) accepted it", bad)
		}
	}
}
