package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var accountIDPattern = regexp.MustCompile(`^[1-9][0-9]{11}$`)

func TestCreateUserFirstBecomesInstructor(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now

	first, err := db.CreateUser(ctx, "first@example.com", "h1", false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Role != RoleInstructor {
		t.Errorf("first user role = %q, want instructor", first.Role)
	}
	second, err := db.CreateUser(ctx, "second@example.com", "h2", false)
	if err != nil {
		t.Fatal(err)
	}
	if second.Role != RoleStudent {
		t.Errorf("second user role = %q, want student", second.Role)
	}
	third, err := db.CreateUser(ctx, "third@example.com", "h3", true)
	if err != nil {
		t.Fatal(err)
	}
	if third.Role != RoleInstructor {
		t.Errorf("instructor=true gave role %q", third.Role)
	}
	if !first.CreatedAt.Equal(clock.Now()) {
		t.Errorf("CreatedAt = %v, want %v", first.CreatedAt, clock.Now())
	}

	// What was returned is what was stored.
	for _, want := range []User{first, second, third} {
		got, err := db.UserByID(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("UserByID(%d) = %+v, want %+v", want.ID, got, want)
		}
		if !accountIDPattern.MatchString(got.AccountID) {
			t.Errorf("account id %q is not 12 digits", got.AccountID)
		}
	}
	if first.AccountID == second.AccountID || second.AccountID == third.AccountID {
		t.Error("account ids repeat")
	}
}

// TestCreateUserFirstRuleIsAtomic races sign-ups on an empty database:
// exactly one of them may become the instructor.
func TestCreateUserFirstRuleIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	const n = 8
	users := make([]User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			users[i], errs[i] = db.CreateUser(ctx, fmt.Sprintf("u%d@example.com", i), "h", false)
		}()
	}
	wg.Wait()
	instructors := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("CreateUser %d: %v", i, errs[i])
		}
		if users[i].Role == RoleInstructor {
			instructors++
		}
	}
	if instructors != 1 {
		t.Errorf("%d concurrent first sign-ups made %d instructors, want 1", n, instructors)
	}
}

func TestCreateUserDuplicateEmail(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	if _, err := db.CreateUser(ctx, "Alice@Example.com", "h", false); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"Alice@Example.com", "alice@example.com", "  ALICE@EXAMPLE.COM "} {
		_, err := db.CreateUser(ctx, email, "h2", true)
		if !errors.Is(err, ErrEmailTaken) {
			t.Errorf("CreateUser(%q) = %v, want ErrEmailTaken", email, err)
		}
	}
	users, err := db.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].PasswordHash != "h" {
		t.Errorf("after duplicates, users = %+v; want the one original", users)
	}
}

func TestCreateUserRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	tests := []struct {
		name, email, hash string
	}{
		{"empty email", "", "h"},
		{"blank email", "   ", "h"},
		{"no at", "alice.example.com", "h"},
		{"display name", "Alice <alice@example.com>", "h"},
		{"two addresses", "a@example.com, b@example.com", "h"},
		{"too long", strings.Repeat("a", 250) + "@example.com", "h"},
		{"empty hash", "ok@example.com", ""},
		// PostgreSQL's text cannot hold these: refused on both engines.
		{"invalid UTF-8", "a\xffb@example.com", "h"},
		{"NUL", "a\x00b@example.com", "h"},
		{"hash not UTF-8", "ok@example.com", "h\xff"},
		{"hash with NUL", "ok@example.com", "h\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.CreateUser(ctx, tt.email, tt.hash, false)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateUser(%q, %q) = %v, want ErrInvalid", tt.email, tt.hash, err)
			}
		})
	}
	if users, _ := db.Users(ctx); len(users) != 0 {
		t.Errorf("bad input stored users: %+v", users)
	}
}

func TestUserLookups(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	for _, e := range []string{"carol@example.com", "Bob@example.com", "alice@example.com"} {
		if _, err := db.CreateUser(ctx, e, "h", false); err != nil {
			t.Fatal(err)
		}
	}
	u, err := db.UserByEmail(ctx, "BOB@EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "Bob@example.com" {
		t.Errorf("UserByEmail kept email %q, want it as entered, Bob@example.com", u.Email)
	}
	for _, e := range []string{"nobody@example.com", "bob\xff@example.com", "bob\x00@example.com"} {
		if _, err := db.UserByEmail(ctx, e); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByEmail(%q) = %v, want ErrNotFound", e, err)
		}
	}
	if _, err := db.UserByID(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByID(999) = %v, want ErrNotFound", err)
	}
	users, err := db.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Email)
	}
	if want := "alice@example.com Bob@example.com carol@example.com"; strings.Join(got, " ") != want {
		t.Errorf("Users order = %v, want %s", got, want)
	}
}

func TestUsersEmpty(t *testing.T) {
	users, err := newTestDB(t).Users(context.Background())
	if err != nil || len(users) != 0 {
		t.Errorf("Users on empty db = %v, %v", users, err)
	}
}

func TestSetPasswordHash(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "a@example.com", "old", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateUser(ctx, "b@example.com", "other", false)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := db.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := db.CreateSession(ctx, other.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetPasswordHash(ctx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	got, _ := db.UserByID(ctx, u.ID)
	if got.PasswordHash != "new" {
		t.Errorf("hash = %q, want new", got.PasswordHash)
	}
	if _, err := db.SessionUser(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Errorf("session survived a password change: %v", err)
	}
	if _, err := db.SessionUser(ctx, otherTok); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
	if err := db.SetPasswordHash(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPasswordHash(999) = %v, want ErrNotFound", err)
	}
	for _, h := range []string{"", "new\xff", "new\x00"} {
		if err := db.SetPasswordHash(ctx, u.ID, h); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPasswordHash(%q) = %v, want ErrInvalid", h, err)
		}
	}
}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if h == "correct horse" || !strings.HasPrefix(h, "$2") {
		t.Errorf("hash %q does not look like bcrypt", h)
	}
	if !CheckPassword(h, "correct horse") {
		t.Error("CheckPassword rejects the right password")
	}
	if CheckPassword(h, "correct horsE") {
		t.Error("CheckPassword accepts a wrong password")
	}
	if CheckPassword("not a hash", "correct horse") || CheckPassword("", "") {
		t.Error("CheckPassword accepts a malformed hash")
	}
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", ErrPasswordTooShort},
		{"seven", "1234567", ErrPasswordTooShort},
		{"seven runes, more bytes", "ééééééé", ErrPasswordTooShort},
		{"73 bytes", strings.Repeat("x", 73), ErrPasswordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := HashPassword(tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("HashPassword(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
	if _, err := HashPassword("plum 7 river"); err != nil {
		t.Errorf("HashPassword of exactly %d characters: %v", MinPasswordLen, err)
	}
}
