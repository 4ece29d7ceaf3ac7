package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/chromedp/chromedp"

	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/grader"
	"lambdalab/grader/queue"
	"lambdalab/labs"
	"lambdalab/store"
)

// TestCheckMyWork grades the S3 lab from the browser's side: the starter
// set up in the learner's account fails, with each check streamed as it
// finishes and a second submission waiting its turn in the queue; the
// code that cannot run is reported as not counting; the solution
// deployed over it passes and marks the lab passed; the submissions list
// holds all four; past the grading budget the form is
// refused with when to try again; and another learner reaches none of it.
func TestCheckMyWork(t *testing.T) {
	ls := newLabSite(t, func(c *Config) { c.Limits = ActionLimits{Gradings: 4} })
	ctx := context.Background()
	lab := ls.lab("s3-transform")
	a, ua := ls.student("ann@example.com")
	if err := ls.grading.SetUp(ctx, ua, lab); err != nil {
		t.Fatalf("set up %s: %v", lab.ID, err)
	}
	const panel = "/labs/s3-transform?tab=check"

	r := a.get(panel)
	wantStatus(t, "check panel", r, http.StatusOK)
	wantContains(t, "check panel", r.body, `data-testid="check-form"`, `data-testid="check-submit"`, "Check my work")
	for _, c := range lab.Checks {
		wantContains(t, "check panel", r.body, `data-check-id="`+c.ID+`"`, htmlText(c.Title))
	}
	wantContains(t, "check panel", r.body, "None yet.")

	// Two submissions of the starter: the second waits while the first
	// runs, since a learner's jobs run one at a time.
	first, _ := checkSubmit(t, a, url.Values{})
	second, secondURL := checkSubmit(t, a, url.Values{})
	r = a.get(secondURL)
	wantStatus(t, "queued job's panel", r, http.StatusOK)
	wantContains(t, "queued job's panel", r.body, `data-testid="check-job"`, `data-state="queued"`, "Queued, position",
		`data-testid="check-refresh"`, `data-check-stream="/labs/s3-transform/check/`+strconv.FormatInt(second, 10)+`"`)

	// Followed from the queue: where it waits, its start, each check, the
	// end. The first job is over by then: its stream is only its end.
	evs := sseEvents(t, a, streamPath(second), 3*time.Minute, func(name, _ string) bool { return name == "finished" })
	checkStream(t, "the second starter job", lab, evs, true)
	if evs := sseEvents(t, a, streamPath(first), time.Minute, func(name, _ string) bool { return name == "finished" }); len(evs) != 1 {
		t.Errorf("the stream of a finished job: %q, want only its end", evs)
	}

	// The finished event names the panel with the report.
	var fin struct{ State, URL string }
	if err := json.Unmarshal([]byte(evs[len(evs)-1][1]), &fin); err != nil || fin.State != "done" || fin.URL != secondURL {
		t.Fatalf("finished event %s: %+v, %v; want state done and url %s", evs[len(evs)-1][1], fin, err, secondURL)
	}
	job, err := ls.db.GradingJob(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	r = a.get(fin.URL)
	wantStatus(t, "starter's report", r, http.StatusOK)
	checkReportPage(t, ls, "starter's report", r.body, lab, job.SubmissionID, store.GradeFail)
	// The first check of the lab fails for the starter, which writes
	// nothing, and its first hint is unlocked.
	if !regexp.MustCompile(`data-check-id="copies-object" data-status="fail"`).MatchString(r.body) {
		t.Errorf("starter's report: copies-object is not failed")
	}
	wantContains(t, "starter's report", r.body, `data-testid="check-hint"`, `data-testid="check-log"`)
	wantNotContains(t, "starter's report", r.body, `data-testid="check-not-counted"`, `data-testid="lab-state" data-state="passed"`)
	wantContains(t, "starter's report", r.body, `data-testid="check-standing" data-passed="false"`)

	// Code that cannot even be imported is not graded, and says so: it
	// does not count as an attempt.
	broken := checkZipFiles(t, map[string]string{"app.py": "def handler(event, context)\n    return 1\n"})
	if _, err := ls.lambda.UpdateFunctionCode(ctx, ua.AccountID, lab.Functions[0].Name, lambda.UpdateCodeInput{ZipFile: broken}); err != nil {
		t.Fatal(err)
	}
	errJob, errURL := checkSubmit(t, a, url.Values{})
	sseEvents(t, a, streamPath(errJob), 3*time.Minute, func(name, _ string) bool { return name == "finished" })
	job, err = ls.db.GradingJob(ctx, errJob)
	if err != nil {
		t.Fatal(err)
	}
	r = a.get(errURL)
	wantStatus(t, "report of code that cannot run", r, http.StatusOK)
	checkReportPage(t, ls, "report of code that cannot run", r.body, lab, job.SubmissionID, store.GradeError)
	wantContains(t, "report of code that cannot run", r.body, `data-testid="check-not-counted"`, "does not count as an attempt",
		`data-testid="check-error-message"`, "Runtime.UserCodeSyntaxError")
	if prog, _ := ls.db.LabProgress(ctx, ua.ID); prog[lab.ID].Attempts != 2 {
		t.Errorf("attempts after code that cannot run: %d, want still 2", prog[lab.ID].Attempts)
	}

	// The solution deployed as a learner would: its code, the permission
	// for S3, and the trigger.
	checkDeploySolution(t, ls, ua, lab)
	third, thirdURL := checkSubmit(t, a, url.Values{})
	evs = sseEvents(t, a, streamPath(third), 3*time.Minute, func(name, _ string) bool { return name == "finished" })
	checkStream(t, "the solution's job", lab, evs, false)
	job, err = ls.db.GradingJob(ctx, third)
	if err != nil {
		t.Fatal(err)
	}
	r = a.get(thirdURL)
	wantStatus(t, "solution's report", r, http.StatusOK)
	checkReportPage(t, ls, "solution's report", r.body, lab, job.SubmissionID, store.GradePass)
	wantContains(t, "solution's report", r.body, `data-testid="check-standing" data-passed="true"`, "You passed this lab")
	// The lab's state on the lab page and the course map reads it.
	wantContains(t, "lab page after passing", r.body, `data-testid="lab-state" data-state="passed"`)
	wantContains(t, "course map after passing", a.get("/").body, `data-testid="lab-link" data-lab="s3-transform" data-state="passed"`)
	prog, err := ls.db.LabProgress(ctx, ua.ID)
	if err != nil || !prog[lab.ID].Passed() || prog[lab.ID].Attempts != 3 || prog[lab.ID].FailedAttempts != 2 {
		t.Errorf("progress after passing: %+v, %v; want passed after 3 attempts, 2 failed", prog[lab.ID], err)
	}

	// The submissions list: all four, newest first, each linking to its
	// report.
	subs := regexp.MustCompile(`data-testid="check-submission" data-submission="(\d+)" data-status="(\w*)"`).FindAllStringSubmatch(r.body, -1)
	var statuses []string
	for _, m := range subs {
		statuses = append(statuses, m[2])
		if !regexp.MustCompile(`href="/labs/s3-transform\?[^"]*submission=` + m[1] + `"`).MatchString(r.body) {
			t.Errorf("submissions list: no link to submission %s", m[1])
		}
	}
	if strings.Join(statuses, ",") != "pass,error,fail,fail" {
		t.Errorf("submissions list statuses %v, want pass, error, fail, fail", statuses)
	}
	firstJob, _ := ls.db.GradingJob(ctx, first)
	r = a.get("/labs/s3-transform?tab=check&submission=" + strconv.FormatInt(firstJob.SubmissionID, 10))
	wantStatus(t, "a past submission", r, http.StatusOK)
	checkReportPage(t, ls, "a past submission", r.body, lab, firstJob.SubmissionID, store.GradeFail)

	// The fifth grading within the minute is refused, with when to try
	// again, and nothing is queued.
	before, _ := ls.db.Submissions(ctx, ua.ID, lab.ID, 0)
	r = a.post("/labs/s3-transform/check", url.Values{"tab": {"check"}})
	wantStatus(t, "grading past the limit", r, http.StatusTooManyRequests)
	wantContains(t, "grading past the limit", r.body, "gradings allowed in a minute (4)", "Try again in")
	if r.Header.Get("Retry-After") == "" {
		t.Error("grading past the limit: no Retry-After")
	}
	if after, _ := ls.db.Submissions(ctx, ua.ID, lab.ID, 0); len(after) != len(before) {
		t.Errorf("a refused grading stored a submission: %d before, %d after", len(before), len(after))
	}

	// Ids that are not the learner's own.
	b, ub := ls.student("bob@example.com")
	for _, p := range []string{"/labs/s3-transform/check/abc", "/labs/s3-transform/check/0", "/labs/s3-transform/check/999999",
		"/labs/s3-transform?tab=check&job=999999", "/labs/s3-transform?tab=check&submission=nope"} {
		if r := a.get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("bad id %s: status %d, want 404", p, r.StatusCode)
		}
	}
	// A's job is not A's under another lab either.
	wantStatus(t, "A's job under another lab", a.get("/labs/versions/check/"+strconv.FormatInt(first, 10)), http.StatusNotFound)
	for _, p := range []string{streamPath(first), streamPath(third), thirdURL,
		"/labs/s3-transform?tab=check&submission=" + strconv.FormatInt(job.SubmissionID, 10)} {
		r := b.get(p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("B on %s: status %d, want 404", p, r.StatusCode)
		}
		wantNotContains(t, "B on "+p, r.body, "data-testid=\"check-report\"", "data-testid=\"check-row\"")
	}
	r = b.get(panel)
	wantStatus(t, "B's panel", r, http.StatusOK)
	wantContains(t, "B's panel", r.body, "None yet.")
	wantNotContains(t, "B's panel", r.body, `data-testid="check-submission"`, `data-testid="check-standing"`)
	wantNotContains(t, "B's course map", b.get("/").body, `data-lab="s3-transform" data-state="passed"`)
	if prog, _ := ls.db.LabProgress(ctx, ub.ID); prog[lab.ID].Attempts != 0 {
		t.Errorf("B's progress: %+v", prog[lab.ID])
	}
}

// TestCheckQuestions: a lab's questions are asked with their units, the
// answers go to the grader, an answer that is too long is refused with
// the form refilled, and the next visit offers the last answers again.
func TestCheckQuestions(t *testing.T) {
	ls := newLabSite(t, nil)
	ctx := context.Background()
	lab := ls.lab("concurrency")
	if len(lab.Questions) == 0 {
		t.Fatal("the concurrency lab asks nothing; this test needs a lab with questions")
	}
	q := lab.Questions[0]
	a, ua := ls.student("ann@example.com")
	panel := "/labs/" + lab.ID + "?tab=check"
	r := a.get(panel)
	wantStatus(t, "panel with questions", r, http.StatusOK)
	wantContains(t, "panel with questions", r.body, `name="answer.`+q.ID+`"`, htmlText(q.Text), htmlText(q.Unit))

	long := strings.Repeat("9", maxAnswer+1)
	r = a.post("/labs/"+lab.ID+"/check", url.Values{"tab": {"check"}, "answer." + q.ID: {long}})
	wantStatus(t, "too long an answer", r, http.StatusUnprocessableEntity)
	wantContains(t, "too long an answer", r.body, `data-testid="check-error"`, "at most 500", `value="`+long+`"`)
	if subs, _ := ls.db.Submissions(ctx, ua.ID, lab.ID, 0); len(subs) != 0 {
		t.Fatalf("a refused answer was handed in: %d submissions", len(subs))
	}

	r = a.post("/labs/"+lab.ID+"/check", url.Values{"tab": {"check"}, "answer." + q.ID: {" about 16,7 "}})
	wantStatus(t, "answered", r, http.StatusSeeOther)
	id := jobIDFrom(t, lab.ID, r.Header.Get("Location"))
	subs, err := ls.db.Submissions(ctx, ua.ID, lab.ID, 0)
	if err != nil || len(subs) != 1 || subs[0].Answers[q.ID] != "about 16,7" {
		t.Fatalf("submission's answers: %+v, %v", subs, err)
	}
	r = a.get(panel)
	wantContains(t, "panel after answering", r.body, `value="about 16,7"`)

	// A hidden check is named only in its report.
	var hidden *labs.Check
	for i := range lab.Checks {
		if lab.Checks[i].Hidden {
			hidden = &lab.Checks[i]
		}
	}
	if hidden == nil {
		t.Fatal("the concurrency lab has no hidden check; this test needs one")
	}
	list := between(r.body, `data-testid="check-list"`, "</details>")
	wantContains(t, "checks before grading", list, `data-check-id="`+hidden.ID+`"`, "hidden check")
	wantNotContains(t, "checks before grading", list, htmlText(hidden.Title))
	sseEvents(t, a, "/labs/"+lab.ID+"/check/"+strconv.FormatInt(id, 10), 3*time.Minute, func(name, _ string) bool { return name == "finished" })
	job, err := ls.db.GradingJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r = a.get("/labs/" + lab.ID + "?tab=check&job=" + strconv.FormatInt(id, 10))
	wantStatus(t, "graded questions", r, http.StatusOK)
	checkReportPage(t, ls, "graded questions", r.body, lab, job.SubmissionID, store.GradeFail)
	wantContains(t, "graded questions", between(r.body, `data-testid="check-report"`, "</section>"), htmlText(hidden.Title))
}

// between is the part of s from the first start to the next end after it.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

// TestCheckWhileSandboxStarts: before the sandbox runs there is no lab
// runner: the panel says so and offers to try again, and the form is
// refused with the reason instead of failing.
func TestCheckWhileSandboxStarts(t *testing.T) {
	ls := newLabSite(t, func(c *Config) { c.Cloud.Labs = func() LabRunner { return nil } })
	a, ua := ls.student("ann@example.com")
	r := a.get("/labs/s3-transform?tab=check")
	wantStatus(t, "panel while starting", r, http.StatusOK)
	wantContains(t, "panel while starting", r.body, `data-testid="check-starting"`, "still starting", `data-testid="check-retry"`)
	wantNotContains(t, "panel while starting", r.body, `data-testid="check-submit"`)
	r = a.post("/labs/s3-transform/check", url.Values{"tab": {"check"}})
	wantStatus(t, "check while starting", r, http.StatusServiceUnavailable)
	wantContains(t, "check while starting", r.body, `data-testid="check-error"`, "still starting")
	if subs, _ := ls.db.Submissions(context.Background(), ua.ID, "s3-transform", 0); len(subs) != 0 {
		t.Errorf("a submission was stored while the sandbox was starting: %d", len(subs))
	}
	wantStatus(t, "stream of no job while starting", a.get("/labs/s3-transform/check/1"), http.StatusNotFound)
}

// fullQueue is the real lab runner with a queue that is always full.
type fullQueue struct{ LabRunner }

func (fullQueue) Submit(context.Context, store.User, string, map[string]string) (store.GradingJob, int, error) {
	return store.GradingJob{}, 0, &queue.FullError{Waiting: 100}
}

// TestCheckQueueFull: a full queue refuses the work with the machine busy,
// says it does not count, and keeps the answers typed.
func TestCheckQueueFull(t *testing.T) {
	ls := newLabSite(t, func(c *Config) {
		inner := c.Cloud.Labs
		c.Cloud.Labs = func() LabRunner { return fullQueue{inner()} }
	})
	a, _ := ls.student("ann@example.com")
	lab := ls.lab("concurrency")
	q := lab.Questions[0]
	r := a.post("/labs/"+lab.ID+"/check", url.Values{"tab": {"check"}, "answer." + q.ID: {"17 per second"}})
	wantStatus(t, "check with the queue full", r, http.StatusServiceUnavailable)
	wantContains(t, "check with the queue full", r.body, `data-testid="check-error"`, "The machine is busy",
		"100 submissions waiting", "does not count as an attempt", `value="17 per second"`)
}

// checkSubmit presses "Check my work" in the S3 lab and returns the
// queued job's id and the panel following it.
func checkSubmit(t *testing.T, c *client, form url.Values) (int64, string) {
	t.Helper()
	form.Set("tab", "check")
	r := c.post("/labs/s3-transform/check", form)
	wantStatus(t, "check my work", r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	return jobIDFrom(t, "s3-transform", loc), loc
}

// jobIDFrom is the job of a lab's check panel at loc.
func jobIDFrom(t *testing.T, lab, loc string) int64 {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	id, err := strconv.ParseInt(u.Query().Get("job"), 10, 64)
	if err != nil || u.Path != "/labs/"+lab || u.Query().Get("tab") != "check" {
		t.Fatalf("sent to %q, want the check panel of %s following a job", loc, lab)
	}
	return id
}

func streamPath(id int64) string {
	return "/labs/s3-transform/check/" + strconv.FormatInt(id, 10)
}

// checkStream checks a job's event stream: where it stood first (queued
// when wantQueued), started, every check of the lab once with its row,
// then finished.
func checkStream(t *testing.T, what string, lab *labs.Lab, evs [][2]string, wantQueued bool) {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	for _, ev := range evs {
		names = append(names, ev[0])
		var d struct {
			ID, Status, HTML string
			Position         int
		}
		if err := json.Unmarshal([]byte(ev[1]), &d); err != nil {
			t.Fatalf("%s: %s event's data %q: %v", what, ev[0], ev[1], err)
		}
		switch ev[0] {
		case "queued":
			if d.Position < 1 {
				t.Errorf("%s: queued at position %d", what, d.Position)
			}
		case "check":
			if seen[d.ID] {
				t.Errorf("%s: check %s streamed twice", what, d.ID)
			}
			seen[d.ID] = true
			if !strings.Contains(d.HTML, `data-check-id="`+d.ID+`" data-status="`+d.Status+`"`) {
				t.Errorf("%s: check %s's row does not show its status %s: %s", what, d.ID, d.Status, d.HTML)
			}
		}
	}
	for _, c := range lab.Checks {
		if !seen[c.ID] {
			t.Errorf("%s: check %s never streamed", what, c.ID)
		}
	}
	got := strings.Join(names, " ")
	want := regexp.MustCompile(`^(queued )*started (check )+finished$`)
	if wantQueued {
		want = regexp.MustCompile(`^(queued )+started (check )+finished$`)
	}
	if !want.MatchString(got) {
		t.Errorf("%s: events %q, want %s", what, got, want)
	}
}

// checkReportPage checks a report as the panel shows it against the
// stored one: its verdict, and every check in order with its status.
func checkReportPage(t *testing.T, ls *labSite, what, body string, lab *labs.Lab, sub int64, want store.GradeStatus) {
	t.Helper()
	stored, err := ls.db.Report(context.Background(), sub)
	if err != nil {
		t.Fatalf("%s: stored report of %d: %v", what, sub, err)
	}
	if stored.Status != want {
		t.Fatalf("%s: stored report is %s, want %s: %s", what, stored.Status, want, stored.Report)
	}
	var rep grader.Report
	if err := json.Unmarshal(stored.Report, &rep); err != nil {
		t.Fatal(err)
	}
	wantContains(t, what, body, `data-testid="check-report" data-status="`+string(want)+`" data-submission="`+strconv.FormatInt(sub, 10)+`"`,
		percent(stored.Score))
	section := between(body, `data-testid="check-report"`, "</section>")
	rows := regexp.MustCompile(`data-check-id="([^"]+)" data-status="(\w+)"`).FindAllStringSubmatch(section, -1)
	if len(rows) != len(lab.Checks) || len(rep.Checks) != len(lab.Checks) {
		t.Fatalf("%s: %d rows and %d checks in the report for the lab's %d checks", what, len(rows), len(rep.Checks), len(lab.Checks))
	}
	for k, c := range lab.Checks {
		if rows[k][1] != c.ID || rows[k][2] != string(rep.Checks[k].Status) {
			t.Errorf("%s: row %d is %s %s, want %s %s", what, k, rows[k][1], rows[k][2], c.ID, rep.Checks[k].Status)
		}
	}
}

// checkDeploySolution puts the lab's solution into the learner's account
// as they would: its code over the starter, S3's permission to invoke it,
// and the trigger on the source bucket.
func checkDeploySolution(t *testing.T, ls *labSite, u store.User, lab *labs.Lab) {
	t.Helper()
	ctx := context.Background()
	fn := lab.Functions[0].Name
	code, err := fs.Sub(lab.FS, lab.Solution.Dir)
	if err != nil {
		t.Fatal(err)
	}
	zipped := checkZip(t, code)
	cfg, err := ls.lambda.UpdateFunctionCode(ctx, u.AccountID, fn, lambda.UpdateCodeInput{ZipFile: zipped})
	if err != nil {
		t.Fatalf("deploy the solution: %v", err)
	}
	if _, err := ls.lambda.AddPermission(ctx, u.AccountID, fn, "", lambda.AddPermissionInput{StatementID: "s3-raw-logs",
		Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::raw-logs", SourceAccount: u.AccountID}); err != nil {
		t.Fatalf("add permission: %v", err)
	}
	keys, err := ls.db.AccountKeys(ctx, u.AccountID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of %s: %v", u.AccountID, err)
	}
	s3c := inproc.S3(ls.endpoint, keys[len(keys)-1])
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{Bucket: aws.String("raw-logs"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{
			{LambdaFunctionArn: aws.String(cfg.FunctionArn), Events: []s3types.Event{"s3:ObjectCreated:*"}},
		}}}); err != nil {
		t.Fatalf("put the trigger: %v", err)
	}
}

// checkZip zips a code folder's files (the variant's actions and answers
// are not code, but harmless in a package).
func checkZip(t *testing.T, fsys fs.FS) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	return buf.Bytes()
}

// checkZipFiles zips files given by name.
func checkZipFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return checkZip(t, fsys)
}

// htmlText is text as templ escapes it in a page.
func htmlText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

// TestCheckInBrowser presses "Check my work" in Chromium: the panel swaps
// to the job (htmx), check.js fills in each check as it finishes, one row
// per check even when a broken stream is reconnected and the job's
// progress comes again, then swaps in the report and closes its stream.
func TestCheckInBrowser(t *testing.T) {
	chromium := checkBrowser(t)
	ls := newLabSite(t, nil)
	lab := ls.lab("s3-transform")
	_, u := ls.student("ann@example.com")
	if err := ls.grading.SetUp(context.Background(), u, lab); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%.3000s", step, err, page)
		}
	}
	base := ls.ts.URL
	do("sign in", chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="email"]`), "ann@example.com"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="password"]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid="auth-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-in-as"]`)))
	do("open the check tab", chromedp.Navigate(base+"/labs/s3-transform?tab=check"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="check-submit"]`)))
	// Watch the page: every EventSource made, the most rows one check ever
	// had while the job ran, and how many results arrived live. The first
	// stream breaks after its first check, as a dropped connection would.
	do("watch", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__sources = [];
		const Native = window.EventSource;
		window.EventSource = function (url) {
			const es = new Native(url);
			window.__sources.push(es);
			if (window.__sources.length === 1) {
				es.addEventListener("check", function cut() {
					es.removeEventListener("check", cut);
					setTimeout(() => { es.close(); if (es.onerror) es.onerror(new Event("error")); }, 0);
				});
			}
			return es;
		};
		window.EventSource.prototype = Native.prototype;
		window.__maxSame = 0; window.__live = 0;
		new MutationObserver(() => {
			const job = document.querySelector("[data-check-stream]");
			if (!job) return;
			const n = {};
			job.querySelectorAll("[data-check-id]").forEach((r) => {
				n[r.dataset.checkId] = (n[r.dataset.checkId] || 0) + 1;
				window.__maxSame = Math.max(window.__maxSame, n[r.dataset.checkId]);
			});
			window.__live = Math.max(window.__live, job.querySelectorAll("[data-check-id]:not([data-status=waiting])").length);
		}).observe(document.body, { childList: true, subtree: true });
	})()`))
	do("check my work", chromedp.Click(chromedp.CSS(`[data-testid="check-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="check-job"]`)))
	do("wait for the report", chromedp.WaitVisible(chromedp.CSS(`#panel [data-testid="check-report"]`)))

	// LAMBDALAB_SCREENSHOTS=DIR keeps a picture of the report for a human look.
	if dir := os.Getenv("LAMBDALAB_SCREENSHOTS"); dir != "" {
		if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#panel"))); err == nil {
			os.WriteFile(filepath.Join(dir, "check-report.png"), png, 0o644)
		}
	}
	rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#panel [data-testid="check-report"] [data-testid="check-row"]').length`))
	if rows != len(lab.Checks) {
		t.Errorf("the report shows %d checks, want the lab's %d", rows, len(lab.Checks))
	}
	maxSame, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__maxSame`))
	live, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__live`))
	if maxSame > 1 || live == 0 {
		t.Errorf("while grading: at most %d rows for one check (want 1), %d results shown live (want some)", maxSame, live)
	}
	// The report swapped in (not a page load: the watch is still there),
	// and every stream is closed.
	open, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sources ? window.__sources.filter((s) => s.readyState !== 2).length : -1`))
	n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sources ? window.__sources.length : -1`))
	if err != nil || open != 0 || n != 2 {
		t.Errorf("after the report: %d of %d event streams still open (%v); want 2, the broken one and one reconnect", open, n, err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.search`))
	if !strings.Contains(loc, "job=") {
		t.Errorf("the address after checking is %q, want the job's panel", loc)
	}
}

// checkBrowser is the Chromium to drive, or skips (fails with
// LAMBDALAB_REQUIRE_BROWSER=1) when there is none.
func checkBrowser(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("LAMBDALAB_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium not found and LAMBDALAB_REQUIRE_BROWSER=1")
	}
	t.Skip("chromium not found: skipping the browser test")
	return ""
}
