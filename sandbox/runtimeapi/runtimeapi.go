// Package runtimeapi serves the AWS Lambda Runtime API for one function
// instance, and the small agent protocol that the instance's init process
// (sandbox/initproc) speaks to the host over the same socket.
//
// One Server belongs to one instance. The backend serves it on the instance's
// own listener (a Unix socket bind-mounted into the container, or TCP), so the
// listener that accepted a connection is the caller's identity. The package is
// a leaf: it imports no other lambdalab package, and its result types mirror
// sandbox.InitResult, sandbox.Invocation and sandbox.Outcome field by field so
// a backend converts them without thought.
//
// Output attribution: init reads the runtime's stdout and stderr and streams
// them to the host as frames on POST /lambdalab/v1/logs. Before it forwards
// any request of the runtime it sends a marker frame with a fresh sequence
// number and tags the request with that number (LogSeqHeader). The Server
// waits, briefly, until it has read that marker, so it knows exactly which
// output was written before the request: that is how the output between two
// /next calls becomes one invocation's log, as on Lambda.
package runtimeapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Status classifies how an init phase or an invocation ended. The values are
// those of sandbox.Status.
type Status string

const (
	StatusSuccess  Status = "success"   // a response was posted (or init reached /next)
	StatusError    Status = "error"     // the runtime posted an error
	StatusExit     Status = "exit"      // the runtime process exited without answering
	StatusTimeout  Status = "timeout"   // the deadline passed
	StatusTooLarge Status = "too-large" // the response exceeded MaxResponseBytes
)

// MaxResponseBytes is the largest response or error body a runtime may post:
// RIE's 6 MiB plus 100 bytes (reference/lambda-behaviour.md §1.3).
const MaxResponseBytes = 6291556

// InitResult describes the runtime's init phase (mirrors sandbox.InitResult).
type InitResult struct {
	// Duration runs from the moment the bind answer was sent to init (or,
	// without init, from Bind or New) to the first /next or the failure.
	Duration  time.Duration
	Log       []byte // output written during init, capped at Config.MaxLogBytes
	Truncated int64  // bytes of output dropped over the cap
	Status    Status
	ErrorBody []byte // the body posted to /init/error, if any
	ErrorType string // Lambda-Runtime-Function-Error-Type header, if any
	Exit      string // "exit status 1", "signal: killed" when the runtime exited
}

// Invocation is one event delivered through the Runtime API (mirrors
// sandbox.Invocation). RequestID is required; a zero Deadline is taken from
// the context given to Invoke.
type Invocation struct {
	RequestID          string
	Payload            []byte
	Deadline           time.Time
	InvokedFunctionARN string
	TraceID            string
	ClientContext      string
	CognitoIdentity    string

	// Output, if set, is a tap on the invocation's output: it receives the
	// bytes that Outcome.Log will hold, all of them and in order, as they
	// are collected (under the same cap; the caller writes its own
	// truncation line). The first call comes as soon as the event is queued
	// for the runtime, with what the runtime wrote while idle, which may be
	// nothing: from then on the event is on its way, so a caller can write
	// what precedes the output. Output written after the runtime posted its
	// answer comes when the invocation ends (only the marker of the next
	// /next tells where it stops); the last call is made before Invoke
	// returns. When no event was queued (the runtime had exited, or was not
	// ready before ctx ended) Outcome.Log comes in one call, if not empty;
	// after an error, the calls made so far are all there is.
	//
	// Calls come one at a time, on the goroutine that collects the output,
	// with the Server's lock held: Output must not block (a slow consumer
	// would stall the runtime's writes) and must not call the Server. The
	// chunk is the callee's to keep. Nil costs nothing.
	Output func(chunk []byte)
}

// Outcome is what the runtime did with one invocation (mirrors sandbox.Outcome).
type Outcome struct {
	Status      Status
	Payload     []byte // response body (success), posted error document (error), or empty
	ContentType string
	ErrorType   string // Lambda-Runtime-Function-Error-Type header, if sent
	Exit        string // Go's wording of the exit status when Status is StatusExit
	// Start is when the event was handed to the runtime; Done when the
	// response or error was posted, the process exited or the deadline passed.
	Start, Done  time.Time
	Log          []byte // output attributed to this invocation, capped
	Truncated    int64  // bytes of output dropped over the cap
	ResponseSize int64  // size the runtime tried to post (for too-large)
}

// BindConfig tells init which runtime to start. It is the JSON answer to
// init's GET /lambdalab/v1/bind.
type BindConfig struct {
	Cmd     []string `json:"cmd"`
	Env     []string `json:"env"`
	WorkDir string   `json:"workdir"`
}

// Config configures a Server.
type Config struct {
	// AWS serves every request that is neither a Runtime API path nor an
	// agent path: the emulated AWS services. Nil answers 404.
	AWS http.Handler
	// Logger receives the server's own events (never learner output). Nil
	// discards them.
	Logger *slog.Logger
	// MaxLogBytes caps the output kept per phase (init, or one invocation).
	// Zero means 1 MiB.
	MaxLogBytes int
}

// Agent protocol between init (inside the instance) and the Server.
const (
	// BindPath answers init's long poll with a BindConfig once Bind is called.
	BindPath = "/lambdalab/v1/bind"
	// LogsPath takes the runtime's output as a stream of frames.
	LogsPath = "/lambdalab/v1/logs"
	// ExitPath takes an ExitReport once the runtime process has exited.
	ExitPath = "/lambdalab/v1/exit"
	// LogSeqHeader carries the sequence number of the marker frame init wrote
	// just before it forwarded the request.
	LogSeqHeader = "Lambdalab-Log-Seq"

	// Frame kinds on the logs stream. A frame is one kind byte, a 4-byte
	// big-endian payload length and the payload; a marker's payload is its
	// 8-byte big-endian sequence number.
	FrameStdout byte = 'o'
	FrameStderr byte = 'e'
	FrameMarker byte = 'm'
	// MaxFramePayload is the largest output frame the Server accepts.
	MaxFramePayload = 1 << 20
)

// ExitReport is the body of POST ExitPath.
type ExitReport struct {
	// Status is the runtime's exit status in Go's os.ProcessState wording.
	Status string `json:"status"`
}

// ErrClosed is returned by WaitInit and Invoke once the Server is closed.
var ErrClosed = errors.New("runtimeapi: server closed")

// ErrBusy is returned by Invoke when another invocation is still in flight:
// an instance serves one request at a time, so this is a caller's bug.
var ErrBusy = errors.New("runtimeapi: an invocation is already in flight")

// phase is where the runtime is in its life, as seen from the API.
type phase int

const (
	phaseInit       phase = iota // started (or not yet), no /next so far
	phaseIdle                    // waiting on /next with nothing to do
	phaseBusy                    // an event is queued or was handed out, no answer yet
	phaseAnswered                // the answer was posted; waiting for the next /next
	phaseInitFailed              // /init/error was posted
)

// call is one invocation in flight.
type call struct {
	inv       Invocation
	out       Outcome
	delivered bool // handed to a /next
	answering bool // a response or error body is being read
	answered  bool
	abandoned bool // Invoke has returned; later posts are refused
	done      chan struct{}

	// With inv.Output: sent bytes of the phase's kept output have been
	// handed over, and they end at logical offset sentEnd.
	sent    int
	sentEnd int64
}

// Server is the Runtime API and agent endpoint of one instance. Its methods
// are safe for concurrent use.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	handler http.Handler
	created time.Time

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change
	closed   bool
	closedCh chan struct{}
	srv      *http.Server

	bind       *BindConfig
	bindAt     time.Time
	bindState  int // 0 none, 1 init is waiting, 2 answered
	bindSentAt time.Time

	logsState int // 0 not opened, 1 streaming, 2 ended
	out       logBuffer

	phase    phase
	parked   bool // a /next handler is waiting for an event
	initDone bool
	initRes  InitResult
	cur      *call
	invoking bool

	exitReported bool
	exited       bool
	exitText     string
	exitCh       chan struct{}
}

// New returns a Server that has not been bound yet.
func New(cfg Config) *Server {
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = 1 << 20
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		logger:   logger,
		created:  time.Now(),
		changed:  make(chan struct{}),
		closedCh: make(chan struct{}),
		exitCh:   make(chan struct{}),
		out:      logBuffer{max: cfg.MaxLogBytes},
	}
	s.handler = s.routes()
	return s
}

// Handler returns the HTTP handler for the instance's listener. Prefer Serve,
// which adds the timeouts and the connection cap; a caller serving Handler
// itself must set no read or write timeout (/next and the logs stream are long
// lived) but should set ReadHeaderTimeout.
func (s *Server) Handler() http.Handler { return s.handler }

// Bind answers init's bind poll with b, now or when the poll arrives. Only the
// first call counts.
func (s *Server) Bind(b BindConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bind != nil {
		return
	}
	s.bind = &b
	s.bindAt = time.Now()
	s.signalLocked()
}

// Exited is closed once the runtime is known to have exited (init reported
// it, or Fail was called).
func (s *Server) Exited() <-chan struct{} { return s.exitCh }

// Fail ends the runtime as exited with the given status text ("signal:
// killed"): the backend saw the instance die. A pending init or invocation
// ends with StatusExit.
func (s *Server) Fail(exit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exitLocked(exit, s.out.total)
}

// Close ends every waiting request and call, and stops Serve. It is safe to
// call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closedCh)
	srv := s.srv
	s.signalLocked()
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// signalLocked wakes everything waiting for a state change.
func (s *Server) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitLocked releases the lock until the state changes, ctx ends or timer
// fires (nil timer: never), and takes it again. It reports false if ctx ended
// or the timer fired.
func (s *Server) waitLocked(ctx context.Context, timer <-chan time.Time) bool {
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-timer:
		return false
	}
}

// initStartLocked is the moment init time is measured from.
func (s *Server) initStartLocked() time.Time {
	switch {
	case !s.bindSentAt.IsZero():
		return s.bindSentAt
	case !s.bindAt.IsZero():
		return s.bindAt
	}
	return s.created
}

// finishInitLocked records the init result once.
func (s *Server) finishInitLocked(res InitResult, cut int64) {
	if s.initDone {
		return
	}
	res.Duration = time.Since(s.initStartLocked())
	res.Log, res.Truncated = s.out.cut(cut)
	s.initRes = res
	s.initDone = true
	s.signalLocked()
}

// completeLocked ends the current call with the output up to cut.
func (s *Server) completeLocked(c *call, cut int64) {
	if c.abandoned {
		return
	}
	if c.sent > 0 {
		// The tap has seen these bytes, so the log keeps them too, even if
		// the marker that ends the call came before them (init gave up
		// waiting for a pipe to close, say).
		cut = max(cut, c.sentEnd)
	}
	c.out.Log, c.out.Truncated = s.out.cut(cut)
	c.tapRest(c.out.Log)
	c.abandoned = true
	close(c.done)
}

// tapLocked hands c's tap the output kept since its last call. The caller
// knows that every byte kept so far belongs to c.
func (s *Server) tapLocked(c *call) {
	if n := len(s.out.kept); n > c.sent {
		chunk := append([]byte(nil), s.out.kept[c.sent:]...)
		c.sent, c.sentEnd = n, s.out.keptAt+int64(n)
		c.inv.Output(chunk)
	}
}

// tapRest hands c's tap the part of its final log it has not seen.
func (c *call) tapRest(log []byte) {
	if c.inv.Output != nil && len(log) > c.sent {
		c.inv.Output(append([]byte(nil), log[c.sent:]...))
		c.sent = len(log)
	}
}

// exitLocked records that the runtime exited, ending whatever was pending.
func (s *Server) exitLocked(text string, cut int64) {
	if s.exited {
		return
	}
	s.exited = true
	s.exitText = text
	switch s.phase {
	case phaseInit:
		s.finishInitLocked(InitResult{Status: StatusExit, Exit: text}, cut)
	case phaseBusy:
		c := s.cur
		if !c.abandoned {
			now := time.Now()
			if c.out.Start.IsZero() {
				c.out.Start = now
			}
			c.out.Status, c.out.Exit, c.out.Done = StatusExit, text, now
			s.completeLocked(c, cut)
		}
	case phaseAnswered:
		s.completeLocked(s.cur, cut)
	}
	close(s.exitCh)
	s.signalLocked()
	s.logger.Debug("runtime exited", "status", text)
}

// WaitInit waits until the runtime's init ends: its first /next (success),
// /init/error (error), its exit (exit), or ctx's end (timeout). It returns
// the same result when called again. The error is ErrClosed only.
func (s *Server) WaitInit(ctx context.Context) (InitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.initDone {
		if s.closed {
			return InitResult{}, ErrClosed
		}
		if !s.waitLocked(ctx, nil) && !s.initDone {
			s.finishInitLocked(InitResult{Status: StatusTimeout}, s.out.total)
		}
	}
	return s.initRes, nil
}

// Invoke hands inv to the runtime once it waits on /next and returns when the
// runtime has answered and come back to /next (so output written after the
// answer is attributed too), when the runtime exited, or when ctx ends: then
// the status is timeout, or what was posted if the runtime answered but has
// not come back. Errors are for the caller's mistakes and a closed Server;
// everything the runtime does is an Outcome.
//
// Outcome.Log holds the output written from the /next that received the
// event up to the /next that followed the answer (as told by init's markers).
// Output written while the runtime waited between invocations (a background
// thread; on Lambda it would be frozen) counts toward the next invocation.
func (s *Server) Invoke(ctx context.Context, inv Invocation) (Outcome, error) {
	if inv.RequestID == "" {
		return Outcome{}, errors.New("invoke: empty request id")
	}
	if inv.Deadline.IsZero() {
		d, ok := ctx.Deadline()
		if !ok {
			return Outcome{}, errors.New("invoke: no deadline in the invocation or its context")
		}
		inv.Deadline = d
	}
	begin := time.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.invoking {
		return Outcome{}, ErrBusy
	}
	s.invoking = true
	defer func() { s.invoking = false }()

	for s.phase != phaseIdle || s.exited || s.closed {
		switch {
		case s.closed:
			return Outcome{}, ErrClosed
		case s.exited:
			now := time.Now()
			out := Outcome{Status: StatusExit, Exit: s.exitText, Start: now, Done: now}
			out.Log, out.Truncated = s.out.cut(s.out.total)
			(&call{inv: inv}).tapRest(out.Log)
			return out, nil
		}
		if !s.waitLocked(ctx, nil) && s.phase != phaseIdle {
			out := Outcome{Status: StatusTimeout, Start: begin, Done: time.Now()}
			out.Log, out.Truncated = s.out.cut(s.out.total)
			(&call{inv: inv}).tapRest(out.Log)
			return out, nil
		}
	}

	c := &call{inv: inv, done: make(chan struct{})}
	s.cur = c
	s.phase = phaseBusy
	s.signalLocked()
	if inv.Output != nil {
		// Everything kept since the last cut is this call's (output
		// written while idle counts toward the next invocation). The call
		// comes even when that is nothing: the event is on its way.
		n := len(s.out.kept)
		c.sent, c.sentEnd = n, s.out.keptAt+int64(n)
		inv.Output(append([]byte(nil), s.out.kept...))
	}

	s.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
	case <-s.closedCh:
	}
	s.mu.Lock()
	select {
	case <-c.done:
		return c.out, nil
	default:
	}
	c.abandoned = true
	close(c.done)
	if s.closed {
		return Outcome{}, ErrClosed
	}
	// ctx ended first.
	out := c.out
	if !c.answered {
		out = Outcome{Status: StatusTimeout, Start: c.out.Start, Done: time.Now()}
		if out.Start.IsZero() {
			out.Start = begin
		}
		if !c.delivered {
			// Nobody took the event: withdraw it.
			s.phase = phaseIdle
		}
	}
	out.Log, out.Truncated = s.out.cut(s.out.total)
	c.tapRest(out.Log)
	return out, nil
}
