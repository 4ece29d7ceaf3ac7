package grader

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A submission folder over Lambda's unzipped limit is refused as the
// learner's mistake, before its files are read (the file here is sparse:
// reading it would take 300 MB of memory).
func TestZipPackageRefusesHugeFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("def handler(e, c):\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(300 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = zipPackage(zipTree{os.DirFS(dir), "."})
	var fail *Failure
	if !errors.As(err, &fail) || fail.Msg != "the package is over Lambda's limit of 250 MB unzipped (code and bundled layers together)" {
		t.Fatalf("zipPackage of a 300 MB folder: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "data.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := zipPackage(zipTree{os.DirFS(dir), "."}); err != nil {
		t.Fatalf("zipPackage of a small folder: %v", err)
	}
}
