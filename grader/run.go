package grader

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/labs"
	"lambdalab/sandbox"
)

// Submission is what one grading run grades: either a submission folder
// with its account actions (lambdalab grade --dir, lambdalab check), or a
// learner's account as it is now (the browser), which is copied.
type Submission struct {
	// Files is the submission folder: the functions' code, and the
	// actions.yaml and answers.yaml that Actions and Answers come from.
	Files   fs.FS
	Actions []labs.Step
	Answers map[string]string
	// Account, when set, is the learner's account to copy instead of
	// provisioning the lab's resources and replaying Actions.
	Account string
}

// VariantSubmission is one of the lab's own variants (the starter, the
// solution, a wrong one) as a submission.
func VariantSubmission(lab *labs.Lab, v *labs.Variant) (Submission, error) {
	files, err := fs.Sub(lab.FS, v.Dir)
	if err != nil {
		return Submission{}, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	return Submission{Files: files, Actions: v.Actions, Answers: v.Answers}, nil
}

// Options tune one grading run.
type Options struct {
	// FailedAttempts is how many graded attempts of this lab the student
	// failed before this one; it unlocks hints.
	FailedAttempts int
	// Progress, if set, is called as each check finishes, in the order
	// checks run (a checkpoint's checks before the rest).
	Progress func(CheckResult)
	// PassedBefore are the checks the student passed in earlier attempts.
	// Grading a learner's account, a check marked once (a stage the
	// account moves past, like a canary before its rollback) that passed
	// before is not run again and stays passed.
	PassedBefore map[string]bool
}

// Grade grades sub against lab in a fresh scratch account and removes the
// account afterwards. The report says what the student did; the error is
// non-nil only when the platform failed (the report then has status error
// too and the run may be retried).
func (g *Grader) Grade(ctx context.Context, lab *labs.Lab, sub Submission, opts Options) (*Report, error) {
	rep := &Report{Version: ReportVersion, Lab: lab.ID, Started: time.Now().UTC()}
	defer func() { rep.DurationMS = time.Since(rep.Started).Milliseconds() }()
	r := &run{g: g, lab: lab, sub: sub, opts: opts, rep: rep, results: make([]*CheckResult, len(lab.Checks))}
	err := r.grade(ctx)
	r.finish(err)
	return rep, err
}

// run is the state of one grading.
type run struct {
	g       *Grader
	lab     *labs.Lab
	sub     Submission
	opts    Options
	env     *Env
	rep     *Report
	logs    logBook
	results []*CheckResult // by index in lab.Checks; nil until run
	// unrunnable is the first reason the code could not run at all.
	unrunnable string
}

// withLimit is ctx with a timeout of d, or without one when d is zero.
func withLimit(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func (r *run) grade(ctx context.Context) error {
	// Ready layers are built before the clock starts: the first build on a
	// machine fetches packages and says nothing about the submission.
	for _, name := range r.lab.Resources.Layers {
		if r.g.cfg.ReadyLayer == nil {
			return fmt.Errorf("ready layer %s: this grader has none", name)
		}
		if _, err := r.g.cfg.ReadyLayer(ctx, name); err != nil {
			return fmt.Errorf("ready layer %s: %w", name, err)
		}
	}
	// labs.Load gives every lab and check its limits (FORMAT.md's
	// defaults); a zero one means none.
	ctx, cancel := withLimit(ctx, r.lab.Limits.GradingTime)
	defer cancel()

	env, cleanup, err := r.g.scratch(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	r.env = env
	env.Lab, env.Files, env.Answers = r.lab, r.sub.Files, r.sub.Answers
	env.MaxInvokes = int64(r.lab.Limits.Invokes)
	stop := env.Lambda.WatchInvocations(env.Account, r.logs.add)
	defer stop()

	if r.sub.Account != "" {
		if err := r.g.cfg.Lambda.CopyAccount(ctx, r.sub.Account, env.Account); err != nil {
			return err
		}
		if err := env.ProvisionMissing(ctx); err != nil {
			return err
		}
	} else if err := env.Provision(ctx); err != nil {
		var f *Failure
		if errors.As(err, &f) {
			r.unrunnable = "Your code could not be deployed: " + f.Msg
			return nil
		}
		return err
	}
	env.GradingStart = time.Now()

	done := make([]bool, len(r.lab.Checks))
	if r.sub.Account == "" {
		for _, st := range r.sub.Actions {
			if ctx.Err() != nil {
				break
			}
			if st.Kind == "checkpoint" {
				name, _ := st.Args.(string)
				if err := r.checks(ctx, done, func(c *labs.Check) bool { return c.At == name }); err != nil {
					return err
				}
				continue
			}
			if err := r.action(ctx, st); err != nil {
				return err
			}
		}
	}
	return r.checks(ctx, done, func(*labs.Check) bool { return true })
}

// action replays one account action. A refusal is recorded for the
// student and replay goes on, as a learner's next command would.
func (r *run) action(ctx context.Context, st labs.Step) error {
	err := r.step(ctx, st)
	var f *Failure
	var u *Unrunnable
	switch {
	case err == nil:
		return nil
	case errors.As(err, &f):
		r.rep.Actions = append(r.rep.Actions, ActionResult{Kind: st.Kind, File: st.File, Line: st.Line, Message: f.Msg})
		return nil
	case errors.As(err, &u):
		r.noteUnrunnable(u.Msg)
		r.rep.Actions = append(r.rep.Actions, ActionResult{Kind: st.Kind, File: st.File, Line: st.Line, Message: u.Msg})
		return nil
	}
	return fmt.Errorf("replay %s (%s:%d): %w", st.Kind, st.File, st.Line, err)
}

// step expands a step's values and runs its kind.
func (r *run) step(ctx context.Context, st labs.Step) error {
	k, ok := kinds[st.Kind]
	if !ok {
		return fmt.Errorf("no step kind %q", st.Kind)
	}
	args, err := r.env.expandArgs(ctx, st.Args)
	if err != nil {
		var f *Failure
		if errors.As(err, &f) {
			return err
		}
		return fmt.Errorf("values of %s: %w", st.Kind, err)
	}
	return k.Run(ctx, r.env, args)
}

// checks runs, in file order, every check not yet run that want selects.
func (r *run) checks(ctx context.Context, done []bool, want func(*labs.Check) bool) error {
	for i := range r.lab.Checks {
		c := &r.lab.Checks[i]
		if done[i] || !want(c) {
			continue
		}
		done[i] = true
		res, err := r.check(ctx, c)
		r.results[i] = res
		if r.opts.Progress != nil {
			r.opts.Progress(*res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check runs one check's steps and judges it.
func (r *run) check(ctx context.Context, c *labs.Check) (*CheckResult, error) {
	res := &CheckResult{ID: c.ID, Title: c.Title, Task: c.Task}
	start := time.Now()
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	for _, dep := range c.DependsOn {
		if d := r.result(dep); d == nil || d.Status != Pass {
			res.Status = Skipped
			res.Message = fmt.Sprintf("Not checked: it needs %q to pass first.", r.title(dep))
			return res, nil
		}
	}
	if ctx.Err() != nil {
		res.Status = Error
		res.Message = fmt.Sprintf("Not checked: grading ran out of its %s.", r.lab.Limits.GradingTime)
		r.noteUnrunnable(res.Message)
		return res, nil
	}
	if r.sub.Account != "" && c.Once && r.opts.PassedBefore[c.ID] {
		res.Status = Pass
		res.Message = fmt.Sprintf("Passed in an earlier attempt, at the %q stage of the lab, which your account has moved past.", c.At)
		return res, nil
	}
	timeout := c.Timeout
	cctx, cancel := withLimit(ctx, timeout)
	defer cancel()
	r.env.CheckStart = start
	var err error
	for _, st := range c.Steps {
		if err = r.step(cctx, st); err != nil {
			break
		}
	}
	invokes := r.logs.between(start, time.Now())
	res.Log = excerpt(invokes)
	if msg := initFailure(invokes); msg != "" {
		res.Status, res.Message = Error, msg
		r.noteUnrunnable(msg)
		return res, nil
	}
	var f *Failure
	var u *Unrunnable
	switch {
	case err == nil:
		res.Status = Pass
	case errors.As(err, &f):
		res.Status, res.Message = Fail, f.Msg
		if cctx.Err() != nil && ctx.Err() == nil && !strings.Contains(f.Msg, "within") {
			res.Message += fmt.Sprintf(" (the check stopped after its %s)", timeout)
		}
	case errors.As(err, &u):
		res.Status, res.Message = Error, u.Msg
		r.noteUnrunnable(u.Msg)
	case errors.Is(err, sandbox.ErrCapacity) || errors.Is(err, lambda.ErrCapacity):
		res.Status, res.Message = Error, "The lambdalab machine is busy and could not start your function; this attempt does not count. Try again in a minute."
		r.noteUnrunnable(res.Message)
	case cctx.Err() != nil && ctx.Err() == nil:
		res.Status, res.Message = Fail, fmt.Sprintf("The check did not finish within its %s.", timeout)
	default:
		res.Status = Error
		res.Message = "lambdalab failed while running this check; this attempt does not count."
		return res, fmt.Errorf("check %s: %w", c.ID, err)
	}
	if res.Status == Fail {
		if c.Hidden {
			res.Message = cmp.Or(c.Message, "This check did not pass.")
		} else if c.Message != "" {
			res.Message = c.Message + "\n" + res.Message
		}
		for _, h := range c.Hints {
			if h.After <= r.opts.FailedAttempts+1 {
				res.Hints = append(res.Hints, h.Text)
			}
		}
	}
	return res, nil
}

func (r *run) result(id string) *CheckResult {
	for i, c := range r.lab.Checks {
		if c.ID == id {
			return r.results[i]
		}
	}
	return nil
}

func (r *run) title(id string) string {
	for _, c := range r.lab.Checks {
		if c.ID == id {
			return c.Title
		}
	}
	return id
}

func (r *run) noteUnrunnable(msg string) {
	if r.unrunnable == "" {
		r.unrunnable = msg
	}
}

// finish fills the report: every check in file order (those never reached
// as skipped), the score and the overall status.
func (r *run) finish(platform error) {
	rep := r.rep
	rep.Checks = rep.Checks[:0]
	for i, c := range r.lab.Checks {
		res := r.results[i]
		if res == nil {
			res = &CheckResult{ID: c.ID, Title: c.Title, Task: c.Task, Status: Skipped, Message: "Not checked: grading stopped before it."}
		}
		rep.Checks = append(rep.Checks, *res)
	}
	if n := len(rep.Checks); n > 0 {
		rep.Score = float64(rep.Passed()) / float64(n)
	}
	switch {
	case platform != nil:
		rep.Status = Error
		rep.Message = "lambdalab failed while grading; this attempt does not count and will be retried."
	case r.unrunnable != "":
		rep.Status = Error
		rep.Message = r.unrunnable
	case rep.Passed() == len(rep.Checks):
		rep.Status = Pass
	default:
		rep.Status = Fail
	}
}

// logBook keeps the invocations of the scratch account as they finish.
type logBook struct {
	mu      sync.Mutex
	entries []lambda.InvocationLog
}

func (b *logBook) add(l lambda.InvocationLog) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) < 5000 {
		b.entries = append(b.entries, l)
	}
}

// between returns the invocations that started in [from, to].
func (b *logBook) between(from, to time.Time) []lambda.InvocationLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []lambda.InvocationLog
	for _, l := range b.entries {
		if s := l.Record.Start; !s.Before(from) && !s.After(to) {
			out = append(out, l)
		}
	}
	return out
}

// initErrors are the error types of code that cannot run at all.
var initErrors = []string{"Runtime.ImportModuleError", "Runtime.UserCodeSyntaxError", "Runtime.HandlerNotFound", "Runtime.MalformedHandlerName"}

// initFailure is Lambda's message when one of invokes could not load the
// code, or "".
func initFailure(invokes []lambda.InvocationLog) string {
	for _, l := range invokes {
		if !slices.Contains(initErrors, l.Record.ErrorType) {
			continue
		}
		var doc struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(l.Payload, &doc)
		msg := cmp.Or(doc.ErrorMessage, "the function's code could not be loaded")
		return fmt.Sprintf("Your function %s could not start: %s: %s", l.Record.Function, l.Record.ErrorType, msg)
	}
	return ""
}

const (
	maxLogPerInvoke = 2 << 10
	maxLogPerCheck  = 8 << 10
)

// excerpt is the part of the check's function logs a student needs:
// failed invocations first, then the latest others, each cut in the middle
// when long, within a total, in the order they ran.
func excerpt(invokes []lambda.InvocationLog) string {
	throttled := 0
	var ran []lambda.InvocationLog
	for _, l := range invokes {
		if len(l.Log) == 0 {
			if l.Record.Outcome == "throttled" {
				throttled++
			}
			continue
		}
		ran = append(ran, l)
	}
	// Indices into ran, failed first, then newest first.
	order := make([]int, len(ran))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := ran[i].Record, ran[j].Record
		if af, bf := a.Outcome != "success", b.Outcome != "success"; af != bf {
			if af {
				return -1
			}
			return 1
		}
		return b.Start.Compare(a.Start)
	})
	keep := map[int]string{}
	total := 0
	for _, i := range order {
		// Made readable here: a report's excerpt is shown in a page and
		// printed by lambdalab grade, where an escape sequence would act.
		text := sandbox.ReadableLog(cutMiddle(string(ran[i].Log), maxLogPerInvoke))
		if total+len(text) > maxLogPerCheck {
			break
		}
		total += len(text)
		keep[i] = text
	}
	var b strings.Builder
	left := len(ran) - len(keep)
	for i := range ran {
		if t, ok := keep[i]; ok {
			b.WriteString(t)
			if !strings.HasSuffix(t, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	if left > 0 {
		word := "invocations"
		if left == 1 {
			word = "invocation"
		}
		fmt.Fprintf(&b, "[… %d more %s not shown …]\n", left, word)
	}
	if throttled > 0 {
		fmt.Fprintf(&b, "[%s %s throttled (TooManyRequestsException) and wrote no log]\n", countOf(throttled, "invocation", "invocations"), wasWere(throttled))
	}
	return b.String()
}

// cutMiddle keeps the head and the tail of a long log, where START and
// REPORT are, with a marker saying how much was cut.
func cutMiddle(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head, tail := max/4, max*3/4
	return fmt.Sprintf("%s\n[… %d bytes of log cut …]\n%s", s[:head], len(s)-head-tail, s[len(s)-tail:])
}
