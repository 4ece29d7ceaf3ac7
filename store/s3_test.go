package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func newS3Account(t *testing.T, db *DB) string {
	t.Helper()
	a, _, err := db.CreateScratchAccount(context.Background())
	if err != nil {
		t.Fatalf("CreateScratchAccount: %v", err)
	}
	return a.ID
}

func inlineObject(acct, bucket, key, body string) S3Object {
	return S3Object{AccountID: acct, Bucket: bucket, Key: key, Size: int64(len(body)), ETag: "e",
		Metadata: map[string]string{"Content-Type": "text/plain"}, Data: []byte(body), ModifiedAt: time.Now()}
}

func TestS3BucketsPerAccount(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, b := newS3Account(t, db), newS3Account(t, db)
	for _, acct := range []string{a, b} {
		if err := db.CreateS3Bucket(ctx, acct, "photos", 0); err != nil {
			t.Fatalf("CreateS3Bucket(%s, photos): %v", acct, err)
		}
	}
	if err := db.CreateS3Bucket(ctx, a, "photos", 0); !errors.Is(err, ErrExists) {
		t.Errorf("CreateS3Bucket again = %v, want ErrExists", err)
	}
	if err := db.CreateS3Bucket(ctx, a, "second", 1); !errors.Is(err, ErrQuota) {
		t.Errorf("CreateS3Bucket past 1 bucket = %v, want ErrQuota", err)
	}
	if _, _, err := db.PutS3Object(ctx, inlineObject(a, "photos", "k", "from a"), S3Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.S3Object(ctx, b, "photos", "k", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("account b reads a's object: err = %v, want ErrNotFound", err)
	}
	if _, err := db.DeleteS3Bucket(ctx, a, "photos"); !errors.Is(err, ErrInUse) {
		t.Errorf("DeleteS3Bucket of a full bucket = %v, want ErrInUse", err)
	}
	if _, err := db.DeleteS3Bucket(ctx, b, "photos"); err != nil {
		t.Errorf("DeleteS3Bucket of b's empty bucket: %v", err)
	}
	if _, err := db.S3Bucket(ctx, a, "photos"); err != nil {
		t.Errorf("a's bucket gone with b's: %v", err)
	}
}

func TestS3ObjectsAndUsage(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a := newS3Account(t, db)
	if err := db.CreateS3Bucket(ctx, a, "b", 0); err != nil {
		t.Fatal(err)
	}
	lim := S3Limits{Objects: 3, Bytes: 100}
	if _, _, err := db.PutS3Object(ctx, inlineObject(a, "nope", "k", "x"), lim); !errors.Is(err, ErrNotFound) {
		t.Errorf("put into a missing bucket = %v, want ErrNotFound", err)
	}
	if _, replaced, err := db.PutS3Object(ctx, inlineObject(a, "b", "k", "0123456789"), lim); err != nil || replaced {
		t.Fatalf("first put: replaced %v, err %v", replaced, err)
	}
	f := inlineObject(a, "b", "k", "")
	f.Data, f.File, f.Size = nil, "ab/cdef", 50
	old, replaced, err := db.PutS3Object(ctx, f, lim)
	if err != nil || !replaced || old.Size != 10 {
		t.Fatalf("overwrite: old %+v replaced %v err %v", old, replaced, err)
	}
	if u, _ := db.S3Usage(ctx, a); u != (S3Usage{Buckets: 1, Objects: 1, Bytes: 50}) {
		t.Errorf("usage = %+v, want 1 bucket, 1 object, 50 bytes", u)
	}
	big := inlineObject(a, "b", "big", "")
	big.Data, big.File, big.Size = nil, "x/y", 51
	if _, _, err := db.PutS3Object(ctx, big, lim); !errors.Is(err, ErrQuota) {
		t.Errorf("put past 100 bytes = %v, want ErrQuota", err)
	}
	for i := range 2 {
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", fmt.Sprint("n", i), "1"), lim); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", "n9", "1"), lim); !errors.Is(err, ErrQuota) {
		t.Errorf("fourth object = %v, want ErrQuota", err)
	}
	files, err := db.S3Files(ctx)
	if err != nil || !files["ab/cdef"] || len(files) != 1 {
		t.Errorf("S3Files = %v, %v; want ab/cdef", files, err)
	}
	got, err := db.DeleteS3Objects(ctx, a, "b", "k", "missing", "n0")
	if err != nil || len(got) != 2 || got[0].File != "ab/cdef" {
		t.Fatalf("DeleteS3Objects = %+v, %v", got, err)
	}
	if u, _ := db.S3Usage(ctx, a); u != (S3Usage{Buckets: 1, Objects: 1, Bytes: 1}) {
		t.Errorf("usage after deletes = %+v", u)
	}
	if err := db.DeleteAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.S3Usage(ctx, a); u != (S3Usage{}) {
		t.Errorf("usage of a deleted account = %+v", u)
	}
}

func TestS3ListObjects(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a := newS3Account(t, db)
	db.CreateS3Bucket(ctx, a, "b", 0)
	for _, k := range []string{"a", "a/1", "a/2", "b", "b\xff", "c"} {
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", k, k), S3Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, start string
		inclusive     bool
		want          string
	}{
		{"", "", false, "a a/1 a/2 b b\xff c"},
		{"a/", "", false, "a/1 a/2"},
		{"a", "a/1", false, "a/2"},
		{"", "a/", true, "a/1 a/2 b b\xff c"},
		{"b", "", false, "b b\xff"},
		{"", "zz", false, ""},
	}
	for _, tt := range tests {
		objs, err := db.ListS3Objects(ctx, a, "b", tt.prefix, tt.start, tt.inclusive, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for i, o := range objs {
			if i > 0 {
				got += " "
			}
			got += o.Key
		}
		if got != tt.want {
			t.Errorf("ListS3Objects(prefix %q, start %q, %v) = %q, want %q", tt.prefix, tt.start, tt.inclusive, got, tt.want)
		}
	}
}

func TestS3Uploads(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a := newS3Account(t, db)
	db.CreateS3Bucket(ctx, a, "b", 0)
	u := S3Upload{ID: "u1", AccountID: a, Bucket: "b", Key: "k", Metadata: map[string]string{}, CreatedAt: time.Now()}
	if err := db.CreateS3Upload(ctx, u); err != nil {
		t.Fatal(err)
	}
	lim := S3Limits{Bytes: 100}
	for i := 1; i <= 2; i++ {
		if _, err := db.PutS3Part(ctx, S3Part{UploadID: "u1", Number: i, AccountID: a, Size: 40, ETag: "e", File: fmt.Sprint("p", i)}, lim); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutS3Part(ctx, S3Part{UploadID: "u1", Number: 3, AccountID: a, Size: 40, File: "p3"}, lim); !errors.Is(err, ErrQuota) {
		t.Errorf("part past the byte quota = %v, want ErrQuota", err)
	}
	old, err := db.PutS3Part(ctx, S3Part{UploadID: "u1", Number: 2, AccountID: a, Size: 10, File: "p2b"}, lim)
	if err != nil || old != "p2" {
		t.Errorf("replace part 2 = %q, %v", old, err)
	}
	if u, _ := db.S3Usage(ctx, a); u.Bytes != 50 {
		t.Errorf("usage with parts = %d bytes, want 50", u.Bytes)
	}
	o := inlineObject(a, "b", "k", "")
	o.Data, o.File, o.Size = nil, "whole", 50
	_, _, parts, err := db.CompleteS3Upload(ctx, "u1", o, lim)
	if err != nil || len(parts) != 2 {
		t.Fatalf("CompleteS3Upload: parts %v, err %v", parts, err)
	}
	if u, _ := db.S3Usage(ctx, a); u.Bytes != 50 || u.Objects != 1 {
		t.Errorf("usage after completing = %+v", u)
	}
	if _, err := db.S3Upload(ctx, a, "u1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("upload after completing: %v", err)
	}
}
