package grader

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lambdalab/cloud/inproc"
	"lambdalab/labs"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/")

// embeddedLab loads one of the course's labs with the real step kinds.
func embeddedLab(t *testing.T, id string) *labs.Lab {
	t.Helper()
	all, err := labs.Load(labs.Embedded(), labs.Options{Kinds: LabKinds()})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.ID == id {
			return l
		}
	}
	t.Fatalf("no embedded lab %s", id)
	return nil
}

func variant(t *testing.T, lab *labs.Lab, name string) *labs.Variant {
	t.Helper()
	for _, v := range append([]*labs.Variant{lab.Solution, lab.Starter}, lab.Wrong...) {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("lab %s has no variant %s", lab.ID, name)
	return nil
}

// TestGradeLeavesLearnerAccountUnchanged grades a learner's own account, as
// the browser will: the learner has done the S3 transform lab by hand
// (function, buckets, permission, trigger). Grading puts objects and
// invokes in a copy; the learner's account is byte-for-byte as before, and
// no scratch account is left.
func TestGradeLeavesLearnerAccountUnchanged(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	lab := embeddedLab(t, "s3-transform")
	learner := newLearner(t, st, lab, "learner@example.com")
	replay(t, learner, lab.Solution.Actions)
	time.Sleep(500 * time.Millisecond) // let the seed objects' own events finish
	before, err := st.db.AccountDigest(ctx, learner.Account)
	if err != nil {
		t.Fatal(err)
	}

	rep, err := st.grader.Grade(ctx, lab, Submission{Account: learner.Account}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Pass {
		t.Errorf("grading the learner's finished lab: %s", describe(rep))
	}
	time.Sleep(500 * time.Millisecond) // anything still in flight would land now
	after, err := st.db.AccountDigest(ctx, learner.Account)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("grading changed the learner's account: digest %s before, %s after", before, after)
	}
	left, err := st.db.ScratchAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("scratch accounts left after grading: %v", left)
	}
}

// TestGradeReportGolden pins the report a student gets for a classic
// mistake (handling only the first record of an event): statuses, messages
// and hints, with the run-dependent parts (times, logs) normalised.
func TestGradeReportGolden(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	lab := embeddedLab(t, "s3-transform")
	sub, err := VariantSubmission(lab, variant(t, lab, "first-record-only"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := st.grader.Grade(ctx, lab, sub, Options{FailedAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Fail {
		t.Fatalf("first-record-only: %s", describe(rep))
	}
	for _, c := range rep.Checks {
		if c.Status == Fail && !strings.Contains(c.Log, "REPORT RequestId:") {
			t.Errorf("check %s failed without the function's REPORT lines in its log excerpt:\n%s", c.ID, c.Log)
		}
	}
	got := normalise(rep)
	golden := filepath.Join("testdata", "s3-transform-first-record-only.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./grader -run Golden -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("report differs from %s (rerun with -update if the change is meant):\ngot:\n%s", golden, got)
	}
}

// TestGradeCodeThatCannotStart: a module with a syntax error is an error
// report in Lambda's words, not a failed attempt.
func TestGradeCodeThatCannotStart(t *testing.T) {
	st := newStack(t)
	lab := embeddedLab(t, "s3-transform")
	sub, err := VariantSubmission(lab, lab.Solution)
	if err != nil {
		t.Fatal(err)
	}
	sub.Files = files(map[string]string{"app.py": "def handler(event, context)\n    return 1\n"})
	rep, err := st.grader.Grade(context.Background(), lab, sub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Error || !strings.Contains(rep.Message, "Runtime.UserCodeSyntaxError") {
		t.Errorf("syntax error: %s", describe(rep))
	}
}

// TestRemoveScratchAccounts: accounts a crashed grading left are removed.
func TestRemoveScratchAccounts(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	for range 2 {
		if _, _, err := st.grader.scratch(ctx); err != nil { // cleanup never called: a crash
			t.Fatal(err)
		}
	}
	n, err := st.grader.RemoveScratchAccounts(ctx)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2", n, err)
	}
	if left, _ := st.db.ScratchAccounts(ctx); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
}

func describe(rep *Report) string {
	b, _ := json.MarshalIndent(rep, "", "  ")
	return string(b)
}

// normalise drops what differs between runs: times, log text, and whether
// a passing check saw an invocation start (an S3 event's may start just
// before or after the check does).
func normalise(rep *Report) []byte {
	r := *rep
	r.Started, r.DurationMS = time.Time{}, 0
	r.Checks = append([]CheckResult(nil), rep.Checks...)
	for i := range r.Checks {
		r.Checks[i].DurationMS = 0
		switch {
		case r.Checks[i].Status == Pass:
			r.Checks[i].Log = ""
		case r.Checks[i].Log != "":
			r.Checks[i].Log = "(log)"
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// newLearner makes a user whose account has the lab's resources and
// functions from the solution's code, as a learner who followed the
// instructions has them.
func newLearner(t *testing.T, st *stack, lab *labs.Lab, email string) *Env {
	t.Helper()
	ctx := context.Background()
	user, err := st.db.CreateUser(ctx, email, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.db.AccountKeys(ctx, user.AccountID)
	if err != nil || len(keys) == 0 {
		t.Fatal(keys, err)
	}
	sol, err := VariantSubmission(lab, lab.Solution)
	if err != nil {
		t.Fatal(err)
	}
	learner := &Env{Account: user.AccountID, Region: "us-east-1", DB: st.db, Lambda: st.lambda, XRay: st.xray,
		S3: inproc.S3(st.endpoint, keys[0]), Lab: lab, Files: sol.Files, ReadyLayer: testReadyLayer}
	if err := learner.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return learner
}

// replay does steps in the learner's account, as the learner would by hand.
func replay(t *testing.T, learner *Env, steps []labs.Step) {
	t.Helper()
	ctx := context.Background()
	for _, step := range steps {
		if step.Kind == "checkpoint" {
			continue
		}
		args, err := learner.expandArgs(ctx, step.Args)
		if err != nil {
			t.Fatal(err)
		}
		if err := kinds[step.Kind].Run(ctx, learner, args); err != nil {
			t.Fatalf("%s: %v", step.Kind, err)
		}
	}
}

// TestGradeAccountInStages is the versions lab graded from a learner's
// account, which cannot hold a canary and its rollback at once: graded
// during the canary, the canary checks pass (the rollback ones cannot yet);
// graded after the rollback, the canary checks stay passed from the
// earlier attempt and the lab passes.
func TestGradeAccountInStages(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	lab := embeddedLab(t, "versions-aliases")
	learner := newLearner(t, st, lab, "stages@example.com")
	actions := lab.Solution.Actions
	cut := slices.IndexFunc(actions, func(s labs.Step) bool { return s.Kind == "checkpoint" })
	if cut < 0 {
		t.Fatal("the versions lab's solution has no checkpoint")
	}
	stage := actions[cut].Args.(string)
	replay(t, learner, actions[:cut])

	first, err := st.grader.Grade(ctx, lab, Submission{Account: learner.Account}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	passed := map[string]bool{}
	for i, c := range first.Checks {
		if lab.Checks[i].At == stage && c.Status != Pass {
			t.Errorf("during the canary, check %s: %s %s", c.ID, c.Status, c.Message)
		}
		if c.Status == Pass {
			passed[c.ID] = true
		}
	}
	if first.Status != Fail {
		t.Errorf("during the canary the lab is not done yet: %s", first.Summary())
	}

	replay(t, learner, actions[cut+1:])
	second, err := st.grader.Grade(ctx, lab, Submission{Account: learner.Account}, Options{PassedBefore: passed})
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != Pass {
		t.Errorf("after the rollback, with the canary shown before: %s", describe(second))
	}
	without, err := st.grader.Grade(ctx, lab, Submission{Account: learner.Account}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if without.Status != Fail {
		t.Errorf("after the rollback, never having shown the canary, the lab must not pass: %s", without.Summary())
	}

	// Credit carries over only for checks marked once: an account with
	// nothing done fails, whatever passed before.
	empty := newLearner(t, st, lab, "nothing@example.com")
	everything := map[string]bool{}
	for _, c := range lab.Checks {
		everything[c.ID] = true
	}
	rep, err := st.grader.Grade(ctx, lab, Submission{Account: empty.Account}, Options{PassedBefore: everything})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Fail {
		t.Errorf("an account with nothing done passed on earlier credit: %s", rep.Summary())
	}
	for i, c := range rep.Checks {
		if lab.Checks[i].Once && c.Status != Pass {
			t.Errorf("once check %s passed before but is %s now", c.ID, c.Status)
		}
	}
}
