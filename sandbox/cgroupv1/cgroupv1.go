// Package cgroupv1 reads and writes the cgroup v1 files of one container or
// Pod: its memory and CPU limits, its memory high-water mark, whether the
// OOM killer struck, and the killing of every process in it. Writing the
// files directly is several times faster than asking a container engine
// (see sandbox/docker's BenchmarkCPUQuota) and the only way under gVisor,
// whose runsc has no update command. Each function takes the controller's
// folder of that one cgroup (for example
// /sys/fs/cgroup/memory/docker/<container id>); finding it is the caller's
// business. It knows nothing about Docker or Kubernetes.
package cgroupv1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// write puts val into an existing cgroup file. It never creates one: on
// cgroupfs creating fails with EACCES, which would hide that the file is
// not there (fs.ErrNotExist, which callers branch on).
func write(path string, val int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatInt(val, 10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SetMemoryLimit sets memory.limit_in_bytes and memory.memsw.limit_in_bytes
// in the memory controller's folder dir to bytes: memory plus swap equal to
// memory is no swap, as on Lambda. The kernel wants limit <= memsw at every
// step, so a raise writes memsw first and a cut writes the limit first.
// Without swap accounting there is no memsw file and no swap to limit: only
// the limit is written.
func SetMemoryLimit(dir string, bytes int64) error {
	limit := filepath.Join(dir, "memory.limit_in_bytes")
	memsw := filepath.Join(dir, "memory.memsw.limit_in_bytes")
	cur, err := os.ReadFile(limit)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(cur)), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", limit, err)
	}
	order := []string{limit, memsw}
	if bytes > n {
		order = []string{memsw, limit}
	}
	for _, f := range order {
		if err := write(f, bytes); err != nil {
			if f == memsw && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
	}
	return nil
}

// CFSPeriod is the CFS period in microseconds that Docker uses for NanoCPUs
// (100 ms); SetCPUQuota writes it too.
const CFSPeriod = 100000

// CFSQuota is the cpu.cfs_quota_us that gives nanoCPUs billionths of a CPU
// over CFSPeriod, at least 1000: the kernel's floor is 1 ms per period.
func CFSQuota(nanoCPUs int64) int64 {
	return max(nanoCPUs*CFSPeriod/1e9, 1000)
}

// SetCPUQuota limits the CPU controller's folder dir to nanoCPUs billionths
// of a CPU: cpu.cfs_period_us is CFSPeriod and cpu.cfs_quota_us
// CFSQuota(nanoCPUs).
func SetCPUQuota(dir string, nanoCPUs int64) error {
	if err := write(filepath.Join(dir, "cpu.cfs_period_us"), CFSPeriod); err != nil {
		return err
	}
	return write(filepath.Join(dir, "cpu.cfs_quota_us"), CFSQuota(nanoCPUs))
}

// PeakReader reads memory.max_usage_in_bytes through a file kept open for
// the cgroup's life: one pread per reading instead of an open, a read and a
// close, which matters on the warm path (system calls are dear on VMs).
// The zero value is closed; it is safe for concurrent use.
type PeakReader struct {
	mu sync.Mutex
	f  *os.File
}

// Open opens dir/memory.max_usage_in_bytes, unless a file is open already
// (then it does nothing, whatever dir is).
func (r *PeakReader) Open(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, "memory.max_usage_in_bytes"))
	if err != nil {
		return err
	}
	r.f = f
	return nil
}

// Read returns the memory high-water mark in bytes. It wraps fs.ErrNotExist
// when no file is open; after a read error the file is closed, so that the
// next Open opens it afresh.
func (r *PeakReader) Read() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fmt.Errorf("memory peak: %w", fs.ErrNotExist)
	}
	var buf [32]byte
	n, err := r.f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		r.f.Close()
		r.f = nil
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
}

// Close closes the file, if one is open. A later Open may open another.
func (r *PeakReader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// OOMKilled reports whether the OOM killer has killed a process in the
// memory controller's folder dir: memory.oom_control's oom_kill counter
// above zero. A container engine's own flag can miss a kill (Docker's is
// lost when it learns of the exit before the OOM event); the counter does
// not. Kernels before 4.13 have no counter: false.
func OOMKilled(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return false, fmt.Errorf("memory.oom_control: oom_kill %q: %w", v, err)
			}
			return n > 0, nil
		}
	}
	return false, nil
}

// killPoll is how long KillAll waits before it reads cgroup.procs again:
// the kernel takes a killed process off the list only once it has exited.
const killPoll = 5 * time.Millisecond

// KillAll sends SIGKILL to every process listed in dir/cgroup.procs (dir is
// any controller's folder of the cgroup) and reads the list again until it
// is empty or ctx ends. In cgroup v1 the list holds the cgroup's own
// members only, not its children's: a caller that kills a tree (a Pod's
// folder and its containers' below it) calls KillAll on each folder. cgroup v1 has no cgroup.kill, and a fork loop may
// add processes while the first ones die, so one pass is not enough. A
// missing cgroup.procs means the cgroup is gone, with its processes: nil.
// This is what `docker kill` does to a container, for callers without an
// engine (the node agent).
func KillAll(ctx context.Context, dir string) error {
	procs := filepath.Join(dir, "cgroup.procs")
	for {
		data, err := os.ReadFile(procs)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		pids := strings.Fields(string(data))
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			pid, err := strconv.Atoi(p)
			// kill(0) and kill(-n) signal process groups, ours included:
			// never let a bad line reach them.
			if err != nil || pid <= 0 {
				return fmt.Errorf("%s: bad pid %q", procs, p)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("kill %d: %w", pid, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kill the processes of %s: %w", dir, ctx.Err())
		case <-time.After(killPoll):
		}
	}
}
