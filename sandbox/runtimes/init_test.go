package runtimes

import (
	"context"
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

// These tests run the clients the way an instance does: under lambdalab's
// own init (sandbox/init, built here), which relays 127.0.0.1:<port> to the
// Runtime API on a Unix socket and streams the runtime's output to the
// server, which attributes it to invocations. That attribution is only right
// if a client writes its output before it posts the result.

var initBinary struct {
	once sync.Once
	path string
	err  error
}

func buildInit(t testing.TB) string {
	t.Helper()
	initBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "lambdalab-runtimes-init-")
		if err != nil {
			initBinary.err = err
			return
		}
		bin := filepath.Join(dir, "lambdalab-init")
		cmd := exec.Command("go", "build", "-o", bin, "lambdalab/sandbox/init")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			initBinary.err = &buildError{err: err, out: string(out)}
			return
		}
		initBinary.path = bin
	})
	if initBinary.err != nil {
		t.Fatalf("build sandbox/init: %v", initBinary.err)
	}
	return initBinary.path
}

func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startUnderInit binds a fresh instance to fn and returns its server.
func startUnderInit(t testing.TB, fn function) *runtimeapi.Server {
	t.Helper()
	requireInterpreter(t, fn.runtime)
	initBin := buildInit(t)
	// Unix socket paths are limited to 108 bytes; t.TempDir can be longer.
	root, err := os.MkdirTemp("", "lrt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	rt, task, sock := filepath.Join(root, "runtime"), filepath.Join(root, "task"), filepath.Join(root, "sock")
	writeClients(t, rt)
	for _, d := range []string{task, sock} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range fn.files {
		if err := os.WriteFile(filepath.Join(task, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	srv := runtimeapi.New(runtimeapi.Config{})
	l, err := net.Listen("unix", filepath.Join(sock, "aws.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Close)

	addr := freeLoopbackAddr(t)
	cmd := exec.Command(initBin)
	cmd.Env = []string{
		"PATH=" + hostPath,
		"LAMBDALAB_SOCKET_DIR=" + sock,
		"LAMBDALAB_RUNTIME_ADDR=" + addr,
		"LAMBDALAB_XRAY_ADDR=" + freeLoopbackAddr(t),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start init: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})

	argv, err := Command(fn.runtime)
	if err != nil {
		t.Fatal(err)
	}
	argv[0] = filepath.Join(rt, strings.TrimPrefix(argv[0], Dir+"/"))
	srv.Bind(runtimeapi.BindConfig{
		Cmd: argv,
		Env: append([]string{
			"PATH=" + hostPath,
			"LANG=C.UTF-8",
			"AWS_LAMBDA_RUNTIME_API=" + addr,
			"_HANDLER=" + fn.handler,
			"LAMBDA_TASK_ROOT=" + task,
			"AWS_LAMBDA_FUNCTION_NAME=orders",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		}, fn.env...),
		WorkDir: task,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := srv.WaitInit(ctx)
	if err != nil || res.Status != runtimeapi.StatusSuccess {
		t.Fatalf("init under lambdalab-init = %s %s (%v); log:\n%s", res.Status, res.ErrorBody, err, res.Log)
	}
	if !strings.Contains(string(res.Log), "module loaded") {
		t.Errorf("init log = %q, want the module's output", res.Log)
	}
	return srv
}

func invokeServer(t testing.TB, srv *runtimeapi.Server, payload string) runtimeapi.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := srv.Invoke(ctx, runtimeapi.Invocation{
		RequestID: newRequestID(),
		Payload:   []byte(payload),
		Deadline:  time.Now().Add(20 * time.Second),
	})
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return out
}

func TestLogAttributionUnderInit(t *testing.T) {
	tests := []function{
		python("app.handler", map[string]string{"app.py": `
import sys
print("module loaded")

def handler(event, context):
    print("start %d" % event["n"])
    sys.stderr.write("err %d\n" % event["n"])
    if event["n"] == 3:
        raise ValueError("three")
    return event["n"]
`}),
		node("index.handler", map[string]string{"index.js": `
console.log("module loaded");
exports.handler = async (event) => {
  console.log("start", event.n);
  process.stderr.write("err " + event.n + "\n");
  if (event.n === 3) throw new Error("three");
  return event.n;
};
`}),
	}
	for _, fn := range tests {
		t.Run(fn.runtime, func(t *testing.T) {
			t.Parallel()
			srv := startUnderInit(t, fn)
			for n := 1; n <= 3; n++ {
				out := invokeServer(t, srv, `{"n": `+string(rune('0'+n))+`}`)
				log := string(out.Log)
				for _, want := range []string{"start " + string(rune('0'+n)), "err " + string(rune('0'+n))} {
					if !strings.Contains(log, want) {
						t.Errorf("invocation %d log = %q, want %q in it", n, log, want)
					}
				}
				for m := 1; m <= 3; m++ {
					if m != n && strings.Contains(log, "start "+string(rune('0'+m))) {
						t.Errorf("invocation %d log = %q holds invocation %d's output", n, log, m)
					}
				}
				if n == 3 {
					if out.Status != runtimeapi.StatusError || !strings.Contains(log, "three") {
						t.Errorf("invocation 3 = %s with log %q, want the error and its log line", out.Status, log)
					}
				} else if out.Status != runtimeapi.StatusSuccess || string(out.Payload) != string(rune('0'+n)) {
					t.Errorf("invocation %d = %s %q", n, out.Status, out.Payload)
				}
			}
		})
	}
}

// benchUnderInit is a warm invoke as an instance serves it: through init's
// relay and the Unix socket, with output attribution on.
func benchUnderInit(b *testing.B, fn function) {
	srv := startUnderInit(b, fn)
	payload := []byte(`{"ping": 1}`)
	ctx := context.Background()
	for b.Loop() {
		out, err := srv.Invoke(ctx, runtimeapi.Invocation{RequestID: newRequestID(), Payload: payload, Deadline: time.Now().Add(30 * time.Second)})
		if err != nil || out.Status != runtimeapi.StatusSuccess {
			b.Fatalf("invoke = %s %s, %v", out.Status, out.Payload, err)
		}
	}
}

func BenchmarkWarmInvokeUnderInitPython(b *testing.B) {
	benchUnderInit(b, python("app.handler", map[string]string{"app.py": "print('module loaded')\ndef handler(event, context):\n    return event\n"}))
}

func BenchmarkWarmInvokeUnderInitNode(b *testing.B) {
	benchUnderInit(b, node("index.handler", map[string]string{"index.mjs": "console.log('module loaded');\nexport const handler = async (event) => event;\n"}))
}
