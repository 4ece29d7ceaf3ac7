package lambda

// Benchmarks of asynchronous delivery through the durable queue:
//
//	go test -run '^$' -bench Async ./cloud/lambda/
//
// AcceptToStart is the latency from Invoke (Event) returning to the
// function starting on a warm instance (the sandbox record's Start), p50 and
// p99; aim under 20 ms. Throughput is events per second with 10 warm
// instances and 10 workers, events sent while the workers drain (aim ≥ 500/s),
// and Backlog the drain rate of 10,000 events queued up front (run it with
// -benchtime=1x: one round takes many seconds). The stub
// variants run the same path on a backend that answers at once, to show
// what the queue and the service cost without Docker.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/sandbox"
)

const benchSrc = `import time

def handler(event, context):
    if "warm" in event:
        time.sleep(event["warm"])
    return 1
`

// benchBackends are the backends each benchmark runs on.
func benchBackends(b *testing.B) []struct {
	name    string
	backend func() sandbox.Backend
} {
	return []struct {
		name    string
		backend func() sandbox.Backend
	}{
		{"docker", func() sandbox.Backend { return dockerBackend(b) }},
		{"stub", func() sandbox.Backend {
			return &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
				return sandbox.Outcome{Status: sandbox.StatusSuccess, Payload: []byte("1")}
			}}
		}},
	}
}

// warm runs n overlapping synchronous invocations of fn so that n instances
// are warm.
func (l *lab) warm(b *testing.B, fn string, n int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			out, err := l.svc.Invoke(context.Background(), l.acct, InvokeInput{FunctionName: fn, Payload: []byte(`{"warm": 0.5}`)})
			if err == nil && out.FunctionError != "" {
				err = fmt.Errorf("warm-up failed: %s", out.Payload)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// drained waits until the queue is empty.
func (l *lab) drained(b *testing.B, poll time.Duration) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for l.queueLen(b) > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("queue still holds %d events after 5 minutes", l.queueLen(b))
		}
		time.Sleep(poll)
	}
}

func BenchmarkAsyncAcceptToStart(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			l := newLab(b, be.backend(), sandbox.Config{}, Config{})
			l.pyFunction(b, "hot", benchSrc)
			l.warm(b, "hot", 1)
			ctx := context.Background()
			var lat []time.Duration
			b.ResetTimer()
			for b.Loop() {
				accepted := l.event(b, "hot", `{}`)
				returned := time.Now()
				l.drained(b, 200*time.Microsecond)
				if err := l.engine.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				invs, err := l.db.Invocations(ctx, l.acct, "hot", returned.Add(-time.Second))
				if err != nil || len(invs) == 0 {
					b.Fatalf("no record of event %s: %v", accepted, err)
				}
				lat = append(lat, invs[len(invs)-1].Start.Sub(returned))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// throughputLab is a Service with 10 workers and 10 warm instances of fn.
func throughputLab(b *testing.B, backend sandbox.Backend) *lab {
	l := newLab(b, backend, sandbox.Config{AccountConcurrency: 100}, Config{AsyncWorkers: 10})
	l.pyFunction(b, "fn", benchSrc)
	l.warm(b, "fn", 10)
	return l
}

func BenchmarkAsyncThroughput(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			l := throughputLab(b, be.backend())
			var sent atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for sent.Add(1) <= int64(b.N) {
						l.event(b, "fn", `{}`)
					}
				})
			}
			wg.Wait()
			l.drained(b, time.Millisecond)
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// BenchmarkAsyncBacklog queues 10,000 events while no worker runs, then
// hands the engine with its 10 warm instances to a new Service and times
// the drain.
func BenchmarkAsyncBacklog(b *testing.B) {
	const backlog = 10_000
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				l := throughputLab(b, be.backend())
				l.svc.Close() // the warm engine stays; its workers stop
				var wg sync.WaitGroup
				var sent atomic.Int64
				for range 8 {
					wg.Go(func() {
						for sent.Add(1) <= backlog {
							l.event(b, "fn", `{}`)
						}
					})
				}
				wg.Wait()
				next := openLab(b, l.target, l.pkgs, l.acct, Config{AsyncWorkers: 10})
				b.StartTimer()
				start := time.Now()
				if err := next.svc.SetEngine(context.Background(), l.engine); err != nil {
					b.Fatal(err)
				}
				next.engine = l.engine
				next.drained(b, 5*time.Millisecond)
				elapsed := time.Since(start)
				b.ReportMetric(backlog/elapsed.Seconds(), "events/s")
				// Free this round's instances now, not when the benchmark ends.
				next.svc.Close()
				l.engine.Close(context.Background())
			}
		})
	}
}
