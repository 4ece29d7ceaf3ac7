package runtimeapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/netutil"

	"lambdalab/facts"
)

const (
	// maxConns caps the connections one instance may hold open on its
	// listener, so a hostile runtime only starves itself.
	maxConns = 64
	// markerWait bounds how long a request waits for its log marker. Init
	// writes the marker before it forwards the request, so the wait is
	// normally a few microseconds; the bound only matters when init is gone
	// or a request carries a forged number.
	markerWait   = 200 * time.Millisecond
	maxErrorType = facts.MaxErrorTypeBytes
	// maxDrain bounds how much of an oversized body is read to learn its size.
	maxDrain = 64 << 20
)

// Serve serves the Server on l until Close, with header timeouts and a cap on
// concurrent connections. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler: s.handler,
		// No ReadTimeout or WriteTimeout: /next is a long poll with no
		// timeout and the logs stream lives as long as the runtime.
		ReadHeaderTimeout: 5 * time.Second,
		// initproc's relay reuses an idle connection for at most 30 s, so
		// this must stay well above that.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	if s.srv != nil {
		s.mu.Unlock()
		return errors.New("runtimeapi: serve: already serving")
	}
	s.srv = srv
	s.mu.Unlock()
	err := srv.Serve(netutil.LimitListener(l, maxConns))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve runtime api: %w", err)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.initError)
	mux.HandleFunc("/2018-06-01/", notFound)
	mux.HandleFunc("POST /2020-01-01/extension/register", s.extensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.extensionNext)
	mux.HandleFunc("/2020-01-01/", okStub)
	mux.HandleFunc("/2020-08-15/", okStub)
	mux.HandleFunc("/2022-07-01/", okStub)
	mux.HandleFunc("GET "+BindPath, s.agentBind)
	mux.HandleFunc("POST "+LogsPath, s.agentLogs)
	mux.HandleFunc("POST "+ExitPath, s.agentExit)
	mux.HandleFunc("/lambdalab/", notFound)
	mux.HandleFunc("/", s.aws)
	return mux
}

// apiError is the Runtime API's error document.
type apiError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, apiError{ErrorMessage: msg, ErrorType: typ})
}

var statusOK = map[string]string{"status": "OK"}

func invalidRequestID(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
}

func invalidState(w http.ResponseWriter, from, to string) {
	writeError(w, http.StatusForbidden, "InvalidStateTransition",
		fmt.Sprintf("State transition from %s to %s failed for runtime. Error: State transition is not allowed", from, to))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "NotFound", "No such path: "+r.URL.Path)
}

func okStub(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	writeJSON(w, http.StatusOK, map[string]string{})
}

// aws hands a request to the emulated AWS services.
func (s *Server) aws(w http.ResponseWriter, r *http.Request) {
	r.Header.Del(LogSeqHeader)
	if s.cfg.AWS == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no AWS service is served on this endpoint"})
		return
	}
	s.cfg.AWS.ServeHTTP(w, r)
}

// extensionRegister accepts an extension so that one shipped in a layer does
// not crash; lambdalab sends it no events.
func (s *Server) extensionRegister(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Lambda-Extension-Identifier", "lambdalab-extension")
	writeJSON(w, http.StatusOK, map[string]string{"functionName": "", "functionVersion": "", "handler": ""})
}

// extensionNext parks an extension until the instance ends, rather than
// answering at once and letting it spin.
func (s *Server) extensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closedCh:
	case <-s.exitCh:
	}
	writeJSON(w, http.StatusOK, map[string]any{"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": time.Now().UnixMilli()})
}

// cutPoint returns the logical log offset that ends the output written
// before r was made. With a LogSeqHeader it waits (bounded) until the logs
// stream delivered that marker; without one, the output received so far.
// The caller holds no lock; the result is used under the lock soon after.
func (s *Server) cutPoint(ctx context.Context, r *http.Request) (seq uint64, tagged bool) {
	v := r.Header.Get(LogSeqHeader)
	if v == "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	timer := time.NewTimer(markerWait)
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.out.seen < seq && s.logsState != 2 && !s.closed {
		if !s.waitLocked(ctx, timer.C) {
			break
		}
	}
	return seq, true
}

// offsetLocked turns the result of cutPoint into a log offset.
func (s *Server) offsetLocked(seq uint64, tagged bool) int64 {
	if !tagged {
		return s.out.total
	}
	return s.out.offset(seq)
}

// next is GET /runtime/invocation/next: the end of init or of the previous
// invocation, then a long poll for the next event.
func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	seq, tagged := s.cutPoint(ctx, r)

	s.mu.Lock()
	if s.closed || s.exited {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "InternalServerError", "Internal Server Error")
		return
	}
	switch s.phase {
	case phaseInit:
		s.finishInitLocked(InitResult{Status: StatusSuccess}, s.offsetLocked(seq, tagged))
		s.phase = phaseIdle
	case phaseAnswered:
		s.completeLocked(s.cur, s.offsetLocked(seq, tagged))
		s.phase = phaseIdle
		s.signalLocked()
	case phaseIdle:
		if s.parked {
			s.mu.Unlock()
			invalidState(w, "Ready", "Ready")
			return
		}
	case phaseBusy:
		if s.cur.delivered {
			s.mu.Unlock()
			invalidState(w, "Running", "Ready")
			return
		}
	case phaseInitFailed:
		s.mu.Unlock()
		invalidState(w, "InitError", "Ready")
		return
	}

	s.parked = true
	for {
		if s.phase == phaseBusy && !s.cur.delivered {
			break
		}
		if s.closed || s.exited {
			s.parked = false
			s.mu.Unlock()
			writeError(w, http.StatusInternalServerError, "InternalServerError", "Internal Server Error")
			return
		}
		if !s.waitLocked(ctx, nil) {
			s.parked = false
			s.mu.Unlock()
			return
		}
	}
	c := s.cur
	c.delivered = true
	c.out.Start = time.Now()
	s.parked = false
	inv := c.inv
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.RequestID)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.Deadline.UnixMilli(), 10))
	setIf(h, "Lambda-Runtime-Invoked-Function-Arn", inv.InvokedFunctionARN)
	setIf(h, "Lambda-Runtime-Trace-Id", inv.TraceID)
	setIf(h, "Lambda-Runtime-Client-Context", inv.ClientContext)
	setIf(h, "Lambda-Runtime-Cognito-Identity", inv.CognitoIdentity)
	h.Set("Content-Length", strconv.Itoa(len(inv.Payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Payload)
}

func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// claim finds the call a response or error for id belongs to and marks it as
// being answered, or writes the refusal and returns nil.
func (s *Server) claim(w http.ResponseWriter, id string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseInit || s.phase == phaseInitFailed {
		invalidState(w, "Init", "InvocationResponse")
		return nil
	}
	c := s.cur
	if c == nil || c.inv.RequestID != id || !c.delivered || c.answering || c.answered || c.abandoned {
		invalidRequestID(w)
		return nil
	}
	c.answering = true
	return c
}

// readBody reads a posted result, at most MaxResponseBytes. For a larger body
// it reports the attempted size (read through, within reason) and tooLarge.
func readBody(r *http.Request) (body []byte, size int64, tooLarge bool, err error) {
	if r.ContentLength > MaxResponseBytes {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		return nil, max(r.ContentLength, n), true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, int64(len(body)), false, err
	}
	if len(body) > MaxResponseBytes {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		return nil, int64(len(body)) + n, true, nil
	}
	return body, int64(len(body)), false, nil
}

// answer reads a response or error for the call in flight and records it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status Status) {
	c := s.claim(w, r.PathValue("id"))
	if c == nil {
		return
	}
	body, size, tooLarge, err := readBody(r)

	s.mu.Lock()
	c.answering = false
	if c.abandoned || s.closed {
		s.mu.Unlock()
		invalidRequestID(w)
		return
	}
	if err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "The request body could not be read")
		return
	}
	c.answered = true
	c.out.Done = time.Now()
	c.out.ResponseSize = size
	if tooLarge {
		c.out.Status = StatusTooLarge
	} else {
		c.out.Status = status
		c.out.Payload = body
		c.out.ContentType = r.Header.Get("Content-Type")
		if status == StatusError {
			c.out.ErrorType = errorType(r)
		}
	}
	s.phase = phaseAnswered
	s.signalLocked()
	s.mu.Unlock()

	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes))
		return
	}
	writeJSON(w, http.StatusAccepted, statusOK)
}

func errorType(r *http.Request) string {
	return errorTypeName(r.Header.Get("Lambda-Runtime-Function-Error-Type"))
}

// errorTypeName makes a runtime's error type safe to print (facts.ErrorTypeName).
var errorTypeName = facts.ErrorTypeName

func (s *Server) response(w http.ResponseWriter, r *http.Request) { s.answer(w, r, StatusSuccess) }

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	s.answer(w, r, StatusError)
}

// initError is POST /runtime/init/error.
func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	seq, tagged := s.cutPoint(r.Context(), r)
	s.mu.Lock()
	if s.phase != phaseInit || s.initDone {
		s.mu.Unlock()
		invalidState(w, "Ready", "InitError")
		return
	}
	// Claim the phase before reading so a second /init/error is refused.
	s.phase = phaseInitFailed
	s.mu.Unlock()

	body, _, tooLarge, err := readBody(r)
	if tooLarge || err != nil {
		body = nil
	}
	s.mu.Lock()
	s.finishInitLocked(InitResult{Status: StatusError, ErrorBody: body, ErrorType: errorType(r)}, s.offsetLocked(seq, tagged))
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, statusOK)
}

// agentBind is init's long poll for its runtime.
func (s *Server) agentBind(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.bindState != 0 {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Conflict", "the instance is already bound")
		return
	}
	s.bindState = 1
	for s.bind == nil {
		if s.closed || !s.waitLocked(r.Context(), nil) {
			s.bindState = 0
			closed := s.closed
			s.mu.Unlock()
			if closed {
				writeError(w, http.StatusServiceUnavailable, "Closed", "the instance is closing")
			}
			return
		}
	}
	b := *s.bind
	s.bindState = 2
	s.bindSentAt = time.Now()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

// agentLogs reads the runtime's output frames until init closes the stream.
func (s *Server) agentLogs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.logsState != 0 {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Conflict", "the logs stream is already open")
		return
	}
	s.logsState = 1
	s.signalLocked()
	s.mu.Unlock()

	err := s.readFrames(bufio.NewReaderSize(r.Body, 64<<10))

	s.mu.Lock()
	s.logsState = 2
	s.signalLocked()
	s.mu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) {
		s.logger.Debug("logs stream ended", "err", err)
		writeError(w, http.StatusBadRequest, "BadFrame", "bad logs stream")
		return
	}
	writeJSON(w, http.StatusOK, statusOK)
}

func (s *Server) readFrames(br *bufio.Reader) error {
	var hdr [5]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		switch hdr[0] {
		case FrameMarker:
			if n != 8 {
				return fmt.Errorf("marker frame of %d bytes", n)
			}
			if _, err := io.ReadFull(br, buf[:8]); err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(buf[:8])
			s.mu.Lock()
			s.out.mark(seq)
			s.signalLocked()
			s.mu.Unlock()
		case FrameStdout, FrameStderr:
			if n > MaxFramePayload {
				return fmt.Errorf("output frame of %d bytes", n)
			}
			for n > 0 {
				k := min(int(n), len(buf))
				if _, err := io.ReadFull(br, buf[:k]); err != nil {
					return err
				}
				s.mu.Lock()
				s.out.write(buf[:k])
				if c := s.cur; c != nil && c.inv.Output != nil && s.phase == phaseBusy && !c.abandoned {
					// Before the answer no /next can have ended the call,
					// so every byte so far is its own.
					s.tapLocked(c)
				}
				s.mu.Unlock()
				n -= uint32(k)
			}
		default:
			return fmt.Errorf("unknown frame kind %q", hdr[0])
		}
	}
}

// agentExit is init's report that the runtime process has exited.
func (s *Server) agentExit(w http.ResponseWriter, r *http.Request) {
	var rep ExitReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&rep); err != nil || rep.Status == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", "an exit report needs a status")
		return
	}
	if len(rep.Status) > 256 {
		rep.Status = rep.Status[:256]
	}
	s.mu.Lock()
	if s.exitReported {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Conflict", "the exit was already reported")
		return
	}
	s.exitReported = true
	s.mu.Unlock()

	seq, tagged := s.cutPoint(r.Context(), r)
	s.mu.Lock()
	s.exitLocked(rep.Status, s.offsetLocked(seq, tagged))
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, statusOK)
}
