package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdBackend is a fake backend whose invocations with a payload of
// {"hold":"name"} block until release(name); every other invocation echoes.
type holdBackend struct {
	fakeBackend
	mu      sync.Mutex
	gates   map[string]chan struct{}
	running map[string]bool
}

func newHoldBackend() *holdBackend {
	h := &holdBackend{gates: map[string]chan struct{}{}, running: map[string]bool{}}
	h.invoke = func(ctx context.Context, inv Invocation) Outcome {
		var p struct{ Hold string }
		if json.Unmarshal(inv.Payload, &p) == nil && p.Hold != "" {
			g := h.gate(p.Hold)
			h.mu.Lock()
			h.running[p.Hold] = true
			h.mu.Unlock()
			select {
			case <-g:
			case <-ctx.Done():
				return Outcome{Status: StatusTimeout}
			}
		}
		return Outcome{Status: StatusSuccess, Payload: inv.Payload}
	}
	return h
}

func (h *holdBackend) gate(name string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.gates[name]
	if g == nil {
		g = make(chan struct{})
		h.gates[name] = g
	}
	return g
}

func (h *holdBackend) release(name string) { close(h.gate(name)) }

func (h *holdBackend) isRunning(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running[name]
}

func accountFn(account, name string) Function {
	f := testFunction()
	f.AccountID, f.Name = account, name
	f.Timeout = 60 * time.Second
	return f
}

const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
)

// goInvoke invokes in the background and delivers the error.
func goInvoke(e *Engine, fn Function, payload string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := e.Invoke(context.Background(), InvokeInput{Function: fn, Payload: []byte(payload)})
		done <- err
	}()
	return done
}

// eventually waits for cond, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (e *Engine) waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiters)
}

// Two accounts keep their whole concurrency busy with slow handlers on a
// machine that cannot hold both; a third account's single invoke must
// still get an instance within the wait (first come, first served gave it
// only the capacity error: the hogs' instances went straight back to them).
func TestFairShareThirdAccountGetsRoom(t *testing.T) {
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		time.Sleep(200 * time.Millisecond)
		return Outcome{Status: StatusSuccess, Payload: []byte("1")}
	}}
	e := newTestEngine(t, fb, Config{MaxInstances: 16, AccountConcurrency: 10, CapacityWait: 5 * time.Second})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, acct := range []string{acctA, acctB} {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := e.Invoke(context.Background(), InvokeInput{Function: accountFn(acct, "hog")}); err != nil {
						if !errors.Is(err, ErrCapacity) && !errors.Is(err, ErrThrottled) {
							t.Errorf("hog invoke: %v", err)
						}
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
	}
	defer func() { close(stop); wg.Wait() }()
	eventually(t, "the hogs to fill the machine", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.alive == 16
	})
	for i := range 5 {
		if _, err := e.Invoke(context.Background(), InvokeInput{Function: accountFn(acctC, "small")}); err != nil {
			t.Fatalf("invoke %d of a third account beside two hogs: %v, want an instance within the wait", i, err)
		}
	}
}

// Room that frees goes to the waiting account furthest below its share,
// not to whoever asked first; an account that has its share while another
// waits below its own is refused at once.
func TestFairShareRoomGoesToAccountBelowShare(t *testing.T) {
	hb := newHoldBackend()
	e := newTestEngine(t, hb, Config{MaxInstances: 2, CapacityWait: time.Minute})
	a1 := goInvoke(e, accountFn(acctA, "f"), `{"hold":"a1"}`)
	a2 := goInvoke(e, accountFn(acctA, "f"), `{"hold":"a2"}`)
	eventually(t, "A's two invokes to run", func() bool { return hb.isRunning("a1") && hb.isRunning("a2") })

	// First in line, but A holds the whole machine already.
	a3 := goInvoke(e, accountFn(acctA, "f"), `{"hold":"a3"}`)
	eventually(t, "A's third invoke to wait", func() bool { return e.waiting() == 1 })
	b := goInvoke(e, accountFn(acctB, "g"), `{"hold":"b"}`)
	eventually(t, "B's invoke to wait", func() bool { return e.waiting() == 2 })

	// A has more than its share (one of two) while B waits with none.
	select {
	case err := <-goInvoke(e, accountFn(acctA, "f"), `{}`):
		if !errors.Is(err, ErrCapacity) || !strings.Contains(err.Error(), "lambdalab machine is busy") {
			t.Errorf("invoke of an account above its share while another waits = %v, want the busy machine's ErrCapacity", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an account above its share waited for room instead of being refused at once")
	}

	hb.release("a1")
	eventually(t, "B to get the room A's instance freed", func() bool { return hb.isRunning("b") || hb.isRunning("a3") })
	if hb.isRunning("a3") {
		t.Fatal("A's third invoke got the room before B, which was below its share")
	}
	hb.release("b")
	hb.release("a2")
	hb.release("a3")
	for name, c := range map[string]<-chan error{"a1": a1, "a2": a2, "a3": a3, "b": b} {
		if err := <-c; err != nil {
			t.Errorf("invoke %s: %v", name, err)
		}
	}
}

// Before anyone waits, idle instances are evicted; those of an account
// above its share go before a lighter account's, even when the lighter
// account's is the least recently used.
func TestEvictionPrefersAccountsAboveShare(t *testing.T) {
	hb := newHoldBackend()
	e := newTestEngine(t, hb, Config{MaxInstances: 6, CapacityWait: time.Minute})
	light := accountFn(acctB, "light")
	heavy := accountFn(acctA, "heavy")
	// The light account: one idle instance (the oldest), one busy.
	l1 := goInvoke(e, light, `{"hold":"l1"}`)
	l2 := goInvoke(e, light, `{"hold":"l2"}`)
	eventually(t, "light's invokes", func() bool { return hb.isRunning("l1") && hb.isRunning("l2") })
	hb.release("l1")
	if err := <-l1; err != nil {
		t.Fatal(err)
	}
	// The heavy account: three busy and one idle, newer.
	h := map[string]<-chan error{}
	for _, n := range []string{"h1", "h2", "h3", "h4"} {
		h[n] = goInvoke(e, heavy, `{"hold":"`+n+`"}`)
	}
	eventually(t, "heavy's invokes", func() bool {
		return hb.isRunning("h1") && hb.isRunning("h2") && hb.isRunning("h3") && hb.isRunning("h4")
	})
	hb.release("h4")
	if err := <-h["h4"]; err != nil {
		t.Fatal(err)
	}
	if got := len(e.Instances(acctB)); got != 1 {
		t.Fatalf("light account has %d idle instances, want 1", got)
	}
	// Full: a third account needs an instance.
	if _, err := e.Invoke(context.Background(), InvokeInput{Function: accountFn(acctC, "c")}); err != nil {
		t.Fatalf("invoke on a full machine with idle instances: %v", err)
	}
	if got := len(e.Instances(acctB)); got != 1 {
		t.Errorf("the light account's idle instance was evicted (it has %d), want the heavy account's", got)
	}
	if got := len(e.Instances(acctA)); got != 0 {
		t.Errorf("the heavy account kept %d idle instances, want its idle one evicted", got)
	}
	for _, n := range []string{"l2", "h1", "h2", "h3"} {
		hb.release(n)
	}
	<-l2
	for _, n := range []string{"h1", "h2", "h3"} {
		<-h[n]
	}
}

func TestProvisionedBudgets(t *testing.T) {
	ctx := context.Background()
	version := func(account, name, v string) Function {
		f := accountFn(account, name)
		f.Version = v
		return f
	}
	t.Run("machine", func(t *testing.T) {
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{MaxInstances: 4})
		if b := e.Budgets(); b.MaxProvisioned != 2 {
			t.Fatalf("MaxProvisioned with 4 instances = %d, want half, 2", b.MaxProvisioned)
		}
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "1"), 2); err != nil {
			t.Fatalf("provisioning 2 of a budget of 2: %v", err)
		}
		err := e.SetProvisionedConcurrency(ctx, version(acctB, "g", "1"), 1)
		if !errors.Is(err, ErrCapacity) || !strings.Contains(err.Error(), "limited to 2 instances") {
			t.Errorf("provisioning past the machine's budget = %v, want ErrCapacity naming the budget", err)
		}
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "1"), 1); err != nil {
			t.Errorf("lowering provisioned concurrency: %v", err)
		}
		if err := e.SetProvisionedConcurrency(ctx, version(acctB, "g", "1"), 1); err != nil {
			t.Errorf("provisioning into the room lowering freed: %v", err)
		}
	})
	t.Run("account", func(t *testing.T) {
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{MaxInstances: 64, AccountConcurrency: 10})
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "1"), 5); err != nil {
			t.Fatal(err)
		}
		// 5 + 5 leaves less than the unreserved floor of 1.
		var apiErr *APIError
		err := e.SetProvisionedConcurrency(ctx, version(acctA, "g", "1"), 5)
		if !errors.As(err, &apiErr) || apiErr.Type != "InvalidParameterValueException" ||
			!strings.Contains(apiErr.Message, "decreases account's UnreservedConcurrentExecution below its minimum value of [1]") {
			t.Errorf("provisioning past the account's unreserved concurrency = %v, want Lambda's InvalidParameterValueException", err)
		}
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "g", "1"), 4); err != nil {
			t.Errorf("provisioning up to the floor: %v", err)
		}
		// Reserving now must leave room for what is provisioned.
		three := 3
		if err := e.SetReservedConcurrency(acctA, "h", &three); err == nil {
			t.Error("reserving 3 with 9 of 10 provisioned left the account under its floor")
		}
	})
	t.Run("reserved", func(t *testing.T) {
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{MaxInstances: 64, AccountConcurrency: 10})
		three := 3
		if err := e.SetReservedConcurrency(acctA, "f", &three); err != nil {
			t.Fatal(err)
		}
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "1"), 2); err != nil {
			t.Fatal(err)
		}
		var apiErr *APIError
		err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "2"), 2)
		if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, "reservedConcurrentExecution for function (3)") {
			t.Errorf("versions provisioned past the reservation = %v, want Lambda's refusal", err)
		}
	})
	t.Run("none", func(t *testing.T) {
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{MaxInstances: 4, MaxProvisioned: -1})
		if err := e.SetProvisionedConcurrency(ctx, version(acctA, "f", "1"), 1); !errors.Is(err, ErrCapacity) {
			t.Errorf("provisioning with MaxProvisioned < 0 = %v, want ErrCapacity", err)
		}
	})
}

// The CPU and disk budgets hold instances back like the instance cap, and
// an instance larger than a whole budget is refused at once.
func TestCPUAndDiskBudgets(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		edit func(*Function)
	}{
		// 128 MB is 0.072 vCPU: two fit in 0.2, not three.
		{"cpu", Config{HostCPUs: 0.2}, func(*Function) {}},
		// Two default 512 MB /tmps fit in 1,024 MB, not three.
		{"disk", Config{DiskBudgetMB: 1024}, func(*Function) {}},
		{"memory", Config{HostMemoryMB: 2048}, func(f *Function) { f.MemoryMB = 1000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb := newHoldBackend()
			tt.cfg.CapacityWait = 50 * time.Millisecond
			e := newTestEngine(t, hb, tt.cfg)
			fn := accountFn(acctA, "f")
			tt.edit(&fn)
			one, two := goInvoke(e, fn, `{"hold":"1"}`), goInvoke(e, fn, `{"hold":"2"}`)
			eventually(t, "two instances", func() bool { return hb.isRunning("1") && hb.isRunning("2") })
			other := accountFn(acctB, "g")
			tt.edit(&other)
			_, err := e.Invoke(context.Background(), InvokeInput{Function: other})
			if !errors.Is(err, ErrCapacity) {
				t.Errorf("third instance over the %s budget = %v, want ErrCapacity", tt.name, err)
			}
			hb.release("1")
			hb.release("2")
			if err := errors.Join(<-one, <-two); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Invoke(context.Background(), InvokeInput{Function: other}); err != nil {
				t.Errorf("invoke once the budget has room: %v", err)
			}
		})
	}
	t.Run("too big", func(t *testing.T) {
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{DiskBudgetMB: 1024, HostMemoryMB: 4096, CapacityWait: time.Minute})
		fn := accountFn(acctA, "f")
		fn.EphemeralMB = 2048
		if _, err := e.Invoke(context.Background(), InvokeInput{Function: fn}); !errors.Is(err, ErrCapacity) || !strings.Contains(err.Error(), "2048 MB") {
			t.Errorf("a /tmp larger than the disk budget = %v, want ErrCapacity at once", err)
		}
		fn = accountFn(acctA, "f")
		fn.MemoryMB = 8192
		if _, err := e.Invoke(context.Background(), InvokeInput{Function: fn}); !errors.Is(err, ErrCapacity) {
			t.Errorf("memory larger than the machine's budget = %v, want ErrCapacity at once", err)
		}
	})
	t.Run("cpu charge capped", func(t *testing.T) {
		// 10,240 MB asks 5.8 vCPUs; on a 2-vCPU budget it still runs alone.
		e := newTestEngine(t, &fakeBackend{invoke: echo}, Config{HostCPUs: 2})
		fn := accountFn(acctA, "f")
		fn.MemoryMB = 10240
		if _, err := e.Invoke(context.Background(), InvokeInput{Function: fn}); err != nil {
			t.Errorf("the largest function on an empty machine: %v", err)
		}
	})
}

func TestWaterFill(t *testing.T) {
	tests := []struct {
		capacity float64
		demands  []float64
		want     []float64
	}{
		{16, []float64{10, 10, 1}, []float64{7.5, 7.5, 1}},
		{16, []float64{10, 3}, []float64{10, 3}},
		{6, []float64{1, 1, 10}, []float64{1, 1, 4}},
		{3, []float64{5, 5, 5}, []float64{1, 1, 1}},
	}
	for _, tt := range tests {
		u := map[string]*usage{}
		for i, d := range tt.demands {
			u[string(rune('a'+i))] = &usage{held: int(d)}
		}
		waterFill(u, tt.capacity, func(x *usage) float64 { return float64(x.held) }, func(x *usage, s float64) { x.share = s })
		for i := range tt.demands {
			if got := u[string(rune('a'+i))].share; got != tt.want[i] {
				t.Errorf("waterFill(%v, %v): share %d = %v, want %v", tt.capacity, tt.demands, i, got, tt.want[i])
			}
		}
	}
}

func TestFreeDiskMB(t *testing.T) {
	mb, err := FreeDiskMB(t.TempDir())
	if err != nil || mb <= 0 {
		t.Errorf("FreeDiskMB(temp dir) = %d, %v; want some free space", mb, err)
	}
	if _, err := FreeDiskMB("/no/such/dir"); err == nil {
		t.Error("FreeDiskMB of a missing folder succeeded")
	}
}

// A burst from an account that has its share does not evict neighbours'
// recently used warm instances (they are demand: a learner between two
// invokes); once they have been idle past recentIdle they are room again.
func TestBurstKeepsNeighboursWarm(t *testing.T) {
	hb := newHoldBackend()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	e := newTestEngine(t, hb, Config{MaxInstances: 3, CapacityWait: 100 * time.Millisecond,
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	neighbours := []Function{accountFn(acctB, "b"), accountFn(acctC, "c")}
	for _, fn := range neighbours {
		if _, err := e.Invoke(context.Background(), InvokeInput{Function: fn}); err != nil {
			t.Fatal(err)
		}
	}
	hog := accountFn(acctA, "hog")
	h1 := goInvoke(e, hog, `{"hold":"h1"}`)
	eventually(t, "the hog's first invoke to take the free instance", func() bool { return hb.isRunning("h1") })
	if err := <-goInvoke(e, hog, `{"hold":"h2"}`); !errors.Is(err, ErrCapacity) {
		t.Errorf("hog's second instance while its neighbours are warm = %v, want ErrCapacity", err)
	}
	for _, fn := range neighbours {
		res, err := e.Invoke(context.Background(), InvokeInput{Function: fn})
		if err != nil || res.Cold {
			t.Errorf("neighbour %s after the burst: err %v, cold %v; want its warm instance", fn.AccountID, err, res != nil && res.Cold)
		}
	}
	now.Add(int64(recentIdle + time.Second))
	h2 := goInvoke(e, hog, `{"hold":"h2"}`)
	eventually(t, "the hog to get an instance idle past recentIdle", func() bool { return hb.isRunning("h2") })
	hb.release("h1")
	hb.release("h2")
	if err := errors.Join(<-h1, <-h2); err != nil {
		t.Error(err)
	}
}

// TestLateralMoveWaitsForResidency: an idle instance an account used just
// now does not go to another account that would then hold just as much
// (one each) until its residency ends, and then it does, with nothing else
// happening on the machine to wake the waiter.
func TestLateralMoveWaitsForResidency(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hb := newHoldBackend()
	e := newTestEngine(t, hb, Config{MaxInstances: 1, CapacityWait: time.Minute, Now: clock})
	if err := <-goInvoke(e, accountFn(acctA, "f"), `{}`); err != nil {
		t.Fatal(err)
	}
	b := goInvoke(e, accountFn(acctB, "g"), `{"hold":"b"}`)
	eventually(t, "B's invoke to wait", func() bool { return e.waiting() == 1 })
	time.Sleep(300 * time.Millisecond)
	if hb.isRunning("b") {
		t.Fatal("B took A's instance within its residency: a move that only churns")
	}
	mu.Lock()
	now = now.Add(minResidency + time.Second)
	mu.Unlock()
	eventually(t, "B to get A's room once A's residency ended", func() bool { return hb.isRunning("b") })
	hb.release("b")
	if err := <-b; err != nil {
		t.Fatal(err)
	}
}
