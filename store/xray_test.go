package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func xraySeg(acct, trace, id string, start time.Time, doc string) XRaySegment {
	return XRaySegment{AccountID: acct, TraceID: trace, ID: id, Name: "fn", Start: start, End: start.Add(time.Millisecond), Doc: []byte(doc)}
}

func traceID(n int) string { return fmt.Sprintf("1-5759e988-%024x", n) }

func TestXRayPutAndRead(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	child := xraySeg(a.ID, traceID(1), "00000000000000c1", t0.Add(2*time.Millisecond), `{"child":1}`)
	child.Subsegment, child.ParentID, child.Annotations, child.Fault = true, "00000000000000a1", `{"k":"v"}`, true
	segs := []XRaySegment{
		child, // before its parent
		xraySeg(a.ID, traceID(1), "00000000000000a1", t0, `{"parent":1}`),
		xraySeg(b.ID, traceID(2), "00000000000000b1", t0, `{"b":1}`),
		xraySeg("999999999999", traceID(3), "00000000000000d1", t0, `{"nobody":1}`),
	}
	n, err := db.PutXRaySegments(ctx, segs, XRayLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("stored %d, want 3 (the unknown account's skipped)", n)
	}
	got, err := db.XRaySegments(ctx, a.ID, []string{traceID(1), traceID(2)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != child.ID || string(got[0].Doc) != `{"child":1}` || !got[0].Subsegment ||
		got[0].ParentID != child.ParentID || got[0].Annotations != `{"k":"v"}` || !got[0].Fault || !got[0].Start.Equal(child.Start) {
		t.Errorf("account A's segments = %+v", got)
	}
	// Account B never sees A's trace, even by id.
	if got, _ := db.XRaySegments(ctx, b.ID, []string{traceID(1)}, true); len(got) != 0 {
		t.Errorf("account B read A's trace: %+v", got)
	}
	list, err := db.XRayTraces(ctx, a.ID, t0.Add(-time.Hour), t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TraceID != traceID(1) || list[0].Segments != 2 || !list[0].Start.Equal(t0) ||
		!list[0].End.Equal(t0.Add(3*time.Millisecond)) || list[0].Bytes != int64(len(`{"child":1}`)+len(`{"parent":1}`)) {
		t.Errorf("traces of A = %+v", list)
	}
	if list, _ := db.XRayTraces(ctx, a.ID, t0.Add(time.Minute), t0.Add(time.Hour), 0); len(list) != 0 {
		t.Errorf("traces of A after its start: %+v", list)
	}
}

func TestXRayReplaceKeepsUsage(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, _ := db.CreateScratchAccount(ctx)
	t0 := time.Now()
	partial := xraySeg(a.ID, traceID(1), "00000000000000a1", t0, `{"in_progress":true}`)
	partial.InProgress = true
	complete := xraySeg(a.ID, traceID(1), "00000000000000a1", t0, `{"end_time":1}`)
	late := partial // an in-progress copy arriving after the complete one
	for _, s := range []XRaySegment{partial, complete, late} {
		if _, err := db.PutXRaySegments(ctx, []XRaySegment{s}, XRayLimits{}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := db.XRaySegments(ctx, a.ID, []string{traceID(1)}, true)
	if len(got) != 1 || string(got[0].Doc) != `{"end_time":1}` || got[0].InProgress {
		t.Errorf("after in-progress, complete, in-progress: %+v", got)
	}
	traces, bytes, err := db.XRayUsage(ctx, a.ID)
	if err != nil || traces != 1 || bytes != int64(len(`{"end_time":1}`)) {
		t.Errorf("usage = %d traces, %d bytes, %v; want 1, %d", traces, bytes, err, len(`{"end_time":1}`))
	}
}

func TestXRayLimitsDropOldest(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, _ := db.CreateScratchAccount(ctx)
	b, _, _ := db.CreateScratchAccount(ctx)
	t0 := time.Now()
	lim := XRayLimits{MaxTraces: 3, MaxBytes: 1000}
	for i := 1; i <= 5; i++ {
		// Later traces start earlier: the oldest is the first to arrive,
		// not the one with the earliest start.
		s := xraySeg(a.ID, traceID(i), "00000000000000a1", t0.Add(-time.Duration(i)*time.Second), "{}")
		if _, err := db.PutXRaySegments(ctx, []XRaySegment{s, xraySeg(b.ID, traceID(i), "00000000000000b1", t0, "{}")}, lim); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := db.XRayTraces(ctx, a.ID, t0.Add(-time.Hour), t0.Add(time.Hour), 0)
	var ids []string
	for _, tr := range list {
		ids = append(ids, tr.TraceID[len(tr.TraceID)-1:])
	}
	if strings.Join(ids, ",") != "3,4,5" {
		t.Errorf("after 5 traces with a cap of 3, A keeps %v, want 3,4,5 (newest start first)", ids)
	}
	if n, _, _ := db.XRayUsage(ctx, b.ID); n != 3 {
		t.Errorf("B keeps %d traces, want 3", n)
	}

	// The byte cap: one big trace pushes out the older ones.
	big := xraySeg(a.ID, traceID(9), "00000000000000a1", t0, strings.Repeat("x", 999))
	if _, err := db.PutXRaySegments(ctx, []XRaySegment{big}, lim); err != nil {
		t.Fatal(err)
	}
	traces, bytes, _ := db.XRayUsage(ctx, a.ID)
	if traces != 1 || bytes != 999 {
		t.Errorf("after a 999-byte trace with a 1000-byte cap: %d traces, %d bytes; want 1, 999", traces, bytes)
	}
	if got, _ := db.XRaySegments(ctx, a.ID, []string{traceID(3), traceID(9)}, false); len(got) != 1 || got[0].TraceID != traceID(9) || got[0].Doc != nil {
		t.Errorf("segments left: %+v", got)
	}
}

func TestXRayGoesWithAccount(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, _ := db.CreateScratchAccount(ctx)
	if _, err := db.PutXRaySegments(ctx, []XRaySegment{xraySeg(a.ID, traceID(1), "00000000000000a1", time.Now(), "{}")}, XRayLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	db.conn.QueryRow("SELECT (SELECT count(*) FROM xray_traces) + (SELECT count(*) FROM xray_segments) + (SELECT count(*) FROM xray_usage)").Scan(&n)
	if n != 0 {
		t.Errorf("%d X-Ray rows left after the account was deleted", n)
	}
}

func TestXRayRefusesEmptyKeys(t *testing.T) {
	db := newTestDB(t)
	_, err := db.PutXRaySegments(context.Background(), []XRaySegment{{AccountID: "111111111111", TraceID: traceID(1)}}, XRayLimits{})
	if err == nil {
		t.Error("a segment without an id was accepted")
	}
}

// TestXRaySkipsWhatIsNotText: a document whose fields are not text
// PostgreSQL keeps is left out of its batch on every engine, and the
// batch's other documents, other learners' among them, are stored.
func TestXRaySkipsWhatIsNotText(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, _ := db.CreateScratchAccount(ctx)
	b, _, _ := db.CreateScratchAccount(ctx)
	t0 := time.Now()
	nul := xraySeg(a.ID, traceID(1), "00000000000000a1", t0, `{"name":"a\u0000b"}`)
	nul.Name = "a\x00b"
	bad := xraySeg(a.ID, traceID(2), "00000000000000a2", t0, "{}")
	bad.HTTPURL = "http://x/\xff"
	good := xraySeg(a.ID, traceID(1), "00000000000000a3", t0, "{}")
	other := xraySeg(b.ID, traceID(3), "00000000000000b1", t0, "{}")
	n, err := db.PutXRaySegments(ctx, []XRaySegment{nul, bad, good, other}, XRayLimits{})
	if err != nil || n != 2 {
		t.Fatalf("PutXRaySegments = %d, %v; want 2 stored", n, err)
	}
	got, err := db.XRaySegments(ctx, a.ID, []string{traceID(1), traceID(2), "1-5759e988-\xff"}, false)
	if err != nil || len(got) != 1 || got[0].ID != good.ID {
		t.Errorf("A's segments = %+v, %v; want only %s", got, err, good.ID)
	}
	if traces, bytes, _ := db.XRayUsage(ctx, a.ID); traces != 1 || bytes != 2 {
		t.Errorf("A's usage = %d traces, %d bytes; want 1, 2", traces, bytes)
	}
	if got, _ := db.XRaySegments(ctx, b.ID, []string{traceID(3)}, false); len(got) != 1 {
		t.Errorf("B's segments = %+v", got)
	}
}
