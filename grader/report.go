package grader

import (
	"fmt"
	"strings"
	"time"
)

// ReportVersion is the version of the report's JSON shape. It changes
// only when a field changes meaning or goes away; new fields do not bump it.
const ReportVersion = 1

// Status is a report's or a check's outcome.
type Status string

const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Error   Status = "error"   // nothing could be judged: the code does not run, or the platform failed
	Skipped Status = "skipped" // a check it depends on did not pass
)

// Report is the result of grading one submission, in the spirit of
// Exercism's and PrairieLearn's result files: an overall status and score,
// then every check in file order with a message for the student.
type Report struct {
	Version int    `json:"version"`
	Lab     string `json:"lab"`
	Status  Status `json:"status"`
	// Score is the share of checks that passed, in [0, 1].
	Score float64 `json:"score"`
	// Message explains an error status for the student.
	Message string        `json:"message,omitempty"`
	Checks  []CheckResult `json:"checks"`
	// Actions lists the replayed account actions that were refused.
	Actions    []ActionResult `json:"actions,omitempty"`
	Started    time.Time      `json:"started"`
	DurationMS int64          `json:"duration_ms"`
}

// CheckResult is one check's outcome.
type CheckResult struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Task   string `json:"task,omitempty"`
	Status Status `json:"status"`
	// Message says what was expected and what happened, for the student.
	Message string `json:"message,omitempty"`
	// Hints are the check's hints this student has unlocked.
	Hints []string `json:"hints,omitempty"`
	// Log is an excerpt of the function logs written while the check ran,
	// with their REPORT lines; cut parts are marked in the text.
	Log        string `json:"log,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// ActionResult is a replayed action the account refused.
type ActionResult struct {
	Kind    string `json:"kind"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Passed counts the checks that passed.
func (r *Report) Passed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == Pass {
			n++
		}
	}
	return n
}

// Summary is one line for people: "fail: 5 of 8 checks passed".
func (r *Report) Summary() string {
	if r.Status == Error {
		return fmt.Sprintf("error: %s", firstLine(r.Message))
	}
	return fmt.Sprintf("%s: %d of %d checks passed", r.Status, r.Passed(), len(r.Checks))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
