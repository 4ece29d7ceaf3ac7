package initproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "initproc-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaries builds the init binary and the test runtime once.
func binaries(t testing.TB) (initBin, runtimeBin string) {
	t.Helper()
	initBin = filepath.Join(binDir, "init")
	runtimeBin = filepath.Join(binDir, "rawruntime")
	buildOnce.Do(func() {
		for _, b := range [][2]string{{initBin, "../init"}, {runtimeBin, "./testdata/rawruntime"}} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return initBin, runtimeBin
}

// freeAddr finds a loopback port that is free now (init listens on it soon
// after; a parallel test taking it in between would make init fail loudly).
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

type instance struct {
	s           *runtimeapi.Server
	runtimeAddr string
	dir         string
	initCmd     *exec.Cmd
	initDone    chan struct{}
	xrayAddr    string
}

// startInstance runs the real init binary on the host, as the backend would
// run it in a container: a runtimeapi.Server on aws.sock in its socket
// directory, and the runtime bound once init asks.
func startInstance(t testing.TB, cfg runtimeapi.Config, beforeStart func(dir string)) *instance {
	t.Helper()
	initBin, runtimeBin := binaries(t)
	// A short path: Unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ll-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "aws.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.New(cfg)
	go s.Serve(ln)
	t.Cleanup(s.Close)
	if beforeStart != nil {
		beforeStart(dir)
	}

	runtimeAddr := freeAddr(t, "tcp")
	xrayAddr := freeAddr(t, "udp")
	cmd := exec.Command(initBin)
	// Should the test binary die, init goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = []string{
		EnvSocketDir + "=" + dir,
		EnvRuntimeAddr + "=" + runtimeAddr,
		EnvXRayAddr + "=" + xrayAddr,
	}
	var initErr bytes.Buffer
	cmd.Stderr = &initErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{s: s, runtimeAddr: runtimeAddr, dir: dir, initCmd: cmd, initDone: make(chan struct{}), xrayAddr: xrayAddr}
	go func() {
		cmd.Wait()
		// What the backend does when the container dies; a no-op when init
		// reported the exit first.
		s.Fail("init died: " + cmd.ProcessState.String())
		close(in.initDone)
	}()
	t.Cleanup(func() {
		// Closing the Server is enough to end init and its runtime; the
		// kill is only a backstop.
		s.Close()
		closed := time.Now()
		select {
		case <-in.initDone:
			if d := time.Since(closed); d > time.Second {
				t.Logf("init took %v to exit after Close", d)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("init still runs 15s after its Server closed")
			// A goroutine dump on init's stderr, logged below.
			cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(2 * time.Second)
			cmd.Process.Kill()
			<-in.initDone
		}
		if t.Failed() && initErr.Len() > 0 {
			t.Logf("init stderr: %s", initErr.String())
		}
	})
	s.Bind(runtimeapi.BindConfig{
		Cmd: []string{runtimeBin},
		Env: []string{
			"AWS_LAMBDA_RUNTIME_API=" + runtimeAddr,
			"AWS_XRAY_DAEMON_ADDRESS=" + xrayAddr,
			"PATH=/usr/local/bin:/usr/bin:/bin",
		},
		WorkDir: dir,
	})
	return in
}

func (in *instance) invoke(t testing.TB, id, payload string) runtimeapi.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := in.s.Invoke(ctx, runtimeapi.Invocation{RequestID: id, Payload: []byte(payload), Deadline: time.Now().Add(20 * time.Second)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", id, err)
	}
	return out
}

func (in *instance) waitInit(t testing.TB) runtimeapi.InitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := in.s.WaitInit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runtimeapi.StatusSuccess {
		t.Fatalf("init = %+v, want success", res)
	}
	return res
}

func TestLogAttribution(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	res := in.waitInit(t)
	if string(res.Log) != "init-out\ninit-err\n" && string(res.Log) != "init-err\ninit-out\n" {
		t.Errorf("init log %q, want init-out and init-err", res.Log)
	}
	if res.Duration <= 0 {
		t.Errorf("init duration %v, want > 0", res.Duration)
	}
	for i := 1; i <= 3; i++ {
		out := in.invoke(t, fmt.Sprintf("req-%d", i), fmt.Sprintf(`{"before":"before-%d","after":"after-%d"}`, i, i))
		if out.Status != runtimeapi.StatusSuccess {
			t.Fatalf("invoke %d: %+v", i, out)
		}
		// Printed before the response on stdout, after it on stderr: both
		// belong to this invocation, in that order, and nothing else does.
		if want := fmt.Sprintf("before-%d\nafter-%d\n", i, i); string(out.Log) != want || out.Truncated != 0 {
			t.Errorf("invoke %d log %q (truncated %d), want %q", i, out.Log, out.Truncated, want)
		}
		var got struct{ ID string }
		if json.Unmarshal(out.Payload, &got); got.ID != fmt.Sprintf("req-%d", i) {
			t.Errorf("invoke %d payload %s, want id req-%d", i, out.Payload, i)
		}
	}
}

func TestExitReported(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	out := in.invoke(t, "bye", `{"before":"last words","exit":7}`)
	if out.Status != runtimeapi.StatusExit || out.Exit != "exit status 7" {
		t.Errorf("outcome %q %q, want exit / exit status 7", out.Status, out.Exit)
	}
	if string(out.Log) != "last words\n" {
		t.Errorf("log %q, want the output before the exit", out.Log)
	}
	select {
	case <-in.initDone:
	case <-time.After(10 * time.Second):
		t.Fatal("init did not exit after the runtime")
	}
	if code := in.initCmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("init exit code %d, want 0", code)
	}
}

func TestKilledRuntimeAndOrphans(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	out := in.invoke(t, "k", `{"orphan":true,"kill":true}`)
	if out.Status != runtimeapi.StatusExit || out.Exit != "signal: killed" {
		t.Errorf("outcome %q %q, want exit / signal: killed", out.Status, out.Exit)
	}
	m := regexp.MustCompile(`child=(\d+)`).FindSubmatch(out.Log)
	if m == nil {
		t.Fatalf("log %q has no child pid", out.Log)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	<-in.initDone
	// The runtime's child was killed and reaped by init.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH: the orphan survived", pid, err)
	}
}

func TestStdoutFloodCapped(t *testing.T) {
	const flood = 10 << 20
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	out := in.invoke(t, "flood", fmt.Sprintf(`{"flood":%d}`, flood))
	if out.Status != runtimeapi.StatusSuccess {
		t.Fatalf("flood: %+v", out.Status)
	}
	if len(out.Log) != 1<<20 || out.Truncated != flood-1<<20 {
		t.Errorf("flood log %d bytes, truncated %d; want %d and %d", len(out.Log), out.Truncated, 1<<20, flood-1<<20)
	}
	if bytes.Count(out.Log, []byte("z")) != len(out.Log) {
		t.Errorf("flood log holds bytes other than the flood")
	}
	// The cap is per invocation: the next one starts clean.
	if out := in.invoke(t, "after", `{"before":"calm"}`); string(out.Log) != "calm\n" || out.Truncated != 0 {
		t.Errorf("after the flood: log %q truncated %d, want calm", out.Log, out.Truncated)
	}
}

func TestAgentPathsRefused(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	for _, p := range []string{"/lambdalab/v1/exit", "/%6cambdalab/v1/bind", "//lambdalab/v1/logs", "/x/../LambdaLab/v1/exit"} {
		out := in.invoke(t, "probe", `{"probe":"`+p+`"}`)
		var got struct{ Probe int }
		json.Unmarshal(out.Payload, &got)
		if got.Probe != 403 {
			t.Errorf("runtime reached %s through init: status %d, want 403", p, got.Probe)
		}
	}
	select {
	case <-in.s.Exited():
		t.Error("a probe made the instance exit")
	default:
	}
}

func TestXRayRelay(t *testing.T) {
	var pc net.PacketConn
	in := startInstance(t, runtimeapi.Config{}, func(dir string) {
		var err error
		pc, err = net.ListenPacket("unixgram", filepath.Join(dir, "xray.sock"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
	})
	in.waitInit(t)
	seg := `{"format":"json","version":1}` + "\n" + `{"trace_id":"1-5e34a614-10bdxmplf1fb44f07bc535a1"}`
	in.invoke(t, "x", `{"xray":`+strconv.Quote(seg)+`}`)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != seg {
		t.Errorf("xray.sock got %q, %v; want %q", buf[:n], err, seg)
	}
}

func TestStatusTextMatchesProcessState(t *testing.T) {
	for _, script := range []string{"exit 0", "exit 3", "kill -KILL $$", "kill -SEGV $$", "kill -TERM $$"} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Run()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if got, want := statusText(ws), cmd.ProcessState.String(); got != want {
			t.Errorf("%s: statusText = %q, want %q", script, got, want)
		}
	}
}

func TestMissingRuntime(t *testing.T) {
	initBin, _ := binaries(t)
	dir, err := os.MkdirTemp("", "ll-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "aws.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.New(runtimeapi.Config{})
	go s.Serve(ln)
	defer s.Close()
	cmd := exec.Command(initBin)
	cmd.Env = []string{EnvSocketDir + "=" + dir, EnvRuntimeAddr + "=" + freeAddr(t, "tcp"), EnvXRayAddr + "=" + freeAddr(t, "udp")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	s.Bind(runtimeapi.BindConfig{Cmd: []string{"/nonexistent/bootstrap"}, WorkDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.WaitInit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runtimeapi.StatusExit || res.Exit != "exit status 127" || !bytes.Contains(res.Log, []byte("/nonexistent/bootstrap")) {
		t.Errorf("init = %q %q log %q; want exit status 127 and the reason in the log", res.Status, res.Exit, res.Log)
	}
}

func TestHostGoneEndsInit(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	var got struct{ PID int }
	json.Unmarshal(in.invoke(t, "pid", `{}`).Payload, &got)
	if got.PID == 0 {
		t.Fatal("runtime did not say its pid")
	}
	in.s.Close()
	select {
	case <-in.initDone:
	case <-time.After(5 * time.Second):
		t.Fatal("init did not exit after its Server closed")
	}
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(got.PID, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(got.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("runtime %d still exists after init ended: kill(0) = %v", got.PID, err)
	}
}

func TestLargeResponsesThroughInit(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{}, nil)
	in.waitInit(t)
	out := in.invoke(t, "max", fmt.Sprintf(`{"big":%d}`, runtimeapi.MaxResponseBytes))
	if out.Status != runtimeapi.StatusSuccess || len(out.Payload) != runtimeapi.MaxResponseBytes {
		t.Errorf("at the limit: %q with %d bytes, want success with %d", out.Status, len(out.Payload), runtimeapi.MaxResponseBytes)
	}
	out = in.invoke(t, "over", `{"big":7000000,"after":"still here"}`)
	if out.Status != runtimeapi.StatusTooLarge || out.ResponseSize != 7000000 {
		t.Errorf("over the limit: %q size %d, want too-large 7000000", out.Status, out.ResponseSize)
	}
	if string(out.Log) != "still here\n" {
		t.Errorf("log %q, want the output after the refused response", out.Log)
	}
}

// echoAWS stands in for the emulated AWS services: it answers with what it
// received.
var echoAWS = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Seen-Host", r.Host)
	w.Header().Set("X-Seen-Log-Seq", r.Header.Get(runtimeapi.LogSeqHeader))
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
})

func TestRelayHTTP(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{AWS: echoAWS}, nil)
	in.waitInit(t)
	c, err := net.Dial("tcp", in.runtimeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(method string) *http.Response {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		return resp
	}
	body := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}

	// Keep-alive, the client's Host kept (SigV4 signs it), the log header
	// neither forged by the client nor shown to the AWS services.
	for i := range 2 {
		fmt.Fprintf(c, "PUT /bucket/k%d?x=1 HTTP/1.1\r\nHost: s3.example:9001\r\n%s: 999999\r\nContent-Length: 5\r\n\r\nhello", i, runtimeapi.LogSeqHeader)
		resp := read("PUT")
		if got, want := body(resp), fmt.Sprintf("PUT /bucket/k%d?x=1 hello", i); resp.StatusCode != 200 || got != want {
			t.Errorf("request %d: %d %q, want 200 %q", i, resp.StatusCode, got, want)
		}
		if h := resp.Header.Get("X-Seen-Host"); h != "s3.example:9001" {
			t.Errorf("AWS saw Host %q, want the client's", h)
		}
		if h := resp.Header.Get("X-Seen-Log-Seq"); h != "" {
			t.Errorf("AWS saw %s %q, want it removed", runtimeapi.LogSeqHeader, h)
		}
	}

	// Expect: 100-continue is answered before the body is sent, as boto3
	// waits for it on uploads.
	io.WriteString(c, "PUT /bucket/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	if resp := read("PUT"); resp.StatusCode != 100 {
		t.Fatalf("Expect: got %d first, want 100 Continue", resp.StatusCode)
	}
	io.WriteString(c, "data")
	if resp := read("PUT"); body(resp) != "PUT /bucket/big data" {
		t.Errorf("after 100 Continue: %d", resp.StatusCode)
	}

	// A chunked body.
	io.WriteString(c, "POST /q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	if got := body(read("POST")); got != "POST /q abcde" {
		t.Errorf("chunked: %q", got)
	}

	// An endless header is cut off; init and the runtime carry on.
	c2, err := net.Dial("tcp", in.runtimeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	go func() {
		io.WriteString(c2, "GET / HTTP/1.1\r\nX-Big: ")
		junk := bytes.Repeat([]byte("a"), 64<<10)
		for range 64 {
			if _, err := c2.Write(junk); err != nil {
				return
			}
		}
	}()
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("endless header: %v %v, want 400", resp, err)
	}
	if out := in.invoke(t, "still", `{"before":"ok"}`); out.Status != runtimeapi.StatusSuccess {
		t.Errorf("after the endless header: %q", out.Status)
	}
}

// TestRelaySlowlorisAndConnectionCap: a connection that starts a header and
// stalls is dropped after the header timeout, connections past the cap are
// closed at once, and the runtime's own invokes carry on through both.
func TestRelaySlowlorisAndConnectionCap(t *testing.T) {
	in := startInstance(t, runtimeapi.Config{AWS: echoAWS}, nil)
	in.waitInit(t)

	slow, err := net.Dial("tcp", in.runtimeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	slow.SetReadDeadline(time.Now().Add(4 * headerTimeout))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("stalled header: %v %v, want 400 once the header timeout passes", resp, err)
	} else if waited := time.Since(start); waited < headerTimeout/2 {
		t.Errorf("stalled header answered after %v, before the header timeout %v", waited, headerTimeout)
	}

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range maxRelayConns {
		c, err := net.Dial("tcp", in.runtimeAddr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// With the runtime's own connection the cap is reached: one more is
	// closed unanswered.
	over, err := net.Dial("tcp", in.runtimeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection past the cap: read %d bytes, %v; want it closed (EOF)", n, err)
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	if out := in.invoke(t, "after", `{"n":1}`); out.Status != runtimeapi.StatusSuccess {
		t.Errorf("invoke after the attack: %q", out.Status)
	}
}
