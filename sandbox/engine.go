package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"lambdalab/store"
)

// Config tunes an Engine. Every zero value has a working default.
type Config struct {
	// AccountConcurrency is each account's concurrency limit. Zero means 10.
	AccountConcurrency int
	// UnreservedFloor is how much of an account's concurrency reserved
	// concurrency may never take. Lambda keeps 100 of 1,000 unreserved; zero
	// means the same tenth of AccountConcurrency (at least 1).
	UnreservedFloor int
	// IdleTimeout is how long a warm instance waits for work before it is
	// reclaimed. Lambda does not document its own; zero means 10 minutes.
	IdleTimeout time.Duration
	// Prestart is how many unbound instances are kept started ahead of time
	// so that a cold start skips the container start. Zero keeps none.
	Prestart int
	// MaxInstances caps the instances alive on this machine (bound and
	// prestarted). Zero means 64.
	MaxInstances int
	// HostMemoryMB caps the memory limits of all instances together. Zero
	// means no cap beyond MaxInstances.
	HostMemoryMB int
	// HostCPUs caps the CPU quotas of all instances together, in vCPUs (an
	// instance's quota is its memory over MBPerVCPU). Zero means no cap.
	HostCPUs float64
	// DiskBudgetMB caps the /tmp sizes of all instances together, in MB.
	// Zero means no cap.
	DiskBudgetMB int
	// MaxProvisioned caps the provisioned concurrency of all accounts
	// together, so that instances nobody can evict never fill the machine.
	// Zero means half of MaxInstances; negative means none is allowed.
	MaxProvisioned int
	// CapacityWait is how long a cold start waits for room on a full machine
	// before failing with ErrCapacity. Zero means 2 seconds. See doc.go for
	// who gets room first when several wait.
	CapacityWait time.Duration
	// Runtime gives the command that starts a runtime's client inside the
	// environment and the variables that runtime adds (sandbox/runtimes).
	Runtime func(runtime string) (cmd []string, env []string, err error)
	// AWS serves the AWS-compatible endpoint inside every instance; nil
	// answers 404.
	AWS http.Handler
	// XRay receives the X-Ray daemon datagrams of every bound instance with
	// the instance it came from (see InstanceSpec.XRay); datagrams from an
	// instance not yet bound are dropped. Nil drops them all.
	XRay func(c Caller, datagram []byte)
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.AccountConcurrency == 0 {
		c.AccountConcurrency = 10
	}
	if c.UnreservedFloor == 0 {
		c.UnreservedFloor = max(1, c.AccountConcurrency/10)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = 64
	}
	if c.MaxProvisioned == 0 {
		c.MaxProvisioned = c.MaxInstances / 2
	}
	c.MaxProvisioned = max(c.MaxProvisioned, 0)
	if c.CapacityWait == 0 {
		c.CapacityWait = 2 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Engine runs functions the way Lambda does: it keeps warm instances per
// function version, starts cold ones when none is free, enforces account and
// reserved concurrency, times invocations out, and writes START, END and
// REPORT lines and an invocation record for every invoke.
type Engine struct {
	cfg     Config
	db      *store.DB
	backend Backend
	logger  *slog.Logger

	mu         sync.Mutex
	accounts   map[string]*account
	pools      map[string]*pool // by Function.digest
	prestarted []*instance      // started, unbound, default /tmp size
	alive      int              // instances alive or starting
	used       room             // what they take from the budgets
	holds      map[string]*holding
	waiters    []*waiter // cold starts waiting for room (budget.go)
	waitSeq    uint64
	// redispatch runs dispatch again at redispatchAt, when a kept
	// instance's residency ends (budget.go).
	redispatch   *time.Timer
	redispatchAt time.Time
	// lastGrant is when each account's cold start last got room from the
	// queue; fairness serves the longest-unserved first (budget.go).
	lastGrant map[string]time.Time
	closed    bool
	starting  int            // prestarted instances being started
	provAlive map[string]int // pool key → provisioned instances alive
	kick      chan struct{}  // wakes keepPrestarted
	// dropped are the accounts DropAccount let go of: an instance of one
	// that was busy then is closed when it finishes instead of parked.
	// Account ids are drawn at random from 9e11 and never reused in
	// practice, so the set only grows by one id per deleted account.
	dropped map[string]bool

	records chan store.Invocation
	flushes chan chan struct{}
	done    chan struct{} // closed once the record writer has stopped
	wg      sync.WaitGroup
	stop    context.CancelFunc
}

type account struct {
	inflight int
	reserved map[string]int // function name → reserved concurrency
	fnBusy   map[string]int // function name → invocations in flight
}

type pool struct {
	fn          Function
	idle        []*instance // most recently used last
	provisioned int         // instances to keep initialised
	provBusy    int         // provisioned instances being initialised right now
}

type instance struct {
	inst        Instance
	who         *callerID // whom the instance's AWS requests act for, once bound
	took        room      // its place on the machine's books
	acct        string    // the account it is booked to; "" while prestarted
	released    bool      // taken off the books (budget.go)
	fn          Function
	key         string // fn.digest(), once bound
	provisioned bool
	lastUsed    time.Time
	since       time.Time
	invocations int
}

// New starts an engine on backend, writing invocation records to db.
// Close stops it.
func New(db *store.DB, backend Backend, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg:       cfg,
		db:        db,
		backend:   backend,
		logger:    cfg.Logger,
		accounts:  map[string]*account{},
		pools:     map[string]*pool{},
		holds:     map[string]*holding{},
		provAlive: map[string]int{},
		lastGrant: map[string]time.Time{},
		kick:      make(chan struct{}, 1),
		dropped:   map[string]bool{},
		records:   make(chan store.Invocation, 1024),
		flushes:   make(chan chan struct{}),
		done:      make(chan struct{}),
		stop:      cancel,
	}
	e.wg.Add(3)
	go e.writeRecords(ctx)
	go e.reapIdle(ctx)
	go e.keepPrestarted(ctx)
	return e
}

// Close stops the engine and destroys every instance.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, w := range e.waiters {
		close(w.ready) // not granted: the waiter sees the engine closed
	}
	e.waiters = nil
	var all []*instance
	all = append(all, e.prestarted...)
	e.prestarted = nil
	for _, p := range e.pools {
		all = append(all, p.idle...)
		p.idle = nil
	}
	e.mu.Unlock()
	e.stop()
	e.wg.Wait()
	close(e.done)
	for _, in := range all {
		e.destroy(ctx, in)
	}
	return nil
}

// InvokeInput is one synchronous invocation.
type InvokeInput struct {
	Function Function
	Payload  []byte
	// InvokedARN is the ARN as the caller named the function (unqualified,
	// version or alias); zero means the function's unqualified ARN.
	InvokedARN    string
	TraceID       string
	ClientContext string
	// RequestID is the invocation's id; zero means a new one. Lambda keeps
	// one id across the retries of an asynchronous event.
	RequestID string
	// XRaySegmentID is the function segment's id when the invocation is
	// traced and sampled: the log then ends with Lambda's XRAY line.
	XRaySegmentID string
	// Output, if set, sees the log as it is written: every byte that
	// Result.Log will hold, in order, and nothing else. A cold start's init
	// output comes when init ends, START as soon as the event is handed to
	// the runtime, the function's output as it prints it (under the same
	// cap and with the same truncation line), then END, REPORT and XRAY;
	// the last call is made before Invoke returns. A refused invoke (a
	// throttle) makes no call; a platform error ends the calls early.
	//
	// Calls come one at a time, often on the goroutine that collects the
	// runtime's output: Output must not block, or the function's writes
	// stall behind it (hand the chunk to a buffered channel and drop when it
	// is full). The chunk is the callee's to keep.
	Output func(chunk []byte)
}

// Result is what a synchronous invoke returns. A function error is a result,
// not a Go error: FunctionError is "Unhandled" and Payload the error document.
type Result struct {
	RequestID       string
	Payload         []byte
	FunctionError   string
	ExecutedVersion string
	// Log is the invocation's whole log: output from a cold init, then START,
	// the function's output, END and REPORT.
	Log        []byte
	Record     store.Invocation
	Cold       bool
	InstanceID string
}

// Invoke runs one event synchronously. It returns an *APIError when Lambda
// would refuse the request (bad payload, throttle), ErrCapacity when this
// machine is full, and a Result for everything the function did, failures
// included.
func (e *Engine) Invoke(ctx context.Context, in InvokeInput) (*Result, error) {
	fn := in.Function.withDefaults()
	if err := fn.Validate(); err != nil {
		return nil, err
	}
	if len(in.Payload) > MaxSyncPayload {
		return nil, &APIError{Type: "RequestTooLargeException", Status: 413,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxSyncPayload)}
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return nil, &APIError{Type: "InvalidRequestContentException", Status: 400,
			Message: "Could not parse request body into json: the payload is not valid JSON"}
	}
	reqID := in.RequestID
	if reqID == "" {
		reqID = NewRequestID()
	}
	release, err := e.acquire(fn)
	if err != nil {
		now := e.cfg.Now()
		e.record(store.Invocation{RequestID: reqID, AccountID: fn.AccountID, Function: fn.Name, Version: fn.Version,
			Start: now, End: now, MemoryMB: fn.MemoryMB, Outcome: "throttled", ErrorType: "TooManyRequestsException"})
		return nil, err
	}
	defer release()

	// Lambda finishes an invocation even when its caller hangs up, so the
	// caller's cancellation does not reach the function; its timeout does.
	runCtx := context.WithoutCancel(ctx)
	in.Function = fn
	in.Payload = payload
	if in.InvokedARN == "" {
		in.InvokedARN = fn.ARN()
	}
	res, err := e.run(runCtx, reqID, in)
	if err != nil {
		return nil, err
	}
	if in.XRaySegmentID != "" {
		line := xrayLine(in.TraceID, in.XRaySegmentID)
		res.Log = append(res.Log, line...)
		if in.Output != nil {
			in.Output([]byte(line))
		}
	}
	e.record(res.Record)
	return res, nil
}

// run finds or starts an instance and drives one invocation through it.
func (e *Engine) run(ctx context.Context, reqID string, in InvokeInput) (*Result, error) {
	fn := in.Function
	res := &Result{RequestID: reqID, ExecutedVersion: fn.Version}
	log := &invocationLog{tap: in.Output}

	inst, cold, initRes, err := e.instanceFor(ctx, fn)
	if err != nil {
		return nil, err
	}
	res.Cold = cold
	res.InstanceID = inst.inst.ID()
	var initDur time.Duration
	if cold {
		initDur = initRes.Duration
		log.add(initRes.Log)
		if initRes.Truncated > 0 {
			log.newline()
			log.addString(truncationLine(MaxLogBytes, initRes.Truncated))
		}
		log.newline()
		if initRes.Status != StatusSuccess {
			return e.initFailed(ctx, res, inst, initRes, log), nil
		}
	}

	start := e.cfg.Now()
	deadline := start.Add(fn.Timeout)
	invCtx, cancel := context.WithDeadline(ctx, deadline)
	inv := Invocation{
		RequestID:          reqID,
		Payload:            in.Payload,
		Deadline:           deadline,
		InvokedFunctionARN: in.InvokedARN,
		TraceID:            in.TraceID,
		ClientContext:      in.ClientContext,
	}
	var live *liveOutput
	if log.tap != nil {
		live = &liveOutput{tap: log.tap, start: startLine(reqID, fn.Version)}
		inv.Output = live.write
	}
	inst.who.invoking(reqID)
	out, err := inst.inst.Invoke(invCtx, inv)
	inst.who.invoking("")
	cancel()
	if err != nil {
		e.destroy(ctx, inst)
		if errors.Is(err, ErrInstanceGone) && !cold {
			// The warm instance died while idle. Lambda would not fail
			// this request for it: run it on another instance.
			e.logger.InfoContext(ctx, "idle instance had exited; using another", "instance", inst.inst.ID(), "function", fn.Name)
			return e.run(ctx, reqID, in)
		}
		return nil, fmt.Errorf("invoke %s on instance %s: %w", fn.Name, inst.inst.ID(), err)
	}
	if out.Start.IsZero() {
		out.Start = start
	}
	if out.Done.IsZero() || out.Status == StatusTimeout {
		out.Done = e.cfg.Now()
	}
	dur := out.Done.Sub(out.Start)

	log.runtime(startLine(reqID, fn.Version), out.Log, live)
	if out.Truncated > 0 {
		log.newline()
		log.addString(truncationLine(MaxLogBytes, out.Truncated))
	}
	log.newline()

	maxMem := e.maxMemoryMB(ctx, inst)
	status, errType := out.Status, ""
	keep := true
	switch out.Status {
	case StatusSuccess:
		res.Payload = out.Payload
	case StatusError:
		res.FunctionError = "Unhandled"
		res.Payload = out.Payload
		errType = out.ErrorType
		if errType == "" {
			errType = errorTypeOf(out.Payload)
		}
	case StatusTooLarge:
		res.FunctionError = "Unhandled"
		errType = "Function.ResponseSizeTooLarge"
		res.Payload = errorDoc(errType, fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", out.ResponseSize, MaxResponsePayload))
	case StatusTimeout:
		keep = false
		res.FunctionError = "Unhandled"
		errType = "Sandbox.Timedout"
		dur = fn.Timeout
		log.addString(timeoutLine(deadline, reqID, fn.Timeout))
		res.Payload = errorDoc(errType, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", reqID, fn.Timeout.Seconds()))
	case StatusExit:
		keep = false
		res.FunctionError = "Unhandled"
		errType = "Runtime.ExitError"
		info := e.destroy(ctx, inst)
		msg := "Runtime exited with error: " + out.Exit
		if out.Exit == "" || out.Exit == "exit status 0" {
			msg = "Runtime exited without providing a reason"
		}
		if info.OOMKilled {
			msg = "Runtime exited with error: signal: killed"
			errType = "Runtime.OutOfMemory"
			maxMem = fn.MemoryMB
		}
		res.Payload = errorDoc("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: %s", reqID, msg))
		log.addString(fmt.Sprintf("RequestId: %s Error: %s\n%s\n", reqID, msg, "Runtime.ExitError"))
	default:
		e.destroy(ctx, inst)
		return nil, fmt.Errorf("invoke %s: unknown outcome %q", fn.Name, out.Status)
	}
	billed := BilledMS(dur, initDur)
	log.addString(endLine(reqID))
	log.addString(reportLine(reqID, dur, billed, fn.MemoryMB, maxMem, initDur, cold, status, errType))
	res.Log = log.b
	res.Record = e.newRecord(reqID, fn, inst, cold, out.Start, out.Start.Add(dur), dur, initDur, billed, maxMem, status, errType)

	if keep {
		e.park(ctx, inst)
	} else if out.Status != StatusExit {
		e.destroy(ctx, inst)
	}
	return res, nil
}

// initFailed turns a failed cold init into the invocation's result: Lambda
// answers the first invoke with the error the runtime posted (or an exit or
// timeout error) and discards the environment.
func (e *Engine) initFailed(ctx context.Context, res *Result, inst *instance, ir InitResult, log *invocationLog) *Result {
	fn := inst.fn
	maxMem := e.maxMemoryMB(ctx, inst)
	info := e.destroy(ctx, inst)
	errType := ir.ErrorType
	res.FunctionError = "Unhandled"
	switch ir.Status {
	case StatusError:
		res.Payload = ir.ErrorBody
		if errType == "" {
			errType = errorTypeOf(ir.ErrorBody)
		}
		if errType == "Runtime.InvalidEntrypoint" {
			// Lambda reports a bootstrap that cannot start the way it
			// reports an exit: with the request id it failed.
			var doc struct {
				ErrorMessage string `json:"errorMessage"`
			}
			json.Unmarshal(ir.ErrorBody, &doc)
			res.Payload = errorDoc(errType, fmt.Sprintf("RequestId: %s Error: %s", res.RequestID, doc.ErrorMessage))
		}
	case StatusTimeout:
		errType = "Sandbox.Timedout"
		res.Payload = errorDoc(errType, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", res.RequestID, fn.Timeout.Seconds()))
	default:
		errType = "Runtime.ExitError"
		msg := "Runtime exited with error: " + ir.Exit
		if ir.Exit == "" || ir.Exit == "exit status 0" {
			msg = "Runtime exited without providing a reason"
		}
		if info.OOMKilled {
			msg = "Runtime exited with error: signal: killed"
			maxMem = fn.MemoryMB
		}
		res.Payload = errorDoc(errType, fmt.Sprintf("RequestId: %s Error: %s", res.RequestID, msg))
	}
	now := e.cfg.Now()
	log.addString(initReportLine(ir.Duration, ir.Status, errType))
	log.addString(startLine(res.RequestID, fn.Version))
	log.addString(endLine(res.RequestID))
	billed := BilledMS(0, ir.Duration)
	log.addString(reportLine(res.RequestID, 0, billed, fn.MemoryMB, maxMem, ir.Duration, true, StatusError, errType))
	res.Log = log.b
	res.Record = e.newRecord(res.RequestID, fn, inst, true, now, now, 0, ir.Duration, billed, maxMem, StatusError, errType)
	return res
}

func (e *Engine) newRecord(reqID string, fn Function, inst *instance, cold bool, start, end time.Time, dur, initDur time.Duration, billed int64, maxMem int, status Status, errType string) store.Invocation {
	return store.Invocation{
		RequestID: reqID, AccountID: fn.AccountID, Function: fn.Name, Version: fn.Version,
		InstanceID: inst.inst.ID(), Cold: cold, Start: start, End: end,
		DurationMS: ms(dur), BilledMS: billed, InitMS: ms(initDur),
		MemoryMB: fn.MemoryMB, MaxMemoryMB: maxMem, Outcome: string(status), ErrorType: errType,
		GBSeconds: GBSeconds(billed, fn.MemoryMB), CostUSD: InvocationCost(billed, fn.MemoryMB, fn.Architecture, inst.provisioned),
	}
}

func (e *Engine) maxMemoryMB(ctx context.Context, inst *instance) int {
	b, err := inst.inst.MaxMemoryUsed(ctx)
	if err != nil {
		e.logger.WarnContext(ctx, "max memory unknown", "instance", inst.inst.ID(), "err", err)
		return 0
	}
	return int((b + (1<<20 - 1)) >> 20)
}

// errorDoc is the JSON error document Lambda returns for platform-detected
// failures.
func errorDoc(errType, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{errType, msg})
	return b
}

// errorTypeOf reads errorType from a runtime's error document, made safe
// for the log and the record (errorTypeName).
func errorTypeOf(doc []byte) string {
	var v struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(doc, &v) != nil {
		return ""
	}
	return errorTypeName(v.ErrorType)
}

// acquire takes a concurrency slot for fn or says why Lambda would throttle.
func (e *Engine) acquire(fn Function) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.account(fn.AccountID)
	if r, ok := a.reserved[fn.Name]; ok {
		if a.fnBusy[fn.Name] >= r {
			return nil, throttled(ReasonReservedConcurrentLimit)
		}
	} else if e.unreservedBusy(a) >= e.cfg.AccountConcurrency-sumReserved(a) {
		return nil, throttled(ReasonConcurrentLimit)
	}
	a.inflight++
	a.fnBusy[fn.Name]++
	return func() {
		e.mu.Lock()
		a.inflight--
		a.fnBusy[fn.Name]--
		e.mu.Unlock()
	}, nil
}

func (e *Engine) account(id string) *account {
	a := e.accounts[id]
	if a == nil {
		a = &account{reserved: map[string]int{}, fnBusy: map[string]int{}}
		e.accounts[id] = a
	}
	return a
}

func (e *Engine) unreservedBusy(a *account) int {
	n := 0
	for name, busy := range a.fnBusy {
		if _, ok := a.reserved[name]; !ok {
			n += busy
		}
	}
	return n
}

func sumReserved(a *account) int {
	n := 0
	for _, r := range a.reserved {
		n += r
	}
	return n
}

// SetReservedConcurrency reserves n of the account's concurrency for one
// function (all its versions); nil removes the reservation. n = 0 throttles
// every invocation, like the console's Throttle button.
func (e *Engine) SetReservedConcurrency(accountID, function string, n *int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.account(accountID)
	if n == nil {
		delete(a.reserved, function)
		return nil
	}
	if *n < 0 {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: "ReservedConcurrentExecutions must be 0 or more"}
	}
	others := sumReserved(a) - a.reserved[function]
	// Provisioned concurrency of functions without a reservation comes out
	// of the unreserved pool too (reference/lambda-behaviour.md §8.1).
	for _, p := range e.pools {
		if _, ok := a.reserved[p.fn.Name]; !ok && p.fn.AccountID == accountID && p.fn.Name != function {
			others += p.provisioned
		}
	}
	if others+*n > e.cfg.AccountConcurrency-e.cfg.UnreservedFloor {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(
			"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", e.cfg.UnreservedFloor)}
	}
	a.reserved[function] = *n
	return nil
}

// DropAccount lets go of everything the engine keeps for an account that
// is being deleted: its reservations and provisioned configurations are
// released and its idle instances closed before it returns. An instance of
// the account still busy with an invocation finishes it and is closed then,
// and one a provisioned configuration is still initialising is closed when
// it is ready, never parked. Invoking the account's functions afterwards
// works, each invocation a cold start; the caller deletes the functions.
func (e *Engine) DropAccount(ctx context.Context, accountID string) {
	e.mu.Lock()
	e.dropped[accountID] = true
	delete(e.accounts, accountID)
	delete(e.lastGrant, accountID)
	var idle []*instance
	for key, p := range e.pools {
		if p.fn.AccountID != accountID {
			continue
		}
		p.provisioned = 0
		for _, in := range p.idle {
			if in.provisioned {
				// Not replaced when destroyed: the configuration is gone.
				in.provisioned = false
				e.provAlive[key]--
			}
		}
		if e.provAlive[key] <= 0 {
			delete(e.provAlive, key)
		}
		idle = append(idle, p.idle...)
		delete(e.pools, key)
	}
	e.mu.Unlock()
	for _, in := range idle {
		e.destroy(ctx, in)
	}
	if len(idle) > 0 {
		e.logger.InfoContext(ctx, "account dropped", "account", accountID, "instances_closed", len(idle))
	}
}

// ReservedConcurrency reports a function's reservation, if any.
func (e *Engine) ReservedConcurrency(accountID, function string) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.account(accountID).reserved[function]
	return r, ok
}

// AccountConcurrency is the per-account limit in force.
func (e *Engine) AccountConcurrency() int { return e.cfg.AccountConcurrency }

// instanceFor returns a warm instance of fn, or binds a new one (cold).
func (e *Engine) instanceFor(ctx context.Context, fn Function) (*instance, bool, InitResult, error) {
	key := fn.digest()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, false, InitResult{}, errors.New("sandbox engine is closed")
	}
	if p := e.pools[key]; p != nil && len(p.idle) > 0 {
		// Prefer a provisioned instance, then the most recently used one:
		// its caches are the warmest.
		idx := len(p.idle) - 1
		for i := len(p.idle) - 1; i >= 0; i-- {
			if p.idle[i].provisioned {
				idx = i
				break
			}
		}
		in := p.idle[idx]
		p.idle = append(p.idle[:idx], p.idle[idx+1:]...)
		e.mu.Unlock()
		return in, false, InitResult{}, nil
	}
	e.mu.Unlock()
	in, ir, err := e.coldStart(ctx, fn, "on-demand")
	if err != nil {
		return nil, false, InitResult{}, err
	}
	return in, true, ir, nil
}

// coldStart takes a prestarted instance (or starts one) and binds it to fn.
func (e *Engine) coldStart(ctx context.Context, fn Function, initType string) (*instance, InitResult, error) {
	in, err := e.unboundInstance(ctx, fn)
	if err != nil {
		return nil, InitResult{}, err
	}
	cmd, rtEnv, err := e.runtimeCommand(fn.Runtime)
	if err != nil {
		e.destroy(ctx, in)
		return nil, InitResult{}, err
	}
	in.fn = fn
	in.key = fn.digest()
	in.since = e.cfg.Now()
	in.who.bind(fn)
	ir, err := in.inst.Bind(ctx, Binding{
		AccountID:   fn.AccountID,
		Function:    fn.Name,
		Version:     fn.Version,
		CodeDir:     fn.CodeDir,
		LayerDirs:   fn.LayerDirs,
		MemoryMB:    fn.MemoryMB,
		NanoCPUs:    NanoCPUs(fn.MemoryMB),
		Cmd:         cmd,
		Env:         runtimeEnv(fn, initType, logStreamName(e.cfg.Now(), fn.Version), rtEnv),
		InitTimeout: InitTimeout,
	})
	if err != nil {
		e.destroy(ctx, in)
		return nil, InitResult{}, fmt.Errorf("bind instance to %s: %w", fn.Name, err)
	}
	e.logger.InfoContext(ctx, "instance bound", "instance", in.inst.ID(), "account", fn.AccountID,
		"function", fn.Name, "version", fn.Version, "init_ms", ms(ir.Duration), "init_status", string(ir.Status))
	return in, ir, nil
}

func (e *Engine) runtimeCommand(runtime string) ([]string, []string, error) {
	if e.cfg.Runtime == nil {
		return nil, nil, errors.New("sandbox has no runtime table (Config.Runtime)")
	}
	return e.cfg.Runtime(runtime)
}

// unboundInstance hands out a prestarted instance with the right /tmp size,
// or starts a new one when there is room on the machine. On a full machine
// it waits its turn, as budget.go and doc.go describe.
func (e *Engine) unboundInstance(ctx context.Context, fn Function) (*instance, error) {
	need := e.roomFor(fn.MemoryMB, fn.EphemeralMB)
	if err := e.tooBig(need); err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errors.New("sandbox engine is closed")
	}
	if len(e.waiters) == 0 {
		if in := e.prestartedForLocked(fn.AccountID, need); in != nil {
			e.mu.Unlock()
			e.signalPrestart()
			return in, nil
		}
		if e.hasRoomLocked(need) {
			e.takeRoomLocked(fn.AccountID, need)
			e.mu.Unlock()
			return e.startInstance(ctx, fn, need)
		}
	}
	// Full, or others wait already: queue, and let dispatch evict idle
	// instances or hand over room in order of need.
	e.waitSeq++
	w := &waiter{account: fn.AccountID, need: need, seq: e.waitSeq, ready: make(chan struct{})}
	e.waiters = append(e.waiters, w)
	victims := e.dispatchLocked()
	if !w.granted && e.outrankedLocked(e.usageLocked(), w) {
		e.removeWaiterLocked(w)
		alive := e.alive
		e.mu.Unlock()
		e.destroyAll(ctx, victims)
		e.logger.InfoContext(ctx, "cold start refused: account has its fair share while others wait", "account", fn.AccountID,
			"function", fn.Name, "alive", alive, "max_instances", e.cfg.MaxInstances)
		return nil, fmt.Errorf("%w (other learners are waiting for room and this account already has its fair share of the machine)", ErrCapacity)
	}
	e.mu.Unlock()
	e.destroyAll(ctx, victims)

	deadline := time.NewTimer(e.cfg.CapacityWait)
	defer deadline.Stop()
	select {
	case <-w.ready:
	case <-deadline.C:
	case <-ctx.Done():
	}
	e.mu.Lock()
	if w.granted {
		e.mu.Unlock()
		if w.got != nil {
			e.signalPrestart()
			return w.got, nil
		}
		return e.startInstance(ctx, fn, need)
	}
	e.removeWaiterLocked(w)
	closed, alive := e.closed, e.alive
	victims = e.dispatchLocked() // w may have been holding up smaller waiters
	e.mu.Unlock()
	e.destroyAll(ctx, victims)
	switch {
	case closed:
		return nil, errors.New("sandbox engine is closed")
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	e.logger.WarnContext(ctx, "machine at capacity", "account", fn.AccountID, "alive", alive, "max_instances", e.cfg.MaxInstances)
	return nil, ErrCapacity
}

// startInstance starts an instance for fn on room already booked to it.
func (e *Engine) startInstance(ctx context.Context, fn Function, need room) (*instance, error) {
	who := &callerID{}
	in := &instance{who: who, took: need, acct: fn.AccountID, fn: Function{EphemeralMB: fn.EphemeralMB}, since: e.cfg.Now()}
	inst, err := e.backend.Start(ctx, InstanceSpec{EphemeralMB: fn.EphemeralMB, AWS: e.awsFor(who), XRay: e.xrayFor(who)})
	if err != nil {
		e.forget(ctx, in)
		return nil, fmt.Errorf("start instance: %w", err)
	}
	who.instanceID = inst.ID()
	in.inst = inst
	return in, nil
}

func (e *Engine) destroyAll(ctx context.Context, ins []*instance) {
	for _, in := range ins {
		e.destroy(ctx, in)
	}
}

func (p *pool) remove(in *instance) {
	for i, x := range p.idle {
		if x == in {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return
		}
	}
}

// park returns a healthy instance to its function's warm pool, or destroys
// it when the engine has closed meanwhile.
func (e *Engine) park(ctx context.Context, in *instance) {
	e.mu.Lock()
	in.invocations++
	in.lastUsed = e.cfg.Now()
	if e.closed || e.dropped[in.fn.AccountID] {
		e.mu.Unlock()
		e.destroy(ctx, in)
		return
	}
	p := e.pools[in.key]
	if p == nil {
		p = &pool{fn: in.fn}
		e.pools[in.key] = p
	}
	p.idle = append(p.idle, in)
	// An idle instance is room a waiting cold start may be owed.
	var victims []*instance
	if len(e.waiters) > 0 {
		victims = e.dispatchLocked()
	}
	e.mu.Unlock()
	e.destroyAll(ctx, victims)
}

// destroy kills an instance and frees its place on the machine.
func (e *Engine) destroy(ctx context.Context, in *instance) CloseInfo {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	info, err := in.inst.Close(cctx)
	if err != nil {
		e.logger.WarnContext(ctx, "close instance", "instance", in.inst.ID(), "err", err)
	}
	e.forget(ctx, in)
	if in.provisioned {
		// Lambda replaces a provisioned environment that dies.
		key := in.key
		e.mu.Lock()
		e.provAlive[key]--
		closed := e.closed
		e.mu.Unlock()
		if !closed {
			e.wg.Add(1)
			go e.provision(context.WithoutCancel(ctx), key)
		}
	}
	return info
}

// forget takes a dead instance off the books and passes its room on.
func (e *Engine) forget(ctx context.Context, in *instance) {
	e.mu.Lock()
	e.releaseLocked(in)
	victims := e.dispatchLocked()
	e.mu.Unlock()
	e.destroyAll(ctx, victims)
	e.signalPrestart()
}

// record queues an invocation record for the writer. Once the engine is
// closed and the writer gone, records are dropped rather than blocking.
func (e *Engine) record(r store.Invocation) {
	select {
	case e.records <- r:
	case <-e.done:
		e.logger.Warn("invocation record dropped: engine closed", "request_id", r.RequestID)
	}
}

// Flush waits until every invocation record queued so far is in the store.
func (e *Engine) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case e.flushes <- done:
	case <-e.done: // closed: the writer has stored all it will
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeRecords stores invocation records off the invoke path, so SQLite's
// write latency is not part of an invocation's overhead.
func (e *Engine) writeRecords(ctx context.Context) {
	defer e.wg.Done()
	write := func(r store.Invocation) {
		if e.db == nil {
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.db.InsertInvocation(wctx, r); err != nil {
			e.logger.ErrorContext(wctx, "store invocation record", "request_id", r.RequestID, "err", err)
		}
	}
	drain := func() {
		for {
			select {
			case r := <-e.records:
				write(r)
			default:
				return
			}
		}
	}
	for {
		select {
		case r := <-e.records:
			write(r)
		case done := <-e.flushes:
			drain()
			close(done)
		case <-ctx.Done():
			drain()
			return
		}
	}
}

// reapIdle destroys warm instances that waited longer than IdleTimeout.
func (e *Engine) reapIdle(ctx context.Context) {
	defer e.wg.Done()
	every := max(e.cfg.IdleTimeout/4, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.cfg.Now()
		var old []*instance
		e.mu.Lock()
		for key, p := range e.pools {
			kept := p.idle[:0]
			for _, in := range p.idle {
				if !in.provisioned && now.Sub(in.lastUsed) >= e.cfg.IdleTimeout {
					old = append(old, in)
				} else {
					kept = append(kept, in)
				}
			}
			p.idle = kept
			if len(p.idle) == 0 && p.provisioned == 0 {
				delete(e.pools, key)
			}
		}
		e.mu.Unlock()
		for _, in := range old {
			e.logger.InfoContext(ctx, "idle instance reclaimed", "instance", in.inst.ID(), "function", in.fn.Name)
			e.destroy(ctx, in)
		}
	}
}

// InstanceInfo describes one live instance, for the UI and the grader.
type InstanceInfo struct {
	ID          string
	AccountID   string
	Function    string
	Version     string
	State       string // "idle", "provisioned" (idle and provisioned) or "prestarted"
	Since       time.Time
	LastUsed    time.Time
	Invocations int
	MemoryMB    int
}

// Instances lists the idle instances of an account ("" for every account,
// prestarted ones included). Busy instances are counted by ConcurrencyInUse.
func (e *Engine) Instances(accountID string) []InstanceInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []InstanceInfo
	for _, p := range e.pools {
		if accountID != "" && p.fn.AccountID != accountID {
			continue
		}
		for _, in := range p.idle {
			state := "idle"
			if in.provisioned {
				state = "provisioned"
			}
			out = append(out, InstanceInfo{ID: in.inst.ID(), AccountID: in.fn.AccountID, Function: in.fn.Name,
				Version: in.fn.Version, State: state, Since: in.since, LastUsed: in.lastUsed,
				Invocations: in.invocations, MemoryMB: in.fn.MemoryMB})
		}
	}
	if accountID == "" {
		for _, in := range e.prestarted {
			out = append(out, InstanceInfo{ID: in.inst.ID(), State: "prestarted", Since: in.since})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// ConcurrencyInUse is the number of an account's invocations in flight.
func (e *Engine) ConcurrencyInUse(accountID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.account(accountID).inflight
}
