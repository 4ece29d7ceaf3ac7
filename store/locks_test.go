package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTryLock: on PostgreSQL a second handle on the same database is
// refused while the first holds the lock and gets it once released; on
// SQLite both succeed (the data folder's lock is what keeps a second
// process out there).
func TestTryLock(t *testing.T) {
	ctx := context.Background()
	a, b := twoHandles(t)
	held, err := a.TryLock(ctx, "serve")
	if err != nil {
		t.Fatalf("first TryLock: %v", err)
	}
	other, err := b.TryLock(ctx, "serve")
	if a.Engine() == "postgres" {
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second TryLock while held = %v, want ErrLocked", err)
		}
		if _, err := b.TryLock(ctx, "another name"); err != nil {
			t.Errorf("a lock of another name: %v", err)
		}
		held.Release()
		held.Release() // twice is harmless
		if other, err = b.TryLock(ctx, "serve"); err != nil {
			t.Fatalf("TryLock after release: %v", err)
		}
	} else if err != nil {
		t.Fatalf("TryLock on SQLite: %v", err)
	}
	other.Release()
	select {
	case <-other.Lost():
		t.Error("a released lock reports itself lost")
	default:
	}
}

// TestTryLockDiesWithItsHolder: when the holder's session ends (as a
// killed process's connection does) the lock is free again.
func TestTryLockDiesWithItsHolder(t *testing.T) {
	ctx := context.Background()
	target := testTarget(t)
	a, err := Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if a.Engine() != "postgres" {
		a.Close()
		t.Skip("SQLite's lock is the data folder's flock, tested in cloud/codepkg")
	}
	held, err := a.TryLock(ctx, "serve")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	b, err := Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.TryLock(ctx, "serve"); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while held = %v, want ErrLocked", err)
	}
	defer a.Close()
	// End the holder's session from outside, as the server does when its
	// client's socket closes.
	var ended bool
	if err := b.conn.QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&ended); err != nil || !ended {
		t.Fatalf("end the holder's session: %v %v", ended, err)
	}
	// The holder finds out, so it can stop doing what the lock guarded.
	select {
	case <-held.Lost():
	case <-time.After(5 * lockCheckEvery):
		t.Error("the holder was not told that its lock's session ended")
	}
	// The signal is sent at once; the session ends a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		other, err := b.TryLock(ctx, "serve")
		if err == nil {
			other.Release()
			return
		}
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			t.Fatalf("TryLock after the holder went away: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLockNotLostWhileHeld: a healthy session keeps its lock through
// several checks.
func TestLockNotLostWhileHeld(t *testing.T) {
	ctx := context.Background()
	a, _ := twoHandles(t)
	if a.Engine() != "postgres" {
		t.Skip("a SQLite lock has no session to check; runs in the PostgreSQL pass")
	}
	held, err := a.TryLock(ctx, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	select {
	case <-held.Lost():
		t.Fatal("a held lock was reported lost")
	case <-time.After(3 * lockCheckEvery):
	}
}

// TestController: the row is absent before the first controller, then
// holds the latest one.
func TestController(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	if _, err := db.Controller(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Controller before any = %v, want ErrNotFound", err)
	}
	first := Controller{Replica: "a:1", WebURL: "http://10.0.0.1:8080", AWSURL: "http://10.0.0.1:4566", Token: "t1", Since: time.Unix(100, 0)}
	second := Controller{Replica: "b:2", WebURL: "http://10.0.0.2:8080", Token: "t2", Since: time.Unix(200, 0)}
	for _, c := range []Controller{first, second} {
		if err := db.SetController(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Replica != "b:2" || got.WebURL != second.WebURL || got.AWSURL != "" || got.Token != "t2" || !got.Since.Equal(second.Since) {
		t.Errorf("Controller = %+v, want %+v", got, second)
	}
	if err := db.SetController(ctx, Controller{Replica: "x\x00", WebURL: "u", Token: "t"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetController with a NUL = %v, want ErrInvalid", err)
	}
}

// TestWaitLock: a waiter gets the lock when the holder releases it, and
// gives up when its context ends first.
func TestWaitLock(t *testing.T) {
	ctx := context.Background()
	a, b := twoHandles(t)
	held, err := a.TryLock(ctx, "wait")
	if err != nil {
		t.Fatal(err)
	}
	if a.Engine() != "postgres" {
		held.Release()
		got, err := b.WaitLock(ctx, "wait")
		if err != nil {
			t.Fatalf("WaitLock on SQLite: %v", err)
		}
		got.Release()
		return
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := b.WaitLock(short, "wait"); err == nil {
		t.Fatal("WaitLock got a lock that is held")
	}
	type result struct {
		l   *Lock
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := b.WaitLock(ctx, "wait")
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("WaitLock returned while the lock was held: %v", r.err)
	case <-time.After(300 * time.Millisecond):
	}
	held.Release()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("WaitLock after release: %v", r.err)
		}
		r.l.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("WaitLock did not return after the holder released")
	}
}
