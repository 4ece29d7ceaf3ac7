package web

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthorEventsOnlyInAuthorMode(t *testing.T) {
	site := newTestSite(t, nil)
	wantStatus(t, "events outside author mode", site.client().get("/_author/events"), 404)
	wantNotContains(t, "page outside author mode", site.client().get("/").body, "author.", `data-testid="author-banner"`)
}

func TestAuthorModeReloadEvent(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.AuthorMode = true })
	wantContains(t, "author page", site.client().get("/").body, `<script src="/static/author.`, `data-testid="author-banner"`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", site.ts.URL+"/_author/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events Content-Type = %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	readUntil := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("stream ended before %q: %v", want, lines.Err())
	}
	readUntil(": connected")

	// A broken save: the page shows the error, escaped, and tabs reload.
	site.srv.SetCourse(nil, errors.New(`basics/01-first.md:3: bad frontmatter near <script>alert(1)</script>`))
	readUntil("event: reload")
	r := site.client().get("/lessons/first")
	wantStatus(t, "lesson while the course is broken", r, 500)
	wantContains(t, "load error page", r.body, `data-testid="load-error"`, "basics/01-first.md:3", "&lt;script&gt;alert(1)&lt;/script&gt;")
	wantNotContains(t, "load error page", r.body, "<script>alert(1)")

	// The fix: the lesson is back and tabs reload again.
	site.srv.SetCourse(fixtureCourse(t), nil)
	readUntil("event: reload")
	wantStatus(t, "lesson after the fix", site.client().get("/lessons/first"), 200)

	// Close (called on server shutdown) ends the stream instead of holding
	// Shutdown up.
	site.srv.Close()
	done := make(chan struct{})
	go func() {
		for lines.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("event stream still open after Close")
	}
}

func TestAuthorModeWithoutCourseYet(t *testing.T) {
	site := newTestSite(t, func(c *Config) { c.AuthorMode = true; c.Course = nil })
	r := site.client().get("/")
	wantStatus(t, "home before the first load", r, http.StatusServiceUnavailable)
	if !strings.Contains(r.body, "still loading") {
		t.Errorf("home before the first load:\n%s", r.body)
	}
}
