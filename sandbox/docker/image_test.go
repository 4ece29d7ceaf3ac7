package docker

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"lambdalab/sandbox/runtimes"
)

// ensureTestImage builds (or finds) the runtime image once per test binary.
func ensureTestImage(t testing.TB) string {
	t.Helper()
	requireDocker(t)
	imageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		imageRef, imageErr = EnsureImage(ctx, testWriter{t}, false)
	})
	if imageErr != nil {
		t.Fatalf("runtime image: %v", imageErr)
	}
	return imageRef
}

// runInImage runs cmd in a throwaway container of ref (network off) and
// returns its combined output.
func runInImage(t *testing.T, ref string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: cmd, Labels: map[string]string{"lambdalab.test": "1"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, logs)
	return out.String()
}

func TestImageContents(t *testing.T) {
	ref := ensureTestImage(t)
	if !strings.HasPrefix(ref, RuntimeRepo+":") || len(ref) != len(RuntimeRepo)+1+12 {
		t.Errorf("image ref %q, want %s:<12 hex>", ref, RuntimeRepo)
	}
	script := `set -e
/var/lang/bin/python3.13 -c 'import sys, boto3; print("python", sys.version.split()[0], "boto3", boto3.__version__)'
/var/lang/bin/node -e 'console.log("node", process.version)'
id sbx_user1051
for d in /var/task /opt /tmp /var/run/lambdalab /var/runtime; do test -d $d && echo "dir $d"; done
test -f /var/runtime/lambdalab-init && echo init-mountpoint
python3 -c 'import aws_xray_sdk' 2>/dev/null && echo xray-present || echo xray-absent
ls -l /var/runtime/python/bootstrap
`
	out := runInImage(t, ref, "/bin/sh", "-c", script)
	for _, want := range []string{
		"python 3.13.", "boto3 1.", "node v20.", "uid=993(sbx_user1051) gid=993(sbx_user1051)",
		"dir /var/task", "dir /opt", "dir /tmp", "dir /var/run/lambdalab", "dir /var/runtime",
		"init-mountpoint", "xray-absent", "-rwxr-xr-x 1 root root",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("image output lacks %q:\n%s", want, out)
		}
	}
	// Every runtime client file is in /var/runtime with its content.
	fs.WalkDir(runtimes.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(runtimes.FS, p)
		got := runInImage(t, ref, "/bin/cat", "/var/runtime/"+p)
		if got != string(data) {
			t.Errorf("/var/runtime/%s differs from runtimes.FS (%d vs %d bytes)", p, len(got), len(data))
		}
		return nil
	})
}

// TestImageRelayer changes the runtime clients: only the top layer is
// rebuilt (seconds), the base is reused, the tag changes, the stale tag goes.
func TestImageRelayer(t *testing.T) {
	base := ensureTestImage(t)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	var log bytes.Buffer
	b := &imageBuilder{cli: cli, out: io.MultiWriter(&log, testWriter{t}), keepStale: true, clients: fstest.MapFS{
		"python/bootstrap": {Data: []byte("#!/bin/sh\necho changed\n")},
		"python/client.py": {Data: []byte("print('x')\n")},
	}}
	ref, err := b.ensure(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}) })
	if ref == base {
		t.Fatalf("changed clients kept the tag %s", ref)
	}
	if !strings.Contains(log.String(), "is cached") || strings.Contains(log.String(), "debootstrap") {
		t.Errorf("a client change rebuilt the base:\n%s", log.String())
	}
	if out := runInImage(t, ref, "/var/runtime/python/bootstrap"); out != "changed\n" {
		t.Errorf("new bootstrap printed %q", out)
	}
	// Asking again is a no-op that finds the tag.
	log.Reset()
	start := time.Now()
	again, err := b.ensure(ctx, false)
	if err != nil || again != ref {
		t.Fatalf("second ensure = %s, %v; want %s", again, err, ref)
	}
	if !strings.Contains(log.String(), "is ready") {
		t.Errorf("second ensure did not find the image: %s", log.String())
	}
	t.Logf("no-op ensure took %s", time.Since(start))
}

func TestCollectFilesModes(t *testing.T) {
	files, err := collectFiles(fstest.MapFS{
		"nodejs/bootstrap":     {Data: []byte("#!/bin/sh\n")},
		"nodejs/index.mjs":     {Data: []byte("x")},
		"python/bootstrap":     {Data: []byte("#!/bin/sh\n")},
		"python/lambdalab.py":  {Data: []byte("y")},
		"provided/bootstrap":   {Data: []byte("#!/bin/sh\n")},
		"python/sub/helper.py": {Data: []byte("z")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"nodejs/bootstrap": 0o755, "nodejs/index.mjs": 0o644, "provided/bootstrap": 0o755,
		"python/bootstrap": 0o755, "python/lambdalab.py": 0o644, "python/sub/helper.py": 0o644,
	}
	if len(files) != len(want) {
		t.Fatalf("collected %d files, want %d", len(files), len(want))
	}
	for _, f := range files {
		if want[f.name] != f.mode {
			t.Errorf("%s mode %o, want %o", f.name, f.mode, want[f.name])
		}
	}
	d1 := filesDigest(files)
	files[0].data = []byte("#!/bin/sh\n# changed\n")
	if filesDigest(files) == d1 {
		t.Error("digest ignores a content change")
	}
}
