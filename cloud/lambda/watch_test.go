package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// logSink collects what one watcher was given.
type logSink struct {
	mu   sync.Mutex
	logs []InvocationLog
}

func (s *logSink) add(l InvocationLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, l)
}

func (s *logSink) all() []InvocationLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]InvocationLog(nil), s.logs...)
}

// TestWatchInvocations runs above the Docker seam: what the watchers of an
// account are given for synchronous invokes, throttles and each try of an
// asynchronous event, and that stopping a watcher stops it.
func TestWatchInvocations(t *testing.T) {
	var fails atomic.Int32
	l := newLab(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome {
		switch {
		case bytes.Contains(inv.Payload, []byte(`"big"`)):
			return sandbox.Outcome{Status: sandbox.StatusSuccess, Payload: []byte(`"` + strings.Repeat("x", 100<<10) + `"`)}
		case bytes.Contains(inv.Payload, []byte(`"flaky"`)) && fails.Add(1) == 1:
			return sandbox.Outcome{Status: sandbox.StatusError, Log: []byte("first try fails\n"),
				Payload: []byte(`{"errorType":"ValueError","errorMessage":"first"}`)}
		}
		return sandbox.Outcome{Status: sandbox.StatusSuccess, Payload: inv.Payload, Log: []byte("handled " + inv.RequestID + "\n")}
	}}, sandbox.Config{}, Config{Clock: Clock{Scale: e2eScale}})
	ctx := context.Background()
	l.pyFunction(t, "fn", "def handler(e, c): return e\n")
	other, _, err := l.db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var a, b, elsewhere logSink
	stopA := l.svc.WatchInvocations(l.acct, a.add)
	stopB := l.svc.WatchInvocations(l.acct, b.add)
	stopElsewhere := l.svc.WatchInvocations(other.ID, elsewhere.add)
	defer stopB()
	defer stopElsewhere()

	out, err := l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "fn", Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*logSink{"a": &a, "b": &b} {
		got := s.all()
		if len(got) != 1 {
			t.Fatalf("watcher %s got %d logs for one invoke", name, len(got))
		}
		g := got[0]
		if g.Async || g.Attempt != 1 || g.Qualifier != "" || g.RequestID != out.RequestID || g.Record.RequestID != out.RequestID ||
			g.Record.Outcome != "success" || !bytes.Equal(g.Log, out.Log) || !bytes.Equal(g.Payload, out.Payload) {
			t.Errorf("watcher %s got %+v for invoke %s answering %s", name, g, out.RequestID, out.Payload)
		}
		if !bytes.Contains(g.Log, []byte("START RequestId: "+out.RequestID)) || !bytes.Contains(g.Log, []byte("handled "+out.RequestID)) ||
			!bytes.Contains(g.Log, []byte("REPORT RequestId: "+out.RequestID)) || !bytes.Contains(g.Log, []byte("Init Duration")) {
			t.Errorf("watcher %s got log %q, want a cold start's START, output and REPORT", name, g.Log)
		}
	}
	if n := len(elsewhere.all()); n != 0 {
		t.Errorf("a watcher of another account got %d logs", n)
	}

	stopA()
	stopA() // a second stop is harmless
	if _, err := l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "fn", Payload: []byte(`{"big":1}`)}); err != nil {
		t.Fatal(err)
	}
	if n := len(a.all()); n != 1 {
		t.Errorf("a stopped watcher got %d logs, want its 1 from before", n)
	}
	got := b.all()
	if len(got) != 2 || len(got[1].Payload) != watchPayloadMax {
		t.Errorf("after a 100 KB answer the watcher has %d logs, the last with %d bytes of payload; want 2 and %d", len(got), len(got[len(got)-1].Payload), watchPayloadMax)
	}

	// A throttle is reported with the id of the sandbox's record.
	if _, err := l.svc.PutFunctionConcurrency(ctx, l.acct, "fn", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "fn"}); err == nil {
		t.Fatal("an invoke with reserved concurrency 0 was not throttled")
	}
	got = b.all()
	th := got[len(got)-1]
	var body map[string]string
	json.Unmarshal(th.Payload, &body)
	if th.Record.Outcome != "throttled" || len(th.Log) != 0 || th.RequestID == "" || body["Reason"] != sandbox.ReasonReservedConcurrentLimit {
		t.Errorf("throttle reported as %+v with payload %s", th, th.Payload)
	}
	var stored bool
	for _, inv := range l.invocations(t, "fn") {
		stored = stored || inv.RequestID == th.RequestID && inv.Outcome == "throttled"
	}
	if !stored {
		t.Errorf("no throttled record with the reported request id %s", th.RequestID)
	}
	if err := l.svc.DeleteFunctionConcurrency(ctx, l.acct, "fn"); err != nil {
		t.Fatal(err)
	}

	// An asynchronous event: each try, with its number.
	before := len(b.all())
	id := l.event(t, "fn", `{"flaky":1}`)
	waitFor(t, 10*time.Second, "two tries of the event", func() bool { return len(b.all()) >= before+2 })
	tries := b.all()[before:]
	for i, tr := range tries {
		want := []string{"error", "success"}[i]
		if !tr.Async || tr.Attempt != i+1 || tr.RequestID != id || tr.Record.RequestID != id || tr.Record.Outcome != want {
			t.Errorf("try %d reported as async %v, attempt %d, request %s, outcome %s; want async, attempt %d, request %s, %s",
				i+1, tr.Async, tr.Attempt, tr.RequestID, tr.Record.Outcome, i+1, id, want)
		}
	}
	if !bytes.Contains(tries[0].Log, []byte("first try fails")) || !bytes.Contains(tries[0].Payload, []byte("ValueError")) {
		t.Errorf("the failed try's log %q and payload %s", tries[0].Log, tries[0].Payload)
	}

	stopB()
	stopElsewhere()
	if _, ok := watches.Load(watchKey{l.svc, l.acct}); ok {
		t.Error("the account's watch list outlived its last watcher")
	}
}

func BenchmarkReportInvocationUnwatched(b *testing.B) {
	s := &Service{}
	fn := sandbox.Function{AccountID: "123456789012", Name: "fn"}
	res := &sandbox.Result{Log: []byte("log")}
	for b.Loop() {
		s.reportInvocation(fn, "", false, 1, "id", res, nil)
	}
}
