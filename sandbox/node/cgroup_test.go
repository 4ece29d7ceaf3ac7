package node

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/cgroupv1"
)

const podUID = "6f1c2b9e-0d3a-4c55-9e2f-7a8b9c0d1e2f"

func TestPodCgroups(t *testing.T) {
	tests := []struct {
		name string
		dir  string // under each controller
	}{
		{"cgroupfs guaranteed", "kubepods/pod" + podUID},
		{"cgroupfs burstable", "kubepods/burstable/pod" + podUID},
		{"systemd guaranteed", "kubepods.slice/kubepods-pod6f1c2b9e_0d3a_4c55_9e2f_7a8b9c0d1e2f.slice"},
		{"systemd besteffort", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6f1c2b9e_0d3a_4c55_9e2f_7a8b9c0d1e2f.slice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, c := range []string{"memory", "cpu"} {
				os.MkdirAll(filepath.Join(root, c, tt.dir), 0o755)
				// Another Pod's folder beside it is never taken.
				os.MkdirAll(filepath.Join(root, c, "kubepods", "pod00000000-0000-0000-0000-000000000000"), 0o755)
			}
			mem, cpu, err := podCgroups(root, podUID)
			if err != nil || mem != filepath.Join(root, "memory", tt.dir) || cpu != filepath.Join(root, "cpu", tt.dir) {
				t.Errorf("podCgroups = %s, %s, %v; want the %s folders", mem, cpu, err, tt.dir)
			}
		})
	}
	root := t.TempDir()
	if _, _, err := podCgroups(root, podUID); err == nil || !strings.Contains(err.Error(), "no cgroup v1 folder of Pod "+podUID) {
		t.Errorf("podCgroups of a Pod not there = %v, want an error naming it", err)
	}
	for _, bad := range []string{"", "../../memory", podUID + "/..", strings.ToUpper(podUID)} {
		if _, _, err := podCgroups(root, bad); err == nil || !strings.Contains(err.Error(), "not a Kubernetes UID") {
			t.Errorf("podCgroups(%q) = %v, want a refusal", bad, err)
		}
	}
}

// fakePodCgroup lays out the files the kubelet's cgroup v1 folders have,
// as far as the agent reads and writes them.
func fakePodCgroup(t *testing.T, root string) (mem, cpu string) {
	t.Helper()
	mem = filepath.Join(root, "memory", "kubepods", "pod"+podUID)
	cpu = filepath.Join(root, "cpu", "kubepods", "pod"+podUID)
	files := map[string]string{
		filepath.Join(mem, "memory.limit_in_bytes"):       "9223372036854771712",
		filepath.Join(mem, "memory.memsw.limit_in_bytes"): "9223372036854771712",
		filepath.Join(mem, "memory.max_usage_in_bytes"):   "123456789",
		filepath.Join(mem, "memory.oom_control"):          "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
		filepath.Join(cpu, "cpu.cfs_period_us"):           "100000",
		filepath.Join(cpu, "cpu.cfs_quota_us"):            "-1",
	}
	for f, v := range files {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return mem, cpu
}

func readInt(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBindOnPodCgroup binds with cgroups on, against the files of a Pod's
// cgroup folders laid out in a temporary root: the memory limit lands on
// the Pod's folder, the CPU quota after init, and the peak and the OOM
// verdict are read from there.
func TestBindOnPodCgroup(t *testing.T) {
	requireRoot(t)
	python(t)
	cgRoot := t.TempDir()
	mem, cpu := fakePodCgroup(t, cgRoot)
	r := newRig(t)
	r.agent(t, "node-a", func(c *AgentConfig) { c.NoCgroups, c.CgroupRoot = false, cgRoot })
	n := r.node(t, "node-a")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const id = "00000000000000d1"
	p, err := n.Prepare(ctx, id, sandbox.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	pd := startPod(t, p)
	b := binding(t, pd, "A", codeDir(t))
	if _, err := n.Bind(ctx, id, "00000000-1111-2222-3333-444444444444", b); err == nil || !strings.Contains(err.Error(), "no cgroup v1 folder") {
		t.Errorf("Bind with a Pod not on the node = %v, want an error saying so", err)
	}
	// The failed Bind counted: a second one is refused, so the instance is
	// replaced, as the sandbox does.
	if _, err := n.Release(ctx, id); err != nil {
		t.Fatal(err)
	}

	const id2 = "00000000000000d2"
	if p, err = n.Prepare(ctx, id2, sandbox.InstanceSpec{}); err != nil {
		t.Fatal(err)
	}
	pd = startPod(t, p)
	b = binding(t, pd, "A", codeDir(t))
	res, err := n.Bind(ctx, id2, podUID, b)
	if err != nil || res.Status != sandbox.StatusSuccess {
		t.Fatalf("Bind = %+v, %v", res, err)
	}
	for f, want := range map[string]int64{
		filepath.Join(mem, "memory.limit_in_bytes"):       256 << 20,
		filepath.Join(mem, "memory.memsw.limit_in_bytes"): 256 << 20,
		filepath.Join(cpu, "cpu.cfs_quota_us"):            20000, // 0.2 CPU of 100 ms
		filepath.Join(cpu, "cpu.cfs_period_us"):           100000,
	} {
		if got := readInt(t, f); got != want {
			t.Errorf("%s = %d, want %d", f, got, want)
		}
	}
	if peak, err := n.MaxMemoryUsed(ctx, id2); err != nil || peak != 123456789 {
		t.Errorf("MaxMemoryUsed = %d, %v; want the Pod's memory.max_usage_in_bytes", peak, err)
	}
	os.WriteFile(filepath.Join(mem, "memory.oom_control"), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"), 0o644)
	info, err := n.Release(ctx, id2)
	if err != nil || !info.OOMKilled {
		t.Errorf("Release = %+v, %v; want OOMKilled from the Pod's oom_kill counter", info, err)
	}
}

// TestKillPod kills processes in a child of a real cgroup v1 folder, as a
// Pod's are in its containers' folders below the Pod's.
func TestKillPod(t *testing.T) {
	requireRoot(t)
	base := filepath.Join("/sys/fs/cgroup/memory", "lambdalab-node-test-"+strconv.Itoa(os.Getpid()))
	container := filepath.Join(base, "container")
	if err := os.MkdirAll(container, 0o755); err != nil {
		t.Skipf("no writable cgroup v1 memory controller here: %v", err)
	}
	t.Cleanup(func() {
		os.Remove(container)
		os.Remove(base)
	})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(container, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := killPod(ctx, base); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("sleep ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the process in the Pod's child cgroup survived killPod")
	}
}

// TestSetPodCPUQuota cuts and raises the quota of a real cgroup v1 cpu
// folder laid out as the kubelet lays out a Pod's: the Pod's folder and
// its container's with the same quota, its sandbox container's with none.
// The kernel refuses a Pod's quota below its container's, so the Pod's
// folder alone cannot be cut (what Bind once did, failing every Pod).
func TestSetPodCPUQuota(t *testing.T) {
	requireRoot(t)
	pod := filepath.Join("/sys/fs/cgroup/cpu", "lambdalab-node-test-"+strconv.Itoa(os.Getpid()), "pod"+podUID)
	container, pause := filepath.Join(pod, "container"), filepath.Join(pod, "pause")
	for _, d := range []string{container, pause} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Skipf("no writable cgroup v1 cpu controller here: %v", err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{container, pause, pod, filepath.Dir(pod)} {
			os.Remove(d)
		}
	})
	quota := func(d string) int64 { return readInt(t, filepath.Join(d, "cpu.cfs_quota_us")) }
	// The unbound size, as the kubelet writes it: the Pod, then its
	// container.
	unbound := sandbox.NanoCPUs(1024)
	for _, d := range []string{pod, container} {
		if err := cgroupv1.SetCPUQuota(d, unbound); err != nil {
			t.Fatal(err)
		}
	}
	small := sandbox.NanoCPUs(128)
	if err := cgroupv1.SetCPUQuota(pod, small); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("cutting the Pod's folder alone below its container's = %v, want EINVAL: the test no longer shows the kernel's rule", err)
	}
	for _, tt := range []struct {
		name string
		nano int64
	}{
		{"cut to 128 MB's share", small},
		{"raised to 3008 MB's share", sandbox.NanoCPUs(3008)},
		{"cut to 1024 MB's share", unbound},
	} {
		if err := setPodCPUQuota(pod, tt.nano); err != nil {
			t.Fatalf("%s: setPodCPUQuota = %v", tt.name, err)
		}
		want := cgroupv1.CFSQuota(tt.nano)
		if p, c, s := quota(pod), quota(container), quota(pause); p != want || c != want || s != -1 {
			t.Errorf("%s: quotas Pod %d, container %d, sandbox %d; want %d, %d and -1 (unlimited, as the kubelet left it)", tt.name, p, c, s, want, want)
		}
	}
}

// setPodMemoryLimit holds the Pod's folder and its container's to the
// function's memory, as the function reads it in its own folder, and
// leaves the unlimited sandbox container's folder alone; on a real cgroup
// v1 memory controller.
func TestSetPodMemoryLimit(t *testing.T) {
	requireRoot(t)
	pod := filepath.Join("/sys/fs/cgroup/memory", "lambdalab-node-test-"+strconv.Itoa(os.Getpid()), "pod"+podUID)
	container, pause := filepath.Join(pod, "container"), filepath.Join(pod, "pause")
	for _, d := range []string{container, pause} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Skipf("no writable cgroup v1 memory controller here: %v", err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{container, pause, pod, filepath.Dir(pod)} {
			os.Remove(d)
		}
	})
	limit := func(d string) int64 { return readInt(t, filepath.Join(d, "memory.limit_in_bytes")) }
	// The unbound size, as the kubelet writes it on the Pod and its
	// container.
	for _, d := range []string{pod, container} {
		if err := cgroupv1.SetMemoryLimit(d, 1024<<20); err != nil {
			t.Fatal(err)
		}
	}
	for _, mb := range []int64{128, 3008, 256} {
		if err := setPodMemoryLimit(pod, mb<<20); err != nil {
			t.Fatalf("setPodMemoryLimit(%d MB) = %v", mb, err)
		}
		if p, c, s := limit(pod), limit(container), limit(pause); p != mb<<20 || c != mb<<20 || s < unlimitedMemory {
			t.Errorf("%d MB: limits Pod %d, container %d, sandbox %d; want %d, %d and none", mb, p, c, s, mb<<20, mb<<20)
		}
	}
}

// TestPodOOMKilled has the OOM killer strike in a container's folder below
// a Pod's folder of a real cgroup v1 memory controller, both limited to
// the same size as the kubelet limits them: the kill counts in the
// container's folder, and podOOMKilled finds it from the Pod's.
func TestPodOOMKilled(t *testing.T) {
	requireRoot(t)
	py := python(t)
	pod := filepath.Join("/sys/fs/cgroup/memory", "lambdalab-node-test-"+strconv.Itoa(os.Getpid()), "pod"+podUID)
	container := filepath.Join(pod, "container")
	if err := os.MkdirAll(container, 0o755); err != nil {
		t.Skipf("no writable cgroup v1 memory controller here: %v", err)
	}
	t.Cleanup(func() {
		for _, d := range []string{container, pod, filepath.Dir(pod)} {
			os.Remove(d)
		}
	})
	for _, d := range []string{pod, container} {
		if err := cgroupv1.SetMemoryLimit(d, 64<<20); err != nil {
			t.Fatal(err)
		}
	}
	if oom, err := podOOMKilled(pod); err != nil || oom {
		t.Fatalf("podOOMKilled before any kill = %v, %v; want false", oom, err)
	}
	// The shell moves itself into the container's folder, then becomes the
	// hog.
	hog := exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" -c 'h = []
while True: h.append(bytearray(8 << 20))'`, "sh", container, py)
	err := hog.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the hog ended with %v, want the OOM killer's SIGKILL", err)
	}
	own, _ := cgroupv1.OOMKilled(pod)
	t.Logf("the Pod's own oom_kill counter after a kill in its container: above zero %v", own)
	if oom, err := podOOMKilled(pod); err != nil || !oom {
		t.Errorf("podOOMKilled after a kill in the container's folder = %v, %v; want true", oom, err)
	}
}
