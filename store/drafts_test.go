package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func draftPaths(t *testing.T, db *DB, k DraftKey) string {
	t.Helper()
	files, err := db.DraftFiles(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		if f.Body != nil {
			t.Errorf("DraftFiles gave the body of %s", f.Path)
		}
		paths = append(paths, f.Path)
	}
	return strings.Join(paths, ",")
}

// TestDraftSeededOnce: the first start seeds the starter's files; once
// started, a draft is never seeded again, even when the learner emptied it.
func TestDraftSeededOnce(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "d@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	k := DraftKey{UserID: u.ID, Lab: "s3-transform", Function: "mask-logs"}
	seeds := 0
	seed := func() ([]DraftFile, error) {
		seeds++
		return []DraftFile{{Path: "app.py", Body: []byte("def handler(e, c): pass\n")}, {Path: "lib/util.py", Body: nil}}, nil
	}
	started, err := db.StartDraft(ctx, k, seed)
	if err != nil || !started {
		t.Fatalf("first StartDraft = %v, %v; want started", started, err)
	}
	if got := draftPaths(t, db, k); got != "app.py,lib/util.py" {
		t.Errorf("seeded draft = %s", got)
	}
	f, err := db.DraftFile(ctx, k, "lib/util.py")
	if err != nil || f.Body == nil || f.Size != 0 {
		t.Errorf("empty seeded file = %+v, %v; want an empty body", f, err)
	}
	for _, p := range []string{"app.py", "lib/util.py"} {
		if err := db.DeleteDraftFile(ctx, k, p); err != nil {
			t.Fatal(err)
		}
	}
	started, err = db.StartDraft(ctx, k, seed)
	if err != nil || started || seeds != 1 {
		t.Errorf("StartDraft after emptying = %v, %v with %d seeds; want not started again, one seed", started, err, seeds)
	}
	if got := draftPaths(t, db, k); got != "" {
		t.Errorf("emptied draft came back as %s", got)
	}
	// Another learner's and another function's drafts are their own.
	other := DraftKey{UserID: u.ID, Lab: "s3-transform", Function: "other"}
	if _, err := db.StartDraft(ctx, other, seed); err != nil {
		t.Fatal(err)
	}
	if seeds != 2 || draftPaths(t, db, other) != "app.py,lib/util.py" {
		t.Errorf("another function's draft was not seeded on its own: %d seeds, %s", seeds, draftPaths(t, db, other))
	}
	if _, err := db.StartDraft(ctx, DraftKey{UserID: u.ID + 99, Lab: "x", Function: "y"}, seed); !errors.Is(err, ErrNotFound) {
		t.Errorf("StartDraft for no such user: %v, want ErrNotFound", err)
	}
}

// TestDraftFileOperations: save, create, rename and delete each do one
// thing and refuse what they must with the store's sentinels.
func TestDraftFileOperations(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, _ := db.CreateUser(ctx, "d@example.com", "h", false)
	k := DraftKey{UserID: u.ID, Lab: "lab", Function: "fn"}
	if err := db.SaveDraftFile(ctx, k, "app.py", []byte("v1"), false); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveDraftFile(ctx, k, "app.py", []byte("v2"), false); err != nil {
		t.Fatal(err)
	}
	if f, _ := db.DraftFile(ctx, k, "app.py"); string(f.Body) != "v2" || f.Size != 2 {
		t.Errorf("after two saves, app.py = %q (%d bytes), want v2", f.Body, f.Size)
	}
	if err := db.SaveDraftFile(ctx, k, "app.py", []byte("v3"), true); !errors.Is(err, ErrExists) {
		t.Errorf("creating a file that exists: %v, want ErrExists", err)
	}
	if err := db.SaveDraftFile(ctx, k, "util.py", []byte("u"), true); err != nil {
		t.Fatal(err)
	}
	if err := db.RenameDraftFile(ctx, k, "util.py", "app.py"); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto an existing file: %v, want ErrExists", err)
	}
	if err := db.RenameDraftFile(ctx, k, "nope.py", "x.py"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename of a missing file: %v, want ErrNotFound", err)
	}
	if err := db.RenameDraftFile(ctx, k, "util.py", "lib/util.py"); err != nil {
		t.Fatal(err)
	}
	if got := draftPaths(t, db, k); got != "app.py,lib/util.py" {
		t.Errorf("after rename: %s", got)
	}
	if err := db.DeleteDraftFile(ctx, k, "app.py"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDraftFile(ctx, k, "app.py"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := db.DraftFile(ctx, k, "app.py"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted file read: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "/abs", "../up", "a/../b", `a\b`, ".", strings.Repeat("x", MaxDraftPath+1)} {
		if err := db.SaveDraftFile(ctx, k, bad, nil, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("save at %q: %v, want ErrInvalid", bad, err)
		}
	}
	// The other user sees nothing of it.
	v, _ := db.CreateUser(ctx, "e@example.com", "h", false)
	if got := draftPaths(t, db, DraftKey{UserID: v.ID, Lab: "lab", Function: "fn"}); got != "" {
		t.Errorf("another user's draft lists %s", got)
	}
}

// TestDraftBounds: a save, a new file or a replacement past the draft's
// bounds is ErrDraftFull and changes nothing.
func TestDraftBounds(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, _ := db.CreateUser(ctx, "d@example.com", "h", false)
	k := DraftKey{UserID: u.ID, Lab: "lab", Function: "fn"}
	big := bytes.Repeat([]byte("x"), MaxDraftBytes/2)
	if err := db.SaveDraftFile(ctx, k, "a.bin", big, false); err != nil {
		t.Fatal(err)
	}
	// Replacing a file counts its new size only.
	if err := db.SaveDraftFile(ctx, k, "a.bin", big, false); err != nil {
		t.Fatalf("replacing a file by one of the same size: %v", err)
	}
	if err := db.SaveDraftFile(ctx, k, "b.bin", append(big, 'y'), false); !errors.Is(err, ErrDraftFull) {
		t.Errorf("a save over %d bytes in all: %v, want ErrDraftFull", MaxDraftBytes, err)
	}
	if got := draftPaths(t, db, k); got != "a.bin" {
		t.Errorf("after a refused save: %s", got)
	}
	many := make([]DraftFile, MaxDraftFiles+1)
	for i := range many {
		many[i] = DraftFile{Path: "f" + itoaTest(i)}
	}
	if err := db.ReplaceDraft(ctx, k, many); !errors.Is(err, ErrDraftFull) {
		t.Errorf("replacing with %d files: %v, want ErrDraftFull", len(many), err)
	}
	if got := draftPaths(t, db, k); got != "a.bin" {
		t.Errorf("after a refused replace: %s", got)
	}
	if err := db.ReplaceDraft(ctx, k, many[:MaxDraftFiles]); err != nil {
		t.Fatalf("replacing with %d files: %v", MaxDraftFiles, err)
	}
	if err := db.SaveDraftFile(ctx, k, "one-more", nil, true); !errors.Is(err, ErrDraftFull) {
		t.Errorf("file %d: %v, want ErrDraftFull", MaxDraftFiles+1, err)
	}
	if err := db.ReplaceDraft(ctx, k, []DraftFile{{Path: "x"}, {Path: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("replace with a path twice: %v, want ErrInvalid", err)
	}
	files, _ := db.DraftFiles(ctx, k)
	if len(files) != MaxDraftFiles {
		t.Errorf("after the refusals the draft has %d files, want %d", len(files), MaxDraftFiles)
	}
	// A replaced draft counts as started: it is not seeded over.
	started, err := db.StartDraft(ctx, DraftKey{UserID: u.ID, Lab: "lab", Function: "fn"}, func() ([]DraftFile, error) {
		t.Error("seed called for a replaced draft")
		return nil, nil
	})
	if err != nil || started {
		t.Errorf("StartDraft after ReplaceDraft = %v, %v", started, err)
	}
}

func itoaTest(i int) string {
	return string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
}

// TestLabVisits: the first visit's time stays; each lab on its own.
func TestLabVisits(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, _ := db.CreateUser(ctx, "d@example.com", "h", false)
	v, err := db.LabVisits(ctx, u.ID)
	if err != nil || len(v) != 0 {
		t.Fatalf("LabVisits before any = %v, %v", v, err)
	}
	first := clock.Now()
	if err := db.RecordLabVisit(ctx, u.ID, "s3-transform"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3600e9)
	if err := db.RecordLabVisit(ctx, u.ID, "s3-transform"); err != nil {
		t.Fatal(err)
	}
	v, _ = db.LabVisits(ctx, u.ID)
	if len(v) != 1 || !v["s3-transform"].Equal(first) {
		t.Errorf("LabVisits = %v, want s3-transform at %v", v, first)
	}
	if err := db.RecordLabVisit(ctx, u.ID+7, "s3-transform"); !errors.Is(err, ErrNotFound) {
		t.Errorf("visit by no such user: %v, want ErrNotFound", err)
	}
}

// TestDraftPathsMustBeText: a path PostgreSQL's text cannot hold (a NUL;
// fs.ValidPath already refuses what is not UTF-8) is refused where it is
// written and not found where it is looked up, on every engine. A body is
// bytes and may hold anything.
func TestDraftPathsMustBeText(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "t@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	k := DraftKey{UserID: u.ID, Lab: "lab", Function: "fn"}
	if err := db.SaveDraftFile(ctx, k, "app.py", []byte("a\x00\xff"), false); err != nil {
		t.Fatalf("save a body of any bytes: %v", err)
	}
	for _, p := range []string{"a\x00.py", "lib/\x00"} {
		if err := db.SaveDraftFile(ctx, k, p, nil, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveDraftFile(%q) = %v, want ErrInvalid", p, err)
		}
		if err := db.RenameDraftFile(ctx, k, "app.py", p); !errors.Is(err, ErrInvalid) {
			t.Errorf("RenameDraftFile(app.py, %q) = %v, want ErrInvalid", p, err)
		}
		if err := db.ReplaceDraft(ctx, k, []DraftFile{{Path: p}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ReplaceDraft(%q) = %v, want ErrInvalid", p, err)
		}
	}
	for _, p := range []string{"a\x00.py", "a\xff.py"} {
		if _, err := db.DraftFile(ctx, k, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("DraftFile(%q) = %v, want ErrNotFound", p, err)
		}
		if err := db.DeleteDraftFile(ctx, k, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteDraftFile(%q) = %v, want ErrNotFound", p, err)
		}
		if err := db.RenameDraftFile(ctx, k, p, "b.py"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RenameDraftFile(%q, b.py) = %v, want ErrNotFound", p, err)
		}
	}
	if files, err := db.Draft(ctx, DraftKey{UserID: u.ID, Lab: "lab\xff", Function: "fn"}); err != nil || len(files) != 0 {
		t.Errorf("Draft of lab\\xff = %v, %v; want none", files, err)
	}
	f, err := db.DraftFile(ctx, k, "app.py")
	if err != nil || !bytes.Equal(f.Body, []byte("a\x00\xff")) {
		t.Errorf("app.py = %q, %v", f.Body, err)
	}
}
