package runtimes

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"lambdalab/sandbox/runtimeapi"
)

func provided(files map[string]string, modes map[string]fs.FileMode) function {
	return function{runtime: Provided, handler: "function.handler", files: files, modes: modes}
}

var goBootstrap struct {
	once sync.Once
	data []byte
	err  error
}

// buildGoBootstrap compiles testdata/gobootstrap once per test binary.
func buildGoBootstrap(t testing.TB) string {
	t.Helper()
	goBootstrap.once.Do(func() {
		dir, err := os.MkdirTemp("", "lambdalab-gobootstrap-")
		if err != nil {
			goBootstrap.err = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/gobootstrap")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goBootstrap.err = &buildError{err: err, out: string(out)}
			return
		}
		goBootstrap.data, goBootstrap.err = os.ReadFile(bin)
	})
	if goBootstrap.err != nil {
		t.Fatalf("build the aws-lambda-go bootstrap: %v", goBootstrap.err)
	}
	return string(goBootstrap.data)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestProvidedRunsTaskBootstrap(t *testing.T) {
	h := start(t, provided(map[string]string{"bootstrap": buildGoBootstrap(t)}, map[string]fs.FileMode{"bootstrap": 0o755}))
	h.ready()
	var got struct {
		Echo         map[string]any `json:"echo"`
		RequestID    string         `json:"requestId"`
		Handler      string         `json:"handler"`
		ExecutionEnv *string        `json:"executionEnv"`
	}
	var id string
	h.result(`{"n": 1}`, &got, func(inv *runtimeapi.Invocation) { id = inv.RequestID })
	if got.Echo["n"] != float64(1) || got.RequestID != id || got.Handler != "function.handler" {
		t.Errorf("aws-lambda-go answer = %+v, want the event, request id %s and the handler string", got, id)
	}
	if got.ExecutionEnv != nil {
		t.Errorf("AWS_EXECUTION_ENV = %q for a custom runtime, want it unset as on Lambda", *got.ExecutionEnv)
	}
	h.result(`{"n": 2}`, &got)
	if got.Echo["n"] != float64(2) {
		t.Errorf("second invoke = %+v, want n=2", got)
	}
}

// wrongMachineELF returns this host's /bin/true relabelled for another CPU,
// which the kernel refuses with ENOEXEC.
func wrongMachineELF(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/bin/true")
	if err != nil || len(data) < 20 {
		t.Skipf("need /bin/true to make a foreign executable: %v", err)
	}
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	data[18], data[19] = byte(other), byte(other>>8)
	return string(data)
}

func TestProvidedInvalidEntrypoint(t *testing.T) {
	if _, err := os.Stat("/opt/bootstrap"); err == nil {
		t.Skip("this host has an /opt/bootstrap, which the wrapper would run")
	}
	tests := []struct {
		name    string
		files   map[string]string
		modes   map[string]fs.FileMode
		wantMsg string // %s is the task root
	}{
		{"none", map[string]string{"function.sh": "#!/bin/sh\n"}, nil,
			"Couldn't find valid bootstrap(s): [%s/bootstrap /opt/bootstrap]"},
		{"not executable", map[string]string{"bootstrap": "#!/bin/sh\necho hi\n"}, map[string]fs.FileMode{"bootstrap": 0o644},
			"fork/exec %s/bootstrap: permission denied"},
		{"not a program", map[string]string{"bootstrap": "echo no interpreter line\n"}, map[string]fs.FileMode{"bootstrap": 0o755},
			"fork/exec %s/bootstrap: exec format error"},
		{"another machine", map[string]string{"bootstrap": wrongMachineELF(t)}, map[string]fs.FileMode{"bootstrap": 0o755},
			"fork/exec %s/bootstrap: exec format error"},
		{"missing interpreter", map[string]string{"bootstrap": "#!/nonexistent/interpreter\n"}, nil,
			"fork/exec %s/bootstrap: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, provided(tt.files, tt.modes))
			res := h.init()
			if res.Status != runtimeapi.StatusError || res.ErrorType != "Runtime.InvalidEntrypoint" {
				t.Fatalf("init = %s %q, want error Runtime.InvalidEntrypoint; output:\n%s", res.Status, res.ErrorType, h.allOutput())
			}
			doc := decodeError(t, res.ErrorBody)
			want := strings.ReplaceAll(tt.wantMsg, "%s", h.task)
			if doc.ErrorType != "Runtime.InvalidEntrypoint" || doc.ErrorMessage != want {
				t.Errorf("error = %s: %q, want Runtime.InvalidEntrypoint: %q", doc.ErrorType, doc.ErrorMessage, want)
			}
			if status := h.exitStatus(); status != "exit status 1" {
				t.Errorf("wrapper exit = %q, want exit status 1", status)
			}
		})
	}
}
