package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"lambdalab/grader"
	"lambdalab/grader/grading"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/store"
)

// queuedGrading is a grading stack with its queue started.
func queuedGrading(tb testing.TB, cfg queue.Config) (*gradingStack, *grading.Grading, []*labs.Lab) {
	tb.Helper()
	ctx := context.Background()
	_, all, err := loadCourse("")
	if err != nil {
		tb.Fatal(err)
	}
	st, err := startGrading(ctx, "", os.Getenv, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.close)
	gr := grading.New(st.db, st.grader, all, cfg, slog.New(slog.DiscardHandler))
	if err := gr.Queue().Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { gr.Queue().Close(context.Background()) })
	return st, gr, all
}

func labByID(tb testing.TB, all []*labs.Lab, id string) *labs.Lab {
	for _, l := range all {
		if l.ID == id {
			return l
		}
	}
	tb.Fatalf("no lab %s", id)
	return nil
}

// submitVariant stores one of a lab's variants as a learner's upload and
// queues it.
func submitVariant(tb testing.TB, gr *grading.Grading, lab *labs.Lab, v *labs.Variant, userID int64) store.GradingJob {
	tb.Helper()
	ctx := context.Background()
	files, err := fs.Sub(lab.FS, v.Dir)
	if err != nil {
		tb.Fatal(err)
	}
	job, _, err := gr.SubmitFolder(ctx, userID, lab.ID, files)
	if err != nil {
		tb.Fatal(err)
	}
	return job
}

// waitJob follows a job's events to its end and returns the check results
// it streamed.
func waitJob(tb testing.TB, gr *grading.Grading, id int64) (store.GradingState, []grader.CheckResult) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	events, stop := gr.Queue().Subscribe(ctx, id)
	defer stop()
	var checks []grader.CheckResult
	for ev := range events {
		switch ev.Kind {
		case queue.KindProgress:
			var c grader.CheckResult
			if err := json.Unmarshal(ev.Data, &c); err != nil {
				tb.Fatalf("progress event: %v", err)
			}
			checks = append(checks, c)
		case queue.KindFinished:
			return ev.State, checks
		}
	}
	tb.Fatalf("job %d: no finished event", id)
	return "", nil
}

// TestGradingQueueStoresReports: a learner's submissions go through the
// queue; checks stream as they finish; the report is stored with the
// submission; a failing one counts as a failed attempt and unlocks hints
// for the next, and a passing one marks the lab complete.
func TestGradingQueueStoresReports(t *testing.T) {
	requireDocker(t)
	ctx := context.Background()
	st, gr, all := queuedGrading(t, queue.Config{})
	lab := labByID(t, all, "s3-transform")
	user, err := st.db.CreateUser(ctx, "student@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	var wrong *labs.Variant
	for _, v := range lab.Wrong {
		if v.Name == "first-record-only" {
			wrong = v
		}
	}
	job := submitVariant(t, gr, lab, wrong, user.ID)
	state, checks := waitJob(t, gr, job.ID)
	if state != store.GradingDone || len(checks) != len(lab.Checks) {
		t.Fatalf("wrong variant: state %s, %d checks streamed of %d", state, len(checks), len(lab.Checks))
	}
	rep, err := st.db.Report(ctx, job.SubmissionID)
	if err != nil || rep.Status != store.GradeFail {
		t.Fatalf("stored report: %+v, %v", rep, err)
	}
	prog, err := st.db.LabProgress(ctx, user.ID)
	if err != nil || prog[lab.ID].FailedAttempts != 1 || prog[lab.ID].Passed() {
		t.Fatalf("progress after a failed attempt: %+v, %v", prog[lab.ID], err)
	}

	// Another learner's own account, where nothing of the lab is done yet:
	// graded from a copy, with a snapshot of the account kept.
	fresh, err := st.db.CreateUser(ctx, "fresh@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	job, _, err = gr.Submit(ctx, fresh, lab.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if state, _ := waitJob(t, gr, job.ID); state != store.GradingDone {
		t.Fatalf("account submission: state %s", state)
	}
	if rep, err := st.db.Report(ctx, job.SubmissionID); err != nil || rep.Status != store.GradeFail || rep.Score != 0 {
		t.Fatalf("an empty account's report: %s %v, %s, %v", rep.Status, rep.Score, rep.Report, err)
	}
	if sub, err := st.db.Submission(ctx, job.SubmissionID); err != nil || !strings.Contains(string(sub.State), `"account":"`+fresh.AccountID+`"`) {
		t.Fatalf("account submission's snapshot: %s, %v", sub.State, err)
	}

	job = submitVariant(t, gr, lab, lab.Solution, user.ID)
	if state, _ := waitJob(t, gr, job.ID); state != store.GradingDone {
		t.Fatalf("solution: state %s", state)
	}
	prog, err = st.db.LabProgress(ctx, user.ID)
	if err != nil || !prog[lab.ID].Passed() || prog[lab.ID].BestScore != 1 {
		t.Fatalf("progress after passing: %+v, %v", prog[lab.ID], err)
	}
}

// BenchmarkGradingQueue20 queues 20 submissions of the S3 transform
// solution at once and reports how long the queue takes to grade them all,
// with the default workers for this machine and with two and four.
func BenchmarkGradingQueue20(b *testing.B) {
	requireDockerB(b)
	for _, workers := range []int{0, 2, 4} {
		name := fmt.Sprintf("workers=%d", workers)
		if workers == 0 {
			name = "workers=default"
		}
		b.Run(name, func(b *testing.B) {
			st, gr, all := queuedGrading(b, queue.Config{Workers: workers})
			lab := labByID(b, all, "s3-transform")
			for b.Loop() {
				start := time.Now()
				jobs := make([]store.GradingJob, 20)
				for i := range jobs {
					jobs[i] = submitVariant(b, gr, lab, lab.Solution, 0)
				}
				for _, j := range jobs {
					if state, _ := waitJob(b, gr, j.ID); state != store.GradingDone {
						b.Fatalf("job %d: %s", j.ID, state)
					}
					if rep, err := st.db.Report(context.Background(), j.SubmissionID); err != nil || rep.Status != store.GradePass {
						b.Fatalf("job %d report: %+v %v", j.ID, rep, err)
					}
				}
				el := time.Since(start)
				b.ReportMetric(el.Seconds(), "s/20-submissions")
				b.ReportMetric(20/el.Minutes(), "submissions/min")
			}
		})
	}
}

// BenchmarkGradeSolution grades each lab's reference solution, one run at
// a time, and reports the wall time of one grading (aims: under 10 s each,
// the S3 transform under 5 s).
func BenchmarkGradeSolution(b *testing.B) {
	requireDockerB(b)
	ctx := context.Background()
	_, all, err := loadCourse("")
	if err != nil {
		b.Fatal(err)
	}
	st, err := startGrading(ctx, "", os.Getenv, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.close)
	for _, lab := range all {
		b.Run(lab.ID, func(b *testing.B) {
			sub, err := grader.VariantSubmission(lab, lab.Solution)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rep, err := st.grader.Grade(ctx, lab, sub, grader.Options{})
				if err != nil || rep.Status != grader.Pass {
					b.Fatalf("%s solution: %v %s", lab.ID, err, rep.Summary())
				}
			}
		})
	}
}

// BenchmarkCheckCourse is `lambdalab check` on the embedded course, start
// to end, including the start of its sandbox.
func BenchmarkCheckCourse(b *testing.B) {
	requireDockerB(b)
	for b.Loop() {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"check"}, os.Getenv, nil, &out, &errOut); err != nil {
			b.Fatalf("check: %v\n%s\n%s", err, out.String(), errOut.String())
		}
	}
}
