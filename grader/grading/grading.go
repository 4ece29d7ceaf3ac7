// Package grading runs stored submissions through the grading queue: it
// finds a submission's lab, grades it, streams each check to the job's
// watchers and stores the report (which updates the learner's progress).
// It is what serve runs once the sandbox is up, and the web workspace's
// LabRunner.
package grading

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"

	"lambdalab/grader"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/store"
)

// Grading grades the submissions of one process's queue.
type Grading struct {
	db     *store.DB
	grader *grader.Grader
	labs   atomic.Pointer[[]*labs.Lab] // the labs now loaded (author mode swaps them)
	queue  *queue.Queue
	logger *slog.Logger
}

// New makes the grading of all (SetLabs replaces them) on a queue with cfg;
// Start it to run jobs.
func New(db *store.DB, g *grader.Grader, all []*labs.Lab, cfg queue.Config, logger *slog.Logger) *Grading {
	gr := &Grading{db: db, grader: g, logger: logger}
	gr.SetLabs(all)
	cfg.Run = gr.run
	cfg.Logger = logger
	gr.queue = queue.New(db, cfg)
	return gr
}

// SetLabs swaps in the labs now loaded.
func (gr *Grading) SetLabs(all []*labs.Lab) { gr.labs.Store(&all) }

// Queue is the grading queue, to start, close and submit to.
func (gr *Grading) Queue() *queue.Queue { return gr.queue }

// Subscribe streams a job's events (queue.Queue.Subscribe).
func (gr *Grading) Subscribe(ctx context.Context, jobID int64) (<-chan queue.Event, func()) {
	return gr.queue.Subscribe(ctx, jobID)
}

func (gr *Grading) lab(id string) (*labs.Lab, bool) {
	for _, l := range *gr.labs.Load() {
		if l.ID == id {
			return l, true
		}
	}
	return nil, false
}

// run grades one job. Only platform failures are retried.
func (gr *Grading) run(ctx context.Context, job store.GradingJob, progress func(queue.Event)) error {
	sub, err := gr.db.Submission(ctx, job.SubmissionID)
	if err != nil {
		return queue.Platform(fmt.Errorf("load submission %d: %w", job.SubmissionID, err))
	}
	lab, ok := gr.lab(sub.Lab)
	if !ok {
		return fmt.Errorf("the lab %q no longer exists", sub.Lab)
	}
	gsub, err := gr.submissionOf(ctx, lab, sub)
	if err != nil {
		// The submission cannot be read as the lab wants it: its report
		// says why, and it is not an attempt.
		return gr.save(ctx, sub, &grader.Report{Version: grader.ReportVersion, Lab: lab.ID, Status: grader.Error, Message: err.Error()})
	}
	failed, passed := 0, map[string]bool{}
	if sub.UserID != 0 {
		if failed, err = gr.db.FailedAttempts(ctx, sub.UserID, lab.ID); err != nil {
			return queue.Platform(err)
		}
		before, err := gr.db.PassedChecks(ctx, sub.UserID, lab.ID)
		if err != nil {
			return queue.Platform(err)
		}
		for id := range before {
			passed[id] = true
		}
	}
	opts := grader.Options{FailedAttempts: failed, PassedBefore: passed, Progress: func(c grader.CheckResult) {
		if b, err := json.Marshal(c); err == nil {
			progress(queue.Event{Kind: queue.KindProgress, Data: b})
		}
	}}
	rep, gerr := gr.grader.Grade(ctx, lab, gsub, opts)
	if gerr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return queue.Platform(gerr)
	}
	return gr.save(ctx, sub, rep)
}

func (gr *Grading) save(ctx context.Context, sub store.Submission, rep *grader.Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	var passed []string
	for _, c := range rep.Checks {
		if c.Status == grader.Pass {
			passed = append(passed, c.ID)
		}
	}
	err = gr.db.SaveReport(ctx, sub.ID, store.GradeReport{Status: store.GradeStatus(rep.Status), Score: rep.Score, Report: b, PassedChecks: passed})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return queue.Platform(err)
	}
	return nil
}

// submissionOf turns a stored submission into what the grader grades: a
// zipped folder with its actions and answers, or the learner's account
// (the account of the user who submitted; the stored snapshot is the
// record of it).
func (gr *Grading) submissionOf(ctx context.Context, lab *labs.Lab, sub store.Submission) (grader.Submission, error) {
	switch sub.Source {
	case store.SourceAccount:
		user, err := gr.db.UserByID(ctx, sub.UserID)
		if err != nil {
			return grader.Submission{}, fmt.Errorf("the submission's learner: %w", err)
		}
		return grader.Submission{Account: user.AccountID, Answers: sub.Answers}, nil
	case store.SourceDir:
		zr, err := zip.NewReader(bytes.NewReader(sub.Files), int64(len(sub.Files)))
		if err != nil {
			return grader.Submission{}, fmt.Errorf("the submitted files are not a readable zip: %v", err)
		}
		v, err := labs.LoadSubmission(lab, zr, labs.Options{Kinds: grader.LabKinds()})
		if err != nil {
			return grader.Submission{}, err
		}
		answers := v.Answers
		for k, a := range sub.Answers {
			if answers == nil {
				answers = map[string]string{}
			}
			answers[k] = a
		}
		return grader.Submission{Files: zr, Actions: v.Actions, Answers: answers}, nil
	}
	return grader.Submission{}, fmt.Errorf("unknown submission source %q", sub.Source)
}

// ZipSubmission packs a submission folder for the store.
func ZipSubmission(fsys fs.FS) ([]byte, error) {
	b, err := grader.ZipFolder(fsys)
	if err != nil {
		return nil, fmt.Errorf("zip submission: %w", err)
	}
	if len(b) > store.MaxSubmissionFiles {
		return nil, fmt.Errorf("the submission is %d MB zipped; at most %d MB", len(b)>>20, store.MaxSubmissionFiles>>20)
	}
	return b, nil
}

// Submit hands in a learner's account as it is now for lab: the
// submission keeps a snapshot of the account's configuration (functions,
// versions, aliases, policies, layers, buckets and triggers), and grading
// works on a copy of the live account.
func (gr *Grading) Submit(ctx context.Context, user store.User, lab string, answers map[string]string) (store.GradingJob, int, error) {
	if _, ok := gr.lab(lab); !ok {
		return store.GradingJob{}, 0, fmt.Errorf("no lab %q", lab)
	}
	state, err := gr.grader.Snapshot(ctx, user.AccountID)
	if err != nil {
		return store.GradingJob{}, 0, err
	}
	sub, err := gr.db.CreateSubmission(ctx, store.Submission{UserID: user.ID, Lab: lab, Source: store.SourceAccount, State: state, Answers: answers})
	if err != nil {
		return store.GradingJob{}, 0, err
	}
	return gr.queue.Submit(ctx, sub.ID, user.ID, lab)
}

// SubmitFolder hands in a submission folder (code, actions.yaml,
// answers.yaml) for lab, by user (0 for none: a check run's).
func (gr *Grading) SubmitFolder(ctx context.Context, user int64, lab string, fsys fs.FS) (store.GradingJob, int, error) {
	if _, ok := gr.lab(lab); !ok {
		return store.GradingJob{}, 0, fmt.Errorf("no lab %q", lab)
	}
	zipped, err := ZipSubmission(fsys)
	if err != nil {
		return store.GradingJob{}, 0, err
	}
	sub, err := gr.db.CreateSubmission(ctx, store.Submission{UserID: user, Lab: lab, Source: store.SourceDir, Files: zipped})
	if err != nil {
		return store.GradingJob{}, 0, err
	}
	return gr.queue.Submit(ctx, sub.ID, user, lab)
}

// SetUp gives the learner's account what lab provides and it lacks
// (grader.Grader.SetUp).
func (gr *Grading) SetUp(ctx context.Context, user store.User, lab *labs.Lab) error {
	return gr.grader.SetUp(ctx, lab, user.AccountID)
}
