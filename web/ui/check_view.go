package ui

// The view of the workspace's "Check my work" panel (check.templ): the
// lab's checks and questions, the grading job being followed, a report,
// and the learner's past submissions. web/check.go builds it; every value
// is ready to show.

import "strings"

// CheckPanelView is the whole Check panel.
type CheckPanelView struct {
	Lab string // the lab's id
	Fn  string // the chosen function, kept in the form and links
	// PanelURL is the panel without a job or submission chosen; FormURL
	// is where "Check my work" posts.
	PanelURL, FormURL string
	// Starting says the sandbox is still starting: nothing can be graded yet.
	Starting bool
	Flash    string // what the last action did
	Err      string // why the last "Check my work" was refused
	Standing CheckStanding
	// Tasks are the lab's checks grouped by the task they belong to, in
	// the lab's order.
	Tasks     []CheckTask
	Questions []CheckQuestion
	// Job is the grading job being followed, nil when none is chosen.
	Job *CheckJob
	// Report is the submission shown (chosen, or the job's once graded).
	Report      *CheckReport
	Submissions []CheckSubmission
}

// CheckStanding is the learner's progress in the lab.
type CheckStanding struct {
	Passed   bool
	PassedAt string // formatted; empty unless Passed
	Attempts int    // graded submissions, pass or fail
	Failed   int
	Best     string // best score as a percentage, "" before any attempt
}

// CheckTask is one task of the lab with its checks.
type CheckTask struct {
	Title  string
	Checks []CheckItem
}

// CheckItem is a check as listed before grading.
type CheckItem struct {
	ID    string
	Title string // "hidden check" for a hidden one
	// Hidden checks are named only once graded.
	Hidden bool
}

// CheckQuestion is one of the lab's questions, with the answer to refill.
type CheckQuestion struct {
	ID, Text string
	Number   bool // a number (with Unit), otherwise free text
	Unit     string
	Name     string // the form field
	Value    string
}

// CheckJob is a grading job the learner follows.
type CheckJob struct {
	ID int64
	// State is "queued", "running", "done", "canceled" or "failed".
	State    string
	Position int // in the queue while queued, 0 when unknown
	Attempt  int // of the platform's tries, while running
	// StreamURL is the job's event stream (check.js), RefreshURL the panel
	// on this job (for a page without JavaScript) and DoneURL the panel to
	// show once it is over.
	StreamURL, RefreshURL, DoneURL string
	// Rows are the lab's checks: the results streamed so far and the ones
	// still to run.
	Rows []CheckRow
	// Error says why grading could not run (State "failed").
	Error string
}

// Finished reports whether the job is over.
func (j CheckJob) Finished() bool {
	return j.State == "done" || j.State == "canceled" || j.State == "failed"
}

// CheckReport is a graded submission.
type CheckReport struct {
	SubmissionID int64
	When         string
	// Status is "pass", "fail" or "error".
	Status  string
	Summary string // "fail: 5 of 8 checks passed"
	Score   string // "63%"
	// Message says why nothing could be judged (status error).
	Message  string
	Duration string
	Checks   []CheckRow
	// Actions are replayed actions the account refused (folder submissions).
	Actions []string
}

// Counts reports whether the submission counts as an attempt: an error
// (the code could not run, the machine was busy) does not.
func (r CheckReport) Counts() bool { return r.Status != "error" }

// CheckRow is one check's outcome, or a check still waiting for it.
type CheckRow struct {
	ID, Title, Task string
	// Status is "pass", "fail", "error", "skipped", or "waiting" for a
	// check not run yet.
	Status   string
	Message  string
	Hints    []string
	Log      string
	Duration string
}

// CheckSubmission is one line of the learner's past submissions.
type CheckSubmission struct {
	ID     int64
	When   string
	Status string // "pass", "fail", "error", or "" when not graded
	Score  string
	URL    string
	Shown  bool // the one on screen
}

// codeSpans splits text at its backquotes: the odd parts were `code`.
// An unmatched backquote is kept as written.
func codeSpans(s string) []string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		// An odd number of backquotes: the last one opens nothing.
		last := len(parts) - 1
		parts[last-1] += "`" + parts[last]
		parts = parts[:last]
	}
	return parts
}

// statusWord is a check or report status in words, for people.
func statusWord(s string) string {
	switch s {
	case "pass":
		return "Passed"
	case "fail":
		return "Failed"
	case "error":
		return "Error"
	case "skipped":
		return "Skipped"
	case "waiting":
		return "Waiting"
	case "":
		return "Not graded"
	}
	return s
}

// statusIcon is the status's symbol; the word beside it says the same.
func statusIcon(s string) string {
	switch s {
	case "pass":
		return "✓"
	case "fail":
		return "✗"
	case "error":
		return "!"
	case "skipped":
		return "–"
	}
	return "…"
}
