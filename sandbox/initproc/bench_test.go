package initproc

import (
	"context"
	"strconv"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// BenchmarkInvokeThroughInit measures one warm invoke of a trivial runtime
// that reaches the host through init's loopback proxy and log markers, as
// it does inside an instance.
func BenchmarkInvokeThroughInit(b *testing.B) {
	in := startInstance(b, runtimeapi.Config{}, nil)
	in.waitInit(b)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := in.s.Invoke(ctx, runtimeapi.Invocation{RequestID: strconv.Itoa(i), Payload: []byte(`{}`), Deadline: deadline})
		if err != nil || out.Status != runtimeapi.StatusSuccess {
			b.Fatalf("invoke %d: %v %+v", i, err, out.Status)
		}
	}
}
