package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lambdalab/content"
	"lambdalab/store"
)

// fixtureCourse loads web/testdata/course: two lessons, one quiz with a
// single and a multiple choice question whose explanations carry marker text.
func fixtureCourse(t testing.TB) *content.Course {
	t.Helper()
	c, err := content.Load(os.DirFS("testdata/course"))
	if err != nil {
		t.Fatalf("load fixture course: %v", err)
	}
	return c
}

func newTestDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open test db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// syncBuffer is a log sink tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testSite struct {
	t   testing.TB
	srv *Server
	db  *store.DB
	ts  *httptest.Server
	log *syncBuffer
}

func newTestSite(t testing.TB, mutate func(*Config)) *testSite {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{DB: newTestDB(t), Logger: slog.New(slog.NewTextHandler(logs, nil)), Course: fixtureCourse(t)}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewServer(s.Routes())
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &testSite{t: t, srv: s, db: cfg.DB, ts: ts, log: logs}
}

// client is one browser: its own cookie jar, redirects not followed so
// tests see each 303.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func (ts *testSite) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: ts.t, base: ts.ts.URL, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read %s %s: %v", req.Method, req.URL, err)
	}
	return response{resp, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// post sends a form as a same-origin browser would.
func (c *client) post(path string, form url.Values, headers ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return c.do(req)
}

func (c *client) signup(email, password string) response {
	c.t.Helper()
	r := c.post("/signup", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign up %s: status %d, want 303; body:\n%s", email, r.StatusCode, r.body)
	}
	return r
}

func wantStatus(t testing.TB, what string, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s: status %d, want %d; body:\n%.2000s", what, r.StatusCode, want, r.body)
	}
}

func wantContains(t testing.TB, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: body does not contain %q", what, s)
		}
	}
}

func wantNotContains(t testing.TB, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("%s: body contains %q, must not", what, s)
		}
	}
}
