package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lambdalab/content"
	"lambdalab/labs"
)

// TestEmbeddedLabLinks holds the shipped lessons' links to /labs/ID to the
// shipped labs: loadCourse, which serve and check call, fails otherwise.
func TestEmbeddedLabLinks(t *testing.T) {
	course, all, err := loadCourse("")
	if err != nil {
		t.Fatalf("loadCourse(embedded): %v", err)
	}
	ids := map[string]bool{}
	for _, l := range all {
		ids[l.ID] = true
	}
	links := 0
	for _, l := range course.Lessons {
		for _, ll := range l.LabLinks {
			links++
			if !ids[ll.ID] {
				t.Errorf("%s:%d links lab %q, which the embedded labs lack", l.File, ll.Line, ll.ID)
			}
		}
	}
	if links == 0 {
		t.Errorf("no embedded lesson links a lab; the spec asks each lesson to link the lab that practises it")
	}
}

// TestLabLinkToMissingLab copies the embedded course and labs into an
// author folder, adds a lesson linking /labs/nope, and expects the load
// that serve (author mode and start-up) and check run to name that line.
func TestLabLinkToMissingLab(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, content.Embedded()); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "labs"), labs.Embedded()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCourse(dir); err != nil {
		t.Fatalf("loadCourse of the unchanged copy: %v", err)
	}
	lesson := "---\ntitle: Broken lab link\nsummary: Links a lab that does not exist.\n---\n\nTry [the lab](/labs/nope).\n"
	if err := os.WriteFile(filepath.Join(dir, "compute", "99-broken-lab-link.md"), []byte(lesson), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadCourse(dir)
	var le *content.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("loadCourse with a link to /labs/nope = %v, want a *content.LoadError", err)
	}
	const want = `compute/99-broken-lab-link.md:6: link to lab "nope", which does not exist`
	if len(le.Problems) != 1 || le.Problems[0].Error() != want {
		t.Errorf("loadCourse error:\n%v\nwant the one problem %s", err, want)
	}

	// A folder of lessons only (the repository's content/course served
	// with --content) keeps the built-in labs, so its links still resolve.
	if err := os.RemoveAll(filepath.Join(dir, "labs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "compute", "99-broken-lab-link.md")); err != nil {
		t.Fatal(err)
	}
	_, all, err := loadCourse(dir)
	if err != nil {
		t.Fatalf("loadCourse of the lessons alone: %v", err)
	}
	if len(all) != len(mustEmbeddedLabs(t)) {
		t.Errorf("lessons alone got %d labs, want the %d built-in ones", len(all), len(mustEmbeddedLabs(t)))
	}
	// … and a link to a lab that is not built in still fails there.
	if err := os.WriteFile(filepath.Join(dir, "compute", "99-broken-lab-link.md"), []byte(lesson), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCourse(dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("lessons alone with a link to /labs/nope: %v, want %s", err, want)
	}
}

func mustEmbeddedLabs(t *testing.T) []*labs.Lab {
	t.Helper()
	course, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	all, err := loadLabs("", course)
	if err != nil {
		t.Fatal(err)
	}
	return all
}
