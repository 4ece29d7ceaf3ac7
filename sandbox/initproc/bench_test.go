package initproc

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// BenchmarkInvokeThroughInit measures one warm invoke of a trivial runtime
// that reaches the host through init's loopback proxy and log markers, as
// it does inside an instance. Besides ns/op it reports the median invoke
// (p50-µs) and the CPU time init itself spent per invoke (init-cpu-µs/op),
// which says what init costs whatever else the machine is doing.
func BenchmarkInvokeThroughInit(b *testing.B) {
	in := startInstance(b, runtimeapi.Config{}, nil)
	in.waitInit(b)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	took := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime(b, in.initCmd.Process.Pid)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := in.s.Invoke(ctx, runtimeapi.Invocation{RequestID: strconv.Itoa(i), Payload: []byte(`{}`), Deadline: deadline})
		if err != nil || out.Status != runtimeapi.StatusSuccess {
			b.Fatalf("invoke %d: %v %+v", i, err, out.Status)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	cpu := cpuTime(b, in.initCmd.Process.Pid) - cpu0
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "init-cpu-µs/op")
}

// cpuTime is the user plus system time a process has used so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 10 ms).
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// The command name (field 2) may hold spaces; count from after it.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
