package runtimeapi

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvokeDirect measures one warm invoke of a trivial aws-lambda-go
// handler talking to the Server over loopback TCP: the Runtime API's own
// share of the invoke overhead. It also reports the median invoke (p50-µs).
func BenchmarkInvokeDirect(b *testing.B) {
	s, addr := startServer(b, Config{})
	startHandler(b, s, addr)
	waitInit(b, s, 20*time.Second)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := s.Invoke(ctx, Invocation{RequestID: strconv.Itoa(i), Payload: []byte(`{"echo":"x"}`), Deadline: deadline})
		if err != nil || out.Status != StatusSuccess {
			b.Fatalf("invoke %d: %v %+v", i, err, out.Status)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
}
