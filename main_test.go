package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lambdalab/content"
)

// logSink collects the program's log output and lets a test wait for a line.
type logSink struct {
	mu   sync.Mutex
	buf  strings.Builder
	wake chan struct{}
}

func newLogSink() *logSink { return &logSink{wake: make(chan struct{}, 1)} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var urlLine = regexp.MustCompile(`msg="lambdalab serving" url=(http://\S+)`)

// awsURLLine is the start-up line that names the AWS endpoint's address.
var awsURLLine = regexp.MustCompile(`msg="aws endpoint serving" url=(http://\S+)`)

// server is one run of `lambdalab serve` inside the test process.
type server struct {
	URL string
	// AWSURL is the AWS-compatible endpoint (--aws-addr 127.0.0.1:0).
	AWSURL string
	Logs   *logSink
	stop   func() error
}

// startServe runs the real program through run() on a free loopback port
// (--addr 127.0.0.1:0; the bound address is read from the start-up log
// line) and waits until /healthz answers.
//
// The sandbox is off: these tests are about the site. sandbox_main_test.go
// starts it.
func startServe(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	return startServeEnv(t, map[string]string{"LAMBDALAB_SANDBOX": "off"}, dataDir, extra...)
}

func startServeEnv(t testing.TB, env map[string]string, dataDir string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogSink()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "127.0.0.1:0", "--data", dataDir}, extra...)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, logs)
	}()

	deadline := time.After(20 * time.Second)
	var base string
	for base == "" {
		if m := urlLine.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited before listening: %v\nlogs:\n%s", err, logs)
		case <-deadline:
			cancel()
			t.Fatalf("serve logged no URL within 20s:\n%s", logs)
		case <-logs.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "ok" {
				break
			}
		}
		select {
		case <-deadline:
			cancel()
			t.Fatalf("/healthz not ok within 20s (last error %v)", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var once sync.Once
	var stopErr error
	var awsURL string
	if m := awsURLLine.FindStringSubmatch(logs.String()); m != nil {
		awsURL = m[1]
	}
	s := &server{URL: base, AWSURL: awsURL, Logs: logs, stop: func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 15s")
			}
		})
		return stopErr
	}}
	t.Cleanup(func() { s.stop() })
	return s
}

func TestServeStartsAndStopsGracefully(t *testing.T) {
	s := startServe(t, t.TempDir())
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/lessons/`) {
		t.Fatalf("home: %d, no lesson links:\n%.500s", resp.StatusCode, body)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v after ctx ended, want nil", err)
	}
	if !strings.Contains(s.Logs.String(), "lambdalab stopped") {
		t.Errorf("no shutdown line in the log:\n%s", s.Logs)
	}
	if !regexp.MustCompile(`msg=request method=GET path=/ status=200 duration_ms=\S+ bytes=\d+`).MatchString(s.Logs.String()) {
		t.Errorf("no request log line:\n%s", s.Logs)
	}
}

func TestServeRejectsBadArguments(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"serve", "--bogus"}, "flag provided but not defined"},
		{"stray argument", []string{"serve", "--data", t.TempDir(), "extra"}, `unexpected argument "extra"`},
		{"missing content folder", []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--content", filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"unusable address", []string{"serve", "--addr", "256.0.0.1:80", "--data", t.TempDir()}, "listen on 256.0.0.1:80"},
		{"advertised address with a path", []string{"serve", "--data", t.TempDir(), "--advertise-url", "http://10.0.0.5:8080/site"}, `--advertise-url: "http://10.0.0.5:8080/site" is not an address`},
		{"advertised address not http", []string{"serve", "--data", t.TempDir(), "--advertise-aws-url", "10.0.0.5:4566"}, "--advertise-aws-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(ctx, tt.args, func(string) string { return "" }, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// httpUser is a cookie-keeping client that posts forms as our own pages do.
type httpUser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newHTTPUser(t *testing.T, base string) *httpUser {
	jar, _ := cookiejar.New(nil)
	return &httpUser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (u *httpUser) post(path string, form url.Values) string {
	u.t.Helper()
	resp, err := u.c.PostForm(u.base+path, form)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		u.t.Fatalf("POST %s: %d\n%.800s", path, resp.StatusCode, b)
	}
	return string(b)
}

// submit posts form to path as a page's form does and returns the response
// without following a redirect, its body read and closed: for a test that
// wants to see where a post sends the browser.
func (u *httpUser) submit(path string, form url.Values) *http.Response {
	u.t.Helper()
	c := &http.Client{Jar: u.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(u.base+path, form)
	if err != nil {
		u.t.Fatalf("POST %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		u.t.Fatalf("POST %s: %d\n%.800s", path, resp.StatusCode, body)
	}
	return resp
}

func (u *httpUser) get(path string) string {
	u.t.Helper()
	resp, err := u.c.Get(u.base + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		u.t.Fatalf("GET %s: %d\n%.800s", path, resp.StatusCode, b)
	}
	return string(b)
}

func TestProgressSurvivesRestart(t *testing.T) {
	data := t.TempDir()
	course, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	first := course.Lessons[0]

	s := startServe(t, data)
	u := newHTTPUser(t, s.URL)
	u.post("/signup", url.Values{"email": {"keep@example.com"}, "password": {"password one"}})
	u.post("/lessons/"+first.Slug+"/complete", nil)
	if len(first.Quizzes) > 0 {
		// An empty submission is refused (400); answer each question
		// with its first choice.
		answers := url.Values{}
		for _, q := range first.Quizzes[0].Questions {
			answers.Add(q.ID, q.Choices[0].ID)
		}
		u.post("/lessons/"+first.Slug+"/quizzes/"+first.Quizzes[0].ID, answers)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s = startServe(t, data)
	u = newHTTPUser(t, s.URL)
	u.post("/login", url.Values{"email": {"keep@example.com"}, "password": {"password one"}})
	page := u.get("/lessons/" + first.Slug)
	if !strings.Contains(page, `data-testid="lesson-done"`) {
		t.Error("lesson no longer complete after a restart")
	}
	if len(first.Quizzes) > 0 && !strings.Contains(page, `data-testid="quiz-result"`) {
		t.Error("quiz attempt lost after a restart")
	}
	home := u.get("/")
	if !strings.Contains(home, fmt.Sprintf("1 of %d lessons done", len(course.Lessons))) {
		t.Errorf("home after restart does not count the completed lesson")
	}
}

// TestAuthorModeReloads edits a copy of the course while the server runs:
// an open event stream gets a reload for each save, a broken file shows as
// an error page naming it, and a fix brings the lesson back.
func TestAuthorModeReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "course")
	if err := os.CopyFS(dir, content.Embedded()); err != nil {
		t.Fatal(err)
	}
	course, err := content.Load(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	lesson := course.Lessons[0]
	file := filepath.Join(dir, filepath.FromSlash(lesson.File))
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	s := startServe(t, t.TempDir(), "--content", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/_author/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			events <- sc.Text()
		}
		close(events)
	}()
	waitFor := func(want string) {
		t.Helper()
		for {
			select {
			case line, ok := <-events:
				if !ok {
					t.Fatalf("event stream ended before %q", want)
				}
				if line == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q within the deadline; logs:\n%s", want, s.Logs)
			}
		}
	}
	waitFor(": connected")
	get := func(path string) (int, string) {
		r, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}

	edited := strings.Replace(string(orig), "title: "+lesson.Title, "title: Freshly edited title", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("event: reload")
	if code, body := get("/lessons/" + lesson.Slug); code != 200 || !strings.Contains(body, "Freshly edited title") {
		t.Errorf("after an edit: %d, new title missing", code)
	}

	if err := os.WriteFile(file, []byte("---\ntitle: [unclosed\n---\n# <b>x</b>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("event: reload")
	code, body := get("/lessons/" + lesson.Slug)
	if code != 500 || !strings.Contains(body, `data-testid="load-error"`) || !strings.Contains(body, lesson.File+":") {
		t.Errorf("after a broken save: %d, want the load error page naming %s:\n%.1500s", code, lesson.File, body)
	}

	if err := os.WriteFile(file, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("event: reload")
	if code, _ := get("/lessons/" + lesson.Slug); code != 200 {
		t.Errorf("after the fix: %d, want 200", code)
	}
}

// requireBrowser skips without Chromium, or fails when
// LAMBDALAB_REQUIRE_BROWSER=1 says it must be there.
func requireBrowser(t *testing.T) string {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			return p
		}
		if os.Getenv("LAMBDALAB_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium not found at %s and LAMBDALAB_REQUIRE_BROWSER=1 (make deps installs it)", path)
		}
		t.Skipf("chromium not found at %s: skipping the browser test (make deps installs it)", path)
	}
	return path
}

// TestBrowserCourseFlow clicks through the site in headless Chromium: sign
// up, read a lesson, answer its quiz, mark it complete, sign out, sign in
// again and find the progress; a student is refused the instructor page.
func TestBrowserCourseFlow(t *testing.T) {
	requireBrowser(t)
	course, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	var lesson *content.Lesson
	for _, l := range course.Lessons {
		if len(l.Quizzes) > 0 {
			lesson = l
			break
		}
	}
	if lesson == nil {
		t.Fatal("the embedded course has no lesson with a quiz")
	}
	quiz := lesson.Quizzes[0]

	// Sign-up by invitation, as a class on the internet would run.
	s := startServe(t, t.TempDir(), "--signup", "invite")
	// The first account becomes the instructor, with no invite; the browser
	// is a student, who joins through the instructor's invite link.
	teacher := newHTTPUser(t, s.URL)
	teacher.post("/signup", url.Values{"email": {"teacher@example.com"}, "password": {"password one"}})
	created := teacher.post("/instructor/invites", url.Values{"note": {"browser flow"}, "uses": {"1"}, "days": {"7"}})
	m := regexp.MustCompile(`value="(https?://[^"]+/signup\?invite=([A-Z2-7]+))"`).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("the instructor page shows no invite link after creating one:\n%.2000s", created)
	}
	inviteLink, inviteCode := m[1], m[2]

	// The same headless Chromium as the lab test (browser_lab_test.go).
	ctx := newBrowser(t, s.URL).ctx

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%.3000s", step, err, page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read text of %s: %v", sel, err)
		}
		return v
	}
	// LAMBDALAB_SCREENSHOTS=DIR keeps a picture of each page for a human look.
	shot := func(name, sel string) {
		dir := os.Getenv("LAMBDALAB_SCREENSHOTS")
		if dir == "" {
			return
		}
		if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel))); err == nil {
			os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		}
	}
	const email, password = "student@example.com", "student password"
	lessonURL := s.URL + "/lessons/" + lesson.Slug

	// Keyboard users reach the skip link first.
	do("open the home page", chromedp.Navigate(s.URL+"/"), chromedp.KeyEvent("\t"))
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); focused != "skip-link" {
		t.Errorf("first Tab focuses %q, want the skip link", focused)
	}

	fillAuth := func(pw string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="auth-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid="email"]`), email),
			chromedp.SendKeys(chromedp.CSS(`[data-testid="password"]`), pw),
			chromedp.Click(chromedp.CSS(`[data-testid="auth-submit"]`)),
		}
	}
	signInWith := func(step, pw string) {
		t.Helper()
		do(step, append(fillAuth(pw), chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-in-as"]`)))...)
	}
	signIn := func(step string) { t.Helper(); signInWith(step, password) }

	// Without an invite the sign-up form asks for one.
	do("go to sign-up", chromedp.Click(chromedp.CSS(`[data-testid="signup-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invite"]`)))
	do("open the invite link", chromedp.Navigate(inviteLink), chromedp.WaitVisible(chromedp.CSS(`[data-testid="invite"]`)))
	filled, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-testid="invite"]`)))
	if err != nil || filled != inviteCode {
		t.Fatalf("the invite link fills the code field with %q (%v), want %q", filled, err, inviteCode)
	}
	shot("signup-invite", "body")
	signIn("sign up with the invite")
	if !strings.Contains(teacher.get("/instructor"), email) {
		t.Error("the instructor page does not name the student who used the invite")
	}

	do("read the lesson", chromedp.Navigate(lessonURL), chromedp.WaitVisible(chromedp.CSS(`[data-testid="quiz-form"]`)))
	before, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range quiz.Questions {
		if q.Explanation != "" && strings.Contains(before, q.Explanation) {
			t.Errorf("explanation of %s is in the page before submitting", q.ID)
		}
	}

	var answer []chromedp.Action[chromedp.Void]
	for _, q := range quiz.Questions {
		for _, c := range q.Choices {
			if c.Correct {
				answer = append(answer, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#quiz-%s-%s-%s`, quiz.ID, q.ID, c.ID))))
			}
		}
	}
	scoreSel := fmt.Sprintf(`section[data-quiz=%q] [data-testid="quiz-score"]`, quiz.ID)
	answer = append(answer,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`form[data-quiz=%q] [data-testid="quiz-submit"]`, quiz.ID))),
		chromedp.WaitVisible(chromedp.CSS(scoreSel)),
	)
	shot("lesson-quiz", fmt.Sprintf(`form[data-quiz=%q]`, quiz.ID))
	do("answer the quiz", answer...)
	shot("lesson-graded", fmt.Sprintf(`section[data-quiz=%q]`, quiz.ID))
	if got, want := text(scoreSel), fmt.Sprintf("%d of %d correct", len(quiz.Questions), len(quiz.Questions)); got != want {
		t.Errorf("quiz score %q, want %q", got, want)
	}

	do("mark complete",
		chromedp.Click(chromedp.CSS(`[data-testid="mark-complete"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lesson-done"]`)),
	)
	do("sign out",
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-link"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="login-link"]`)),
	)
	signIn("sign in again")
	do("home shows progress", chromedp.WaitVisible(chromedp.CSS(`[data-testid="course-progress"]`)))
	shot("home-progress", "body")
	if got, want := text(`[data-testid="course-progress"]`), fmt.Sprintf("1 of %d lessons done", len(course.Lessons)); got != want {
		t.Errorf("home progress after signing in again = %q, want %q", got, want)
	}
	do("lesson keeps its progress",
		chromedp.Navigate(lessonURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lesson-done"]`)),
		chromedp.WaitVisible(chromedp.CSS(scoreSel)),
	)
	nav, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(fmt.Sprintf(`[data-testid="nav-lesson"][data-slug=%q]`, lesson.Slug)), "data-done"))
	if err != nil || nav.Value != "true" {
		t.Errorf("navigation marks the completed lesson data-done=%q (%v), want true", nav.Value, err)
	}

	do("instructor page as a student",
		chromedp.Navigate(s.URL+"/instructor"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-page"]`)),
	)
	shot("forbidden", "body")
	if h := text("h1"); h != "Not allowed" {
		t.Errorf("student on /instructor sees %q, want the 403 page", h)
	}
	if !strings.Contains(s.Logs.String(), "path=/instructor status=403") {
		t.Errorf("the instructor page did not answer 403:\n%s", s.Logs)
	}

	// A new password, then signing in with it; the old one no longer works.
	const newPassword = "a newer student password"
	do("change the password",
		chromedp.Navigate(s.URL+"/account/password"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="password-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="current-password"]`), password),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="new-password"]`), newPassword),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="confirm-password"]`), newPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="password-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="password-changed"]`)),
	)
	shot("password-changed", "body")
	do("sign out after the change",
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-link"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="login-link"]`)),
	)
	do("sign in with the old password", append(fillAuth(password), chromedp.WaitVisible(chromedp.CSS(`[data-testid="form-error"]`)))...)
	do("back to an empty form", chromedp.Navigate(s.URL+"/login"))
	signInWith("sign in with the new password", newPassword)

	// The billing calculator answers in place (htmx): a new memory size
	// changes the result without loading another page. 3,000,000 requests
	// of 130 ms at 1,024 MB: 390,000 GB-s ($6.50) plus $0.60 of requests.
	do("open the billing lesson", chromedp.Navigate(s.URL+"/lessons/gb-seconds"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="calc-billing-form"]`)))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.samePage = true`)); err != nil {
		t.Fatal(err)
	}
	for field, v := range map[string]string{"duration": "130", "requests": "3000000", "memory": "1024"} {
		js := fmt.Sprintf(`(() => { const f = document.getElementById('calc-billing-%s'); f.value = %q;
			f.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, field, v)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("set %s: %v", field, err)
		}
	}
	var result string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(result, "$7.10") {
		time.Sleep(100 * time.Millisecond)
		result, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="calc-billing-result"]`)))
	}
	if !strings.Contains(result, "$7.10") {
		t.Errorf("the calculator shows %q after new inputs, want a total of $7.10", result)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.samePage === true`)); err != nil || !same {
		t.Errorf("the calculator loaded a new page (%v); htmx should answer in place", err)
	}
	shot("billing-calculator", `[data-testid="calculator-billing"]`)
}

// buildLambdalab builds the program as `go build` does (no race detector,
// whatever the test binary has) into a temp folder and returns its path.
func buildLambdalab(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "lambdalab")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// BenchmarkBinaryStartup builds the real binary, then for each iteration
// starts `lambdalab serve` on a fresh data folder and measures the time until
// the home page is served (startup_ms). After the last start it lets the
// server sit idle for a second and reports its resident memory (idle_rss_MB,
// VmRSS from /proc).
func BenchmarkBinaryStartup(b *testing.B) {
	bin := buildLambdalab(b)
	var total time.Duration
	var rssKB int
	for i := range b.N {
		start := time.Now()
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", b.TempDir())
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var base string
		for base == "" && sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				base = m[1]
			}
		}
		go io.Copy(io.Discard, stderr)
		if base == "" {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("the server logged no URL")
		}
		resp, err := http.Get(base + "/")
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("first page: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		total += time.Since(start)
		if i == b.N-1 {
			time.Sleep(time.Second)
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			if err == nil {
				if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(status); m != nil {
					fmt.Sscan(string(m[1]), &rssKB)
				}
			}
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "startup_ms")
	b.ReportMetric(float64(rssKB)/1024, "idle_rss_MB")
}
