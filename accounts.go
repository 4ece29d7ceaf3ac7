package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/endpoint"
	"lambdalab/cloud/lambda"
	"lambdalab/cloud/s3"
	"lambdalab/cloud/xray"
	"lambdalab/grader"
	"lambdalab/grader/grading"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/store"
	"lambdalab/web"
)

// accounts is the emulated AWS side of serve: the services of every
// learner's account and the endpoint in front of them.
type accounts struct {
	dataDir   string
	layerZip  atomic.Pointer[string] // the ready X-Ray layer, once built
	wantLayer chan struct{}          // the first ask for the layer
	pkgs      *codepkg.Store
	lambda    *lambda.Service
	s3        *s3.Service
	xray      *xray.Service
	endpoint  *endpoint.Endpoint
	grading   atomic.Pointer[grading.Grading] // once the sandbox runs
	engine    atomic.Pointer[sandbox.Engine]  // once the sandbox runs
	logger    *slog.Logger
}

// timeScale reads LAMBDALAB_TIME_SCALE: how many Lambda seconds pass in one
// real second for async retries and back-off (default 60).
func timeScale(getenv func(string) string) (float64, error) {
	v := getenv("LAMBDALAB_TIME_SCALE")
	if v == "" {
		return 60, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 1 || f > 3600 {
		return 0, fmt.Errorf("LAMBDALAB_TIME_SCALE=%q: want a number from 1 (real time) to 3600", v)
	}
	return f, nil
}

func startAccounts(ctx context.Context, db *store.DB, dataDir string, getenv func(string) string, logger *slog.Logger) (*accounts, error) {
	scale, err := timeScale(getenv)
	if err != nil {
		return nil, err
	}
	pkgs, err := codepkg.Open(filepath.Join(dataDir, "packages"))
	if err != nil {
		return nil, fmt.Errorf("open package store: %w", err)
	}
	xr := xray.New(xray.Config{DB: db, Logger: logger})
	svc := lambda.New(lambda.Config{DB: db, Packages: pkgs, Clock: lambda.Clock{Scale: scale}, XRay: xr, Logger: logger})
	lambdaAPI := svc.Handler()
	objects, err := s3.New(ctx, s3.Config{DB: db, Dir: filepath.Join(dataDir, "s3"), Functions: svc, Notifier: svc, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}
	// S3 stands on Lambda (it notifies functions), so Lambda gets its
	// buckets for on-failure records only now.
	svc.SetObjectStore(objects)
	ep := endpoint.New(endpoint.Config{
		DB:       db,
		Services: map[string]http.Handler{"lambda": lambdaAPI, "s3": objects, "xray": xr.Handler()},
		Unsigned: map[string]http.Handler{"/_lambdalab/code/": lambdaAPI},
		Logger:   logger,
	})
	a := &accounts{dataDir: dataDir, pkgs: pkgs, lambda: svc, s3: objects, xray: xr, endpoint: ep, logger: logger, wantLayer: make(chan struct{}, 1)}
	go a.sweepPackages(ctx)
	return a, nil
}

// sweepPackages removes deployment packages that no function or layer
// version uses any more, and object bodies no object refers to, at start-up
// and then every ten minutes.
func (a *accounts) sweepPackages(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := a.lambda.SweepPackages(ctx); err != nil {
			if ctx.Err() == nil {
				a.logger.Warn("sweep unused packages", "err", err)
			}
		} else if n > 0 {
			a.logger.Info("unused packages removed", "count", n)
		}
		if n, err := a.s3.Sweep(ctx); err != nil {
			if ctx.Err() == nil {
				a.logger.Warn("sweep unused object bodies", "err", err)
			}
		} else if n > 0 {
			a.logger.Info("unused object bodies removed", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// engineReady hands the started sandbox to the services and starts the
// builder of the ready X-Ray layer, which waits for its first ask.
func (a *accounts) engineReady(ctx context.Context, e *sandbox.Engine) {
	a.engine.Store(e)
	if err := a.lambda.SetEngine(ctx, e); err != nil {
		a.logger.Error("lambda service cannot use the sandbox", "err", err)
	}
	go a.buildXRayLayer(ctx)
}

// xrayLayer says where the ready X-Ray layer zip is. The first ask starts
// building it (or finding it cached) once the sandbox runs: the build needs
// Docker, and its first run fetches Debian packages, so it is left until a
// learner wants the layer.
func (a *accounts) xrayLayer() (string, bool) {
	if p := a.layerZip.Load(); p != nil {
		return *p, true
	}
	select {
	case a.wantLayer <- struct{}{}:
	default:
	}
	return "", false
}

// buildXRayLayer builds the layer on the first ask, then stops.
func (a *accounts) buildXRayLayer(ctx context.Context) {
	select {
	case <-a.wantLayer:
	case <-ctx.Done():
		return
	}
	path, err := docker.BuildXRayLayer(ctx, filepath.Join(a.dataDir, "cache", "xray-layer"), logWriter{a.logger})
	if err != nil {
		if ctx.Err() == nil {
			a.logger.Warn("the ready X-Ray layer is unavailable", "err", err)
		}
		return
	}
	a.layerZip.Store(&path)
	a.logger.Info("ready X-Ray layer built", "path", path)
}

// listenXRay takes X-Ray daemon datagrams from host tools on the UDP port
// of the same number as the AWS endpoint's (see xray.Service.ListenUDP for
// which it accepts). It is a convenience: failing to get the port is logged,
// not fatal.
func (a *accounts) listenXRay(ctx context.Context, awsAddr string) {
	addr, err := a.xray.ListenUDP(ctx, awsAddr)
	if err != nil {
		a.logger.Warn("x-ray daemon port for host tools unavailable", "addr", awsAddr, "err", err)
		return
	}
	a.logger.Info("x-ray daemon port for host tools", "addr", addr.String())
}

// newGrader is the grader of these services on engine e, with the ready
// layers cached in cacheDir (their build progress to progress).
func (a *accounts) newGrader(db *store.DB, e *sandbox.Engine, cacheDir string, progress io.Writer) *grader.Grader {
	return grader.New(grader.Config{DB: db, Lambda: a.lambda, S3: a.s3, XRay: a.xray, Endpoint: a.endpoint,
		ReadyLayer: readyLayers(cacheDir, progress), FlushRecords: e.Flush, Logger: a.logger})
}

// startGrading starts the grader and its queue once the sandbox runs:
// scratch accounts a crash left are removed, and jobs a dead process left
// running are run again (or failed after their attempts).
func (a *accounts) startGrading(ctx context.Context, db *store.DB, e *sandbox.Engine, all []*labs.Lab, getenv func(string) string) error {
	var cfg queue.Config
	for name, dst := range map[string]*int{"LAMBDALAB_GRADING_WORKERS": &cfg.Workers, "LAMBDALAB_GRADING_QUEUE": &cfg.MaxQueued} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s=%q: want a whole number of at least 1", name, v)
			}
			*dst = n
		}
	}
	g := a.newGrader(db, e, filepath.Join(a.dataDir, "cache"), logWriter{a.logger})
	if n, err := g.RemoveScratchAccounts(ctx); err != nil {
		a.logger.Warn("remove leftover scratch accounts", "err", err)
	} else if n > 0 {
		a.logger.Info("leftover scratch accounts removed", "count", n)
	}
	gr := grading.New(db, g, all, cfg, a.logger)
	if err := gr.Queue().Start(ctx); err != nil {
		return fmt.Errorf("start grading queue: %w", err)
	}
	a.grading.Store(gr)
	return nil
}

func (a *accounts) close(ctx context.Context) {
	if gr := a.grading.Load(); gr != nil {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := gr.Queue().Close(qctx); err != nil {
			a.logger.Warn("stop grading queue", "err", err)
		}
		cancel()
	}
	a.lambda.Close()
	// The package store holds a lock on its folder until closed, so the
	// next lambdalab on this data folder can open it.
	defer a.pkgs.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.xray.Close(ctx); err != nil {
		a.logger.Warn("stop x-ray collector", "err", err)
	}
}

// cloud is what the web workspace drives: these services, in the signed-in
// learner's account.
func (a *accounts) cloud() *web.Cloud {
	return &web.Cloud{
		Lambda:   a.lambda,
		Endpoint: a.endpoint,
		XRay:     a.xray,
		Engine:   a.engine.Load,
		Labs: func() web.LabRunner {
			if gr := a.grading.Load(); gr != nil {
				return gr
			}
			return nil // not a typed nil: the workspace asks runner() == nil
		},
	}
}
