package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

func newGradingDB(t *testing.T) (*DB, *fakeClock) {
	t.Helper()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	return db, clock
}

// twoHandles opens one new test database twice, as two processes (or two
// replicas) would. It opens the target itself: on PostgreSQL db.path is the
// URL with any password hidden, for messages.
func twoHandles(t *testing.T) (*DB, *DB) {
	t.Helper()
	target := testTarget(t)
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(context.Background(), target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

func mustUser(t *testing.T, db *DB, email string) User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), email, "h", false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustSubmit(t *testing.T, db *DB, userID int64, lab string) Submission {
	t.Helper()
	s, err := db.CreateSubmission(context.Background(), Submission{UserID: userID, Lab: lab, Source: SourceDir})
	if err != nil {
		t.Fatalf("CreateSubmission(user %d, %s): %v", userID, lab, err)
	}
	return s
}

// mustEnqueue queues a job for a new submission of lab by userID.
func mustEnqueue(t *testing.T, db *DB, userID int64, lab string) GradingJob {
	t.Helper()
	s := mustSubmit(t, db, userID, lab)
	j, _, err := db.EnqueueGrading(context.Background(), s.ID, userID, lab, 0)
	if err != nil {
		t.Fatalf("EnqueueGrading(submission %d): %v", s.ID, err)
	}
	return j
}

func mustClaim(t *testing.T, db *DB) GradingJob {
	t.Helper()
	j, ok, err := db.ClaimGradingJob(context.Background())
	if err != nil || !ok {
		t.Fatalf("ClaimGradingJob = %+v, %v, %v; want a job", j, ok, err)
	}
	return j
}

func mustJob(t *testing.T, db *DB, id int64) GradingJob {
	t.Helper()
	j, err := db.GradingJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSubmissionRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "s@example.com")

	files := bytes.Repeat([]byte("zip"), 1000)
	dir, err := db.CreateSubmission(ctx, Submission{UserID: u.ID, Lab: "s3-transform", Source: SourceDir,
		Files: files, Answers: map[string]string{"cost": "0.20", "why": "fewer cold starts"}})
	if err != nil {
		t.Fatal(err)
	}
	if dir.ID == 0 || !dir.CreatedAt.Equal(clock.Now()) {
		t.Errorf("created %+v; want an id and CreatedAt %v", dir, clock.Now())
	}
	clock.Advance(time.Minute)
	acct, err := db.CreateSubmission(ctx, Submission{UserID: u.ID, Lab: "s3-transform", Source: SourceAccount,
		State: []byte(`{"functions": []}`)})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	other := mustSubmit(t, db, u.ID, "aliases")
	cli := mustSubmit(t, db, 0, "s3-transform")

	got, err := db.Submission(ctx, dir.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.ID || got.Lab != "s3-transform" || got.Source != SourceDir || !bytes.Equal(got.Files, files) ||
		got.State != nil || !maps.Equal(got.Answers, dir.Answers) || !got.CreatedAt.Equal(dir.CreatedAt) {
		t.Errorf("Submission(%d) = %+v; want %+v", dir.ID, got, dir)
	}
	got, err = db.Submission(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Files != nil || string(got.State) != `{"functions": []}` || got.Answers == nil || len(got.Answers) != 0 {
		t.Errorf("Submission(%d) = files %q, state %q, answers %v; want no files, the snapshot, empty answers",
			acct.ID, got.Files, got.State, got.Answers)
	}
	if got, err := db.Submission(ctx, cli.ID); err != nil || got.UserID != 0 {
		t.Errorf("command-line Submission = %+v, %v; want user 0", got, err)
	}
	if _, err := db.Submission(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Submission(9999) error = %v; want ErrNotFound", err)
	}

	ids := func(ss []Submission) []int64 {
		var out []int64
		for _, s := range ss {
			if s.Files != nil || s.State != nil {
				t.Errorf("history entry %d carries its blobs", s.ID)
			}
			out = append(out, s.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		user  int64
		lab   string
		limit int
		want  []int64
	}{
		{"one lab, newest first", u.ID, "s3-transform", 10, []int64{acct.ID, dir.ID}},
		{"limit", u.ID, "s3-transform", 1, []int64{acct.ID}},
		{"no limit", u.ID, "s3-transform", 0, []int64{acct.ID, dir.ID}},
		{"every lab", u.ID, "", 0, []int64{other.ID, acct.ID, dir.ID}},
		{"command-line runs", 0, "", 0, []int64{cli.ID}},
		{"nothing", u.ID, "concurrency", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := db.Submissions(ctx, tt.user, tt.lab, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ss); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Submissions(%d, %q, %d) = %v; want %v", tt.user, tt.lab, tt.limit, got, tt.want)
			}
		})
	}
	ss, _ := db.Submissions(ctx, u.ID, "s3-transform", 0)
	if len(ss) == 2 && !maps.Equal(ss[1].Answers, dir.Answers) {
		t.Errorf("history answers = %v; want %v", ss[1].Answers, dir.Answers)
	}
}

func TestCreateSubmissionRejects(t *testing.T) {
	ctx := context.Background()
	db, _ := newGradingDB(t)
	u := mustUser(t, db, "r@example.com")
	tests := []struct {
		name string
		s    Submission
		want error
	}{
		{"no lab", Submission{UserID: u.ID, Source: SourceDir}, ErrInvalid},
		{"unknown source", Submission{UserID: u.ID, Lab: "l", Source: "git"}, ErrInvalid},
		{"files too big", Submission{UserID: u.ID, Lab: "l", Source: SourceDir, Files: make([]byte, MaxSubmissionFiles+1)}, ErrInvalid},
		{"state not JSON", Submission{UserID: u.ID, Lab: "l", Source: SourceAccount, State: []byte("{")}, ErrInvalid},
		{"empty question id", Submission{UserID: u.ID, Lab: "l", Source: SourceDir, Answers: map[string]string{"": "x"}}, ErrInvalid},
		{"answers too long", Submission{UserID: u.ID, Lab: "l", Source: SourceDir, Answers: map[string]string{"q": strings.Repeat("x", maxAnswersLen)}}, ErrInvalid},
		{"unknown user", Submission{UserID: u.ID + 100, Lab: "l", Source: SourceDir}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.CreateSubmission(ctx, tt.s); !errors.Is(err, tt.want) {
				t.Errorf("CreateSubmission error = %v; want %v", err, tt.want)
			}
		})
	}
	// Exactly the limit is accepted.
	if _, err := db.CreateSubmission(ctx, Submission{UserID: u.ID, Lab: "l", Source: SourceDir, Files: make([]byte, MaxSubmissionFiles)}); err != nil {
		t.Errorf("CreateSubmission of %d bytes: %v", MaxSubmissionFiles, err)
	}
}

func TestSaveReportKeepsProgress(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "p@example.com")

	save := func(lab string, status GradeStatus, score float64) GradeReport {
		t.Helper()
		clock.Advance(time.Minute)
		s := mustSubmit(t, db, u.ID, lab)
		r := GradeReport{Status: status, Score: score, Report: fmt.Appendf(nil, `{"status": %q}`, status)}
		if err := db.SaveReport(ctx, s.ID, r); err != nil {
			t.Fatalf("SaveReport(%s %v): %v", status, score, err)
		}
		got, err := db.Report(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SubmissionID != s.ID || got.Status != status || got.Score != score || string(got.Report) != string(r.Report) || !got.FinishedAt.Equal(clock.Now()) {
			t.Errorf("Report(%d) = %+v; want %s %v %s at %v", s.ID, got, status, score, r.Report, clock.Now())
		}
		return got
	}
	check := func(when string, lab string, want LabProgress) {
		t.Helper()
		all, err := db.LabProgress(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := all[lab]
		if got.Lab != want.Lab || got.Attempts != want.Attempts || got.FailedAttempts != want.FailedAttempts ||
			got.BestScore != want.BestScore || !got.PassedAt.Equal(want.PassedAt) || !got.LastAttemptAt.Equal(want.LastAttemptAt) {
			t.Errorf("%s: progress in %s = %+v; want %+v", when, lab, got, want)
		}
		n, err := db.FailedAttempts(ctx, u.ID, lab)
		if err != nil || n != want.FailedAttempts {
			t.Errorf("%s: FailedAttempts(%s) = %d, %v; want %d", when, lab, n, err, want.FailedAttempts)
		}
	}

	if all, err := db.LabProgress(ctx, u.ID); err != nil || all == nil || len(all) != 0 {
		t.Errorf("LabProgress before any report = %v, %v; want an empty map", all, err)
	}
	// An error report is stored but is no attempt: no progress row at all.
	save("s3-transform", GradeError, 0)
	check("after an error", "s3-transform", LabProgress{})

	f1 := save("s3-transform", GradeFail, 0.25)
	check("after a fail", "s3-transform", LabProgress{Lab: "s3-transform", Attempts: 1, FailedAttempts: 1, BestScore: 0.25, LastAttemptAt: f1.FinishedAt})
	f2 := save("s3-transform", GradeFail, 0.75)
	save("s3-transform", GradeError, 0)
	check("after another fail and an error", "s3-transform", LabProgress{Lab: "s3-transform", Attempts: 2, FailedAttempts: 2, BestScore: 0.75, LastAttemptAt: f2.FinishedAt})
	p := save("s3-transform", GradePass, 1)
	want := LabProgress{Lab: "s3-transform", Attempts: 3, FailedAttempts: 2, BestScore: 1, PassedAt: p.FinishedAt, LastAttemptAt: p.FinishedAt}
	check("after a pass", "s3-transform", want)
	// A later fail neither clears the pass nor lowers the best score.
	f3 := save("s3-transform", GradeFail, 0.5)
	want.Attempts, want.FailedAttempts, want.LastAttemptAt = 4, 3, f3.FinishedAt
	check("after a fail following the pass", "s3-transform", want)
	p2 := save("s3-transform", GradePass, 0.9)
	want.Attempts, want.LastAttemptAt = 5, p2.FinishedAt
	check("after a second pass", "s3-transform", want)
	if all, _ := db.LabProgress(ctx, u.ID); !all["s3-transform"].Passed() || len(all) != 1 {
		t.Errorf("LabProgress = %v; want one lab, passed", all)
	}

	// Other labs and other users are apart.
	a := save("aliases", GradePass, 0.8)
	check("first try of another lab", "aliases", LabProgress{Lab: "aliases", Attempts: 1, BestScore: 0.8, PassedAt: a.FinishedAt, LastAttemptAt: a.FinishedAt})
	check("the first lab after another", "s3-transform", want)
	v := mustUser(t, db, "v@example.com")
	if all, err := db.LabProgress(ctx, v.ID); err != nil || len(all) != 0 {
		t.Errorf("another user's LabProgress = %v, %v; want empty", all, err)
	}
	if n, err := db.FailedAttempts(ctx, v.ID, "s3-transform"); err != nil || n != 0 {
		t.Errorf("another user's FailedAttempts = %d, %v; want 0", n, err)
	}
	if _, err := db.LabProgress(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("LabProgress(9999) error = %v; want ErrNotFound", err)
	}

	// A command-line run's report is stored and touches no progress.
	cli := mustSubmit(t, db, 0, "s3-transform")
	if err := db.SaveReport(ctx, cli.ID, GradeReport{Status: GradeFail, Score: 0.1, Report: []byte(`{}`)}); err != nil {
		t.Fatalf("SaveReport of a command-line run: %v", err)
	}
	check("after a command-line run", "s3-transform", want)
}

func TestSaveReportRejects(t *testing.T) {
	ctx := context.Background()
	db, _ := newGradingDB(t)
	u := mustUser(t, db, "x@example.com")
	s := mustSubmit(t, db, u.ID, "lab")
	ok := GradeReport{Status: GradePass, Score: 1, Report: []byte(`{"checks": []}`)}
	tests := []struct {
		name string
		id   int64
		r    GradeReport
		want error
	}{
		{"unknown status", s.ID, GradeReport{Status: "skipped", Score: 1, Report: []byte(`{}`)}, ErrInvalid},
		{"negative score", s.ID, GradeReport{Status: GradeFail, Score: -0.1, Report: []byte(`{}`)}, ErrInvalid},
		{"score above 1", s.ID, GradeReport{Status: GradePass, Score: 1.5, Report: []byte(`{}`)}, ErrInvalid},
		{"report not JSON", s.ID, GradeReport{Status: GradePass, Score: 1, Report: []byte(`{`)}, ErrInvalid},
		// Valid JSON to json.Valid, but not text PostgreSQL can keep.
		{"report not UTF-8", s.ID, GradeReport{Status: GradePass, Score: 1, Report: []byte("{\"m\": \"\xff\"}")}, ErrInvalid},
		{"no report", s.ID, GradeReport{Status: GradePass, Score: 1}, ErrInvalid},
		{"unknown submission", 9999, ok, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.SaveReport(ctx, tt.id, tt.r); !errors.Is(err, tt.want) {
				t.Errorf("SaveReport error = %v; want %v", err, tt.want)
			}
		})
	}
	if _, err := db.Report(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Report before any save: %v; want ErrNotFound", err)
	}
	if err := db.SaveReport(ctx, s.ID, ok); err != nil {
		t.Fatal(err)
	}
	// The second report is refused and counts nothing: one attempt.
	if err := db.SaveReport(ctx, s.ID, GradeReport{Status: GradeFail, Score: 0, Report: []byte(`{}`)}); !errors.Is(err, ErrExists) {
		t.Errorf("second SaveReport error = %v; want ErrExists", err)
	}
	all, err := db.LabProgress(ctx, u.ID)
	if err != nil || all["lab"].Attempts != 1 || all["lab"].FailedAttempts != 0 {
		t.Errorf("LabProgress after a refused second report = %v, %v; want 1 attempt, 0 failed", all, err)
	}
}

func TestEnqueueGrading(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "q@example.com")
	var subs []Submission
	for i := range 3 {
		subs = append(subs, mustSubmit(t, db, u.ID, fmt.Sprintf("lab%d", i)))
	}
	for i, s := range subs {
		j, pos, err := db.EnqueueGrading(ctx, s.ID, u.ID, s.Lab, 3)
		if err != nil {
			t.Fatalf("EnqueueGrading %d: %v", i, err)
		}
		if pos != i+1 || j.State != GradingQueued || j.SubmissionID != s.ID || j.UserID != u.ID || j.Lab != s.Lab ||
			!j.QueuedAt.Equal(clock.Now()) || j.Attempts != 0 || !j.StartedAt.IsZero() || !j.FinishedAt.IsZero() {
			t.Errorf("EnqueueGrading %d = %+v at %d; want queued at position %d", i, j, pos, i+1)
		}
		if got := mustJob(t, db, j.ID); got != j {
			t.Errorf("GradingJob(%d) = %+v; want %+v", j.ID, got, j)
		}
	}
	extra := mustSubmit(t, db, u.ID, "lab9")
	if _, _, err := db.EnqueueGrading(ctx, extra.ID, u.ID, "lab9", 3); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a fourth job with room for 3: error %v; want ErrQueueFull", err)
	}
	if n, err := db.QueuedGradingJobs(ctx); err != nil || n != 3 {
		t.Errorf("QueuedGradingJobs = %d, %v; want 3 (the refused job not added)", n, err)
	}
	// A running job does not take a place in the queue.
	mustClaim(t, db)
	j, pos, err := db.EnqueueGrading(ctx, extra.ID, u.ID, "lab9", 3)
	if err != nil || pos != 3 {
		t.Errorf("EnqueueGrading once a job runs = %+v at %d, %v; want position 3", j, pos, err)
	}

	tests := []struct {
		name string
		sub  int64
		user int64
		lab  string
		want error
	}{
		{"already queued", extra.ID, u.ID, "lab9", ErrExists},
		{"already running", subs[0].ID, u.ID, subs[0].Lab, ErrExists},
		{"another user", subs[1].ID, u.ID + 1, subs[1].Lab, ErrInvalid},
		{"another lab", subs[1].ID, u.ID, "lab9", ErrInvalid},
		{"unknown submission", 9999, u.ID, "lab0", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := db.EnqueueGrading(ctx, tt.sub, tt.user, tt.lab, 0); !errors.Is(err, tt.want) {
				t.Errorf("EnqueueGrading error = %v; want %v", err, tt.want)
			}
		})
	}

	// Once a submission's job is finished it can be graded again.
	first := mustJob(t, db, 1)
	if err := db.FinishGradingJob(ctx, first.ID, GradingFailed, "the platform broke"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.EnqueueGrading(ctx, first.SubmissionID, u.ID, first.Lab, 0); err != nil {
		t.Errorf("EnqueueGrading after the first job failed: %v", err)
	}
}

func TestClaimGradingJob(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	a, b := mustUser(t, db, "a@example.com"), mustUser(t, db, "b@example.com")

	if j, ok, err := db.ClaimGradingJob(ctx); ok || err != nil {
		t.Fatalf("ClaimGradingJob on an empty queue = %+v, %v, %v; want nothing", j, ok, err)
	}
	a1 := mustEnqueue(t, db, a.ID, "lab")
	a2 := mustEnqueue(t, db, a.ID, "lab")
	b1 := mustEnqueue(t, db, b.ID, "lab")
	c1 := mustEnqueue(t, db, 0, "lab")
	c2 := mustEnqueue(t, db, 0, "lab")
	clock.Advance(time.Second)

	got := mustClaim(t, db)
	if got.ID != a1.ID || got.State != GradingRunning || got.Attempts != 1 || !got.StartedAt.Equal(clock.Now()) {
		t.Errorf("first claim = %+v; want job %d running, attempt 1, started %v", got, a1.ID, clock.Now())
	}
	// a2 waits while a1 runs: one running job per learner. Command-line
	// jobs have no such limit.
	for _, want := range []int64{b1.ID, c1.ID, c2.ID} {
		if got := mustClaim(t, db); got.ID != want {
			t.Errorf("claimed job %d; want %d", got.ID, want)
		}
	}
	if j, ok, err := db.ClaimGradingJob(ctx); ok || err != nil {
		t.Fatalf("ClaimGradingJob while a's job runs = %+v, %v, %v; want nothing", j, ok, err)
	}
	if pos, err := db.QueuePosition(ctx, a2.ID); err != nil || pos != 1 {
		t.Errorf("QueuePosition(a2) = %d, %v; want 1", pos, err)
	}
	if err := db.FinishGradingJob(ctx, a1.ID, GradingDone, ""); err != nil {
		t.Fatal(err)
	}
	if got := mustClaim(t, db); got.ID != a2.ID {
		t.Errorf("claim after a's first job finished = %d; want %d", got.ID, a2.ID)
	}
}

func TestGradingJobFinishAndRequeue(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "f@example.com")
	j := mustEnqueue(t, db, u.ID, "lab")
	later := mustEnqueue(t, db, 0, "lab")

	if err := db.FinishGradingJob(ctx, j.ID, GradingDone, ""); !errors.Is(err, ErrPrecondition) {
		t.Errorf("finishing a queued job: %v; want ErrPrecondition", err)
	}
	if err := db.RequeueGradingJob(ctx, j.ID, ""); !errors.Is(err, ErrPrecondition) {
		t.Errorf("requeueing a queued job: %v; want ErrPrecondition", err)
	}
	mustClaim(t, db)
	if err := db.FinishGradingJob(ctx, j.ID, GradingRunning, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("finishing as running: %v; want ErrInvalid", err)
	}
	if err := db.FinishGradingJob(ctx, 9999, GradingDone, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("finishing job 9999: %v; want ErrNotFound", err)
	}
	// An error text either engine cannot keep is refused, and the job
	// stays as it was.
	for _, bad := range []string{"bad \xff byte", "a NUL \x00 in it"} {
		if err := db.FinishGradingJob(ctx, j.ID, GradingFailed, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("finishing with error text %q: %v; want ErrInvalid", bad, err)
		}
		if err := db.RequeueGradingJob(ctx, j.ID, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("requeueing with error text %q: %v; want ErrInvalid", bad, err)
		}
	}
	if got := mustJob(t, db, j.ID); got.State != GradingRunning {
		t.Errorf("job after refused error texts = %+v; want still running", got)
	}
	// Back in the queue in its old place, ahead of the job queued after it.
	if err := db.RequeueGradingJob(ctx, j.ID, "the sandbox was full"); err != nil {
		t.Fatal(err)
	}
	got := mustJob(t, db, j.ID)
	if got.State != GradingQueued || !got.StartedAt.IsZero() || got.Attempts != 1 || got.Error != "the sandbox was full" {
		t.Errorf("requeued job = %+v; want queued, not started, 1 attempt, the error kept", got)
	}
	if pos, _ := db.QueuePosition(ctx, j.ID); pos != 1 {
		t.Errorf("requeued job's position = %d; want 1", pos)
	}
	if pos, _ := db.QueuePosition(ctx, later.ID); pos != 2 {
		t.Errorf("later job's position = %d; want 2", pos)
	}
	if got := mustClaim(t, db); got.ID != j.ID || got.Attempts != 2 {
		t.Errorf("claim after requeue = %+v; want job %d at attempt 2", got, j.ID)
	}
	clock.Advance(time.Second)
	if err := db.FinishGradingJob(ctx, j.ID, GradingFailed, "no such lab"); err != nil {
		t.Fatal(err)
	}
	got = mustJob(t, db, j.ID)
	if got.State != GradingFailed || got.Error != "no such lab" || !got.FinishedAt.Equal(clock.Now()) {
		t.Errorf("failed job = %+v; want failed at %v with its error", got, clock.Now())
	}
	if err := db.FinishGradingJob(ctx, j.ID, GradingDone, ""); !errors.Is(err, ErrPrecondition) {
		t.Errorf("finishing a failed job again: %v; want ErrPrecondition", err)
	}
	if _, err := db.GradingJob(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GradingJob(9999): %v; want ErrNotFound", err)
	}
}

func TestCancelGradingJob(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "c@example.com")
	running := mustEnqueue(t, db, u.ID, "lab")
	queued := mustEnqueue(t, db, 0, "lab")
	behind := mustEnqueue(t, db, 0, "lab")
	mustClaim(t, db)
	clock.Advance(time.Second)

	canceled, err := db.CancelGradingJob(ctx, queued.ID)
	if err != nil || !canceled {
		t.Fatalf("CancelGradingJob(queued) = %v, %v; want canceled", canceled, err)
	}
	if got := mustJob(t, db, queued.ID); got.State != GradingCanceled || !got.FinishedAt.Equal(clock.Now()) {
		t.Errorf("canceled job = %+v; want canceled at %v", got, clock.Now())
	}
	if pos, _ := db.QueuePosition(ctx, behind.ID); pos != 1 {
		t.Errorf("position behind a canceled job = %d; want 1", pos)
	}
	if pos, _ := db.QueuePosition(ctx, queued.ID); pos != 0 {
		t.Errorf("position of a canceled job = %d; want 0", pos)
	}

	canceled, err = db.CancelGradingJob(ctx, running.ID)
	if err != nil || canceled {
		t.Fatalf("CancelGradingJob(running) = %v, %v; want a request, not canceled", canceled, err)
	}
	if got := mustJob(t, db, running.ID); got.State != GradingRunning || !got.CancelRequested {
		t.Errorf("running job after cancel = %+v; want running with cancel requested", got)
	}
	// The worker's requeue of a job asked to stop cancels it instead.
	if err := db.RequeueGradingJob(ctx, running.ID, "the sandbox was full"); err != nil {
		t.Fatal(err)
	}
	if got := mustJob(t, db, running.ID); got.State != GradingCanceled || got.FinishedAt.IsZero() {
		t.Errorf("requeued job whose cancel was requested = %+v; want canceled", got)
	}

	if canceled, err := db.CancelGradingJob(ctx, running.ID); err != nil || canceled {
		t.Errorf("CancelGradingJob(finished) = %v, %v; want false, nil", canceled, err)
	}
	if _, err := db.CancelGradingJob(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("CancelGradingJob(9999): %v; want ErrNotFound", err)
	}
	if _, err := db.QueuePosition(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("QueuePosition(9999): %v; want ErrNotFound", err)
	}
}

func TestRecoverGradingJobs(t *testing.T) {
	ctx := context.Background()
	db, _ := newGradingDB(t)
	u, v, w := mustUser(t, db, "u@example.com"), mustUser(t, db, "v@example.com"), mustUser(t, db, "w@example.com")

	// Left by a dead process: a first attempt, a second (last) attempt, a
	// running job asked to stop, and jobs that are queued or finished.
	first := mustEnqueue(t, db, u.ID, "lab")
	last := mustEnqueue(t, db, v.ID, "lab")
	stopping := mustEnqueue(t, db, w.ID, "lab")
	mustClaim(t, db)
	mustClaim(t, db)
	if err := db.RequeueGradingJob(ctx, last.ID, "the sandbox was full"); err != nil {
		t.Fatal(err)
	}
	// The requeued job is older than stopping, so it comes first.
	if got := mustClaim(t, db); got.ID != last.ID || got.Attempts != 2 {
		t.Fatalf("claimed %+v; want job %d at its second attempt", got, last.ID)
	}
	mustClaim(t, db) // stopping
	if _, err := db.CancelGradingJob(ctx, stopping.ID); err != nil {
		t.Fatal(err)
	}
	done := mustEnqueue(t, db, 0, "lab")
	mustClaim(t, db)
	if err := db.FinishGradingJob(ctx, done.ID, GradingDone, ""); err != nil {
		t.Fatal(err)
	}
	waiting := mustEnqueue(t, db, 0, "lab")

	if _, _, err := db.RecoverGradingJobs(ctx, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecoverGradingJobs(0): %v; want ErrInvalid", err)
	}
	requeued, failed, err := db.RecoverGradingJobs(ctx, 2)
	if err != nil || requeued != 1 || failed != 1 {
		t.Fatalf("RecoverGradingJobs(2) = %d requeued, %d failed, %v; want 1 and 1", requeued, failed, err)
	}
	wantStates := map[int64]GradingState{first.ID: GradingQueued, last.ID: GradingFailed, stopping.ID: GradingCanceled,
		done.ID: GradingDone, waiting.ID: GradingQueued}
	for id, want := range wantStates {
		if got := mustJob(t, db, id); got.State != want {
			t.Errorf("job %d after recovery = %s; want %s", id, got.State, want)
		}
	}
	if got := mustJob(t, db, last.ID); got.Error != InterruptedError || got.FinishedAt.IsZero() {
		t.Errorf("failed job = %+v; want finished with %q", got, InterruptedError)
	}
	if got := mustJob(t, db, first.ID); !got.StartedAt.IsZero() || got.Attempts != 1 || !strings.Contains(got.Error, "interrupted") {
		t.Errorf("requeued job = %+v; want queued, not started, 1 attempt, a note that it was interrupted", got)
	}
	// The requeued job keeps its place ahead of the jobs queued after it.
	if pos, _ := db.QueuePosition(ctx, first.ID); pos != 1 {
		t.Errorf("requeued job's position = %d; want 1", pos)
	}
	if got := mustClaim(t, db); got.ID != first.ID || got.Attempts != 2 {
		t.Errorf("claim after recovery = %+v; want job %d at attempt 2", got, first.ID)
	}
	if r, f, err := db.RecoverGradingJobs(ctx, 5); err != nil || r != 1 || f != 0 {
		t.Errorf("second recovery = %d, %d, %v; want the running job requeued", r, f, err)
	}
	if r, f, err := db.RecoverGradingJobs(ctx, 5); err != nil || r != 0 || f != 0 {
		t.Errorf("recovery with nothing running = %d, %d, %v; want 0, 0", r, f, err)
	}
}

// TestClaimGradingJobConcurrent claims from several goroutines on two
// handles of the same file, as two processes would: no job is taken twice
// and a learner never has two jobs running.
func TestClaimGradingJobConcurrent(t *testing.T) {
	ctx := context.Background()
	db, other := twoHandles(t)
	db.now = newFakeClock().Now

	const users, perUser, cli = 4, 6, 6
	var ids []int64
	for i := range users {
		u := mustUser(t, db, fmt.Sprintf("c%d@example.com", i))
		ids = append(ids, u.ID)
		for range perUser {
			mustEnqueue(t, db, u.ID, "lab")
		}
	}
	for range cli {
		mustEnqueue(t, db, 0, "lab")
	}

	var (
		mu      sync.Mutex
		claimed = map[int64]int{}  // job → times claimed
		running = map[int64]bool{} // user → a job of theirs is running
		errs    []string
		wg      sync.WaitGroup
	)
	for w := range 8 {
		h := db
		if w%2 == 1 {
			h = other
		}
		wg.Go(func() {
			for {
				j, ok, err := h.ClaimGradingJob(ctx)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				if !ok {
					n, err := h.QueuedGradingJobs(ctx)
					if err != nil || n == 0 {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				claimed[j.ID]++
				if j.UserID != 0 {
					if running[j.UserID] {
						errs = append(errs, fmt.Sprintf("user %d has two running jobs (claimed %d)", j.UserID, j.ID))
					}
					running[j.UserID] = true
				}
				mu.Unlock()
				time.Sleep(time.Millisecond) // the "grading"
				// Cleared before the finish commits: until then the
				// database still counts the job as running.
				mu.Lock()
				running[j.UserID] = false
				mu.Unlock()
				if err := h.FinishGradingJob(ctx, j.ID, GradingDone, ""); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	if len(claimed) != users*perUser+cli {
		t.Errorf("%d jobs claimed; want %d", len(claimed), users*perUser+cli)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %d claimed %d times", id, n)
		}
	}
	if n, _ := db.QueuedGradingJobs(ctx); n != 0 {
		t.Errorf("%d jobs left queued", n)
	}
}

func TestGradingCascadesWithUser(t *testing.T) {
	ctx := context.Background()
	db, _ := newGradingDB(t)
	u := mustUser(t, db, "gone@example.com")
	j := mustEnqueue(t, db, u.ID, "lab")
	if err := db.SaveReport(ctx, j.SubmissionID, GradeReport{Status: GradeFail, Report: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.conn.ExecContext(ctx, "DELETE FROM users WHERE id = $1", u.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"submissions", "grade_reports", "lab_progress", "grading_jobs"} {
		var n int
		if err := db.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows left in %s after the user was deleted", n, table)
		}
	}
}

// Passed checks accumulate over attempts, failing ones included; an error
// report adds none, and another user's or lab's are apart.
func TestPassedChecks(t *testing.T) {
	ctx := context.Background()
	db, clock := newGradingDB(t)
	u := mustUser(t, db, "c@example.com")
	other := mustUser(t, db, "d@example.com")
	save := func(user int64, lab string, status GradeStatus, passed ...string) {
		t.Helper()
		clock.Advance(time.Minute)
		s := mustSubmit(t, db, user, lab)
		if err := db.SaveReport(ctx, s.ID, GradeReport{Status: status, Score: 0.5, Report: []byte(`{}`), PassedChecks: passed}); err != nil {
			t.Fatal(err)
		}
	}
	save(u.ID, "lab", GradeFail, "a", "b")
	first := clock.Now()
	save(u.ID, "lab", GradeFail, "b", "c")
	save(u.ID, "lab", GradeError, "d")
	save(other.ID, "lab", GradePass, "e")
	save(u.ID, "other-lab", GradePass, "f")
	got, err := db.PassedChecks(ctx, u.ID, "lab")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["a"].Equal(first) || !got["b"].Equal(first) || got["c"].IsZero() || !got["d"].IsZero() {
		t.Errorf("PassedChecks = %v; want a and b at %v, c later, no d", got, first)
	}
}

// TestClaimGradingJobConcurrentNoMiss has as many workers as queued jobs
// claim at the same moment, on two handles: each must get a job of its
// own. A claim that lost a race to another must take the next job, not
// report an empty queue while jobs wait.
func TestClaimGradingJobConcurrentNoMiss(t *testing.T) {
	ctx := context.Background()
	db, other := twoHandles(t)
	db.now = newFakeClock().Now
	const n = 8
	for i := range n {
		// Half of them learners', half command-line runs, which have no
		// one-running-job rule.
		var user int64
		if i%2 == 0 {
			user = mustUser(t, db, fmt.Sprintf("n%d@example.com", i)).ID
		}
		mustEnqueue(t, db, user, "lab")
	}
	for round := range 5 {
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			jobs  = make([]GradingJob, n)
			oks   = make([]bool, n)
			errs  = make([]error, n)
		)
		for w := range n {
			h := db
			if w%2 == 1 {
				h = other
			}
			wg.Go(func() {
				<-start
				jobs[w], oks[w], errs[w] = h.ClaimGradingJob(ctx)
			})
		}
		close(start)
		wg.Wait()
		seen := map[int64]bool{}
		for w := range n {
			switch {
			case errs[w] != nil:
				t.Errorf("round %d: worker %d: %v", round, w, errs[w])
			case !oks[w]:
				t.Errorf("round %d: worker %d found nothing to claim, with %d jobs queued for %d workers", round, w, n, n)
			case seen[jobs[w].ID]:
				t.Errorf("round %d: job %d claimed twice", round, jobs[w].ID)
			}
			seen[jobs[w].ID] = true
		}
		// Back in the queue for the next round.
		for id := range seen {
			if id != 0 {
				if err := db.RequeueGradingJob(ctx, id, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
