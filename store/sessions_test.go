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
	for _, bad := range []string{"", "nonsense", tok + "x", tok[:len(tok)-1]} {
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
