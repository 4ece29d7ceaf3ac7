package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMethodNotAllowed(t *testing.T) {
	site := newTestSite(t, nil)
	c := site.client()
	for _, tt := range []struct {
		method, path, allow string
	}{
		{"DELETE", "/account/password", "GET, HEAD, POST"},
		{"PUT", "/login", "GET, HEAD, POST"},
		{"GET", "/logout", "POST"},
		{"POST", "/lessons/first", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tt.method, c.base+tt.path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		r := c.do(req)
		what := tt.method + " " + tt.path
		wantStatus(t, what, r, http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s: Allow = %q, want %q", what, got, tt.allow)
		}
		wantContains(t, what, r.body, "Not allowed here", `data-testid=`)
	}
	r := c.get("/no/such/page")
	wantStatus(t, "unknown path", r, http.StatusNotFound)
	wantContains(t, "unknown path", r.body, "Page not found")
	if r.Header.Get("Allow") != "" {
		t.Errorf("404 carries Allow %q", r.Header.Get("Allow"))
	}
	req, _ := http.NewRequest("POST", c.base+"/no/such/page", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	wantStatus(t, "POST to an unknown path", c.do(req), http.StatusNotFound)
	// A route still answers its own method.
	wantStatus(t, "GET /login", c.get("/login"), http.StatusOK)
}

func TestStaticMissIsTheSitesPage(t *testing.T) {
	site := newTestSite(t, nil)
	r := site.client().get("/static/no-such-file.abc123.css")
	wantStatus(t, "static miss", r, http.StatusNotFound)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("static miss Content-Type = %q, want the HTML page", ct)
	}
	wantContains(t, "static miss", r.body, "Page not found", "<html")
	if strings.Contains(r.body, "404 page not found") {
		t.Error("static miss shows the plain-text 404")
	}
}

func TestRequestLogCapsPath(t *testing.T) {
	site := newTestSite(t, nil)
	long := "/" + strings.Repeat("é", 3000) // 6000 bytes, cut must not split a character
	site.client().get(long)
	logs := site.log.String()
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "status=404") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no request line for the long path in:\n%.3000s", logs)
	}
	if len(line) > 2*maxLoggedPath+300 {
		t.Errorf("request log line is %d bytes; the path should be capped near %d", len(line), maxLoggedPath)
	}
	if !strings.Contains(line, "more bytes]") {
		t.Errorf("capped path has no marker: %.600s", line)
	}
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"/short", "/short"},
		{"/" + strings.Repeat("a", maxLoggedPath-1), "/" + strings.Repeat("a", maxLoggedPath-1)},
		{"/" + strings.Repeat("a", maxLoggedPath), "/" + strings.Repeat("a", maxLoggedPath-1) + "…[1 more bytes]"},
	} {
		if got := capPath(tt.in); got != tt.want {
			t.Errorf("capPath(%d bytes) = %q, want %q", len(tt.in), got, tt.want)
		}
	}
	if got := capPath(long); !utf8.ValidString(got) || !strings.HasPrefix(long, strings.SplitN(got, "…[", 2)[0]) {
		t.Errorf("capPath split a character or changed the path: %q", got)
	}
}

func TestHeadRecordsNoVisit(t *testing.T) {
	site := newTestSite(t, nil)
	u := addUser(t, site.db, "a@example.com", testPassword)
	c := site.client()
	c.signIn(u.Email, testPassword)
	req, _ := http.NewRequest("HEAD", c.base+"/lessons/second", nil)
	wantStatus(t, "HEAD lesson", c.do(req), http.StatusOK)
	p, err := site.db.Progress(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.LastLesson != "" {
		t.Errorf("after HEAD the last lesson is %q, want none", p.LastLesson)
	}
	wantStatus(t, "GET lesson", c.get("/lessons/second"), http.StatusOK)
	if p, _ = site.db.Progress(context.Background(), u.ID); p.LastLesson != "second" {
		t.Errorf("after GET the last lesson is %q, want second", p.LastLesson)
	}
}
