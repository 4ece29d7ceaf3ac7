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
	release, err := a.TryLock(ctx, "serve")
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
		release()
		if other, err = b.TryLock(ctx, "serve"); err != nil {
			t.Fatalf("TryLock after release: %v", err)
		}
	} else if err != nil {
		t.Fatalf("TryLock on SQLite: %v", err)
	}
	other()
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
	if _, err := a.TryLock(ctx, "serve"); err != nil {
		t.Fatal(err)
	}
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
	// The signal is sent at once; the session ends a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		release, err := b.TryLock(ctx, "serve")
		if err == nil {
			release()
			return
		}
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			t.Fatalf("TryLock after the holder went away: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
