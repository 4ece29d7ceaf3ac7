package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// The tests run the clients on the host, the way the image runs them: the
// embedded files are copied out with FileMode, the start script is executed
// with the environment Lambda sets, and the client talks to a real
// runtimeapi.Server over TCP. Only the in-container init is left out, so
// output is read from the process's own stdout file rather than from the
// server's per-invocation log.

// hostPath is Lambda's PATH minus its /var/lang and /opt parts: the host's
// python3 and node are found in /usr/bin, never through a version manager's
// shims in the developer's own PATH.
const hostPath = "/usr/local/bin:/usr/bin:/bin"

func requireInterpreter(t testing.TB, runtime string) {
	t.Helper()
	name := map[string]string{Python313: "python3", Nodejs20: "node", Provided: "bash"}[runtime]
	for _, dir := range filepath.SplitList(hostPath) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return
		}
	}
	// make test (LAMBDALAB_REQUIRE_DOCKER=1) runs the whole suite: a client
	// left untested there must fail the run, not pass it quietly.
	if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
		t.Fatalf("%s is not installed in %s; the %s client cannot be tested (install Debian's python3, nodejs and bash)", name, hostPath, runtime)
	}
	t.Skipf("%s is not installed in %s; the %s client cannot be tested here", name, hostPath, runtime)
}

// interpreterOverride lets a run use another python3 or node than the
// host's, e.g. the image's Python 3.13:
//
//	LAMBDALAB_TEST_PYTHON=/root/.pyenv/versions/3.13.0/bin/python3.13 go test ./sandbox/runtimes
//
// It returns a directory to put first in PATH, or "".
func interpreterOverride(t testing.TB, root string) string {
	t.Helper()
	links := map[string]string{
		"python3": os.Getenv("LAMBDALAB_TEST_PYTHON"),
		"node":    os.Getenv("LAMBDALAB_TEST_NODE"),
	}
	dir := filepath.Join(root, "bin")
	made := false
	for name, target := range links {
		if target == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		made = true
	}
	if !made {
		return ""
	}
	return dir
}

// writeFileNoFork writes a file while no goroutine of this process can fork.
// Parallel tests start processes all the time; a child forked while an
// executable is open for writing inherits that descriptor until its own
// exec, and executing the file meanwhile fails with "text file busy".
// Go's fork holds syscall.ForkLock for reading, so holding it for writing
// closes that window.
func writeFileNoFork(name string, data []byte, mode fs.FileMode) error {
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	return os.WriteFile(name, data, mode)
}

// writeClients copies FS into dir as the image builder does.
func writeClients(t testing.TB, dir string) {
	t.Helper()
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFileNoFork(target, data, FileMode(p))
	})
	if err != nil {
		t.Fatalf("copy runtime clients to %s: %v", dir, err)
	}
}

// function is a deployment package and its configuration.
type function struct {
	runtime string
	handler string
	files   map[string]string // path in the task root → content
	env     []string          // extra variables
	// modes overrides a file's mode; by default a file starting with "#!"
	// is executable and others are not.
	modes map[string]fs.FileMode
}

type harness struct {
	t      testing.TB
	srv    *runtimeapi.Server
	task   string
	output string // file holding the runtime's stdout and stderr
	cmd    *exec.Cmd
	exited chan struct{}

	mu   sync.Mutex
	seen int // bytes of output already returned by newOutput
}

func start(t testing.TB, fn function) *harness {
	t.Helper()
	requireInterpreter(t, fn.runtime)
	root := t.TempDir()
	rt := filepath.Join(root, "runtime")
	task := filepath.Join(root, "task")
	writeClients(t, rt)
	if err := os.MkdirAll(task, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range fn.files {
		p := filepath.Join(task, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if m, ok := fn.modes[name]; ok {
			mode = m
		}
		if err := writeFileNoFork(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}

	srv := runtimeapi.New(runtimeapi.Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Close)

	argv, err := Command(fn.runtime)
	if err != nil {
		t.Fatal(err)
	}
	// Command names the image's paths; here the same files live under rt.
	bin := filepath.Join(rt, strings.TrimPrefix(argv[0], Dir+"/"))

	output := filepath.Join(root, "output.log")
	out, err := os.Create(output)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	path := hostPath
	if dir := interpreterOverride(t, root); dir != "" {
		path = dir + ":" + path
	}

	cmd := exec.Command(bin, argv[1:]...)
	cmd.Dir = task
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append([]string{
		"PATH=" + path,
		"LANG=C.UTF-8",
		"TZ=:UTC",
		"AWS_LAMBDA_RUNTIME_API=" + l.Addr().String(),
		"_HANDLER=" + fn.handler,
		"LAMBDA_TASK_ROOT=" + task,
		"LAMBDA_RUNTIME_DIR=" + rt,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME=orders",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/orders",
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
	}, fn.env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	h := &harness{t: t, srv: srv, task: task, output: output, cmd: cmd, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		status := "exit status 0"
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ProcessState.String()
		}
		srv.Fail(status)
		close(h.exited)
	}()
	t.Cleanup(h.stop)
	return h
}

// stop kills the runtime and everything it started (its process group).
func (h *harness) stop() {
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	<-h.exited
}

// init waits for the runtime's init to end.
func (h *harness) init() runtimeapi.InitResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.srv.WaitInit(ctx)
	if err != nil {
		h.t.Fatalf("wait for init: %v", err)
	}
	return res
}

// ready waits for a successful init.
func (h *harness) ready() {
	h.t.Helper()
	if res := h.init(); res.Status != runtimeapi.StatusSuccess {
		h.t.Fatalf("init ended with %s (%s %s), want success; output:\n%s", res.Status, res.ErrorType, res.ErrorBody, h.allOutput())
	}
}

var requestSeq struct {
	sync.Mutex
	n int
}

func newRequestID() string {
	requestSeq.Lock()
	defer requestSeq.Unlock()
	requestSeq.n++
	return fmt.Sprintf("5f1d2c3b-0000-4000-8000-%012d", requestSeq.n)
}

// invoke hands one event to the runtime and waits for its answer.
func (h *harness) invoke(payload string, edit ...func(*runtimeapi.Invocation)) runtimeapi.Outcome {
	h.t.Helper()
	inv := runtimeapi.Invocation{
		RequestID:          newRequestID(),
		Payload:            []byte(payload),
		Deadline:           time.Now().Add(20 * time.Second),
		InvokedFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
	}
	for _, e := range edit {
		e(&inv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.srv.Invoke(ctx, inv)
	if err != nil {
		h.t.Fatalf("invoke: %v", err)
	}
	return out
}

// result invokes and requires a successful answer, decoded into v.
func (h *harness) result(payload string, v any, edit ...func(*runtimeapi.Invocation)) {
	h.t.Helper()
	out := h.invoke(payload, edit...)
	if out.Status != runtimeapi.StatusSuccess {
		h.t.Fatalf("invoke ended with %s %s, want success; output:\n%s", out.Status, out.Payload, h.allOutput())
	}
	if err := json.Unmarshal(out.Payload, v); err != nil {
		h.t.Fatalf("decode result %q: %v", out.Payload, err)
	}
}

func (h *harness) allOutput() string {
	data, err := os.ReadFile(h.output)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

// newOutput returns what the runtime wrote since the last call. The clients
// write before they post, and writes to a file are synchronous, so after an
// invoke it holds everything the invocation printed.
func (h *harness) newOutput() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := h.allOutput()
	s := all[h.seen:]
	h.seen = len(all)
	return s
}

// exitStatus waits for the runtime to exit and returns Go's wording of it.
func (h *harness) exitStatus() string {
	h.t.Helper()
	select {
	case <-h.exited:
	case <-time.After(30 * time.Second):
		h.t.Fatal("runtime did not exit")
	}
	return h.cmd.ProcessState.String()
}

// errorDoc is the union of the Python and Node.js error documents.
type errorDoc struct {
	ErrorMessage string    `json:"errorMessage"`
	ErrorType    string    `json:"errorType"`
	RequestID    *string   `json:"requestId"`
	StackTrace   *[]string `json:"stackTrace"`
	Trace        *[]string `json:"trace"`
}

func decodeError(t testing.TB, body []byte) errorDoc {
	t.Helper()
	var doc errorDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error document %q: %v", body, err)
	}
	return doc
}
