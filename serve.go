package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"lambdalab/content"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web"
)

// runServe is `lambdalab serve`: open the database, load the course (or
// watch the author's folder), and serve the site until ctx ends.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	begin := time.Now()
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8080", "address for the web site")
	dataDir := fl.String("data", "./lambdalab-data", "folder for the files (code packages, S3 bodies, caches) and the SQLite database DATA/lambdalab.db; with --database set to PostgreSQL the files still live here")
	dbFlag := fl.String("database", "", databaseHelp)
	contentDir := fl.String("content", "", "author mode: read the course from this folder and reload on every change")
	awsAddr := fl.String("aws-addr", "127.0.0.1:4566", "address for the AWS-compatible endpoint (the AWS CLI and SDKs), or off")
	advertiseWeb := fl.String("advertise-url", "", "with several serves on one PostgreSQL database: the address the other serves reach this one's web site at, like http://10.0.0.5:8080 (default: the --addr listener, with this host's name for 0.0.0.0)")
	advertiseAWS := fl.String("advertise-aws-url", "", "the same for the AWS endpoint (default: the --aws-addr listener)")
	proxiesFlag := fl.String("trusted-proxies", getenv("LAMBDALAB_TRUSTED_PROXIES"),
		"comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (default $LAMBDALAB_TRUSTED_PROXIES, else none)")
	tlsCert := fl.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	tlsKey := fl.String("tls-key", "", "the PEM private key for --tls-cert")
	baseURL := fl.String("base-url", "", "the site's public address for links sent elsewhere, like https://class.example.org")
	signup := fl.String("signup", "open", "who may create an account: open (anyone), invite (with an invite from the instructor page) or closed; the first user always may")
	signupDomain := fl.String("signup-domain", "", "accept sign-ups only from e-mail addresses at this domain, like example.edu (the first user excepted)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fl.Arg(0))
	}
	// Flags are checked before anything starts, so a typo costs nothing.
	trusted, err := web.ParseTrustedProxies(*proxiesFlag)
	if err != nil {
		return fmt.Errorf("serve: --trusted-proxies: %w", err)
	}
	if _, err := web.CheckBaseURL(*baseURL); err != nil {
		return fmt.Errorf("serve: --base-url: %w", err)
	}
	signupMode, err := web.ParseSignupMode(*signup)
	if err != nil {
		return fmt.Errorf("serve: --signup: %w", err)
	}
	domain, err := web.CheckSignupDomain(*signupDomain)
	if err != nil {
		return fmt.Errorf("serve: --signup-domain: %w", err)
	}
	for name, v := range map[string]string{"--advertise-url": *advertiseWeb, "--advertise-aws-url": *advertiseAWS} {
		if _, err := advertisedURL(v, "http", nil); err != nil {
			return fmt.Errorf("serve: %s: %w", name, err)
		}
	}
	tlsConfig, err := loadTLS(*tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	dbTarget, err := databaseTarget(*dbFlag, *dataDir, getenv)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if getenv("LAMBDALAB_SANDBOX") != "off" {
		if err := checkSandboxSettings(getenv, *dataDir); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	// Open's errors name the database, any password hidden.
	db, err := store.Open(ctx, dbTarget)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer db.Close()
	// On PostgreSQL several serves may share the database (cluster.go):
	// the one holding the controller lock runs the sandbox, the others
	// forward to it until the lock passes to them. On SQLite the lock is
	// always this process's.
	role := &clusterRole{name: replicaName(), db: db}
	lock, err := db.TryLock(ctx, "controller")
	switch {
	case errors.Is(err, store.ErrLocked):
		if *contentDir != "" {
			return fmt.Errorf("serve: author mode (--content) runs on a serve of its own, and another lambdalab serve is using the database %s", store.RedactTarget(dbTarget))
		}
		role.set(replicaRole)
	case err != nil:
		return fmt.Errorf("serve: %w", err)
	default:
		defer lock.Release() // should serve end before the controller runs; Release is idempotent
		role.set(controllerRole)
	}

	// The AWS endpoint listens first so the account page can show its real
	// address (it may be a port the system picked).
	var awsLn net.Listener
	if *awsAddr != "off" {
		if awsLn, err = net.Listen("tcp", *awsAddr); err != nil {
			return fmt.Errorf("listen on %s for the AWS endpoint: %w", *awsAddr, err)
		}
		defer awsLn.Close()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	here := store.Controller{Replica: role.name}
	if here.WebURL, err = advertisedURL(*advertiseWeb, scheme, ln); err != nil {
		return fmt.Errorf("serve: --advertise-url: %w", err)
	}
	if here.AWSURL, err = advertisedURL(*advertiseAWS, "http", awsLn); err != nil {
		return fmt.Errorf("serve: --advertise-aws-url: %w", err)
	}

	cfg := web.Config{DB: db, Logger: logger, AuthorMode: *contentDir != ""}
	cfg.TrustedProxies, cfg.BaseURL = trusted, *baseURL
	cfg.Signup, cfg.SignupDomain = signupMode, domain
	if awsLn != nil {
		cfg.AWSEndpoint = "http://" + awsLn.Addr().String()
	}
	// The labs graded here; author mode replaces them on every reload.
	if !cfg.AuthorMode {
		if cfg.Course, cfg.Labs, err = loadCourse(""); err != nil {
			return fmt.Errorf("load embedded course: %w", err)
		}
	}

	webSlot, awsSlot := &handlerSlot{}, &handlerSlot{}
	srv := &http.Server{
		Handler:           role.withClusterStatus(webSlot),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	awsSrv := &http.Server{
		Handler:           awsSlot,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	start := controllerStart{db: db, cfg: cfg, dataDir: *dataDir, contentDir: *contentDir, getenv: getenv,
		logger: logger, srv: srv, webSlot: webSlot, awsSlot: awsSlot, awsLn: awsLn, here: here}

	// lost is closed when this serve, as controller, loses its lock: another
	// replica may be taking over, so this one must stop running functions.
	lost := make(chan struct{})
	var ctl *controllerRun
	var ctlMu sync.Mutex
	defer func() {
		ctlMu.Lock()
		defer ctlMu.Unlock()
		if ctl != nil {
			ctl.close(ctx)
		}
	}()
	if lock != nil {
		if ctl, err = start.run(ctx, lock); err != nil {
			return err
		}
		go watchLock(ctx, lock, lost)
	} else {
		site, err := web.New(cfg) // lessons only: the labs' pages are forwarded
		if err != nil {
			return err
		}
		srv.RegisterOnShutdown(site.Close)
		link := &controllerLink{db: db}
		webSlot.set(replicaRoutes(site.Routes(), newForwarder(link, "web", func(c store.Controller) string { return c.WebURL }, logger)))
		awsSlot.set(newForwarder(link, "aws", func(c store.Controller) string { return c.AWSURL }, logger))
		logger.Info("replica: another serve is the controller; serving lessons here and forwarding the rest to it", "replica", role.name)
		go func() {
			l := awaitLock(ctx, db, logger)
			if l == nil {
				return
			}
			began := time.Now()
			ctlMu.Lock()
			c, err := start.run(ctx, l)
			ctl = c
			ctlMu.Unlock()
			if err != nil {
				// Whatever stopped it (the data folder still locked by a
				// controller that lost its database session but lives on)
				// stops this serve too; a supervisor starts it again.
				logger.Error("take over as controller", "err", err)
				close(lost)
				return
			}
			role.set(controllerRole)
			logger.Info("took over as controller", "replica", role.name, "takeover_ms", time.Since(began).Milliseconds())
			watchLock(ctx, l, lost)
		}()
	}
	if awsLn != nil {
		go awsSrv.Serve(awsLn)
		logger.Info("aws endpoint serving", "url", "http://"+awsLn.Addr().String())
	}

	logger.Info("lambdalab serving", "url", scheme+"://"+ln.Addr().String(), "role", role.get(), "data", *dataDir,
		"engine", db.Engine(), "database", store.RedactTarget(dbTarget), "author_mode", cfg.AuthorMode,
		"trusted_proxies", len(trusted), "base_url", *baseURL, "startup_ms", time.Since(begin).Milliseconds())
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		served <- srv.Serve(ln)
	}()

	var stopErr error
	select {
	case err := <-served:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	case <-lost:
		stopErr = errors.New("serve: this serve lost the controller lock (its database session ended), so another may be taking over; stopping")
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	awsSrv.Shutdown(shutdownCtx)
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	if stopErr != nil {
		return stopErr
	}
	logger.Info("lambdalab stopped")
	return nil
}

// loadTLS reads serve's --tls-cert and --tls-key: both or neither. It
// returns nil for plain HTTP.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("serve: --tls-cert and --tls-key go together: give both files or neither")
	}
	for _, f := range [][2]string{{"--tls-cert", certFile}, {"--tls-key", keyFile}} {
		if _, err := os.Stat(f[1]); err != nil {
			return nil, fmt.Errorf("serve: %s: %w", f[0], err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --tls-cert %s and --tls-key %s are not a PEM certificate and its private key: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// watchCourse starts author mode: the site gets every reload of dir. It
// returns once the first load has been handed over (a failed load is shown
// as a page, not returned), or with an error when dir cannot be watched.
func watchCourse(ctx context.Context, dir string, logger *slog.Logger, site *web.Server, setLabs func([]*labs.Lab)) error {
	ready := make(chan struct{})
	var once sync.Once
	failed := make(chan error, 1)
	go func() {
		err := content.Watch(ctx, dir, logger, func(c *content.Course, err error) {
			if err == nil {
				// The labs beside the lessons reload with them; a broken
				// lab shows on the page as a broken lesson does.
				var all []*labs.Lab
				if all, err = loadLabs(dir, c); err == nil {
					setLabs(all)
				} else {
					c = nil
				}
			}
			site.SetCourse(c, err)
			once.Do(func() { close(ready) })
		})
		if err != nil {
			failed <- err
			logger.Error("author mode stopped watching", "dir", dir, "err", err)
		}
	}()
	select {
	case <-ready:
		return nil
	case err := <-failed:
		return fmt.Errorf("author mode: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweepSessions deletes expired sessions now and then, so the table only
// holds live ones.
func sweepSessions(ctx context.Context, db *store.DB, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := db.DeleteExpiredSessions(ctx); err != nil {
				logger.Warn("delete expired sessions", "err", err)
			} else if n > 0 {
				logger.Info("expired sessions deleted", "count", n)
			}
		}
	}
}

// backgroundEngine is the sandbox as serve starts it: off the start-up path,
// because the first build of the runtime image takes minutes and lessons do
// not need it.
type backgroundEngine struct {
	done    chan struct{}
	engine  *sandbox.Engine
	release func() // what the backend holds, after the engine's instances
	logger  *slog.Logger
}

func startSandboxInBackground(ctx context.Context, db *store.DB, dataDir string, getenv func(string) string, svcs sandboxServices, logger *slog.Logger, ready func(*sandbox.Engine), failed func(reason string)) *backgroundEngine {
	b := &backgroundEngine{done: make(chan struct{}), logger: logger}
	if getenv("LAMBDALAB_SANDBOX") == "off" {
		logger.Info("sandbox off (LAMBDALAB_SANDBOX=off): lessons only, labs unavailable")
		failed("this server runs with its sandbox off (LAMBDALAB_SANDBOX=off)")
		close(b.done)
		return b
	}
	go func() {
		defer close(b.done)
		e, release, err := startSandbox(ctx, db, dataDir, getenv, svcs, logWriter{logger}, logger)
		if err != nil {
			if getenv("LAMBDALAB_SANDBOX_BACKEND") == "kubernetes" {
				if ctx.Err() == nil {
					logger.Warn("labs are unavailable: the Kubernetes sandbox did not start", "err", err)
				}
				failed("its Kubernetes sandbox did not start (the server's log says why)")
				return
			}
			if ctx.Err() == nil {
				logger.Warn("labs are unavailable: they need a running Docker engine and the runtime image; run `make deps` (or scripts/deps.sh docker) and restart lambdalab", "err", err)
			}
			failed("its sandbox needs a running Docker engine and the runtime image (run `make deps`, then restart lambdalab)")
			return
		}
		b.engine, b.release = e, release
		ready(e)
		logger.Info("sandbox ready: labs can run functions")
	}()
	return b
}

func (b *backgroundEngine) close(ctx context.Context) {
	<-b.done
	if b.engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := b.engine.Close(ctx); err != nil {
		b.logger.Warn("stop sandbox", "err", err)
	}
	b.release()
}

// logWriter turns the image builder's progress lines into log lines.
type logWriter struct{ logger *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			w.logger.Info("runtime image", "progress", line)
		}
	}
	return len(p), nil
}
