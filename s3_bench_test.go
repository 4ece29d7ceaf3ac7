package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lambdalab/store"
)

// The helpers of main_test.go and aws_cli_test.go take a *testing.T; a
// benchmark has a *testing.B, so these few take a testing.TB.

// benchRequireDocker skips without a Docker engine, or fails when
// LAMBDALAB_REQUIRE_DOCKER=1.
func benchRequireDocker(tb testing.TB) {
	tb.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
			tb.Fatalf("Docker is required (LAMBDALAB_REQUIRE_DOCKER=1): docker info: %v", err)
		}
		tb.Skipf("no Docker engine answers (run scripts/deps.sh docker): %v", err)
	}
}

// benchUser runs `lambdalab user add` and `lambdalab user keys` and returns
// the exported variables.
func benchUser(tb testing.TB, dataDir, email string) map[string]string {
	tb.Helper()
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"user", "add", "--email", email, "--password-stdin", "--data", dataDir},
		noEnv, strings.NewReader("a long enough password\n"), io.Discard, &errOut); err != nil {
		tb.Fatalf("user add: %v\n%s", err, errOut.String())
	}
	if err := run(context.Background(), []string{"user", "keys", "--email", email, "--data", dataDir},
		noEnv, strings.NewReader(""), &out, &errOut); err != nil {
		tb.Fatalf("user keys: %v\n%s", err, errOut.String())
	}
	keys := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export ([A-Z_]+)='([^']*)';$`).FindAllStringSubmatch(out.String(), -1) {
		keys[m[1]] = m[2]
	}
	return keys
}

// benchServe runs `lambdalab serve` in-process with its sandbox, waits
// until it can run functions and returns the AWS endpoint's URL; the
// program stops at the end of tb.
func benchServe(tb testing.TB, dataDir string, env map[string]string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogSink()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "127.0.0.1:0", "--data", dataDir},
			func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, logs)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	deadline := time.After(10 * time.Minute) // a first image build takes minutes
	for {
		l := logs.String()
		if m := awsURLLine.FindStringSubmatch(l); m != nil && strings.Contains(l, "sandbox ready") {
			return m[1]
		}
		if strings.Contains(l, "labs are unavailable") {
			tb.Fatalf("sandbox did not start:\n%s", l)
		}
		select {
		case err := <-done:
			tb.Fatalf("serve exited: %v\n%s", err, l)
		case <-deadline:
			tb.Fatalf("serve not ready within 10 minutes:\n%s", l)
		case <-logs.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// BenchmarkS3Trigger measures how soon a warm function starts after S3
// answered the PutObject that triggers it: from the PutObject response to
// the invocation's Start in its record (when the instance took the event),
// reported as min_ms, p50_ms and p99_ms (Start is when the Runtime API
// handed the event to the runtime, inside the instance). Each iteration is one PutObject of a small
// object under a key the bucket notifies the function of, and the wait for
// that invocation's record.
func BenchmarkS3Trigger(b *testing.B) {
	benchRequireDocker(b)
	data, err := os.MkdirTemp("", "llb") // short: instance sockets live under it
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(data) })
	keys := benchUser(b, data, "bench@example.com")
	endpoint := benchServe(b, data, map[string]string{"LAMBDALAB_PRESTART": "1"})
	db, err := store.Open(context.Background(), filepath.Join(data, "lambdalab.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	k, err := db.AccessKey(context.Background(), keys["AWS_ACCESS_KEY_ID"])
	if err != nil {
		b.Fatal(err)
	}
	account := k.AccountID
	ctx := context.Background()

	// zipBytes takes a *testing.T: the zip is made by hand.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("app.py")
	io.WriteString(w, "def handler(event, context):\n    return None\n")
	zw.Close()
	hookZip := zbuf.Bytes()

	lc := lambdaClient(endpoint, keys)
	out, err := lc.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("hook"), Runtime: "python3.13", Handler: aws.String("app.handler"),
		Role: aws.String(testRole), MemorySize: aws.Int32(256), Timeout: aws.Int32(10),
		Code: &lambdatypes.FunctionCode{ZipFile: hookZip},
	})
	if err != nil {
		b.Fatal(err)
	}
	// One instance: every event lands on the same warm one.
	if _, err := lc.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("hook"),
		ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	if _, err := lc.AddPermission(ctx, &awslambda.AddPermissionInput{FunctionName: aws.String("hook"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::bench"), SourceAccount: aws.String(account)}); err != nil {
		b.Fatal(err)
	}
	sc := s3Client(endpoint, keys)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	if _, err := sc.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String("bench"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{{
			LambdaFunctionArn: out.FunctionArn, Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	}); err != nil {
		b.Fatal(err)
	}

	seen := map[string]bool{}
	// put uploads one object and waits for the invocation it causes (the
	// one successful record not seen before); it returns the time from the
	// response to the function's start.
	put := func(i int) time.Duration {
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprintf("k/%d", i)),
			Body: strings.NewReader("x")}); err != nil {
			b.Fatal(err)
		}
		answered := time.Now()
		deadline := answered.Add(30 * time.Second)
		for {
			invs, err := db.Invocations(ctx, account, "hook", answered.Add(-10*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for _, inv := range invs {
				if inv.Outcome == "success" && !seen[inv.RequestID] {
					seen[inv.RequestID] = true
					return inv.Start.Sub(answered)
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("no invocation of hook within 30 s of PutObject k/%d", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	put(-1) // the cold start
	put(-2)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, put(i))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0), "min_ms")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}
