package s3

import (
	"os"
	"testing"
	"time"
)

// A linked name is young however old its file is, so Sweep's grace covers
// the moment between a copy's link and the commit that names it (CopyObject
// and CopyAccount both link).
func TestLinkIsYoung(t *testing.T) {
	f, err := openFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("body")); err != nil {
		t.Fatal(err)
	}
	name, err := w.commit()
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(f.path(name), old, old); err != nil {
		t.Fatal(err)
	}
	linked, err := f.link(name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(f.path(linked))
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(info.ModTime()); age > time.Minute {
		t.Errorf("a new link is %s old; Sweep would take it for a leftover", age.Round(time.Second))
	}
	n, err := f.sweep(t.Context(), map[string]bool{name: true}, time.Hour, time.Now())
	if err != nil || n != 0 {
		t.Errorf("sweep right after the link removed %d files (%v); want none", n, err)
	}
}
