package xray

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// benchDocs makes n Python-shaped subsegment documents, five to a trace,
// across a few accounts' worth of traces.
func benchDocs(n int) [][]byte {
	docs := make([][]byte, n)
	now := time.Now()
	trace := ""
	for i := range docs {
		if i%5 == 0 {
			trace = NewTraceID(now)
		}
		t0 := epoch(now.Add(time.Duration(i) * time.Microsecond))
		docs[i] = fmt.Appendf(nil, `{"id": "%016x", "name": "S3", "start_time": %.6f, "parent_id": "`+fxParent+`", "in_progress": false, "aws": {"operation": "PutObject", "region": "us-east-1", "request_id": "ABCD1234EXAMPLE", "retries": 0, "bucket_name": "out", "key": "x.txt"}, "http": {"response": {"status": 200, "content_length": "0"}}, "annotations": {"n": %d}, "namespace": "aws", "type": "subsegment", "trace_id": "%s", "end_time": %.6f}`,
			i+1, t0, i, trace, t0+0.01)
	}
	return docs
}

// BenchmarkIngest measures documents per second from parse to commit, the
// aim being 10,000/s. The writer is the real one: a queue and one
// goroutine committing a transaction every few milliseconds.
func BenchmarkIngest(b *testing.B) {
	s, db := newService(b, Config{MaxTraces: 1 << 30, MaxBytes: 1 << 40})
	acct := newAccount(b, db)
	docs := benchDocs(b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	t0, cpu0 := time.Now(), cpuTime()
	for _, d := range docs {
		if err := s.PutDocument(ctx, acct, d); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "segments/s")
	// CPU time per document (parse and commit together) does not depend on
	// what else the machine runs: 1e6 / it is the rate one free core allows.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/segment")
	if st := s.Stats(); st.Stored != int64(b.N) {
		b.Fatalf("stored %d of %d", st.Stored, b.N)
	}
}

// BenchmarkIngestBurst sends 100,000 documents as fast as they parse and
// reports what the burst costs in memory: the live heap right after the
// last one was queued (the queue is full then) and the bytes allocated per
// document.
func BenchmarkIngestBurst(b *testing.B) {
	const burst = 100000
	docs := benchDocs(burst)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, db := newService(b, Config{MaxTraces: 1 << 30, MaxBytes: 1 << 40})
		acct := newAccount(b, db)
		runtime.GC()
		var before, peak, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		t0 := time.Now()
		for _, d := range docs {
			if err := s.PutDocument(ctx, acct, d); err != nil {
				b.Fatal(err)
			}
		}
		runtime.ReadMemStats(&peak)
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(t0)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		b.ReportMetric(burst/elapsed.Seconds(), "segments/s")
		b.ReportMetric(float64(int64(peak.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/burst, "alloc-B/segment")
		s.Close(ctx)
		b.StartTimer()
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
