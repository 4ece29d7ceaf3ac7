package endpoint_test

// go test -run '^$' -bench . ./cloud/endpoint/
//
// BenchmarkWarmInvokeEndpoint and BenchmarkWarmInvokeEngine run the same
// trivial warm handler, one through the Go SDK, SigV4 verification and the
// Lambda service, the other straight into the engine: the difference of
// their p50s is what the AWS front door costs (the aim is under 0.3 ms).

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	lambdasvc "lambdalab/cloud/lambda"
	"lambdalab/sandbox"
)

const trivialHandler = "def handler(event, context):\n    return {'ok': True}\n"

// benchFunction is the warm benchmarks' function. It has a whole vCPU
// (1,769 MB), as sandbox's BenchmarkWarmInvoke: at 128 MB its 7% CPU share
// runs out within a CFS period now and then, and the wait for the next one
// (up to 100 ms) would drown what is measured.
func benchFunction(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(1769) }

// percentiles reports the p50 and p99 of per-iteration times in ms.
func percentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(p float64) float64 {
		i := min(int(p*float64(len(times))), len(times)-1)
		return float64(times[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(0.90), "p90-ms")
}

func BenchmarkWarmInvokeEndpoint(b *testing.B) {
	w := shared(b)
	a := w.newAccount(b)
	a.createPy(b, "bench", trivialHandler, benchFunction)
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String("bench"), Payload: []byte(`{"n": 1}`)}
	a.invoke(b, in) // cold start outside the timing
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		out, err := a.c.Invoke(ctx, in)
		times = append(times, time.Since(start))
		if err != nil || out.FunctionError != nil {
			b.Fatalf("Invoke: %v %v", err, out)
		}
	}
	b.StopTimer()
	percentiles(b, times)
}

func BenchmarkWarmInvokeEngine(b *testing.B) {
	w := shared(b)
	a := w.newAccount(b)
	a.createPy(b, "bench", trivialHandler, benchFunction)
	ctx := context.Background()
	cfg, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := w.pkgs.Dir(aws.ToString(cfg.CodeSha256))
	if err != nil {
		b.Fatal(err)
	}
	// The function as the service hands it to the engine.
	fn := sandbox.Function{AccountID: a.id, Name: "bench", Version: "$LATEST", Runtime: string(cfg.Runtime), Handler: aws.ToString(cfg.Handler),
		MemoryMB: int(aws.ToInt32(cfg.MemorySize)), Timeout: time.Duration(aws.ToInt32(cfg.Timeout)) * time.Second,
		EphemeralMB: int(aws.ToInt32(cfg.EphemeralStorage.Size)), Architecture: "x86_64", CodeDir: dir, CodeSha256: aws.ToString(cfg.CodeSha256)}
	in := sandbox.InvokeInput{Function: fn, Payload: []byte(`{"n": 1}`), InvokedARN: a.arn("bench")}
	if _, err := w.engine.Invoke(ctx, in); err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		res, err := w.engine.Invoke(ctx, in)
		times = append(times, time.Since(start))
		if err != nil || res.FunctionError != "" {
			b.Fatalf("engine.Invoke: %v %v", err, res)
		}
	}
	b.StopTimer()
	percentiles(b, times)
}

// BenchmarkWarmInvokeService is the same function through the service's Go
// API: the endpoint's share of the difference to BenchmarkWarmInvokeEndpoint
// is the SDK, HTTP and SigV4; the rest is the service's own lookups.
func BenchmarkWarmInvokeService(b *testing.B) {
	w := shared(b)
	a := w.newAccount(b)
	a.createPy(b, "bench", trivialHandler, benchFunction)
	ctx := context.Background()
	in := lambdasvc.InvokeInput{FunctionName: "bench", Payload: []byte(`{"n": 1}`)}
	if _, err := w.svc.Invoke(ctx, a.id, in); err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		out, err := w.svc.Invoke(ctx, a.id, in)
		times = append(times, time.Since(start))
		if err != nil || out.FunctionError != "" {
			b.Fatalf("Service.Invoke: %v %v", err, out)
		}
	}
	b.StopTimer()
	percentiles(b, times)
}

// BenchmarkCreateFunction10MB is CreateFunction of a 10 MB package end to
// end: base64 in JSON through the SDK, signature over the whole body, the
// package store's checks and extraction, SQLite. Every iteration's zip is
// new (a small file changes), so none is served from the store's cache.
func BenchmarkCreateFunction10MB(b *testing.B) {
	w := shared(b)
	a := w.newAccount(b)
	ctx := context.Background()
	blob := make([]byte, 10<<20)
	rand.Read(blob) // incompressible: the zip is as big as its contents
	i := 0
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		b.StopTimer()
		i++
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		f, _ := zw.CreateHeader(&zip.FileHeader{Name: "blob.bin", Method: zip.Store, Modified: fixedTime})
		f.Write(blob)
		f, _ = zw.Create("app.py")
		fmt.Fprintf(f, "N = %d\ndef handler(e, c):\n    return N\n", i)
		zw.Close()
		name := fmt.Sprintf("big-%d", i)
		b.StartTimer()
		_, err := a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: types.RuntimePython313,
			Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: buf.Bytes()}})
		b.StopTimer()
		if err != nil {
			b.Fatalf("CreateFunction of %d bytes: %v", buf.Len(), err)
		}
		if _, err := a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
