package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"lambdalab/sandbox/kubernetes/k8stest"
)

// The node tests run PodFor's Pods on a real kubelet and containerd on this
// machine (k8stest.Node), and only with LAMBDALAB_K8S_NODE=1 (make
// test-k8s-node). Their init is testdata/nodeinit, mounted where PodFor runs
// lambdalab-init, and told what to do by a file in the Pod's code folder.
// No scheduler runs, and none is needed: PodFor binds a Pod to its node
// (spec.nodeName).

type nodeEnv struct {
	testEnv
	node  k8stest.NodeEnv
	image string
	init  string // the built nodeinit binary
}

func newNodeEnv(t *testing.T) nodeEnv {
	t.Helper()
	node := k8stest.Node(t) // before Config: see k8stest.Node
	e := nodeEnv{testEnv: newEnv(t), node: node, image: runtimeImage(t), init: nodeInit(t)}
	k8stest.ImportImage(t, e.image)
	return e
}

var runtimeRef struct {
	once sync.Once
	ref  string
	err  error
}

// runtimeImage is lambdalab's runtime image, built if need be by `lambdalab
// image`, which prints its reference last.
func runtimeImage(t *testing.T) string {
	t.Helper()
	runtimeRef.once.Do(func() {
		var stderr strings.Builder
		cmd := exec.Command("go", "run", "lambdalab", "image")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil {
			runtimeRef.err = fmt.Errorf("go run lambdalab image: %v: %s%s (is Docker running? scripts/deps.sh docker)", err, out, stderr.String())
			return
		}
		runtimeRef.ref = lines[len(lines)-1]
	})
	if runtimeRef.err != nil {
		t.Fatal(runtimeRef.err)
	}
	return runtimeRef.ref
}

// nodeInit builds testdata/nodeinit (static: the image's libc is not its).
func nodeInit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nodeinit")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "lambdalab/sandbox/kubernetes/testdata/nodeinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/nodeinit: %v: %s", err, out)
	}
	return bin
}

// instance prepares one instance's host folders as the node agent would
// (the init binary, socket, code, layers and /tmp), with mode in the code
// folder, and creates its Pod from PodFor with memoryMB on the node. It
// returns the Pod's name and the code folder.
func (e nodeEnv) instance(t *testing.T, memoryMB int, mode map[string]any) (name, task string) {
	t.Helper()
	dir := t.TempDir()
	in := PodInput{
		InstanceID: newID(), Image: e.image, Node: e.node.Name, MemoryMB: memoryMB,
		InitBinary: filepath.Join(dir, "lambdalab-init"), SocketDir: filepath.Join(dir, "sock"),
		CodeDir: filepath.Join(dir, "task"), LayersDir: filepath.Join(dir, "opt"), TmpDir: filepath.Join(dir, "tmp"),
		Owner: "node-test",
	}
	for _, d := range []string{in.SocketDir, in.CodeDir, in.LayersDir, in.TmpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(in.TmpDir, 0o1777); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(e.init)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.InitBinary, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(mode)
	if err := os.WriteFile(filepath.Join(in.CodeDir, "mode.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	pod := e.create(t, in)
	return pod.Name, in.CodeDir
}

func nodeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitExited polls the Pod's status until its container has ended.
func (e nodeEnv) waitExited(t *testing.T, ctx context.Context, name string) PodStatus {
	t.Helper()
	for {
		st, err := e.c.Status(ctx, name)
		if err != nil {
			t.Fatalf("Status(%s): %v", name, err)
		}
		if st.State == StateExited {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s still %s: %+v", name, st.State, st)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nodeFacts mirrors testdata/nodeinit's Facts.
type nodeFacts struct {
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	Status     map[string]string `json:"status"`
	WriteRoot  string            `json:"write_root"`
	WriteTmp   string            `json:"write_tmp"`
	Interfaces []struct {
		Name  string   `json:"name"`
		Addrs []string `json:"addrs"`
	} `json:"interfaces"`
	Dial    map[string]string `json:"dial"`
	Rlimits map[string][2]int `json:"rlimits"`
}

// The isolation profile as the process inside a real Pod sees it, read from
// the container's log through the API server and the kubelet; then the exit
// as Cluster reports it.
func TestNodeProfile(t *testing.T) {
	e := newNodeEnv(t)
	ctx := nodeCtx(t)
	nodeAddr := net.JoinHostPort(e.node.IP, strconv.Itoa(e.node.KubeletPort))
	// The kubelet answers there from the node itself, so a dial that fails
	// from the Pod says the Pod has no way out, not that no one listens.
	if c, err := net.DialTimeout("tcp", nodeAddr, 3*time.Second); err != nil {
		t.Fatalf("dial the kubelet at %s from the node: %v", nodeAddr, err)
	} else {
		c.Close()
	}
	const outside = "1.1.1.1:53"
	name, task := e.instance(t, 128, map[string]any{"mode": "facts", "dial": []string{outside, nodeAddr}, "exit_code": 3})

	st, err := e.c.WaitRunning(ctx, name)
	if err != nil || st.State != StateRunning {
		t.Fatalf("WaitRunning(%s) = %+v, %v; want running", name, st, err)
	}
	if st.Node != e.node.Name {
		t.Errorf("pod on node %q, want %q", st.Node, e.node.Name)
	}
	f := readFacts(t, ctx, e, name)
	t.Logf("inside the pod: %+v", f)

	if f.UID != sandboxUID || f.GID != sandboxUID {
		t.Errorf("uid %d gid %d, want %d and %d", f.UID, f.GID, sandboxUID, sandboxUID)
	}
	for key, want := range map[string]string{
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": "0000000000000000",
		"NoNewPrivs": "1", // allowPrivilegeEscalation false
		"Seccomp":    "2", // a filter: the runtime's default profile
	} {
		if got := f.Status[key]; got != want {
			t.Errorf("/proc/self/status %s = %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(f.WriteRoot, "read-only file system") {
		t.Errorf("writing / gave %q, want a read-only file system error", f.WriteRoot)
	}
	if f.WriteTmp != "" {
		t.Errorf("writing /tmp (the instance's writable mount) failed: %s", f.WriteTmp)
	}

	_, subnet, err := net.ParseCIDR(e.node.Subnet)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	onBridge := false
	for _, ifc := range f.Interfaces {
		names = append(names, ifc.Name)
		for _, a := range ifc.Addrs {
			if ip, _, err := net.ParseCIDR(a); err == nil && ifc.Name != "lo" && subnet.Contains(ip) {
				onBridge = true
			}
		}
	}
	slices.Sort(names)
	if len(names) != 2 || names[1] != "lo" || !onBridge {
		t.Errorf("interfaces %+v, want lo and one on the bridge's %s", f.Interfaces, e.node.Subnet)
	}
	for _, addr := range []string{outside, nodeAddr} {
		// No route at all, rather than one that drops: the Pod has only
		// its /24's link route.
		if got := f.Dial[addr]; !strings.Contains(got, "network is unreachable") {
			t.Errorf("dial %s from the pod: %q, want network is unreachable", addr, got)
		}
	}
	for res, want := range map[string][2]int{"nofile": {1024, 1024}, "core": {0, 0}} {
		if got := f.Rlimits[res]; got != want {
			t.Errorf("rlimit %s (soft, hard) = %v, want %v (containerd's base runtime spec)", res, got, want)
		}
	}

	if err := os.WriteFile(filepath.Join(task, "exit"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = e.waitExited(t, ctx, name)
	if st.ExitCode != 3 || st.OOMKilled || st.Exit() != "exit status 3" {
		t.Errorf("after exit 3: %+v, Exit() %q; want code 3, not OOM-killed, \"exit status 3\"", st, st.Exit())
	}
	if ci := st.CloseInfo(); ci.ExitCode != 3 || ci.OOMKilled {
		t.Errorf("CloseInfo() = %+v, want exit code 3, not OOM-killed", ci)
	}
	if _, err := e.c.WaitRunning(ctx, name); !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("WaitRunning on the exited pod: %v, want ErrExited with exit status 3", err)
	}
}

// readFacts waits for nodeinit's FACTS line in the container's log.
func readFacts(t *testing.T, ctx context.Context, e nodeEnv, name string) nodeFacts {
	t.Helper()
	for {
		raw, err := e.pods.GetLogs(name, &corev1.PodLogOptions{Container: containerName}).DoRaw(ctx)
		if err == nil {
			for _, line := range strings.Split(string(raw), "\n") {
				if js, ok := strings.CutPrefix(line, "FACTS "); ok {
					var f nodeFacts
					if err := json.Unmarshal([]byte(js), &f); err != nil {
						t.Fatalf("facts %q: %v", js, err)
					}
					return f
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no FACTS line in the log of %s: %q, %v", name, raw, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// containerCgroup is a container's cgroup in a v1 hierarchy under the
// kubelet's cgroupfs layout: kubepods/burstable/pod<uid>/<container> for
// lambdalab's Pods (CPU requested below its limit), kubepods/pod<uid> for
// a Guaranteed one.
func containerCgroup(t *testing.T, pod *corev1.Pod, hierarchy string) string {
	t.Helper()
	if len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s has no container status", pod.Name)
	}
	id, ok := strings.CutPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	if !ok {
		t.Fatalf("container id %q is not containerd's", pod.Status.ContainerStatuses[0].ContainerID)
	}
	qos := map[corev1.PodQOSClass]string{corev1.PodQOSBurstable: "burstable", corev1.PodQOSBestEffort: "besteffort"}[pod.Status.QOSClass]
	return filepath.Join("/sys/fs/cgroup", hierarchy, "kubepods", qos, "pod"+string(pod.UID), id)
}

func readInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// ResizeCPU on a real kubelet changes the running container's CFS quota in
// place: the same container, never restarted.
func TestNodeResizeCPU(t *testing.T) {
	e := newNodeEnv(t)
	ctx := nodeCtx(t)
	name, _ := e.instance(t, 128, map[string]any{"mode": "sleep"})
	if st, err := e.c.WaitRunning(ctx, name); err != nil {
		t.Fatalf("WaitRunning(%s) = %+v, %v", name, st, err)
	}
	before, err := e.pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	quota := filepath.Join(containerCgroup(t, before, "cpu"), "cpu.cfs_quota_us")
	// 128 MB is 72 millicores: 7,200 µs of each 100,000 µs period.
	if got := readInt(t, quota); got != 7200 {
		t.Fatalf("%s = %d before the resize, want 7200", quota, got)
	}

	began := time.Now()
	if err := e.c.ResizeCPU(ctx, name, 500_000_000); err != nil {
		t.Fatalf("ResizeCPU: %v", err)
	}
	for readInt(t, quota) != 50000 {
		if ctx.Err() != nil {
			t.Fatalf("%s = %d %v after the resize to 500m, want 50000", quota, readInt(t, quota), time.Since(began))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("resize to 500m: cpu.cfs_quota_us 7200 -> 50000 in %v", time.Since(began).Round(time.Millisecond))

	// The kubelet reports the applied resources, and the container is the
	// one it was.
	for {
		after, err := e.pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
		if a.ContainerID != b.ContainerID || a.RestartCount != 0 || a.State.Running == nil || !a.State.Running.StartedAt.Equal(&b.State.Running.StartedAt) {
			t.Fatalf("container after the resize: %s restarts %d state %+v; before: %s started %v", a.ContainerID, a.RestartCount, a.State, b.ContainerID, b.State.Running.StartedAt)
		}
		if a.Resources != nil && a.Resources.Limits.Cpu().MilliValue() == 500 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the kubelet never reported the 500m limit: %+v", a.Resources)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A process that allocates past the function's memory is OOM-killed by the
// kernel, and Cluster says so.
func TestNodeOOMKilled(t *testing.T) {
	e := newNodeEnv(t)
	ctx := nodeCtx(t)
	name, _ := e.instance(t, 128, map[string]any{"mode": "bomb"})
	// It may be killed before the watch sees it run.
	if st, err := e.c.WaitRunning(ctx, name); err != nil && !errors.Is(err, ErrExited) {
		t.Fatalf("WaitRunning(%s) = %+v, %v", name, st, err)
	}
	st := e.waitExited(t, ctx, name)
	if !st.OOMKilled || st.ExitCode != 137 || st.Exit() != "signal: killed" {
		t.Errorf("memory bomb ended %+v, Exit() %q; want OOM-killed, 137, \"signal: killed\"", st, st.Exit())
	}
	if !st.CloseInfo().OOMKilled {
		t.Errorf("CloseInfo() = %+v, want OOMKilled", st.CloseInfo())
	}
}

// How long a cold Pod takes from Create to its container running on this
// machine (the Docker backend's docker run is about 0.34 s here): logged,
// not asserted.
func TestNodeCreateToRunning(t *testing.T) {
	e := newNodeEnv(t)
	ctx := nodeCtx(t)
	var times []time.Duration
	for range 5 {
		began := time.Now()
		name, _ := e.instance(t, 128, map[string]any{"mode": "sleep"})
		if st, err := e.c.WaitRunning(ctx, name); err != nil {
			t.Fatalf("WaitRunning(%s) = %+v, %v", name, st, err)
		}
		times = append(times, time.Since(began))
		if err := e.c.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(times)
	t.Logf("create -> running over %d pods: min %v, median %v, max %v (each: %v)", len(times),
		times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), times)
}
