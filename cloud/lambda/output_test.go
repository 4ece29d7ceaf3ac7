package lambda

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// A synchronous invoke with Output set hands the log over as it is written:
// the handler's first line long before the invoke ends, and in all exactly
// the log that Invoke returns.
func TestInvokeOutputIsLive(t *testing.T) {
	l := newLab(t, dockerBackend(t), sandbox.Config{}, Config{})
	l.pyFunction(t, "live", `import time
print("loading")
def handler(event, context):
    print("first")
    time.sleep(1.5)
    print("second")
    return "ok"
`)
	type chunk struct {
		at time.Time
		b  []byte
	}
	var mu sync.Mutex
	var chunks []chunk
	tap := func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		chunks = append(chunks, chunk{time.Now(), p})
	}
	// Cold (init output before START), then warm.
	for _, temp := range []string{"cold", "warm"} {
		mu.Lock()
		chunks = nil
		mu.Unlock()
		out, err := l.svc.Invoke(context.Background(), l.acct, InvokeInput{FunctionName: "live", Output: tap})
		returned := time.Now()
		if err != nil {
			t.Fatalf("%s invoke: %v", temp, err)
		}
		mu.Lock()
		got := chunks
		mu.Unlock()

		var seen []byte
		var firstAt time.Time
		for _, c := range got {
			seen = append(seen, c.b...)
			if firstAt.IsZero() && bytes.Contains(seen, []byte("first\n")) {
				firstAt = c.at
			}
		}
		if string(seen) != string(out.Log) {
			t.Fatalf("%s: the tap saw\n%s\nInvoke returned the log\n%s", temp, seen, out.Log)
		}
		if firstAt.IsZero() || returned.Sub(firstAt) < time.Second {
			t.Errorf("%s: \"first\" reached the tap at %v, Invoke returned at %v: want it at least 1s before", temp, firstAt, returned)
		}
		log := string(seen)
		start := strings.Index(log, "START RequestId: "+out.RequestID)
		first := strings.Index(log, "first\n")
		if start < 0 || first < start || strings.Index(log, "second\n") < first {
			t.Errorf("%s: want START, then first, then second:\n%s", temp, log)
		}
		if loading := strings.Index(log, "loading\n"); (temp == "cold") != (loading >= 0 && loading < start) {
			t.Errorf("%s: init output at %d, START at %d:\n%s", temp, loading, start, log)
		}
		if last := got[len(got)-1].b; !bytes.HasPrefix(last, []byte("REPORT RequestId: "+out.RequestID)) {
			t.Errorf("%s: last chunk %q, want the REPORT line", temp, last)
		}
	}
}
