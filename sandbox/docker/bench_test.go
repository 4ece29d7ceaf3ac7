package docker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// BenchmarkStart measures creating and starting an unbound instance (the
// work a pre-started pool hides from a cold start). Close is timed apart.
func BenchmarkStart(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	var closing time.Duration
	for b.Loop() {
		in, err := be.Start(ctx, sandbox.InstanceSpec{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t0 := time.Now()
		if _, err := in.Close(ctx); err != nil {
			b.Fatal(err)
		}
		closing += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms/op")
}

// BenchmarkBindAndFirstInvoke measures, on a started instance, Bind (memory
// update, code placement, runtime start and init, CPU quota) and the first
// invocation: what a cold start costs when an unbound instance is waiting.
func BenchmarkBindAndFirstInvoke(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	bnd := binding(b, 1024)
	bnd.NanoCPUs = int64(1024) * 1e9 / 1769
	var bindTotal, initTotal time.Duration
	for b.Loop() {
		b.StopTimer()
		si, err := be.Start(ctx, sandbox.InstanceSpec{})
		if err != nil {
			b.Fatal(err)
		}
		in := si.(*Instance)
		b.StartTimer()
		t0 := time.Now()
		res, err := in.Bind(ctx, bnd)
		if err != nil || res.Status != sandbox.StatusSuccess {
			b.Fatalf("bind: %v, %+v", err, res)
		}
		bindTotal += time.Since(t0)
		initTotal += res.Duration
		result(b, invoke(b, in, 10*time.Second, map[string]any{"op": "echo"}))
		b.StopTimer()
		in.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(bindTotal.Microseconds())/1000/float64(b.N), "bind-ms/op")
	b.ReportMetric(float64(initTotal.Microseconds())/1000/float64(b.N), "init-ms/op")
}

// BenchmarkCPUQuota compares the two ways of applying the CPU quota after
// init: writing the cgroup v1 files, and a container update through the engine.
func BenchmarkCPUQuota(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	si, err := be.Start(ctx, sandbox.InstanceSpec{})
	if err != nil {
		b.Fatal(err)
	}
	in := si.(*Instance)
	defer in.Close(ctx)
	for _, mode := range []string{"cgroupfile", "update"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "cgroupfile" && be.cgroupDir("cpu", in.containerID) == "" {
				b.Skip("no cgroup v1 cpu directory for the container")
			}
			be.forceUpdateCPU = mode == "update"
			defer func() { be.forceUpdateCPU = false }()
			n := int64(0)
			for b.Loop() {
				n++
				if err := in.setCPU(ctx, 72_357_264+n%2*1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleInstanceMemory starts 10 unbound instances and reports what
// each costs the host (MemAvailable before and after) and what its own
// cgroup is charged.
func BenchmarkIdleInstanceMemory(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	const n = 10
	for b.Loop() {
		before := memAvailable(b)
		var ins []sandbox.Instance
		for range n {
			in, err := be.Start(ctx, sandbox.InstanceSpec{})
			if err != nil {
				b.Fatal(err)
			}
			ins = append(ins, in)
		}
		time.Sleep(2 * time.Second) // let init settle into its wait
		after := memAvailable(b)
		var charged int64
		for _, in := range ins {
			dir := be.cgroupDir("memory", in.(*Instance).containerID)
			data, _ := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes"))
			v, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			charged += v
		}
		for _, in := range ins {
			in.Close(ctx)
		}
		b.ReportMetric(float64(before-after)/n/(1<<20), "host-MiB/instance")
		b.ReportMetric(float64(charged)/n/(1<<20), "cgroup-MiB/instance")
	}
}

func memAvailable(b *testing.B) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemAvailable: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	b.Fatal("no MemAvailable in /proc/meminfo")
	return 0
}
