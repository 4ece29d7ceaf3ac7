package xray

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/sandbox"
	"lambdalab/store"
)

// Per-account bounds and ingest defaults.
const (
	// DefaultMaxTraces and DefaultMaxBytes bound what one account keeps;
	// over either, its oldest traces (by first arrival) are dropped. Real
	// X-Ray keeps 30 days; a learner needs far less.
	DefaultMaxTraces = 10000
	DefaultMaxBytes  = 100 << 20
	// DefaultQueue is how many documents may wait for the writer. A burst
	// beyond it is dropped, as a daemon drops what it cannot buffer.
	DefaultQueue = 16384
	// DefaultFlushEvery is the longest a document waits to be committed.
	DefaultFlushEvery = 5 * time.Millisecond
	// DefaultBatch is the most documents committed in one transaction.
	DefaultBatch = 2000
)

// ErrQueueFull means a document was dropped because the writer is behind.
var ErrQueueFull = errors.New("x-ray ingest queue full")

// ErrClosed means the service has been closed.
var ErrClosed = errors.New("x-ray service closed")

// Config wires a Service. DB is required; every other zero value has a
// working default.
type Config struct {
	DB         *store.DB
	MaxTraces  int
	MaxBytes   int64
	Queue      int
	FlushEvery time.Duration
	Batch      int
	Logger     *slog.Logger
}

// Service is the X-Ray service of all accounts: it takes documents from
// instances (InstanceSink), host tools (ListenUDP) and the API
// (PutDocument), commits them in batches from one writer goroutine, and
// reads traces back per account.
type Service struct {
	db     *store.DB
	limits store.XRayLimits
	flush  time.Duration
	batch  int
	logger *slog.Logger

	queue  chan item
	closed atomic.Bool
	stop   context.CancelFunc
	wg     sync.WaitGroup

	received, stored, refused, dropped, failed atomic.Int64
}

// item is a document for the writer, or (done set) a flush marker.
type item struct {
	seg  store.XRaySegment
	done chan struct{}
}

// New starts the service's writer; Close stops it.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTraces == 0 {
		cfg.MaxTraces = DefaultMaxTraces
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.FlushEvery == 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		db:     cfg.DB,
		limits: store.XRayLimits{MaxTraces: cfg.MaxTraces, MaxBytes: cfg.MaxBytes},
		flush:  cfg.FlushEvery,
		batch:  cfg.Batch,
		logger: cfg.Logger,
		queue:  make(chan item, cfg.Queue),
		stop:   cancel,
	}
	s.wg.Add(1)
	go s.write(ctx)
	return s
}

// Close stops taking documents, commits those already queued and stops the
// writer.
func (s *Service) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats counts documents since start: received (datagrams and API
// documents), stored, refused (malformed or too large), dropped (queue
// full or closed) and failed (the database refused the batch).
type Stats struct {
	Received, Stored, Refused, Dropped, Failed int64
}

func (s *Service) Stats() Stats {
	return Stats{s.received.Load(), s.stored.Load(), s.refused.Load(), s.dropped.Load(), s.failed.Load()}
}

// InstanceSink takes the datagrams of function instances: it is what
// sandbox.Config.XRay wants. The account is the instance's, whatever the
// document says. It never blocks: a datagram the queue has no room for is
// dropped and counted. A refused one is dropped too, as the daemon drops
// what it cannot parse, with a debug line saying why: it is the learner's
// code that sent it, maybe once per invocation, so not for the server log
// at its usual level.
func (s *Service) InstanceSink(c sandbox.Caller, datagram []byte) {
	if err := s.Datagram(c.AccountID, datagram); errors.Is(err, ErrInvalidDocument) {
		s.logger.Debug("x-ray datagram refused", "account", c.AccountID, "function", c.Function,
			"instance", c.InstanceID, "bytes", len(datagram), "reason", err)
	}
}

// Datagram parses one daemon-protocol datagram for account and queues it
// without blocking. It returns why a datagram was refused or dropped.
func (s *Service) Datagram(account string, datagram []byte) error {
	s.received.Add(1)
	e, err := ParseDatagram(datagram)
	if err != nil {
		s.refused.Add(1)
		return err
	}
	return s.enqueue(nil, account, e, trimmedBody(datagram))
}

// PutDocument parses one segment document (no daemon header) for account
// and queues it, waiting for room (the API path: the caller is told).
func (s *Service) PutDocument(ctx context.Context, account string, doc []byte) error {
	s.received.Add(1)
	e, err := ParseDocument(doc)
	if err != nil {
		s.refused.Add(1)
		return err
	}
	return s.enqueue(ctx, account, e, bytes.TrimSpace(doc))
}

// trimmedBody is the document part of a datagram (after the header line).
func trimmedBody(d []byte) []byte {
	_, body, _ := bytes.Cut(d, []byte("\n"))
	return bytes.TrimSpace(body)
}

// enqueue queues a parsed document; with a nil ctx it drops instead of
// waiting for room.
func (s *Service) enqueue(ctx context.Context, account string, e *Entity, doc []byte) error {
	if s.closed.Load() {
		s.dropped.Add(1)
		return ErrClosed
	}
	it := item{seg: row(account, e, doc)}
	if ctx == nil {
		select {
		case s.queue <- it:
			return nil
		default:
			s.dropped.Add(1)
			return ErrQueueFull
		}
	}
	select {
	case s.queue <- it:
		return nil
	case <-ctx.Done():
		s.dropped.Add(1)
		return ctx.Err()
	}
}

// row is the store's record of a document: the columns listings need.
func row(account string, e *Entity, doc []byte) store.XRaySegment {
	r := store.XRaySegment{
		AccountID: account, TraceID: e.TraceID, ID: e.ID, ParentID: e.ParentID,
		Subsegment: e.Type == "subsegment", Name: e.Name, Origin: e.Origin,
		Start: seconds(e.StartTime), End: seconds(e.EndTime), InProgress: e.InProgress,
		Doc: doc,
	}
	if h := e.HTTP; h != nil {
		if h.Request != nil {
			r.HTTPMethod, r.HTTPURL = h.Request.Method, h.Request.URL
		}
		if h.Response != nil {
			r.HTTPStatus = int(h.Response.Status)
		}
	}
	var ann map[string]any
	e.walk(func(x *Entity) {
		r.Error = r.Error || x.Error
		r.Fault = r.Fault || x.Fault
		r.Throttle = r.Throttle || x.Throttle
		r.InProgress = r.InProgress || x.InProgress
		for k, v := range x.Annotations {
			if ann == nil {
				ann = map[string]any{}
			}
			ann[k] = v
		}
	})
	if ann != nil {
		b, _ := json.Marshal(ann)
		r.Annotations = string(b)
	}
	return r
}

// Flush waits until every document queued before the call is committed.
func (s *Service) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	done := make(chan struct{})
	select {
	case s.queue <- item{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write commits queued documents in batches: up to Batch documents, or
// whatever arrived within FlushEvery of the first. One transaction per
// batch is what makes thousands of documents a second cheap in SQLite.
func (s *Service) write(ctx context.Context) {
	defer s.wg.Done()
	batch := make([]store.XRaySegment, 0, s.batch)
	var waiting []chan struct{}
	commit := func() {
		if len(batch) > 0 {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			n, err := s.db.PutXRaySegments(wctx, batch, s.limits)
			cancel()
			if err != nil {
				s.failed.Add(int64(len(batch)))
				s.logger.ErrorContext(ctx, "store x-ray segments", "documents", len(batch), "err", err)
			} else {
				s.stored.Add(int64(n))
			}
			clear(batch) // drop the documents' memory now
			batch = batch[:0]
		}
		for _, d := range waiting {
			close(d)
		}
		waiting = waiting[:0]
	}
	add := func(it item) {
		if it.done != nil {
			waiting = append(waiting, it.done)
			return
		}
		batch = append(batch, it.seg)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case it := <-s.queue:
			add(it)
		case <-ctx.Done():
			s.drain(add)
			commit()
			return
		}
		timer.Reset(s.flush)
	collect:
		for len(batch) < s.batch && len(waiting) == 0 {
			select {
			case it := <-s.queue:
				add(it)
			case <-timer.C:
				break collect
			case <-ctx.Done():
				break collect
			}
		}
		timer.Stop()
		commit()
	}
}

// drain takes whatever is queued without waiting.
func (s *Service) drain(add func(item)) {
	for {
		select {
		case it := <-s.queue:
			add(it)
		default:
			return
		}
	}
}

// ListenUDP serves the daemon protocol on a host UDP address (say
// 127.0.0.1:2000) for tools running on the host, until ctx ends. Host
// datagrams carry no identity, so a datagram is taken only when it comes
// from a loopback address and its document names the account in
// aws.account_id; the account must exist (documents of unknown accounts are
// skipped when stored). Anyone who can send to the host's loopback can
// therefore write traces into an account whose id they know: bind it only
// on loopback, and only where the host's users are trusted. Function
// instances never come this way (they have no network; see InstanceSink).
// It returns the bound address.
func (s *Service) ListenUDP(ctx context.Context, addr string) (net.Addr, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("x-ray udp: %w", err)
	}
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	go func() {
		buf := make([]byte, MaxDocument+1)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if u, ok := from.(*net.UDPAddr); !ok || !u.IP.IsLoopback() || n > MaxDocument {
				s.received.Add(1)
				s.refused.Add(1)
				continue
			}
			d := append([]byte(nil), buf[:n]...)
			s.hostDatagram(d)
		}
	}()
	return pc.LocalAddr(), nil
}

// hostDatagram takes a host datagram for the account its document names.
func (s *Service) hostDatagram(d []byte) {
	s.received.Add(1)
	e, err := ParseDatagram(d)
	if err != nil {
		s.refused.Add(1)
		s.logger.Debug("x-ray host datagram refused", "bytes", len(d), "reason", err)
		return
	}
	acct, _ := e.AWS["account_id"].(string)
	if !validAccount(acct) {
		s.refused.Add(1)
		s.logger.Debug("x-ray host datagram refused", "bytes", len(d), "reason", "aws.account_id is not 12 digits")
		return
	}
	s.enqueue(nil, acct, e, trimmedBody(d))
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
