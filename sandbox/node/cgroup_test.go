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
