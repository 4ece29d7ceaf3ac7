package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"lambdalab/store"
	"lambdalab/store/storetest"
)

// TestClusterTakeover runs two `lambdalab serve` processes on one
// PostgreSQL database and one data folder, with the sandbox on. The first
// is the controller, the second a replica forwarding to it; the test puts
// async events and a grading job in flight on the controller, kills it with
// SIGKILL, and checks that the replica takes over: it sweeps the dead
// controller's containers, delivers every event, finishes the grading job,
// and keeps the concurrency limits that held across both.
func TestClusterTakeover(t *testing.T) {
	requireDocker(t)
	// Registered first, so its database is dropped after both serves are
	// gone and their containers removed.
	pgURL := storetest.PostgresURL(t)
	bin := buildProgram(t)
	data := shortTempDir(t)
	ctx := context.Background()
	const email, password = "learner@example.com", "a long enough password"
	keys := clusterUser(t, pgURL, email, password)
	db, err := store.Open(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	account := keyAccount(t, db, keys)
	fast := []string{"LAMBDALAB_PRESTART=1", "LAMBDALAB_TIME_SCALE=600"}

	// 1. A holds the lock and runs the sandbox; B, started second on the
	// same database and data folder, forwards to it.
	a := startClusterServe(t, "A", bin, data, pgURL, true, fast...)
	aStatus := clusterStatusOf(t, a.URL)
	if aStatus.Role != "controller" || aStatus.Controller != aStatus.Replica || !strings.HasSuffix(aStatus.Replica, ":"+strconv.Itoa(a.cmd.Process.Pid)) {
		t.Fatalf("A (pid %d) reports %+v; want role controller, itself as the controller", a.cmd.Process.Pid, aStatus)
	}
	b := startClusterServe(t, "B", bin, data, pgURL, false, fast...)
	bStatus := clusterStatusOf(t, b.URL)
	if bStatus.Role != "replica" || bStatus.Controller != aStatus.Replica || bStatus.Replica == aStatus.Replica {
		t.Fatalf("B reports %+v; want role replica with controller %s", bStatus, aStatus.Replica)
	}
	if strings.Contains(b.Logs.String(), "sandbox ready") {
		t.Fatalf("the replica started a sandbox of its own:\n%s", b.Logs)
	}

	// 2. Everything goes through B unless the step is about A: B forwards
	// the signed requests to A, whose sandbox runs them.
	viaA, viaB := noRetryLambda(a.AWSURL, keys), noRetryLambda(b.AWSURL, keys)
	createPython(t, viaB, "echo", 128, 10, `def handler(event, context):
    return {"echo": event}
`)
	createPython(t, viaB, "sleeper", 128, 10, `import time

def handler(event, context):
    time.sleep(2)
    return event
`)
	createPython(t, viaB, "worker", 128, 10, `import time

def handler(event, context):
    time.sleep(1)
    return {"i": event["i"]}
`)
	// The learner's mask-logs for the grading job: it answers after 15 s,
	// so the job's first check is still running when A is killed.
	createPython(t, viaB, "mask-logs", 256, 25, `import time

def handler(event, context):
    time.sleep(15)
    return {"copied": 0}
`)
	reserve(t, viaB, "sleeper", 1)
	reserve(t, viaB, "worker", 2)

	if got := echoThrough(t, viaB, "through the replica"); got != "through the replica" {
		t.Fatalf("echo invoked through B answered from=%q, want the payload sent", got)
	}
	requireOneThrottled(t, "sleeper invoked through A and B together", invokeTogether(ctx, "sleeper", viaA, viaB))

	// 4 (before 3: it must already run when the events are sent). A
	// learner signs in through B and hands in the s3-transform lab.
	learner := newHTTPUser(t, b.URL)
	if resp := learner.submit("/login", url.Values{"email": {email}, "password": {password}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login through B: %d, want 303", resp.StatusCode)
	}
	resp := learner.submit("/labs/s3-transform/check", url.Values{})
	jobID, err := jobFromLocation(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("POST /labs/s3-transform/check through B: %d, Location %q; want 303 to the job", resp.StatusCode, resp.Header.Get("Location"))
	}
	var job store.GradingJob
	waitFor(t, time.Minute, "the grading job to run", func() bool {
		if job, err = db.GradingJob(ctx, jobID); err != nil {
			t.Fatal(err)
		}
		if job.State.Finished() {
			t.Fatalf("grading job %d ended (%s) before the kill; mask-logs should keep it running for 15 s", jobID, job.State)
		}
		return job.State == store.GradingRunning
	})

	// 3. Async events, kept in flight by worker's reservation of 2.
	const n = 10
	ids := sendEvents(t, viaB, "worker", n)
	var before map[string]int
	waitFor(t, time.Minute, "the first async event to succeed", func() bool {
		before = successes(t, db, account, "worker")
		return len(before) > 0
	})
	if job, err = db.GradingJob(ctx, jobID); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	a.kill()
	dead := ownerOf(t, a.cmd.Process.Pid)
	// Nothing runs between the kill and B's sandbox start, so this is what
	// A finished.
	before = successes(t, db, account, "worker")
	t.Logf("killed A with %d of %d events succeeded and grading job %d %s (attempt %d)", len(before), n, jobID, job.State, job.Attempts)
	if len(before) == 0 || len(before) >= n {
		t.Fatalf("%d of %d events had succeeded at the kill; want some but not all", len(before), n)
	}
	if job.State != store.GradingRunning || job.Attempts != 1 {
		t.Fatalf("grading job %d was %s on attempt %d at the kill; want running on attempt 1", jobID, job.State, job.Attempts)
	}
	if orphans := ownedBy(containers(t, data), dead); len(orphans) == 0 {
		t.Fatalf("A left no containers: nothing for B to sweep")
	} else {
		t.Logf("A left %d containers", len(orphans))
	}

	// 5. B takes over.
	waitFor(t, time.Minute, "B to become the controller", func() bool {
		st, err := tryClusterStatus(b.URL)
		return err == nil && st.Role == "controller" && st.Controller == bStatus.Replica
	})
	t.Logf("B reported role=controller %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	if m := regexp.MustCompile(`msg="took over as controller" \S+ takeover_ms=(\d+)`).FindStringSubmatch(b.Logs.String()); m != nil {
		t.Logf("B's own takeover took %s ms (lock to controller routes)", m[1])
	}
	var lastErr error
	waitFor(t, 2*time.Minute, "an invoke through B to succeed", func() bool {
		got, err := tryEcho(viaB, "after the kill")
		if err != nil {
			lastErr = err
			return false
		}
		if got != "after the kill" {
			t.Fatalf("echo through B after the takeover answered from=%q", got)
		}
		return true
	})
	t.Logf("first successful invoke through B %v after the kill (the error before it: %v)", time.Since(killedAt).Round(time.Millisecond), lastErr)
	waitForSandbox(t, b, 2*time.Minute)
	if left := ownedBy(containers(t, data), dead); len(left) > 0 {
		t.Errorf("A's containers survived B's sweep: %v", left)
	}

	// Every event succeeds; only those B took back as in flight may run
	// twice.
	var after map[string]int
	waitFor(t, 2*time.Minute, "every async event to succeed", func() bool {
		after = successes(t, db, account, "worker")
		return len(after) == n
	})
	requeued := 0
	if m := regexp.MustCompile(`msg="async events in flight at the last stop are delivered again" count=(\d+)`).FindStringSubmatch(b.Logs.String()); m != nil {
		requeued, _ = strconv.Atoi(m[1])
	}
	dups := 0
	for i, id := range ids {
		if after[id] == 0 {
			t.Errorf("event %d (request id %s) never succeeded", i, id)
		}
		dups += max(after[id]-1, 0)
	}
	t.Logf("events: %d succeeded on A, %d taken back in flight by B, %d ran twice", len(before), requeued, dups)
	if dups > requeued {
		t.Errorf("%d duplicate deliveries, but B took back only %d events in flight", dups, requeued)
	}
	for _, inv := range invocations(t, db, account, "worker") {
		if inv.Outcome != "success" && inv.Outcome != "throttled" {
			t.Errorf("worker invocation %s: outcome %q (%s); it never fails", inv.RequestID, inv.Outcome, inv.ErrorType)
		}
	}

	// The grading job interrupted on attempt 1 is graded again on B.
	waitFor(t, 3*time.Minute, "the grading job to end", func() bool {
		if job, err = db.GradingJob(ctx, jobID); err != nil {
			t.Fatal(err)
		}
		return job.State.Finished()
	})
	t.Logf("grading job %d ended %s after %d attempts, %v after the kill", jobID, job.State, job.Attempts, time.Since(killedAt).Round(time.Millisecond))
	if job.State != store.GradingDone || job.Attempts != 2 {
		t.Errorf("grading job %d ended %s after %d attempts (error %q); want done on attempt 2", jobID, job.State, job.Attempts, job.Error)
	} else if rep, err := db.Report(ctx, job.SubmissionID); err != nil {
		t.Errorf("report of submission %d: %v", job.SubmissionID, err)
	} else if rep.Status != store.GradeFail {
		// mask-logs copies nothing, so the lab's first check must fail.
		t.Errorf("report of submission %d: status %s, want fail", job.SubmissionID, rep.Status)
	}

	// B alone still keeps sleeper to one at a time.
	requireOneThrottled(t, "sleeper invoked twice through B after the takeover", invokeTogether(ctx, "sleeper", viaB, viaB))

	b.stop(t)
	if left := containers(t, data); len(left) > 0 {
		t.Errorf("containers left after B stopped: %v", left)
	}
}

// startClusterServe is startProgram for a member of a cluster: bin serve on
// data and the database pgURL, both listeners on ports the system picks.
// It waits for the start-up lines and, when sandbox is set, "sandbox ready"
// (a replica starts no sandbox until it takes over). A test's end kills
// what is still running.
func startClusterServe(t *testing.T, name, bin, data, pgURL string, sandbox bool, env ...string) *proc {
	t.Helper()
	p := launchServe(t, name, bin, []string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "127.0.0.1:0", "--data", data, "--database", pgURL}, env)
	if sandbox {
		waitForSandbox(t, p, 10*time.Minute)
	}
	return p
}

// noRetryLambda is lambdaClient making one attempt per call: a throttle is
// then seen as the 429 it is, not retried away.
func noRetryLambda(endpoint string, keys map[string]string) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], ""),
		RetryMaxAttempts: 1,
	})
}

// tryEcho invokes echo with {"from": from} and returns the "from" its
// answer gives back.
func tryEcho(c *awslambda.Client, from string) (string, error) {
	out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("echo"), Payload: fmt.Appendf(nil, `{"from": %q}`, from)})
	if err != nil {
		return "", err
	}
	if out.FunctionError != nil {
		return "", fmt.Errorf("%s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	var answer struct{ Echo struct{ From string } }
	if err := json.Unmarshal(out.Payload, &answer); err != nil {
		return "", fmt.Errorf("echo answered %q: %w", out.Payload, err)
	}
	return answer.Echo.From, nil
}

func echoThrough(t *testing.T, c *awslambda.Client, from string) string {
	t.Helper()
	got, err := tryEcho(c, from)
	if err != nil {
		t.Fatalf("invoke echo: %v", err)
	}
	return got
}

// invokeTogether invokes function synchronously once through each client,
// all released at the same moment, and returns each call's error (a
// function error counts as one).
func invokeTogether(ctx context.Context, function string, clients ...*awslambda.Client) []error {
	errs := make([]error, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out, err := c.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(function), Payload: fmt.Appendf(nil, `{"caller": %d}`, i)})
			if err == nil && out.FunctionError != nil {
				err = fmt.Errorf("%s: %s", aws.ToString(out.FunctionError), out.Payload)
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// requireOneThrottled checks that of two concurrent invokes of a function
// reserved to one, one ran and the other was refused with Lambda's 429.
func requireOneThrottled(t *testing.T, what string, errs []error) {
	t.Helper()
	ok, throttled := 0, 0
	for _, err := range errs {
		var tm *lambdatypes.TooManyRequestsException
		var re *awshttp.ResponseError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &tm) && errors.As(err, &re) && re.HTTPStatusCode() == http.StatusTooManyRequests:
			throttled++
		}
	}
	if ok != 1 || throttled != 1 {
		t.Fatalf("%s: %d succeeded, %d throttled with 429 (errors %v); want one of each", what, ok, throttled, errs)
	}
}

// successes counts the successful invocation records of function by
// request id (an async event keeps the request id of its 202).
func successes(t *testing.T, db *store.DB, account, function string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, inv := range invocations(t, db, account, function) {
		if inv.Outcome == "success" {
			got[inv.RequestID]++
		}
	}
	return got
}

// jobFromLocation is the grading job a check's redirect follows (?job=N).
func jobFromLocation(loc string) (int64, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(u.Query().Get("job"), 10, 64)
}
