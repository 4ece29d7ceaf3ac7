package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "s@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 40 {
		t.Errorf("token %d characters; want at least 40 (256 bits)", len(tok))
	}
	tok2, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Error("two sessions got the same token")
	}
	got, err := db.SessionUser(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got != u {
		t.Errorf("SessionUser = %+v, want %+v", got, u)
	}
	// A cookie may hold any bytes; only their hash reaches the database.
	for _, bad := range []string{"", "nonsense", tok + "x", tok[:len(tok)-1], tok + "\xff", "\x00"} {
		if _, err := db.SessionUser(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("SessionUser(%q) = %v, want ErrNotFound", bad, err)
		}
	}

	if err := db.DeleteSession(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted session still answers: %v", err)
	}
	if err := db.DeleteSession(ctx, tok); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := db.SessionUser(ctx, tok2); err != nil {
		t.Errorf("deleting one session ended the other: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "s@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	short, err := db.CreateSession(ctx, u.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	long, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Minute - time.Nanosecond)
	if _, err := db.SessionUser(ctx, short); err != nil {
		t.Errorf("session expired early: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := db.SessionUser(ctx, short); !errors.Is(err, ErrNotFound) {
		t.Errorf("SessionUser at expiry = %v, want ErrNotFound", err)
	}
	if _, err := db.SessionUser(ctx, long); err != nil {
		t.Errorf("long session: %v", err)
	}

	n, err := db.DeleteExpiredSessions(ctx)
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	n, err = db.DeleteExpiredSessions(ctx)
	if err != nil || n != 0 {
		t.Errorf("second DeleteExpiredSessions = %d, %v; want 0", n, err)
	}
	if _, err := db.SessionUser(ctx, long); err != nil {
		t.Errorf("DeleteExpiredSessions removed a live session: %v", err)
	}
}

func TestCreateSessionBadInput(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	if _, err := db.CreateSession(ctx, 42, time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateSession(unknown user) = %v, want ErrNotFound", err)
	}
	u, err := db.CreateUser(ctx, "s@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := db.CreateSession(ctx, u.ID, ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateSession(ttl %v) = %v, want ErrInvalid", ttl, err)
		}
	}
}

// TestSessionTokenNotStored checks that the table holds only the token's
// hash: a stolen database file must not contain live cookies.
func TestSessionTokenNotStored(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "s@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := db.conn.QueryRowContext(ctx, "SELECT token_hash FROM sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(tok)) || len(stored) != 32 {
		t.Errorf("stored %d bytes %x; want the 32-byte SHA-256, not the token", len(stored), stored)
	}
	if !bytes.Equal(stored, hashToken(tok)) {
		t.Error("stored value is not the token's SHA-256")
	}
}

// sessionExpiry reads a session's stored end, to see whether a use wrote.
func sessionExpiry(t *testing.T, db *DB, token string) time.Time {
	t.Helper()
	var ns int64
	if err := db.conn.QueryRowContext(context.Background(), "SELECT expires_at FROM sessions WHERE token_hash = $1", hashToken(token)).Scan(&ns); err != nil {
		t.Fatalf("read expires_at: %v", err)
	}
	return fromNanos(ns)
}

func TestUseSessionIdle(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "s@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	const lifetime, idle = 10 * time.Hour, 2 * time.Hour
	start := clock.Now()
	tok, err := db.CreateSession(ctx, u.ID, idle)
	if err != nil {
		t.Fatal(err)
	}

	// Used within a minute of the last write: nothing is written.
	clock.Advance(30 * time.Second)
	if _, err := db.UseSession(ctx, tok, lifetime, idle); err != nil {
		t.Fatal(err)
	}
	if got, want := sessionExpiry(t, db, tok), start.Add(idle); !got.Equal(want) {
		t.Errorf("after a use 30s in, expires_at = %v, want it unchanged at %v", got, want)
	}

	// Used an hour in: the idle deadline moves to two hours from then.
	clock.Advance(time.Hour - 30*time.Second)
	if _, err := db.UseSession(ctx, tok, lifetime, idle); err != nil {
		t.Fatal(err)
	}
	if got, want := sessionExpiry(t, db, tok), start.Add(time.Hour+idle); !got.Equal(want) {
		t.Errorf("after a use 1h in, expires_at = %v, want %v", got, want)
	}

	// Kept busy, it still ends at the lifetime.
	for i := 0; i < 12; i++ {
		clock.Advance(time.Hour)
		if _, err := db.UseSession(ctx, tok, lifetime, idle); err != nil {
			if clock.Now().Before(start.Add(lifetime)) {
				t.Fatalf("busy session ended at %v, before its lifetime: %v", clock.Now().Sub(start), err)
			}
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("UseSession past lifetime = %v, want ErrNotFound", err)
			}
			break
		}
		if !clock.Now().Before(start.Add(lifetime)) {
			t.Fatalf("session still live %v after sign-in, lifetime %v", clock.Now().Sub(start), lifetime)
		}
	}

	// Left alone, another session ends after idle.
	clock2 := clock.Now()
	tok2, err := db.CreateSession(ctx, u.ID, idle)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(idle - time.Second)
	if _, err := db.UseSession(ctx, tok2, lifetime, idle); err != nil {
		t.Fatalf("session ended before its idle timeout: %v", err)
	}
	clock.Advance(idle)
	if _, err := db.UseSession(ctx, tok2, lifetime, idle); !errors.Is(err, ErrNotFound) {
		t.Errorf("UseSession %v after the last use = %v, want ErrNotFound", clock.Now().Sub(clock2)-idle+time.Second, err)
	}
}

func TestDeleteUserSessions(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "a@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateUser(ctx, "b@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	var toks []string
	for range 3 {
		tok, err := db.CreateSession(ctx, u.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	otherTok, err := db.CreateSession(ctx, other.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteUserSessions(ctx, u.ID, toks[1])
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions(keep one of 3) = %d, %v; want 2", n, err)
	}
	for i, tok := range toks {
		_, err := db.SessionUser(ctx, tok)
		if i == 1 && err != nil {
			t.Errorf("kept session ended: %v", err)
		}
		if i != 1 && !errors.Is(err, ErrNotFound) {
			t.Errorf("session %d survived: %v", i, err)
		}
	}
	if n, err := db.DeleteUserSessions(ctx, u.ID, ""); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions(keep none) = %d, %v; want 1", n, err)
	}
	if _, err := db.SessionUser(ctx, otherTok); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "a@example.com", "old", false)
	if err != nil {
		t.Fatal(err)
	}
	here, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.ChangePassword(ctx, u.ID, "new", here); err != nil || n != 1 {
		t.Fatalf("ChangePassword = %d, %v; want 1 session ended", n, err)
	}
	got, err := db.UserByID(ctx, u.ID)
	if err != nil || got.PasswordHash != "new" {
		t.Errorf("hash after ChangePassword = %q, %v; want new", got.PasswordHash, err)
	}
	if _, err := db.SessionUser(ctx, here); err != nil {
		t.Errorf("the changing session ended: %v", err)
	}
	if _, err := db.SessionUser(ctx, elsewhere); !errors.Is(err, ErrNotFound) {
		t.Errorf("another session survived the change: %v", err)
	}
	if _, err := db.ChangePassword(ctx, 999, "x", here); !errors.Is(err, ErrNotFound) {
		t.Errorf("ChangePassword(999) = %v, want ErrNotFound", err)
	}
	for _, h := range []string{"", "x\xff", "x\x00"} {
		if _, err := db.ChangePassword(ctx, u.ID, h, here); !errors.Is(err, ErrInvalid) {
			t.Errorf("ChangePassword(hash %q) = %v, want ErrInvalid", h, err)
		}
	}
	if got, _ := db.UserByID(ctx, u.ID); got.PasswordHash != "new" {
		t.Errorf("a refused change altered the hash to %q", got.PasswordHash)
	}
}
