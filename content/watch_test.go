package content

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type loadResult struct {
	c   *Course
	err error
}

// writeFile writes a course file under dir, creating folders as needed.
func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor returns the first result that satisfies ok, failing the test if
// none arrives within the deadline. Results that do not match are skipped:
// one save can legitimately produce more than one reload.
func waitFor(t *testing.T, results <-chan loadResult, what string, ok func(loadResult) bool) loadResult {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var last loadResult
	for {
		select {
		case r := <-results:
			if ok(r) {
				return r
			}
			last = r
		case <-deadline:
			t.Fatalf("no reload with %s within 10s; last result: course %v, err %v", what, last.c != nil, last.err)
		}
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "course.yaml", "title: Watched\nmodules:\n  - slug: m\n    title: M\n    summary: S\n")
	writeFile(t, dir, "m/01-one.md", "---\ntitle: One\nsummary: S\n---\n\nFirst.\n")

	ctx, cancel := context.WithCancel(t.Context())
	results := make(chan loadResult, 16)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- Watch(ctx, dir, logger, func(c *Course, err error) { results <- loadResult{c, err} })
	}()

	waitFor(t, results, "the initial course", func(r loadResult) bool { return r.err == nil && len(r.c.Lessons) == 1 })

	// A new lesson appears.
	writeFile(t, dir, "m/02-two.md", "---\ntitle: Two\nsummary: S\n---\n\nBack to [one](01-one.md).\n")
	r := waitFor(t, results, "the new lesson", func(r loadResult) bool { return r.err == nil && len(r.c.Lessons) == 2 })
	if l, ok := r.c.Lesson("two"); !ok || !strings.Contains(l.Parts[0].HTML, `href="/lessons/one"`) {
		t.Errorf("new lesson not rendered with its link: %+v", l)
	}

	// A mistake is reported, not fatal...
	writeFile(t, dir, "m/02-two.md", "---\ntitle: Two\nsummary: S\n---\n\nSee [gone](03-gone.md).\n")
	r = waitFor(t, results, "the load error", func(r loadResult) bool { return r.err != nil })
	if r.c != nil || !strings.Contains(r.err.Error(), "m/02-two.md:6:") {
		t.Errorf("broken lesson: course %v, error %v; want no course and an error at m/02-two.md:6", r.c != nil, r.err)
	}

	// ...and fixing it brings the course back.
	writeFile(t, dir, "m/02-two.md", "---\ntitle: Two fixed\nsummary: S\n---\n\nFixed.\n")
	r = waitFor(t, results, "the fix", func(r loadResult) bool { return r.err == nil })
	if l, ok := r.c.Lesson("two"); !ok || l.Title != "Two fixed" {
		t.Errorf("after the fix, lesson two = %+v", l)
	}

	// A new module folder is watched too: create it, declare it, then
	// change a file inside it.
	writeFile(t, dir, "n/01-three.md", "---\ntitle: Three\nsummary: S\n---\n\nThird.\n")
	writeFile(t, dir, "course.yaml", "title: Watched\nmodules:\n  - slug: m\n    title: M\n    summary: S\n  - slug: n\n    title: N\n    summary: S\n")
	waitFor(t, results, "the new module", func(r loadResult) bool { return r.err == nil && len(r.c.Modules) == 2 })
	writeFile(t, dir, "n/01-three.md", "---\ntitle: Three edited\nsummary: S\n---\n\nThird.\n")
	waitFor(t, results, "the edit in the new folder", func(r loadResult) bool {
		l, ok := r.c.Lesson("three")
		return r.err == nil && ok && l.Title == "Three edited"
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

func TestWatchMissingDir(t *testing.T) {
	err := Watch(t.Context(), filepath.Join(t.TempDir(), "nope"), slog.New(slog.NewTextHandler(io.Discard, nil)), func(*Course, error) {
		t.Error("fn called for a folder that does not exist")
	})
	if err == nil {
		t.Fatal("Watch on a missing folder returned nil")
	}
}
