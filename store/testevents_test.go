package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTestEvents: events round-trip per learner, lab and function; names
// are unique per function; another learner's id is not found; bad names,
// bodies that are not JSON or too large, and an eleventh event are refused.
func TestTestEvents(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	ann := mustUser(t, db, "ann@example.com")
	bob := mustUser(t, db, "bob@example.com")

	put, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: "s3-put", Body: `{"Records": []}`})
	if err != nil {
		t.Fatalf("CreateTestEvent: %v", err)
	}
	if put.ID == 0 || put.UpdatedAt.IsZero() {
		t.Errorf("created event %+v: want an id and a time", put)
	}
	if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: "s3-put", Body: `{}`}); !errors.Is(err, ErrExists) {
		t.Errorf("same name again: %v, want ErrExists", err)
	}
	// JSON to json.Valid, but not UTF-8: refused on both engines alike.
	if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: "latin1", Body: "{\"k\": \"caf\xe9\"}"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a body that is not UTF-8: %v, want ErrInvalid", err)
	}
	// The same name for another function, or for another learner, is fine.
	if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "other", Name: "s3-put", Body: `{}`}); err != nil {
		t.Errorf("same name for another function: %v", err)
	}
	if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: bob.ID, Lab: "s3-transform", Function: "mask-logs", Name: "s3-put", Body: `[1]`}); err != nil {
		t.Errorf("same name for another learner: %v", err)
	}

	got, err := db.TestEvents(ctx, ann.ID, "s3-transform", "mask-logs")
	if err != nil || len(got) != 1 || got[0].Body != `{"Records": []}` || got[0].Name != "s3-put" {
		t.Fatalf("TestEvents = %+v, %v; want the one event with its body kept byte for byte", got, err)
	}

	up, err := db.UpdateTestEvent(ctx, ann.ID, put.ID, "renamed", `{"a": 1}`)
	if err != nil || up.Name != "renamed" || up.Body != `{"a": 1}` {
		t.Errorf("UpdateTestEvent = %+v, %v", up, err)
	}
	if _, err := db.UpdateTestEvent(ctx, bob.ID, put.ID, "mine", `{}`); !errors.Is(err, ErrNotFound) {
		t.Errorf("another learner updates ann's event: %v, want ErrNotFound", err)
	}
	if _, err := db.TestEvent(ctx, bob.ID, put.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another learner reads ann's event: %v, want ErrNotFound", err)
	}
	if err := db.DeleteTestEvent(ctx, bob.ID, put.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another learner deletes ann's event: %v, want ErrNotFound", err)
	}

	for _, tt := range []struct{ name, body string }{
		{"", `{}`},
		{"has space", `{}`},
		{strings.Repeat("a", MaxTestEventName+1), `{}`},
		{"ok", `{"a": `},
		{"ok", `"` + strings.Repeat("x", MaxTestEventBody) + `"`},
	} {
		if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: tt.name, Body: tt.body}); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateTestEvent(%q, %.20q…) = %v, want ErrInvalid", tt.name, tt.body, err)
		}
	}

	for i := 1; i < MaxTestEvents; i++ {
		if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: fmt.Sprintf("e%d", i), Body: `{}`}); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	if _, err := db.CreateTestEvent(ctx, TestEvent{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", Name: "one-more", Body: `{}`}); !errors.Is(err, ErrTestEventLimit) {
		t.Errorf("event %d: %v, want ErrTestEventLimit", MaxTestEvents+1, err)
	}
	if err := db.DeleteTestEvent(ctx, ann.ID, put.ID); err != nil {
		t.Errorf("DeleteTestEvent: %v", err)
	}
	if _, err := db.TestEvent(ctx, ann.ID, put.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted event read back: %v, want ErrNotFound", err)
	}
}

// TestPowerTunings: the latest run comes back with its sizes; only the
// newest few are kept; runs are per learner.
func TestPowerTunings(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	ann := mustUser(t, db, "ann@example.com")
	bob := mustUser(t, db, "bob@example.com")
	if _, err := db.LatestPowerTuning(ctx, ann.ID, "s3-transform", "mask-logs"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no run yet: %v, want ErrNotFound", err)
	}
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range keptPowerTunings + 2 {
		p := PowerTuning{UserID: ann.ID, Lab: "s3-transform", Function: "mask-logs", EventName: fmt.Sprintf("run %d", i),
			CreatedAt: start.Add(time.Duration(i) * time.Minute),
			Sizes: []PowerTuningSize{{MemoryMB: 128, Runs: 4, ColdMS: 300, WarmMS: 20.5, CostUSD: 2.1e-7},
				{MemoryMB: 3008, Runs: 1, Failed: "busy"}}}
		if _, err := db.InsertPowerTuning(ctx, p); err != nil {
			t.Fatalf("InsertPowerTuning %d: %v", i, err)
		}
	}
	got, err := db.LatestPowerTuning(ctx, ann.ID, "s3-transform", "mask-logs")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("run %d", keptPowerTunings+1)
	if got.EventName != want || len(got.Sizes) != 2 || got.Sizes[0].WarmMS != 20.5 || got.Sizes[1].Failed != "busy" {
		t.Errorf("LatestPowerTuning = %+v, want %s with its two sizes", got, want)
	}
	var n int
	db.conn.QueryRowContext(ctx, "SELECT count(*) FROM power_tunings WHERE user_id = $1", ann.ID).Scan(&n)
	if n != keptPowerTunings {
		t.Errorf("%d runs kept, want %d", n, keptPowerTunings)
	}
	if _, err := db.LatestPowerTuning(ctx, bob.ID, "s3-transform", "mask-logs"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another learner's latest run: %v, want ErrNotFound", err)
	}
	if _, err := db.InsertPowerTuning(ctx, PowerTuning{UserID: bob.ID, Lab: "s3-transform", Function: "mask-logs",
		EventName: "the event box", Note: "stopped\x00early"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a note with a NUL: %v, want ErrInvalid", err)
	}
}

// TestLatestInvocations: newest first, bounded, one function only.
func TestLatestInvocations(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 30 {
		fn := "mask-logs"
		if i%3 == 0 {
			fn = "other"
		}
		if err := db.InsertInvocation(ctx, Invocation{RequestID: fmt.Sprintf("r%02d", i), AccountID: "111122223333", Function: fn,
			Version: "$LATEST", Start: start.Add(time.Duration(i) * time.Second), Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.LatestInvocations(ctx, "111122223333", "mask-logs", 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inv := range got {
		ids = append(ids, inv.RequestID)
	}
	if want := "r29 r28 r26 r25 r23"; strings.Join(ids, " ") != want {
		t.Errorf("LatestInvocations = %v, want %s", ids, want)
	}
}
