// Package lambda is the Lambda service of every learner's emulated AWS
// account: functions and their code, versions, aliases, layers, resource
// policies, concurrency settings and asynchronous invocation, stored in
// SQLite (package store) with code in a content-addressed package store
// (package codepkg). It resolves what a caller names (a function, version
// or alias) into one sandbox.Function and runs it on the sandbox engine.
// Its HTTP side (http.go) speaks Lambda's REST API for a caller that the
// endpoint has already authenticated; it knows nothing about signatures.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/xray"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// Config wires a Service. DB and Packages are required.
type Config struct {
	DB       *store.DB
	Packages *codepkg.Store
	// Clock scales Lambda's waits (async retries and back-off).
	Clock Clock
	// XRay receives Lambda's own segments of actively traced invocations;
	// nil traces nothing.
	XRay *xray.Service
	// AsyncWorkers is how many asynchronous events are delivered at once.
	// Zero means 16.
	AsyncWorkers int
	Logger       *slog.Logger
}

// Service is the Lambda service of all accounts. Its methods take the
// account they act in; the endpoint derives it from the verified caller.
type Service struct {
	db     *store.DB
	pkgs   *codepkg.Store
	clock  Clock
	logger *slog.Logger

	engine atomic.Pointer[sandbox.Engine]
	// noEngine is why there is no engine yet, for callers who invoke
	// before there is one; nil while it is starting.
	noEngine atomic.Pointer[string]

	xray     *xray.Service
	samplers sync.Map // account id → *sampler

	async   *asyncRunner
	chains  chains // lineage of the async events running now (recursion.go)
	objects atomic.Pointer[ObjectStore]
	workers int
	wg      sync.WaitGroup
	stop    context.CancelFunc
	closed  chan struct{}
}

// New makes the service. It stores and answers at once; invocations need an
// engine (SetEngine), which serve starts off the start-up path.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AsyncWorkers == 0 {
		cfg.AsyncWorkers = 16
	}
	s := &Service{db: cfg.DB, pkgs: cfg.Packages, clock: cfg.Clock, logger: cfg.Logger, xray: cfg.XRay,
		workers: cfg.AsyncWorkers, closed: make(chan struct{})}
	s.async = newAsyncRunner(s)
	return s
}

// SetEngine hands the service the execution engine and restores every
// stored reserved and provisioned concurrency setting into it, so a
// restart changes nothing a learner configured. Asynchronous delivery
// starts here too: events wait in the queue until there is an engine.
func (s *Service) SetEngine(ctx context.Context, e *sandbox.Engine) error {
	if !s.engine.CompareAndSwap(nil, e) {
		return errors.New("lambda service already has an engine")
	}
	if err := s.restoreConcurrency(ctx, e); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	return s.async.start(runCtx)
}

// Close stops asynchronous delivery. Events in flight stay in the queue and
// are delivered again by the next start.
func (s *Service) Close() {
	if s.stop != nil {
		s.stop()
	}
	s.async.wait()
}

// NoEngine says the sandbox will not start (reason is for the caller: what
// to do about it). Until it is called, or SetEngine, an invoke hears that
// the sandbox is starting.
func (s *Service) NoEngine(reason string) { s.noEngine.Store(&reason) }

func (s *Service) eng() (*sandbox.Engine, error) {
	e := s.engine.Load()
	if e != nil {
		return e, nil
	}
	// ServiceException is Lambda's own "try again": the SDKs and the CLI
	// retry it, which is right while the sandbox starts (or this serve
	// takes over from a controller that died).
	msg := "lambdalab's sandbox is starting; try again in a moment"
	if why := s.noEngine.Load(); why != nil {
		msg = "lambdalab cannot run functions: " + *why
	}
	return nil, &Error{Type: "ServiceException", Status: 500, Message: msg}
}

// restoreConcurrency puts every stored reservation and provisioned
// configuration back into a fresh engine.
func (s *Service) restoreConcurrency(ctx context.Context, e *sandbox.Engine) error {
	fns, err := s.db.ReservedConcurrencies(ctx)
	if err != nil {
		return fmt.Errorf("restore reserved concurrency: %w", err)
	}
	for _, f := range fns {
		if err := e.SetReservedConcurrency(f.AccountID, f.Name, f.ReservedConcurrency); err != nil {
			s.logger.WarnContext(ctx, "restore reserved concurrency", "account", f.AccountID, "function", f.Name, "err", err)
		}
	}
	pcs, err := s.db.ListProvisionedConcurrency(ctx, "", "")
	if err != nil {
		return fmt.Errorf("restore provisioned concurrency: %w", err)
	}
	for _, p := range pcs {
		if err := s.applyProvisioned(ctx, e, p.AccountID, p.Function, p.Qualifier, p.Requested); err != nil {
			s.logger.WarnContext(ctx, "restore provisioned concurrency", "account", p.AccountID, "function", p.Function, "qualifier", p.Qualifier, "err", err)
		}
	}
	return nil
}

// storeErr maps the store's sentinels onto Lambda's refusals for one
// resource; other errors pass through as platform failures.
func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("%s", what)
	case errors.Is(err, store.ErrExists):
		return conflict("%s", what)
	}
	return err
}

func now() time.Time { return time.Now().UTC() }
