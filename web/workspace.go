package web

// This file is the seam of the lab workspace (WORKSPACE.md): what the site
// needs from the emulated AWS side, the lab a request is about, the panels
// of the workspace, and how a workspace form answers. Each panel lives in
// its own file.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"

	"lambdalab/cloud/lambda"
	"lambdalab/cloud/xray"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// Cloud is the emulated AWS side the workspace drives: the services of
// every learner's account. Everything a handler does with it is in the
// signed-in learner's own account (store.User.AccountID): no route takes an
// account id.
type Cloud struct {
	Lambda *lambda.Service
	// Endpoint is the AWS endpoint's handler. The workspace is an AWS SDK
	// client of the learner's account through it (inproc.S3), as the CLI is.
	Endpoint http.Handler
	XRay     *xray.Service
	// Engine is the sandbox once it runs, nil before (and with the sandbox
	// off): live instances for the timeline, provisioned status.
	Engine func() *sandbox.Engine
	// Labs sets labs up in accounts and grades them; nil until the sandbox
	// runs.
	Labs func() LabRunner
}

// LabRunner is what the workspace needs of the grading side (main wires it).
type LabRunner interface {
	// SetUp gives the learner's account what the lab provides and the
	// account lacks: the lab's buckets and seed objects, and its functions
	// made from the starter code. Nothing the learner made is replaced.
	SetUp(ctx context.Context, u store.User, lab *labs.Lab) error
	// Submit hands in the learner's account as it is now, with answers to
	// the lab's questions, and returns the queued job and its position.
	Submit(ctx context.Context, u store.User, lab string, answers map[string]string) (store.GradingJob, int, error)
	// Subscribe streams a job's events until it finishes or stop is called.
	Subscribe(ctx context.Context, jobID int64) (events <-chan queue.Event, stop func())
}

// ActionLimits bound how often one learner may act, per minute. Zero
// fields take the defaults in newActionLimiters.
type ActionLimits struct {
	Deploys, Invokes, Gradings, Changes int
}

// actionLimiters hold one sliding window per kind of action, keyed by user.
type actionLimiters struct {
	deploy, invoke, grade, change *limiter
}

func newActionLimiters(l ActionLimits) actionLimiters {
	or := func(n, def int) int {
		if n > 0 {
			return n
		}
		return def
	}
	// Generous for a learner at work (a burst lab invokes from the grader,
	// not from here); tight enough that a script cannot keep the machine
	// busy for others.
	return actionLimiters{
		deploy: newLimiter(or(l.Deploys, 30), time.Minute),
		invoke: newLimiter(or(l.Invokes, 120), time.Minute),
		grade:  newLimiter(or(l.Gradings, 6), time.Minute),
		change: newLimiter(or(l.Changes, 120), time.Minute),
	}
}

// Action kinds for allow.
const (
	actDeploy = "deploy"
	actInvoke = "invoke"
	actGrade  = "grade"
	actChange = "change" // configuration, versions, aliases, buckets, drafts' file operations
)

// allow counts one action of kind by the learner, or answers 429 with when
// they may try again and returns false.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, u *store.User, kind string) bool {
	var l *limiter
	var what string
	switch kind {
	case actDeploy:
		l, what = s.actions.deploy, "deploys"
	case actInvoke:
		l, what = s.actions.invoke, "invokes"
	case actGrade:
		l, what = s.actions.grade, "gradings"
	default:
		l, what = s.actions.change, "changes"
	}
	key := "user:" + itoa(int(u.ID))
	// take decides and records in one step, so parallel requests cannot
	// all pass the check before any of them is counted.
	if d := l.take(key); d > 0 {
		secs := int(d.Seconds()) + 1
		w.Header().Set("Retry-After", itoa(secs))
		s.errorPage(w, r, http.StatusTooManyRequests, "Slow down",
			fmt.Sprintf("You have made the most %s allowed in a minute (%d). Try again in %d seconds.", what, l.max, secs))
		return false
	}
	return true
}

// SetLabs swaps in the labs now loaded (author mode reloads them with the
// lessons). Safe while requests are served.
func (s *Server) SetLabs(all []*labs.Lab) {
	s.labs.Store(&all)
}

func (s *Server) allLabs() []*labs.Lab {
	if p := s.labs.Load(); p != nil {
		return *p
	}
	return nil
}

// labByID is the loaded lab with id.
func (s *Server) labByID(id string) (*labs.Lab, bool) {
	for _, l := range s.allLabs() {
		if l.ID == id {
			return l, true
		}
	}
	return nil, false
}

// lessonSlug is the lesson part of a lab's "module/lesson".
func lessonSlug(moduleLesson string) string {
	_, after, found := strings.Cut(moduleLesson, "/")
	if !found {
		return moduleLesson
	}
	return after
}

// labCtx is the lab a workspace request is about, for whom.
type labCtx struct {
	Lab  *labs.Lab
	User *store.User
	// Account is the learner's emulated AWS account: every service call of
	// the request acts in it.
	Account string
	// Fn is the function chosen with ?fn= (or the form's fn), the lab's
	// first by default; nil when the lab has none.
	Fn *labs.Function
	// Tab is the panel chosen with ?tab=, "code" by default.
	Tab string
}

// labURL is the lab page on tab for function fn ("" for either: the default).
func labURL(lab, tab, fn string) string {
	u := "/labs/" + url.PathEscape(lab)
	q := url.Values{}
	if tab != "" && tab != "code" {
		q.Set("tab", tab)
	}
	if fn != "" {
		q.Set("fn", fn)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// labFromPath is the workspace request's lab and learner, or a page
// already written: sign-in for a reader, 404 for an unknown lab or
// function, 503 when the workspace has no cloud behind it.
func (s *Server) labFromPath(w http.ResponseWriter, r *http.Request) (*labCtx, bool) {
	lab, ok := s.labByID(r.PathValue("lab"))
	if !ok {
		s.notFoundPage(w, r)
		return nil, false
	}
	u := s.requireUser(w, r, "/labs/"+lab.ID)
	if u == nil {
		return nil, false
	}
	if s.cloud == nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, "Labs are not available",
			"This lambdalab serves lessons only: it was started without the emulated AWS services that labs run on.")
		return nil, false
	}
	lc := &labCtx{Lab: lab, User: u, Account: u.AccountID, Tab: r.URL.Query().Get("tab")}
	if lc.Tab == "" {
		lc.Tab = r.FormValue("tab")
	}
	if lc.Tab == "" {
		lc.Tab = "code"
	}
	fn := r.URL.Query().Get("fn")
	if fn == "" {
		fn = r.FormValue("fn")
	}
	for i := range lab.Functions {
		if fn == "" || lab.Functions[i].Name == fn {
			lc.Fn = &lab.Functions[i]
			break
		}
	}
	if fn != "" && lc.Fn == nil {
		s.notFoundPage(w, r)
		return nil, false
	}
	return lc, true
}

// functionForm reads a workspace form of at most max bytes about one of
// the lab's functions: the lab and learner, or a page already written (the
// form unreadable, or no function chosen: a 404).
func (s *Server) functionForm(w http.ResponseWriter, r *http.Request, max int64) (*labCtx, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return nil, false
	}
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return nil, false
	}
	if lc.Fn == nil {
		s.notFoundPage(w, r)
		return nil, false
	}
	return lc, true
}

// fnName is the chosen function's name, or "".
func (lc *labCtx) fnName() string {
	if lc.Fn == nil {
		return ""
	}
	return lc.Fn.Name
}

// runner is the lab runner once the sandbox runs, or nil.
func (s *Server) runner() LabRunner {
	if s.cloud == nil || s.cloud.Labs == nil {
		return nil
	}
	return s.cloud.Labs()
}

// engine is the sandbox once it runs, or nil.
func (s *Server) engine() *sandbox.Engine {
	if s.cloud == nil || s.cloud.Engine == nil {
		return nil
	}
	return s.cloud.Engine()
}

// panelState is what a panel shows after an action: what it did, or why
// it was refused with the refused form to refill.
type panelState struct {
	Flash string
	Err   string
	Form  url.Values
}

// panel is one tab of the workspace. render returns the panel's body; the
// lab page frame (labpage.go) puts it in place.
type panel struct {
	ID, Title string
	render    func(r *http.Request, lc *labCtx, st panelState) (templ.Component, error)
}

// panels are the workspace's tabs in order.
func (s *Server) panels() []panel {
	return []panel{
		{"code", "Code", s.codePanel},
		{"test", "Test", s.testPanel},
		{"config", "Configuration", s.configPanel},
		{"versions", "Versions", s.versionsPanel},
		{"buckets", "Buckets", s.bucketsPanel},
		{"monitor", "Monitor", s.monitorPanel},
		{"traces", "Traces", s.tracesPanel},
		{"check", "Check my work", s.checkPanel},
	}
}

// actionDone ends a workspace form that worked: back to the lab page on
// tab (303, so a reload does not post again), with flash shown there.
func (s *Server) actionDone(w http.ResponseWriter, r *http.Request, lc *labCtx, tab, flash string) {
	u := labURL(lc.Lab.ID, tab, lc.fnName())
	if flash != "" {
		if len(flash) > 300 {
			// Cut at 300 bytes, dropping a character split by the cut.
			flash = strings.ToValidUTF8(flash[:300], "")
		}
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "note=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// actionRefused answers a workspace form that was refused: the whole lab
// page again, on tab, with the reason beside the refilled form. status is
// usually 422 (a value Lambda refuses) or 409 (a conflict).
func (s *Server) actionRefused(w http.ResponseWriter, r *http.Request, lc *labCtx, tab string, status int, reason string) {
	lc.Tab = tab
	form := r.PostForm
	s.renderLab(w, r, lc, status, panelState{Err: reason, Form: form})
}

// refusal is the text a learner sees for a refused service call: Lambda's
// (or S3's) error type and message, as the console shows them.
func refusal(err error) (string, bool) {
	if le, ok := lambda.AsError(err); ok {
		return le.Type + ": " + le.Message, true
	}
	var api interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &api) {
		return api.ErrorCode() + ": " + api.ErrorMessage(), true
	}
	return "", false
}
