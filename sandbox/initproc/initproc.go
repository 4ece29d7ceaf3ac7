// Package initproc is the init process (PID 1) of every lambdalab instance.
//
// It asks the host which runtime to start (a long poll on the instance's
// socket, since instances are started before they belong to a function),
// relays the container's loopback to the host's Unix sockets (TCP
// 127.0.0.1:9001 to aws.sock for the Runtime API and the AWS endpoint, UDP
// 127.0.0.1:2000 to xray.sock), streams the runtime's output to the host with
// markers that attribute it to invocations, reaps zombies, and when the
// runtime exits kills what is left, reports the exit status and exits.
//
// It must stay small and must not fall over whatever the runtime does: the
// runtime is learner code. It knows nothing of Docker; see sandbox/docker.
package initproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// Environment variables that configure init. The defaults are the values
// inside an instance; tests run init on the host with their own.
const (
	EnvSocketDir   = "LAMBDALAB_SOCKET_DIR"   // default /var/run/lambdalab
	EnvRuntimeAddr = "LAMBDALAB_RUNTIME_ADDR" // default 127.0.0.1:9001
	EnvXRayAddr    = "LAMBDALAB_XRAY_ADDR"    // default 127.0.0.1:2000
)

// Main runs init and exits the process; it never returns. It exits 0 once
// the runtime's exit has been reported, 1 when init itself could not work
// (the backend then sees the instance die).
func Main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "lambdalab-init: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run() error {
	dir := getenv(EnvSocketDir, "/var/run/lambdalab")
	sock := filepath.Join(dir, "aws.sock")
	pid1 := os.Getpid() == 1
	if !pid1 {
		// Outside a PID namespace, adopt orphaned descendants so they are
		// reaped here rather than by the host's init.
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	}
	// Registered before anything is started so no exit goes unnoticed.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)

	client := newClient(sock)
	ctx := context.Background()
	b, err := fetchBind(ctx, client)
	if err != nil {
		return err
	}

	conn, bw, cw, err := openLogs(sock)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", getenv(EnvRuntimeAddr, "127.0.0.1:9001"))
	if err != nil {
		return fmt.Errorf("listen for the runtime: %w", err)
	}
	startXRayRelay(getenv(EnvXRayAddr, "127.0.0.1:2000"), filepath.Join(dir, "xray.sock"))

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stderr pipe: %w", err)
	}
	p, err := newPump(conn, bw, cw, stdoutR, stderrR)
	if err != nil {
		return err
	}
	go serveRelay(ln, sock, p)

	pid, startErr := startRuntime(b, stdoutW, stderrW)
	stdoutW.Close()
	stderrW.Close()
	p.start()
	p.watchHost(func() {
		if startErr == nil {
			killRuntime(pid, pid1)
		}
	})

	var status string
	if startErr != nil {
		// Tell the learner why on the function's own stderr, and exit the
		// way a shell would: 127 not found, 126 not runnable.
		p.mu.Lock()
		p.batch = appendFrame(p.batch, runtimeapi.FrameStderr, []byte("lambdalab-init: "+startErr.Error()+"\n"))
		p.flushLocked()
		p.mu.Unlock()
		status = "exit status 126"
		if errors.Is(startErr, os.ErrNotExist) {
			status = "exit status 127"
		}
	} else {
		status = waitRuntime(pid, chld, term)
		killRest(pid, pid1)
	}
	seq := p.finish(2 * time.Second)
	return reportExit(ctx, client, status, seq)
}

func appendFrame(b []byte, kind byte, payload []byte) []byte {
	n := len(payload)
	b = append(b, kind, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, payload...)
}

// newClient is init's own HTTP client to the host over the instance's
// socket, for the bind poll (no timeout: it may wait for hours) and the exit
// report. The runtime's requests go through the relay instead.
func newClient(sock string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}
	return &http.Client{Transport: tr}
}

// fetchBind waits for the host to bind the instance. Connection failures
// are retried for a while: the host may still be setting the socket up.
func fetchBind(ctx context.Context, client *http.Client) (runtimeapi.BindConfig, error) {
	var b runtimeapi.BindConfig
	var last error
	for range 100 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lambdalab"+runtimeapi.BindPath, nil)
		if err != nil {
			return b, fmt.Errorf("bind request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return b, fmt.Errorf("bind: host answered %s", resp.Status)
		}
		if err != nil {
			return b, fmt.Errorf("bind: decode answer: %w", err)
		}
		return b, nil
	}
	return b, fmt.Errorf("bind: %w", last)
}

// startRuntime starts the runtime in its own process group with the pipes as
// stdout and stderr and nothing on stdin.
func startRuntime(b runtimeapi.BindConfig, stdout, stderr *os.File) (int, error) {
	if len(b.Cmd) == 0 {
		return 0, fmt.Errorf("start runtime: empty command: %w", os.ErrNotExist)
	}
	path, err := lookPath(b.Cmd[0], b.Env)
	if err != nil {
		return 0, fmt.Errorf("start runtime: %w", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("start runtime: %w", err)
	}
	defer devnull.Close()
	dir := b.WorkDir
	if dir == "" {
		dir = "/var/task"
	}
	proc, err := os.StartProcess(path, b.Cmd, &os.ProcAttr{
		Dir:   dir,
		Env:   b.Env,
		Files: []*os.File{devnull, stdout, stderr},
		// Pdeathsig: should init itself die, the runtime goes too (inside
		// an instance the PID namespace would see to that anyway).
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, fmt.Errorf("start runtime: %w", err)
	}
	pid := proc.Pid
	// The reaper below waits with wait4(-1); never Wait on proc.
	proc.Release()
	return pid, nil
}

// lookPath resolves a bare command name with the PATH the runtime will get.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in PATH: %w", name, os.ErrNotExist)
}

// waitRuntime reaps every child that exits (init is PID 1 or a subreaper, so
// orphans come here too) until the runtime itself has, and returns its status
// in os.ProcessState's wording. SIGTERM and SIGINT go on to the runtime.
func waitRuntime(pid int, chld, term <-chan os.Signal) string {
	for {
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				return statusText(ws)
			}
		}
		select {
		case <-chld:
		case sig := <-term:
			syscall.Kill(-pid, sig.(syscall.Signal))
		case <-time.After(time.Second):
			// A safety net: SIGCHLD is coalesced, never lost, but a wait
			// loop that polls now and then costs nothing.
		}
	}
}

// killRest kills every process the runtime left behind: the whole PID
// namespace when init is PID 1, otherwise the runtime's process group
// (kill(-1) outside a namespace would hit the host).
func killRest(pid int, pid1 bool) {
	killRuntime(pid, pid1)
	// Reap what was killed; as PID 1 this also keeps the table clean.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err != nil {
			return // ECHILD: nobody left
		}
		if wpid == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// killRuntime kills the runtime and everything it started.
func killRuntime(pid int, pid1 bool) {
	if pid1 {
		syscall.Kill(-1, syscall.SIGKILL)
	} else {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// statusText is os.ProcessState.String for a wait status.
func statusText(ws syscall.WaitStatus) string {
	var res string
	switch {
	case ws.Exited():
		res = fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		res = "signal: " + ws.Signal().String()
	case ws.Stopped():
		res = "stop signal: " + ws.StopSignal().String()
		if ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() != 0 {
			res += fmt.Sprintf(" (trap %d)", ws.TrapCause())
		}
	case ws.Continued():
		res = "continued"
	}
	if ws.CoreDump() {
		res += " (core dumped)"
	}
	return res
}

// reportExit tells the host how the runtime ended.
func reportExit(ctx context.Context, client *http.Client, status string, seq uint64) error {
	body, err := json.Marshal(runtimeapi.ExitReport{Status: status})
	if err != nil {
		return fmt.Errorf("exit report: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://lambdalab"+runtimeapi.ExitPath, strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("exit report: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(runtimeapi.LogSeqHeader, fmt.Sprint(seq))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("exit report: %w", err)
	}
	resp.Body.Close()
	return nil
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>, which
// the syscall package does not name.
const prSetChildSubreaper = 36
