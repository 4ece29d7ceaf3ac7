package lambda

// Asynchronous invocation end to end: the Go API (Invoke with InvocationType
// Event, PutFunctionEventInvokeConfig, PutFunctionConcurrency), the durable
// queue in SQLite, the engine on real Docker with the real runtime image,
// and real Python handlers.
//
// What a destination function received is observed honestly from inside
// it: the recorder function POSTs its event to AWS_ENDPOINT_URL, which the
// engine serves with the test's sink (sandbox.Config.AWS), so the record the
// test checks is the payload the function was invoked with. The sink also
// numbers each function's attempts, so a handler can fail on its first two
// tries whatever instance runs it.

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/store"
)

// e2eScale makes one Lambda minute pass in 100 ms: the retries wait 100
// and 200 ms.
const e2eScale = 600

const recorderSrc = pyPost + `
def handler(event, context):
    post("/record", event)
    return "recorded"
`

func newAsyncLab(t *testing.T) (*lab, *sink) {
	t.Helper()
	return newAsyncLabScaled(t, e2eScale)
}

// newAsyncLabScaled is newAsyncLab with Lambda's clock running scale times
// faster than the wall clock.
func newAsyncLabScaled(t *testing.T, scale float64) (*lab, *sink) {
	t.Helper()
	sk := newSink()
	l := newLab(t, dockerBackend(t), sandbox.Config{AWS: sk}, Config{Clock: Clock{Scale: scale}})
	l.pyFunction(t, "recorder", recorderSrc)
	return l, sk
}

// record waits for the next destination record the recorder received.
func (sk *sink) record(t *testing.T) DestinationRecord {
	t.Helper()
	body := sk.next(t, time.Minute, "recorder", "/record")
	var rec DestinationRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatalf("the recorder received %s, not a destination record: %v", body, err)
	}
	return rec
}

func (sk *sink) attemptsOf(fn string) int {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	return sk.attempts[fn]
}

// invocations returns the sandbox's records of fn, oldest first.
func (l *lab) invocations(t *testing.T, fn string) []store.Invocation {
	t.Helper()
	ctx := context.Background()
	if err := l.engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	invs, err := l.db.Invocations(ctx, l.acct, fn, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return invs
}

func outcomes(invs []store.Invocation) map[string]int {
	m := map[string]int{}
	for _, inv := range invs {
		m[inv.Outcome]++
	}
	return m
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("%s is not JSON: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("%s is not JSON: %v", b, err)
		return false
	}
	return reflect.DeepEqual(x, y)
}

func (l *lab) checkRecordHead(t *testing.T, rec DestinationRecord, requestID, fn, condition string, count int) {
	t.Helper()
	if rec.Version != "1.0" {
		t.Errorf("version = %q, want 1.0", rec.Version)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil || ts.IsZero() {
		t.Errorf("timestamp %q is not UTC with milliseconds: %v", rec.Timestamp, err)
	}
	want := RecordContext{RequestID: requestID, FunctionArn: l.arn(fn) + ":$LATEST", Condition: condition, ApproximateInvokeCount: count}
	if rec.RequestContext != want {
		t.Errorf("requestContext = %+v, want %+v", rec.RequestContext, want)
	}
}

func TestAsyncRetriesThenSuccess(t *testing.T) {
	l, sk := newAsyncLab(t)
	l.pyFunction(t, "flaky", pyPost+`
def handler(event, context):
    n = int(post("/attempt", {}))
    if n < 3:
        raise ValueError("attempt %d fails" % n)
    return {"attempt": n, "got": event}
`)
	l.setEventConfig(t, "flaky", intp(2), nil, l.arn("recorder"), "")
	event := `{"order": 42, "items": ["a", "b"]}`
	id := l.event(t, "flaky", event)

	rec := sk.record(t)
	l.checkRecordHead(t, rec, id, "flaky", "Success", 3)
	if !sameJSON(t, rec.RequestPayload, []byte(event)) {
		t.Errorf("requestPayload = %s, want the original event %s", rec.RequestPayload, event)
	}
	if want := (ResponseCtx{StatusCode: 200, ExecutedVersion: "$LATEST"}); rec.ResponseContext == nil || *rec.ResponseContext != want {
		t.Errorf("responseContext = %+v, want %+v", rec.ResponseContext, want)
	}
	if want := `{"attempt": 3, "got": ` + event + `}`; !sameJSON(t, rec.ResponsePayload, []byte(want)) {
		t.Errorf("responsePayload = %s, want %s", rec.ResponsePayload, want)
	}
	if n := sk.attemptsOf("flaky"); n != 3 {
		t.Errorf("flaky ran %d times, want 3", n)
	}
	invs := l.invocations(t, "flaky")
	if got := outcomes(invs); got["error"] != 2 || got["success"] != 1 || len(got) != 2 {
		t.Errorf("flaky's invocation outcomes = %v, want 2 error and 1 success", got)
	}
	// Lambda keeps one request id across an event's retries.
	for _, inv := range invs {
		if inv.RequestID != id {
			t.Errorf("a retry ran as request %s, want the event's id %s", inv.RequestID, id)
		}
	}
	waitFor(t, 10*time.Second, "the queue to empty", func() bool { return l.queueLen(t) == 0 })
}

func TestAsyncRetriesExhausted(t *testing.T) {
	l, sk := newAsyncLab(t)
	for _, retries := range []int{2, 0} {
		name := map[int]string{2: "broken-two", 0: "broken-zero"}[retries]
		l.pyFunction(t, name, pyPost+`
def handler(event, context):
    post("/attempt", {})
    raise ValueError("boom")
`)
		l.setEventConfig(t, name, intp(retries), nil, "", l.arn("recorder"))
		event := `{"retries": ` + map[int]string{2: "2", 0: "0"}[retries] + `}`
		id := l.event(t, name, event)

		rec := sk.record(t)
		l.checkRecordHead(t, rec, id, name, "RetriesExhausted", retries+1)
		if !sameJSON(t, rec.RequestPayload, []byte(event)) {
			t.Errorf("%s: requestPayload = %s, want %s", name, rec.RequestPayload, event)
		}
		if want := (ResponseCtx{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"}); rec.ResponseContext == nil || *rec.ResponseContext != want {
			t.Errorf("%s: responseContext = %+v, want %+v", name, rec.ResponseContext, want)
		}
		var doc struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(rec.ResponsePayload, &doc); err != nil || doc.ErrorType != "ValueError" || doc.ErrorMessage != "boom" {
			t.Errorf("%s: responsePayload = %s, want the ValueError document", name, rec.ResponsePayload)
		}
		if n := sk.attemptsOf(name); n != retries+1 {
			t.Errorf("%s ran %d times, want %d", name, n, retries+1)
		}
	}
}

func TestAsyncReservedZero(t *testing.T) {
	l, sk := newAsyncLab(t)
	l.pyFunction(t, "off", pyPost+`
def handler(event, context):
    post("/attempt", {})
    return "should not run"
`)
	if _, err := l.svc.PutFunctionConcurrency(context.Background(), l.acct, "off", 0); err != nil {
		t.Fatal(err)
	}
	l.setEventConfig(t, "off", intp(2), nil, "", l.arn("recorder"))
	event := `{"n": 1}`
	id := l.event(t, "off", event)

	rec := sk.record(t)
	l.checkRecordHead(t, rec, id, "off", "ZeroReservedConcurrency", 0)
	if rec.ResponseContext != nil || rec.ResponsePayload != nil {
		t.Errorf("a function that never ran has responseContext %+v, responsePayload %s", rec.ResponseContext, rec.ResponsePayload)
	}
	if !sameJSON(t, rec.RequestPayload, []byte(event)) {
		t.Errorf("requestPayload = %s, want %s", rec.RequestPayload, event)
	}
	if n := sk.attemptsOf("off"); n != 0 {
		t.Errorf("off ran %d times, want never", n)
	}
	// One refused try, no retries.
	if got := outcomes(l.invocations(t, "off")); got["throttled"] != 1 || len(got) != 1 {
		t.Errorf("off's invocation outcomes = %v, want exactly 1 throttled", got)
	}
}

// TestAsyncEventAgeExceeded throttles a function by filling its reserved
// concurrency of 1 with a synchronous call that holds on, so an event for
// it backs off (1 s, 2 s, 4 s … Lambda time) until the next try would pass
// MaximumEventAgeInSeconds 60: six Lambda seconds in 100 ms real.
func TestAsyncEventAgeExceeded(t *testing.T) {
	// At 60 times Lambda's speed the event's least maximum age (60 s) is a
	// real second, enough for several throttled tries and their back-off
	// (1 s, 2 s, 4 s … of Lambda time) however slow a busy machine makes
	// each try; at e2eScale it was 100 ms, and CI under load saw one.
	l, sk := newAsyncLabScaled(t, 60)
	l.pyFunction(t, "busy", pyPost+`import time

def handler(event, context):
    if "hold" in event:
        post("/holding", {})
        time.sleep(event["hold"])
        return "held"
    post("/attempt", {})
    return "ran"
`)
	ctx := context.Background()
	if _, err := l.svc.PutFunctionConcurrency(ctx, l.acct, "busy", 1); err != nil {
		t.Fatal(err)
	}
	l.setEventConfig(t, "busy", intp(2), intp(60), "", l.arn("recorder"))
	held := make(chan error, 1)
	go func() {
		out, err := l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "busy", Payload: []byte(`{"hold": 2}`)})
		if err == nil && out.FunctionError != "" {
			t.Errorf("the holding call failed: %s", out.Payload)
		}
		held <- err
	}()
	sk.next(t, time.Minute, "busy", "/holding")

	event := `{"n": 7}`
	id := l.event(t, "busy", event)
	rec := sk.record(t)
	l.checkRecordHead(t, rec, id, "busy", "EventAgeExceeded", 1)
	if rec.ResponseContext != nil {
		t.Errorf("responseContext = %+v for an event that never ran", rec.ResponseContext)
	}
	if !sameJSON(t, rec.RequestPayload, []byte(event)) {
		t.Errorf("requestPayload = %s, want %s", rec.RequestPayload, event)
	}
	if err := <-held; err != nil {
		t.Fatalf("holding call: %v", err)
	}
	if n := sk.attemptsOf("busy"); n != 0 {
		t.Errorf("the event ran %d times, want never", n)
	}
	// Throttled tries are retried with back-off, not given up at once.
	if got := outcomes(l.invocations(t, "busy")); got["throttled"] < 2 || got["success"] != 1 {
		t.Errorf("busy's invocation outcomes = %v, want several throttled and the 1 holding success", got)
	}
}
