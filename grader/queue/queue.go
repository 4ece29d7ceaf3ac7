// Package queue runs grading jobs from the store's durable queue on a
// bounded pool of workers, at most one running job per learner, and streams
// each job's progress to whoever watches it. It knows nothing of how a
// submission is graded: Config.Run does that.
//
// Jobs live in the database, not in memory: a job submitted while every
// worker is busy, or before Start, waits there, and one left running by a
// process that died is taken back at the next Start (see
// store.RecoverGradingJobs).
package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/store"
)

// Config configures a Queue.
type Config struct {
	// Workers is how many jobs run at once. Zero means one per CPU: a
	// grading run mostly waits (for triggered functions, for objects to
	// appear), so on 2 cores two workers grade 20 queued S3 labs in 38 s
	// where one takes 63 s (BenchmarkGradingQueue20); more than that
	// would let the concurrency lab's bursts (six instances each) crowd
	// the machine's instance cap.
	Workers int
	// MaxQueued is how many jobs may wait; Submit refuses more. Zero means
	// 100.
	MaxQueued int
	// MaxAttempts is how many times a job is tried when the platform fails
	// under it (a Platform error, or the process dying). Zero means 2.
	MaxAttempts int
	// Run grades one job. It returns nil when the submission was graded,
	// whatever the verdict (the report is the Run func's to store); an
	// error wrapped by Platform when the platform failed and another
	// attempt may succeed; any other error, written for people, when
	// grading cannot happen at all. It must return soon after ctx is done.
	// progress sends an event to the job's subscribers; only Data is used.
	Run func(ctx context.Context, job store.GradingJob, progress func(Event)) error
	// Logger receives the queue's logs; nil discards them.
	Logger *slog.Logger
	// Poll is how often idle workers look for jobs that no Submit in this
	// process announced, and how often the queue notices cancels requested
	// through the database. Zero means 2 seconds.
	Poll time.Duration
}

// Kind is what an Event reports.
type Kind string

const (
	// KindQueued: the job waits at Position (1 = next). Sent when a
	// subscriber starts watching a queued job, when its position changes,
	// and when a failed attempt puts it back in the queue.
	KindQueued Kind = "queued"
	// KindStarted: a worker took the job, for its Attempt'th time.
	KindStarted Kind = "started"
	// KindProgress: the Run func reported progress; Data is its payload.
	KindProgress Kind = "progress"
	// KindFinished: the job ended in State (done, canceled or failed, with
	// Error saying why it failed). It is the last event of a stream.
	KindFinished Kind = "finished"
)

// Event is one step of a job's life, as sent to its subscribers.
type Event struct {
	Job      int64
	Kind     Kind
	Position int                // KindQueued
	Attempt  int                // KindStarted, KindFinished
	Data     []byte             // KindProgress: opaque to the queue (the grader sends JSON)
	State    store.GradingState // KindFinished
	Error    string             // KindFinished when State is failed
}

// platformError marks a failure of the platform rather than of grading.
type platformError struct{ err error }

func (e *platformError) Error() string { return e.err.Error() }
func (e *platformError) Unwrap() error { return e.err }

// Platform marks err as the platform failing (Docker gone, the disk full):
// a job whose Run returns it is tried again, up to Config.MaxAttempts.
// Platform(nil) is nil.
func Platform(err error) error {
	if err == nil {
		return nil
	}
	return &platformError{err: err}
}

// IsPlatform reports whether err, or an error it wraps, was marked by
// Platform.
func IsPlatform(err error) bool {
	var p *platformError
	return errors.As(err, &p)
}

// FullError is Submit's refusal when the queue holds Config.MaxQueued jobs.
// Its text is written for the learner; it wraps store.ErrQueueFull.
type FullError struct {
	Waiting int // jobs queued when the submission was refused
}

func (e *FullError) Error() string {
	return fmt.Sprintf("the grading queue is full (%d submissions waiting); try again in a minute", e.Waiting)
}

func (e *FullError) Unwrap() error { return store.ErrQueueFull }

// The causes a run's context is canceled with.
var (
	errCanceled = errors.New("grading job canceled")
	errShutdown = errors.New("grading queue closed before the job finished")
)

// maxPending bounds the events waiting for one slow subscriber; progress
// events beyond it are dropped (never the final one).
const maxPending = 4096

// maxHistory bounds the progress events of a running job kept to replay
// to a subscriber who arrives late.
const maxHistory = 4096

// Queue is the grading queue of one process. Its methods are safe for
// concurrent use.
type Queue struct {
	db  *store.DB
	cfg Config
	log *slog.Logger

	wake    chan struct{} // pokes idle workers; buffered, Workers deep
	stop    chan struct{} // closed by Close
	drained chan struct{} // closed once every worker has returned
	stopped sync.Once
	started atomic.Bool
	workers sync.WaitGroup

	// mu guards running and feeds. Lock order: mu, then a feed's mu.
	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc // jobs running here
	feeds   map[int64]*feed                   // jobs watched or running here
}

// New returns a queue running jobs from db with cfg's zero fields set to
// their defaults. It panics if cfg.Run is nil: that is a wiring mistake.
func New(db *store.DB, cfg Config) *Queue {
	if cfg.Run == nil {
		panic("queue: Config.Run is nil")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(1, runtime.NumCPU())
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 100
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 2
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		db:      db,
		cfg:     cfg,
		log:     log,
		wake:    make(chan struct{}, cfg.Workers),
		stop:    make(chan struct{}),
		drained: make(chan struct{}),
		running: map[int64]context.CancelCauseFunc{},
		feeds:   map[int64]*feed{},
	}
}

// Start settles the jobs a dead process left running (requeued, or failed
// once they have had MaxAttempts) and starts the workers. Call it once.
// Canceling ctx stops the workers from taking new jobs, as Close does, but
// does not cancel running ones: Close decides how long they may take.
func (q *Queue) Start(ctx context.Context) error {
	if !q.started.CompareAndSwap(false, true) {
		return errors.New("start grading queue: already started")
	}
	requeued, failed, err := q.db.RecoverGradingJobs(ctx, q.cfg.MaxAttempts)
	if err != nil {
		q.started.Store(false) // nothing runs: Start may be tried again
		return fmt.Errorf("start grading queue: %w", err)
	}
	if requeued > 0 || failed > 0 {
		q.log.InfoContext(ctx, "grading jobs interrupted at the last stop recovered", "requeued", requeued, "failed", failed)
	}
	for range q.cfg.Workers {
		q.workers.Add(1)
		go q.work(ctx)
	}
	go func() {
		q.workers.Wait()
		close(q.drained)
	}()
	go q.watch(ctx)
	q.log.InfoContext(ctx, "grading queue started", "workers", q.cfg.Workers, "max_queued", q.cfg.MaxQueued)
	return nil
}

// Close stops the workers taking jobs and waits for the running ones to
// finish, until ctx is done. Then it cancels them and returns at once: a
// job still running is left as it is in the database for the next Start
// to take back, so none is lost.
func (q *Queue) Close(ctx context.Context) error {
	q.stopped.Do(func() { close(q.stop) })
	if !q.started.Load() {
		return nil
	}
	select {
	case <-q.drained:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	n := len(q.running)
	for _, cancel := range q.running {
		cancel(errShutdown)
	}
	q.mu.Unlock()
	return fmt.Errorf("close grading queue: %d running jobs left for the next start: %w", n, context.Cause(ctx))
}

// Submit queues a job grading the submission (userID 0 for a command-line
// run) and returns it with its position, 1 = next. When the queue is full
// the error is a *FullError, whose text can be shown to the learner.
func (q *Queue) Submit(ctx context.Context, submissionID, userID int64, lab string) (store.GradingJob, int, error) {
	job, pos, err := q.db.EnqueueGrading(ctx, submissionID, userID, lab, q.cfg.MaxQueued)
	if errors.Is(err, store.ErrQueueFull) {
		n, cerr := q.db.QueuedGradingJobs(ctx)
		if cerr != nil {
			n = q.cfg.MaxQueued
		}
		return store.GradingJob{}, 0, &FullError{Waiting: n}
	}
	if err != nil {
		return store.GradingJob{}, 0, fmt.Errorf("submit for grading: %w", err)
	}
	q.poke()
	return job, pos, nil
}

// Cancel cancels a job: a queued one at once, a running one by canceling
// its run's context (a run in another process is stopped when that
// process next polls). Canceling a finished job does nothing.
// store.ErrNotFound if there is no such job.
func (q *Queue) Cancel(ctx context.Context, id int64) error {
	canceled, err := q.db.CancelGradingJob(ctx, id)
	if err != nil {
		return err // it names the operation and the job
	}
	if canceled {
		if ev := q.lastEvent(ctx, id); ev != nil {
			q.publish(id, *ev)
		}
		q.refresh(ctx)
		return nil
	}
	q.mu.Lock()
	cancel := q.running[id]
	q.mu.Unlock()
	if cancel != nil {
		cancel(errCanceled)
	}
	return nil
}

// poke wakes an idle worker; pokes beyond one per worker are dropped, as
// that many wake every worker already.
func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) stopping(ctx context.Context) bool {
	select {
	case <-q.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// work is one worker: it takes jobs until the queue closes, sleeping on a
// poke or the poll interval when there is none it may take.
func (q *Queue) work(ctx context.Context) {
	defer q.workers.Done()
	timer := time.NewTimer(q.cfg.Poll)
	defer timer.Stop()
	for !q.stopping(ctx) {
		job, ok, err := q.db.ClaimGradingJob(ctx)
		if err != nil && ctx.Err() == nil {
			q.log.ErrorContext(ctx, "claim grading job", "err", err)
		}
		if ok {
			// Another job may be waiting too: pass the poke on.
			q.poke()
			q.run(ctx, job)
			continue
		}
		timer.Reset(q.cfg.Poll)
		select {
		case <-q.wake:
		case <-timer.C:
		case <-q.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// run runs one claimed job to its end and records the outcome.
func (q *Queue) run(ctx context.Context, job store.GradingJob) {
	// The run outlives Start's context: Close decides when it must stop.
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	q.begin(job, cancel)
	q.refresh(ctx)
	log := q.log.With("job", job.ID, "submission", job.SubmissionID, "lab", job.Lab, "attempt", job.Attempts)
	log.InfoContext(ctx, "grading started")
	start := time.Now()

	var err error
	// A process that died after the report was saved but before the job
	// was marked done leaves a graded submission: do not grade it twice.
	switch _, rerr := q.db.Report(runCtx, job.SubmissionID); {
	case rerr == nil:
		log.InfoContext(ctx, "submission already graded; job marked done")
	case errors.Is(rerr, store.ErrNotFound):
		err = q.call(runCtx, log, job)
	default:
		err = Platform(rerr)
	}
	cause := context.Cause(runCtx)

	// The outcome is written even if Start's context is gone, within a bound.
	wctx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	state, errText := store.GradingDone, ""
	switch {
	case err != nil && errors.Is(cause, errShutdown):
		log.WarnContext(ctx, "grading interrupted by shutdown; left for the next start", "err", err)
		q.end(job.ID, nil)
		return
	case err == nil:
	case errors.Is(cause, errCanceled):
		state = store.GradingCanceled
	case IsPlatform(err) && job.Attempts < q.cfg.MaxAttempts:
		log.WarnContext(ctx, "grading hit a platform failure; trying again", "err", err)
		q.requeue(wctx, log, job)
		return
	case IsPlatform(err):
		log.ErrorContext(ctx, "grading hit a platform failure; giving up", "err", err)
		state = store.GradingFailed
		errText = fmt.Sprintf("grading could not finish because of a problem on our side (%d attempts); please submit again", job.Attempts)
	default:
		// The text is for a person and may quote learner output: keep it
		// storable text on either engine (PostgreSQL refuses NUL bytes
		// and invalid UTF-8), or the job would stay running.
		state = store.GradingFailed
		errText = strings.ReplaceAll(strings.ToValidUTF8(err.Error(), "\uFFFD"), "\x00", "\uFFFD")
	}
	if ferr := q.db.FinishGradingJob(wctx, job.ID, state, errText); ferr != nil {
		log.ErrorContext(ctx, "record grading outcome", "state", state, "err", ferr)
		q.end(job.ID, q.lastEvent(wctx, job.ID))
		return
	}
	log.InfoContext(ctx, "grading finished", "state", state, "ms", time.Since(start).Milliseconds())
	q.end(job.ID, &Event{Job: job.ID, Kind: KindFinished, Attempt: job.Attempts, State: state, Error: errText})
}

// call runs cfg.Run, turning a panic into a failure and dropping progress
// reported after it returned.
func (q *Queue) call(ctx context.Context, log *slog.Logger, job store.GradingJob) (err error) {
	var over atomic.Bool
	defer over.Store(true)
	defer func() {
		if r := recover(); r != nil {
			log.ErrorContext(ctx, "grading panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errors.New("grading stopped on an internal error; please submit again")
		}
	}()
	return q.cfg.Run(ctx, job, func(ev Event) {
		if !over.Load() {
			q.progress(job, ev)
		}
	})
}

// requeue puts a job whose attempt the platform failed back in the queue.
func (q *Queue) requeue(ctx context.Context, log *slog.Logger, job store.GradingJob) {
	note := "the last attempt hit a problem on our side; trying again"
	if err := q.db.RequeueGradingJob(ctx, job.ID, note); err != nil {
		log.ErrorContext(ctx, "requeue grading job", "err", err)
	}
	// A cancel requested meanwhile makes it canceled instead: say what it is.
	q.end(job.ID, q.lastEvent(ctx, job.ID))
	q.poke()
}

// stateEvent is the event that says where the job stands in the
// database; nil when it is between states (queued a moment ago, no longer).
func (q *Queue) stateEvent(ctx context.Context, id int64) (*Event, error) {
	j, err := q.db.GradingJob(ctx, id)
	if err != nil {
		return nil, err
	}
	switch j.State {
	case store.GradingQueued:
		pos, err := q.db.QueuePosition(ctx, id)
		if err != nil || pos == 0 {
			return nil, err
		}
		return &Event{Job: id, Kind: KindQueued, Position: pos}, nil
	case store.GradingRunning:
		return &Event{Job: id, Kind: KindStarted, Attempt: j.Attempts}, nil
	default:
		return &Event{Job: id, Kind: KindFinished, Attempt: j.Attempts, State: j.State, Error: j.Error}, nil
	}
}

// lastEvent is stateEvent for a job that just stopped running here; a
// failure to read is logged and leaves the subscribers to the next refresh.
func (q *Queue) lastEvent(ctx context.Context, id int64) *Event {
	ev, err := q.stateEvent(ctx, id)
	if err != nil {
		q.log.ErrorContext(ctx, "read grading job", "job", id, "err", err)
	}
	return ev
}

// watch is the fallback for what no call in this process announced: cancel
// requests written to the database by another process, and queue
// positions moved by one.
func (q *Queue) watch(ctx context.Context) {
	tick := time.NewTicker(q.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-q.drained:
			return
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		ids := make([]int64, 0, len(q.running))
		for id := range q.running {
			ids = append(ids, id)
		}
		q.mu.Unlock()
		for _, id := range ids {
			j, err := q.db.GradingJob(ctx, id)
			if err != nil || !j.CancelRequested {
				continue
			}
			q.mu.Lock()
			if cancel := q.running[id]; cancel != nil {
				cancel(errCanceled)
			}
			q.mu.Unlock()
		}
		q.refresh(ctx)
	}
}

// feed is what the subscribers of one job get.
type feed struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	// attempt is the attempt running in this process, 0 when none; started
	// and history are its events so far, replayed to a late subscriber.
	attempt int
	started Event
	history []Event
}

// feedLocked returns the job's feed, making it; q.mu must be held.
func (q *Queue) feedLocked(id int64) *feed {
	f := q.feeds[id]
	if f == nil {
		f = &feed{subs: map[*subscriber]struct{}{}}
		q.feeds[id] = f
	}
	return f
}

// begin registers a claimed job as running here and announces it.
func (q *Queue) begin(job store.GradingJob, cancel context.CancelCauseFunc) {
	q.mu.Lock()
	q.running[job.ID] = cancel
	f := q.feedLocked(job.ID)
	f.mu.Lock()
	q.mu.Unlock()
	defer f.mu.Unlock()
	f.attempt = job.Attempts
	f.started = Event{Job: job.ID, Kind: KindStarted, Attempt: job.Attempts}
	f.history = nil
	for s := range f.subs {
		s.deliver(f.started)
	}
}

// progress passes an event of the Run func to the job's subscribers.
func (q *Queue) progress(job store.GradingJob, ev Event) {
	q.mu.Lock()
	f := q.feeds[job.ID] // kept while the job runs here
	q.mu.Unlock()
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempt != job.Attempts {
		return
	}
	ev = Event{Job: job.ID, Kind: KindProgress, Data: bytes.Clone(ev.Data)}
	if len(f.history) < maxHistory {
		f.history = append(f.history, ev)
	}
	for s := range f.subs {
		s.deliver(ev)
	}
}

// end unregisters a job that no longer runs here, sending last (if any)
// to its subscribers.
func (q *Queue) end(id int64, last *Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.running, id)
	f := q.feeds[id]
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempt, f.history = 0, nil
	if last != nil {
		for s := range f.subs {
			s.deliver(*last)
		}
	}
	if len(f.subs) == 0 {
		delete(q.feeds, id)
	}
}

// publish sends ev to the job's subscribers, if it has any.
func (q *Queue) publish(id int64, ev Event) {
	q.mu.Lock()
	f := q.feeds[id]
	if f == nil {
		q.mu.Unlock()
		return
	}
	f.mu.Lock()
	q.mu.Unlock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.deliver(ev)
	}
}

// refresh tells the subscribers of every watched job not running here
// where it stands: its new queue position, or that it started or finished
// elsewhere. Subscribers drop what they already know.
func (q *Queue) refresh(ctx context.Context) {
	q.mu.Lock()
	ids := make([]int64, 0, len(q.feeds))
	for id, f := range q.feeds {
		if len(f.subs) > 0 {
			ids = append(ids, id)
		}
	}
	q.mu.Unlock()
	for _, id := range ids {
		q.mu.Lock()
		f := q.feeds[id]
		if f == nil {
			q.mu.Unlock()
			continue
		}
		f.mu.Lock()
		q.mu.Unlock()
		// The read is made under the feed's lock so that it cannot be
		// delivered after a newer event of the job's worker.
		if f.attempt == 0 && len(f.subs) > 0 {
			ev, err := q.stateEvent(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				q.log.WarnContext(ctx, "refresh grading job's subscribers", "job", id, "err", err)
			}
			if ev != nil {
				for s := range f.subs {
					s.deliver(*ev)
				}
			}
		}
		f.mu.Unlock()
	}
}

// Subscribe streams the events of one job: first where it stands (queued
// at a position, started, or finished), then each change, ending with
// KindFinished, after which the channel is closed. A subscriber to a
// running job gets its progress so far first; one to a finished job gets
// the final event at once; one to a job that does not exist gets a closed
// channel. The stream also ends when ctx is done or stop is called; call
// stop when done reading. A subscriber too slow to read loses progress
// events beyond a few thousand, never the final one.
func (q *Queue) Subscribe(ctx context.Context, jobID int64) (events <-chan Event, stop func()) {
	s := &subscriber{
		out:    make(chan Event, 16),
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.stop = func() {
		s.once.Do(func() {
			close(s.done)
			q.mu.Lock()
			defer q.mu.Unlock()
			if f := q.feeds[jobID]; f != nil {
				f.mu.Lock()
				delete(f.subs, s)
				if len(f.subs) == 0 && f.attempt == 0 {
					delete(q.feeds, jobID)
				}
				f.mu.Unlock()
			}
		})
	}
	q.mu.Lock()
	f := q.feedLocked(jobID)
	f.mu.Lock()
	f.subs[s] = struct{}{}
	q.mu.Unlock()
	if f.attempt != 0 {
		s.deliver(f.started)
		for _, ev := range f.history {
			s.deliver(ev)
		}
	} else {
		ev, err := q.stateEvent(ctx, jobID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.finish()
		case err != nil:
			// The next refresh tells where it stands.
			q.log.WarnContext(ctx, "read subscribed grading job", "job", jobID, "err", err)
		case ev != nil:
			s.deliver(*ev)
		}
	}
	f.mu.Unlock()
	go s.pump()
	go func() {
		select {
		case <-ctx.Done():
			s.stop()
		case <-s.done:
		}
	}()
	return s.out, s.stop
}

// subscriber is one reader of a job's events. deliver queues an event
// (called under the feed's lock); pump hands them to out in order.
type subscriber struct {
	out    chan Event
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
	stop   func()

	mu       sync.Mutex
	pending  []Event
	final    bool // the final event is queued (or there will be none): take no more
	eof      bool // close out once pending is sent
	lastKind Kind
	lastPos  int
	attempt  int // of the last KindStarted sent
}

func (s *subscriber) deliver(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final {
		return
	}
	switch ev.Kind {
	case KindQueued:
		if s.lastKind == KindQueued && s.lastPos == ev.Position {
			return
		}
		s.lastPos, s.attempt = ev.Position, 0
	case KindStarted:
		if s.attempt == ev.Attempt {
			return // announced already, from the database or the worker
		}
		s.attempt = ev.Attempt
	case KindProgress:
		if len(s.pending) >= maxPending {
			return
		}
	case KindFinished:
		s.final, s.eof = true, true
	}
	s.lastKind = ev.Kind
	s.pending = append(s.pending, ev)
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// finish ends the stream with no (further) event.
func (s *subscriber) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.final, s.eof = true, true
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *subscriber) pump() {
	defer close(s.out)
	defer s.stop()
	for {
		s.mu.Lock()
		batch, eof := s.pending, s.eof
		s.pending = nil
		s.mu.Unlock()
		for _, ev := range batch {
			select {
			case s.out <- ev:
			case <-s.done:
				return
			}
		}
		if eof {
			return
		}
		select {
		case <-s.signal:
		case <-s.done:
			return
		}
	}
}
