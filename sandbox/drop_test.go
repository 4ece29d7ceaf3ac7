package sandbox

import (
	"context"
	"testing"
	"time"
)

// waitUntil polls cond until it holds, failing after five seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDropAccount deletes an account's engine state while one of its
// invocations runs: its idle and provisioned instances close at once, the
// busy one when it finishes, its reservation goes, and another account
// keeps everything.
func TestDropAccount(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{}, 1)
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		if string(inv.Payload) == `{"hold":true}` {
			running <- struct{}{}
			<-release
		}
		return Outcome{Status: StatusSuccess, Payload: inv.Payload}
	}}
	e := newTestEngine(t, fb, Config{})
	ctx := context.Background()
	gone, kept := testFunction(), testFunction()
	gone.AccountID, kept.AccountID = "100000000001", "100000000002"
	n := 5
	for _, fn := range []Function{gone, kept} {
		if err := e.SetReservedConcurrency(fn.AccountID, fn.Name, &n); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Invoke(ctx, InvokeInput{Function: fn}); err != nil {
			t.Fatal(err)
		}
	}
	v1 := gone
	v1.Version = "1"
	if err := e.SetProvisionedConcurrency(ctx, v1, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "2 provisioned instances", func() bool { _, alloc := e.ProvisionedConcurrency(v1); return alloc == 2 })
	done := make(chan error, 1)
	go func() {
		res, err := e.Invoke(ctx, InvokeInput{Function: gone, Payload: []byte(`{"hold":true}`)})
		if err == nil && string(res.Payload) != `{"hold":true}` {
			t.Errorf("the held invocation answered %s", res.Payload)
		}
		done <- err
	}()
	<-running
	if got := len(e.Instances(gone.AccountID)); got != 2 {
		t.Fatalf("before the drop the account has %d idle instances, want the 2 provisioned", got)
	}
	_, closedBefore := fb.counts()

	e.DropAccount(ctx, gone.AccountID)
	if got := e.Instances(gone.AccountID); len(got) != 0 {
		t.Errorf("after the drop the account has instances %+v", got)
	}
	if _, closed := fb.counts(); closed != closedBefore+2 {
		t.Errorf("the drop closed %d instances, want the 2 idle provisioned ones", closed-closedBefore)
	}
	if _, ok := e.ReservedConcurrency(gone.AccountID, gone.Name); ok {
		t.Error("the dropped account's reservation is still there")
	}
	if req, alloc := e.ProvisionedConcurrency(v1); req != 0 || alloc != 0 {
		t.Errorf("the dropped account's provisioned concurrency is %d of %d, want none", alloc, req)
	}
	if r, ok := e.ReservedConcurrency(kept.AccountID, kept.Name); !ok || r != n {
		t.Errorf("the other account's reservation = %d, %v; want %d", r, ok, n)
	}
	if got := e.Instances(kept.AccountID); len(got) != 1 {
		t.Errorf("the other account has %d instances, want its 1", len(got))
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the invocation in flight at the drop: %v", err)
	}
	if _, closed := fb.counts(); closed != closedBefore+3 {
		t.Errorf("closed %d instances in all, want the busy one too once it finished", closed-closedBefore)
	}
	if got := e.Instances(gone.AccountID); len(got) != 0 {
		t.Errorf("the busy instance was parked after the drop: %+v", got)
	}
	if e.ConcurrencyInUse(gone.AccountID) != 0 {
		t.Errorf("the dropped account has %d invocations in flight", e.ConcurrencyInUse(gone.AccountID))
	}
	started, _ := fb.counts()
	// Nothing brings the provisioned instances back.
	time.Sleep(50 * time.Millisecond)
	if s, _ := fb.counts(); s != started {
		t.Errorf("%d instances started after the drop", s-started)
	}
}
