package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"lambdalab/content"
)

// calcCourse is a one-lesson course with both calculators.
func calcCourse(t *testing.T) *content.Course {
	t.Helper()
	c, err := content.Load(fstest.MapFS{
		"course.yaml": {Data: []byte("title: Calc course\nmodules:\n  - slug: money\n    title: Money\n")},
		"money/01-costs.md": {Data: []byte("---\ntitle: Costs\nsummary: What a month costs.\n---\n\n" +
			"Before the calculators.\n\n```calculator billing\n```\n\nBetween them.\n\n```calculator rps\n```\n\nAfter them.\n")},
	})
	if err != nil {
		t.Fatalf("load calculator course: %v", err)
	}
	return c
}

// cell is the text of the element carrying data-testid=id, or "" when the
// page has none.
func cell(body, id string) string {
	m := regexp.MustCompile(`data-testid="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// fieldError is the message beside the input named field of calculator calc.
func fieldError(body, calc, field string) string {
	m := regexp.MustCompile(`id="calc-` + calc + `-` + field + `-error"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return "(no slot)"
	}
	return strings.TrimSpace(m[1])
}

func TestCalculatorsOnLessonPage(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.Course = calcCourse(t) })
	c := site.client()

	// No query: both calculators with their defaults, computed already.
	r := c.get("/lessons/costs")
	wantStatus(t, "lesson", r, http.StatusOK)
	wantContains(t, "lesson", r.body,
		`<form method="get" action="/lessons/costs#calc-billing"`,
		`hx-get="/calculators/billing"`, `hx-target="#calc-billing-result"`, `hx-trigger="change, submit"`, `hx-push-url="false"`,
		`action="/lessons/costs#calc-rps"`, `hx-get="/calculators/rps"`,
		`<label for="calc-billing-memory">`, `id="calc-billing-memory"`, `name="memory" value="512"`,
		`name="duration" value="120"`, `name="requests" value="3000000"`,
		`type="submit"`, "htmx.min.", "calculator.",
	)
	// The parts stay in order around the calculators.
	if a, b, m, z := strings.Index(r.body, "Before the calculators."), strings.Index(r.body, `id="calc-billing"`),
		strings.Index(r.body, "Between them."), strings.Index(r.body, `id="calc-rps"`); !(a < b && b < m && m < z) {
		t.Errorf("parts out of order: text %d, billing %d, text %d, rps %d", a, b, m, z)
	}
	// 512 MB, 120 ms, 3 M, x86_64 (calculator's worked example).
	for id, want := range map[string]string{
		"calc-billed-today": "120 ms", "calc-billed-old": "200 ms",
		"calc-compute-today": "$3.00", "calc-requests-today": "$0.60",
		"calc-total-today": "$3.60", "calc-total-old": "$5.60",
		"calc-rps-per-instance": "3.3 requests a second", "calc-rps-sustained": "1,666.7 requests a second",
	} {
		if got := cell(r.body, id); got != want {
			t.Errorf("default %s = %q, want %q", id, got, want)
		}
	}
	wantContains(t, "default bill", r.body, "180,000 GB-s", "300,000 GB-s", "<strong>$2.00</strong> more a month", "$0.0000166667")

	// The billing form submitted without JavaScript: the query drives it,
	// and the other calculator keeps its defaults.
	q := url.Values{"calc": {"billing"}, "memory": {"1024"}, "duration": {"120"}, "requests": {"30,000,000"}, "arch": {"arm64"}, "free": {"on"}}
	r = c.get("/lessons/costs?" + q.Encode())
	wantStatus(t, "lesson with a query", r, http.StatusOK)
	// reference §15.2 example 2 on arm64: $42.67 + $5.80.
	for id, want := range map[string]string{
		"calc-compute-today": "$42.67", "calc-requests-today": "$5.80", "calc-total-today": "$48.47",
		"calc-rps-sustained": "1,666.7 requests a second",
	} {
		if got := cell(r.body, id); got != want {
			t.Errorf("arm64 free tier %s = %q, want %q", id, got, want)
		}
	}
	wantContains(t, "refilled form", r.body, `value="1024"`, `<option value="arm64" selected`, `name="free" value="on" checked`, "$0.0000133334")

	// A wrong input: the page still answers 200, the message sits beside
	// its field, which is marked invalid, and no bill is shown.
	q = url.Values{"calc": {"billing"}, "memory": {"64"}, "duration": {"abc"}, "requests": {"5"}, "arch": {"x86_64"}}
	r = c.get("/lessons/costs?" + q.Encode())
	wantStatus(t, "lesson with bad input", r, http.StatusOK)
	if got := fieldError(r.body, "billing", "memory"); got != "Memory is between 128 and 10,240 MB." {
		t.Errorf("memory message %q", got)
	}
	if got := fieldError(r.body, "billing", "duration"); !strings.Contains(got, "milliseconds") {
		t.Errorf("duration message %q, want it to ask for milliseconds", got)
	}
	if got := fieldError(r.body, "billing", "requests"); got != "" {
		t.Errorf("requests message %q, want none", got)
	}
	wantContains(t, "bad input", r.body, `data-testid="calc-billing-invalid"`, `aria-invalid="true"`, `value="abc"`)
	wantNotContains(t, "bad input", r.body, `data-testid="calc-total-today"`)

	// The rate calculator with a target.
	q = url.Values{"calc": {"rps"}, "duration": {"120"}, "instances": {"10"}, "target": {"10000"}}
	r = c.get("/lessons/costs?" + q.Encode())
	if got := cell(r.body, "calc-rps-needed"); got != "1,200 instances" {
		t.Errorf("10,000 rps at 120 ms needs %q, want 1,200 instances", got)
	}
	wantContains(t, "over the default", r.body, `data-testid="calc-rps-over-default"`, "1,000")
}

func TestCalculatorFragments(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.Course = calcCourse(t) })
	c := site.client()

	q := url.Values{"memory": {"512"}, "duration": {"130"}, "requests": {"1000000"}, "arch": {"x86_64"}}
	r := c.get("/calculators/billing?" + q.Encode())
	wantStatus(t, "billing fragment", r, http.StatusOK)
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, "<form") {
		t.Errorf("fragment is a whole page or holds the form:\n%.500s", r.body)
	}
	if got, want := cell(r.body, "calc-billed-today"), "130 ms"; got != want {
		t.Errorf("130 ms billed %q, want %q", got, want)
	}
	if got, want := cell(r.body, "calc-billed-old"), "200 ms"; got != want {
		t.Errorf("130 ms under 100 ms rounding billed %q, want %q", got, want)
	}
	// Every field's slot comes out of band, empty, to clear old messages.
	for _, f := range []string{"memory", "duration", "requests", "arch"} {
		wantContains(t, "billing fragment", r.body, `id="calc-billing-`+f+`-error" class="field-error" data-testid="calc-field-error" hx-swap-oob="true"></span>`)
	}

	r = c.get("/calculators/billing?memory=512&duration=900001&requests=-3&arch=sparc")
	wantStatus(t, "bad billing fragment", r, http.StatusBadRequest)
	for _, f := range []string{"duration", "requests", "arch"} {
		if fieldError(r.body, "billing", f) == "" {
			t.Errorf("bad %s: no message in the fragment", f)
		}
	}
	wantContains(t, "bad billing fragment", r.body, "15 minutes", "x86_64 or arm64", `data-testid="calc-billing-invalid"`)

	r = c.get("/calculators/rps?duration=300&instances=500&target=")
	wantStatus(t, "rps fragment", r, http.StatusOK)
	if got := cell(r.body, "calc-rps-sustained"); got != "1,666.7 requests a second" {
		t.Errorf("300 ms × 500 sustains %q", got)
	}
	wantNotContains(t, "rps fragment without a target", r.body, `data-testid="calc-rps-needed"`)
	r = c.get("/calculators/rps?duration=300&instances=0&target=1000")
	wantStatus(t, "bad rps fragment", r, http.StatusBadRequest)
	if got := fieldError(r.body, "rps", "instances"); got != "Instances are between 1 and 1,000,000." {
		t.Errorf("instances message %q", got)
	}

	r = c.get("/calculators/lottery?memory=512")
	wantStatus(t, "unknown calculator", r, http.StatusNotFound)
}

func TestLessonWithoutCalculatorLoadsNoScripts(t *testing.T) {
	site := newTestSite(t, nil)
	r := site.client().get("/lessons/first")
	wantStatus(t, "lesson", r, http.StatusOK)
	wantNotContains(t, "lesson without a calculator", r.body, "htmx.min.", "calculator.", `class="calculator"`)
}

// TestEmbeddedCourseCalculators renders every calculator the real course
// places, with its defaults computed, so a lesson cannot name a calculator
// the site draws blank.
func TestEmbeddedCourseCalculators(t *testing.T) {
	course, all := embeddedCourse(t)
	site := newTestSite(t, func(c *Config) { c.Course, c.Labs = course, all })
	c := site.client()
	found := 0
	for _, l := range course.Lessons {
		for _, p := range l.Parts {
			if p.Calculator == "" {
				continue
			}
			found++
			r := c.get("/lessons/" + l.Slug)
			wantStatus(t, l.Slug, r, http.StatusOK)
			wantContains(t, l.Slug, r.body, `data-testid="calculator-`+p.Calculator+`"`, `data-testid="calc-`+p.Calculator+`-result"`, "htmx.min.")
			wantNotContains(t, l.Slug, r.body, `data-testid="calc-`+p.Calculator+`-invalid"`)
		}
	}
	if found == 0 {
		t.Fatal("the embedded course places no calculator; the billing and scaling lessons should")
	}
}

// TestEveryEmbeddedLessonRenders opens each lesson of the real course, as a
// reader and as a signed-in learner (who gets the quiz forms): every page
// answers 200 with its title, and no fact placeholder or calculator block
// is left raw.
func TestEveryEmbeddedLessonRenders(t *testing.T) {
	course, all := embeddedCourse(t)
	site := newTestSite(t, func(c *Config) { c.Course, c.Labs = course, all })
	reader := site.client()
	learner := site.client()
	learner.signup("learner@example.com", "a long enough password")
	for _, l := range course.Lessons {
		for who, c := range map[string]*client{"reader": reader, "learner": learner} {
			r := c.get("/lessons/" + l.Slug)
			wantStatus(t, who+" "+l.Slug, r, http.StatusOK)
			wantContains(t, who+" "+l.Slug, r.body, html.EscapeString(l.Title))
			wantNotContains(t, who+" "+l.Slug, r.body, "{{fact", "language-calculator")
			if who == "learner" && len(l.Quizzes) > 0 {
				wantContains(t, who+" "+l.Slug, r.body, `data-testid="quiz-form"`)
			}
		}
	}
}
