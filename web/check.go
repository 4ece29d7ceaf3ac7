package web

// The workspace's "Check my work" tab: it hands the learner's account in
// for grading, follows the grading job (a server-sent event stream for
// check.js, the panel itself without JavaScript), and shows reports and
// past submissions. Jobs and submissions are looked up within the
// signed-in learner's own: another learner's id is a 404.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"lambdalab/grader"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) checkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /labs/{lab}/check", s.checkSubmit)
	mux.HandleFunc("GET /labs/{lab}/check/{job}", s.checkEvents)
}

const (
	// maxAnswer bounds one answer to a lab question, in bytes: a number
	// with its unit or a sentence.
	maxAnswer = 500
	// pastSubmissions is how many of a learner's submissions the panel lists.
	pastSubmissions = 20
	// checkHeartbeat keeps a quiet grading stream open through proxies
	// while a job waits in the queue.
	checkHeartbeat = 15 * time.Second
)

// answerField is the form field of a question's answer.
func answerField(id string) string { return "answer." + id }

// checkSubmit hands the learner's account in with their answers and sends
// them to the job it queued.
func (s *Server) checkSubmit(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	answers := map[string]string{}
	for _, q := range lc.Lab.Questions {
		a := strings.TrimSpace(r.PostFormValue(answerField(q.ID)))
		if len(a) > maxAnswer {
			s.actionRefused(w, r, lc, "check", http.StatusUnprocessableEntity,
				fmt.Sprintf("Your answer to %q is %d characters long; at most %d.", q.Text, len(a), maxAnswer))
			return
		}
		if a != "" {
			answers[q.ID] = a
		}
	}
	runner := s.runner()
	if runner == nil {
		s.actionRefused(w, r, lc, "check", http.StatusServiceUnavailable,
			"The sandbox is still starting, so your work cannot be graded yet. Try again in a moment.")
		return
	}
	// Counted only once the form is sound: a refused answer costs nothing.
	if !s.allow(w, r, lc.User, actGrade) {
		return
	}
	job, _, err := runner.Submit(r.Context(), *lc.User, lc.Lab.ID, answers)
	if full := (*queue.FullError)(nil); errors.As(err, &full) {
		s.actionRefused(w, r, lc, "check", http.StatusServiceUnavailable,
			"The machine is busy: "+full.Error()+". This does not count as an attempt.")
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("submit lab %s: %w", lc.Lab.ID, err))
		return
	}
	http.Redirect(w, r, jobURL(lc, job.ID), http.StatusSeeOther)
}

// jobURL is the Check panel following job.
func jobURL(lc *labCtx, job int64) string {
	return withQuery(labURL(lc.Lab.ID, "check", lc.fnName()), "job", strconv.FormatInt(job, 10))
}

// submissionURL is the Check panel showing a submission's report.
func submissionURL(lc *labCtx, sub int64) string {
	return withQuery(labURL(lc.Lab.ID, "check", lc.fnName()), "submission", strconv.FormatInt(sub, 10))
}

func withQuery(u, key, value string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// ownJob is the grading job with the id written in the request, if it is
// the learner's own job of this lab; store.ErrNotFound otherwise.
func (s *Server) ownJob(ctx context.Context, lc *labCtx, id string) (store.GradingJob, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return store.GradingJob{}, fmt.Errorf("grading job %q: %w", id, store.ErrNotFound)
	}
	job, err := s.db.GradingJob(ctx, n)
	if err != nil {
		return store.GradingJob{}, fmt.Errorf("grading job %d: %w", n, err)
	}
	if job.UserID != lc.User.ID || job.Lab != lc.Lab.ID {
		return store.GradingJob{}, fmt.Errorf("grading job %d: %w", n, store.ErrNotFound)
	}
	return job, nil
}

// ownSubmission is the submission with the id written in the request, if
// it is the learner's own of this lab; store.ErrNotFound otherwise.
func (s *Server) ownSubmission(ctx context.Context, lc *labCtx, id string) (store.Submission, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return store.Submission{}, fmt.Errorf("submission %q: %w", id, store.ErrNotFound)
	}
	sub, err := s.db.Submission(ctx, n)
	if err != nil {
		return store.Submission{}, fmt.Errorf("submission %d: %w", n, err)
	}
	if sub.UserID != lc.User.ID || sub.Lab != lc.Lab.ID {
		return store.Submission{}, fmt.Errorf("submission %d: %w", n, store.ErrNotFound)
	}
	return sub, nil
}

// checkPanel renders the Check tab. With ?job= it follows that job (its
// report once graded); with ?submission= it shows that report. An id that
// is not the learner's own is store.ErrNotFound, which the frame answers
// with a 404.
func (s *Server) checkPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	ctx := r.Context()
	v := ui.CheckPanelView{
		Lab:      lc.Lab.ID,
		Fn:       lc.fnName(),
		PanelURL: labURL(lc.Lab.ID, "check", lc.fnName()),
		FormURL:  "/labs/" + url.PathEscape(lc.Lab.ID) + "/check",
		Starting: s.runner() == nil,
		Flash:    st.Flash,
		Err:      st.Err,
		Tasks:    checkTasks(lc.Lab),
	}
	prog, err := s.db.LabProgress(ctx, lc.User.ID)
	if err != nil {
		return nil, fmt.Errorf("lab progress: %w", err)
	}
	v.Standing = checkStanding(prog[lc.Lab.ID])

	shown := int64(0)
	q := r.URL.Query()
	switch {
	case q.Get("job") != "":
		job, err := s.ownJob(ctx, lc, q.Get("job"))
		if err != nil {
			return nil, err
		}
		if job.State == store.GradingRunning {
			job = s.followJob(ctx, lc, job, &v)
		}
		if job.State == store.GradingDone {
			rep, err := s.reportView(ctx, lc, job.SubmissionID)
			if err != nil {
				return nil, err
			}
			v.Report, v.Job, shown = rep, nil, job.SubmissionID
		} else if v.Job == nil {
			v.Job = s.jobView(ctx, lc, job, nil)
		}
	case q.Get("submission") != "":
		sub, err := s.ownSubmission(ctx, lc, q.Get("submission"))
		if err != nil {
			return nil, err
		}
		if v.Report, err = s.reportView(ctx, lc, sub.ID); err != nil {
			return nil, err
		}
		shown = sub.ID
	}

	subs, err := s.db.Submissions(ctx, lc.User.ID, lc.Lab.ID, pastSubmissions)
	if err != nil {
		return nil, fmt.Errorf("submissions of %s: %w", lc.Lab.ID, err)
	}
	for _, sub := range subs {
		row := ui.CheckSubmission{ID: sub.ID, When: submittedAt(sub.CreatedAt), URL: submissionURL(lc, sub.ID), Shown: sub.ID == shown}
		switch rep, err := s.db.Report(ctx, sub.ID); {
		case err == nil:
			row.Status, row.Score = string(rep.Status), percent(rep.Score)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("report of submission %d: %w", sub.ID, err)
		}
		v.Submissions = append(v.Submissions, row)
	}

	// The answers to refill: the refused form's, else the latest handed in.
	var last map[string]string
	if len(subs) > 0 {
		last = subs[0].Answers
	}
	for _, qu := range lc.Lab.Questions {
		field := answerField(qu.ID)
		val := last[qu.ID]
		if st.Form != nil {
			val = st.Form.Get(field)
		}
		v.Questions = append(v.Questions, ui.CheckQuestion{ID: qu.ID, Text: qu.Text, Number: qu.Kind == "number", Unit: qu.Unit, Name: field, Value: val})
	}
	return ui.CheckPanel(v), nil
}

// followJob reads what a running job has streamed so far, for a page
// without JavaScript: the queue replays a running job's progress to a new
// subscriber at once, so a short quiet spell means it has all been read.
// It returns the job as it stands afterwards and sets v.Job unless the job
// has finished meanwhile.
func (s *Server) followJob(ctx context.Context, lc *labCtx, job store.GradingJob, v *ui.CheckPanelView) store.GradingJob {
	runner := s.runner()
	if runner == nil {
		return job
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	events, stop := runner.Subscribe(ctx, job.ID)
	defer stop()
	done := map[string]grader.CheckResult{}
	quiet := time.NewTimer(time.Second)
	defer quiet.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				v.Job = s.jobView(ctx, lc, job, done)
				return job
			}
			switch ev.Kind {
			case queue.KindProgress:
				var c grader.CheckResult
				if json.Unmarshal(ev.Data, &c) == nil {
					done[c.ID] = c
				}
			case queue.KindStarted:
				job.Attempts = ev.Attempt
			case queue.KindFinished:
				if again, err := s.db.GradingJob(ctx, job.ID); err == nil {
					job = again
				}
				if job.State != store.GradingDone {
					v.Job = s.jobView(ctx, lc, job, done)
				}
				return job
			}
			quiet.Reset(150 * time.Millisecond)
		case <-quiet.C:
			v.Job = s.jobView(ctx, lc, job, done)
			return job
		case <-ctx.Done():
			v.Job = s.jobView(ctx, lc, job, done)
			return job
		}
	}
}

// jobView is a job that has no report to show: the lab's checks, those in
// done with their results, the others waiting.
func (s *Server) jobView(ctx context.Context, lc *labCtx, job store.GradingJob, done map[string]grader.CheckResult) *ui.CheckJob {
	j := &ui.CheckJob{
		ID:         job.ID,
		State:      string(job.State),
		Attempt:    job.Attempts,
		StreamURL:  "/labs/" + url.PathEscape(lc.Lab.ID) + "/check/" + strconv.FormatInt(job.ID, 10),
		RefreshURL: jobURL(lc, job.ID),
		DoneURL:    jobURL(lc, job.ID),
		Error:      job.Error,
	}
	if job.State == store.GradingQueued {
		// Zero when it left the queue meanwhile: the page then says queued
		// without a place, and the next refresh tells more.
		j.Position, _ = s.db.QueuePosition(ctx, job.ID)
	}
	tasks := taskTitles(lc.Lab)
	for _, c := range lc.Lab.Checks {
		if res, ok := done[c.ID]; ok {
			j.Rows = append(j.Rows, checkRow(res, tasks))
			continue
		}
		row := ui.CheckRow{ID: c.ID, Title: c.Title, Task: tasks[c.Task], Status: "waiting"}
		if c.Hidden {
			row.Title = "hidden check"
		}
		j.Rows = append(j.Rows, row)
	}
	return j
}

// reportView is the report of the learner's submission, or one saying it
// has not been graded (it is being graded, or grading could not run).
func (s *Server) reportView(ctx context.Context, lc *labCtx, subID int64) (*ui.CheckReport, error) {
	sub, err := s.db.Submission(ctx, subID)
	if err != nil {
		return nil, fmt.Errorf("submission %d: %w", subID, err)
	}
	v := &ui.CheckReport{SubmissionID: sub.ID, When: submittedAt(sub.CreatedAt)}
	stored, err := s.db.Report(ctx, sub.ID)
	if errors.Is(err, store.ErrNotFound) {
		v.Message = "This submission has no report: it is still being graded, or grading could not run for it."
		return v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report of submission %d: %w", sub.ID, err)
	}
	var rep grader.Report
	if err := json.Unmarshal(stored.Report, &rep); err != nil {
		return nil, fmt.Errorf("report of submission %d: %w", sub.ID, err)
	}
	v.Status = string(stored.Status)
	v.Summary = fmt.Sprintf("%d of %d checks passed", rep.Passed(), len(rep.Checks))
	v.Score = percent(stored.Score)
	v.Message = rep.Message
	if rep.DurationMS > 0 {
		v.Duration = duration(rep.DurationMS)
	}
	tasks := taskTitles(lc.Lab)
	for _, c := range rep.Checks {
		v.Checks = append(v.Checks, checkRow(c, tasks))
	}
	for _, a := range rep.Actions {
		v.Actions = append(v.Actions, fmt.Sprintf("%s (%s line %d): %s", a.Kind, a.File, a.Line, a.Message))
	}
	return v, nil
}

// checkEvents streams one of the learner's grading jobs: "queued" with
// its position, "started" with the attempt, "check" with each result as
// it finishes (the row to show included), and "finished" with where its
// report is; the stream ends after that.
func (s *Server) checkEvents(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	job, err := s.ownJob(r.Context(), lc, r.PathValue("job"))
	if errors.Is(err, store.ErrNotFound) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	runner := s.runner()
	if runner == nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, "The sandbox is starting",
			"Grading is not available until the sandbox has started. Try again in a moment.")
		return
	}
	// A job may wait in the queue for minutes: startEventStream lifts the
	// write deadline.
	rc, ok := startEventStream(w, 2*time.Second, "grading job")
	if !ok {
		return
	}
	events, stop := runner.Subscribe(r.Context(), job.ID)
	defer stop()
	beat := time.NewTicker(checkHeartbeat)
	defer beat.Stop()
	tasks := taskTitles(lc.Lab)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.events.done:
			return
		case <-beat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case ev, ok := <-events:
			if !ok {
				return
			}
			name, data, err := s.checkEvent(r.Context(), lc, ev, tasks)
			if err != nil {
				s.logger.ErrorContext(r.Context(), "grading event", "job", job.ID, "err", err)
				return
			}
			if name == "" {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
			if ev.Kind == queue.KindFinished {
				rc.Flush()
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// checkEvent is a queue event as the stream sends it: its name and one
// line of JSON; no name for an event the page has no use for.
func (s *Server) checkEvent(ctx context.Context, lc *labCtx, ev queue.Event, tasks map[string]string) (string, []byte, error) {
	var name string
	var v any
	switch ev.Kind {
	case queue.KindQueued:
		name, v = "queued", struct {
			Position int `json:"position"`
		}{ev.Position}
	case queue.KindStarted:
		name, v = "started", struct {
			Attempt int `json:"attempt"`
		}{ev.Attempt}
	case queue.KindProgress:
		var c grader.CheckResult
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return "", nil, fmt.Errorf("progress of job %d: %w", ev.Job, err)
		}
		var html bytes.Buffer
		if err := ui.CheckResultRow(checkRow(c, tasks)).Render(ctx, &html); err != nil {
			return "", nil, err
		}
		name, v = "check", struct {
			ID     string `json:"id"`
			Title  string `json:"title"`
			Status string `json:"status"`
			HTML   string `json:"html"`
		}{c.ID, c.Title, string(c.Status), html.String()}
	case queue.KindFinished:
		name, v = "finished", struct {
			State string `json:"state"`
			Error string `json:"error,omitempty"`
			// URL is the panel with the job's outcome: its report once done.
			URL string `json:"url"`
		}{string(ev.State), ev.Error, jobURL(lc, ev.Job)}
	default:
		return "", nil, nil
	}
	// json.Marshal writes no newline, so the data stays one line.
	b, err := json.Marshal(v)
	return name, b, err
}

// checkRow is a check's result as the panel shows it.
func checkRow(c grader.CheckResult, tasks map[string]string) ui.CheckRow {
	row := ui.CheckRow{ID: c.ID, Title: c.Title, Task: tasks[c.Task], Status: string(c.Status),
		Message: sandbox.ReadableLog(c.Message), Hints: c.Hints, Log: sandbox.ReadableLog(c.Log)}
	if c.Status != grader.Skipped {
		row.Duration = duration(c.DurationMS)
	}
	return row
}

// checkTasks are the lab's checks listed under their tasks, in the lab's
// order; a hidden check is named only in reports.
func checkTasks(lab *labs.Lab) []ui.CheckTask {
	titles := taskTitles(lab)
	var out []ui.CheckTask
	index := map[string]int{}
	for _, c := range lab.Checks {
		i, ok := index[c.Task]
		if !ok {
			i = len(out)
			index[c.Task] = i
			out = append(out, ui.CheckTask{Title: titles[c.Task]})
			if out[i].Title == "" {
				out[i].Title = "Other checks"
			}
		}
		item := ui.CheckItem{ID: c.ID, Title: c.Title, Hidden: c.Hidden}
		if c.Hidden {
			item.Title = "hidden check"
		}
		out[i].Checks = append(out[i].Checks, item)
	}
	return out
}

func taskTitles(lab *labs.Lab) map[string]string {
	m := make(map[string]string, len(lab.Tasks))
	for _, t := range lab.Tasks {
		m[t.ID] = t.Title
	}
	return m
}

func checkStanding(p store.LabProgress) ui.CheckStanding {
	st := ui.CheckStanding{Passed: p.Passed(), Attempts: p.Attempts, Failed: p.FailedAttempts}
	if st.Passed {
		st.PassedAt = formatTime(p.PassedAt)
	}
	if p.Attempts > 0 || st.Passed {
		st.Best = percent(p.BestScore)
	}
	return st
}

// percent is a score in [0, 1] as a whole percentage; a score short of
// full marks never rounds up to 100%.
func percent(score float64) string {
	n := int(score*100 + 0.5)
	if n == 100 && score < 1 {
		n = 99
	}
	return strconv.Itoa(n) + "%"
}

// duration is a check's or a report's running time for people.
func duration(ms int64) string {
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + " ms"
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', 1, 64) + " s"
}

// submittedAt is when a submission was handed in, to the second: two
// tries a minute apart must not look the same.
func submittedAt(t time.Time) string {
	return t.Local().Format("2 Jan 2006 15:04:05")
}
