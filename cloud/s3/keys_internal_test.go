package s3

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rclone/gofakes3"

	"lambdalab/cloud"
	"lambdalab/store"
)

// failReader fails the test that reads it: a refused upload must not be.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the body of an upload with a refused key was read")
	return 0, io.EOF
}

// TestBackendRefusesKeys calls the backend as the library does, past the
// front door's check of the URL: DeleteObjects' keys come from its XML
// body (where a client's XML encoder cannot put such keys, but the
// backend should not rely on it), so each refused key is reported in the
// result and the rest are deleted; an upload is refused before its body is
// read.
func TestBackendRefusesKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(ctx, Config{DB: db, Dir: filepath.Join(dir, "s3")})
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx = cloud.WithPrincipal(ctx, cloud.Principal{AccountID: acct.ID})
	b := &backend{s: s}
	if err := b.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "bkt", "ok", nil, strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}

	bad := []string{"b\xff", "a\x00b"}
	for _, key := range bad {
		if _, err := b.PutObject(ctx, "bkt", key, nil, failReader{t}, 4); !gofakes3.HasErrorCode(err, gofakes3.ErrInvalidURI) {
			t.Errorf("PutObject(%q) = %v, want InvalidURI", key, err)
		}
		if _, err := b.DeleteObject(ctx, "bkt", key); !gofakes3.HasErrorCode(err, gofakes3.ErrInvalidURI) {
			t.Errorf("DeleteObject(%q) = %v, want InvalidURI", key, err)
		}
		if _, _, err := b.CompleteMultipartUpload(ctx, "bkt", key, "nope", &gofakes3.CompleteMultipartUploadRequest{}); !gofakes3.HasErrorCode(err, gofakes3.ErrInvalidURI) {
			t.Errorf("CompleteMultipartUpload(%q) = %v, want InvalidURI", key, err)
		}
	}

	res, err := b.DeleteMulti(ctx, "bkt", append([]string{"ok", "never"}, bad...)...)
	if err != nil {
		t.Fatalf("DeleteMulti: %v", err)
	}
	var deleted []string
	for _, d := range res.Deleted {
		deleted = append(deleted, d.Key)
	}
	if strings.Join(deleted, ",") != "ok,never" {
		t.Errorf("DeleteMulti deleted %q, want [ok never]", deleted)
	}
	if len(res.Error) != len(bad) {
		t.Fatalf("DeleteMulti errors = %+v, want one for each of %q", res.Error, bad)
	}
	for i, e := range res.Error {
		if e.Key != bad[i] || e.Code != gofakes3.ErrInvalidURI || e.Message != "Couldn't parse the specified URI." {
			t.Errorf("DeleteMulti error %d = %+v, want key %q, InvalidURI", i, e, bad[i])
		}
	}
	if _, err := db.S3Object(ctx, acct.ID, "bkt", "ok", false); err == nil {
		t.Error("ok is still there after DeleteMulti")
	}
	// Only refused keys: nothing to delete, and no error for the request.
	if res, err := b.DeleteMulti(ctx, "bkt", bad...); err != nil || len(res.Error) != len(bad) || len(res.Deleted) != 0 {
		t.Errorf("DeleteMulti(only refused keys) = %+v, %v", res, err)
	}
}
