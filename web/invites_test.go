package web

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"lambdalab/content"
	"lambdalab/store"
)

const (
	teacherPW = "teacher horse battery"
	studentPW = "student horse battery"
)

// countHashes makes the site count the bcrypt hashes sign-ups cost.
func countHashes(site *testSite) *atomic.Int64 {
	var n atomic.Int64
	site.srv.hashPassword = func(pw string) (string, error) {
		n.Add(1)
		return store.HashPassword(pw)
	}
	return &n
}

var inviteLinkRe = regexp.MustCompile(`value="(https?://[^"]+/signup\?invite=([A-Z2-7]+))"`)

// createInvite posts the instructor's invite form and returns the link and
// the code the page shows once.
func createInvite(t *testing.T, teacher *client, form url.Values) (link, code string) {
	t.Helper()
	r := teacher.post("/instructor/invites", form)
	wantStatus(t, "create invite", r, http.StatusOK)
	m := inviteLinkRe.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no invite link on the page:\n%.3000s", r.body)
	}
	return m[1], m[2]
}

func userCount(t *testing.T, db *store.DB) int {
	t.Helper()
	users, err := db.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(users)
}

func TestSignupClosed(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.Signup = SignupClosed })
	hashes := countHashes(site)
	// The first user of a fresh install always may, and is the instructor.
	teacher := site.client()
	wantStatus(t, "first sign-up form", teacher.get("/signup"), http.StatusOK)
	teacher.signup("teacher@example.com", teacherPW)
	wantStatus(t, "instructor page", teacher.get("/instructor"), http.StatusOK)

	c := site.client()
	r := c.get("/signup")
	wantStatus(t, "closed form", r, http.StatusForbidden)
	wantContains(t, "closed form", r.body, "Sign-up is closed", "Ask your instructor")
	before := hashes.Load()
	r = c.post("/signup", url.Values{"email": {"new@example.com"}, "password": {studentPW}})
	wantStatus(t, "closed sign-up", r, http.StatusForbidden)
	if n := userCount(t, site.db); n != 1 {
		t.Errorf("%d users after a closed sign-up, want 1", n)
	}
	if hashes.Load() != before {
		t.Error("a refused sign-up hashed its password")
	}
}

func TestSignupInvite(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.Signup = SignupInvite })
	hashes := countHashes(site)
	teacher := site.client()
	// No invite field for the first user, who needs none.
	wantNotContains(t, "first form", teacher.get("/signup").body, `name="invite"`)
	teacher.signup("teacher@example.com", teacherPW)

	link, code := createInvite(t, teacher, url.Values{"note": {"section A"}, "uses": {"1"}, "days": {"7"}})
	if len(code) < 26 { // 26 base32 characters: 130 bits
		t.Errorf("code %q is shorter than 128 bits", code)
	}
	if !strings.HasPrefix(link, site.ts.URL+"/signup?invite=") {
		t.Errorf("link %q does not lead to this site's sign-up", link)
	}
	page := teacher.get("/instructor")
	wantContains(t, "instructor page", page.body, `data-testid="invite-row"`, "section A", "0 of 1", "open until")
	wantNotContains(t, "instructor page later", page.body, code)

	s := site.client()
	form := s.get("/signup?invite=" + code)
	wantContains(t, "invite link form", form.body, `name="invite"`, `value="`+code+`"`)

	before := hashes.Load()
	generic := "That invite code cannot be used."
	for name, inv := range map[string]string{"no code": "", "unknown code": "AAAAAAAAAAAAAAAAAAAAAAAAAA", "too long": strings.Repeat("A", 500)} {
		r := s.post("/signup", url.Values{"email": {"s@example.com"}, "password": {studentPW}, "invite": {inv}})
		wantStatus(t, name, r, http.StatusBadRequest)
		if inv != "" {
			wantContains(t, name, r.body, generic)
		}
		// The form keeps what was typed.
		wantContains(t, name, r.body, `name="invite"`, `value="s@example.com"`)
	}
	// A taken e-mail without a valid invite learns nothing about the e-mail.
	r := s.post("/signup", url.Values{"email": {"teacher@example.com"}, "password": {studentPW}, "invite": {"AAAAAAAAAAAAAAAAAAAAAAAAAA"}})
	wantStatus(t, "taken e-mail, bad code", r, http.StatusBadRequest)
	wantContains(t, "taken e-mail, bad code", r.body, generic)
	if hashes.Load() != before {
		t.Errorf("refused sign-ups cost %d hashes, want 0", hashes.Load()-before)
	}

	r = s.post("/signup", url.Values{"email": {"s@example.com"}, "password": {studentPW}, "invite": {strings.ToLower(code)}})
	wantStatus(t, "sign-up with the invite", r, http.StatusSeeOther)
	// Used up: the same answer as a code that never existed.
	r = site.client().post("/signup", url.Values{"email": {"t@example.com"}, "password": {studentPW}, "invite": {code}})
	wantStatus(t, "used-up invite", r, http.StatusBadRequest)
	wantContains(t, "used-up invite", r.body, generic)

	page = teacher.get("/instructor")
	wantContains(t, "after use", page.body, "1 of 1", "used up", "s@example.com")

	// Revoking an unlimited invite stops it.
	_, open := createInvite(t, teacher, url.Values{})
	list, _ := site.db.Invites(context.Background())
	wantStatus(t, "revoke", teacher.post("/instructor/invites/"+itoa(int(list[0].ID))+"/revoke", nil), http.StatusSeeOther)
	r = site.client().post("/signup", url.Values{"email": {"u@example.com"}, "password": {studentPW}, "invite": {open}})
	wantStatus(t, "revoked invite", r, http.StatusBadRequest)
	wantContains(t, "revoked invite", r.body, generic)

	student := s
	wantStatus(t, "student creates invite", student.post("/instructor/invites", url.Values{}), http.StatusForbidden)
	wantStatus(t, "bad uses", teacher.post("/instructor/invites", url.Values{"uses": {"0"}}), http.StatusBadRequest)
	wantStatus(t, "bad days", teacher.post("/instructor/invites", url.Values{"days": {"x"}}), http.StatusBadRequest)
	wantStatus(t, "revoke unknown", teacher.post("/instructor/invites/999/revoke", nil), http.StatusNotFound)
}

func TestSignupDomain(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.SignupDomain = "@Example.EDU" })
	site.client().signup("teacher@elsewhere.org", teacherPW) // the first user is not held to it
	for _, email := range []string{"s@other.org", "s@sub.example.edu", "s@example.edu.evil.org"} {
		r := site.client().post("/signup", url.Values{"email": {email}, "password": {studentPW}})
		wantStatus(t, email, r, http.StatusBadRequest)
		wantContains(t, email, r.body, "address at example.edu only")
	}
	site.client().signup("S@EXAMPLE.edu", studentPW)
	if n := userCount(t, site.db); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}

func TestSignupFlagsChecked(t *testing.T) {
	for _, m := range []string{"", "open", "Invite", "closed"} {
		if _, err := ParseSignupMode(m); err != nil {
			t.Errorf("ParseSignupMode(%q) = %v", m, err)
		}
	}
	if _, err := ParseSignupMode("invites"); err == nil {
		t.Error("ParseSignupMode(invites) accepted")
	}
	for _, d := range []string{"example", "a..b", "exa mple.edu", "x@y.edu", ".edu"} {
		if _, err := CheckSignupDomain(d); err == nil {
			t.Errorf("CheckSignupDomain(%q) accepted", d)
		}
	}
	_, err := New(Config{DB: newTestDB(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Course: fixtureCourse(t), Signup: "maybe"})
	if err == nil {
		t.Error("web.New accepted sign-up mode maybe")
	}
}

func TestRemoveStudent(t *testing.T) {
	site := newTestSite(t, nil)
	ctx := context.Background()
	teacher := site.client()
	teacher.signup("teacher@example.com", teacherPW)
	other := site.client()
	other.signup("other@example.com", teacherPW)
	student := site.client()
	student.signup("ann@example.com", studentPW)
	student.post("/lessons/first/complete", nil)
	student.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}})
	ann, _ := site.db.UserByEmail(ctx, "ann@example.com")
	oth, _ := site.db.UserByEmail(ctx, "other@example.com")
	me, _ := site.db.UserByEmail(ctx, "teacher@example.com")
	if err := site.db.CreateS3Bucket(ctx, ann.AccountID, "photos", 0); err != nil {
		t.Fatal(err)
	}
	empty, _ := site.db.AccountDigest(ctx, "999999999999")
	if d, _ := site.db.AccountDigest(ctx, ann.AccountID); d == empty {
		t.Fatal("the student's account is empty before removal")
	}
	// Another instructor, made so by the store, is not removed here.
	if _, err := site.db.CreateUser(ctx, "ta@example.com", "h", true); err != nil {
		t.Fatal(err)
	}
	ta, _ := site.db.UserByEmail(ctx, "ta@example.com")

	page := teacher.get("/instructor")
	wantContains(t, "instructor page", page.body, `data-testid="students"`, `data-testid="instructors"`,
		removeURL(ann.ID), removeURL(oth.ID))
	wantNotContains(t, "instructor page", page.body, removeURL(me.ID), removeURL(ta.ID))

	for _, id := range []int64{me.ID, ta.ID} {
		wantStatus(t, "remove an instructor", teacher.post(removeURL(id), nil), http.StatusForbidden)
	}
	wantStatus(t, "remove nobody", teacher.post(removeURL(99999), nil), http.StatusNotFound)
	wantStatus(t, "student removes", other.post(removeURL(ann.ID), nil), http.StatusForbidden)

	confirm := teacher.get(removeURL(ann.ID))
	wantStatus(t, "confirm page", confirm, http.StatusOK)
	wantContains(t, "confirm page", confirm.body, "Remove ann@example.com?", `method="post" action="`+removeURL(ann.ID)+`"`)
	if _, err := site.db.UserByID(ctx, ann.ID); err != nil {
		t.Fatal("the confirmation page removed the student")
	}

	r := teacher.post(removeURL(ann.ID), nil)
	wantStatus(t, "remove", r, http.StatusSeeOther)
	if d, _ := site.db.AccountDigest(ctx, ann.AccountID); d != empty {
		t.Error("rows of the removed student's account remain")
	}
	if _, err := site.db.UserByID(ctx, ann.ID); err == nil {
		t.Error("the removed student's user remains")
	}
	// The student's browser is signed out: its session names nobody.
	r = student.get("/account")
	wantStatus(t, "removed student's session", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Errorf("removed student's /account goes to %q, want sign-in", loc)
	}
	page = teacher.get("/instructor")
	wantNotContains(t, "instructor page after", page.body, "ann@example.com")
	wantContains(t, "instructor page after", page.body, "other@example.com")
}

func removeURL(id int64) string { return "/instructor/students/" + itoa(int(id)) + "/remove" }

func TestQuizGradesAndBadSubmissions(t *testing.T) {
	site := newTestSite(t, nil)
	ctx := context.Background()
	teacher := site.client()
	teacher.signup("teacher@example.com", teacherPW)
	s := site.client()
	s.signup("s@example.com", studentPW)
	wantStatus(t, "right", s.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}, "q2": {"a", "c"}}), http.StatusSeeOther)
	wantStatus(t, "half", s.post("/lessons/first/quizzes/quiz-1", url.Values{"q1": {"b"}}), http.StatusSeeOther)

	for name, form := range map[string]url.Values{
		"empty":               {},
		"unknown ids only":    {"q9": {"a"}, "q1": {"zz"}},
		"two for single":      {"q1": {"a", "b"}},
		"more than choices":   {"q2": {"a", "b", "c", "a"}},
		"too many fields":     manyFields(40),
		"blank values":        {"q1": {""}},
		"unknown with a real": {"q9": {"a"}, "q2": {"zz", "yy"}},
	} {
		r := s.post("/lessons/first/quizzes/quiz-1", form)
		wantStatus(t, name, r, http.StatusBadRequest)
	}
	u, _ := site.db.UserByEmail(ctx, "s@example.com")
	p, _ := site.db.Progress(ctx, u.ID)
	if st := p.QuizStats["first/quiz-1"]; st.Attempts != 2 || p.Quizzes["first/quiz-1"].Score != 1 {
		t.Errorf("after refused submissions: %d attempts, last %d; want 2 attempts, last 1", st.Attempts, p.Quizzes["first/quiz-1"].Score)
	}

	page := teacher.get("/instructor")
	wantContains(t, "class table", page.body, "best 2/2 · last 1/2 · 2 tries")
	wantNotContains(t, "class table", page.body, "First lesson quiz: best")
	recs, err := csv.NewReader(strings.NewReader(teacher.get("/instructor/progress.csv").body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var row []string
	for _, rec := range recs[1:] {
		if rec[0] == "s@example.com" {
			row = rec
		}
	}
	if row == nil {
		t.Fatalf("no student row in %v", recs)
	}
	got := []string{row[col["quiz:first/quiz-1"]], row[col["quiz:first/quiz-1:best"]], row[col["quiz:first/quiz-1:attempts"]]}
	if strings.Join(got, " ") != "1/2 2/2 2" {
		t.Errorf("csv last, best, attempts = %v, want 1/2 2/2 2", got)
	}
}

func manyFields(n int) url.Values {
	v := url.Values{"q1": {"b"}}
	for i := range n {
		v.Set("x"+itoa(i), "1")
	}
	return v
}

// revealCourse has one quiz held back until a correct attempt and one
// until two attempts.
func revealCourse(t *testing.T) *content.Course {
	t.Helper()
	quiz := func(id, reveal string) string {
		return "```quiz\nid: " + id + "\nreveal: " + reveal + "\nquestions:\n" +
			"- q: Pick B\n  choices:\n    - text: OPTION-A\n    - text: OPTION-B\n      correct: true\n  explain: EXPLAIN-" + id + "\n```\n"
	}
	c, err := content.Load(fstest.MapFS{
		"course.yaml":  {Data: []byte("title: Reveal\nmodules:\n  - slug: m\n    title: M\n    summary: S.\n")},
		"m/01-only.md": {Data: []byte("---\ntitle: Only\nsummary: S.\n---\n\nText.\n\n" + quiz("correct", "after-correct") + "\nMore.\n\n" + quiz("twice", "after 2"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestQuizReveal(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.Course = revealCourse(t) })
	s := site.client()
	s.signup("s@example.com", studentPW)
	section := func(body, id string) string {
		i := strings.Index(body, `data-quiz="`+id+`"`)
		if i < 0 {
			t.Fatalf("no result for quiz %s", id)
		}
		j := strings.Index(body[i:], "</section>")
		return body[i : i+j]
	}
	wrong := url.Values{"q1": {"a"}}
	s.post("/lessons/only/quizzes/correct", wrong)
	s.post("/lessons/only/quizzes/twice", wrong)
	page := s.get("/lessons/only").body
	for _, id := range []string{"correct", "twice"} {
		sec := section(page, id)
		wantContains(t, id+" held back", sec, "0 of 1 correct", `data-correct="false"`, "your answer", `data-testid="reveal-note"`)
		wantNotContains(t, id+" held back", sec, "EXPLAIN-"+id, "correct answer", "is-correct", "your answer, incorrect")
	}
	wantContains(t, "after 2 note", section(page, "twice"), "after one more attempt")

	s.post("/lessons/only/quizzes/correct", wrong)
	s.post("/lessons/only/quizzes/twice", wrong)
	page = s.get("/lessons/only").body
	wantNotContains(t, "after-correct, two wrong", section(page, "correct"), "EXPLAIN-correct", "is-correct")
	wantContains(t, "after 2, two wrong", section(page, "twice"), "EXPLAIN-twice", "correct answer", "is-correct")

	s.post("/lessons/only/quizzes/correct", url.Values{"q1": {"b"}})
	// A wrong attempt after a right one still shows the answers.
	s.post("/lessons/only/quizzes/correct", wrong)
	page = s.get("/lessons/only").body
	wantContains(t, "after-correct, once right", section(page, "correct"), "EXPLAIN-correct", "correct answer")
}
