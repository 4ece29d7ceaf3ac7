package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binDir      string
	buildOnce   sync.Once
	handlerPath string
	buildErr    error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runtimeapi-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goHandler builds testdata/gohandler (aws-lambda-go) once per test binary.
func goHandler(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		handlerPath = filepath.Join(binDir, "gohandler")
		cmd := exec.Command("go", "build", "-o", handlerPath, "./testdata/gohandler")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build gohandler: %v", buildErr)
	}
	return handlerPath
}

// startServer serves a Server on a loopback TCP port.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg)
	go s.Serve(ln)
	t.Cleanup(s.Close)
	return s, ln.Addr().String()
}

// startHandler runs the aws-lambda-go handler on the host against s, and
// plays the backend's part: when the process dies, s.Fail is told.
func startHandler(t testing.TB, s *Server, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(goHandler(t))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + addr, "PATH=/usr/bin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		s.Fail(cmd.ProcessState.String())
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

func invocation(id, payload string) Invocation {
	return Invocation{
		RequestID:          id,
		Payload:            []byte(payload),
		Deadline:           time.Now().Add(30 * time.Second).Truncate(time.Millisecond),
		InvokedFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
		TraceID:            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
	}
}

func invoke(t testing.TB, s *Server, inv Invocation) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := s.Invoke(ctx, inv)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", inv.RequestID, err)
	}
	return out
}

func waitInit(t testing.TB, s *Server, d time.Duration) InitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res, err := s.WaitInit(ctx)
	if err != nil {
		t.Fatalf("WaitInit: %v", err)
	}
	return res
}

func TestGoHandlerResult(t *testing.T) {
	s, addr := startServer(t, Config{})
	startHandler(t, s, addr)
	if res := waitInit(t, s, 20*time.Second); res.Status != StatusSuccess || res.Duration <= 0 {
		t.Fatalf("init = %+v, want success with a duration", res)
	}
	for i, id := range []string{"8476a536-e9f4-11e8-9739-2dfe598c3fcd", "0d4e6d5c-0000-4000-8000-000000000002"} {
		inv := invocation(id, `{"echo":"hello"}`)
		out := invoke(t, s, inv)
		if out.Status != StatusSuccess {
			t.Fatalf("invoke %d: status %q, want success (%+v)", i, out.Status, out)
		}
		var got struct {
			Echo       string
			RequestID  string
			DeadlineMs int64
			ARN        string
			TraceEnv   string
		}
		if err := json.Unmarshal(out.Payload, &got); err != nil {
			t.Fatalf("payload %q: %v", out.Payload, err)
		}
		if got.Echo != "hello" || got.RequestID != id || got.ARN != inv.InvokedFunctionARN || got.TraceEnv != inv.TraceID {
			t.Errorf("payload = %+v, want echo hello, id %s, arn %s, trace %s", got, id, inv.InvokedFunctionARN, inv.TraceID)
		}
		if got.DeadlineMs != inv.Deadline.UnixMilli() {
			t.Errorf("handler saw deadline %d, want %d", got.DeadlineMs, inv.Deadline.UnixMilli())
		}
		if out.ContentType != "application/json" {
			t.Errorf("content type %q, want application/json", out.ContentType)
		}
		if out.Start.IsZero() || out.Done.Before(out.Start) {
			t.Errorf("Start %v, Done %v: want Start set and Done after it", out.Start, out.Done)
		}
	}
}

func TestGoHandlerError(t *testing.T) {
	s, addr := startServer(t, Config{})
	startHandler(t, s, addr)
	waitInit(t, s, 20*time.Second)
	out := invoke(t, s, invocation("e1", `{"fail":"boom"}`))
	if out.Status != StatusError {
		t.Fatalf("status %q, want error", out.Status)
	}
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		t.Fatalf("error document %q: %v", out.Payload, err)
	}
	if doc.ErrorMessage != "boom" || doc.ErrorType != "errorString" {
		t.Errorf("error document = %+v, want boom / errorString", doc)
	}
	// The instance stays usable after a function error.
	if out := invoke(t, s, invocation("e2", `{"echo":"x"}`)); out.Status != StatusSuccess {
		t.Errorf("after an error: status %q, want success", out.Status)
	}
}

func TestGoHandlerTooLarge(t *testing.T) {
	s, addr := startServer(t, Config{})
	startHandler(t, s, addr)
	waitInit(t, s, 20*time.Second)
	const n = 7_000_000
	out := invoke(t, s, invocation("big", `{"big":7000000}`))
	if out.Status != StatusTooLarge {
		t.Fatalf("status %q, want too-large", out.Status)
	}
	if out.ResponseSize != n+2 { // a JSON string: the quotes count
		t.Errorf("ResponseSize %d, want %d", out.ResponseSize, n+2)
	}
	if len(out.Payload) != 0 {
		t.Errorf("payload of %d bytes kept, want none", len(out.Payload))
	}
	// aws-lambda-go treats the 413 as fatal and exits 1.
	select {
	case <-s.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not exit after the 413")
	}
	if out := invoke(t, s, invocation("after", `{}`)); out.Status != StatusExit || out.Exit != "exit status 1" {
		t.Errorf("after exit: %q %q, want exit / exit status 1", out.Status, out.Exit)
	}
}

func TestGoHandlerExit(t *testing.T) {
	s, addr := startServer(t, Config{})
	startHandler(t, s, addr)
	waitInit(t, s, 20*time.Second)
	out := invoke(t, s, invocation("x1", `{"exit":3}`))
	if out.Status != StatusExit || out.Exit != "exit status 3" {
		t.Errorf("outcome %q %q, want exit / exit status 3", out.Status, out.Exit)
	}
}

func TestInitExit(t *testing.T) {
	s, _ := startServer(t, Config{})
	cmd := exec.Command("/bin/sh", "-c", "exit 2")
	cmd.Run()
	s.Fail(cmd.ProcessState.String())
	res := waitInit(t, s, 5*time.Second)
	if res.Status != StatusExit || res.Exit != "exit status 2" {
		t.Errorf("init = %q %q, want exit / exit status 2", res.Status, res.Exit)
	}
}

func TestInitTimeout(t *testing.T) {
	s, _ := startServer(t, Config{})
	res := waitInit(t, s, 100*time.Millisecond)
	if res.Status != StatusTimeout {
		t.Errorf("init status %q, want timeout", res.Status)
	}
	if res.Duration < 100*time.Millisecond {
		t.Errorf("init duration %v, want at least the 100ms waited", res.Duration)
	}
}

// rawRuntime is a Runtime API client written by hand, to send what a real
// client never would.
type rawRuntime struct {
	t    testing.TB
	base string
}

func (r rawRuntime) do(method, path string, body io.Reader, hdr ...string) (int, string, http.Header) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

const (
	nextPath    = "/2018-06-01/runtime/invocation/next"
	invalidID   = `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`
	tooLargeDoc = `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`
)

// startInvoke runs Invoke in the background.
func startInvoke(s *Server, inv Invocation) <-chan Outcome {
	ch := make(chan Outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := s.Invoke(ctx, inv)
		if err != nil {
			out.Status = Status("error: " + err.Error())
		}
		ch <- out
	}()
	return ch
}

func TestRequestIDRules(t *testing.T) {
	s, addr := startServer(t, Config{})
	rt := rawRuntime{t, "http://" + addr}
	inv := invocation("id-1", `{"a":1}`)
	outc := startInvoke(s, inv)

	code, body, hdr := rt.do("GET", nextPath, nil)
	if code != 200 || body != `{"a":1}` || hdr.Get("Lambda-Runtime-Aws-Request-Id") != "id-1" {
		t.Fatalf("next = %d %q id %q", code, body, hdr.Get("Lambda-Runtime-Aws-Request-Id"))
	}
	for k, want := range map[string]string{
		"Lambda-Runtime-Deadline-Ms":          jsonNumber(inv.Deadline.UnixMilli()),
		"Lambda-Runtime-Invoked-Function-Arn": inv.InvokedFunctionARN,
		"Lambda-Runtime-Trace-Id":             inv.TraceID,
		"Content-Type":                        "application/json",
	} {
		if got := hdr.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if got := hdr.Get("Lambda-Runtime-Client-Context"); got != "" {
		t.Errorf("empty client context sent as %q, want the header omitted", got)
	}

	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/other-id/response", strings.NewReader("x")); code != 400 || body != invalidID {
		t.Errorf("foreign id: %d %s, want 400 %s", code, body, invalidID)
	}
	if code, body, _ := rt.do("GET", nextPath, nil); code != 403 || !strings.Contains(body, "InvalidStateTransition") {
		t.Errorf("second next before answering: %d %s, want 403 InvalidStateTransition", code, body)
	}
	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/id-1/response", strings.NewReader(`"first"`)); code != 202 || body != `{"status":"OK"}` {
		t.Errorf("response: %d %s, want 202 {\"status\":\"OK\"}", code, body)
	}
	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/id-1/response", strings.NewReader(`"second"`)); code != 400 || body != invalidID {
		t.Errorf("double response: %d %s, want 400 %s", code, body, invalidID)
	}
	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/id-1/error", strings.NewReader(`{}`)); code != 400 || body != invalidID {
		t.Errorf("error after response: %d %s, want 400 %s", code, body, invalidID)
	}

	// Coming back to /next ends the invocation.
	next := nextAsync(rt)
	out := <-outc
	if out.Status != StatusSuccess || string(out.Payload) != `"first"` {
		t.Errorf("outcome %q %q, want success with the first response", out.Status, out.Payload)
	}
	s.Close()
	if id := <-next; id != "" {
		t.Errorf("a parked /next got %q after Close, want no event", id)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestOversizedResponse(t *testing.T) {
	s, addr := startServer(t, Config{})
	rt := rawRuntime{t, "http://" + addr}
	outc := startInvoke(s, invocation("id-big", `{}`))
	rt.do("GET", nextPath, nil)
	big := bytes.Repeat([]byte("a"), MaxResponseBytes+1)
	code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/id-big/response", bytes.NewReader(big))
	if code != 413 || body != tooLargeDoc {
		t.Errorf("oversized: %d %s, want 413 %s", code, body, tooLargeDoc)
	}
	next := nextAsync(rt)
	out := <-outc
	if out.Status != StatusTooLarge || out.ResponseSize != MaxResponseBytes+1 {
		t.Errorf("outcome %q size %d, want too-large %d", out.Status, out.ResponseSize, MaxResponseBytes+1)
	}

	// Exactly the limit is accepted.
	outc = startInvoke(s, invocation("id-max", `{}`))
	if id := <-next; id != "id-max" {
		t.Fatalf("next delivered %q, want id-max", id)
	}
	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/id-max/response", bytes.NewReader(big[:MaxResponseBytes])); code != 202 {
		t.Errorf("at the limit: %d %s, want 202", code, body)
	}
	nextAsync(rt)
	out = <-outc
	if out.Status != StatusSuccess || len(out.Payload) != MaxResponseBytes {
		t.Errorf("at the limit: %q with %d bytes, want success with %d", out.Status, len(out.Payload), MaxResponseBytes)
	}
}

// nextAsync calls /next in the background and sends the request id it got.
func nextAsync(rt rawRuntime) <-chan string {
	ch := make(chan string, 1)
	go func() {
		resp, err := http.Get(rt.base + nextPath)
		if err != nil {
			ch <- ""
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	}()
	return ch
}

func TestInitError(t *testing.T) {
	s, addr := startServer(t, Config{})
	rt := rawRuntime{t, "http://" + addr}
	doc := `{"errorMessage":"Unable to import module 'app': No module named 'x'","errorType":"Runtime.ImportModuleError"}`
	code, body, _ := rt.do("POST", "/2018-06-01/runtime/init/error", strings.NewReader(doc), "Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")
	if code != 202 || body != `{"status":"OK"}` {
		t.Fatalf("init error: %d %s", code, body)
	}
	res := waitInit(t, s, 5*time.Second)
	if res.Status != StatusError || string(res.ErrorBody) != doc || res.ErrorType != "Runtime.ImportModuleError" {
		t.Errorf("init = %q %q %q", res.Status, res.ErrorBody, res.ErrorType)
	}
	if code, _, _ := rt.do("POST", "/2018-06-01/runtime/init/error", strings.NewReader(doc)); code != 403 {
		t.Errorf("second init error: %d, want 403", code)
	}
	if code, _, _ := rt.do("GET", nextPath, nil); code != 403 {
		t.Errorf("next after init error: %d, want 403", code)
	}
}

func TestInvokeTimeoutAndBusy(t *testing.T) {
	s, addr := startServer(t, Config{})
	rt := rawRuntime{t, "http://" + addr}
	nextAsync(rt)
	waitInit(t, s, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	outc := make(chan Outcome)
	go func() {
		out, _ := s.Invoke(ctx, invocation("slow", `{}`))
		outc <- out
	}()
	// A second Invoke while the first is in flight is refused.
	time.Sleep(50 * time.Millisecond)
	if _, err := s.Invoke(context.Background(), invocation("two", `{}`)); !errors.Is(err, ErrBusy) {
		t.Errorf("concurrent Invoke: err %v, want ErrBusy", err)
	}
	out := <-outc
	if out.Status != StatusTimeout {
		t.Errorf("status %q, want timeout", out.Status)
	}
	// A late answer is refused.
	if code, body, _ := rt.do("POST", "/2018-06-01/runtime/invocation/slow/response", strings.NewReader("{}")); code != 400 || body != invalidID {
		t.Errorf("late response: %d %s, want 400", code, body)
	}
}

func TestAgentOnce(t *testing.T) {
	s, addr := startServer(t, Config{})
	rt := rawRuntime{t, "http://" + addr}
	s.Bind(BindConfig{Cmd: []string{"/bin/true"}, WorkDir: "/"})
	code, body, _ := rt.do("GET", BindPath, nil)
	if code != 200 || body != `{"cmd":["/bin/true"],"env":null,"workdir":"/"}` {
		t.Errorf("bind: %d %s", code, body)
	}
	if code, _, _ := rt.do("GET", BindPath, nil); code != 409 {
		t.Errorf("second bind: %d, want 409", code)
	}
	if code, _, _ := rt.do("POST", ExitPath, strings.NewReader(`{"status":"exit status 4"}`)); code != 202 {
		t.Errorf("exit: %d, want 202", code)
	}
	if code, _, _ := rt.do("POST", ExitPath, strings.NewReader(`{"status":"exit status 5"}`)); code != 409 {
		t.Errorf("second exit: %d, want 409", code)
	}
	if code, body, _ := rt.do("POST", LogsPath, strings.NewReader("x\x00\x00\x00\x01y")); code != 400 {
		t.Errorf("logs stream with an unknown frame kind: %d %s, want 400", code, body)
	}
	if code, _, _ := rt.do("POST", LogsPath, strings.NewReader("")); code != 409 {
		t.Errorf("second logs stream: %d, want 409", code)
	}
	res := waitInit(t, s, time.Second)
	if res.Status != StatusExit || res.Exit != "exit status 4" {
		t.Errorf("init = %q %q, want the first exit report", res.Status, res.Exit)
	}
}

func TestAWSPassThrough(t *testing.T) {
	var seen http.Header
	aws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		io.WriteString(w, "aws:"+r.URL.Path)
	})
	_, addr := startServer(t, Config{AWS: aws})
	rt := rawRuntime{t, "http://" + addr}
	code, body, _ := rt.do("GET", "/my-bucket/key", nil, LogSeqHeader, "7", "X-Amz-Date", "20260101T000000Z")
	if code != 200 || body != "aws:/my-bucket/key" {
		t.Errorf("aws: %d %q", code, body)
	}
	if seen.Get(LogSeqHeader) != "" || seen.Get("X-Amz-Date") == "" {
		t.Errorf("AWS handler saw headers %v: want the log header removed and the rest kept", seen)
	}
	_, addr = startServer(t, Config{})
	if code, _, _ := (rawRuntime{t, "http://" + addr}).do("GET", "/my-bucket/key", nil); code != 404 {
		t.Errorf("no AWS handler: %d, want 404", code)
	}
}

func TestLogBufferCut(t *testing.T) {
	b := logBuffer{max: 4}
	b.write([]byte("abcdef")) // phase 1: "abcd" kept, 2 dropped
	b.mark(1)
	b.write([]byte("gh")) // after marker 1: dropped (buffer full, not contiguous)
	log, trunc := b.cut(b.offset(1))
	if string(log) != "abcd" || trunc != 2 {
		t.Errorf("cut 1 = %q, %d; want abcd, 2", log, trunc)
	}
	b.write([]byte("ij"))
	b.mark(2)
	b.write([]byte("kl"))
	log, trunc = b.cut(b.offset(2))
	// "gh" was dropped while the cap was reached, then "ij" kept.
	if string(log) != "ij" || trunc != 2 {
		t.Errorf("cut 2 = %q, %d; want ij, 2", log, trunc)
	}
	log, trunc = b.cut(b.total)
	if string(log) != "kl" || trunc != 0 {
		t.Errorf("cut 3 = %q, %d; want kl, 0", log, trunc)
	}
	if got := b.offset(99); got != b.total {
		t.Errorf("unknown marker offset %d, want the end %d", got, b.total)
	}
}

func TestLogFramesAttributed(t *testing.T) {
	s, addr := startServer(t, Config{MaxLogBytes: 8})
	rt := rawRuntime{t, "http://" + addr}
	frame := func(kind byte, payload []byte) []byte {
		n := len(payload)
		return append([]byte{kind, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	marker := func(seq byte) []byte { return frame(FrameMarker, []byte{0, 0, 0, 0, 0, 0, 0, seq}) }
	var stream []byte
	stream = append(stream, frame(FrameStdout, []byte("hello "))...)
	stream = append(stream, frame(FrameStderr, []byte("world, and more"))...)
	stream = append(stream, marker(1)...)
	stream = append(stream, frame(FrameStdout, []byte("later"))...)
	if code, body, _ := rt.do("POST", LogsPath, bytes.NewReader(stream)); code != 200 {
		t.Fatalf("logs: %d %s", code, body)
	}
	// /next tagged with marker 1 ends init exactly there: "later" is not init's.
	go http.DefaultClient.Do(mustRequest(t, "GET", rt.base+nextPath, LogSeqHeader, "1"))
	res := waitInit(t, s, 5*time.Second)
	if string(res.Log) != "hello wo" || res.Truncated != int64(len("hello world, and more"))-8 {
		t.Errorf("init log %q truncated %d, want %q and %d", res.Log, res.Truncated, "hello wo", len("hello world, and more")-8)
	}
}

func mustRequest(t testing.TB, method, url string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}
