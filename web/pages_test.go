package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"lambdalab/static"
	"lambdalab/store"
)

func TestAnonymousReadsLessonsButNotQuizzes(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	home := c.get("/")
	wantStatus(t, "home", home, 200)
	wantContains(t, "home", home.body, `href="/lessons/first"`, `href="/lessons/second"`, "Fixture course", `data-testid="resume-link"`)

	r := c.get("/lessons/first")
	wantStatus(t, "lesson", r, 200)
	wantContains(t, "anonymous lesson", r.body,
		"The end of the first lesson.",  // text after the quiz: parts assembled in order
		`href="/lessons/second"`,        // relative link rewritten by content
		`src="/content/basics/dot.png"`, // image rewritten by content
		`data-testid="quiz-signin"`, "/login?next=",
	)
	wantNotContains(t, "anonymous lesson", r.body, `data-testid="quiz-form"`, `data-testid="mark-complete"`, "EXPLAIN-")

	r = c.post("/lessons/first/complete", nil)
	wantStatus(t, "anonymous mark complete", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous POST redirected to %q, want the sign-in page", loc)
	}
}

func TestQuizAnswersAbsentBeforeSubmit(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("s@example.com", "password one")
	before := c.get("/lessons/first")
	wantStatus(t, "lesson", before, 200)
	wantContains(t, "quiz form", before.body, `data-testid="quiz-form"`, `type="radio"`, `type="checkbox"`,
		`name="q1" value="b"`, "Bravo choice", "<legend>")
	wantNotContains(t, "quiz form", before.body, "EXPLAIN-SINGLE-SECRET", "EXPLAIN-MULTIPLE-SECRET", "is-correct", "correct answer")

	// The strongest check: the same course with every answer flipped renders
	// the very same page, so nothing in it can reveal which choice is right.
	flipped := fixtureCourse(t)
	for _, q := range flipped.Lessons[0].Quizzes {
		for _, qu := range q.Questions {
			qu.Explanation = "something else entirely"
			for _, ch := range qu.Choices {
				ch.Correct = !ch.Correct
			}
		}
	}
	site.srv.SetCourse(flipped, nil)
	after := c.get("/lessons/first")
	if before.body != after.body {
		t.Fatalf("lesson page differs when only answers and explanations differ:\n%s", firstDiff(before.body, after.body))
	}
}

func firstDiff(a, b string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			lo := max(0, i-80)
			return "…" + a[lo:min(len(a), i+80)] + "…\nvs\n…" + b[lo:min(len(b), i+80)] + "…"
		}
	}
	return "lengths differ"
}

func TestQuizGradedAndSaved(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("s@example.com", "password one")
	// q1 right (b); q2 half right (a only), plus junk the grader must drop.
	r := c.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}, "q2": {"a", "zz"}, "q9": {"a"}})
	wantStatus(t, "submit quiz", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/lessons/first#quiz-quiz-1" {
		t.Errorf("after submit Location = %q", loc)
	}
	u, _ := site.db.UserByEmail(context.Background(), "s@example.com")
	p, err := site.db.Progress(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := p.Quizzes["first/quiz-1"]
	if !ok || got.Score != 1 || got.Total != 2 {
		t.Fatalf("saved quiz result = %+v (found %v), want score 1 of 2", got, ok)
	}
	if got.Answers != `{"q1":["b"],"q2":["a"]}` {
		t.Errorf("saved answers = %s, want only known question and choice ids", got.Answers)
	}

	page := c.get("/lessons/first")
	wantContains(t, "graded lesson", page.body, `data-testid="quiz-result"`, "1 of 2 correct",
		"EXPLAIN-SINGLE-SECRET", "EXPLAIN-MULTIPLE-SECRET", `data-correct="true"`, `data-correct="false"`,
		"your answer, correct", "correct answer")
	wantNotContains(t, "graded lesson", page.body, `data-testid="quiz-form"`)

	retry := c.get("/lessons/first?retry=quiz-1")
	wantContains(t, "retry", retry.body, `data-testid="quiz-form"`)
	wantNotContains(t, "retry", retry.body, "EXPLAIN-SINGLE-SECRET")

	r = c.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}, "q2": {"a", "c"}})
	wantStatus(t, "second attempt", r, http.StatusSeeOther)
	wantContains(t, "second attempt", c.get("/lessons/first").body, "2 of 2 correct")

	wantStatus(t, "unknown quiz", c.post("/lessons/first/quizzes/nope", url.Values{"q1": {"a"}}), 404)
}

func TestMarkCompleteShowsProgress(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("s@example.com", "password one")
	home := c.get("/")
	wantContains(t, "fresh home", home.body, "0 of 2 lessons done", "Start the course: First lesson")

	r := c.post("/lessons/first/complete", nil)
	wantStatus(t, "mark complete", r, http.StatusSeeOther)
	page := c.get("/lessons/first")
	wantContains(t, "completed lesson", page.body, `data-testid="lesson-done"`, `data-testid="mark-incomplete"`)
	if !regexp.MustCompile(`data-slug="first" data-done="true"`).MatchString(page.body) {
		t.Error("navigation does not mark the completed lesson done")
	}
	if !strings.Contains(page.body, `data-slug="second" data-done="false"`) {
		t.Error("navigation marks an unfinished lesson")
	}
	home = c.get("/")
	wantContains(t, "home with progress", home.body, "1 of 2 lessons done", "1 of 2 done", "Continue with: Second lesson")

	wantStatus(t, "mark complete again", c.post("/lessons/first/complete", nil), http.StatusSeeOther)
	wantStatus(t, "unmark", c.post("/lessons/first/incomplete", nil), http.StatusSeeOther)
	wantContains(t, "home after unmark", c.get("/").body, "0 of 2 lessons done")
	wantStatus(t, "unknown lesson", c.post("/lessons/nope/complete", nil), 404)
}

func TestResumeFollowsLastVisit(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("s@example.com", "password one")
	c.get("/lessons/second")
	wantContains(t, "home", c.get("/").body, "Resume: Second lesson")
}

func TestInstructorPages(t *testing.T) {
	site := newTestSite(t, nil)
	teacher := site.client()
	teacher.signup("teacher@example.com", "password one")
	student := site.client()
	student.signup("=student@example.com", "password two")
	student.post("/lessons/first/complete", nil)
	student.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}, "q2": {"a", "c"}})

	for _, path := range []string{"/instructor", "/instructor/progress.csv"} {
		r := student.get(path)
		wantStatus(t, "student "+path, r, http.StatusForbidden)
		wantContains(t, "student "+path, r.body, `data-testid="error-page"`, "for instructors")
		r = site.client().get(path)
		wantStatus(t, "anonymous "+path, r, http.StatusSeeOther)
	}

	page := teacher.get("/instructor")
	wantStatus(t, "instructor page", page, 200)
	wantContains(t, "instructor page", page.body, `data-testid="class-table"`, "=student@example.com", "First lesson quiz", "2/2")

	r := teacher.get("/instructor/progress.csv")
	wantStatus(t, "csv", r, 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv Content-Type = %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("parse csv: %v\n%s", err, r.body)
	}
	wantHeader := []string{"email", "role", "account_id", "lesson:first", "quiz:first/quiz-1", "quiz:first/quiz-1:best", "quiz:first/quiz-1:attempts", "lesson:second"}
	if strings.Join(recs[0], ",") != strings.Join(wantHeader, ",") {
		t.Errorf("csv header = %v, want %v", recs[0], wantHeader)
	}
	if len(recs) != 3 {
		t.Fatalf("csv has %d rows, want header + 2 users:\n%s", len(recs), r.body)
	}
	var st []string
	for _, rec := range recs[1:] {
		if strings.Contains(rec[0], "student") {
			st = rec
		}
	}
	if st == nil || st[0] != "'=student@example.com" || st[1] != "student" || len(st[2]) != 12 {
		t.Fatalf("student row = %v: want the email defused against formulas, role, 12-digit account", st)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(st[3]) || strings.Join(st[4:7], " ") != "2/2 2/2 1" || st[7] != "" {
		t.Errorf("student cells = %v, want completion time, last 2/2, best 2/2, 1 attempt, empty", st[3:])
	}
}

func TestErrorPages(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	r := c.get("/no/such/page")
	wantStatus(t, "unknown path", r, 404)
	wantContains(t, "404 page", r.body, "Page not found", `data-testid="error-page"`, "skip-link")
	wantStatus(t, "unknown lesson", c.get("/lessons/nope"), 404)

	c.signup("s@example.com", "password one")
	wantStatus(t, "healthz", c.get("/healthz"), 200)
	site.db.Close() // the database going away is a platform failure
	r = c.get("/lessons/first")
	wantStatus(t, "lesson with the database closed", r, 500)
	m := regexp.MustCompile(`Something went wrong \(ref <span class="ref" data-testid="error-ref">([0-9a-f]{6})</span>\)`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("500 page has no reference:\n%s", r.body)
	}
	logs := site.log.String()
	if !regexp.MustCompile(`level=ERROR msg="request failed" ref=` + m[1] + `.*err=`).MatchString(logs) {
		t.Errorf("log has no error line for ref %s:\n%s", m[1], logs)
	}
	wantNotContains(t, "500 page", r.body, "sql", "closed")
	r = c.get("/healthz")
	wantStatus(t, "healthz with the database closed", r, http.StatusServiceUnavailable)
}

func TestRequestLogLines(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	c.signup("s@example.com", "secret password")
	c.get("/lessons/first?token=abc")
	logs := site.log.String()
	if !regexp.MustCompile(`msg=request method=GET path=/lessons/first status=200 duration_ms=[0-9.]+ bytes=[1-9][0-9]*`).MatchString(logs) {
		t.Errorf("no request line for the lesson:\n%s", logs)
	}
	if !strings.Contains(logs, "method=POST path=/signup status=303") {
		t.Errorf("no request line for the sign-up:\n%s", logs)
	}
	u, _ := url.Parse(site.ts.URL)
	token := c.http.Jar.Cookies(u)[0].Value
	wantNotContains(t, "log", logs, "secret password", token, "token=abc", "s@example.com")
}

func TestAssetsAndHeaders(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	page := c.get("/")
	css := static.URL("app.css")
	wantContains(t, "home", page.body, `href="`+css+`"`, `href="/highlight.css?v=`)
	if h := page.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'self'") {
		t.Errorf("CSP = %q", h)
	}
	r := c.get(css)
	wantStatus(t, "stylesheet", r, 200)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("hashed stylesheet Cache-Control = %q", cc)
	}
	wantContains(t, "stylesheet", r.body, "prefers-color-scheme: dark", ":focus-visible")
	wantStatus(t, "unhashed stylesheet name", c.get("/static/app.css"), 404)

	img := c.get("/content/basics/dot.png")
	wantStatus(t, "course image", img, 200)
	if ct := img.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("image Content-Type = %q", ct)
	}
	for _, p := range []string{"/content/basics/01-first.md", "/content/course.yaml", "/content/basics/", "/content/basics/missing.png", "/content/..%2f..%2fserver.go"} {
		if r := c.get(p); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404 (images only)", p, r.StatusCode)
		}
	}
}

// A read that started before a write must not cache what it read.
func TestProgressCacheRejectsStaleRead(t *testing.T) {
	c := newProgressCache(time.Minute, 10)
	_, v, ok := c.get(7)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.invalidate(7) // a write lands while the read is in flight
	c.put(7, v, store.Progress{LastLesson: "old"})
	if _, _, ok := c.get(7); ok {
		t.Fatal("stale read was cached")
	}
	_, v, _ = c.get(7)
	c.put(7, v, store.Progress{LastLesson: "new"})
	if p, _, ok := c.get(7); !ok || p.LastLesson != "new" {
		t.Fatalf("fresh read not cached: %+v %v", p, ok)
	}
}

func TestPanicBecomesServerErrorPage(t *testing.T) {
	site := newTestSite(t, nil)
	h := site.srv.logRequests(site.srv.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `data-testid="error-ref"`) {
		t.Fatalf("panic: %d\n%s", w.Code, w.Body)
	}
	logs := site.log.String()
	if !strings.Contains(logs, `err="panic: handler bug"`) || !strings.Contains(logs, "path=/boom status=500") {
		t.Errorf("panic not logged with its cause and status:\n%s", logs)
	}
}

// TestCourseMapListsLabs: the home page lists each lab under the lesson it
// practises, and the lesson page offers it, with its minutes and the
// learner's state: not started, in progress once opened, passed once a
// report passed. A reader sees the labs without a state.
func TestCourseMapListsLabs(t *testing.T) {
	course, all := embeddedCourse(t)
	ts := newTestSite(t, func(c *Config) { c.Course, c.Labs = course, all })
	ctx := context.Background()
	lab := all[0]
	for _, l := range all {
		if l.ID == "s3-transform" {
			lab = l
		}
	}
	lesson, ok := course.Lesson(lessonSlug(lab.Lesson))
	if !ok {
		t.Fatalf("lab %s practises %s, which the course lacks", lab.ID, lab.Lesson)
	}
	// labItem is the lab's entry in a page, from its <li> to its end.
	labItem := func(what, body string) string {
		t.Helper()
		i := strings.Index(body, `data-testid="lab-link" data-lab="`+lab.ID+`"`)
		if i < 0 {
			t.Fatalf("%s does not list lab %s", what, lab.ID)
		}
		j := strings.Index(body[i:], "</li>")
		return body[i : i+j]
	}
	wantState := func(what, item, state string) {
		t.Helper()
		if !strings.Contains(item, `data-state="`+state+`"`) {
			t.Errorf("%s: lab %s entry %q, want state %s", what, lab.ID, item, state)
		}
	}

	reader := ts.client()
	home := reader.get("/")
	wantStatus(t, "home for a reader", home, http.StatusOK)
	item := labItem("home for a reader", home.body)
	wantContains(t, "home for a reader", item, html.EscapeString(lab.Title), fmt.Sprintf("%d min", lab.Minutes), `href="/labs/`+lab.ID+`"`)
	wantNotContains(t, "home for a reader", item, `data-testid="lab-state"`)
	// Under its lesson: after the lesson's link and before the next one's.
	li := strings.Index(home.body, `href="/lessons/`+lesson.Slug+`"`)
	at := strings.Index(home.body, `data-lab="`+lab.ID+`"`)
	if li < 0 || at < li || (lesson.Next != nil && strings.Index(home.body, `href="/lessons/`+lesson.Next.Slug+`"`) < at) {
		t.Errorf("home lists lab %s at %d, not under lesson %s (at %d)", lab.ID, at, lesson.Slug, li)
	}
	page := reader.get("/lessons/" + lesson.Slug)
	wantContains(t, "lesson page for a reader", labItem("lesson page", page.body), fmt.Sprintf("%d min", lab.Minutes))
	for _, other := range all {
		if lessonSlug(other.Lesson) != lesson.Slug {
			wantNotContains(t, "lesson page", page.body, `data-lab="`+other.ID+`"`)
		}
	}

	a := ts.client()
	a.signup("ann@example.com", "correct horse battery")
	u, err := ts.db.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/", "/lessons/" + lesson.Slug} {
		r := a.get(page)
		wantStatus(t, page, r, http.StatusOK)
		wantState(page+" before opening", labItem(page, r.body), "not-started")
	}
	// Opening the lab (here a site without the AWS side: the page says
	// labs are unavailable, and nothing is recorded) changes nothing...
	a.get("/labs/" + lab.ID)
	wantState("home after a refused open", labItem("home", a.get("/").body), "not-started")
	// ...opening it for real does.
	if err := ts.db.RecordLabVisit(ctx, u.ID, lab.ID); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/", "/lessons/" + lesson.Slug} {
		item := labItem(page, a.get(page).body)
		wantState(page+" after opening", item, "in-progress")
		wantContains(t, page, item, "In progress")
	}
	sub, err := ts.db.CreateSubmission(ctx, store.Submission{UserID: u.ID, Lab: lab.ID, Source: store.SourceAccount, State: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.db.SaveReport(ctx, sub.ID, store.GradeReport{Status: store.GradePass, Score: 1, Report: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/", "/lessons/" + lesson.Slug} {
		item := labItem(page, a.get(page).body)
		wantState(page+" after passing", item, "passed")
		wantContains(t, page, item, "Passed")
	}
	// Another learner's state is their own.
	b := ts.client()
	b.signup("bob@example.com", "correct horse battery")
	wantState("another learner's home", labItem("home", b.get("/").body), "not-started")
}

func TestHomeIntroAndLessonDetails(t *testing.T) {
	site := newTestSite(t, nil)
	home := site.client().get("/")
	wantStatus(t, "home", home, http.StatusOK)
	wantContains(t, "home intro", home.body, `data-testid="home-intro"`, "AWS CLI", "boto3", "Automatic checks", "Your own AWS account, emulated")
	// The introduction comes before the course map.
	if intro, mod := strings.Index(home.body, `data-testid="home-intro"`), strings.Index(home.body, `data-testid="module"`); intro < 0 || mod < intro {
		t.Errorf("intro at %d, first module at %d: want the intro above the map", intro, mod)
	}
	// Each lesson's entry carries its summary and reading time, after its link.
	for _, l := range fixtureCourse(t).Lessons {
		if l.ReadingMinutes < 1 {
			t.Fatalf("lesson %s: ReadingMinutes %d, want at least 1", l.Slug, l.ReadingMinutes)
		}
		i := strings.Index(home.body, `href="/lessons/`+l.Slug+`"`)
		if i < 0 {
			t.Fatalf("home has no link to %s", l.Slug)
		}
		entry := home.body[i:]
		entry = entry[:strings.Index(entry, "</li>")]
		wantContains(t, "home entry of "+l.Slug, entry,
			fmt.Sprintf(`data-testid="reading-time">%d min read<`, l.ReadingMinutes),
			`data-testid="lesson-summary">`+html.EscapeString(l.Summary)+`<`)
	}
}
