package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreateInviteChecksAndHidesCode(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	teacher := mustUser(t, db, "teacher@example.edu")
	for _, n := range []NewInvite{
		{MaxUses: -1},
		{MaxUses: MaxInviteUses + 1},
		{ExpiresAt: time.Now().Add(-time.Minute)},
		{Note: strings.Repeat("x", maxInviteNote+1)},
		{Note: "section \xff"},
		{Note: "section \x00"},
	} {
		if _, _, err := db.CreateInvite(ctx, n); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateInvite(%+v) = %v, want ErrInvalid", n, err)
		}
	}
	inv, code, err := db.CreateInvite(ctx, NewInvite{Note: " section A ", MaxUses: 2, CreatedBy: teacher.ID})
	if err != nil {
		t.Fatal(err)
	}
	// rand.Text: 26 base32 characters, 130 bits.
	if len(code) != 26 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("code %q is not 26 characters of [A-Z2-7]", code)
	}
	// Only the code's hash is kept: read back in Go, as the engines differ
	// in how a BYTEA or BLOB compares with text.
	var stored []byte
	if err := db.conn.QueryRowContext(ctx, "SELECT code_hash FROM invites WHERE id = $1", inv.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(code)) || !bytes.Equal(stored, hashToken(code)) {
		t.Errorf("stored code_hash %x, want only the SHA-256 of the code, %x", stored, hashToken(code))
	}
	list, err := db.Invites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != inv.ID || list[0].Note != "section A" || list[0].UsesLeft() != 2 || !list[0].Usable(time.Now()) {
		t.Errorf("Invites = %+v, want the one invite, note trimmed, 2 uses left", list)
	}
}

func TestCreateInvitedUser(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	clock := newFakeClock()
	db.now = clock.Now

	// The first user needs no invite and becomes the instructor.
	first, err := db.CreateInvitedUser(ctx, "teacher@example.edu", "h", "")
	if err != nil || first.Role != RoleInstructor {
		t.Fatalf("first user = %+v, %v; want an instructor", first, err)
	}
	if _, err := db.CreateInvitedUser(ctx, "nobody@example.edu", "h", ""); !errors.Is(err, ErrInviteUnusable) {
		t.Errorf("no code: %v, want ErrInviteUnusable", err)
	}
	if _, err := db.CreateInvitedUser(ctx, "guess@example.edu", "h", "AAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrInviteUnusable) {
		t.Errorf("unknown code: %v, want ErrInviteUnusable", err)
	}
	one, code, err := db.CreateInvite(ctx, NewInvite{MaxUses: 1, ExpiresAt: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := db.InviteUsable(ctx, code); !ok || err != nil {
		t.Errorf("InviteUsable(new code) = %v, %v; want true", ok, err)
	}
	// Typed in lower case with spaces around, as a person might.
	u, err := db.CreateInvitedUser(ctx, "ann@example.edu", "h", "  "+strings.ToLower(code)+" ")
	if err != nil || u.Role != RoleStudent {
		t.Fatalf("with invite: %+v, %v; want a student", u, err)
	}
	if ok, _ := db.InviteUsable(ctx, code); ok {
		t.Error("InviteUsable(used-up code) = true")
	}
	if _, err := db.CreateInvitedUser(ctx, "bob@example.edu", "h", code); !errors.Is(err, ErrInviteUnusable) {
		t.Errorf("used up: %v, want ErrInviteUnusable", err)
	}
	if _, err := db.UserByEmail(ctx, "bob@example.edu"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused sign-up left a user: %v", err)
	}
	list, _ := db.Invites(ctx)
	if len(list) != 1 || list[0].Uses != 1 || list[0].UsesLeft() != 0 || !slices.Equal(list[0].UsedBy, []string{"ann@example.edu"}) {
		t.Errorf("after one use: %+v", list)
	}

	_, open, _ := db.CreateInvite(ctx, NewInvite{ExpiresAt: clock.Now().Add(time.Hour)})
	clock.Advance(time.Hour)
	if _, err := db.CreateInvitedUser(ctx, "late@example.edu", "h", open); !errors.Is(err, ErrInviteUnusable) {
		t.Errorf("expired: %v, want ErrInviteUnusable", err)
	}
	rev, revCode, _ := db.CreateInvite(ctx, NewInvite{})
	if err := db.RevokeInvite(ctx, rev.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateInvitedUser(ctx, "rev@example.edu", "h", revCode); !errors.Is(err, ErrInviteUnusable) {
		t.Errorf("revoked: %v, want ErrInviteUnusable", err)
	}
	if err := db.RevokeInvite(ctx, one.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
}

// TestInviteLastUseUnderConcurrency races many sign-ups for an invite with
// three uses: exactly three accounts are made, and the invite counts three.
func TestInviteLastUseUnderConcurrency(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	mustUser(t, db, "teacher@example.edu")
	inv, code, err := db.CreateInvite(ctx, NewInvite{MaxUses: 3})
	if err != nil {
		t.Fatal(err)
	}
	const tries = 30
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		refused int
		other   []error
	)
	start := make(chan struct{})
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := db.CreateInvitedUser(ctx, fmt.Sprintf("s%d@example.edu", i), "h", code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInviteUnusable):
				refused++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok != 3 || refused != tries-3 || len(other) > 0 {
		t.Fatalf("%d sign-ups: %d made, %d refused, other errors %v; want 3 made", tries, ok, refused, other)
	}
	list, _ := db.Invites(ctx)
	if list[0].ID != inv.ID || list[0].Uses != 3 || len(list[0].UsedBy) != 3 {
		t.Errorf("invite after the race: %+v, want 3 uses by 3 users", list[0])
	}
	users, _ := db.Users(ctx)
	if len(users) != 4 {
		t.Errorf("%d users, want the teacher and 3 students", len(users))
	}
}

func TestCreateFirstUser(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	if has, _ := db.HasUsers(ctx); has {
		t.Fatal("a fresh database has users")
	}
	u, err := db.CreateFirstUser(ctx, "teacher@example.edu", "h")
	if err != nil || u.Role != RoleInstructor {
		t.Fatalf("first: %+v, %v", u, err)
	}
	if _, err := db.CreateFirstUser(ctx, "second@example.edu", "h"); !errors.Is(err, ErrSignupClosed) {
		t.Errorf("second: %v, want ErrSignupClosed", err)
	}
	if has, _ := db.HasUsers(ctx); !has {
		t.Error("HasUsers after a sign-up = false")
	}
}

// userScoped are the tables with a user_id column.
func userScoped(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	for _, name := range schemaTables(t, db) {
		if slices.Contains(schemaColumns(t, db, name), "user_id") {
			out = append(out, name)
		}
	}
	return out
}

func TestDeleteStudent(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	teacher := mustUser(t, db, "teacher@example.edu")
	inv, code, _ := db.CreateInvite(ctx, NewInvite{})
	student, err := db.CreateInvitedUser(ctx, "ann@example.edu", "h", code)
	if err != nil {
		t.Fatal(err)
	}
	keep := mustUser(t, db, "bob@example.edu")
	acct := student.AccountID
	copyFixture(t, db, acct)
	copyFixture(t, db, keep.AccountID)
	token, err := db.CreateSession(ctx, student.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{student.ID, keep.ID} {
		if err := db.MarkLessonComplete(ctx, id, "intro"); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveQuizResult(ctx, QuizResult{UserID: id, Lesson: "intro", Quiz: "quiz-1", Score: 1, Total: 2}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordVisit(ctx, id, "intro"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateSubmission(ctx, Submission{UserID: id, Lab: "lab", Source: SourceDir}); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveDraftFile(ctx, DraftKey{UserID: id, Lab: "lab", Function: "fn"}, "app.py", []byte("x"), true); err != nil {
			t.Fatal(err)
		}
	}
	keepDigest := mustDigest(t, db, keep.AccountID)
	empty := mustDigest(t, db, "999999999999")
	if mustDigest(t, db, acct) == empty {
		t.Fatal("the fixture left the student's account empty")
	}

	if _, err := db.DeleteStudent(ctx, teacher.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleting the instructor: %v, want ErrInvalid", err)
	}
	got, err := db.DeleteStudent(ctx, student.ID)
	if err != nil || got.Email != student.Email {
		t.Fatalf("DeleteStudent = %+v, %v", got, err)
	}
	if _, err := db.DeleteStudent(ctx, student.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting again: %v, want ErrNotFound", err)
	}

	if d := mustDigest(t, db, acct); d != empty {
		t.Error("AccountDigest of the removed student's account is not that of an empty account")
	}
	for table := range accountScoped(t, db) {
		if slices.Contains(schemaColumns(t, db, table), "account_id") {
			if n := countAccountRows(t, db, table, acct); n != 0 {
				t.Errorf("%s has %d rows of the removed account", table, n)
			}
		}
	}
	for _, table := range userScoped(t, db) {
		var n int
		if err := db.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE user_id = $1", student.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows of the removed user", table, n)
		}
	}
	if _, err := db.SessionUser(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Errorf("the removed student's session: %v, want ErrNotFound", err)
	}
	// The other student keeps everything, and the invite its count.
	if d := mustDigest(t, db, keep.AccountID); d != keepDigest {
		t.Error("removing one student changed another's account")
	}
	p, err := db.Progress(ctx, keep.ID)
	if err != nil || len(p.Completed) != 1 || len(p.Quizzes) != 1 {
		t.Errorf("other student's progress = %+v, %v", p, err)
	}
	list, _ := db.Invites(ctx)
	if list[0].ID != inv.ID || list[0].Uses != 1 || len(list[0].UsedBy) != 0 {
		t.Errorf("invite after removal: %+v, want 1 use by nobody listed", list[0])
	}
}
