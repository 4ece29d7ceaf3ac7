package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/cloud"
	"lambdalab/sandbox"
)

func TestLineage(t *testing.T) {
	tests := []struct {
		name      string
		l         lineage
		writer    string // the function whose invocation causes the next event
		target    string // the function the next event is for
		want      lineage
		wantLoops bool
	}{
		{name: "first write from outside any chain", l: nil, writer: "f", target: "f", want: lineage{"f": 1}},
		{name: "fifteenth run of f causes a sixteenth", l: lineage{"f": 14}, writer: "f", target: "f", want: lineage{"f": 15}},
		{name: "sixteenth run of f: the next is stopped", l: lineage{"f": 15}, writer: "f", target: "f", want: lineage{"f": 16}, wantLoops: true},
		{name: "far past the limit (Allow)", l: lineage{"f": 40}, writer: "f", target: "f", want: lineage{"f": 41}, wantLoops: true},
		{name: "counts are per function", l: lineage{"f": 15, "g": 3}, writer: "g", target: "g", want: lineage{"f": 15, "g": 4}},
		{name: "g writes for f: f's count has not moved", l: lineage{"f": 15}, writer: "g", target: "f", want: lineage{"f": 15, "g": 1}},
		{name: "f and g in a ring: f's sixteenth run by way of g", l: lineage{"f": 15, "g": 15}, writer: "g", target: "f", want: lineage{"f": 15, "g": 16}},
		{name: "f and g in a ring: g's sixteenth run stops the next event for g", l: lineage{"f": 16, "g": 15}, writer: "g", target: "g", want: lineage{"f": 16, "g": 16}, wantLoops: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.l)
			got := tt.l.after(tt.writer)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%v.after(%s) = %v, want %v", tt.l, tt.writer, got, tt.want)
			}
			if fmt.Sprint(tt.l) != before {
				t.Errorf("after changed its receiver: %s became %v", before, tt.l)
			}
			if got.loops(tt.target) != tt.wantLoops {
				t.Errorf("%v.loops(%s) = %v, want %v", got, tt.target, !tt.wantLoops, tt.wantLoops)
			}
		})
	}
}

func TestChains(t *testing.T) {
	var c chains
	if got := c.lineage("r1"); got != nil {
		t.Fatalf("lineage of an invocation not running = %v, want none", got)
	}
	end1 := c.begin("r1", lineage{"f": 3})
	end2 := c.begin("r1", lineage{"f": 3}) // the same event delivered twice at once
	end1()
	if got := c.lineage("r1"); got["f"] != 3 {
		t.Errorf("lineage while a second delivery still runs = %v, want f:3", got)
	}
	end2()
	if got := c.lineage("r1"); got != nil {
		t.Errorf("lineage after both ended = %v, want none", got)
	}
	if got := c.lineage(""); got != nil {
		t.Errorf("lineage of no request id = %v, want none", got)
	}
}

func TestLineageOf(t *testing.T) {
	s := recordService(t, Clock{})
	end := s.chains.begin("r1", lineage{"f": 5})
	defer end()
	tests := []struct {
		name string
		p    *cloud.Principal
		want lineage
	}{
		{"no caller", nil, nil},
		{"a signed request from outside", &cloud.Principal{AccountID: "123456789012", AccessKeyID: "AKIA"}, nil},
		{"inside f's running async invocation", &cloud.Principal{AccountID: "123456789012", Function: "f", RequestID: "r1"}, lineage{"f": 6}},
		{"inside a synchronous invocation of f", &cloud.Principal{AccountID: "123456789012", Function: "f", RequestID: "sync"}, lineage{"f": 1}},
		{"from f between invocations", &cloud.Principal{AccountID: "123456789012", Function: "f"}, lineage{"f": 1}},
	}
	for _, tt := range tests {
		ctx := context.Background()
		if tt.p != nil {
			ctx = cloud.WithPrincipal(ctx, *tt.p)
		}
		if got := s.lineageOf(ctx); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: lineageOf = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRecordKey(t *testing.T) {
	tests := []struct {
		function string
		at       time.Time
		want     string
	}{
		{"my-function", time.Date(2019, 11, 14, 18, 16, 5, 568_000_000, time.UTC),
			"aws/lambda/async/my-function/2019/11/14/2019-11-14T18.16.05-2f1a3b4c-0000-4000-8000-000000000001"},
		// UTC whatever the zone the time is in: 01:30 in UTC+3 is 22:30 the day before.
		{"f", time.Date(2026, 1, 1, 1, 30, 0, 0, time.FixedZone("UTC+3", 3*3600)),
			"aws/lambda/async/f/2025/12/31/2025-12-31T22.30.00-2f1a3b4c-0000-4000-8000-000000000001"},
	}
	for _, tt := range tests {
		if got := recordKey(tt.function, tt.at, "2f1a3b4c-0000-4000-8000-000000000001"); got != tt.want {
			t.Errorf("recordKey(%s, %v) = %s, want %s", tt.function, tt.at, got, tt.want)
		}
	}
}

func TestEventBucket(t *testing.T) {
	tests := []struct{ payload, want string }{
		{`{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"photos"}}}]}`, "photos"},
		{`{"Records":[{"eventSource":"aws:sqs"}]}`, ""},
		{`{"bucket":"photos"}`, ""},
		{`not json`, ""},
	}
	for _, tt := range tests {
		if got := eventBucket([]byte(tt.payload)); got != tt.want {
			t.Errorf("eventBucket(%s) = %q, want %q", tt.payload, got, tt.want)
		}
	}
}

func TestRecursionRecord(t *testing.T) {
	accepted := time.Date(2019, 11, 14, 18, 14, 5, 568_000_000, time.UTC)
	s := recordService(t, Clock{Scale: 60, Now: func() time.Time { return accepted }})
	ev := asyncEvent{RequestID: "r", Account: "123456789012", Function: "loop", Payload: json.RawMessage(`{"Records":[]}`),
		AcceptedAt: accepted, Lineage: lineage{"loop": 16}}
	got, err := json.Marshal(s.async.record(ev, recursionCondition, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1.0","timestamp":"2019-11-14T18:14:05.568Z",` +
		`"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:loop:$LATEST","condition":"RecursiveInvocationDetected","approximateInvokeCount":0},` +
		`"requestPayload":{"Records":[]},` +
		`"responsePayload":{"errorMessage":"Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped your function's invocation.","errorType":"RecursiveInvocationException"}}`
	if string(got) != want {
		t.Errorf("record of a stopped loop\n got %s\nwant %s", got, want)
	}
}

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// loopLab has a stub function "loop" that, like a handler writing into the
// bucket that triggers it, causes an S3 event for itself from inside every
// invocation, until it has run stopAt times (0: never stops).
type loopLab struct {
	*lab
	log  *syncBuffer
	mu   sync.Mutex
	runs int
	dlq  *calls
}

func newLoopLab(t *testing.T, stopAt int) *loopLab {
	ll := &loopLab{log: &syncBuffer{}, dlq: newCalls()}
	event := []byte(`{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"photos"},"object":{"key":"in/x"}}}]}`)
	invoke := func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		if strings.HasSuffix(inv.InvokedFunctionARN, ":dlq") {
			ll.dlq.add(inv)
			return okOutcome()
		}
		ll.mu.Lock()
		ll.runs++
		n := ll.runs
		ll.mu.Unlock()
		if stopAt == 0 || n < stopAt {
			// What the endpoint puts in the context of the S3 PUT the
			// handler makes (cloud/endpoint Instance), and what S3 then
			// does after the write.
			p := cloud.Principal{AccountID: ll.acct, Function: "loop", Version: "$LATEST", RequestID: inv.RequestID}
			if err := ll.svc.Notify(cloud.WithPrincipal(ctx, p), ll.acct, ll.arn("loop"), event); err != nil {
				t.Errorf("Notify: %v", err)
			}
		}
		return okOutcome()
	}
	logger := slog.New(slog.NewTextHandler(ll.log, nil))
	ll.lab = newLab(t, &stubBackend{invoke: invoke}, sandbox.Config{}, Config{Clock: Clock{Scale: 600}, Logger: logger})
	ll.pyFunction(t, "loop", stubSrc)
	ll.pyFunction(t, "dlq", stubSrc)
	ll.setEventConfig(t, "loop", nil, nil, "", ll.arn("dlq"))
	return ll
}

func (ll *loopLab) count() int {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	return ll.runs
}

// settled waits until the loop's count has not moved for a while and the
// queue is empty, and returns the count.
func (ll *loopLab) settled(t *testing.T) int {
	t.Helper()
	last, since := -1, time.Now()
	waitFor(t, 30*time.Second, "the loop to settle", func() bool {
		if n := ll.count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 500*time.Millisecond && ll.queueLen(t) == 0
	})
	return last
}

// TestRecursionStopped runs a loop on the stub backend: the function runs
// 16 times, the 17th event is stopped, recorded, logged and sent to the
// on-failure destination.
func TestRecursionStopped(t *testing.T) {
	ll := newLoopLab(t, 0)
	var watchedMu sync.Mutex
	var stops []InvocationLog
	stopWatch := ll.svc.WatchInvocations(ll.acct, func(l InvocationLog) {
		if l.Record.Outcome == "recursion-stopped" {
			watchedMu.Lock()
			stops = append(stops, l)
			watchedMu.Unlock()
		}
	})
	defer stopWatch()
	first := ll.event(t, "loop", `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"photos"}}}]}`)
	rec := decodeRecord(t, ll.dlq.await(t, ll.arn("dlq")).Payload)
	watchedMu.Lock()
	if len(stops) != 1 || !stops[0].Async || stops[0].RequestID != rec.RequestContext.RequestID || !strings.Contains(string(stops[0].Log), "stopped a recursive loop") {
		t.Errorf("watchers saw the stop as %+v, want one async try with the destination's request id and the reason as its log", stops)
	}
	watchedMu.Unlock()
	if n := ll.settled(t); n != recursionLimit {
		t.Errorf("the loop ran %d times, want %d", n, recursionLimit)
	}
	if rec.RequestContext.Condition != recursionCondition || rec.RequestContext.ApproximateInvokeCount != 0 ||
		rec.RequestContext.RequestID == first || !strings.Contains(string(rec.ResponsePayload), recursionErrorType) {
		t.Errorf("destination record %+v (%s), want condition %s, no invocation, a later event than the first (%s)",
			rec.RequestContext, rec.ResponsePayload, recursionCondition, first)
	}
	if err := ll.engine.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	invs, err := ll.db.Invocations(context.Background(), ll.acct, "loop", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, inv := range invs {
		outcomes[inv.Outcome+"/"+inv.ErrorType]++
		if inv.Outcome == "recursion-stopped" && inv.RequestID != rec.RequestContext.RequestID {
			t.Errorf("stopped invocation %s, but the destination got %s", inv.RequestID, rec.RequestContext.RequestID)
		}
	}
	if outcomes["success/"] != recursionLimit || outcomes["recursion-stopped/RecursiveInvocationException"] != 1 || len(invs) != recursionLimit+1 {
		t.Errorf("invocation records: %v, want %d successes and one recursion-stopped/RecursiveInvocationException", outcomes, recursionLimit)
	}
	if want := "lambdalab stopped a recursive loop: function loop was invoked by its own writes to bucket photos 16 times in one chain; see PutFunctionRecursionConfig"; !strings.Contains(ll.log.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, ll.log.String())
	}
}

// TestRecursionAllowed: with RecursiveLoop Allow the chain runs on past 16
// until the function itself stops writing.
func TestRecursionAllowed(t *testing.T) {
	ll := newLoopLab(t, 20)
	if _, err := ll.svc.PutFunctionRecursionConfig(context.Background(), ll.acct, "loop", RecursionConfig{RecursiveLoop: "Allow"}); err != nil {
		t.Fatal(err)
	}
	ll.event(t, "loop", `{}`)
	if n := ll.settled(t); n != 20 {
		t.Errorf("with Allow the loop ran %d times, want 20 (where the function stops writing)", n)
	}
	if n := len(ll.dlq.of(ll.arn("dlq"))); n != 0 {
		t.Errorf("the destination got %d records, want none", n)
	}
}

// TestRecursionConfigAPI drives the two operations through the REST routes.
func TestRecursionConfigAPI(t *testing.T) {
	l := newLab(t, &stubBackend{invoke: func(context.Context, sandbox.Invocation) sandbox.Outcome { return okOutcome() }}, sandbox.Config{}, Config{})
	l.pyFunction(t, "f", stubSrc)
	h := l.svc.Handler()
	do := func(method, path, body string) (int, string, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r = r.WithContext(cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: l.acct, AccessKeyID: "AKIATEST"}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Header().Get("X-Amzn-ErrorType"), strings.TrimSpace(w.Body.String())
	}
	const path = "/2024-08-31/functions/f/recursion-config"
	tests := []struct {
		method, path, body string
		status             int
		errType, want      string
	}{
		{"GET", path, "", 200, "", `{"RecursiveLoop":"Terminate"}`},
		{"PUT", path, `{"RecursiveLoop":"Allow"}`, 200, "", `{"RecursiveLoop":"Allow"}`},
		{"GET", path, "", 200, "", `{"RecursiveLoop":"Allow"}`},
		{"PUT", "/2024-08-31/functions/" + l.arn("f") + "/recursion-config", `{"RecursiveLoop":"Terminate"}`, 200, "", `{"RecursiveLoop":"Terminate"}`},
		{"GET", path, "", 200, "", `{"RecursiveLoop":"Terminate"}`},
		{"PUT", path, `{"RecursiveLoop":"Sometimes"}`, 400, "InvalidParameterValueException", ""},
		{"PUT", path, `{}`, 400, "InvalidParameterValueException", ""},
		{"PUT", "/2024-08-31/functions/f:1/recursion-config", `{"RecursiveLoop":"Allow"}`, 400, "InvalidParameterValueException", ""},
		{"GET", "/2024-08-31/functions/nope/recursion-config", "", 404, "ResourceNotFoundException", ""},
		{"PUT", "/2024-08-31/functions/nope/recursion-config", `{"RecursiveLoop":"Allow"}`, 404, "ResourceNotFoundException", ""},
	}
	for _, tt := range tests {
		status, errType, body := do(tt.method, tt.path, tt.body)
		if status != tt.status || errType != tt.errType || (tt.want != "" && body != tt.want) {
			t.Errorf("%s %s %s = %d %s %s, want %d %s %s", tt.method, tt.path, tt.body, status, errType, body, tt.status, tt.errType, tt.want)
		}
	}
}

// objectStore is a bucket store above the seam: buckets by name, objects
// put into them.
type objectStore struct {
	mu      sync.Mutex
	buckets map[string]bool // account/bucket
	objects chan putObject
	fail    error
}

type putObject struct {
	account, bucket, key, contentType string
	body                              []byte
}

func (o *objectStore) BucketExists(ctx context.Context, account, bucket string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buckets[account+"/"+bucket], nil
}

func (o *objectStore) PutObject(ctx context.Context, account, bucket, key string, body []byte, contentType string) error {
	o.mu.Lock()
	fail := o.fail
	o.mu.Unlock()
	if fail != nil {
		return fail
	}
	o.objects <- putObject{account, bucket, key, contentType, body}
	return nil
}

// TestS3Destination checks which S3 destinations are accepted and that a
// failed event's record lands in the bucket under Lambda's key.
func TestS3Destination(t *testing.T) {
	l := newLab(t, &stubBackend{invoke: func(context.Context, sandbox.Invocation) sandbox.Outcome { return errOutcome() }},
		sandbox.Config{}, Config{Clock: Clock{Scale: 600}})
	l.pyFunction(t, "fails", stubSrc)
	ctx := context.Background()
	put := func(onSuccess, onFailure string) error {
		_, err := l.svc.PutFunctionEventInvokeConfig(ctx, l.acct, "fails", "", EventInvokeConfigInput{MaximumRetryAttempts: intp(1),
			DestinationConfig: &DestinationConfig{OnSuccess: Destination{onSuccess}, OnFailure: Destination{onFailure}}}, false)
		return err
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		if e, ok := AsError(err); !ok || e.Type != "InvalidParameterValueException" || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %v, want InvalidParameterValueException saying %q", what, err, want)
		}
	}
	refused("S3 without an S3 service", put("", "arn:aws:s3:::failures"), "not available")
	objects := &objectStore{buckets: map[string]bool{l.acct + "/failures": true, "999999999999/theirs": true}, objects: make(chan putObject, 10)}
	l.svc.SetObjectStore(objects)
	refused("S3 on success", put("arn:aws:s3:::failures", ""), "only on failure")
	refused("a bucket that does not exist", put("", "arn:aws:s3:::nope"), "does not exist")
	refused("another account's bucket", put("", "arn:aws:s3:::theirs"), "does not exist")
	refused("an SQS queue", put("", "arn:aws:sqs:us-east-1:"+l.acct+":q"), "Lambda functions and (on failure) S3 buckets")
	if err := put("", "arn:aws:s3:::failures"); err != nil {
		t.Fatalf("S3 on failure: %v", err)
	}
	got, err := l.svc.GetFunctionEventInvokeConfig(ctx, l.acct, "fails", "")
	if err != nil || got.DestinationConfig.OnFailure.Destination != "arn:aws:s3:::failures" {
		t.Fatalf("GetFunctionEventInvokeConfig = %+v, %v", got, err)
	}

	id := l.event(t, "fails", `{"order": 7}`)
	var o putObject
	select {
	case o = <-objects.objects:
	case <-time.After(20 * time.Second):
		t.Fatal("no record object within 20 s")
	}
	keyRE := regexp.MustCompile(`^aws/lambda/async/fails/(\d{4}/\d{2}/\d{2})/(\d{4}-\d{2}-\d{2})T\d{2}\.\d{2}\.\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	m := keyRE.FindStringSubmatch(o.key)
	if o.account != l.acct || o.bucket != "failures" || o.contentType != "application/json" || m == nil ||
		strings.ReplaceAll(m[1], "/", "-") != m[2] {
		t.Errorf("record object %s/%s/%s (%s), want %s/failures/aws/lambda/async/fails/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid> (application/json)",
			o.account, o.bucket, o.key, o.contentType, l.acct)
	}
	rec := decodeRecord(t, o.body)
	if rec.RequestContext.RequestID != id || rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 2 ||
		!sameJSON(t, rec.RequestPayload, []byte(`{"order": 7}`)) || !strings.HasPrefix(o.key, "aws/lambda/async/fails/"+rec.Timestamp[:4]+"/") {
		t.Errorf("record %s, want RetriesExhausted after 2 tries of %s", o.body, id)
	}

	// A bucket gone since the configuration: the record is lost, as Lambda
	// loses one it cannot deliver, and the event is still settled.
	objects.mu.Lock()
	objects.fail = errors.New("NoSuchBucket")
	objects.mu.Unlock()
	l.event(t, "fails", `{"order": 8}`)
	waitFor(t, 20*time.Second, "the undeliverable event to be settled", func() bool { return l.queueLen(t) == 0 })
}
