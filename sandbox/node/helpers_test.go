package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"lambdalab/sandbox"
	"lambdalab/sandbox/initproc"
)

var (
	binDir    string
	buildOnce sync.Once
	initBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	// The test binary doubles as the helper that TestSocketReach runs
	// under other uids.
	if os.Getenv(helperEnv) != "" {
		runHelper()
		return
	}
	dir, err := os.MkdirTemp("", "node-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireRoot skips a test that mounts, chowns to the sandbox user or runs
// processes as other users: the agent's work needs root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the node agent mounts loop devices and chowns sockets: run the test as root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("no mkfs.ext4 here (Debian: e2fsprogs)")
	}
}

// initBinary builds the real init (sandbox/init), static, once.
func initBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		initBin = filepath.Join(binDir, "lambdalab-init")
		cmd := exec.Command("go", "build", "-o", initBin, "lambdalab/sandbox/init")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build init: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return initBin
}

// python is the real python3 executable (not a version manager's shim,
// which the runtime would pay for at every start).
func python(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("no python3 for the test runtime: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// shortTemp is a temp folder with a short path (instance socket paths are
// limited to 107 bytes), removed at cleanup, instances' mounts included.
func shortTemp(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmountUnder(dir)
		os.RemoveAll(dir)
	})
	return dir
}

// unmountUnder unmounts whatever a failed test left mounted below dir.
func unmountUnder(dir string) {
	data, _ := os.ReadFile("/proc/self/mounts")
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			syscall.Unmount(f[1], syscall.MNT_DETACH)
		}
	}
}

// mountedUnder lists the mount points below dir.
func mountedUnder(t testing.TB, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			out = append(out, f[1])
		}
	}
	return out
}

// rig is a CA, a Hub listening on loopback and the certificates to reach it.
type rig struct {
	ca   *CA
	hub  *Hub
	addr string
	ln   *trackingListener
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ca, err := LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.ServerTLS([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{ca: ca, hub: NewHub(conf, testLogger(t).With("side", "hub"))}
	r.listen(t, "127.0.0.1:0")
	t.Cleanup(func() { r.hub.Close() })
	return r
}

// listen serves the hub on addr (":0" for a fresh port).
func (r *rig) listen(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.ln = &trackingListener{Listener: ln}
	r.addr = ln.Addr().String()
	go r.hub.Serve(r.ln)
}

// agentTLS is the TLS configuration of a node called name.
func (r *rig) agentTLS(t testing.TB, name string) *tls.Config {
	t.Helper()
	cert, key, err := r.ca.IssueNode(name)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := AgentTLS(r.ca.CertPEM(), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// agent runs RunAgent for node name with its instances under a fresh
// folder, and returns the folder. The agent stops at cleanup.
func (r *rig) agent(t testing.TB, name string, tune func(*AgentConfig)) string {
	t.Helper()
	dir := filepath.Join(shortTemp(t), "node")
	cfg := AgentConfig{
		Server:     r.addr,
		TLS:        r.agentTLS(t, name),
		Dir:        dir,
		InitBinary: initBinary(t),
		NoCgroups:  true,
		Logger:     testLogger(t).With("side", "agent", "node", name),
		hostInit:   true,
	}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAgent(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunAgent = %v, want nil after its context ended", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("RunAgent still runs 20 s after its context ended")
		}
	})
	return dir
}

// node waits for the node called name to be linked, and returns it.
func (r *rig) node(t testing.TB, name string) *Node {
	t.Helper()
	var n *Node
	waitFor(t, 20*time.Second, "node "+name+" linked", func() bool {
		for _, x := range r.hub.Nodes() {
			if x.Name() == name {
				n = x
				return true
			}
		}
		return false
	})
	return n
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trackingListener remembers the connections it accepted, so that a test
// can cut them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// cut closes the listener and every connection it accepted.
func (l *trackingListener) cut() {
	l.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// pod plays the kubelet's part for one instance: it runs the real init as
// a process on this machine, pointed at the instance's socket folder.
type pod struct {
	runtimeAddr, xrayAddr string
	cmd                   *exec.Cmd
	done                  chan struct{}
	stderr                *bytes.Buffer
}

func startPod(t testing.TB, p Paths) *pod {
	t.Helper()
	pd := &pod{runtimeAddr: freeAddr(t, "tcp"), xrayAddr: freeAddr(t, "udp"), done: make(chan struct{}), stderr: new(bytes.Buffer)}
	pd.cmd = exec.Command(initBinary(t))
	pd.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pd.cmd.Env = []string{
		initproc.EnvSocketDir + "=" + p.SocketDir,
		initproc.EnvRuntimeAddr + "=" + pd.runtimeAddr,
		initproc.EnvXRayAddr + "=" + pd.xrayAddr,
	}
	pd.cmd.Stderr = pd.stderr
	if err := pd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		pd.cmd.Wait()
		close(pd.done)
	}()
	t.Cleanup(func() {
		select {
		case <-pd.done:
		case <-time.After(15 * time.Second):
			t.Errorf("init still runs 15 s after the test; stderr: %s", pd.stderr)
			pd.cmd.Process.Kill()
			<-pd.done
		}
	})
	return pd
}

// binding is a Binding that runs the test runtime as who, talking to pd.
func binding(t testing.TB, pd *pod, who, codeDir string, layers ...string) sandbox.Binding {
	t.Helper()
	return sandbox.Binding{
		AccountID: "123456789012", Function: "fn-" + who, Version: "$LATEST",
		CodeDir: codeDir, LayerDirs: layers,
		MemoryMB: 256, NanoCPUs: 200_000_000,
		Cmd: []string{python(t), "runtime.py"},
		Env: []string{
			"AWS_LAMBDA_RUNTIME_API=" + pd.runtimeAddr,
			"AWS_XRAY_DAEMON_ADDRESS=" + pd.xrayAddr,
			"WHO=" + who,
			"PATH=/usr/local/bin:/usr/bin:/bin",
		},
		InitTimeout: 20 * time.Second,
	}
}

// codeDir is a deployment package holding the test runtime.
func codeDir(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("testdata/runtime.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "runtime.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freeAddr(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// rawLink links as the node called name without an agent behind it, and
// returns a client for requests to the server over the link.
func (r *rig) rawLink(t testing.TB, name string) *http.Client {
	t.Helper()
	conn, _, err := dialLink(context.Background(), r.addr, r.agentTLS(t, name), hello{Version: protocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := yamux.Client(conn, yamuxConfig(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return sess.Open() },
	}}
}

func post(t testing.TB, c *http.Client, path string, body io.Reader) *http.Response {
	t.Helper()
	resp, err := c.Post("http://"+linkHost+path, "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
