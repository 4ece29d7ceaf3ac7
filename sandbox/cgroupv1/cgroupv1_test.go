package cgroupv1

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests play the kernel with plain files in a temp folder.

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestSetMemoryLimit(t *testing.T) {
	const cur = "1073741824\n" // 1 GB, as the kernel prints it
	t.Run("both files", func(t *testing.T) {
		for _, want := range []int64{128 << 20, 2 << 30} {
			dir := t.TempDir()
			writeFile(t, dir, "memory.limit_in_bytes", cur)
			writeFile(t, dir, "memory.memsw.limit_in_bytes", cur)
			if err := SetMemoryLimit(dir, want); err != nil {
				t.Fatalf("SetMemoryLimit(%d): %v", want, err)
			}
			for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
				if got := readFile(t, dir, f); got != strconv.FormatInt(want, 10) {
					t.Errorf("after SetMemoryLimit(%d) from 1 GB, %s = %s", want, f, got)
				}
			}
		}
	})
	// The order is seen through a memsw that cannot be written (a folder in
	// its place): a cut must have written the limit before failing on memsw,
	// a raise must fail on memsw before touching the limit. The other order
	// is what the kernel refuses with EINVAL.
	for _, tt := range []struct {
		name      string
		bytes     int64
		wantLimit string
	}{
		{"cut writes the limit first", 128 << 20, strconv.FormatInt(128<<20, 10)},
		{"raise writes memsw first", 2 << 30, "1073741824"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "memory.limit_in_bytes", cur)
			if err := os.Mkdir(filepath.Join(dir, "memory.memsw.limit_in_bytes"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := SetMemoryLimit(dir, tt.bytes); err == nil {
				t.Fatalf("SetMemoryLimit(%d) with an unwritable memsw = nil, want an error", tt.bytes)
			}
			if got := readFile(t, dir, "memory.limit_in_bytes"); got != tt.wantLimit {
				t.Errorf("SetMemoryLimit(%d) from 1 GB: limit = %s when memsw failed, want %s", tt.bytes, got, tt.wantLimit)
			}
		})
	}
	t.Run("no swap accounting", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "memory.limit_in_bytes", cur)
		if err := SetMemoryLimit(dir, 256<<20); err != nil {
			t.Fatalf("SetMemoryLimit without memsw = %v, want nil", err)
		}
		if got := readFile(t, dir, "memory.limit_in_bytes"); got != strconv.FormatInt(256<<20, 10) {
			t.Errorf("limit = %s, want %d", got, 256<<20)
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("memsw after SetMemoryLimit: %v, want it not created", err)
		}
	})
	t.Run("no cgroup", func(t *testing.T) {
		if err := SetMemoryLimit(filepath.Join(t.TempDir(), "gone"), 256<<20); err == nil {
			t.Errorf("SetMemoryLimit of a missing folder = nil, want an error (the caller falls back to the engine)")
		}
	})
}

func TestSetCPUQuota(t *testing.T) {
	tests := []struct {
		name      string
		nanoCPUs  int64
		wantQuota string
	}{
		{"one vCPU", 1e9, "100000"},
		{"two vCPUs", 2e9, "200000"},
		{"128 MB of 1769 per vCPU", int64(128) * 1e9 / 1769, "7235"},
		{"below the kernel's floor", 5e6, "1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "cpu.cfs_period_us", "100000\n")
			writeFile(t, dir, "cpu.cfs_quota_us", "-1\n")
			if err := SetCPUQuota(dir, tt.nanoCPUs); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir, "cpu.cfs_quota_us"); got != tt.wantQuota {
				t.Errorf("SetCPUQuota(%d): quota %s, want %s", tt.nanoCPUs, got, tt.wantQuota)
			}
			if got := readFile(t, dir, "cpu.cfs_period_us"); got != "100000" {
				t.Errorf("SetCPUQuota(%d): period %s, want 100000", tt.nanoCPUs, got)
			}
		})
	}
	// A missing file is an error, never a file created in its place.
	dir := t.TempDir()
	if err := SetCPUQuota(dir, 1e9); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SetCPUQuota without the cpu files = %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("SetCPUQuota created %v", entries)
	}
}

func TestPeakReader(t *testing.T) {
	var r PeakReader
	if _, err := r.Read(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read before Open = %v, want fs.ErrNotExist", err)
	}
	if err := r.Open(t.TempDir()); err == nil {
		t.Errorf("Open of a folder without memory.max_usage_in_bytes = nil, want an error")
	}
	dir := t.TempDir()
	writeFile(t, dir, "memory.max_usage_in_bytes", "12345\n")
	if err := r.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Read(); err != nil || n != 12345 {
		t.Errorf("Read = %d, %v; want 12345", n, err)
	}
	// The kernel changes the value in place; the open file sees it. A
	// shorter value checks that nothing of the old one is left.
	f, err := os.OpenFile(filepath.Join(dir, "memory.max_usage_in_bytes"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("987\n")
	f.Close()
	if n, err := r.Read(); err != nil || n != 987 {
		t.Errorf("Read after the value changed = %d, %v; want 987", n, err)
	}
	// Once open, Open keeps the file, whatever folder it is given.
	if err := r.Open(filepath.Join(t.TempDir(), "elsewhere")); err != nil {
		t.Errorf("Open while open = %v, want nil", err)
	}
	r.Close()
	if _, err := r.Read(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Close = %v, want fs.ErrNotExist", err)
	}
}

func TestOOMKilled(t *testing.T) {
	tests := []struct {
		name, control string
		want          bool
	}{
		{"no kill", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", false},
		{"killed", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", true},
		{"kernel before 4.13", "oom_kill_disable 0\nunder_oom 0\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "memory.oom_control", tt.control)
			got, err := OOMKilled(dir)
			if err != nil || got != tt.want {
				t.Errorf("OOMKilled(%q) = %v, %v; want %v", tt.control, got, err, tt.want)
			}
		})
	}
	if _, err := OOMKilled(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OOMKilled without memory.oom_control = %v, want fs.ErrNotExist", err)
	}
}

// startSleeper starts a child that would live for a minute and lists it in
// dir/cgroup.procs, as if it ran in that cgroup.
func startSleeper(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	writeFile(t, dir, "cgroup.procs", strconv.Itoa(cmd.Process.Pid)+"\n")
	return cmd
}

// isDead reports whether pid has exited. The test does not reap it until
// KillAll has returned, so the pid cannot be reused under KillAll meanwhile.
func isDead(t *testing.T, pid int) bool {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ...
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}

func TestKillAll(t *testing.T) {
	dir := t.TempDir()
	cmd := startSleeper(t, dir)
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- KillAll(context.Background(), dir) }()

	// The kernel's part: take the pid off the list once it has died.
	deadline := time.Now().Add(10 * time.Second)
	for !isDead(t, pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive 10s after KillAll began", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("KillAll returned %v while cgroup.procs still listed pid %d, want it to wait for the list to empty", err, pid)
	default:
	}
	writeFile(t, dir, "cgroup.procs", "")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("KillAll = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("KillAll did not return after cgroup.procs emptied")
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("sleep ended with %v, want killed by SIGKILL", cmd.ProcessState)
	}
}

func TestKillAllStopsWithContext(t *testing.T) {
	dir := t.TempDir()
	startSleeper(t, dir) // never taken off the list: KillAll keeps trying
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := KillAll(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("KillAll with a list that never empties = %v, want context.DeadlineExceeded", err)
	}
}

func TestKillAllEdges(t *testing.T) {
	if err := KillAll(context.Background(), filepath.Join(t.TempDir(), "gone")); err != nil {
		t.Errorf("KillAll of a removed cgroup = %v, want nil (its processes are gone with it)", err)
	}
	// A line that is no pid is an error. (0 and -1 are refused the same
	// way, but are not tried here: were the guard broken, they would kill
	// this test's process group, or every process on the machine.)
	dir := t.TempDir()
	writeFile(t, dir, "cgroup.procs", "12ab\n")
	if err := KillAll(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "bad pid") {
		t.Errorf("KillAll with cgroup.procs \"12ab\" = %v, want a bad pid error", err)
	}
}
