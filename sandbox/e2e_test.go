package sandbox_test

// End-to-end tests of the execution environment: the engine on the real
// Docker backend, the real runtime image, our runtime clients and real
// handlers, hostile ones included (reference/sandbox-profile.md §7). Each
// hostile test also checks that the platform then runs an ordinary invoke.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/sandbox/kubernetes/k8sstack"
	"lambdalab/sandbox/runtimes"
	"lambdalab/store"
)

var env struct {
	once    sync.Once
	err     error
	backend *docker.Backend
	dir     string
	initBin string
	image   string
}

// onKubernetes says the suite runs on the Kubernetes backend
// (LAMBDALAB_TEST_BACKEND=kubernetes, as make test-k8s-node sets it): Pods
// on a real kubelet and containerd on this machine, through a node agent,
// instead of containers on the Docker engine, which still builds the image.
func onKubernetes() bool { return os.Getenv("LAMBDALAB_TEST_BACKEND") == "kubernetes" }

// testBackend is the backend the suite runs on.
func testBackend(t testing.TB) sandbox.Backend {
	t.Helper()
	requireDocker(t)
	if onKubernetes() {
		return k8sstack.Backend(t, env.image, env.initBin)
	}
	return env.backend
}

// requireDocker skips when no Docker engine answers, or fails when
// LAMBDALAB_REQUIRE_DOCKER=1 (as `make test` sets it).
func requireDocker(t testing.TB) {
	t.Helper()
	if testing.Short() && os.Getenv("LAMBDALAB_REQUIRE_DOCKER") != "1" {
		t.Skip("-short: skipping Docker tests")
	}
	env.once.Do(setupDocker)
	if env.err != nil {
		if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Docker is required (LAMBDALAB_REQUIRE_DOCKER=1): %v", env.err)
		}
		t.Skipf("no usable Docker engine (run scripts/deps.sh docker): %v", env.err)
	}
}

func setupDocker() {
	ctx := context.Background()
	if err := exec.Command("docker", "info").Run(); err != nil {
		env.err = fmt.Errorf("docker info: %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "lambdalab-sandbox-e2e-")
	if err != nil {
		env.err = err
		return
	}
	env.dir = dir
	env.initBin = filepath.Join(dir, "lambdalab-init")
	build := exec.Command("go", "build", "-o", env.initBin, "lambdalab/sandbox/init")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		env.err = fmt.Errorf("build init: %v\n%s", err, out)
		return
	}
	image, err := docker.EnsureImage(ctx, os.Stderr, false)
	if err != nil {
		env.err = fmt.Errorf("runtime image: %w", err)
		return
	}
	env.image = image
	// LAMBDALAB_TEST_OCI_RUNTIME=runsc runs the suite under gVisor.
	env.backend, env.err = docker.New(ctx, docker.Options{Image: image, InitBinary: env.initBin, DataDir: filepath.Join(dir, "data"),
		Runtime: os.Getenv("LAMBDALAB_TEST_OCI_RUNTIME")})
}

func TestMain(m *testing.M) {
	code := m.Run()
	k8sstack.Stop() // the suite's, or the benchmarks' kubernetes half; nothing if neither started it
	if env.dir != "" {
		if env.backend != nil {
			env.backend.Sweep(context.Background())
		}
		os.RemoveAll(env.dir)
	}
	os.Exit(code)
}

func underGVisor() bool { return os.Getenv("LAMBDALAB_TEST_OCI_RUNTIME") == "runsc" }

func newEngine(t testing.TB, cfg sandbox.Config) *sandbox.Engine {
	t.Helper()
	return newEngineOn(t, testBackend(t), cfg)
}

// newEngineOn is newEngine on the given backend.
func newEngineOn(t testing.TB, backend sandbox.Backend, cfg sandbox.Config) *sandbox.Engine {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "e2e.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Runtime = func(rt string) ([]string, []string, error) {
		cmd, err := runtimes.Command(rt)
		return cmd, runtimes.Env(rt), err
	}
	e := sandbox.New(db, backend, cfg)
	t.Cleanup(func() {
		e.Close(context.Background())
		db.Close()
	})
	return e
}

// code writes a deployment package into a fresh directory.
func code(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if name == "bootstrap" {
			mode = 0o755
		}
		// No fork may inherit the descriptor while the file is open for
		// writing, or executing it later could fail with "text file busy".
		syscall.ForkLock.Lock()
		err := os.WriteFile(p, []byte(body), mode)
		syscall.ForkLock.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var fnSeq struct {
	sync.Mutex
	n int
}

// pyFunction is a Python function with app.py as its code.
func pyFunction(t testing.TB, src string) sandbox.Function {
	t.Helper()
	fnSeq.Lock()
	fnSeq.n++
	n := fnSeq.n
	fnSeq.Unlock()
	return sandbox.Function{
		AccountID: "111122223333", Name: fmt.Sprintf("fn-%d-%d", os.Getpid(), n),
		Runtime: sandbox.RuntimePython313, Handler: "app.handler", MemoryMB: 512, Timeout: 10 * time.Second,
		CodeDir: code(t, map[string]string{"app.py": src}),
	}
}

func invoke(t testing.TB, e *sandbox.Engine, fn sandbox.Function, payload string) *sandbox.Result {
	t.Helper()
	res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", fn.Name, err)
	}
	return res
}

// goInvoke invokes fn in the background. An error fails the test with
// Errorf (Fatal may not be called off the test's goroutine) and yields an
// empty result, so that the test's wait for it still ends.
func goInvoke(t testing.TB, e *sandbox.Engine, fn sandbox.Function, payload string) <-chan *sandbox.Result {
	done := make(chan *sandbox.Result, 1)
	go func() {
		res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(payload)})
		if err != nil {
			t.Errorf("invoke %s: %v", fn.Name, err)
			res = &sandbox.Result{}
		}
		done <- res
	}()
	return done
}

func decode(t testing.TB, res *sandbox.Result) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(res.Payload, &v); err != nil {
		t.Fatalf("payload %q is not a JSON object: %v\nlog:\n%s", res.Payload, err, res.Log)
	}
	return v
}

// stillWorks checks the platform runs an ordinary function after an attack.
func stillWorks(t *testing.T, e *sandbox.Engine) {
	t.Helper()
	fn := pyFunction(t, "def handler(event, context):\n    return {'ok': True}\n")
	res := invoke(t, e, fn, `{}`)
	if string(res.Payload) != `{"ok": true}` && string(res.Payload) != `{"ok":true}` {
		t.Errorf("after the attack an ordinary invoke returned %s\n%s", res.Payload, res.Log)
	}
}

func TestPythonHandlerEndToEnd(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import os
count = 0
print("module loaded")
def handler(event, context):
    global count
    count += 1
    print("handling", event["name"])
    return {
        "count": count, "name": event["name"],
        "request_id": context.aws_request_id, "function_name": context.function_name,
        "version": context.function_version, "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn, "uid": os.getuid(), "cwd": os.getcwd(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
    }
`)
	first := invoke(t, e, fn, `{"name":"ada"}`)
	v := decode(t, first)
	if !first.Cold || v["count"].(float64) != 1 || v["request_id"] != first.RequestID || v["function_name"] != fn.Name ||
		v["version"] != "$LATEST" || v["memory"] != "512" || v["cwd"] != "/var/task" || v["task_root"] != "/var/task" ||
		v["arn"] != fn.ARN() || v["uid"].(float64) == 0 {
		t.Errorf("first invoke returned %v (cold %v)", v, first.Cold)
	}
	if r := v["remaining"].(float64); r <= 0 || r > 10000 {
		t.Errorf("remaining time %v ms, want within the 10 s timeout", r)
	}
	log := string(first.Log)
	startAt := strings.Index(log, "START RequestId: "+first.RequestID+" Version: $LATEST")
	if i := strings.Index(log, "module loaded"); i < 0 || i > startAt {
		t.Errorf("init output not before START:\n%s", log)
	}
	if i := strings.Index(log, "handling ada"); i < startAt || i > strings.Index(log, "END RequestId") {
		t.Errorf("handler output not between START and END:\n%s", log)
	}
	if !strings.Contains(log, "\tInit Duration: ") || !strings.Contains(log, "REPORT RequestId: "+first.RequestID+"\tDuration: ") {
		t.Errorf("cold REPORT line missing its fields:\n%s", log)
	}
	second := invoke(t, e, fn, `{"name":"grace"}`)
	if v := decode(t, second); second.Cold || v["count"].(float64) != 2 || second.InstanceID != first.InstanceID {
		t.Errorf("second invoke: cold %v, %v; want warm reuse with the module state kept", second.Cold, v)
	}
	if strings.Contains(string(second.Log), "handling ada") || strings.Contains(string(second.Log), "module loaded") {
		t.Errorf("warm log holds output of an earlier phase:\n%s", second.Log)
	}
}

func TestPythonErrors(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	res := invoke(t, e, pyFunction(t, "def handler(event, context):\n    raise ValueError('boom')\n"), `{}`)
	v := decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorType"] != "ValueError" || v["errorMessage"] != "boom" || v["requestId"] != res.RequestID {
		t.Errorf("exception result = %s (%s)", res.Payload, res.FunctionError)
	}
	if st, _ := v["stackTrace"].([]any); len(st) == 0 || !strings.Contains(fmt.Sprint(st), "app.py") || strings.Contains(fmt.Sprint(st), "/var/runtime") {
		t.Errorf("stack trace %v: want the handler's frames only", v["stackTrace"])
	}
	fn := pyFunction(t, "import nope\ndef handler(event, context):\n    return 1\n")
	res = invoke(t, e, fn, `{}`)
	v = decode(t, res)
	if v["errorType"] != "Runtime.ImportModuleError" || v["errorMessage"] != "Unable to import module 'app': No module named 'nope'" {
		t.Errorf("import error result = %s", res.Payload)
	}
	if !strings.Contains(string(res.Log), "INIT_REPORT Init Duration: ") {
		t.Errorf("import error log has no INIT_REPORT:\n%s", res.Log)
	}
	stillWorks(t, e)
}

func TestNodeHandler(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "")
	fn.Runtime = sandbox.RuntimeNodejs20
	fn.Handler = "index.handler"
	fn.CodeDir = code(t, map[string]string{"index.mjs": `export const handler = async (event, context) => {
  console.log("node sees", event.name);
  return { hello: event.name, id: context.awsRequestId, fn: context.functionName };
};
`})
	res := invoke(t, e, fn, `{"name":"linus"}`)
	v := decode(t, res)
	if v["hello"] != "linus" || v["id"] != res.RequestID || v["fn"] != fn.Name {
		t.Errorf("node result = %s\n%s", res.Payload, res.Log)
	}
	if !strings.Contains(string(res.Log), "node sees linus") {
		t.Errorf("node log:\n%s", res.Log)
	}
}

// TestProvidedAWSLambdaGo runs a handler built with the unmodified
// aws-lambda-go library as a provided-runtime bootstrap.
func TestProvidedAWSLambdaGo(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./testdata/gohandler")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go handler: %v\n%s", err, out)
	}
	fn := pyFunction(t, "")
	fn.Runtime, fn.Handler, fn.CodeDir, fn.Timeout = sandbox.RuntimeProvided, "bootstrap", dir, 5*time.Second
	before := time.Now()
	res := invoke(t, e, fn, `{"name":"gopher"}`)
	v := decode(t, res)
	deadline := time.UnixMilli(int64(v["deadline_ms"].(float64)))
	if v["greeting"] != "hello gopher" || v["request_id"] != res.RequestID || v["function_arn"] != fn.ARN() || v["version"] != "$LATEST" {
		t.Errorf("Go handler result = %s", res.Payload)
	}
	if deadline.Before(before.Add(4*time.Second)) || deadline.After(time.Now().Add(5*time.Second)) {
		t.Errorf("context deadline %v is not about 5 s after the invoke began at %v", deadline, before)
	}
	if !strings.Contains(string(res.Log), "hello from go gopher") {
		t.Errorf("Go handler output missing:\n%s", res.Log)
	}
	res = invoke(t, e, fn, `{"fail":true,"name":"x"}`)
	v = decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorMessage"] != "asked to fail for x" || v["errorType"] != "errorString" {
		t.Errorf("Go handler error result = %s (%s)", res.Payload, res.FunctionError)
	}
}

func TestTimeoutKillsEverything(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import subprocess, time
def handler(event, context):
    subprocess.Popen(["sleep", "1000"])
    subprocess.Popen(["sh", "-c", "trap '' TERM; while :; do :; done"])
    time.sleep(1000)
`)
	fn.Timeout = time.Second
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if v["errorType"] != "Sandbox.Timedout" || v["errorMessage"] != "RequestId: "+res.RequestID+" Error: Task timed out after 1.00 seconds" {
		t.Errorf("timeout result = %s", res.Payload)
	}
	if !strings.Contains(string(res.Log), "Status: timeout") {
		t.Errorf("timeout REPORT:\n%s", res.Log)
	}
	again := invoke(t, e, pyFunction(t, "def handler(e, c):\n    return 1\n"), `{}`)
	if string(again.Payload) != "1" {
		t.Errorf("after a timeout: %s", again.Payload)
	}
	if n := len(e.Instances("")); n > 1 {
		t.Errorf("%d instances alive after the timed-out one should be gone", n)
	}
}

func TestInfiniteLoop(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "def handler(event, context):\n    while True:\n        pass\n")
	fn.Timeout, fn.MemoryMB = time.Second, 128
	res := invoke(t, e, fn, `{}`)
	if v := decode(t, res); v["errorType"] != "Sandbox.Timedout" {
		t.Errorf("spinning handler = %s", res.Payload)
	}
	stillWorks(t, e)
}

func TestMemoryBomb(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "def handler(event, context):\n    hog = []\n    while True:\n        hog.append(bytearray(8 << 20))\n")
	fn.MemoryMB = 128
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorType"] != "Runtime.ExitError" ||
		v["errorMessage"] != "RequestId: "+res.RequestID+" Error: Runtime exited with error: signal: killed" {
		t.Errorf("memory bomb = %s\n%s", res.Payload, res.Log)
	}
	if !strings.Contains(string(res.Log), "Error Type: Runtime.OutOfMemory") || !strings.Contains(string(res.Log), "Max Memory Used: 128 MB") {
		t.Errorf("memory bomb REPORT:\n%s", res.Log)
	}
	stillWorks(t, e)
}

// TestForkBomb: a handler that forks without end, and keeps trying when a
// fork is refused, must be contained under either runtime: the host can still
// start processes, another learner's function answers during the attack, and
// the bombed function's next invoke is a fresh instance with an empty /tmp.
// How it ends depends on which limit bites first. Under runc each guest
// process is a host task, so forks fail at the 1,024-process limit (EAGAIN,
// as in Lambda) and the function's timeout ends the invocation. Under gVisor
// each guest process also costs memory in its user-space kernel, counted in
// the sandbox's memory limit, so memory runs out before the 5,120-task limit
// and the runtime is killed: Lambda's answer to a function that exhausts its
// memory (Runtime.ExitError, signal: killed, Runtime.OutOfMemory in the REPORT).
func TestForkBomb(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import os, time
def handler(event, context):
    if event.get("check"):
        return {"tmp": sorted(os.listdir("/tmp")), "procs": sum(1 for p in os.listdir("/proc") if p.isdigit())}
    open("/tmp/bombed", "w").close()
    forks = refused = 0
    while True:
        try:
            pid = os.fork()
        except OSError as e:
            if refused == 0:
                print(f"fork refused after {forks} forks: {type(e).__name__}: {e}", flush=True)
            refused += 1
            time.sleep(0.01)
            continue
        if pid == 0:
            time.sleep(1000)
            os._exit(0)
        forks += 1
        if forks % 100 == 0:
            print(f"forked {forks}", flush=True)
`)
	fn.MemoryMB = 1769 // a whole vCPU, so the bomb forks as fast as it can
	// Under runc the timeout is how the attack ends; under gVisor memory
	// must run out first, and its user-space kernel forks slowly on a
	// loaded machine, so it gets longer.
	fn.Timeout = 15 * time.Second
	if underGVisor() {
		fn.Timeout = 90 * time.Second
	}
	neighbour := pyFunction(t, "def handler(event, context):\n    return {'ok': True}\n")
	neighbour.AccountID = "444455556666"
	if res := invoke(t, e, neighbour, `{}`); string(res.Payload) != `{"ok": true}` {
		t.Fatalf("neighbour before the attack = %s\n%s", res.Payload, res.Log)
	}

	type outcome struct {
		res *sandbox.Result
		err error
	}
	bombed := make(chan outcome, 1)
	go func() {
		res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(`{}`)})
		bombed <- outcome{res, err}
	}()
	// While the bomb runs, the neighbour keeps answering and the host can
	// still start a process. Counting only the invokes that finish before
	// the bomb does keeps this an ordering, not a timing, assertion.
	var during int
	var bomb outcome
wait:
	for {
		select {
		case bomb = <-bombed:
			break wait
		case <-time.After(200 * time.Millisecond):
		}
		res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: neighbour, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatalf("neighbour during the fork bomb: %v", err)
		}
		if string(res.Payload) != `{"ok": true}` {
			t.Fatalf("neighbour during the fork bomb = %s\n%s", res.Payload, res.Log)
		}
		if err := exec.Command("true").Run(); err != nil {
			t.Fatalf("the host cannot start a process during the fork bomb: %v", err)
		}
		select {
		case bomb = <-bombed:
			break wait
		default:
			during++
		}
	}
	if during == 0 {
		t.Error("no neighbour invoke completed while the fork bomb ran")
	}
	if bomb.err != nil {
		t.Fatalf("invoke the fork bomb: %v", bomb.err)
	}
	res := bomb.res
	v := decode(t, res)
	logText := string(res.Log)
	if underGVisor() {
		if res.FunctionError != "Unhandled" || v["errorType"] != "Runtime.ExitError" ||
			v["errorMessage"] != "RequestId: "+res.RequestID+" Error: Runtime exited with error: signal: killed" ||
			!strings.Contains(logText, "Error Type: Runtime.OutOfMemory") {
			t.Errorf("fork bomb under gVisor = %s, want the runtime killed for running out of memory\n%s", res.Payload, logText)
		}
	} else {
		var forks int
		if i := strings.Index(logText, "fork refused after "); i >= 0 {
			fmt.Sscanf(logText[i:], "fork refused after %d forks", &forks)
		}
		if v["errorType"] != "Sandbox.Timedout" || forks == 0 || forks >= 1024 ||
			!strings.Contains(logText, "BlockingIOError: [Errno 11] Resource temporarily unavailable") {
			t.Errorf("fork bomb under runc = %s, want forks refused (EAGAIN) below 1,024 processes and then the timeout\n%s", res.Payload, logText)
		}
	}
	refusal := "no fork refused"
	if i := strings.Index(logText, "fork refused after "); i >= 0 {
		refusal, _, _ = strings.Cut(logText[i:], "\n")
	} else if i := strings.LastIndex(logText, "forked "); i >= 0 {
		refusal, _, _ = strings.Cut(logText[i:], "\n")
		refusal = "no fork refused, last " + refusal
	}
	t.Logf("fork bomb: %s; %s; %d neighbour invokes during it", res.Payload, refusal, during)

	next := invoke(t, e, fn, `{"check":true}`)
	nv := decode(t, next)
	if !next.Cold || fmt.Sprint(nv["tmp"]) != "[]" {
		t.Errorf("the bombed function's next invoke: cold %v, /tmp %v; want a fresh instance with an empty /tmp", next.Cold, nv["tmp"])
	}
	if n, _ := nv["procs"].(float64); n == 0 || n > 20 {
		t.Errorf("the bombed function's next invoke sees %v processes, want the runtime's few", nv["procs"])
	}
	stillWorks(t, e)
}

func TestFileSystem(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import os, errno
def attempt(path):
    try:
        with open(path, "wb") as f:
            f.write(b"x")
        return "written"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def handler(event, context):
    out = {p: attempt(p) for p in ["/var/task/x", "/x", "/var/tmp/x", "/opt/x", "/dev/shm/x", "/tmp/x"]}
    written = 0
    chunk = b"\0" * (4 << 20)
    try:
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
                written += len(chunk)
    except OSError as e:
        out["fill"] = errno.errorcode.get(e.errno, str(e.errno))
    out["written_mb"] = written >> 20
    os.remove("/tmp/fill")
    return out
`)
	fn.MemoryMB, fn.Timeout = 256, 120*time.Second
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	want := map[string]string{"/var/task/x": "EROFS", "/x": "EROFS", "/var/tmp/x": "EROFS", "/opt/x": "EROFS", "/dev/shm/x": "ENOENT", "/tmp/x": "written", "fill": "ENOSPC"}
	if onKubernetes() {
		// A Pod cannot be without /dev/shm: it is an empty read-only
		// folder there (sandbox/kubernetes PodFor), as unwritable as none.
		want["/dev/shm/x"] = "EROFS"
	}
	for k, w := range want {
		if underGVisor() && w != "written" && w != "ENOSPC" && v[k] == "EACCES" {
			continue // gVisor's gofer refuses the write before the read-only mount does
		}
		if v[k] != w {
			t.Errorf("%s: %v, want %s", k, v[k], w)
		}
	}
	// /tmp is its own 512 MB file system, not memory: a 256 MB function
	// fills most of it without being OOM-killed.
	if mb := v["written_mb"].(float64); mb < 400 || mb > 512 {
		t.Errorf("wrote %v MB into /tmp before ENOSPC, want 400–512", mb)
	}
	stillWorks(t, e)
}

func TestStdoutFlood(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "import sys\ndef handler(event, context):\n    line = 'x' * 1023 + '\\n'\n    for _ in range(100 * 1024):\n        sys.stdout.write(line)\n    return 'done'\n")
	fn.MemoryMB, fn.Timeout = 1769, 60*time.Second
	res := invoke(t, e, fn, `{}`)
	if string(res.Payload) != `"done"` {
		t.Errorf("flooding handler = %s", res.Payload)
	}
	if len(res.Log) > 1<<20+4096 || !strings.Contains(string(res.Log), "Output truncated after 1024 KiB") {
		t.Errorf("100 MB of output gave a %d-byte log; want it capped at 1 MiB with a marker", len(res.Log))
	}
	if !strings.Contains(string(res.Log), "REPORT RequestId: "+res.RequestID) {
		t.Error("REPORT line lost after the flood")
	}
	stillWorks(t, e)
}

// hostAddr is a non-loopback address of this machine, where a test server
// listens: a sandbox must not reach it.
func hostAddr(t *testing.T) string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address")
	return ""
}

func TestNoNetwork(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fn := pyFunction(t, `import socket, errno
def reach(host, port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()
def handler(event, context):
    out = {h: reach(h, event["port"]) for h in event["hosts"]}
    try:
        socket.getaddrinfo("example.com", 80)
        out["dns"] = "resolved"
    except OSError as e:
        out["dns"] = type(e).__name__
    out["interfaces"] = [name for _, name in socket.if_nameindex()]
    return out
`)
	hosts := []string{hostAddr(t), "172.17.0.1", "192.0.2.1"}
	payload, _ := json.Marshal(map[string]any{"port": port, "hosts": hosts})
	res := invoke(t, e, fn, string(payload))
	v := decode(t, res)
	for _, h := range hosts {
		if underGVisor() && v[h] == "EHOSTUNREACH" {
			continue // gVisor's netstack words "no route" this way
		}
		if v[h] != "ENETUNREACH" {
			t.Errorf("connect to %s:%d from a sandbox: %v, want ENETUNREACH", h, port, v[h])
		}
	}
	if v["dns"] != "gaierror" {
		t.Errorf("DNS from a sandbox: %v, want gaierror", v["dns"])
	}
	want := "[lo]"
	if onKubernetes() {
		// Every Pod has an interface from the node's CNI plugin; on a
		// sandbox node it sits on a bridge with no route off it
		// (sandbox/kubernetes doc.go), hence ENETUNREACH above.
		want = "[lo eth0]"
	}
	if got := fmt.Sprint(v["interfaces"]); got != want {
		t.Errorf("sandbox interfaces %v, want %s", got, want)
	}
}

func TestIsolationBetweenInstances(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	secretFn := pyFunction(t, "import time\ndef handler(event, context):\n    time.sleep(3)\n    return 'kept'\n")
	secretFn.Env = map[string]string{"SECRET_TOKEN": "s3cr3t-of-account-a"}
	done := goInvoke(t, e, secretFn, `{}`)
	spy := pyFunction(t, `import os
def handler(event, context):
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    seen = []
    for p in pids:
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                seen.append(f.read().decode(errors="replace"))
        except OSError:
            pass
    return {"pids": len(pids), "environ": "\n".join(seen)}
`)
	spy.AccountID = "444455556666"
	time.Sleep(time.Second)
	res := invoke(t, e, spy, `{}`)
	v := decode(t, res)
	if strings.Contains(fmt.Sprint(v["environ"]), "s3cr3t") {
		t.Error("one instance read another instance's environment")
	}
	if n := v["pids"].(float64); n > 5 {
		t.Errorf("a sandbox sees %v processes; want only its own few", n)
	}
	if r := <-done; string(r.Payload) != `"kept"` {
		t.Errorf("the other instance: %s", r.Payload)
	}
}

func TestForeignRequestID(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import http.client, os
def handler(event, context):
    c = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    c.request("POST", "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response", body=b'"forged"')
    r = c.getresponse()
    return {"status": r.status, "body": r.read().decode()}
`)
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if v["status"].(float64) != 400 || !strings.Contains(fmt.Sprint(v["body"]), "InvalidRequestID") {
		t.Errorf("posting for another request id = %v", v)
	}
}

func TestRuntimeNeverCallsNext(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "")
	fn.Runtime, fn.Handler, fn.Timeout = sandbox.RuntimeProvided, "x", 2*time.Second
	fn.CodeDir = code(t, map[string]string{"bootstrap": "#!/bin/sh\necho stuck before next\nexec sleep 1000\n"})
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorType"] != "Sandbox.Timedout" {
		t.Errorf("runtime that never calls /next = %s", res.Payload)
	}
	if !strings.Contains(string(res.Log), "INIT_REPORT") || !strings.Contains(string(res.Log), "Status: timeout") || !strings.Contains(string(res.Log), "stuck before next") {
		t.Errorf("log:\n%s", res.Log)
	}
	stillWorks(t, e)
}

func TestConcurrencyOneRequestPerInstance(t *testing.T) {
	e := newEngine(t, sandbox.Config{AccountConcurrency: 3})
	fn := pyFunction(t, "import time\ndef handler(event, context):\n    time.sleep(1)\n    return context.aws_request_id\n")
	var wg sync.WaitGroup
	results := make(chan *sandbox.Result, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- invoke(t, e, fn, `{}`)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	_, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn})
	var apiErr *sandbox.APIError
	if err == nil || !strings.Contains(err.Error(), sandbox.ReasonConcurrentLimit) {
		t.Errorf("fourth concurrent invoke at a limit of 3: %v", err)
	} else if !errors.As(err, &apiErr) || apiErr.Status != 429 {
		t.Errorf("throttle error %v is not a 429 APIError", err)
	}
	wg.Wait()
	close(results)
	instances := map[string]bool{}
	for r := range results {
		instances[r.InstanceID] = true
	}
	if len(instances) != 3 {
		t.Errorf("3 concurrent invokes ran on %d instances, want 3", len(instances))
	}
}

func TestProvidedWithoutBootstrap(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "")
	fn.Runtime, fn.Handler = sandbox.RuntimeProvided, "x"
	fn.CodeDir = code(t, map[string]string{"README": "no bootstrap here\n"})
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if v["errorType"] != "Runtime.InvalidEntrypoint" || !strings.HasPrefix(fmt.Sprint(v["errorMessage"]), "RequestId: "+res.RequestID+" Error: Couldn't find valid bootstrap(s)") {
		t.Errorf("provided function without a bootstrap = %s", res.Payload)
	}
}

// TestCPUInProportionToMemory reads the CPU quota the instance runs under
// from its own cgroup: one vCPU at 1,769 MB, in proportion below.
func TestCPUInProportionToMemory(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	if underGVisor() {
		t.Skip("gVisor shows no cgroup files inside the sandbox; the quota is applied to its cgroup on the host all the same")
	}
	src := `def read(name):
    for base in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup"):
        try:
            with open(f"{base}/{name}") as f:
                return f.read().strip()
        except OSError:
            pass
    return None
def handler(event, context):
    cpu_max = read("cpu.max")
    if cpu_max:
        quota, period = cpu_max.split()
    else:
        quota, period = read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")
    return {"quota": int(quota), "period": int(period)}
`
	for _, mb := range []int{128, 1769, 3538} {
		fn := pyFunction(t, src)
		fn.MemoryMB = mb
		v := decode(t, invoke(t, e, fn, `{}`))
		got := v["quota"].(float64) / v["period"].(float64)
		want := float64(mb) / 1769
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("%d MB runs with %.3f CPUs, want %.3f", mb, got, want)
		}
	}
}

// TestSandboxesDoNotShareLoopback: a server one instance opens on its
// loopback is not reachable from another instance's loopback.
func TestSandboxesDoNotShareLoopback(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	server := pyFunction(t, `import socket, time
def handler(event, context):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 8642))
    s.listen()
    s.settimeout(4)
    try:
        s.accept()
        return "someone connected"
    except socket.timeout:
        return "nobody came"
`)
	done := goInvoke(t, e, server, `{}`)
	time.Sleep(1500 * time.Millisecond)
	client := pyFunction(t, `import socket, errno
def handler(event, context):
    try:
        socket.create_connection(("127.0.0.1", 8642), timeout=2)
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
`)
	client.AccountID = "777788889999"
	if got := string(invoke(t, e, client, `{}`).Payload); got != `"ECONNREFUSED"` {
		t.Errorf("connect to another sandbox's loopback server: %s, want ECONNREFUSED", got)
	}
	if got := string((<-done).Payload); got != `"nobody came"` {
		t.Errorf("the listening sandbox: %s", got)
	}
}

// TestRuntimeDiesWhileIdle: a function's background thread ends the runtime
// after the response. The next request must not pay for it: it runs on a
// fresh instance.
func TestRuntimeDiesWhileIdle(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, `import os, threading, time
def later():
    time.sleep(0.3)
    os._exit(0)
def handler(event, context):
    threading.Thread(target=later, daemon=True).start()
    return "ok"
`)
	first := invoke(t, e, fn, `{}`)
	time.Sleep(time.Second)
	second := invoke(t, e, fn, `{}`)
	if second.FunctionError != "" || string(second.Payload) != `"ok"` || !second.Cold || second.InstanceID == first.InstanceID {
		t.Errorf("invoke after the runtime died while idle: %s (%s), cold %v; want a fresh instance\n%s", second.Payload, second.FunctionError, second.Cold, second.Log)
	}
}

func TestResponseTooLarge(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "def handler(event, context):\n    return 'x' * (7 * 1024 * 1024)\n")
	res := invoke(t, e, fn, `{}`)
	v := decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorType"] != "Function.ResponseSizeTooLarge" ||
		!strings.Contains(fmt.Sprint(v["errorMessage"]), "exceeded maximum allowed payload size (6291556 bytes)") {
		t.Errorf("7 MB response = %s", res.Payload)
	}
	stillWorks(t, e)
}

func TestProvisionedConcurrencyEndToEnd(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	fn := pyFunction(t, "import os\ndef handler(event, context):\n    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n")
	fn.Version = "1"
	if err := e.SetProvisionedConcurrency(context.Background(), fn, 2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, alloc := e.ProvisionedConcurrency(fn); alloc == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("provisioned instances not ready within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := invoke(t, e, fn, `{}`)
	if res.Cold || string(res.Payload) != `"provisioned-concurrency"` || strings.Contains(string(res.Log), "Init Duration") {
		t.Errorf("invoke of a provisioned version: cold %v, %s\n%s", res.Cold, res.Payload, res.Log)
	}
}
