package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/cloud"
	"lambdalab/cloud/lambda"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// conHandler is the function the console tests invoke: it prints, and
// sleeps, fails or burns CPU when the event says so.
const conHandler = `import json, time

def handler(event, context):
    print("hello from the handler")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("boom: " + str(event["fail"]))
    return {"ok": True, "got": event}
`

// conFunction creates the s3-transform lab's function in the learner's
// account from conHandler, with a one-second timeout.
func conFunction(t testing.TB, ls *labSite, u store.User) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(conHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, h, role, mem, timeout := "python3.13", "app.handler", "arn:aws:iam::"+u.AccountID+":role/mask-logs", 128, 1
	in := lambda.CreateFunctionInput{FunctionName: "mask-logs", Code: lambda.FunctionCode{Dir: dir}}
	in.Runtime, in.Handler, in.Role, in.MemorySize, in.Timeout = &rt, &h, &role, &mem, &timeout
	if _, err := ls.lambda.CreateFunction(context.Background(), u.AccountID, in); err != nil {
		t.Fatalf("create mask-logs: %v", err)
	}
}

type conEvent struct{ name, data string }

// conStream is an open console: its events arrive on events until the
// stream ends.
type conStream struct {
	events chan conEvent
	seen   []conEvent
}

// openConsole opens the console's stream and returns once the server has
// subscribed it (the response headers are only sent after that).
func openConsole(t testing.TB, c *client, lab string) *conStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/labs/"+lab+"/console", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("open console: %v", err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("open console: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &conStream{events: make(chan conEvent, 4096)}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		var ev conEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = conEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

// next reads events until want returns true for one, failing after timeout
// with what was read.
func (s *conStream) next(t testing.TB, timeout time.Duration, what string, want func(conEvent) bool) conEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("%s: the stream ended; read %d events: %.3000v", what, len(s.seen), s.seen)
			}
			s.seen = append(s.seen, ev)
			if want(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("%s: nothing after %s; read %d events: %.3000v", what, timeout, len(s.seen), s.seen)
		}
	}
}

// invokeData is an invoke event's JSON.
type invokeData struct {
	RequestID, Token, Function, Version, Try, Kind, Report, Cost, Outcome, HTML string
	Async                                                                       bool
	Attempt                                                                     int
	CostUSD                                                                     float64
}

func decodeInvoke(t testing.TB, ev conEvent) invokeData {
	t.Helper()
	var d invokeData
	if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
		t.Fatalf("invoke event %q: %v", ev.data, err)
	}
	return d
}

func isInvoke(id string) func(conEvent) bool {
	return func(ev conEvent) bool {
		return ev.name == "invoke" && strings.Contains(ev.data, `"requestId":"`+id+`"`)
	}
}

// invokeAnswer is console.js's JSON answer.
type invokeAnswer struct {
	Token, RequestID, Kind, HTML string
	StatusCode                   int
}

func conInvoke(t testing.TB, c *client, form url.Values) invokeAnswer {
	t.Helper()
	if form.Get("fn") == "" {
		form.Set("fn", "mask-logs")
	}
	r := c.post("/labs/s3-transform/invoke", form, "X-Console", "1")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("invoke with X-Console: %d %s\n%.2000s", r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
	var a invokeAnswer
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("invoke answer %q: %v", r.body, err)
	}
	return a
}

// TestConsole drives the Test panel and the console of the S3 lab on the
// real stack: invokes streamed and recorded, the no-JavaScript result, the
// outcomes that must look different, async tries, saved events, one
// learner's console kept from another's, and power tuning.
func TestConsole(t *testing.T) {
	ls := newLabSite(t, nil)
	ctx := context.Background()

	t.Run("invoke streams to the console", func(t *testing.T) {
		c, u := ls.student("stream@example.com")
		conFunction(t, ls, u)
		st := openConsole(t, c, "s3-transform")
		a := conInvoke(t, c, url.Values{"event": {`{"n": 1}`}, "token": {"t-test-1"}})
		if a.Kind != ui.KindOK || a.RequestID == "" || a.Token != "t-test-1" || !strings.Contains(a.HTML, `id="test-result"`) {
			t.Fatalf("answer = %+v, want ok with the request id, the token and the result box", a)
		}
		ev := st.next(t, 30*time.Second, "the invoke event", isInvoke(a.RequestID))
		d := decodeInvoke(t, ev)
		if !strings.HasPrefix(d.Report, "REPORT RequestId: "+a.RequestID) || !strings.Contains(d.Report, "Billed Duration: ") {
			t.Errorf("report = %q, want the REPORT line of %s", d.Report, a.RequestID)
		}
		if !regexp.MustCompile(`^\$0\.0+[1-9][0-9]?$`).MatchString(d.Cost) || d.CostUSD <= 0 {
			t.Errorf("cost = %q (%v), want a small dollar amount", d.Cost, d.CostUSD)
		}
		if d.Kind != ui.KindOK || d.Version != "$LATEST" || d.Token != "t-test-1" || d.Function != "mask-logs" {
			t.Errorf("event = %+v, want ok, $LATEST, the page's token, mask-logs", d)
		}
		wantContains(t, "invoke event html", d.HTML, `data-testid="console-report"`, `data-testid="console-cost"`, "hello from the handler", "START RequestId: "+a.RequestID)
		// The lines streamed while it ran, tagged with the page's token
		// and the request id, came before the finished block.
		var streamed strings.Builder
		for _, e := range st.seen {
			if e.name == "output" && strings.Contains(e.data, `"token":"t-test-1"`) {
				var o consoleOutput
				json.Unmarshal([]byte(e.data), &o)
				streamed.WriteString(o.Text)
			}
		}
		wantContains(t, "streamed output", streamed.String(), "START RequestId: "+a.RequestID, "hello from the handler", "REPORT RequestId: "+a.RequestID)

		// The page made now shows it from the store, REPORT line and cost.
		if err := ls.engine.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		page := c.get("/labs/s3-transform?tab=test")
		wantStatus(t, "lab page", page, 200)
		wantContains(t, "console history", page.body, `id="console"`, `data-request-id="`+a.RequestID+`"`, "REPORT RequestId: "+a.RequestID, `data-testid="console-cost"`)
	})

	t.Run("without JavaScript the page shows the result", func(t *testing.T) {
		c, u := ls.student("nojs@example.com")
		conFunction(t, ls, u)
		st := openConsole(t, c, "s3-transform") // another tab, following
		r := c.post("/labs/s3-transform/invoke", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "event": {`{"who": "nojs"}`}, "type": {"RequestResponse"}, "qualifier": {"$LATEST"}})
		wantStatus(t, "no-JS invoke", r, 200)
		wantContains(t, "no-JS invoke", r.body, `data-testid="test-result"`, `data-kind="ok"`, "Succeeded",
			`data-testid="test-status">200`, `data-testid="test-version">$LATEST`, "REPORT RequestId: ", `data-testid="test-cost">$0.`,
			"&#34;ok&#34;: true", "&#34;who&#34;: &#34;nojs&#34;", "hello from the handler")
		// The event box keeps what was sent.
		wantContains(t, "no-JS invoke", r.body, "{&#34;who&#34;: &#34;nojs&#34;}</textarea>")
		// Another tab's console saw its lines, filed under its request id
		// (the form had no token), and then the finished block.
		m := regexp.MustCompile(`data-testid="test-request-id">([0-9a-f-]+)<`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatal("no request id on the result")
		}
		st.next(t, 30*time.Second, "the invoke event", isInvoke(m[1]))
		outputs := 0
		for _, e := range st.seen {
			if e.name == "output" {
				outputs++
				if !strings.Contains(e.data, `"requestId":"`+m[1]+`"`) {
					t.Errorf("output without the request id: %.300s", e.data)
				}
			}
		}
		if outputs == 0 {
			t.Error("no output events streamed")
		}

		r = c.post("/labs/s3-transform/invoke", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "event": {`{"fail": "here"}`}})
		wantStatus(t, "failing invoke", r, 200)
		wantContains(t, "failing invoke", r.body, `data-kind="error"`, "Failed: ValueError", `data-testid="fn-error-type">ValueError`,
			"boom: here", `data-testid="test-function-error">Unhandled`, "fn-error-stack", "app.py")

		r = c.post("/labs/s3-transform/invoke", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "event": {"{\n  \"a\": 1,\n}"}})
		wantStatus(t, "bad JSON", r, http.StatusUnprocessableEntity)
		wantContains(t, "bad JSON", r.body, "The event is not valid JSON", "line 3, column 1", "Not invoked")
	})

	t.Run("timeouts and throttles say so", func(t *testing.T) {
		c, u := ls.student("limits@example.com")
		conFunction(t, ls, u)
		st := openConsole(t, c, "s3-transform")
		a := conInvoke(t, c, url.Values{"event": {`{"sleep": 3}`}})
		if a.Kind != ui.KindTimeout {
			t.Errorf("sleeping past the timeout: answer kind %q, want timeout", a.Kind)
		}
		d := decodeInvoke(t, st.next(t, 30*time.Second, "the timeout", isInvoke(a.RequestID)))
		if d.Kind != ui.KindTimeout || !strings.Contains(d.HTML, "Task timed out after 1.00 seconds") || !strings.Contains(d.HTML, "Sandbox.Timedout") {
			t.Errorf("timeout event: kind %q, html %.600s", d.Kind, d.HTML)
		}

		if _, err := ls.lambda.PutFunctionConcurrency(ctx, u.AccountID, "mask-logs", 0); err != nil {
			t.Fatal(err)
		}
		a = conInvoke(t, c, url.Values{"event": {`{}`}})
		if a.Kind != ui.KindThrottled || !strings.Contains(a.HTML, "TooManyRequestsException") {
			t.Errorf("reserved 0: answer %+v, want throttled with Lambda's exception", a)
		}
		ev := st.next(t, 30*time.Second, "the throttle", func(e conEvent) bool {
			return e.name == "invoke" && strings.Contains(e.data, `"kind":"throttled"`)
		})
		d = decodeInvoke(t, ev)
		if d.Cost != "" || !strings.Contains(d.HTML, "TooManyRequestsException") || !strings.Contains(d.HTML, "Throttled") {
			t.Errorf("throttle event %+v: want no cost and Lambda's words", d)
		}
	})

	t.Run("async tries arrive with their numbers", func(t *testing.T) {
		c, u := ls.student("async@example.com")
		conFunction(t, ls, u)
		st := openConsole(t, c, "s3-transform")
		a := conInvoke(t, c, url.Values{"event": {`{"fail": "async"}`}, "type": {"Event"}})
		if a.Kind != ui.KindAccepted || a.StatusCode != 202 || a.RequestID == "" {
			t.Fatalf("async invoke answer %+v, want accepted 202 with the event's id", a)
		}
		for n := 1; n <= 3; n++ {
			d := decodeInvoke(t, st.next(t, 60*time.Second, fmt.Sprintf("try %d", n), isInvoke(a.RequestID)))
			if !d.Async || d.Attempt != n || d.Try != fmt.Sprintf("try %d of 3", n) || d.Kind != ui.KindError {
				t.Errorf("try %d: %+v", n, d)
			}
			wantContains(t, fmt.Sprintf("try %d block", n), d.HTML, fmt.Sprintf(`data-testid="console-try">async, try %d of 3`, n), "boom: async", `data-testid="fn-error-type">ValueError`)
			if n < 3 && !strings.Contains(d.Outcome, "retries it") {
				t.Errorf("try %d outcome %q, want a retry announced", n, d.Outcome)
			}
			if n == 3 && !strings.Contains(d.Outcome, "Final outcome: failed after 3 tries (RetriesExhausted)") {
				t.Errorf("last try outcome %q, want the final outcome", d.Outcome)
			}
		}
	})

	t.Run("saved events", func(t *testing.T) {
		c, u := ls.student("saver@example.com")
		other, _ := ls.student("other@example.com")

		r := c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"broken"}, "event": {`{"a": [1, 2}`}})
		wantStatus(t, "save bad JSON", r, http.StatusUnprocessableEntity)
		wantContains(t, "save bad JSON", r.body, "The event is not valid JSON", "line 1, column 12", "{&#34;a&#34;: [1, 2}</textarea>")
		r = c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"has space"}, "event": {`{}`}})
		wantStatus(t, "save bad name", r, http.StatusUnprocessableEntity)
		wantContains(t, "save bad name", r.body, "letters, digits, dots, hyphens and underscores")
		r = c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"big"}, "event": {`"` + strings.Repeat("x", store.MaxTestEventBody) + `"`}})
		wantStatus(t, "save too large", r, http.StatusUnprocessableEntity)
		wantContains(t, "save too large", r.body, "a saved event may be at most 256.0 KB")

		body := `{"Records": [{"s3": {"object": {"key": "samples/hello.log"}}}]}`
		r = c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"hello.log"}, "event": {body}})
		wantStatus(t, "save", r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		m := regexp.MustCompile(`^/labs/s3-transform/events/(\d+)\?`).FindStringSubmatch(loc)
		if m == nil {
			t.Fatalf("saved: sent to %q, want the event's page", loc)
		}
		r = c.get(loc)
		wantStatus(t, "load", r, 200)
		wantContains(t, "load", r.body, "Saved the event hello.log.", `data-name="hello.log"`, `value="`+m[1]+`"`,
			"{&#34;Records&#34;: [{&#34;s3&#34;: {&#34;object&#34;: {&#34;key&#34;: &#34;samples/hello.log&#34;}}}]}</textarea>")

		r = c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"hello.log"}, "event": {`{}`}})
		wantStatus(t, "save the same name again", r, http.StatusConflict)
		wantContains(t, "save the same name again", r.body, "You already have an event named hello.log")

		// Saving the loaded event changes it.
		r = c.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "name": {"hello2.log"}, "event_id": {m[1]}, "event": {`{"changed": true}`}})
		wantStatus(t, "update", r, http.StatusSeeOther)
		evs, err := ls.db.TestEvents(ctx, u.ID, "s3-transform", "mask-logs")
		if err != nil || len(evs) != 1 || evs[0].Name != "hello2.log" || evs[0].Body != `{"changed": true}` {
			t.Fatalf("after the update: %+v, %v", evs, err)
		}

		// Another learner gets nothing of it.
		wantStatus(t, "other loads it", other.get("/labs/s3-transform/events/"+m[1]+"?fn=mask-logs"), http.StatusNotFound)
		wantStatus(t, "other deletes it", other.post("/labs/s3-transform/events/"+m[1]+"/delete", url.Values{"fn": {"mask-logs"}}), http.StatusNotFound)
		wantStatus(t, "other updates it", other.post("/labs/s3-transform/events", url.Values{"fn": {"mask-logs"}, "name": {"mine"}, "event_id": {m[1]}, "event": {`{}`}}), http.StatusNotFound)
		wantStatus(t, "under another lab", c.get("/labs/concurrency/events/"+m[1]), http.StatusNotFound)
		if r := other.get("/labs/s3-transform?tab=test"); strings.Contains(r.body, "hello2.log") {
			t.Error("another learner's Test panel lists the first's saved event")
		}

		r = c.post("/labs/s3-transform/events/"+m[1]+"/delete", url.Values{"fn": {"mask-logs"}, "tab": {"test"}})
		wantStatus(t, "delete", r, http.StatusSeeOther)
		wantStatus(t, "load deleted", c.get(loc), http.StatusNotFound)
	})

	t.Run("ready events", func(t *testing.T) {
		c, u := ls.student("templates@example.com")
		lc := &labCtx{Lab: ls.lab("s3-transform"), User: &u, Account: u.AccountID}
		lc.Fn = &lc.Lab.Functions[0]
		raw, ok := ls.srv.templateEvent(ctx, lc, "s3-put")
		if !ok {
			t.Fatal("no s3-put event")
		}
		var ev struct {
			Records []struct {
				EventSource, AWSRegion, EventName string
				S3                                struct {
					Bucket struct{ Name, ARN string }
					Object struct {
						Key  string
						Size int
						ETag string
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(raw), &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("s3-put = %s: %v", raw, err)
		}
		lab := ls.lab("s3-transform")
		b := lab.Resources.Buckets[0]
		seed, err := fs.ReadFile(lab.FS, b.Objects[0].File)
		if err != nil {
			t.Fatal(err)
		}
		rec := ev.Records[0]
		if rec.EventSource != "aws:s3" || rec.AWSRegion != cloud.Region || rec.EventName != "ObjectCreated:Put" ||
			rec.S3.Bucket.Name != b.Name || rec.S3.Bucket.ARN != "arn:aws:s3:::"+b.Name ||
			rec.S3.Object.Key != b.Objects[0].Key || rec.S3.Object.Size != len(seed) || len(rec.S3.Object.ETag) != 32 {
			t.Errorf("s3-put record %+v, want an upload of %s/%s (%d bytes)", rec, b.Name, b.Objects[0].Key, len(seed))
		}
		for id, want := range map[string]string{"apigateway-proxy": `"httpMethod": "POST"`, "sqs": `"eventSource": "aws:sqs"`, "schedule": `"detail-type": "Scheduled Event"`, "empty": `{}`} {
			raw, ok := ls.srv.templateEvent(ctx, lc, id)
			if !ok || !json.Valid([]byte(raw)) || !strings.Contains(raw, want) {
				t.Errorf("%s = %s, want JSON with %s", id, raw, want)
			}
			if id != "empty" && !strings.Contains(raw, u.AccountID) {
				t.Errorf("%s does not name the learner's account %s", id, u.AccountID)
			}
		}
		r := c.get("/labs/s3-transform?tab=test&template=sqs")
		wantStatus(t, "template page", r, 200)
		wantContains(t, "template page", r.body, "aws:sqs", `<option value="sqs" selected>`)
	})

	t.Run("one learner's console never shows another's", func(t *testing.T) {
		a, ua := ls.student("iso-a@example.com")
		b, ub := ls.student("iso-b@example.com")
		conFunction(t, ls, ua)
		conFunction(t, ls, ub)
		sa := openConsole(t, a, "s3-transform")
		sb := openConsole(t, b, "s3-transform")
		got := conInvoke(t, a, url.Values{"event": {`{"secret": "a-only"}`}, "token": {"t-iso-a"}})
		sa.next(t, 30*time.Second, "a's own invoke", isInvoke(got.RequestID))
		// A misrouted event would be queued to b before b's own invoke.
		mine := conInvoke(t, b, url.Values{"event": {`{}`}})
		sb.next(t, 30*time.Second, "b's own invoke", isInvoke(mine.RequestID))
		for _, e := range sb.seen {
			if strings.Contains(e.data, got.RequestID) || strings.Contains(e.data, "t-iso-a") || strings.Contains(e.data, "a-only") {
				t.Errorf("b's console got a's %s event: %.300s", e.name, e.data)
			}
		}
		if err := ls.engine.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if r := b.get("/labs/s3-transform?tab=test"); strings.Contains(r.body, got.RequestID) {
			t.Error("b's console history shows a's invocation")
		}
	})

	t.Run("power tuning", func(t *testing.T) {
		c, u := ls.student("tuner@example.com")
		conFunction(t, ls, u)
		form := url.Values{"fn": {"mask-logs"}, "tab": {"test"}, "event": {`{"n": 2}`}, "name": {"tiny"}}
		// One run at a time per learner, and a bounded number on the
		// machine.
		cs := ls.srv.console()
		cs.tuning.Store(u.ID, true)
		r := c.post("/labs/s3-transform/tune", form)
		wantStatus(t, "second run of one learner", r, http.StatusConflict)
		wantContains(t, "second run of one learner", r.body, "You are already trying memory sizes")
		cs.tuning.Delete(u.ID)
		for range cap(cs.tuneSlots) {
			cs.tuneSlots <- struct{}{}
		}
		r = c.post("/labs/s3-transform/tune", form)
		wantStatus(t, "machine full of runs", r, http.StatusServiceUnavailable)
		wantContains(t, "machine full of runs", r.body, "The lambdalab machine is busy")
		for range cap(cs.tuneSlots) {
			<-cs.tuneSlots
		}
		if _, err := ls.db.LatestPowerTuning(ctx, u.ID, "s3-transform", "mask-logs"); err == nil {
			t.Fatal("a refused run was stored")
		}

		r = c.post("/labs/s3-transform/tune", form)
		wantStatus(t, "tune", r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !strings.Contains(loc, "tab=test") || !strings.Contains(loc, "Tried+6+memory+sizes") {
			t.Errorf("tuning sent to %q, want the Test panel saying six sizes were tried", loc)
		}
		p, err := ls.db.LatestPowerTuning(ctx, u.ID, "s3-transform", "mask-logs")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sizes) != len(tuningSizes) {
			t.Fatalf("%d sizes, want %d", len(p.Sizes), len(tuningSizes))
		}
		for i, z := range p.Sizes {
			if z.MemoryMB != tuningSizes[i] || z.Failed != "" || z.Runs != 1+tuneWarmRuns || z.ColdMS <= 0 || z.WarmMS <= 0 || z.CostUSD <= 0 || z.InitMS <= 0 {
				t.Errorf("size %d: %+v, want %d MB measured cold (with init) and warm", i, z, tuningSizes[i])
			}
		}
		page := c.get("/labs/s3-transform?tab=test")
		wantContains(t, "tuning panel", page.body, `data-testid="test-tuning"`, `data-testid="tuning-cheapest"`, `data-testid="tuning-fastest"`, "<svg", "1,769 MB", "3,008 MB")
		if n := strings.Count(page.body, `data-testid="test-tuning-row"`); n != 6 {
			t.Errorf("%d rows in the tuning table, want 6", n)
		}
		// The learner's function is as it was and the copy is gone.
		cfg, err := ls.lambda.GetFunctionConfiguration(ctx, u.AccountID, "mask-logs", "")
		if err != nil || cfg.MemorySize != 128 {
			t.Errorf("mask-logs after tuning: %d MB, %v; want 128", cfg.MemorySize, err)
		}
		fns, err := ls.lambda.ListFunctions(ctx, u.AccountID, "", 50)
		if err != nil || len(fns.Functions) != 1 {
			t.Errorf("functions after tuning: %+v, %v; want mask-logs only", fns.Functions, err)
		}
		vs, err := ls.lambda.ListVersionsByFunction(ctx, u.AccountID, "mask-logs", "", 50)
		if err != nil || len(vs.Versions) != 1 {
			t.Errorf("versions after tuning: %d, %v; want $LATEST only", len(vs.Versions), err)
		}
	})
}

// TestFormatUSD: two significant digits, no exponent.
func TestFormatUSD(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "$0.00"}, {2.1e-6, "$0.0000021"}, {2.0833e-7, "$0.00000021"}, {0.0123, "$0.012"}, {1.5, "$1.50"}, {12, "$12.00"}, {1234.5, "$1,234.50"},
	} {
		if got := formatUSD(tt.v); got != tt.want {
			t.Errorf("formatUSD(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestOutcomeOf: the endings that look alike in a log are told apart.
func TestOutcomeOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rec     store.Invocation
		payload string
		kind    string
		words   string
	}{
		{"success", store.Invocation{Outcome: "success"}, `{"ok": 1}`, ui.KindOK, "Succeeded"},
		{"exception", store.Invocation{Outcome: "error", ErrorType: "KeyError"}, `{"errorType":"KeyError","errorMessage":"'Records'","stackTrace":["  File x\n"]}`, ui.KindError, "Failed: KeyError"},
		{"timeout", store.Invocation{Outcome: "timeout", ErrorType: "Sandbox.Timedout"}, `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: r Error: Task timed out after 3.00 seconds"}`, ui.KindTimeout, "Task timed out after 3.00 seconds"},
		{"out of memory", store.Invocation{Outcome: "exit", ErrorType: "Runtime.OutOfMemory", MemoryMB: 128}, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: r Error: Runtime exited with error: signal: killed"}`, ui.KindOOM, "128 MB"},
		{"exit", store.Invocation{Outcome: "exit", ErrorType: "Runtime.ExitError"}, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: r Error: Runtime exited with error: exit status 1"}`, ui.KindError, "Failed: Runtime.ExitError"},
		{"throttle", store.Invocation{Outcome: "throttled", ErrorType: "TooManyRequestsException"}, `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`, ui.KindThrottled, "ReservedFunctionConcurrentInvocationLimitExceeded"},
		{"loop", store.Invocation{Outcome: "recursion-stopped", ErrorType: "RecursiveInvocationException"}, ``, ui.KindRecursion, "recursive loop detection"},
	} {
		o := outcomeOf(tt.rec, []byte(tt.payload))
		if o.kind != tt.kind || !strings.Contains(o.headline+" "+o.detail, tt.words) {
			t.Errorf("%s: kind %q, %q / %q; want %q with %q", tt.name, o.kind, o.headline, o.detail, tt.kind, tt.words)
		}
	}
	if fe := functionError([]byte(`{"errorType":"ValueError","errorMessage":"boom","stackTrace":["  File \"/var/task/app.py\", line 2\n"]}`)); fe == nil || fe.Type != "ValueError" || len(fe.Stack) != 1 || strings.HasSuffix(fe.Stack[0], "\n") {
		t.Errorf("functionError = %+v", fe)
	}
}

// TestEventJSON: where the JSON breaks is said by line and column.
func TestEventJSON(t *testing.T) {
	if b, problem := eventJSON("  ", 0); problem != "" || string(b) != "{}" {
		t.Errorf("an empty box to invoke = %q, %q; want {}", b, problem)
	}
	if _, problem := eventJSON("", store.MaxTestEventBody); !strings.Contains(problem, "empty") {
		t.Errorf("an empty event to save: %q", problem)
	}
	if _, problem := eventJSON("{\n  \"a\": tru\n}", 0); !strings.Contains(problem, "line 2, column") {
		t.Errorf("a broken literal: %q", problem)
	}
	if _, problem := eventJSON(`{"a": 1} {"b": 2}`, 0); !strings.Contains(problem, "not valid JSON") {
		t.Errorf("two documents: %q", problem)
	}
	if b, problem := eventJSON(`[1, 2]`, 0); problem != "" || string(b) != `[1, 2]` {
		t.Errorf("an array: %q, %q", b, problem)
	}
}

// TestCapLog keeps the end of a long log, where END and REPORT are.
func TestCapLog(t *testing.T) {
	log := []byte("START RequestId: r Version: $LATEST\n" + strings.Repeat("x", 200<<10) + "\nEND RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\t\n")
	got := capLog(log, consoleLogMax)
	if len(got) > consoleLogMax+200 || !strings.HasPrefix(string(got), "START RequestId: r") || !strings.HasSuffix(string(got), "Duration: 1.00 ms\t\n") || !strings.Contains(string(got), "bytes of output are not shown") {
		t.Errorf("capLog: %d bytes, starts %.40q, ends %q", len(got), got, got[len(got)-40:])
	}
	if r := reportFields("REPORT RequestId: r\tDuration: 1.20 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"); r != "Duration: 1.20 ms · Billed Duration: 2 ms · Memory Size: 128 MB" {
		t.Errorf("reportFields = %q", r)
	}
}

// BenchmarkConsoleFanOut50 is one learner with 50 consoles open: each
// iteration invokes the function (warm) through the Test panel and
// measures from sending the invoke until all 50 consoles have its event.
func BenchmarkConsoleFanOut50(b *testing.B) {
	const consoles = 50
	ls := newLabSite(b, nil)
	c, u := ls.student("fanout@example.com")
	conFunction(b, ls, u)
	type receipt struct {
		id string
		at time.Time
	}
	got := make(chan receipt, consoles*16)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	for range consoles {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/labs/s3-transform/console", nil)
		resp, err := c.http.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("open console: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 8<<20)
			invoke := false
			for sc.Scan() {
				line := sc.Text()
				switch {
				case line == "event: invoke":
					invoke = true
				case invoke && strings.HasPrefix(line, "data: "):
					var d struct{ RequestID string }
					json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d)
					got <- receipt{d.RequestID, time.Now()}
				case line == "":
					invoke = false
				}
			}
		}()
	}
	conInvoke(b, c, url.Values{"event": {`{}`}}) // the cold start, not measured
	var total, worst time.Duration
	n := 0
	seen := map[string]int{}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		a := conInvoke(b, c, url.Values{"event": {`{}`}})
		var last time.Time
		for seen[a.RequestID] < consoles {
			select {
			case r := <-got:
				seen[r.id]++
				if r.id == a.RequestID {
					last = r.at
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("only %d of %d consoles got %s", seen[a.RequestID], consoles, a.RequestID)
			}
		}
		d := last.Sub(start)
		total += d
		worst = max(worst, d)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n)/1000, "ms-to-all-50")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}
