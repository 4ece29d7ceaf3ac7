package lambda

// Lambda's asynchronous rules on their own, without Docker: what decide()
// does after each try, the retry and throttle delays, the scaled clock and
// the destination record (reference/lambda-behaviour.md §8.2, §9).

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/store/storetest"
)

func intp(n int) *int { return &n }

func TestRetryDelay(t *testing.T) {
	// About one minute after the first failure, about two after the second.
	tests := []struct {
		n    int
		want time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}}
	for _, tt := range tests {
		if got := retryDelay(tt.n); got != tt.want {
			t.Errorf("retryDelay(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestThrottleDelay(t *testing.T) {
	// After the first refusal one second, doubling, capped at five minutes.
	tests := []struct {
		refusals int
		want     time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{11, 5 * time.Minute},
		{1000, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := throttleDelay(tt.refusals); got != tt.want {
			t.Errorf("throttleDelay(%d) = %v, want %v", tt.refusals, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	cfg := func(retries, ageSec *int) eventConfig {
		return eventConfig{MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: ageSec}
	}
	retry := func(d time.Duration) asyncDecision { return asyncDecision{retry: true, delay: d} }
	done := func(c string) asyncDecision { return asyncDecision{condition: c} }
	// ev is the event as deliver() passes it: Attempts and Throttles
	// already count the try being decided.
	tests := []struct {
		name                  string
		ev                    asyncEvent
		cfg                   eventConfig
		failed, throttled, rz bool
		age                   time.Duration
		want                  asyncDecision
	}{
		{name: "success", ev: asyncEvent{Invokes: 1}, want: done("Success")},
		{name: "success on the third try", ev: asyncEvent{Attempts: 2, Invokes: 3}, want: done("Success")},
		{name: "success after throttles", ev: asyncEvent{Throttles: 7, Invokes: 1}, want: done("Success")},
		{name: "success even when old", ev: asyncEvent{Invokes: 1}, cfg: cfg(nil, intp(60)), age: time.Hour, want: done("Success")},

		// Default: two retries, one minute then two minutes apart.
		{name: "default first failure", ev: asyncEvent{Attempts: 1}, failed: true, want: retry(time.Minute)},
		{name: "default second failure", ev: asyncEvent{Attempts: 2}, failed: true, want: retry(2 * time.Minute)},
		{name: "default third failure", ev: asyncEvent{Attempts: 3}, failed: true, want: done("RetriesExhausted")},

		{name: "2 retries first failure", ev: asyncEvent{Attempts: 1}, cfg: cfg(intp(2), nil), failed: true, want: retry(time.Minute)},
		{name: "2 retries second failure", ev: asyncEvent{Attempts: 2}, cfg: cfg(intp(2), nil), failed: true, want: retry(2 * time.Minute)},
		{name: "2 retries third failure", ev: asyncEvent{Attempts: 3}, cfg: cfg(intp(2), nil), failed: true, want: done("RetriesExhausted")},

		{name: "1 retry first failure", ev: asyncEvent{Attempts: 1}, cfg: cfg(intp(1), nil), failed: true, want: retry(time.Minute)},
		{name: "1 retry second failure", ev: asyncEvent{Attempts: 2}, cfg: cfg(intp(1), nil), failed: true, want: done("RetriesExhausted")},

		{name: "0 retries first failure", ev: asyncEvent{Attempts: 1}, cfg: cfg(intp(0), nil), failed: true, want: done("RetriesExhausted")},

		// Throttles back off from one second and never use up retries.
		{name: "first throttle", ev: asyncEvent{Throttles: 1}, throttled: true, want: retry(time.Second)},
		{name: "second throttle", ev: asyncEvent{Throttles: 2}, throttled: true, want: retry(2 * time.Second)},
		{name: "many throttles cap at 5 min", ev: asyncEvent{Throttles: 40}, throttled: true, want: retry(5 * time.Minute)},
		{name: "throttle after two failures", ev: asyncEvent{Attempts: 2, Throttles: 1}, throttled: true, want: retry(time.Second)},
		{name: "throttle with 0 retries", ev: asyncEvent{Throttles: 3}, cfg: cfg(intp(0), nil), throttled: true, want: retry(4 * time.Second)},
		{name: "failure after throttles still retries", ev: asyncEvent{Attempts: 1, Throttles: 12}, failed: true, want: retry(time.Minute)},

		// The next try would pass the maximum event age.
		{name: "retry would pass max age", ev: asyncEvent{Attempts: 1}, cfg: cfg(nil, intp(60)), failed: true, age: 10 * time.Second, want: done("EventAgeExceeded")},
		{name: "retry lands exactly at max age", ev: asyncEvent{Attempts: 1}, cfg: cfg(nil, intp(120)), failed: true, age: time.Minute, want: retry(time.Minute)},
		{name: "second retry would pass max age", ev: asyncEvent{Attempts: 2}, cfg: cfg(nil, intp(180)), failed: true, age: 61 * time.Second, want: done("EventAgeExceeded")},
		{name: "throttle would pass max age", ev: asyncEvent{Throttles: 6}, cfg: cfg(nil, intp(60)), throttled: true, age: 31 * time.Second, want: done("EventAgeExceeded")},
		{name: "throttle within max age", ev: asyncEvent{Throttles: 6}, cfg: cfg(nil, intp(60)), throttled: true, age: 28 * time.Second, want: retry(32 * time.Second)},
		{name: "throttle within the default 6 h", ev: asyncEvent{Throttles: 50}, throttled: true, age: 5*time.Hour + 54*time.Minute, want: retry(5 * time.Minute)},
		{name: "throttle past the default 6 h", ev: asyncEvent{Throttles: 50}, throttled: true, age: 5*time.Hour + 56*time.Minute, want: done("EventAgeExceeded")},
		{name: "exhausted wins over age", ev: asyncEvent{Attempts: 3}, cfg: cfg(nil, intp(60)), failed: true, age: time.Hour, want: done("RetriesExhausted")},

		// Reserved concurrency 0: straight to failure, no retry of any kind.
		{name: "reserved zero", ev: asyncEvent{Throttles: 1}, throttled: true, rz: true, want: done("ZeroReservedConcurrency")},
		{name: "reserved zero with retries left", ev: asyncEvent{Throttles: 1}, cfg: cfg(intp(2), intp(21600)), throttled: true, rz: true, want: done("ZeroReservedConcurrency")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(tt.ev, tt.cfg, tt.failed, tt.throttled, tt.rz, tt.age)
			if got != tt.want {
				t.Errorf("decide(%+v, retries %d, max age %v, failed %v, throttled %v, reserved 0 %v, age %v) = %+v, want %+v",
					tt.ev, tt.cfg.retries(), tt.cfg.maxAge(), tt.failed, tt.throttled, tt.rz, tt.age, got, tt.want)
			}
		})
	}
}

// TestDecideCountsInvocations walks one always-failing event through
// decide as deliver does: RetriesExhausted comes after exactly
// MaximumRetryAttempts+1 invocations, and the waits are 1 then 2 minutes.
func TestDecideCountsInvocations(t *testing.T) {
	for retries := 0; retries <= 2; retries++ {
		cfg := eventConfig{MaximumRetryAttempts: intp(retries)}
		var ev asyncEvent
		var waits []time.Duration
		var age time.Duration
		for {
			ev.Invokes++
			ev.Attempts++
			d := decide(ev, cfg, true, false, false, age)
			if !d.retry {
				if d.condition != "RetriesExhausted" {
					t.Errorf("retries %d: condition %q, want RetriesExhausted", retries, d.condition)
				}
				break
			}
			waits = append(waits, d.delay)
			age += d.delay
			if ev.Invokes > 10 {
				t.Fatalf("retries %d: still retrying after %d invocations", retries, ev.Invokes)
			}
		}
		if ev.Invokes != retries+1 {
			t.Errorf("retries %d: %d invocations, want %d", retries, ev.Invokes, retries+1)
		}
		for i, w := range waits {
			if want := time.Duration(i+1) * time.Minute; w != want {
				t.Errorf("retries %d: wait %d = %v, want %v", retries, i+1, w, want)
			}
		}
	}
}

// TestThrottlesThenAge walks an event that is always throttled: it is
// retried 1 s, 2 s, 4 s … apart and given up with EventAgeExceeded just
// before the next try would pass MaximumEventAgeInSeconds.
func TestThrottlesThenAge(t *testing.T) {
	cfg := eventConfig{MaximumEventAgeInSeconds: intp(60), MaximumRetryAttempts: intp(0)}
	var ev asyncEvent
	var age time.Duration
	var waits []time.Duration
	for {
		ev.Throttles++
		d := decide(ev, cfg, false, true, false, age)
		if !d.retry {
			if d.condition != "EventAgeExceeded" {
				t.Fatalf("condition %q, want EventAgeExceeded", d.condition)
			}
			break
		}
		waits = append(waits, d.delay)
		age += d.delay
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if ev.Attempts != 0 {
		t.Errorf("throttles used up %d retries", ev.Attempts)
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		scale       float64
		lambda      time.Duration // a Lambda wait
		real        time.Duration // what Real says it takes
		realPassed  time.Duration
		lambdaAfter time.Duration // what Elapsed says after realPassed
	}{
		{scale: 1, lambda: time.Minute, real: time.Minute, realPassed: 3 * time.Second, lambdaAfter: 3 * time.Second},
		{scale: 60, lambda: time.Minute, real: time.Second, realPassed: 3 * time.Second, lambdaAfter: 3 * time.Minute},
		{scale: 60, lambda: 5 * time.Minute, real: 5 * time.Second, realPassed: 250 * time.Millisecond, lambdaAfter: 15 * time.Second},
		{scale: 0, lambda: 2 * time.Minute, real: 2 * time.Second, realPassed: time.Second, lambdaAfter: time.Minute}, // zero means 60
		{scale: 600, lambda: time.Minute, real: 100 * time.Millisecond, realPassed: time.Second, lambdaAfter: 10 * time.Minute},
	}
	for _, tt := range tests {
		c := Clock{Scale: tt.scale, Now: func() time.Time { return base.Add(tt.realPassed) }}
		if got := c.Real(tt.lambda); got != tt.real {
			t.Errorf("Clock{Scale: %v}.Real(%v) = %v, want %v", tt.scale, tt.lambda, got, tt.real)
		}
		if got := c.Elapsed(base); got != tt.lambdaAfter {
			t.Errorf("Clock{Scale: %v}.Elapsed after %v real = %v, want %v", tt.scale, tt.realPassed, got, tt.lambdaAfter)
		}
	}
}

// recordService is a Service with a database and a fixed clock, enough to
// build destination records.
func recordService(t *testing.T, c Clock) *Service {
	t.Helper()
	return New(Config{DB: openTestDB(t, storetest.Target(t, "lambdalab.db")), Clock: c})
}

func TestDestinationRecord(t *testing.T) {
	accepted := time.Date(2019, 11, 14, 18, 14, 5, 568_000_000, time.UTC)
	// Two real seconds at scale 60 are two Lambda minutes after acceptance.
	s := recordService(t, Clock{Scale: 60, Now: func() time.Time { return accepted.Add(2 * time.Second) }})
	const acct = "123456789012"
	ev := asyncEvent{RequestID: "e4b46cbf-b738-xmpl-8880-a18cdf61200e", Account: acct, Function: "my-function",
		Payload: json.RawMessage(`{"ORDER_IDS":["9e07af03","637de236"]}`), AcceptedAt: accepted}
	errDoc := `{"errorMessage":"boom","errorType":"ValueError","requestId":"r","stackTrace":[]}`
	tests := []struct {
		name      string
		qualifier string
		invokes   int
		condition string
		res       *sandbox.Result
		want      string
	}{
		{
			name: "retries exhausted", invokes: 3, condition: "RetriesExhausted",
			res: &sandbox.Result{FunctionError: "Unhandled", ExecutedVersion: "$LATEST", Payload: []byte(errDoc)},
			want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
				"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},
				"requestPayload":{"ORDER_IDS":["9e07af03","637de236"]},
				"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
				"responsePayload":` + errDoc + `}`,
		},
		{
			name: "success on a version through an alias", qualifier: "live", invokes: 1, condition: "Success",
			res: &sandbox.Result{ExecutedVersion: "3", Payload: []byte(`{"ok":true}`)},
			want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
				"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:my-function:3","condition":"Success","approximateInvokeCount":1},
				"requestPayload":{"ORDER_IDS":["9e07af03","637de236"]},
				"responseContext":{"statusCode":200,"executedVersion":"3"},
				"responsePayload":{"ok":true}}`,
		},
		{
			name: "success returning None", invokes: 2, condition: "Success",
			res: &sandbox.Result{ExecutedVersion: "$LATEST", Payload: []byte(`null`)},
			want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
				"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST","condition":"Success","approximateInvokeCount":2},
				"requestPayload":{"ORDER_IDS":["9e07af03","637de236"]},
				"responseContext":{"statusCode":200,"executedVersion":"$LATEST"},
				"responsePayload":null}`,
		},
		{
			name: "event age exceeded on a version, never run", qualifier: "2", condition: "EventAgeExceeded",
			want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
				"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:my-function:2","condition":"EventAgeExceeded","approximateInvokeCount":1},
				"requestPayload":{"ORDER_IDS":["9e07af03","637de236"]}}`,
		},
		{
			name: "reserved concurrency zero", condition: "ZeroReservedConcurrency",
			want: `{"version":"1.0","timestamp":"2019-11-14T18:16:05.568Z",
				"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST","condition":"ZeroReservedConcurrency","approximateInvokeCount":0},
				"requestPayload":{"ORDER_IDS":["9e07af03","637de236"]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ev
			ev.Qualifier = tt.qualifier
			ev.Invokes = tt.invokes
			got, err := json.Marshal(s.async.record(ev, tt.condition, tt.res))
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(tt.want)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("record(%s)\n got %s\nwant %s", tt.condition, got, want.Bytes())
			}
		})
	}
}

// calls records what a stub backend's functions were invoked with, by the
// ARN the caller used.
type calls struct {
	mu sync.Mutex
	by map[string][][]byte
	ch chan sandbox.Invocation
}

func newCalls() *calls {
	return &calls{by: map[string][][]byte{}, ch: make(chan sandbox.Invocation, 100)}
}

func (c *calls) add(inv sandbox.Invocation) {
	c.mu.Lock()
	c.by[inv.InvokedFunctionARN] = append(c.by[inv.InvokedFunctionARN], inv.Payload)
	c.mu.Unlock()
	select {
	case c.ch <- inv:
	default:
	}
}

func (c *calls) of(arn string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[arn]
}

// await waits for the next invocation of arn.
func (c *calls) await(t *testing.T, arn string) sandbox.Invocation {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case inv := <-c.ch:
			if inv.InvokedFunctionARN == arn {
				return inv
			}
		case <-timer.C:
			t.Fatalf("%s was not invoked within 10 s", arn)
		}
	}
}

func okOutcome() sandbox.Outcome {
	return sandbox.Outcome{Status: sandbox.StatusSuccess, Payload: []byte(`"ok"`)}
}

func errOutcome() sandbox.Outcome {
	return sandbox.Outcome{Status: sandbox.StatusError, Payload: []byte(`{"errorMessage":"boom","errorType":"ValueError"}`)}
}

func decodeRecord(t *testing.T, b []byte) DestinationRecord {
	t.Helper()
	var rec DestinationRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s is not a destination record: %v", b, err)
	}
	return rec
}

const stubSrc = "def handler(event, context):\n    return 'ok'\n"

// TestAsyncCrashRedelivers takes an event out of the queue as a worker
// does and drops it, as a crash mid-delivery would: a new Service on the
// same database delivers it again at once (Requeue at SetEngine), not after
// the 16-minute visibility timeout.
func TestAsyncCrashRedelivers(t *testing.T) {
	ctx := context.Background()
	target := storetest.Target(t, "lambdalab.db")
	cfg := Config{Clock: Clock{Scale: 600}}
	before := openLab(t, target, nil, "", cfg)
	before.pyFunction(t, "work", stubSrc)
	before.event(t, "work", `{"n": 1}`)
	m, ok, err := before.svc.async.queue.Receive(ctx)
	if err != nil || !ok {
		t.Fatalf("receive = %v, %v; want the event", ok, err)
	}
	var ev asyncEvent
	if err := json.Unmarshal(m.Body, &ev); err != nil || !sameJSON(t, ev.Payload, []byte(`{"n": 1}`)) {
		t.Fatalf("received %s (%v), want the event", m.Body, err)
	}
	// The worker dies here: nothing deletes or replaces the message.

	c := newCalls()
	after := openLab(t, target, before.pkgs, before.acct, cfg)
	after.start(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		c.add(inv)
		return okOutcome()
	}}, sandbox.Config{})
	inv := c.await(t, after.arn("work"))
	if !sameJSON(t, inv.Payload, []byte(`{"n": 1}`)) {
		t.Errorf("redelivered payload %s, want {\"n\": 1}", inv.Payload)
	}
	waitFor(t, 10*time.Second, "the queue to empty", func() bool { return after.queueLen(t) == 0 })
	if n := len(c.of(after.arn("work"))); n != 1 {
		t.Errorf("work ran %d times after the restart, want 1", n)
	}
}

// TestAsyncStopSettlesDelivery stops the service while a function runs:
// Close waits for it, and its outcome is settled (here: the event deleted),
// so the next start does not run it a second time.
func TestAsyncStopSettlesDelivery(t *testing.T) {
	c := newCalls()
	release := make(chan struct{})
	l := newLab(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		c.add(inv)
		<-release
		return okOutcome()
	}}, sandbox.Config{}, Config{Clock: Clock{Scale: 600}})
	l.pyFunction(t, "slow", stubSrc)
	l.event(t, "slow", `{}`)
	c.await(t, l.arn("slow"))
	closed := make(chan struct{})
	go func() {
		l.svc.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a delivery was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if n := l.queueLen(t); n != 0 {
		t.Errorf("after a stop the queue holds %d events, want the finished one gone", n)
	}
}

// TestAsyncRetrySurvivesRestart: an event that failed once is put back with
// its retry delay and attempt count; a new Service on the same database
// delivers the retry, and the record counts both invocations.
func TestAsyncRetrySurvivesRestart(t *testing.T) {
	target := storetest.Target(t, "lambdalab.db")
	// At scale 200 the one-minute retry waits 300 ms.
	cfg := Config{Clock: Clock{Scale: 200}}
	c := newCalls()
	first := openLab(t, target, nil, "", cfg)
	first.pyFunction(t, "flaky", stubSrc)
	first.pyFunction(t, "dest", stubSrc)
	first.setEventConfig(t, "flaky", intp(2), nil, first.arn("dest"), "")
	first.start(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		c.add(inv)
		return errOutcome()
	}}, sandbox.Config{})
	id := first.event(t, "flaky", `{"k": "v"}`)
	c.await(t, first.arn("flaky"))
	first.svc.Close()
	if n := first.queueLen(t); n != 1 {
		t.Fatalf("after the failed try the queue holds %d events, want the retry", n)
	}

	second := openLab(t, target, first.pkgs, first.acct, cfg)
	second.start(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		c.add(inv)
		return okOutcome()
	}}, sandbox.Config{})
	inv := c.await(t, second.arn("dest"))
	rec := decodeRecord(t, inv.Payload)
	want := RecordContext{RequestID: id, FunctionArn: second.arn("flaky") + ":$LATEST", Condition: "Success", ApproximateInvokeCount: 2}
	if rec.RequestContext != want {
		t.Errorf("requestContext = %+v, want %+v", rec.RequestContext, want)
	}
	if n := len(c.of(second.arn("flaky"))); n != 2 {
		t.Errorf("flaky ran %d times, want 2", n)
	}
}

// TestAsyncAgeExceededAtDelivery delivers an event already older than
// MaximumEventAgeInSeconds: the function is not run and the failure
// destination gets EventAgeExceeded.
func TestAsyncAgeExceededAtDelivery(t *testing.T) {
	c := newCalls()
	l := newLab(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		c.add(inv)
		return okOutcome()
	}}, sandbox.Config{}, Config{Clock: Clock{Scale: 60}})
	l.pyFunction(t, "late", stubSrc)
	l.pyFunction(t, "dlq", stubSrc)
	l.setEventConfig(t, "late", nil, intp(60), "", l.arn("dlq"))
	// Two real seconds at scale 60 are two Lambda minutes.
	id, err := l.svc.enqueue(context.Background(), asyncEvent{Account: l.acct, Function: "late", InvokedARN: l.arn("late"),
		Payload: json.RawMessage(`{"old": true}`), AcceptedAt: time.Now().Add(-2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeRecord(t, c.await(t, l.arn("dlq")).Payload)
	want := RecordContext{RequestID: id, FunctionArn: l.arn("late") + ":$LATEST", Condition: "EventAgeExceeded", ApproximateInvokeCount: 1}
	if rec.RequestContext != want {
		t.Errorf("requestContext = %+v, want %+v", rec.RequestContext, want)
	}
	if !sameJSON(t, rec.RequestPayload, []byte(`{"old": true}`)) || rec.ResponseContext != nil {
		t.Errorf("record %+v: want the original payload and no response", rec)
	}
	if n := len(c.of(l.arn("late"))); n != 0 {
		t.Errorf("late ran %d times, want never", n)
	}
}
