package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

func mustSend(t testing.TB, q *Queue, body string, delay time.Duration) string {
	t.Helper()
	id, err := q.Send(context.Background(), []byte(body), delay)
	if err != nil {
		t.Fatalf("Send(%q, %v): %v", body, delay, err)
	}
	return id
}

func mustReceive(t testing.TB, q *Queue) QueueMessage {
	t.Helper()
	m, ok, err := q.Receive(context.Background())
	if err != nil || !ok {
		t.Fatalf("Receive = %+v, %v, %v; want a message", m, ok, err)
	}
	return m
}

func mustReceiveNothing(t testing.TB, q *Queue) {
	t.Helper()
	m, ok, err := q.Receive(context.Background())
	if err != nil || ok {
		t.Fatalf("Receive = %+v, %v, %v; want nothing due", m, ok, err)
	}
}

func queueLen(t testing.TB, q *Queue) int {
	t.Helper()
	n, err := q.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// receiveWhenDue waits until the queue's next message is due, then receives
// it, retrying briefly: goqite's timestamps have millisecond precision.
// Nothing here asserts how long that took.
func receiveWhenDue(t testing.TB, q *Queue) QueueMessage {
	t.Helper()
	ctx := context.Background()
	due, ok, err := q.NextDue(ctx)
	if err != nil || !ok {
		t.Fatalf("NextDue = %v, %v, %v; want a time", due, ok, err)
	}
	time.Sleep(time.Until(due))
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, ok, err := q.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message 10s after it was due at %v", due)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueSendReceiveDelete(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	q := db.Queue("async", time.Hour)
	if n := queueLen(t, q); n != 0 {
		t.Fatalf("new queue Len = %d", n)
	}
	mustReceiveNothing(t, q)

	ids := []string{mustSend(t, q, "one", 0), mustSend(t, q, "two", 0), mustSend(t, q, "three", 0)}
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == "" {
		t.Fatalf("ids %v are not distinct", ids)
	}
	emptyID, err := q.Send(ctx, nil, 0)
	if err != nil {
		t.Fatalf("Send(nil): %v", err)
	}
	if n := queueLen(t, q); n != 4 {
		t.Errorf("Len = %d, want 4", n)
	}
	for i, want := range []string{"one", "two", "three", ""} {
		m := mustReceive(t, q)
		wantID := append(ids, emptyID)[i]
		if m.ID != wantID || string(m.Body) != want || m.Received != 1 {
			t.Errorf("message %d = {%s %q %d}, want {%s %q 1}", i, m.ID, m.Body, m.Received, wantID, want)
		}
	}
	mustReceiveNothing(t, q) // all in flight
	if n := queueLen(t, q); n != 4 {
		t.Errorf("in-flight messages still count: Len = %d, want 4", n)
	}
	for i, id := range append(ids, emptyID) {
		if err := q.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if n := queueLen(t, q); n != 3-i {
			t.Errorf("after %d deletes Len = %d, want %d", i+1, n, 3-i)
		}
	}
	if err := q.Delete(ctx, ids[0]); err != nil {
		t.Errorf("Delete of a deleted message = %v, want nil", err)
	}
	if _, err := q.Send(ctx, []byte("x"), -time.Second); !errors.Is(err, ErrInvalid) {
		t.Errorf("Send with a negative delay = %v, want ErrInvalid", err)
	}
}

func TestQueueDelayAndNextDue(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	q := db.Queue("async", time.Hour)
	if _, ok, err := q.NextDue(ctx); err != nil || ok {
		t.Fatalf("NextDue of an empty queue = %v, %v; want ok=false", ok, err)
	}

	before := time.Now()
	mustSend(t, q, "later", time.Hour)
	after := time.Now()
	mustReceiveNothing(t, q)
	due, ok, err := q.NextDue(ctx)
	// goqite keeps milliseconds, truncated.
	if err != nil || !ok || due.Before(before.Add(time.Hour).Truncate(time.Millisecond)) || due.After(after.Add(time.Hour)) {
		t.Errorf("NextDue = %v, %v, %v; want between %v and %v", due, ok, err, before.Add(time.Hour), after.Add(time.Hour))
	}

	mustSend(t, q, "soon", 50*time.Millisecond)
	soon, _, _ := q.NextDue(ctx)
	if !soon.Before(due) {
		t.Errorf("NextDue = %v after sending a sooner message, want before %v", soon, due)
	}
	if m := receiveWhenDue(t, q); string(m.Body) != "soon" {
		t.Errorf("received %q, want soon", m.Body)
	}
	mustReceiveNothing(t, q) // "later" is still delayed
	// The in-flight message is due when its visibility runs out, after "later".
	if next, _, _ := q.NextDue(ctx); !next.Equal(due) {
		t.Errorf("NextDue = %v, want %v (the delayed message)", next, due)
	}
}

func TestQueueVisibilityTimeout(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	q := db.Queue("async", 50*time.Millisecond)
	id := mustSend(t, q, "work", 0)
	first := mustReceive(t, q)
	if first.ID != id || first.Received != 1 {
		t.Fatalf("first receive = %+v", first)
	}
	mustReceiveNothing(t, q)
	due, _, _ := q.NextDue(ctx)
	if !due.After(time.Now().Add(-time.Second)) {
		t.Errorf("NextDue of an in-flight message = %v, want about when its visibility ends", due)
	}
	again := receiveWhenDue(t, q)
	if again.ID != id || string(again.Body) != "work" || again.Received != 2 {
		t.Errorf("redelivery = {%s %q %d}, want {%s work 2}", again.ID, again.Body, again.Received, id)
	}
	if err := q.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := queueLen(t, q); n != 0 {
		t.Errorf("Len after delete = %d", n)
	}
}

func TestQueueReplace(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	q := db.Queue("async", time.Hour)
	id := mustSend(t, q, `{"attempt":1}`, 0)
	mustReceive(t, q)

	newID, err := q.Replace(ctx, id, []byte(`{"attempt":2}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if newID == id || newID == "" {
		t.Errorf("Replace returned id %q (old %q)", newID, id)
	}
	if n := queueLen(t, q); n != 1 {
		t.Errorf("Len after Replace = %d, want 1", n)
	}
	m := mustReceive(t, q)
	if m.ID != newID || string(m.Body) != `{"attempt":2}` || m.Received != 1 {
		t.Errorf("after Replace received {%s %s %d}, want {%s {\"attempt\":2} 1}", m.ID, m.Body, m.Received, newID)
	}

	// A replaced message that is already gone is not sent again.
	if _, err := q.Replace(ctx, id, []byte("dup"), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replace of a gone message = %v, want ErrNotFound", err)
	}
	if _, err := q.Replace(ctx, newID, []byte("x"), -time.Second); !errors.Is(err, ErrInvalid) {
		t.Errorf("Replace with a negative delay = %v, want ErrInvalid", err)
	}
	if n := queueLen(t, q); n != 1 {
		t.Errorf("Len after failed Replaces = %d, want 1", n)
	}

	// Replace with a delay keeps the new message hidden until then.
	delayedID, err := q.Replace(ctx, newID, []byte(`{"attempt":3}`), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mustReceiveNothing(t, q)

	// When the send fails after the delete, the delete is rolled back: the
	// old message survives and nothing new is added.
	failSend := []string{`CREATE TRIGGER fail_send BEFORE INSERT ON goqite
		WHEN NEW.body = CAST('boom' AS BLOB) BEGIN SELECT RAISE(ABORT, 'send failed'); END`}
	if db.dialect == postgresDialect {
		failSend = []string{
			`CREATE FUNCTION fail_send() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'send failed'; END; $$`,
			`CREATE TRIGGER fail_send BEFORE INSERT ON goqite
			FOR EACH ROW WHEN (NEW.body = convert_to('boom', 'UTF8')) EXECUTE FUNCTION fail_send()`,
		}
	}
	for _, stmt := range failSend {
		if _, err := db.conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Replace(ctx, delayedID, []byte("boom"), 0); err == nil {
		t.Fatal("Replace whose send fails succeeded")
	}
	if n := queueLen(t, q); n != 1 {
		t.Fatalf("after a failed Replace Len = %d, want 1", n)
	}
	var body string
	if err := db.conn.QueryRowContext(ctx, "SELECT body FROM goqite WHERE id = $1", delayedID).Scan(&body); err != nil || body != `{"attempt":3}` {
		t.Errorf("after a failed Replace the old message is %q, %v; want it intact", body, err)
	}
}

func TestQueueRequeueAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := testTarget(t)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	q := db.Queue("async", time.Hour)
	inFlight := mustSend(t, q, "in flight", 0)
	mustReceive(t, q)
	mustSend(t, q, "delayed", time.Hour)
	visible := mustSend(t, q, "visible", 0)
	// The process dies: nothing is deleted.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q = db.Queue("async", time.Hour)
	if n := queueLen(t, q); n != 3 {
		t.Fatalf("after reopening Len = %d, want 3", n)
	}
	n, err := q.Requeue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1 (only the in-flight message)", n, err)
	}
	got := map[string]int{}
	for i := 0; i < 2; i++ {
		m := mustReceive(t, q)
		got[m.ID] = m.Received
	}
	if want := map[string]int{inFlight: 2, visible: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Requeue received %v, want %v", got, want)
	}
	mustReceiveNothing(t, q) // the delayed message keeps its delay
	if n, err := q.Requeue(ctx); err != nil || n != 2 {
		t.Errorf("second Requeue = %d, %v; want the 2 just received", n, err)
	}
}

func TestQueueManyReceives(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	q := db.Queue("async", time.Hour)
	id := mustSend(t, q, "stubborn", 0)
	// goqite's default receive limit is 3; ours must never stop a message.
	for i := 1; i <= 20; i++ {
		m := mustReceive(t, q)
		if m.ID != id || m.Received != i {
			t.Fatalf("receive %d = {%s %d}, want {%s %d}", i, m.ID, m.Received, id, i)
		}
		if _, err := q.Requeue(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueuesAreSeparate(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, b := db.Queue("a", time.Hour), db.Queue("b", time.Hour)
	idA := mustSend(t, a, "for a", 0)
	mustReceive(t, a)
	if n := queueLen(t, b); n != 0 {
		t.Errorf("queue b Len = %d, want 0", n)
	}
	mustReceiveNothing(t, b)
	if _, ok, _ := b.NextDue(ctx); ok {
		t.Error("queue b has a NextDue")
	}
	if n, err := b.Requeue(ctx); err != nil || n != 0 {
		t.Errorf("b.Requeue = %d, %v; want 0", n, err)
	}
	if err := b.Delete(ctx, idA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Replace(ctx, idA, []byte("stolen"), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("b.Replace of a's message = %v, want ErrNotFound", err)
	}
	if n := queueLen(t, a); n != 1 {
		t.Errorf("queue b's Delete or Replace touched a: Len = %d", n)
	}
}

// TestQueueConcurrentReceivers drains a queue with receivers on two handles
// of one database, as two processes would: while a message is hidden (the
// visibility is longer than the test) no other receiver gets it, and none
// is lost.
func TestQueueConcurrentReceivers(t *testing.T) {
	ctx := context.Background()
	db, other := twoHandles(t)
	queues := []*Queue{db.Queue("async", time.Hour), other.Queue("async", time.Hour)}
	const n = 300
	sent := map[string]bool{}
	for i := 0; i < n; i++ {
		sent[mustSend(t, queues[0], fmt.Sprint(i), 0)] = true
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	for w := 0; w < 4; w++ {
		q := queues[w%2]
		wg.Go(func() {
			for {
				m, ok, err := q.Receive(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				seen[m.ID]++
				mu.Unlock()
				// One in ten stays hidden rather than deleted, and must
				// stay out of every other receiver's hands. (Not more: on
				// SQLite a receive steps over every hidden message.)
				if i, _ := strconv.Atoi(string(m.Body)); i%10 != 0 {
					if err := q.Delete(ctx, m.ID); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for id, times := range seen {
		if times > 1 {
			t.Errorf("message %s delivered %d times while hidden", id, times)
		}
		if !sent[id] {
			t.Errorf("received unknown message %s", id)
		}
	}
	if len(seen) != n {
		t.Errorf("received %d distinct messages, want %d", len(seen), n)
	}
	mustReceiveNothing(t, queues[1])
	for id := range seen {
		if err := queues[0].Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if l := queueLen(t, queues[0]); l != 0 {
		t.Errorf("Len after draining = %d", l)
	}
}

func BenchmarkQueueSendReceiveDelete(b *testing.B) {
	ctx := context.Background()
	db := newTestDB(b)
	q := db.Queue("bench", time.Hour)
	body := []byte(`{"function":"f","payload":{"key":"value"},"attempt":1}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := q.Send(ctx, body, 0); err != nil {
			b.Fatal(err)
		}
		m, ok, err := q.Receive(ctx)
		if err != nil || !ok {
			b.Fatalf("Receive = %v, %v", ok, err)
		}
		if err := q.Delete(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
	}
}
