package sandbox_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/kubernetes/k8sstack"
)

const trivialPython = "def handler(event, context):\n    return 1\n"

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

// onBackends runs f as a sub-benchmark on the Docker backend and, with
// LAMBDALAB_K8S_NODE=1, on the Kubernetes backend over this machine's real
// node (k8sstack), so that one run compares the two:
// LAMBDALAB_K8S_NODE=1 go test -run '^$' -bench 'WarmInvoke|ColdStart' ./sandbox/
func onBackends(b *testing.B, f func(b *testing.B, backend sandbox.Backend)) {
	requireDocker(b)
	b.Run("docker", func(b *testing.B) { f(b, env.backend) })
	if os.Getenv("LAMBDALAB_K8S_NODE") == "1" {
		b.Run("kubernetes", func(b *testing.B) { f(b, k8sstack.Backend(b, env.image, env.initBin)) })
	}
}

// BenchmarkWarmInvoke measures a warm invoke of a trivial Python handler at
// 1,769 MB (one vCPU) end to end: engine, Runtime API, in-container proxy and
// our runtime client. The handler's own work is a few microseconds, so the
// time per op is the platform's overhead. On Kubernetes the Runtime API is
// the node agent's, and each invoke crosses its link.
func BenchmarkWarmInvoke(b *testing.B) { onBackends(b, benchWarm) }

func benchWarm(b *testing.B, backend sandbox.Backend) {
	e := newEngineOn(b, backend, sandbox.Config{})
	fn := pyFunction(b, trivialPython)
	fn.MemoryMB = 1769
	invoke(b, e, fn, `{}`) // cold start outside the measurement
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(`{}`)})
		lat = append(lat, time.Since(t0))
		if err != nil || res.Cold || string(res.Payload) != "1" {
			b.Fatalf("warm invoke: %v %+v", err, res)
		}
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// benchCold measures request-to-response of a cold start: every iteration is
// a new function version.
func benchCold(b *testing.B, backend sandbox.Backend, prestart int) {
	e := newEngineOn(b, backend, sandbox.Config{Prestart: prestart})
	var lat []time.Duration
	var initMS float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		fn := pyFunction(b, trivialPython)
		fn.MemoryMB = 1769
		if prestart > 0 {
			deadline := time.Now().Add(30 * time.Second)
			for !hasPrestarted(e) {
				if time.Now().After(deadline) {
					b.Fatal("no prestarted instance became ready")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		res := invoke(b, e, fn, `{}`)
		lat = append(lat, time.Since(t0))
		if !res.Cold {
			b.Fatal("a new function's first invoke was warm")
		}
		initMS += res.Record.InitMS
		b.StopTimer()
		// Keep the machine from filling with idle instances.
		e.Close(context.Background())
		e = newEngineOn(b, backend, sandbox.Config{Prestart: prestart})
		b.StartTimer()
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(initMS/float64(len(lat)), "init-ms")
}

func hasPrestarted(e *sandbox.Engine) bool {
	for _, in := range e.Instances("") {
		if in.State == "prestarted" {
			return true
		}
	}
	return false
}

func BenchmarkColdStartPrestarted(b *testing.B) {
	onBackends(b, func(b *testing.B, backend sandbox.Backend) { benchCold(b, backend, 1) })
}

func BenchmarkColdStartFromNothing(b *testing.B) {
	onBackends(b, func(b *testing.B, backend sandbox.Backend) { benchCold(b, backend, 0) })
}

// BenchmarkWarmThroughput runs warm invokes across 10 instances at once and
// reports invokes per second.
func BenchmarkWarmThroughput(b *testing.B) {
	const instances = 10
	e := newEngine(b, sandbox.Config{AccountConcurrency: instances})
	fn := pyFunction(b, "import time\ndef handler(event, context):\n    if event.get('hold'):\n        time.sleep(1)\n    return 1\n")
	fn.MemoryMB = 1769
	var wg sync.WaitGroup
	for range instances { // warm exactly ten instances
		wg.Add(1)
		go func() { defer wg.Done(); invoke(b, e, fn, `{"hold":true}`) }()
	}
	wg.Wait()
	work := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			work <- struct{}{}
		}
		close(work)
	}()
	for range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				res, err := e.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(`{}`)})
				if err != nil || res.Cold {
					b.Errorf("warm invoke: err %v cold %v", err, res != nil && res.Cold)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "invokes/s")
}

// BenchmarkIdleInstanceMemory reports what one idle, initialised Python
// instance costs the host: the drop in MemAvailable per instance (container,
// shim, runtime and our per-instance server together).
func BenchmarkIdleInstanceMemory(b *testing.B) {
	const n = 8
	for b.Loop() {
		e := newEngine(b, sandbox.Config{AccountConcurrency: n})
		before := memAvailableKB(b)
		var wg sync.WaitGroup
		for i := range n {
			fn := pyFunction(b, trivialPython)
			fn.Name = fmt.Sprintf("%s-%d", fn.Name, i)
			wg.Add(1)
			go func() { defer wg.Done(); invoke(b, e, fn, `{}`) }()
		}
		wg.Wait()
		time.Sleep(time.Second)
		after := memAvailableKB(b)
		b.ReportMetric(float64(before-after)/1024/n, "MB/instance")
		e.Close(context.Background())
	}
}

func memAvailableKB(b *testing.B) int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		b.Skip("no /proc/meminfo")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	b.Skip("no MemAvailable")
	return 0
}
