package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"lambdalab/store"
)

// zipBytes is a deployment package of files.
func zipBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, body := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// buildProgram builds lambdalab as `go build` does, static (CGO_ENABLED=0)
// because without `make build`'s embedded init the binary itself becomes PID
// 1 of every instance (see initBinary).
func buildProgram(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lambdalab")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// shortTempDir is a temporary data folder with a short path: instance
// sockets live under it, and Unix socket paths are limited to 108 bytes,
// which a subtest's t.TempDir can exceed.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// After a failure a killed program's containers may be left, with
		// their /tmp loop-mounted under dir: remove both before the folder.
		if ids := containers(t, dir); len(ids) > 0 {
			args := []string{"rm", "-f"}
			for _, l := range ids {
				args = append(args, strings.Fields(l)[0])
			}
			exec.Command("docker", args...).Run()
		}
		if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil {
			for _, line := range strings.Split(string(mounts), "\n") {
				if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
					syscall.Unmount(f[1], syscall.MNT_DETACH)
				}
			}
		}
		os.RemoveAll(dir)
	})
	return dir
}

// freePort is a loopback port nothing listened on a moment ago, so that a
// restarted program can answer on the address the clients already use.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is `lambdalab serve` running as a process of its own.
type proc struct {
	cmd    *exec.Cmd
	URL    string
	AWSURL string
	Logs   *logSink
	exited chan struct{} // closed once the process is gone; err is then set
	err    error
}

// startProgram runs bin serve on data with the AWS endpoint on awsPort and
// waits for both start-up lines (and, unless the sandbox is off, "sandbox
// ready"). A test's end kills what is still running.
func startProgram(t *testing.T, bin, data string, awsPort int, env ...string) *proc {
	t.Helper()
	p := launchServe(t, "", bin, []string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", fmt.Sprintf("127.0.0.1:%d", awsPort), "--data", data}, env)
	if !slices.Contains(env, "LAMBDALAB_SANDBOX=off") {
		waitForSandbox(t, p, 10*time.Minute)
	}
	return p
}

// launchServe starts bin with args (a serve) and env, and waits for its
// start-up lines, which give its web and AWS addresses. A test's end kills
// what is still running; name tells serves apart in a failed test's log.
func launchServe(t *testing.T, name, bin string, args, env []string) *proc {
	t.Helper()
	p := &proc{Logs: newLogSink(), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.Logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of serve %s(pid %d):\n%s", name+" ", p.cmd.Process.Pid, lastLines(p.Logs.String(), 120))
		}
	})
	deadline := time.After(10 * time.Minute) // a first image build takes minutes
	for {
		logs := p.Logs.String()
		web, aws := urlLine.FindStringSubmatch(logs), awsURLLine.FindStringSubmatch(logs)
		if web != nil && aws != nil {
			p.URL, p.AWSURL = web[1], aws[1]
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("serve %s exited during start-up: %v\n%s", name, p.err, logs)
		case <-deadline:
			t.Fatalf("serve %s not ready within 10 minutes:\n%s", name, logs)
		case <-p.Logs.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForSandbox waits for p's "sandbox ready" line.
func waitForSandbox(t *testing.T, p *proc, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		logs := p.Logs.String()
		if strings.Contains(logs, "sandbox ready") {
			return
		}
		if strings.Contains(logs, "labs are unavailable") || strings.Contains(logs, `msg="take over as controller"`) {
			t.Fatalf("sandbox did not start:\n%s", lastLines(logs, 60))
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited before its sandbox was ready: %v\n%s", p.err, lastLines(logs, 60))
		case <-deadline:
			t.Fatalf("no sandbox ready within %v:\n%s", limit, lastLines(logs, 60))
		case <-p.Logs.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kill is kill -9: no shutdown, nothing flushed, containers left behind.
func (p *proc) kill() {
	p.cmd.Process.Kill() // an error only says it is gone already
	<-p.exited
}

// stop asks the program to shut down as Ctrl-C would and waits.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("serve exited with %v after an interrupt:\n%s", p.err, p.Logs)
		}
	case <-time.After(time.Minute):
		t.Errorf("serve did not stop within a minute of an interrupt")
	}
}

// containers lists the lambdalab containers of one data folder, one
// "ID owner" line each (owner is the creating process, pid@boot).
func containers(t *testing.T, data string) []string {
	t.Helper()
	abs, _ := filepath.Abs(filepath.Join(data, "sandbox"))
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=lambdalab.datadir="+abs, "--format", `{{.ID}} {{.Label "lambdalab.owner"}}`).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// ownerOf is the owner label the Docker backend gives the containers a
// process creates (see sandbox/docker's ownerLabel).
func ownerOf(t *testing.T, pid int) string {
	t.Helper()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d@%s", pid, bytes.TrimSpace(boot))
}

// ownedBy keeps the containers lines whose owner is owner.
func ownedBy(lines []string, owner string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasSuffix(l, " "+owner) {
			out = append(out, l)
		}
	}
	return out
}

// lambdaClient is the Go SDK's Lambda client signing with the keys that
// `lambdalab user keys` printed.
func lambdaClient(endpoint string, keys map[string]string) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], ""),
	})
}

func createPython(t *testing.T, c *awslambda.Client, name string, memoryMB, timeoutSec int32, code string) string {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: lambdatypes.RuntimePython313, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), MemorySize: aws.Int32(memoryMB), Timeout: aws.Int32(timeoutSec),
		Code: &lambdatypes.FunctionCode{ZipFile: zipBytes(t, map[string]string{"app.py": code})},
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if out.State != lambdatypes.StateActive {
		w := awslambda.NewFunctionActiveV2Waiter(c)
		if err := w.Wait(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(name)}, time.Minute); err != nil {
			t.Fatalf("wait for %s to be active: %v", name, err)
		}
	}
	return aws.ToString(out.FunctionArn)
}

// reserve caps a function's concurrency: on two cores, ten Python cold
// starts at once (boto3's import above all) take longer than Lambda's 10 s
// init allowance.
func reserve(t *testing.T, c *awslambda.Client, function string, n int32) {
	t.Helper()
	if _, err := c.PutFunctionConcurrency(context.Background(), &awslambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(function), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
		t.Fatalf("reserve concurrency of %s: %v", function, err)
	}
}

// sendEvents sends n Event invokes with payloads {"i": 0} to {"i": n-1} and
// returns the request id of each from its 202.
func sendEvents(t *testing.T, c *awslambda.Client, function string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(function),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: fmt.Appendf(nil, `{"i": %d}`, i)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("Event invoke %d of %s: %v (status %v)", i, function, err, out)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		if id == "" {
			t.Fatalf("Event invoke %d of %s: no request id", i, function)
		}
		ids = append(ids, id)
	}
	return ids
}

// policySids are the statement ids of a function's resource policy; the
// recording functions below leave one per event they saw.
func policySids(t *testing.T, c *awslambda.Client, function string) []string {
	t.Helper()
	out, err := c.GetPolicy(context.Background(), &awslambda.GetPolicyInput{FunctionName: aws.String(function)})
	var nf *lambdatypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil // no statement yet
	}
	if err != nil {
		t.Fatalf("get policy of %s: %v", function, err)
	}
	var doc struct{ Statement []struct{ Sid string } }
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		t.Fatalf("policy of %s: %v", function, err)
	}
	var sids []string
	for _, s := range doc.Statement {
		sids = append(sids, s.Sid)
	}
	sort.Strings(sids)
	return sids
}

// recordSid is the statement a recording function adds for each event: the
// policy is durable state a function can write through boto3 and a test can
// read back, one statement id per distinct value.
const recordSid = `
lam = boto3.client("lambda")

def note(sid):
    try:
        lam.add_permission(FunctionName=FUNCTION, StatementId=sid,
            Action="lambda:InvokeFunction", Principal="events.amazonaws.com")
    except lam.exceptions.ResourceConflictException:
        pass  # a duplicate delivery: at least once, not exactly once
`

// TestAsyncEventsSurviveKill kills the whole program with SIGKILL while
// asynchronous events are queued or being retried, restarts it on the same
// data folder, and checks that every event is still tried as often as its
// retry settings say and reaches its destination, and that the killed
// program's containers are swept.
func TestAsyncEventsSurviveKill(t *testing.T) {
	requireDocker(t)
	bin := buildProgram(t)
	const n = 20
	fast := []string{"LAMBDALAB_PRESTART=1", "LAMBDALAB_TIME_SCALE=600"}

	t.Run("retries in flight", func(t *testing.T) {
		data, port := shortTempDir(t), freePort(t)
		keys := addUser(t, data, "crash@example.com")
		db := openDB(t, data)
		account := keyAccount(t, db, keys)
		first := startProgram(t, bin, data, port, fast...)
		c := lambdaClient(first.AWSURL, keys)

		// The failing function raises a class named after the event, so each
		// invocation record says which event it ran.
		createPython(t, c, "failer", 512, 3, `def handler(event, context):
    raise type("Fail%d" % event["i"], (Exception,), {})("always fails")
`)
		destARN := createPython(t, c, "dest", 1024, 30, `import boto3

FUNCTION = "dest"
`+recordSid+`
def handler(record, context):
    ctx = record["requestContext"]
    resp = record.get("responseContext") or {}
    note("ev%d-%s-%d-%s-%s" % (record["requestPayload"]["i"], ctx["condition"], ctx["approximateInvokeCount"],
        resp.get("functionError", "none"), ctx["requestId"]))
`)
		reserve(t, c, "failer", 4)
		reserve(t, c, "dest", 2)
		if _, err := c.PutFunctionEventInvokeConfig(context.Background(), &awslambda.PutFunctionEventInvokeConfigInput{
			FunctionName: aws.String("failer"), MaximumRetryAttempts: aws.Int32(2),
			DestinationConfig: &lambdatypes.DestinationConfig{OnFailure: &lambdatypes.OnFailure{Destination: aws.String(destARN)}},
		}); err != nil {
			t.Fatal(err)
		}
		ids := sendEvents(t, c, "failer", n)

		// Kill once the first failures are recorded: the first retries are
		// then due or running, most events not yet tried.
		var failed []store.Invocation
		for deadline := time.Now().Add(2 * time.Minute); len(failed) < 5; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no failures recorded within 2 minutes")
			}
			failed = failures(t, db, account, "failer")
		}
		first.kill()
		dead := ownerOf(t, first.cmd.Process.Pid)
		dest := invocations(t, db, account, "dest")
		t.Logf("killed with %d failed invocations and %d destination deliveries recorded", len(failed), len(dest))
		if len(failed) >= 3*n || len(dest) >= n {
			t.Fatalf("the kill came too late to interrupt anything: %d failures, %d deliveries", len(failed), len(dest))
		}
		// Its prestarted and warm instances outlive it.
		if orphans := ownedBy(containers(t, data), dead); len(orphans) == 0 {
			t.Fatalf("the killed program left no containers: nothing for the restart to sweep")
		} else {
			t.Logf("the killed program left %d containers", len(orphans))
		}

		second := startProgram(t, bin, data, port, fast...)
		if left := ownedBy(containers(t, data), dead); len(left) > 0 {
			t.Errorf("containers of the killed program survived the restart's sweep: %v", left)
		}
		if m := regexp.MustCompile(`msg="async events in flight at the last stop are delivered again" count=(\d+)`).FindStringSubmatch(second.Logs.String()); m != nil {
			t.Logf("the restart took back %s events that were being delivered at the kill", m[1])
		}

		sidRE := regexp.MustCompile(`^ev(\d+)-\w+-\d+-\w+-[\w-]+$`)
		delivered := map[int][]string{}
		waitFor(t, 3*time.Minute, "every event at the destination", func() bool {
			clear(delivered)
			for _, sid := range policySids(t, c, "dest") {
				m := sidRE.FindStringSubmatch(sid)
				if m == nil {
					t.Fatalf("unexpected statement %q", sid)
				}
				i, _ := strconv.Atoi(m[1])
				delivered[i] = append(delivered[i], sid)
			}
			return len(delivered) == n
		})
		for i := range n {
			for _, sid := range delivered[i] {
				if want := fmt.Sprintf("ev%d-RetriesExhausted-3-Unhandled-%s", i, ids[i]); sid != want {
					t.Errorf("event %d reached its destination as %q, want %q", i, sid, want)
				}
			}
		}

		// Every event ran three times (more only if a kill repeated a try),
		// under the request id its 202 gave. Each try's record is stored
		// before the queue moves on, so by the time the destination has
		// the event, all its tries are recorded.
		tries := map[string]int{}
		for _, inv := range failures(t, db, account, "failer") {
			tries[inv.RequestID]++
			if i, err := strconv.Atoi(strings.TrimPrefix(inv.ErrorType, "Fail")); err != nil || i >= n || ids[i] != inv.RequestID {
				t.Errorf("a try raising %s has request id %s; that event's 202 said %s", inv.ErrorType, inv.RequestID, ids[min(i, n-1)])
			}
		}
		for i, id := range ids {
			if tries[id] < 3 {
				t.Errorf("event %d (request id %s) has %d recorded tries, want 3", i, id, tries[id])
			}
		}
		if got := len(invocations(t, db, account, "dest")); got < n {
			t.Errorf("the destination has %d invocation records, want at least %d", got, n)
		}

		second.stop(t)
		if left := containers(t, data); len(left) > 0 {
			t.Errorf("containers left after the restarted program stopped: %v", left)
		}
	})

	t.Run("before any delivery", func(t *testing.T) {
		data, port := shortTempDir(t), freePort(t)
		keys := addUser(t, data, "queued@example.com")
		db := openDB(t, data)
		account := keyAccount(t, db, keys)
		// Without a sandbox the events can only wait in the queue: the kill
		// is certain to come between their 202 and any delivery.
		first := startProgram(t, bin, data, port, append(fast, "LAMBDALAB_SANDBOX=off")...)
		c := lambdaClient(first.AWSURL, keys)
		createPython(t, c, "recorder", 1024, 30, `import boto3

FUNCTION = "recorder"
`+recordSid+`
def handler(event, context):
    note("ev%d" % event["i"])
`)
		reserve(t, c, "recorder", 2)
		sendEvents(t, c, "recorder", n)
		first.kill()
		if got := invocations(t, db, account, "recorder"); len(got) != 0 {
			t.Fatalf("%d invocations before the kill, want none", len(got))
		}

		second := startProgram(t, bin, data, port, fast...)
		var sids []string
		waitFor(t, 2*time.Minute, "every queued event delivered", func() bool {
			sids = policySids(t, c, "recorder")
			return len(sids) == n
		})
		for i := range n {
			if j := sort.SearchStrings(sids, fmt.Sprintf("ev%d", i)); j == len(sids) || sids[j] != fmt.Sprintf("ev%d", i) {
				t.Errorf("event %d never ran; recorded %v", i, sids)
			}
		}
		second.stop(t)
		if left := containers(t, data); len(left) > 0 {
			t.Errorf("containers left after the program stopped: %v", left)
		}
	})
}

// failures are the invocations of function that ran and raised (throttled
// tries are recorded too, and left out), checking that each raised a Fail<i>.
func failures(t *testing.T, db *store.DB, account, function string) []store.Invocation {
	t.Helper()
	var out []store.Invocation
	for _, inv := range invocations(t, db, account, function) {
		switch {
		case inv.Outcome == "throttled":
		case inv.Outcome == "error" && strings.HasPrefix(inv.ErrorType, "Fail"):
			out = append(out, inv)
		default:
			t.Fatalf("%s invocation %s: outcome %q, error type %q; want the function's own Fail<i>", function, inv.RequestID, inv.Outcome, inv.ErrorType)
		}
	}
	return out
}

func invocations(t *testing.T, db *store.DB, account, function string) []store.Invocation {
	t.Helper()
	invs, err := db.Invocations(context.Background(), account, function, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return invs
}
