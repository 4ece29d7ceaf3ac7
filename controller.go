package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web"
)

// controllerStart is what a serve needs to become the controller: at start
// when the lock is free, or later, as a replica taking over.
type controllerStart struct {
	db                  *store.DB
	cfg                 web.Config // without the cloud, which the controller adds
	dataDir, contentDir string
	getenv              func(string) string
	logger              *slog.Logger
	srv                 *http.Server
	webSlot, awsSlot    *handlerSlot
	awsLn               net.Listener
	here                store.Controller // where the others reach this serve
}

// controllerRun is a running controller's own parts, stopped in order by
// close.
type controllerRun struct {
	lock   *store.Lock
	acct   *accounts
	engine *backgroundEngine
	cancel context.CancelFunc
}

// run starts everything a controller owns (the accounts' services, the
// sandbox in the background, grading once it runs), puts its routes in
// place of whatever the slots served, and records this serve as the
// controller. lock is the controller lock, held: the run gives it up when
// it closes, or at once when it fails to start.
func (s controllerStart) run(parent context.Context, lock *store.Lock) (*controllerRun, error) {
	ctx, cancel := context.WithCancel(parent)
	acct, err := startAccounts(ctx, s.db, s.dataDir, s.getenv, s.logger)
	if err != nil {
		cancel()
		lock.Release()
		return nil, err
	}
	run := &controllerRun{lock: lock, acct: acct, cancel: cancel}
	cfg := s.cfg
	cfg.XRayLayer, cfg.Cloud = acct.xrayLayer, acct.cloud()
	site, err := web.New(cfg)
	if err != nil {
		run.close(ctx)
		return nil, err
	}
	courseLabs := cfg.Labs
	var labsMu sync.Mutex
	setLabs := func(all []*labs.Lab) {
		labsMu.Lock()
		defer labsMu.Unlock()
		courseLabs = all
		site.SetLabs(all)
		if gr := acct.grading.Load(); gr != nil {
			gr.SetLabs(all)
		}
	}
	if cfg.AuthorMode {
		if err := watchCourse(ctx, s.contentDir, s.logger, site, setLabs); err != nil {
			run.close(ctx)
			return nil, err
		}
	}
	s.srv.RegisterOnShutdown(site.Close)
	go sweepSessions(ctx, s.db, s.logger)

	run.engine = startSandboxInBackground(ctx, s.db, s.dataDir, s.getenv, sandboxServices{aws: acct.endpoint.Instance(), xray: acct.xray.InstanceSink}, s.logger, func(e *sandbox.Engine) {
		acct.engineReady(ctx, e)
		labsMu.Lock()
		all := courseLabs
		labsMu.Unlock()
		if err := acct.startGrading(ctx, s.db, e, all, s.getenv); err != nil {
			s.logger.Error("grading unavailable", "err", err)
		}
	}, acct.lambda.NoEngine)

	token := newTermToken()
	s.webSlot.set(fromReplicas(token, site.Routes()))
	s.awsSlot.set(acct.endpoint)
	if s.awsLn != nil {
		acct.listenXRay(ctx, s.awsLn.Addr().String())
	}
	here := s.here
	here.Token, here.Since = token, time.Now()

	if err := s.db.SetController(ctx, here); err != nil {
		run.close(ctx)
		return nil, fmt.Errorf("serve: record this serve as the controller: %w", err)
	}
	// Where the other serves will forward to: an address only this machine
	// can reach (a loopback one) serves replicas on this machine only.
	s.logger.Info("controller", "replica", here.Replica, "advertised_url", here.WebURL, "advertised_aws_url", here.AWSURL)
	return run, nil
}

// close stops the sandbox (its instances), then the services, and gives
// the lock up last, so a replica that takes over finds no instance of
// this controller still running.
func (r *controllerRun) close(ctx context.Context) {
	if r.engine != nil {
		r.engine.close(ctx)
	}
	r.acct.close(ctx)
	r.cancel()
	r.lock.Release()
}

// awaitLock waits until this serve holds the controller lock, or ctx ends
// (nil then). A failed wait (the database restarting) is tried again.
func awaitLock(ctx context.Context, db *store.DB, logger *slog.Logger) *store.Lock {
	for {
		l, err := db.WaitLock(ctx, "controller")
		if err == nil {
			return l
		}
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, store.ErrLocked) {
			logger.Warn("wait for the controller lock", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// watchLock closes lost when the held lock's session ends.
func watchLock(ctx context.Context, l *store.Lock, lost chan<- struct{}) {
	select {
	case <-l.Lost():
		close(lost)
	case <-ctx.Done():
	}
}
