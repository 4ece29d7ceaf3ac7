package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/store"
)

// fakeBackend stands in for Docker above the Backend seam: its instances
// answer through the invoke func of the test.
type fakeBackend struct {
	mu       sync.Mutex
	started  int
	closed   int
	bind     func(b Binding) InitResult
	invoke   func(ctx context.Context, inv Invocation) Outcome
	oom      bool
	startErr error
	// goneOnce, when set and true, makes the next Invoke on the first
	// instance report that it died while idle.
	goneOnce *atomic.Bool
}

type fakeInstance struct {
	id      string
	b       *fakeBackend
	binding Binding
}

func (f *fakeBackend) Start(ctx context.Context, spec InstanceSpec) (Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.started++
	return &fakeInstance{id: fmt.Sprintf("i-%d", f.started), b: f}, nil
}

func (f *fakeBackend) Sweep(ctx context.Context) error { return nil }

func (f *fakeBackend) counts() (started, closed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started, f.closed
}

func (i *fakeInstance) ID() string { return i.id }

func (i *fakeInstance) Bind(ctx context.Context, b Binding) (InitResult, error) {
	i.binding = b
	if i.b.bind != nil {
		return i.b.bind(b), nil
	}
	return InitResult{Duration: 120 * time.Millisecond, Status: StatusSuccess, Log: []byte("init says hi\n")}, nil
}

func (i *fakeInstance) Invoke(ctx context.Context, inv Invocation) (Outcome, error) {
	if g := i.b.goneOnce; g != nil && i.id == "i-1" && g.CompareAndSwap(true, false) {
		return Outcome{}, fmt.Errorf("invoke on %s: %w", i.id, ErrInstanceGone)
	}
	start := time.Now()
	out := i.b.invoke(ctx, inv)
	out.Start = start
	if out.Done.IsZero() {
		out.Done = time.Now()
	}
	return out, nil
}

func (i *fakeInstance) MaxMemoryUsed(ctx context.Context) (int64, error) { return 40<<20 + 1, nil }

func (i *fakeInstance) Close(ctx context.Context) (CloseInfo, error) {
	i.b.mu.Lock()
	defer i.b.mu.Unlock()
	i.b.closed++
	return CloseInfo{OOMKilled: i.b.oom}, nil
}

func echo(ctx context.Context, inv Invocation) Outcome {
	return Outcome{Status: StatusSuccess, Payload: inv.Payload, Log: []byte("handling\n")}
}

func testFunction() Function {
	return Function{AccountID: "123456789012", Name: "hello", Runtime: RuntimePython313, Handler: "app.handler", CodeDir: "/code"}
}

func newTestDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTestEngine(t *testing.T, b Backend, cfg Config) *Engine {
	t.Helper()
	cfg.Runtime = func(rt string) ([]string, []string, error) { return []string{"/var/runtime/bootstrap"}, nil, nil }
	e := New(newTestDB(t), b, cfg)
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func TestInvokeColdThenWarm(t *testing.T) {
	fb := &fakeBackend{invoke: echo}
	e := newTestEngine(t, fb, Config{})
	ctx := context.Background()
	first, err := e.Invoke(ctx, InvokeInput{Function: testFunction(), Payload: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Cold || string(first.Payload) != `{"n":1}` || first.FunctionError != "" {
		t.Fatalf("first invoke = cold %v payload %s error %q, want cold echo", first.Cold, first.Payload, first.FunctionError)
	}
	log := string(first.Log)
	for _, want := range []string{"init says hi\nSTART RequestId: " + first.RequestID + " Version: $LATEST\nhandling\nEND RequestId: " + first.RequestID + "\nREPORT RequestId: ", "\tInit Duration: 120.00 ms\t", "\tMemory Size: 128 MB\tMax Memory Used: 41 MB\t"} {
		if !strings.Contains(log, want) {
			t.Errorf("cold log missing %q:\n%s", want, log)
		}
	}
	second, err := e.Invoke(ctx, InvokeInput{Function: testFunction(), Payload: []byte(`{"n":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if second.Cold || second.InstanceID != first.InstanceID {
		t.Errorf("second invoke cold=%v on %s, want warm on %s", second.Cold, second.InstanceID, first.InstanceID)
	}
	if strings.Contains(string(second.Log), "Init Duration") {
		t.Errorf("warm REPORT has an Init Duration:\n%s", second.Log)
	}
	if started, _ := fb.counts(); started != 1 {
		t.Errorf("backend started %d instances, want 1", started)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := e.db.Invocations(ctx, "123456789012", "hello", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !recs[0].Cold || recs[1].Cold || recs[0].InitMS != 120 || recs[0].BilledMS < 121 {
		t.Errorf("records = %+v, want a cold one billed with its init, then a warm one", recs)
	}
}

func TestInvokeEnvironment(t *testing.T) {
	var got Binding
	fb := &fakeBackend{invoke: echo, bind: func(b Binding) InitResult { got = b; return InitResult{Status: StatusSuccess} }}
	e := newTestEngine(t, fb, Config{})
	fn := testFunction()
	fn.MemoryMB = 1769
	fn.Env = map[string]string{"TABLE": "orders", "AWS_REGION_X": "ok"}
	if _, err := e.Invoke(context.Background(), InvokeInput{Function: fn}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range got.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"_HANDLER": "app.handler", "AWS_LAMBDA_FUNCTION_NAME": "hello", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "LAMBDA_TASK_ROOT": "/var/task",
		"AWS_REGION": "us-east-1", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/hello", "TABLE": "orders",
		"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["AWS_LAMBDA_LOG_STREAM_NAME"], time.Now().UTC().Format("2006/01/02")+"/[$LATEST]") {
		t.Errorf("log stream name %q is not Lambda's form", env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if got.NanoCPUs != 1e9 || got.MemoryMB != 1769 {
		t.Errorf("binding CPU %d, memory %d; want one vCPU at 1769 MB", got.NanoCPUs, got.MemoryMB)
	}
}

func TestReservedConcurrencyZeroThrottles(t *testing.T) {
	e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{})
	zero := 0
	if err := e.SetReservedConcurrency("123456789012", "hello", &zero); err != nil {
		t.Fatal(err)
	}
	_, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	var apiErr *APIError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &apiErr) || apiErr.Reason != ReasonReservedConcurrentLimit || apiErr.Status != 429 {
		t.Fatalf("Invoke with reserved 0 = %v, want 429 %s", err, ReasonReservedConcurrentLimit)
	}
	e.Flush(context.Background())
	recs, _ := e.db.Invocations(context.Background(), "123456789012", "hello", time.Now().Add(-time.Minute))
	if len(recs) != 1 || recs[0].Outcome != "throttled" {
		t.Errorf("records = %+v, want one throttled", recs)
	}
}

func TestReservedConcurrencyFloor(t *testing.T) {
	e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{AccountConcurrency: 10})
	nine, ten := 9, 10
	if err := e.SetReservedConcurrency("123456789012", "a", &nine); err != nil {
		t.Errorf("reserving 9 of 10: %v", err)
	}
	if err := e.SetReservedConcurrency("123456789012", "b", &ten); err == nil {
		t.Error("reserving past the unreserved floor succeeded")
	}
}

// blockingInvokes starts n invokes of fn that block until release is closed.
func TestAccountConcurrencyLimit(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		running.Add(1)
		<-release
		return Outcome{Status: StatusSuccess, Payload: []byte("null")}
	}}
	e := newTestEngine(t, fb, Config{AccountConcurrency: 2})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()}); err != nil {
				t.Error(err)
			}
		}()
	}
	for running.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	other := testFunction()
	other.Name = "other"
	_, err := e.Invoke(context.Background(), InvokeInput{Function: other})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Reason != ReasonConcurrentLimit {
		t.Errorf("third concurrent invoke = %v, want %s", err, ReasonConcurrentLimit)
	}
	if n := e.ConcurrencyInUse("123456789012"); n != 2 {
		t.Errorf("ConcurrencyInUse = %d, want 2", n)
	}
	close(release)
	wg.Wait()
	if started, _ := fb.counts(); started != 2 {
		t.Errorf("two concurrent invokes used %d instances, want 2 (one request per instance)", started)
	}
}

func TestTimeout(t *testing.T) {
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		<-ctx.Done()
		return Outcome{Status: StatusTimeout, Log: []byte("still going\n")}
	}}
	e := newTestEngine(t, fb, Config{})
	fn := testFunction()
	fn.Timeout = time.Second
	res, err := e.Invoke(context.Background(), InvokeInput{Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	json.Unmarshal(res.Payload, &doc)
	if res.FunctionError != "Unhandled" || doc["errorType"] != "Sandbox.Timedout" ||
		doc["errorMessage"] != "RequestId: "+res.RequestID+" Error: Task timed out after 1.00 seconds" {
		t.Errorf("timeout result = %s (%s)", res.Payload, res.FunctionError)
	}
	if !strings.Contains(string(res.Log), " Task timed out after 1.00 seconds\n") || !strings.Contains(string(res.Log), "Status: timeout") {
		t.Errorf("timeout log:\n%s", res.Log)
	}
	if _, closed := fb.counts(); closed != 1 {
		t.Errorf("timed-out instance not destroyed (closed %d)", closed)
	}
	fb.invoke = echo
	next, err := e.Invoke(context.Background(), InvokeInput{Function: fn})
	if err != nil || !next.Cold {
		t.Errorf("invoke after a timeout: cold=%v err=%v, want a cold start", next != nil && next.Cold, err)
	}
}

func TestRuntimeExitAndOOM(t *testing.T) {
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		return Outcome{Status: StatusExit, Exit: "signal: killed"}
	}, oom: true}
	e := newTestEngine(t, fb, Config{})
	res, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + res.RequestID + ` Error: Runtime exited with error: signal: killed"}`
	if string(res.Payload) != want {
		t.Errorf("OOM payload = %s, want %s", res.Payload, want)
	}
	if !strings.Contains(string(res.Log), "Status: error\tError Type: Runtime.OutOfMemory\t") || !strings.Contains(string(res.Log), "Max Memory Used: 128 MB") {
		t.Errorf("OOM REPORT:\n%s", res.Log)
	}
	fb.oom = false
	fb.invoke = func(ctx context.Context, inv Invocation) Outcome {
		return Outcome{Status: StatusExit, Exit: "exit status 3"}
	}
	res, _ = e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if !strings.Contains(string(res.Payload), "Runtime exited with error: exit status 3") {
		t.Errorf("exit payload = %s", res.Payload)
	}
}

func TestInitError(t *testing.T) {
	body := `{"errorMessage":"Unable to import module 'app': No module named 'nope'","errorType":"Runtime.ImportModuleError","requestId":"","stackTrace":[]}`
	fb := &fakeBackend{invoke: echo, bind: func(b Binding) InitResult {
		return InitResult{Duration: 30 * time.Millisecond, Status: StatusError, ErrorBody: []byte(body)}
	}}
	e := newTestEngine(t, fb, Config{})
	res, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Payload) != body || res.FunctionError != "Unhandled" {
		t.Errorf("init error result = %s %q", res.Payload, res.FunctionError)
	}
	if !strings.Contains(string(res.Log), "INIT_REPORT Init Duration: 30.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError") {
		t.Errorf("init error log:\n%s", res.Log)
	}
	if _, closed := fb.counts(); closed != 1 {
		t.Error("instance with a failed init was kept")
	}
}

func TestBadRequests(t *testing.T) {
	e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{})
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"not json", []byte("{nope"), "InvalidRequestContentException"},
		{"too large", []byte(`"` + strings.Repeat("x", MaxSyncPayload) + `"`), "RequestTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction(), Payload: tt.payload})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Type != tt.want {
				t.Errorf("Invoke(%s) = %v, want %s", tt.name, err, tt.want)
			}
		})
	}
}

func TestIdleReclaim(t *testing.T) {
	fb := &fakeBackend{invoke: echo}
	e := newTestEngine(t, fb, Config{IdleTimeout: 100 * time.Millisecond})
	if _, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Instances("")) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(e.Instances("")); n != 0 {
		t.Fatalf("%d instances still alive after the idle timeout", n)
	}
	res, _ := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if !res.Cold {
		t.Error("invoke after reclaim was warm")
	}
}

func TestMachineCapacity(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		started <- struct{}{}
		<-release
		return Outcome{Status: StatusSuccess, Payload: []byte("1")}
	}}
	e := newTestEngine(t, fb, Config{MaxInstances: 1, CapacityWait: 50 * time.Millisecond})
	done := make(chan error)
	go func() {
		_, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
		done <- err
	}()
	<-started
	other := testFunction()
	other.AccountID = "210987654321"
	_, err := e.Invoke(context.Background(), InvokeInput{Function: other})
	if !errors.Is(err, ErrCapacity) || errors.Is(err, ErrThrottled) {
		t.Errorf("invoke on a full machine = %v, want ErrCapacity (not a throttle)", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The idle instance of the first account is reclaimed to make room,
	// once its residency is over (one each is a swap: budget.go).
	fb.invoke = echo
	time.Sleep(minResidency)
	if _, err := e.Invoke(context.Background(), InvokeInput{Function: other}); err != nil {
		t.Errorf("invoke once room can be made: %v", err)
	}
}

func TestProvisionedConcurrency(t *testing.T) {
	var initTypes sync.Map
	fb := &fakeBackend{invoke: echo, bind: func(b Binding) InitResult {
		for _, kv := range b.Env {
			if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_INITIALIZATION_TYPE="); ok {
				initTypes.Store(v, true)
			}
		}
		return InitResult{Status: StatusSuccess, Duration: time.Millisecond}
	}}
	e := newTestEngine(t, fb, Config{})
	fn := testFunction()
	if err := e.SetProvisionedConcurrency(context.Background(), fn, 1); err == nil {
		t.Error("provisioned concurrency on $LATEST was accepted")
	}
	fn.Version = "1"
	if err := e.SetProvisionedConcurrency(context.Background(), fn, 2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, alloc := e.ProvisionedConcurrency(fn)
		if req == 2 && alloc == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provisioned %d of %d", alloc, req)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := initTypes.Load("provisioned-concurrency"); !ok {
		t.Error("provisioned instances did not see AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency")
	}
	res, err := e.Invoke(context.Background(), InvokeInput{Function: fn})
	if err != nil || res.Cold {
		t.Fatalf("invoke of a provisioned version: cold=%v err=%v, want warm", res != nil && res.Cold, err)
	}
	// Served by provisioned concurrency: its lower duration price.
	r := res.Record
	if want := GBSeconds(r.BilledMS, r.MemoryMB)*PricePerGBSecondOnProvisionedX86 + PricePerRequest; r.CostUSD != want {
		t.Errorf("cost of an invoke on a provisioned instance = %v, want %v", r.CostUSD, want)
	}
}

func TestReportLine(t *testing.T) {
	tests := []struct {
		name    string
		d, init time.Duration
		cold    bool
		status  Status
		errType string
		want    string
	}{
		{"warm", 2750 * time.Microsecond, 0, false, StatusSuccess, "",
			"REPORT RequestId: r\tDuration: 2.75 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n"},
		{"cold timeout", 3016780 * time.Microsecond, 84 * time.Millisecond, true, StatusTimeout, "",
			"REPORT RequestId: r\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 84.00 ms\tStatus: timeout\t\n"},
		{"exit", 133610 * time.Microsecond, 0, false, StatusExit, "Runtime.ExitError",
			"REPORT RequestId: r\tDuration: 133.61 ms\tBilled Duration: 134 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: error\tError Type: Runtime.ExitError\t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reportLine("r", tt.d, BilledMS(tt.d, tt.init), 128, 40, tt.init, tt.cold, tt.status, tt.errType)
			if got != tt.want {
				t.Errorf("reportLine =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestBilling(t *testing.T) {
	tests := []struct {
		d, init time.Duration
		mb      int
		billed  int64
		gbs     float64
	}{
		{15740 * time.Microsecond, 0, 128, 16, 0.002},
		{2750 * time.Microsecond, 0, 128, 3, 0.000375},
		{1000 * time.Millisecond, 0, 1024, 1000, 1},
		{time.Millisecond, 0, 1769, 1, 1769.0 / 1024 / 1000},
	}
	for _, tt := range tests {
		b := BilledMS(tt.d, tt.init)
		if b != tt.billed {
			t.Errorf("BilledMS(%v, %v) = %d, want %d", tt.d, tt.init, b, tt.billed)
		}
		if g := GBSeconds(b, tt.mb); g < tt.gbs*0.9999 || g > tt.gbs*1.0001 {
			t.Errorf("GBSeconds(%d, %d) = %v, want %v", b, tt.mb, g, tt.gbs)
		}
	}
	// Worked example 2 of reference §15.2: 1,024 MB, 120 ms, 30M invokes.
	per := Cost(120, 1024, "x86_64") - PricePerRequest
	if total := per * 30e6; total < 59.99 || total > 60.01 {
		t.Errorf("30M × 120 ms at 1 GB = $%.2f before free tier, want $60.00", total)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Function)
		ok   bool
	}{
		{"defaults", func(f *Function) {}, true},
		{"memory too low", func(f *Function) { f.MemoryMB = 64 }, false},
		{"memory max", func(f *Function) { f.MemoryMB = 10240 }, true},
		{"timeout too long", func(f *Function) { f.Timeout = 901 * time.Second }, false},
		{"fractional timeout", func(f *Function) { f.Timeout = 1500 * time.Millisecond }, false},
		{"handler escapes", func(f *Function) { f.Handler = "../../x.y" }, false},
		{"handler no dot", func(f *Function) { f.Handler = "handler" }, false},
		{"reserved env", func(f *Function) { f.Env = map[string]string{"AWS_REGION": "x"} }, false},
		{"env too big", func(f *Function) { f.Env = map[string]string{"BIG": strings.Repeat("x", 4096)} }, false},
		{"bad env key", func(f *Function) { f.Env = map[string]string{"1X": "y"} }, false},
		{"six layers", func(f *Function) { f.LayerDirs = make([]string, 6) }, false},
		{"unknown runtime", func(f *Function) { f.Runtime = "ruby3.3" }, false},
		{"provided any handler", func(f *Function) { f.Runtime = RuntimeProvided; f.Handler = "whatever" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testFunction()
			tt.edit(&f)
			if err := f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestWarmInstanceGoneWhileIdle(t *testing.T) {
	var gone atomic.Bool
	fb := &fakeBackend{invoke: echo}
	e := newTestEngine(t, fb, Config{})
	first, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if err != nil {
		t.Fatal(err)
	}
	gone.Store(true)
	fb.invoke = func(ctx context.Context, inv Invocation) Outcome {
		return Outcome{Status: StatusSuccess, Payload: []byte(`"fresh"`)}
	}
	fb.goneOnce = &gone
	second, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if err != nil {
		t.Fatalf("invoke after the warm instance died while idle: %v", err)
	}
	if !second.Cold || second.InstanceID == first.InstanceID || string(second.Payload) != `"fresh"` {
		t.Errorf("second invoke cold=%v on %s (first on %s) = %s; want a fresh instance", second.Cold, second.InstanceID, first.InstanceID, second.Payload)
	}
}

func TestCloseWithInvokeInFlight(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{})
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		close(running)
		<-release
		return Outcome{Status: StatusSuccess, Payload: []byte("1")}
	}}
	e := New(newTestDB(t), fb, Config{Runtime: func(string) ([]string, []string, error) { return []string{"x"}, nil, nil }})
	done := make(chan error)
	go func() {
		_, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
		done <- err
	}()
	<-running
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the invocation in flight at Close: %v", err)
	}
	if started, closed := fb.counts(); started != 1 || closed != 1 {
		t.Errorf("started %d, closed %d instances; want the in-flight one destroyed when it finished", started, closed)
	}
	if _, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()}); err == nil {
		t.Error("Invoke after Close succeeded")
	}
}
