package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/store/storetest"
)

func sampleInvocation(acct, fn string, start time.Time) Invocation {
	return Invocation{
		RequestID:   "8f5e7f4c-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
		AccountID:   acct,
		Function:    fn,
		Version:     "$LATEST",
		InstanceID:  "i-0abc",
		Cold:        true,
		Start:       start,
		End:         start.Add(123456789 * time.Nanosecond),
		DurationMS:  123.46,
		BilledMS:    124,
		InitMS:      201.5,
		MemoryMB:    128,
		MaxMemoryMB: 41,
		Outcome:     "success",
		GBSeconds:   0.0155,
		CostUSD:     0.000000258,
	}
}

func TestInvocationsRoundTripAndFilter(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	base := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

	want := sampleInvocation("111111111111", "resize", base)
	want.Version, want.Outcome, want.ErrorType = "3", "error", "Runtime.ExitError"
	later := sampleInvocation("111111111111", "resize", base.Add(2*time.Second))
	later.Cold, later.InitMS, later.RequestID = false, 0, "second"
	// A record in the same second as want but inserted after it and earlier
	// in time: the listing is by start time, not by insert order.
	earlier := sampleInvocation("111111111111", "resize", base.Add(-time.Second))
	earlier.RequestID = "earlier"
	for _, inv := range []Invocation{
		want, later, earlier,
		sampleInvocation("222222222222", "resize", base),                 // other account
		sampleInvocation("111111111111", "resize-v2", base),              // other function
		sampleInvocation("111111111111", "resize", base.Add(-time.Hour)), // before since
	} {
		if err := db.InsertInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}

	got, err := db.Invocations(ctx, "111111111111", "resize", base.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Invocations returned %d records, want 3: %+v", len(got), got)
	}
	if got[0].RequestID != "earlier" || got[2].RequestID != "second" {
		t.Errorf("order = %s, %s, %s; want earlier, (want), second", got[0].RequestID, got[1].RequestID, got[2].RequestID)
	}
	if got[1] != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[1], want)
	}
	if got[2].Cold || got[2].InitMS != 0 {
		t.Errorf("warm invoke read back as %+v", got[2])
	}

	// since is inclusive.
	got, err = db.Invocations(ctx, "111111111111", "resize", base)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RequestID != want.RequestID {
		t.Errorf("since = start of one record: got %d records, want it and the later one", len(got))
	}
	got, err = db.Invocations(ctx, "333333333333", "resize", time.Time{})
	if err != nil || len(got) != 0 {
		t.Errorf("unknown account: %v, %v; want none", got, err)
	}
}

func TestInsertInvocationRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	start := time.Now()
	tests := []struct {
		name string
		edit func(*Invocation)
	}{
		{"no account", func(i *Invocation) { i.AccountID = "" }},
		{"no function", func(i *Invocation) { i.Function = "" }},
		{"no outcome", func(i *Invocation) { i.Outcome = "" }},
		{"no start", func(i *Invocation) { i.Start = time.Time{} }},
		{"error type not UTF-8", func(i *Invocation) { i.ErrorType = "Runtime.\xff" }},
		{"NUL in the version", func(i *Invocation) { i.Version = "1\x00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := sampleInvocation("111111111111", "f", start)
			tt.edit(&inv)
			if err := db.InsertInvocation(ctx, inv); !errors.Is(err, ErrInvalid) {
				t.Errorf("InsertInvocation = %v, want ErrInvalid", err)
			}
		})
	}
	if got, _ := db.Invocations(ctx, "111111111111", "f", time.Time{}); len(got) != 0 {
		t.Errorf("rejected records were stored: %d", len(got))
	}
}

// TestInvocationsUseIndex holds the promise that listing a function's
// invocations reads the index, not the whole table, and needs no sort.
func TestInvocationsUseIndex(t *testing.T) {
	if storetest.Engine() == "postgres" {
		postgresInvocationsUseIndex(t)
		return
	}
	ctx := context.Background()
	db := newTestDB(t)
	rows, err := db.conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+invocationsQuery, "1", "f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", all)
	if !strings.Contains(all, "invocations_account_function_start") {
		t.Errorf("query plan does not use the index:\n%s", all)
	}
	if strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("query plan sorts instead of reading in index order:\n%s", all)
	}
}

// postgresInvocationsUseIndex is TestInvocationsUseIndex on PostgreSQL,
// whose planner weighs costs: a few rows are sorted faster than they are
// read in index order. So the table gets rows of many functions and
// statistics, and sorting is priced out (enable_sort off, which leaves a
// Sort only where no plan can do without one): the plan must read the
// index, in its order.
func postgresInvocationsUseIndex(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	start := time.Now()
	for i := range 2000 {
		inv := sampleInvocation(fmt.Sprint(100000000000+i%20), fmt.Sprintf("f%d", i%7), start.Add(time.Duration(i)*time.Millisecond))
		if err := db.InsertInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.conn.ExecContext(ctx, "ANALYZE invocations"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL enable_sort = off"); err != nil {
		t.Fatal(err)
	}
	plan, err := queryStrings(ctx, tx, "EXPLAIN "+invocationsQuery, "100000000001", "f1", 0)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", all)
	if !strings.Contains(all, "invocations_account_function_start") || strings.Contains(all, "Seq Scan") {
		t.Errorf("query plan does not use the index:\n%s", all)
	}
	if strings.Contains(all, "Sort") {
		t.Errorf("query plan sorts instead of reading in index order:\n%s", all)
	}
}

// TestConcurrentWriters has 8 goroutines insert at once, as parallel
// invokes do, while others read; every insert must succeed (on SQLite by
// busy_timeout and WAL, on PostgreSQL by its own row-level concurrency).
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	const writers, each = 8, 100
	start := time.Now()
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				inv := sampleInvocation("111111111111", "burst", start.Add(time.Duration(w*each+i)*time.Microsecond))
				inv.RequestID = fmt.Sprintf("w%d-%d", w, i)
				if err := db.InsertInvocation(ctx, inv); err != nil {
					errs <- err
				}
				// Readers at the same time, as the charts would be.
				if i%10 == 0 {
					if _, err := db.Invocations(ctx, "111111111111", "burst", start); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	got, err := db.Invocations(ctx, "111111111111", "burst", start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Errorf("stored %d invocations, want %d", len(got), writers*each)
	}
}

// TestConcurrentDatabases has two DB handles (as two processes, or two
// replicas, would) write to one database at once.
func TestConcurrentDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := twoHandles(t)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i, db := range []*DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				if err := db.InsertInvocation(ctx, sampleInvocation("1", "f", time.Unix(int64(i*1000+j+1), 0))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write from two handles: %v", err)
	}
	got, err := a.Invocations(ctx, "1", "f", time.Time{})
	if err != nil || len(got) != 400 {
		t.Errorf("stored %d, %v; want 400", len(got), err)
	}
}

func BenchmarkInsertInvocation(b *testing.B) {
	ctx := context.Background()
	db := newTestDB(b)
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if err := db.InsertInvocation(ctx, sampleInvocation("111111111111", "f", start.Add(time.Duration(i)))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInsertInvocationParallel(b *testing.B) {
	ctx := context.Background()
	db := newTestDB(b)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.InsertInvocation(ctx, sampleInvocation("111111111111", "f", start)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSessionUser(b *testing.B) {
	ctx := context.Background()
	db := newTestDB(b)
	tok := benchSession(b, db)
	b.ResetTimer()
	for range b.N {
		if _, err := db.SessionUser(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionUserParallel(b *testing.B) {
	ctx := context.Background()
	db := newTestDB(b)
	tok := benchSession(b, db)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.SessionUser(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchSession makes a session among 1,000 others so the lookup is by index
// in a table of realistic size.
func benchSession(b *testing.B, db *DB) string {
	b.Helper()
	ctx := context.Background()
	var tok string
	for i := range 1000 {
		u, err := db.CreateUser(ctx, fmt.Sprintf("u%d@example.com", i), "h", false)
		if err != nil {
			b.Fatal(err)
		}
		if tok, err = db.CreateSession(ctx, u.ID, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return tok
}
