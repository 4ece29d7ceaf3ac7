package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"lambdalab/sandbox"
	"lambdalab/sandbox/cgroupv1"
)

// The init binary is built once per test binary (TestMain); the image is
// ensured once, on first use. LAMBDALAB_TEST_INIT names a prebuilt init to
// use instead of building lambdalab/sandbox/init.
var (
	initBinary string
	initErr    error

	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdalab-docker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if p := os.Getenv("LAMBDALAB_TEST_INIT"); p != "" {
		initBinary = p
	} else {
		initBinary = filepath.Join(dir, "lambdalab-init")
		cmd := exec.Command("go", "build", "-o", initBinary, "lambdalab/sandbox/init")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			initErr = fmt.Errorf("build lambdalab/sandbox/init: %v: %s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireDocker skips the test when no Docker engine answers, or fails it
// when LAMBDALAB_REQUIRE_DOCKER=1 (as `make test` sets).
func requireDocker(t testing.TB) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
		cli.Close()
	}
	if err == nil {
		return
	}
	if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
		t.Fatalf("Docker is required (LAMBDALAB_REQUIRE_DOCKER=1) but no engine answers: %v", err)
	}
	t.Skipf("no Docker engine answers (%v): start one with scripts/deps.sh docker", err)
}

// newBackend returns a Backend on a fresh data directory, with the runtime
// image built and the init binary ready.
func newBackend(t testing.TB) *Backend {
	t.Helper()
	ensureTestImage(t)
	if initErr != nil {
		t.Fatal(initErr)
	}
	// A short data directory: the socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "llt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := New(context.Background(), Options{
		Image:      imageRef,
		InitBinary: initBinary,
		DataDir:    dir,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// codeDir holds the test runtime (testdata/handler.py) as /var/task content.
func codeDir(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("testdata/handler.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "handler.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func binding(t testing.TB, memMB int) sandbox.Binding {
	return sandbox.Binding{
		AccountID: "123456789012",
		Function:  "test",
		Version:   "$LATEST",
		CodeDir:   codeDir(t),
		MemoryMB:  memMB,
		// No CPU quota unless a test is about it: hostile loops at 0.072
		// CPU only make the suite slow.
		Cmd:         []string{"/var/lang/bin/python3.13", "-u", "/var/task/handler.py"},
		Env:         []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "PATH=/var/lang/bin:/usr/bin:/bin"},
		InitTimeout: 10 * time.Second,
	}
}

// startBound starts an instance, binds the test runtime and checks that init
// succeeded. The instance is closed when the test ends.
func startBound(t testing.TB, b *Backend, spec sandbox.InstanceSpec, bnd sandbox.Binding) *Instance {
	t.Helper()
	ctx := context.Background()
	si, err := b.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	in := si.(*Instance)
	t.Cleanup(func() { in.Close(ctx) })
	res, err := in.Bind(ctx, bnd)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusSuccess {
		t.Fatalf("init status %q (exit %q), log:\n%s", res.Status, res.Exit, res.Log)
	}
	return in
}

var reqN int

// invoke sends op (a JSON object) and returns the outcome.
func invoke(t testing.TB, in *Instance, timeout time.Duration, event map[string]any) sandbox.Outcome {
	t.Helper()
	payload, _ := json.Marshal(event)
	reqN++
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := in.Invoke(ctx, sandbox.Invocation{
		RequestID: fmt.Sprintf("req-%d", reqN),
		Payload:   payload,
		Deadline:  time.Now().Add(timeout),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// result decodes a successful outcome's payload.
func result(t testing.TB, out sandbox.Outcome) map[string]any {
	t.Helper()
	if out.Status != sandbox.StatusSuccess {
		t.Fatalf("outcome %q (exit %q), payload %s, log:\n%.2000s", out.Status, out.Exit, out.Payload, out.Log)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Payload, &m); err != nil {
		t.Fatalf("payload %q: %v", out.Payload, err)
	}
	return m
}

func TestBindAndInvoke(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 256))
	got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "echo", "value": "hello"}))
	if got["echo"] != "hello" || got["uid"] != 993.0 || got["gid"] != 993.0 || got["cwd"] != "/var/task" {
		t.Errorf("echo = %v, want hello as uid/gid 993 in /var/task", got)
	}
	// A second invocation on the same (warm) instance.
	got = result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "echo", "value": 2}))
	if got["echo"] != 2.0 {
		t.Errorf("second echo = %v", got)
	}
	peak, err := in.MaxMemoryUsed(context.Background())
	if err != nil || peak < 1<<20 || peak > 256<<20 {
		t.Errorf("MaxMemoryUsed = %d, %v; want between 1 MiB and the 256 MB limit", peak, err)
	}
	info, err := in.Close(context.Background())
	if err != nil || info.OOMKilled {
		t.Errorf("Close = %+v, %v; want no OOM, no error", info, err)
	}
	if _, err := os.Stat(in.dir); !os.IsNotExist(err) {
		t.Errorf("instance dir %s still there after Close (%v)", in.dir, err)
	}
	if _, err := b.cli.ContainerInspect(context.Background(), in.containerID); !client.IsErrNotFound(err) {
		t.Errorf("container still there after Close: %v", err)
	}
}

// TestMemoryUpdate checks that Bind lowers and raises the limit set at Start.
func TestMemoryUpdate(t *testing.T) {
	b := newBackend(t)
	for _, mb := range []int{128, 2048} {
		t.Run(strconv.Itoa(mb), func(t *testing.T) {
			bnd := binding(t, mb)
			bnd.NanoCPUs = int64(mb) * 1e9 / 1769
			in := startBound(t, b, sandbox.InstanceSpec{}, bnd)
			want := int64(mb) << 20
			dir := b.cgroupDir("memory", in.containerID)
			if dir == "" {
				// The engine's API is the only way here: its record must say so.
				st, err := b.cli.ContainerInspect(context.Background(), in.containerID)
				if err != nil {
					t.Fatal(err)
				}
				if st.HostConfig.Memory != want || st.HostConfig.MemorySwap != want {
					t.Errorf("Memory, MemorySwap = %d, %d; want %d for both", st.HostConfig.Memory, st.HostConfig.MemorySwap, want)
				}
			} else {
				// The kernel's limits are what count (the engine's record
				// keeps the start value when the cgroup files are written).
				for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
					data, _ := os.ReadFile(filepath.Join(dir, f))
					if strings.TrimSpace(string(data)) != strconv.FormatInt(want, 10) {
						t.Errorf("cgroup %s = %s, want %d", f, data, want)
					}
				}
				quota, _ := os.ReadFile(filepath.Join(b.cgroupDir("cpu", in.containerID), "cpu.cfs_quota_us"))
				if q, _ := strconv.Atoi(strings.TrimSpace(string(quota))); q != int(int64(mb)*1e9/1769*cgroupv1.CFSPeriod/1e9) {
					t.Errorf("cpu.cfs_quota_us = %s for %d MB", quota, mb)
				}
			}
		})
	}
}

func TestOutOfMemory(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	out := invoke(t, in, 30*time.Second, map[string]any{"op": "alloc", "mb": 400})
	if out.Status != sandbox.StatusExit || out.Exit != "signal: killed" {
		t.Fatalf("alloc 400 MB at 128 MB: outcome %q exit %q payload %s; want exit \"signal: killed\"", out.Status, out.Exit, out.Payload)
	}
	peak, err := in.MaxMemoryUsed(context.Background())
	if err != nil || peak < 120<<20 {
		t.Errorf("MaxMemoryUsed = %d, %v; want close to 128 MB", peak, err)
	}
	info, err := in.Close(context.Background())
	if err != nil || !info.OOMKilled {
		t.Errorf("Close = %+v, %v; want OOMKilled", info, err)
	}
	if !in.oomKilled.Load() {
		t.Errorf("the memory cgroup's oom_kill counter was not seen")
	}
	// The peak outlives the container (the REPORT line is written after).
	if after, err := in.MaxMemoryUsed(context.Background()); err != nil || after < peak {
		t.Errorf("MaxMemoryUsed after Close = %d, %v; want %d", after, err, peak)
	}
}

func TestTmpSize(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{EphemeralMB: 512}, binding(t, 128))
	if !in.loopTmp {
		t.Log("loop mounts unavailable here: /tmp is a tmpfs charged to memory")
	}
	// A 128 MB function fills most of its 512 MB /tmp without being OOM-killed.
	got := result(t, invoke(t, in, 60*time.Second, map[string]any{"op": "write", "path": "/tmp/big", "mb": 480}))
	if got["error"] != nil || got["written"] != float64(480<<20) {
		t.Errorf("write 480 MB to /tmp at 128 MB = %v, want all written", got)
	}
	got = result(t, invoke(t, in, 60*time.Second, map[string]any{"op": "write", "path": "/tmp/more", "mb": 100}))
	if got["error"] != "ENOSPC" {
		t.Errorf("write past 512 MB = %v, want ENOSPC", got)
	}
	// Still alive and answering.
	result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "echo"}))
	if info, _ := in.Close(context.Background()); info.OOMKilled {
		t.Errorf("filling /tmp got the instance OOM-killed")
	}
}

// TestTmpKinds checks the size and kind of /tmp: a loop-mounted ext4 where
// loop devices work, and the tmpfs fallback.
func TestTmpKinds(t *testing.T) {
	for _, tc := range []struct {
		noLoop bool
		kind   string
	}{{false, "ext4"}, {true, "tmpfs"}} {
		t.Run(tc.kind, func(t *testing.T) {
			b := newBackend(t)
			b.noLoop = tc.noLoop
			in := startBound(t, b, sandbox.InstanceSpec{EphemeralMB: 600}, binding(t, 128))
			got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "statvfs", "path": "/tmp"}))
			size := int64(got["bytes"].(float64))
			if got["type"] != tc.kind || size < 560<<20 || size > 600<<20 {
				t.Errorf("/tmp = %v, want %s of about 600 MB", got, tc.kind)
			}
			if free := int64(got["free"].(float64)); free < 550<<20 {
				t.Errorf("/tmp has %d bytes free of %d, want nearly all", free, size)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	for _, p := range []string{"/var/task/x", "/x", "/opt/x", "/var/runtime/x", "/var/run/lambdalab/x"} {
		got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "write", "path": p}))
		if got["error"] != "EROFS" {
			t.Errorf("write %s = %v, want EROFS", p, got)
		}
	}
	got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "write", "path": "/dev/shm/x"}))
	if got["error"] == nil {
		t.Errorf("write /dev/shm/x = %v, want an error (IpcMode none)", got)
	}
}

func TestNoNetwork(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	// A listener on the host's non-loopback address.
	var hostIP string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			hostIP = ipn.IP.String()
			break
		}
	}
	if hostIP == "" {
		t.Fatal("no non-loopback IPv4 address on this host")
	}
	ln, err := net.Listen("tcp", hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	// Another container on the default bridge, listening.
	other, err := b.cli.ContainerCreate(ctx, &container.Config{
		Image:  b.opts.Image,
		Cmd:    []string{"/var/lang/bin/python3", "-m", "http.server", "8000"},
		Labels: map[string]string{"lambdalab.test": "1"},
	}, &container.HostConfig{}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.cli.ContainerRemove(ctx, other.ID, container.RemoveOptions{Force: true})
	if err := b.cli.ContainerStart(ctx, other.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := b.cli.ContainerInspect(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	otherIP := st.NetworkSettings.IPAddress

	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	for _, target := range []struct {
		host string
		port int
	}{{hostIP, port}, {otherIP, 8000}, {"169.254.169.254", 80}, {"172.17.0.1", port}} {
		got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "connect", "host": target.host, "port": target.port}))
		if got["error"] != "ENETUNREACH" {
			t.Errorf("connect %s:%d = %v, want ENETUNREACH (Network is unreachable)", target.host, target.port, got)
		}
	}
}

func TestPidsLimit(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 512))
	got := result(t, invoke(t, in, 60*time.Second, map[string]any{"op": "forkbomb"}))
	if got["error"] != "EAGAIN" || got["children"].(float64) >= 1024 {
		t.Errorf("fork bomb = %v, want EAGAIN before 1024 children", got)
	}
	done := make(chan error, 1)
	go func() { _, err := in.Close(context.Background()); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close after a fork bomb: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Close after a fork bomb did not return in 15 s")
	}
}

func TestStdoutFlood(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 256))
	out := invoke(t, in, 120*time.Second, map[string]any{"op": "flood", "mb": 100})
	got := result(t, out)
	if got["flooded"] != 100.0 {
		t.Errorf("flood = %v", got)
	}
	if len(out.Log) > 2<<20 || out.Truncated < 90<<20 {
		t.Errorf("100 MB of stdout kept %d bytes and dropped %d; want at most a few MiB kept, the rest counted", len(out.Log), out.Truncated)
	}
	result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "echo"}))
}

func TestProcShowsOnlyOwnProcesses(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128)) // a neighbour
	got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "procs"}))
	procs := got["procs"].([]any)
	sawInit, sawSelf := false, false
	for _, p := range procs {
		pid, cmd := p.([]any)[0].(float64), p.([]any)[1].(string)
		switch {
		case pid == 1 && strings.Contains(cmd, "lambdalab-init"):
			sawInit = true
		case strings.Contains(cmd, "handler.py"):
			if sawSelf {
				t.Errorf("two handler.py processes visible: %v", procs)
			}
			sawSelf = true
		default:
			t.Errorf("foreign process visible in /proc: %v %q", pid, cmd)
		}
	}
	if !sawInit || !sawSelf {
		t.Errorf("procs = %v, want init as PID 1 and the runtime", procs)
	}
}

func TestLayersAndCode(t *testing.T) {
	b := newBackend(t)
	l1, l2 := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(l1, "python"), 0o755)
	os.WriteFile(filepath.Join(l1, "python", "a.txt"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(l1, "python", "b.txt"), []byte("one"), 0o644)
	os.MkdirAll(filepath.Join(l2, "python"), 0o755)
	os.WriteFile(filepath.Join(l2, "python", "b.txt"), []byte("two"), 0o644)
	bnd := binding(t, 128)
	bnd.LayerDirs = []string{l1, l2}
	in := startBound(t, b, sandbox.InstanceSpec{}, bnd)
	for path, want := range map[string]string{"/opt/python/a.txt": "one", "/opt/python/b.txt": "two"} {
		got := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "read", "path": path}))
		if got["data"] != want {
			t.Errorf("%s = %v, want %q (later layer wins)", path, got["data"], want)
		}
	}
	// The layer's own file is untouched by the merge.
	if data, _ := os.ReadFile(filepath.Join(l1, "python", "b.txt")); string(data) != "one" {
		t.Errorf("merging changed the first layer's b.txt to %q", data)
	}
}

func TestRuntimeExitEndsInvoke(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	out := invoke(t, in, 30*time.Second, map[string]any{"op": "exit", "code": 3})
	if out.Status != sandbox.StatusExit || out.Exit != "exit status 3" {
		t.Errorf("exit 3: outcome %q exit %q, want exit \"exit status 3\"", out.Status, out.Exit)
	}
}

func TestContainerDeathEndsInvoke(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 128))
	// Kill the whole container from outside while an invocation runs.
	go func() {
		time.Sleep(500 * time.Millisecond)
		b.cli.ContainerKill(context.Background(), in.containerID, "KILL")
	}()
	begin := time.Now()
	out := invoke(t, in, 60*time.Second, map[string]any{"op": "sleep", "seconds": 50})
	if out.Status != sandbox.StatusExit || out.Exit != "signal: killed" {
		t.Errorf("outcome %q exit %q payload %s, want exit \"signal: killed\"", out.Status, out.Exit, out.Payload)
	}
	if time.Since(begin) > 30*time.Second {
		t.Errorf("the invocation waited for its deadline instead of ending with the container")
	}
}

func TestSweep(t *testing.T) {
	a := newBackend(t)
	ctx := context.Background()
	si, err := a.Start(ctx, sandbox.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	in := si.(*Instance)
	// A second process on the same data directory (a restart) sweeps it.
	b, err := New(ctx, a.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Sweep of a different data directory leaves it alone.
	other := newBackend(t)
	if err := other.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.ContainerInspect(ctx, in.containerID); err != nil {
		t.Fatalf("another data directory's sweep removed the instance: %v", err)
	}
	if err := b.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.ContainerInspect(ctx, in.containerID); !client.IsErrNotFound(err) {
		t.Errorf("container still there after Sweep: %v", err)
	}
	if _, err := os.Stat(in.dir); !os.IsNotExist(err) {
		t.Errorf("instance dir still there after Sweep: %v", err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mounts, []byte(in.dir)) {
		t.Errorf("instance /tmp still mounted after Sweep")
	}
	// The original owner's Close copes with what Sweep already removed.
	if _, err := in.Close(ctx); err != nil {
		t.Errorf("Close after Sweep: %v", err)
	}
}

// TestSweepDeadOwner: an instance whose creating process died (a crash, a
// killed test run) is an orphan even when its data directory still exists;
// a live neighbour's is not.
func TestSweepDeadOwner(t *testing.T) {
	ctx := context.Background()
	dead := newBackend(t)
	// A pid above the kernel's maximum (4,194,304) belongs to nobody.
	dead.owner = "4194399@" + bootID()
	orphan, err := dead.Start(ctx, sandbox.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	alive := newBackend(t)
	neighbour, err := alive.Start(ctx, sandbox.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer neighbour.Close(ctx)
	if err := newBackend(t).Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	o := orphan.(*Instance)
	if _, err := dead.cli.ContainerInspect(ctx, o.containerID); !client.IsErrNotFound(err) {
		t.Errorf("orphan of a dead process survived Sweep: %v", err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mounts, []byte(o.dir)) {
		t.Errorf("orphan's /tmp still mounted after Sweep")
	}
	if _, err := alive.cli.ContainerInspect(ctx, neighbour.(*Instance).containerID); err != nil {
		t.Errorf("a live neighbour's instance was swept: %v", err)
	}
	o.Close(ctx)
}

func TestOwnerAlive(t *testing.T) {
	me := bootID()
	tests := []struct {
		label string
		want  bool
	}{
		{fmt.Sprintf("%d@%s", os.Getpid(), me), true},
		{"4194399@" + me, false},
		{"1@another-boot", false},
		{"", true},
		{"garbage", true},
		{"x@" + me, true},
	}
	for _, tt := range tests {
		if got := ownerAlive(tt.label); got != tt.want {
			t.Errorf("ownerAlive(%q) = %v, want %v", tt.label, got, tt.want)
		}
	}
}
