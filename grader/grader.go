// Package grader grades a lab submission: it makes a scratch account,
// provisions the lab's resources (or copies a learner's account), replays
// the submission's actions, runs the lab's checks step by step against the
// emulated AWS services, and writes a report for the student. Step kinds
// are Go code here (Kinds); labs are Markdown and YAML (package labs).
package grader

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"lambdalab/cloud"
	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/cloud/s3"
	"lambdalab/cloud/xray"
	"lambdalab/store"
)

// Config wires a Grader.
type Config struct {
	DB     *store.DB
	Lambda *lambda.Service
	S3     *s3.Service
	XRay   *xray.Service
	// Endpoint is the AWS endpoint for signed callers (endpoint.Endpoint).
	Endpoint http.Handler
	// ReadyLayer returns the zip of a ready layer on the host ("xray-sdk").
	ReadyLayer func(ctx context.Context, name string) (string, error)
	// FlushRecords waits until the sandbox has stored every invocation
	// record so far (sandbox.Engine.Flush); nil makes the record checks
	// read until two reads agree.
	FlushRecords func(ctx context.Context) error
	Logger       *slog.Logger
}

// Grader grades submissions. It is safe for concurrent use; each Grade
// works in its own scratch account.
type Grader struct {
	cfg Config
}

// New makes a Grader.
func New(cfg Config) *Grader {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Grader{cfg: cfg}
}

// scratch makes a fresh account for one run and the Env that acts in it.
// The returned cleanup deletes the account, with a context of its own so
// that a cancelled grading still removes what it made.
func (g *Grader) scratch(ctx context.Context) (*Env, func(), error) {
	acct, key, err := g.cfg.DB.CreateScratchAccount(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("scratch account: %w", err)
	}
	env := &Env{
		Account:    acct.ID,
		Region:     cloud.Region,
		DB:         g.cfg.DB,
		Lambda:     g.cfg.Lambda,
		XRay:       g.cfg.XRay,
		S3:         inproc.S3(g.cfg.Endpoint, key),
		ReadyLayer: g.cfg.ReadyLayer,
		flush:      g.cfg.FlushRecords,
	}
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := g.cfg.Lambda.DeleteAccount(cctx, acct.ID); err != nil {
			g.cfg.Logger.WarnContext(cctx, "remove scratch account", "account", acct.ID, "err", err)
		}
	}
	return env, cleanup, nil
}

// RemoveScratchAccounts deletes the scratch accounts a crashed process
// left behind. Call it at start-up, before any grading runs.
func (g *Grader) RemoveScratchAccounts(ctx context.Context) (int, error) {
	ids, err := g.cfg.DB.ScratchAccounts(ctx)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := g.cfg.Lambda.DeleteAccount(ctx, id); err != nil {
			return i, fmt.Errorf("remove scratch account %s: %w", id, err)
		}
	}
	return len(ids), nil
}
