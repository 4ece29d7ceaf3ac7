package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// TestConcurrencySteps: the sweep counts an environment busy from its
// init to its invocation's end, an end and a start at one instant do not
// overlap, and spans that began before the window set its first level.
func TestConcurrencySteps(t *testing.T) {
	t0 := time.Date(2026, 5, 14, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	run := func(id string, start, end int) store.Invocation {
		return store.Invocation{InstanceID: id, Start: at(start), End: at(end), Outcome: "success"}
	}
	cold := func(id string, start, end int, initMS float64) store.Invocation {
		r := run(id, start, end)
		r.Cold, r.InitMS = true, initMS
		return r
	}
	tests := []struct {
		name     string
		recs     []store.Invocation
		from, to int
		peak     int
		first    int // the level at from
	}{
		{"none", nil, 0, 1000, 0, 0},
		{"one", []store.Invocation{run("a", 100, 200)}, 0, 1000, 1, 0},
		{"back to back on one instance", []store.Invocation{run("a", 100, 200), run("a", 200, 300)}, 0, 1000, 1, 0},
		{"overlapping", []store.Invocation{run("a", 100, 300), run("b", 200, 400), run("c", 250, 260)}, 0, 1000, 3, 0},
		{"init counts", []store.Invocation{run("a", 100, 200), cold("b", 250, 300, 100)}, 0, 1000, 2, 0},
		{"throttles do not run", []store.Invocation{run("a", 100, 200), {Start: at(150), End: at(150), Outcome: "throttled"}}, 0, 1000, 1, 0},
		{"running at the window's start", []store.Invocation{run("a", 0, 500), run("b", 600, 700)}, 100, 1000, 1, 1},
		{"ended before the window", []store.Invocation{run("a", 0, 50), run("b", 0, 60)}, 100, 1000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, peak := concurrencySteps(tt.recs, at(tt.from), at(tt.to))
			if peak != tt.peak {
				t.Errorf("peak = %d, want %d (steps %v)", peak, tt.peak, steps)
			}
			if len(steps) < 2 || !steps[0].T.Equal(at(tt.from)) || !steps[len(steps)-1].T.Equal(at(tt.to)) {
				t.Fatalf("steps %v do not run from the window's start to its end", steps)
			}
			if steps[0].N != tt.first {
				t.Errorf("level at the window's start = %d, want %d", steps[0].N, tt.first)
			}
			if last := steps[len(steps)-1].N; last != 0 {
				t.Errorf("level at the end = %d, want 0: everything has ended", last)
			}
		})
	}
}

// TestBuildMonitor: the numbers, the timeline's rows and states, and the
// percentiles from a made-up history.
func TestBuildMonitor(t *testing.T) {
	now := time.Date(2026, 5, 14, 10, 15, 0, 0, time.UTC)
	from := now.Add(-15 * time.Minute)
	at := func(s float64) time.Time { return from.Add(time.Duration(s * float64(time.Second))) }
	recs := []store.Invocation{
		// Before the window: its instance stays live and shows as idle.
		{InstanceID: "old-live", Start: at(-100), End: at(-99), Outcome: "success", DurationMS: 1000},
		{InstanceID: "i-1", Cold: true, InitMS: 300, Start: at(10), End: at(11), Outcome: "success", DurationMS: 1000},
		{InstanceID: "i-2", Cold: true, InitMS: 200, Start: at(10.5), End: at(12), Outcome: "error", ErrorType: "Runtime.ExitError", DurationMS: 1500},
		{Start: at(10.6), End: at(10.6), Outcome: "throttled"},
		{InstanceID: "i-1", Start: at(20), End: at(20.1), Outcome: "success", DurationMS: 100},
		{InstanceID: "i-3", Cold: true, InitMS: 100, Start: at(30), End: at(33), Outcome: "timeout", ErrorType: "Sandbox.Timedout", DurationMS: 3000},
		{Start: at(40), End: at(40), Outcome: "recursion-stopped"},
	}
	live := []sandbox.InstanceInfo{
		{ID: "i-1", Function: "f", State: "idle", LastUsed: at(20.1)},
		{ID: "old-live", Function: "f", State: "idle", LastUsed: at(-99)},
		{ID: "prov", Function: "f", State: "provisioned", Since: at(-500)},
	}
	m := buildMonitor(monitorInput{Function: "f", Records: recs, Live: live, From: from, To: now,
		Bucket: 30 * time.Second, Reserved: 2, AccountLimit: 10})
	stat := map[string]string{}
	for _, s := range m.Stats {
		stat[s.TestID] = s.Value
	}
	want := map[string]string{
		"monitor-invocations": "4", "monitor-errors": "2", "monitor-throttles": "1", "monitor-cold": "3",
		"monitor-p50": "1000.0 ms", "monitor-p99": "3000.0 ms", "monitor-peak": "2", "monitor-stopped": "1",
	}
	for k, v := range want {
		if stat[k] != v {
			t.Errorf("%s = %q, want %q", k, stat[k], v)
		}
	}
	if m.Peak != 2 {
		t.Errorf("peak = %d, want 2 (i-2's init overlaps i-1's run)", m.Peak)
	}
	var timeline []string
	for _, c := range m.Charts {
		if c.TestID == "monitor-timeline" {
			for _, r := range c.Table.Rows {
				timeline = append(timeline, r[0]+" "+r[4])
			}
			if !strings.Contains(c.Table.Note, "1 throttled") {
				t.Errorf("timeline note %q does not count the throttle", c.Table.Note)
			}
		}
	}
	wantRows := []string{
		"i-1 idle since 10:00:20.100",
		"i-2 reclaimed after 10:00:12.000",
		"i-3 reclaimed after 10:00:33.000",
		"old-live idle since 09:58:21.000",
		"prov provisioned, idle",
	}
	if strings.Join(timeline, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("timeline rows:\n%s\nwant:\n%s", strings.Join(timeline, "\n"), strings.Join(wantRows, "\n"))
	}

	// With one invocation in flight somewhere in the account, the most
	// recently used unlisted instance may be the busy one.
	m = buildMonitor(monitorInput{Function: "f", Records: recs, Live: live, Busy: 1, From: from, To: now,
		Bucket: 30 * time.Second, Reserved: -1, AccountLimit: 10})
	for _, c := range m.Charts {
		if c.TestID == "monitor-timeline" {
			for _, r := range c.Table.Rows {
				if r[0] == "i-3" && !strings.HasPrefix(r[4], "busy") {
					t.Errorf("i-3 with one invocation in flight: %q, want busy", r[4])
				}
				if r[0] == "i-2" && !strings.HasPrefix(r[4], "reclaimed") {
					t.Errorf("i-2 with one invocation in flight: %q, want reclaimed", r[4])
				}
			}
		}
	}
}

// deployPython creates (or replaces the code of) a Python function in the
// account from one app.py.
func deployPython(t *testing.T, ls *labSite, account, name, code string, env map[string]string, tracing string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/app.py", []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	in := lambda.CreateFunctionInput{FunctionName: name, Code: lambda.FunctionCode{Dir: dir}}
	in.Runtime, in.Handler = monitorPtr("python3.13"), monitorPtr("app.handler")
	in.Role = monitorPtr("arn:aws:iam::" + account + ":role/" + name)
	in.Timeout, in.MemorySize = monitorPtr(30), monitorPtr(128)
	if env != nil {
		in.Environment = &lambda.Environment{Variables: env}
	}
	if tracing != "" {
		in.TracingConfig = &lambda.TracingConfig{Mode: tracing}
	}
	_, err := ls.lambda.CreateFunction(ctx, account, in)
	if le, ok := lambda.AsError(err); ok && le.Type == "ResourceConflictException" {
		// The lab's set-up made it from the starter: give it this code.
		if _, err = ls.lambda.UpdateFunctionCode(ctx, account, name, lambda.UpdateCodeInput{Dir: dir}); err == nil {
			_, err = ls.lambda.UpdateFunctionConfiguration(ctx, account, name, in.ConfigInput)
		}
	}
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

func monitorPtr[T any](v T) *T { return &v }

// testID reads the text of the element with data-testid id.
func testID(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%.3000s", id, body)
	}
	return strings.TrimSpace(m[1])
}

// TestMonitorBurst: a burst of invokes at a function with reserved
// concurrency 2 shows on the monitor as the records say — one timeline row
// per environment, the throttles counted and marked, and the peak of
// concurrent executions (never above 2).
func TestMonitorBurst(t *testing.T) {
	ls := newLabSite(t, nil)
	c, u := ls.student("mon@example.com")
	ctx := context.Background()
	deployPython(t, ls, u.AccountID, "checkout", "import time\n\ndef handler(event, context):\n    time.sleep(1)\n    return {'ok': True}\n", nil, "")
	if _, err := ls.lambda.PutFunctionConcurrency(ctx, u.AccountID, "checkout", 2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	throttled := 0
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ls.lambda.Invoke(ctx, u.AccountID, lambda.InvokeInput{FunctionName: "checkout", Payload: []byte(`{}`)})
			if le, ok := lambda.AsError(err); ok && le.Type == "TooManyRequestsException" {
				mu.Lock()
				throttled++
				mu.Unlock()
				return
			}
			if err != nil {
				t.Errorf("invoke: %v", err)
			}
		}()
	}
	wg.Wait()
	if err := ls.engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := ls.db.Invocations(ctx, u.AccountID, "checkout", start.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	instances := map[string]bool{}
	recThrottles := 0
	for _, r := range recs {
		if r.InstanceID != "" {
			instances[r.InstanceID] = true
		}
		if r.Outcome == "throttled" {
			recThrottles++
		}
	}
	if recThrottles != throttled || throttled == 0 {
		t.Fatalf("%d invokes were throttled and %d records say so; want the same, and some with 6 at once against 2", throttled, recThrottles)
	}
	// The peak the records say, counted another way: at each moment an
	// environment became busy, how many were busy.
	peak := 0
	for _, a := range recs {
		if a.InstanceID == "" {
			continue
		}
		n := 0
		for _, b := range recs {
			if b.InstanceID != "" && !busyFrom(b).After(busyFrom(a)) && b.End.After(busyFrom(a)) {
				n++
			}
		}
		peak = max(peak, n)
	}
	if peak > 2 || peak < 1 {
		t.Fatalf("records say %d ran at once, reserved concurrency is 2", peak)
	}

	r := c.get("/labs/concurrency?tab=monitor&fn=checkout&window=5m")
	wantStatus(t, "monitor", r, http.StatusOK)
	if got := strings.Count(r.body, `data-testid="monitor-instance"`); got != len(instances) {
		t.Errorf("timeline has %d instance rows, records name %d instances", got, len(instances))
	}
	if got := testID(t, r.body, "monitor-throttles"); got != strconv.Itoa(throttled) {
		t.Errorf("throttles shown %s, want %d", got, throttled)
	}
	if got := testID(t, r.body, "monitor-peak"); got != strconv.Itoa(peak) {
		t.Errorf("peak shown %s, records say %d", got, peak)
	}
	if got := testID(t, r.body, "monitor-invocations"); got != strconv.Itoa(len(recs)-throttled) {
		t.Errorf("invocations shown %s, want %d", got, len(recs)-throttled)
	}
	wantContains(t, "monitor", r.body, fmt.Sprintf("%d throttled request(s)", throttled),
		`data-testid="monitor-timeline"`, `data-testid="monitor-concurrency"`, "reserved concurrency 2",
		`hx-trigger="every 5s"`, "<svg")
	// Paused, it stops asking for itself.
	r = c.get("/labs/concurrency?tab=monitor&fn=checkout&window=5m&live=0")
	wantNotContains(t, "paused monitor", r.body, `hx-trigger="every 5s"`)

	// Another learner's monitor of the same function name shows none of it.
	other, _ := ls.student("mon-other@example.com")
	r = other.get("/labs/concurrency?tab=monitor&fn=checkout&window=5m")
	wantNotContains(t, "another learner's monitor", r.body, `data-testid="monitor-instance"`)
	for id := range instances {
		wantNotContains(t, "another learner's monitor", r.body, shortID(id))
	}
}
