package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lambdalab/grader/queue"
	"lambdalab/store"
	"lambdalab/store/storetest"
)

// TestMain stops the test PostgreSQL, if a test started one.
func TestMain(m *testing.M) { storetest.Main(m) }

func openDB(t *testing.T, target string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDB(t *testing.T) *store.DB {
	return openDB(t, storetest.Target(t, "lambdalab.db"))
}

func newUser(t *testing.T, db *store.DB, email string) int64 {
	t.Helper()
	u, err := db.CreateUser(context.Background(), email, "h", false)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// submit stores a submission of lab by userID (0: a command-line run) and
// queues it through q.
func submit(t *testing.T, db *store.DB, q *queue.Queue, userID int64, lab string) store.GradingJob {
	t.Helper()
	ctx := context.Background()
	s, err := db.CreateSubmission(ctx, store.Submission{UserID: userID, Lab: lab, Source: store.SourceDir})
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := q.Submit(ctx, s.ID, userID, lab)
	if err != nil {
		t.Fatalf("Submit(%d, %d, %s): %v", s.ID, userID, lab, err)
	}
	return j
}

// start starts q and closes it when the test ends.
func start(t *testing.T, q *queue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// waitFor polls cond until it holds; the bound only keeps a broken queue
// from hanging the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func job(t *testing.T, db *store.DB, id int64) store.GradingJob {
	t.Helper()
	j, err := db.GradingJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func waitState(t *testing.T, db *store.DB, id int64, want store.GradingState) store.GradingJob {
	t.Helper()
	var j store.GradingJob
	waitFor(t, fmt.Sprintf("job %d %s", id, want), func() bool {
		j = job(t, db, id)
		return j.State == want
	})
	return j
}

func runningJobs(t *testing.T, db *store.DB, ids []int64) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		if job(t, db, id).State == store.GradingRunning {
			n++
		}
	}
	return n
}

func TestWorkersBoundConcurrentRuns(t *testing.T) {
	db := newDB(t)
	var cur, peak atomic.Int32
	release := make(chan struct{})
	q := queue.New(db, queue.Config{Workers: 3, Poll: 20 * time.Millisecond,
		Run: func(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
			n := cur.Add(1)
			defer cur.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	// Command-line jobs, which have no per-learner limit: only Workers
	// bounds them.
	var ids []int64
	for range 12 {
		ids = append(ids, submit(t, db, q, 0, "lab").ID)
	}
	start(t, q)
	waitFor(t, "three runs at once", func() bool { return cur.Load() == 3 })
	// Every worker is busy and nine jobs wait: a fourth run would start
	// within a poll or two.
	time.Sleep(100 * time.Millisecond)
	if n := cur.Load(); n != 3 {
		t.Errorf("%d runs at once with Workers=3", n)
	}
	if n := runningJobs(t, db, ids); n != 3 {
		t.Errorf("%d jobs running in the database with Workers=3", n)
	}
	close(release)
	for _, id := range ids {
		waitState(t, db, id, store.GradingDone)
	}
	if p := peak.Load(); p != 3 {
		t.Errorf("at most %d runs at once; want 3", p)
	}
}

func TestOneRunningJobPerLearner(t *testing.T) {
	db := newDB(t)
	u := newUser(t, db, "one@example.com")
	gate := make(chan struct{})
	var (
		mu      sync.Mutex
		order   []int64
		mine    int
		maxMine int
	)
	q := queue.New(db, queue.Config{Workers: 3, Poll: 20 * time.Millisecond,
		Run: func(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
			if job.UserID == 0 {
				return nil
			}
			mu.Lock()
			order = append(order, job.ID)
			mine++
			maxMine = max(maxMine, mine)
			mu.Unlock()
			defer func() {
				mu.Lock()
				mine--
				mu.Unlock()
			}()
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	var learner []int64
	for range 3 {
		learner = append(learner, submit(t, db, q, u, "lab").ID)
	}
	cli := []int64{submit(t, db, q, 0, "lab").ID, submit(t, db, q, 0, "lab").ID}
	start(t, q)
	for _, id := range cli {
		waitState(t, db, id, store.GradingDone)
	}
	waitState(t, db, learner[0], store.GradingRunning)
	// Two workers are idle, yet the learner's other jobs wait.
	time.Sleep(100 * time.Millisecond)
	for _, id := range learner[1:] {
		if s := job(t, db, id).State; s != store.GradingQueued {
			t.Errorf("learner's job %d is %s while their first job runs; want queued", id, s)
		}
	}
	close(gate)
	for _, id := range learner {
		waitState(t, db, id, store.GradingDone)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxMine != 1 {
		t.Errorf("the learner had %d jobs running at once; want 1", maxMine)
	}
	if !slices.Equal(order, learner) {
		t.Errorf("the learner's jobs ran in order %v; want %v", order, learner)
	}
}

// blocking is a Run that holds each job until its context ends, counting
// which jobs it started.
type blocking struct {
	mu      sync.Mutex
	started map[int64]int
}

func (b *blocking) run(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
	b.mu.Lock()
	if b.started == nil {
		b.started = map[int64]int{}
	}
	b.started[job.ID]++
	b.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (b *blocking) runs(id int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started[id]
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	var b blocking
	q := queue.New(db, queue.Config{Workers: 1, Poll: 20 * time.Millisecond, Run: b.run})
	running := submit(t, db, q, 0, "lab")
	queued := submit(t, db, q, 0, "lab")
	start(t, q)
	waitState(t, db, running.ID, store.GradingRunning)

	events, stop := q.Subscribe(ctx, queued.ID)
	defer stop()
	if err := q.Cancel(ctx, queued.ID); err != nil {
		t.Fatal(err)
	}
	if got := job(t, db, queued.ID); got.State != store.GradingCanceled {
		t.Errorf("queued job after Cancel is %s; want canceled at once", got.State)
	}
	want := []queue.Event{
		{Job: queued.ID, Kind: queue.KindQueued, Position: 1},
		{Job: queued.ID, Kind: queue.KindFinished, State: store.GradingCanceled},
	}
	if got := collect(t, events); !equalEvents(got, want) {
		t.Errorf("events of the canceled queued job:\n got %v\nwant %v", got, want)
	}

	if err := q.Cancel(ctx, running.ID); err != nil {
		t.Fatal(err)
	}
	j := waitState(t, db, running.ID, store.GradingCanceled)
	if j.Error != "" || j.FinishedAt.IsZero() {
		t.Errorf("canceled running job = %+v; want finished, no error", j)
	}
	if n := b.runs(queued.ID); n != 0 {
		t.Errorf("the job canceled while queued ran %d times", n)
	}

	// A cancel written to the database by another process reaches the
	// worker through its poll.
	third := submit(t, db, q, 0, "lab")
	waitState(t, db, third.ID, store.GradingRunning)
	if canceled, err := db.CancelGradingJob(ctx, third.ID); err != nil || canceled {
		t.Fatalf("CancelGradingJob(running) = %v, %v", canceled, err)
	}
	waitState(t, db, third.ID, store.GradingCanceled)

	if err := q.Cancel(ctx, third.ID); err != nil {
		t.Errorf("Cancel of a finished job: %v; want nil", err)
	}
	if err := q.Cancel(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cancel(9999): %v; want ErrNotFound", err)
	}
}

func TestRetryOnlyPlatformErrors(t *testing.T) {
	db := newDB(t)
	var (
		mu    sync.Mutex
		tries = map[string]int{}
	)
	q := queue.New(db, queue.Config{Workers: 1, MaxAttempts: 2, Poll: 20 * time.Millisecond,
		Run: func(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
			mu.Lock()
			tries[job.Lab]++
			mu.Unlock()
			switch job.Lab {
			case "flaky":
				if job.Attempts == 1 {
					return fmt.Errorf("start scratch account: %w", queue.Platform(errors.New("docker went away")))
				}
				return nil
			case "broken":
				return queue.Platform(errors.New("docker went away"))
			case "gone":
				return errors.New("this lab no longer exists")
			case "garbled":
				return errors.New("handler printed \x00 and \xff")
			case "panics":
				panic("a step kind's bug")
			}
			return nil
		}})
	flaky := submit(t, db, q, 0, "flaky")
	broken := submit(t, db, q, 0, "broken")
	gone := submit(t, db, q, 0, "gone")
	garbled := submit(t, db, q, 0, "garbled")
	panics := submit(t, db, q, 0, "panics")
	start(t, q)

	if j := waitState(t, db, flaky.ID, store.GradingDone); j.Attempts != 2 || j.Error != "" {
		t.Errorf("flaky job = %+v; want done at its second attempt", j)
	}
	j := waitState(t, db, broken.ID, store.GradingFailed)
	if j.Attempts != 2 || !strings.Contains(j.Error, "problem on our side") || strings.Contains(j.Error, "docker") {
		t.Errorf("broken job = %+v; want failed after 2 attempts with a message for people, not the cause", j)
	}
	if j := waitState(t, db, gone.ID, store.GradingFailed); j.Attempts != 1 || j.Error != "this lab no longer exists" {
		t.Errorf("job with a plain error = %+v; want failed at once with the error's text", j)
	}
	// A NUL and a byte that is not UTF-8 are not storable text on
	// PostgreSQL: the job still ends, with the text made readable.
	if j := waitState(t, db, garbled.ID, store.GradingFailed); j.Error != "handler printed \uFFFD and \uFFFD" {
		t.Errorf("job whose error text holds NUL and invalid UTF-8 = %+v; want failed with both replaced by U+FFFD", j)
	}
	if j := waitState(t, db, panics.ID, store.GradingFailed); j.Attempts != 1 || !strings.Contains(j.Error, "internal error") {
		t.Errorf("panicking job = %+v; want failed at once, saying it was an internal error", j)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"flaky": 2, "broken": 2, "gone": 1, "garbled": 1, "panics": 1}; fmt.Sprint(tries) != fmt.Sprint(want) {
		t.Errorf("Run calls per lab = %v; want %v", tries, want)
	}
}

// collect reads events until the channel closes.
func collect(t *testing.T, events <-chan queue.Event) []queue.Event {
	t.Helper()
	var got []queue.Event
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-time.After(30 * time.Second):
			t.Fatalf("stream not closed after 30s; got %v", got)
		}
	}
}

func next(t *testing.T, events <-chan queue.Event) queue.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("stream closed early")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return queue.Event{}
}

func equalEvents(a, b []queue.Event) bool {
	return slices.EqualFunc(a, b, func(x, y queue.Event) bool {
		return x.Job == y.Job && x.Kind == y.Kind && x.Position == y.Position && x.Attempt == y.Attempt &&
			bytes.Equal(x.Data, y.Data) && x.State == y.State && x.Error == y.Error
	})
}

func TestSubscribeStream(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	first, middle := make(chan struct{}), make(chan struct{})
	q := queue.New(db, queue.Config{Workers: 1, Poll: 20 * time.Millisecond,
		Run: func(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
			switch job.Lab {
			case "first":
				<-first
			case "watched":
				progress(queue.Event{Data: []byte(`{"check":"a"}`)})
				progress(queue.Event{Data: []byte(`{"check":"b"}`)})
				<-middle
				progress(queue.Event{Data: []byte(`{"check":"c"}`)})
			}
			return nil
		}})
	a := submit(t, db, q, 0, "first")
	b := submit(t, db, q, 0, "other")
	c := submit(t, db, q, 0, "watched")
	start(t, q)
	waitState(t, db, a.ID, store.GradingRunning)

	events, stop := q.Subscribe(ctx, c.ID)
	defer stop()
	if ev := next(t, events); ev.Kind != queue.KindQueued || ev.Position != 2 || ev.Job != c.ID {
		t.Fatalf("first event = %+v; want queued at 2", ev)
	}
	if err := q.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != queue.KindQueued || ev.Position != 1 {
		t.Fatalf("after the job ahead was canceled: %+v; want queued at 1", ev)
	}
	close(first)
	want := []queue.Event{
		{Job: c.ID, Kind: queue.KindStarted, Attempt: 1},
		{Job: c.ID, Kind: queue.KindProgress, Data: []byte(`{"check":"a"}`)},
		{Job: c.ID, Kind: queue.KindProgress, Data: []byte(`{"check":"b"}`)},
	}
	var got []queue.Event
	for range want {
		got = append(got, next(t, events))
	}
	if !equalEvents(got, want) {
		t.Fatalf("events once started:\n got %v\nwant %v", got, want)
	}

	// A subscriber arriving mid-run gets the run so far, then the rest.
	late, stopLate := q.Subscribe(ctx, c.ID)
	defer stopLate()
	close(middle)
	rest := []queue.Event{
		{Job: c.ID, Kind: queue.KindProgress, Data: []byte(`{"check":"c"}`)},
		{Job: c.ID, Kind: queue.KindFinished, Attempt: 1, State: store.GradingDone},
	}
	if got := collect(t, events); !equalEvents(got, rest) {
		t.Errorf("end of the stream:\n got %v\nwant %v", got, rest)
	}
	if got := collect(t, late); !equalEvents(got, append(want, rest...)) {
		t.Errorf("stream of a subscriber who came mid-run:\n got %v\nwant %v", got, append(want, rest...))
	}

	// After the end: the final event at once, then the channel closes.
	after, stopAfter := q.Subscribe(ctx, c.ID)
	defer stopAfter()
	if got := collect(t, after); !equalEvents(got, rest[1:]) {
		t.Errorf("stream of a finished job: %v; want %v", got, rest[1:])
	}
	none, stopNone := q.Subscribe(ctx, 9999)
	defer stopNone()
	if got := collect(t, none); len(got) != 0 {
		t.Errorf("stream of a job that does not exist: %v; want none", got)
	}

}

func TestSubmitQueueFull(t *testing.T) {
	db := newDB(t)
	q := queue.New(db, queue.Config{MaxQueued: 2, Run: func(context.Context, store.GradingJob, func(queue.Event)) error { return nil }})
	ctx := context.Background()
	for i := range 3 {
		s, err := db.CreateSubmission(ctx, store.Submission{Lab: "lab", Source: store.SourceDir})
		if err != nil {
			t.Fatal(err)
		}
		_, pos, err := q.Submit(ctx, s.ID, 0, "lab")
		if i < 2 {
			if err != nil || pos != i+1 {
				t.Errorf("Submit %d = position %d, %v; want %d", i, pos, err, i+1)
			}
			continue
		}
		if !errors.Is(err, store.ErrQueueFull) {
			t.Fatalf("Submit beyond MaxQueued: %v; want ErrQueueFull", err)
		}
		if want := "the grading queue is full (2 submissions waiting); try again in a minute"; err.Error() != want {
			t.Errorf("refusal says %q; want %q", err, want)
		}
		var full *queue.FullError
		if !errors.As(err, &full) || full.Waiting != 2 {
			t.Errorf("refusal %#v; want a *FullError with 2 waiting", err)
		}
	}

	// No worker runs here, so the jobs stay queued: a subscription ends
	// only when its context does, or when it is stopped.
	sctx, cancel := context.WithCancel(ctx)
	events, stop := q.Subscribe(sctx, 1)
	defer stop()
	if ev := next(t, events); ev.Kind != queue.KindQueued || ev.Position != 1 {
		t.Errorf("first event = %+v; want queued at 1", ev)
	}
	cancel()
	if got := collect(t, events); len(got) != 0 {
		t.Errorf("events after the context ended: %v", got)
	}
	events, stop = q.Subscribe(ctx, 2)
	if ev := next(t, events); ev.Kind != queue.KindQueued || ev.Position != 2 {
		t.Errorf("first event = %+v; want queued at 2", ev)
	}
	stop()
	stop() // twice is harmless
	if got := collect(t, events); len(got) != 0 {
		t.Errorf("events after stop: %v", got)
	}
}

func TestCloseLeavesRunningJobsForRecovery(t *testing.T) {
	db := newDB(t)
	var b blocking
	q := queue.New(db, queue.Config{Workers: 1, Poll: 20 * time.Millisecond, Run: b.run})
	j := submit(t, db, q, 0, "lab")
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, j.ID, store.GradingRunning)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 running jobs left") {
		t.Errorf("Close with a job running past its context: %v; want an error saying one job is left", err)
	}
	// The run saw its context end; the job stays running for the next start.
	waitFor(t, "the run to end", func() bool { return b.runs(j.ID) == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := job(t, db, j.ID); got.State != store.GradingRunning {
		t.Fatalf("job after Close = %s; want left running", got.State)
	}

	var ran atomic.Int32
	again := queue.New(db, queue.Config{Workers: 1, Poll: 20 * time.Millisecond,
		Run: func(context.Context, store.GradingJob, func(queue.Event)) error { ran.Add(1); return nil }})
	start(t, again)
	if got := waitState(t, db, j.ID, store.GradingDone); got.Attempts != 2 || ran.Load() != 1 {
		t.Errorf("job after restart = %+v, run %d times; want done at attempt 2, run once", got, ran.Load())
	}

	// A job whose submission already has a report (the process died
	// between saving it and marking the job done) is not graded again.
	sub, err := db.CreateSubmission(context.Background(), store.Submission{Lab: "lab", Source: store.SourceDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveReport(context.Background(), sub.ID, store.GradeReport{Status: store.GradePass, Score: 1, Report: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	graded, _, err := again.Submit(context.Background(), sub.ID, 0, "lab")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, db, graded.ID, store.GradingDone)
	if n := ran.Load(); n != 1 {
		t.Errorf("Run called %d times; want once, not for the graded submission", n)
	}
}

// childDBEnv names the database (a file or a URL) TestKilledChild serves.
const childDBEnv = "LAMBDALAB_QUEUE_CHILD_DB"

// TestKilledChild is the process TestRecoveryAfterKill kills: it serves
// the grading queue of the given database with a Run that never returns.
func TestKilledChild(t *testing.T) {
	target := os.Getenv(childDBEnv)
	if target == "" {
		t.Skip("the child process of TestRecoveryAfterKill")
	}
	db := openDB(t, target)
	q := queue.New(db, queue.Config{Workers: 1, Poll: 20 * time.Millisecond,
		Run: func(context.Context, store.GradingJob, func(queue.Event)) error {
			select {} // stuck for good, deaf to its context
		}})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Minute)
	t.Fatal("not killed within 5 minutes")
}

// TestRecoveryAfterKill runs the queue in a child process, kills it with
// SIGKILL while it grades, and starts a queue on the same database: the job
// is graded again, or, once it has had its attempts, failed with an error
// saying why.
func TestRecoveryAfterKill(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*store.DB, string, store.GradingJob) {
		target := storetest.Target(t, "lambdalab.db")
		db := openDB(t, target)
		u := newUser(t, db, "killed@example.com")
		s, err := db.CreateSubmission(ctx, store.Submission{UserID: u, Lab: "lab", Source: store.SourceDir})
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := db.EnqueueGrading(ctx, s.ID, u, "lab", 0)
		if err != nil {
			t.Fatal(err)
		}
		return db, target, j
	}
	// killWhileRunning starts a child on target, waits until it runs the job
	// for the attempt'th time, and kills it.
	killWhileRunning := func(t *testing.T, db *store.DB, target string, id int64, attempt int) {
		t.Helper()
		var out bytes.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDBEnv+"="+target)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill() })
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if j := job(t, db, id); j.State == store.GradingRunning && j.Attempts == attempt {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("child exited before running the job: %v\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("child did not run job %d (attempt %d) within a minute:\n%s", id, attempt, out.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("child ended with %v; want killed\n%s", err, out.String())
		}
		if j := job(t, db, id); j.State != store.GradingRunning {
			t.Fatalf("job after the kill is %s; want left running", j.State)
		}
	}

	t.Run("graded again", func(t *testing.T) {
		db, target, j := setup(t)
		killWhileRunning(t, db, target, j.ID, 1)
		var ran atomic.Int32
		q := queue.New(db, queue.Config{Workers: 1, MaxAttempts: 2, Poll: 20 * time.Millisecond,
			Run: func(_ context.Context, job store.GradingJob, _ func(queue.Event)) error {
				if job.ID == j.ID {
					ran.Add(1)
				}
				return nil
			}})
		start(t, q)
		got := waitState(t, db, j.ID, store.GradingDone)
		if got.Attempts != 2 || ran.Load() != 1 || got.Error != "" {
			t.Errorf("job after the restart = %+v, run %d times; want done at attempt 2, run once", got, ran.Load())
		}
	})

	t.Run("attempts used up", func(t *testing.T) {
		db, target, j := setup(t)
		killWhileRunning(t, db, target, j.ID, 1)
		// The second child takes the job back and is killed in turn.
		killWhileRunning(t, db, target, j.ID, 2)
		var ran atomic.Int32
		q := queue.New(db, queue.Config{Workers: 1, MaxAttempts: 2, Poll: 20 * time.Millisecond,
			Run: func(context.Context, store.GradingJob, func(queue.Event)) error { ran.Add(1); return nil }})
		start(t, q)
		got := job(t, db, j.ID) // Start recovered it before returning
		if got.State != store.GradingFailed || got.Error != store.InterruptedError || got.Attempts != 2 || got.FinishedAt.IsZero() {
			t.Errorf("job after two kills = %+v; want failed after 2 attempts with %q", got, store.InterruptedError)
		}
		time.Sleep(50 * time.Millisecond)
		if n := ran.Load(); n != 0 {
			t.Errorf("Run called %d times for a job that had used its attempts", n)
		}
	})
}
