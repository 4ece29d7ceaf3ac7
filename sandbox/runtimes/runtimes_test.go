package runtimes

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		runtime string
		want    string
	}{
		{Python313, "/var/runtime/python/bootstrap"},
		{Nodejs20, "/var/runtime/nodejs/bootstrap"},
		{Provided, "/var/runtime/provided/bootstrap"},
	}
	for _, tt := range tests {
		got, err := Command(tt.runtime)
		if err != nil || !slices.Equal(got, []string{tt.want}) {
			t.Errorf("Command(%q) = %q, %v; want [%q]", tt.runtime, got, err, tt.want)
			continue
		}
		// The start script must be in FS, where the image builder finds it,
		// and be marked executable.
		name := strings.TrimPrefix(got[0], Dir+"/")
		data, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Errorf("Command(%q) names %s, which FS lacks: %v", tt.runtime, name, err)
			continue
		}
		if !strings.HasPrefix(string(data), "#!/bin/") {
			t.Errorf("%s does not start with an interpreter line", name)
		}
		if FileMode(name) != 0o755 {
			t.Errorf("FileMode(%q) = %v, want 0755", name, FileMode(name))
		}
	}
	for _, bad := range []string{"", "python3.12", "nodejs22.x", "provided.al2023", "../python"} {
		if got, err := Command(bad); err == nil {
			t.Errorf("Command(%q) = %q, want an error", bad, got)
		}
	}
	if got := Names(); !slices.Equal(got, []string{Python313, Nodejs20, Provided}) {
		t.Errorf("Names() = %q", got)
	}
}

func TestFileModes(t *testing.T) {
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want := fs.FileMode(0o644)
		if path.Base(p) == "bootstrap" {
			want = 0o755
		}
		if got := FileMode(p); got != want {
			t.Errorf("FileMode(%q) = %v, want %v", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		runtime string
		want    []string
	}{
		{Python313, []string{"AWS_EXECUTION_ENV=AWS_Lambda_python3.13"}},
		{Nodejs20, []string{"AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x", "NODE_PATH=" + NodePath}},
		{Provided, []string{}},
		{"ruby3.3", nil},
	}
	for _, tt := range tests {
		got := Env(tt.runtime)
		if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Env(%q) = %q, want %q", tt.runtime, got, tt.want)
		}
	}
	for _, kv := range Env(Python313) {
		if strings.HasPrefix(kv, "PYTHONPATH=") {
			t.Errorf("Env(python3.13) sets %s; Lambda's sys.path order needs PYTHONPATH unset", kv)
		}
	}
}

// benchWarm measures one warm invoke through a client: the Runtime API
// round trips (/next answered, result posted, back on /next) plus the
// client's own work around a handler that returns its event.
func benchWarm(b *testing.B, fn function) {
	h := start(b, fn)
	h.ready()
	payload := []byte(`{"ping": 1}`)
	ctx := context.Background()
	cpu0 := processCPU(b, h.cmd.Process.Pid)
	b.ResetTimer()
	for b.Loop() {
		out, err := h.srv.Invoke(ctx, runtimeapi.Invocation{
			RequestID: newRequestID(),
			Payload:   payload,
			Deadline:  time.Now().Add(30 * time.Second),
		})
		if err != nil || out.Status != runtimeapi.StatusSuccess {
			b.Fatalf("invoke = %s %s, %v", out.Status, out.Payload, err)
		}
	}
	b.StopTimer()
	// Wall time per invoke depends on what else the machine runs; the CPU
	// time the client process spent does not, and it is the client's share
	// of the platform overhead.
	cpu := processCPU(b, h.cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "client-cpu-ns/op")
}

// processCPU is the user plus system CPU time pid has used so far.
func processCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read the client's CPU time: %v", err)
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the line, in clock ticks (100 per second on
	// Linux for /proc).
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

func BenchmarkWarmInvokePython(b *testing.B) {
	benchWarm(b, python("app.handler", map[string]string{"app.py": "def handler(event, context):\n    return event\n"}))
}

func BenchmarkWarmInvokeNode(b *testing.B) {
	benchWarm(b, node("index.handler", map[string]string{"index.mjs": "export const handler = async (event) => event;\n"}))
}

func BenchmarkWarmInvokeProvidedGo(b *testing.B) {
	// The same round trips through the unmodified aws-lambda-go, as a
	// yardstick for the two clients above.
	benchWarm(b, provided(map[string]string{"bootstrap": buildGoBootstrap(b)}, map[string]fs.FileMode{"bootstrap": 0o755}))
}

// benchInit measures a cold start's share that belongs to the client: from
// starting the runtime's start script to its first /next, with a handler
// module that imports nothing. It includes the interpreter's own start.
func benchInit(b *testing.B, fn function) {
	for b.Loop() {
		h := start(b, fn)
		h.ready()
		h.stop()
	}
}

func BenchmarkInitPython(b *testing.B) {
	benchInit(b, python("app.handler", map[string]string{"app.py": "def handler(event, context):\n    return event\n"}))
}

func BenchmarkInitNode(b *testing.B) {
	benchInit(b, node("index.handler", map[string]string{"index.mjs": "export const handler = async (event) => event;\n"}))
}
