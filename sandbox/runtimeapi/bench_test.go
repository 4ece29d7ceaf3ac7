package runtimeapi

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvokeDirect measures one warm invoke of a trivial aws-lambda-go
// handler talking to the Server over loopback TCP: the Runtime API's own
// share of the invoke overhead.
func BenchmarkInvokeDirect(b *testing.B) {
	s, addr := startServer(b, Config{})
	startHandler(b, s, addr)
	waitInit(b, s, 20*time.Second)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := s.Invoke(ctx, Invocation{RequestID: strconv.Itoa(i), Payload: []byte(`{"echo":"x"}`), Deadline: deadline})
		if err != nil || out.Status != StatusSuccess {
			b.Fatalf("invoke %d: %v %+v", i, err, out.Status)
		}
	}
}
