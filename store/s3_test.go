package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
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
	for _, k := range []string{"a", "a/1", "a/2", "b", "b\u00ff", "c"} {
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", k, k), S3Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, start string
		inclusive     bool
		want          string
	}{
		{"", "", false, "a a/1 a/2 b b\u00ff c"},
		{"a/", "", false, "a/1 a/2"},
		{"a", "a/1", false, "a/2"},
		{"", "a/", true, "a/1 a/2 b b\u00ff c"},
		{"b", "", false, "b b\u00ff"},
		{"", "zz", false, ""},
		// Bounds need not be text: a marker of any bytes, a byte prefix
		// that ends inside a character.
		{"", "b\xff", false, "c"},
		{"", "b\xc3", true, "b\u00ff c"},
		{"b\xc3", "", false, "b\u00ff"},
		{"b\xff", "", false, ""},
		{"", "a\x00", false, "a/1 a/2 b b\u00ff c"},
	}
	for _, tt := range tests {
		if got := listKeys(t, db, a, "b", tt.prefix, tt.start, tt.inclusive, 100); strings.Join(got, " ") != tt.want {
			t.Errorf("ListS3Objects(prefix %q, start %q, %v) = %q, want %q", tt.prefix, tt.start, tt.inclusive, strings.Join(got, " "), tt.want)
		}
	}
}

func listKeys(t *testing.T, db *DB, acct, bucket, prefix, start string, inclusive bool, limit int) []string {
	t.Helper()
	objs, err := db.ListS3Objects(context.Background(), acct, bucket, prefix, start, inclusive, limit)
	if err != nil {
		t.Fatalf("ListS3Objects(prefix %q, start %q, %v): %v", prefix, start, inclusive, err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// localeKeys sort differently under a language's collation (case folded,
// punctuation ignored at first, accents after letters) than in byte
// order, which S3 lists in; the characters around the ends of UTF-8's
// one-, two-, three- and four-byte forms check the bounds at a prefix's
// end.
var localeKeys = []string{
	"A", "a", "B", "b", "Z", "z", "_", "-", ".", "/", "~", " ",
	"a-b", "a_b", "a.b", "a/b", "a b", "aB", "ab", "Ab", "a~",
	"e", "f", "\u00e9", "\u00c9", "e\u0301", "\u00e9a", "\u00ff", "\u0100",
	"x/1", "x/2", "x-/1", "x_/1", "X/1", "x//", "x/",
	"p\u00ff1", "p\u00ff2", "p\u00ff\u00ff", "p\u0100",
	"a\x7f", "a\x7fz", "a\u0080", "\ud7ff", "\ud7ffa", "\ue000", "\uffff", "\U00010000",
	"\U0010ffff", "\U0010ffffa",
}

// TestS3ListObjectsByteOrder lists keys that a locale would order
// differently, in pages of every size, with and without a prefix, and
// walks them with a delimiter as cloud/s3 does (jumping past a common
// prefix by raising its last byte, which is not always UTF-8).
func TestS3ListObjectsByteOrder(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a := newS3Account(t, db)
	if err := db.CreateS3Bucket(ctx, a, "b", 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range localeKeys {
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", k, k), S3Limits{}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	sorted := slices.Clone(localeKeys)
	sort.Strings(sorted) // byte order
	if db.Engine() == "postgres" {
		// The keys must be ones a locale orders otherwise, or this test
		// proves nothing on a server whose default collation is C; and
		// the column must be compared as bytes whatever the default.
		var collation string
		if err := db.conn.QueryRowContext(ctx, `SELECT collation_name FROM information_schema.columns
			WHERE table_name = 's3_objects' AND column_name = 'key'`).Scan(&collation); err != nil || collation != "C" {
			t.Errorf("s3_objects.key has collation %q (%v), want C", collation, err)
		}
		var icu []string
		rows, err := db.conn.QueryContext(ctx, `SELECT key FROM s3_objects ORDER BY key COLLATE "und-x-icu"`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			rows.Scan(&k)
			icu = append(icu, k)
		}
		rows.Close()
		if slices.Equal(icu, sorted) {
			t.Errorf("the keys sort the same under ICU's root collation as in byte order")
		}
	}

	prefixes := []string{"", "a", "a/", "x/", "x", "p\u00ff", "a\x7f", "\ud7ff", "\U0010ffff", "\u00e9", "e"}
	for _, prefix := range prefixes {
		var want []string
		for _, k := range sorted {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		if got := listKeys(t, db, a, "b", prefix, "", false, 1000); !slices.Equal(got, want) {
			t.Errorf("prefix %q: listed %q, want %q", prefix, got, want)
		}
		for page := 1; page <= 4; page++ {
			var got []string
			start := ""
			for len(got) <= len(sorted) { // more would be keys listed twice
				keys := listKeys(t, db, a, "b", prefix, start, false, page)
				got = append(got, keys...)
				if len(keys) < page {
					break
				}
				start = keys[len(keys)-1]
			}
			if !slices.Equal(got, want) {
				t.Errorf("prefix %q in pages of %d: listed %q, want %q", prefix, page, got, want)
			}
		}
		for _, delim := range []string{"/", "-", "\u00ff", "\x7f"} {
			got, want := walkS3(t, db, a, "b", prefix, delim), walkSorted(sorted, prefix, delim)
			if !slices.Equal(got, want) {
				t.Errorf("prefix %q, delimiter %q: walked %q, want %q", prefix, delim, got, want)
			}
		}
	}
}

// walkS3 lists the bucket with a delimiter as cloud/s3's ListBucket does,
// two keys a page: each key that has the delimiter after the prefix counts
// once, as its common prefix, and the walk goes on from the least bytes
// above that prefix.
func walkS3(t *testing.T, db *DB, acct, bucket, prefix, delim string) []string {
	t.Helper()
	var out []string
	start, inclusive := "", false
	for range len(localeKeys) + 1 { // a walk that goes back would not end
		keys := listKeys(t, db, acct, bucket, prefix, start, inclusive, 2)
		if len(keys) == 0 {
			return out
		}
		jumped := false
		for _, k := range keys {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				out = append(out, cp)
				end, ok := bytesAfterPrefix(cp)
				if !ok {
					return out
				}
				start, inclusive, jumped = end, true, true
				break
			}
			out = append(out, k)
			start, inclusive = k, false
		}
		if !jumped && len(keys) < 2 {
			return out
		}
	}
	return out
}

// walkSorted is what walkS3 should find, from the keys in byte order.
func walkSorted(sorted []string, prefix, delim string) []string {
	var out []string
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if i := strings.Index(k[len(prefix):], delim); i >= 0 {
			k = k[:len(prefix)+i+len(delim)]
			if len(out) > 0 && out[len(out)-1] == k {
				continue
			}
		}
		out = append(out, k)
	}
	return out
}

// TestS3KeysMustBeText: S3 keys are UTF-8, and PostgreSQL's text holds no
// NUL, so a key of other bytes is refused (ErrInvalid) on every engine,
// where it is written and where it is looked up; names that cannot be a
// bucket's or an upload's are simply not found.
func TestS3KeysMustBeText(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a := newS3Account(t, db)
	if err := db.CreateS3Bucket(ctx, a, "b", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", "ok", "x"), S3Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"b\xff", "\xc3", "a\x00b", "\xed\xa0\x80"} {
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, "b", key, "x"), S3Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutS3Object(%q) = %v, want ErrInvalid", key, err)
		}
		if _, err := db.S3Object(ctx, a, "b", key, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("S3Object(%q) = %v, want ErrInvalid", key, err)
		}
		if err := db.SetS3ObjectMetadata(ctx, a, "b", key, map[string]string{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetS3ObjectMetadata(%q) = %v, want ErrInvalid", key, err)
		}
		if _, err := db.DeleteS3Objects(ctx, a, "b", "ok", key); !errors.Is(err, ErrInvalid) {
			t.Errorf("DeleteS3Objects(ok, %q) = %v, want ErrInvalid", key, err)
		}
		u := S3Upload{ID: "u-" + fmt.Sprint(len(key)), AccountID: a, Bucket: "b", Key: key, Metadata: map[string]string{}, CreatedAt: time.Now()}
		if err := db.CreateS3Upload(ctx, u); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateS3Upload(key %q) = %v, want ErrInvalid", key, err)
		}
		o := inlineObject(a, "b", key, "")
		o.Data, o.File = nil, "f"
		if err := db.CreateS3Upload(ctx, S3Upload{ID: "u1", AccountID: a, Bucket: "b", Key: "ok", Metadata: map[string]string{}, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := db.CompleteS3Upload(ctx, "u1", o, S3Limits{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("CompleteS3Upload(key %q) = %v, want ErrInvalid", key, err)
		}
		if _, err := db.DeleteS3Upload(ctx, a, "u1"); err != nil {
			t.Errorf("the upload did not survive a refused completion: %v", err)
		}
	}
	if _, err := db.S3Object(ctx, a, "b", "ok", false); err != nil {
		t.Errorf("ok was deleted with a refused key: %v", err)
	}
	if err := db.CreateS3Bucket(ctx, a, "\xff", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateS3Bucket(\\xff) = %v, want ErrInvalid", err)
	}
	for _, name := range []string{"b\xff", "b\x00"} {
		if _, err := db.S3Bucket(ctx, a, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("S3Bucket(%q) = %v, want ErrNotFound", name, err)
		}
		if _, err := db.DeleteS3Bucket(ctx, a, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteS3Bucket(%q) = %v, want ErrNotFound", name, err)
		}
		if err := db.SetS3Notification(ctx, a, name, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetS3Notification(%q) = %v, want ErrNotFound", name, err)
		}
		if _, _, err := db.PutS3Object(ctx, inlineObject(a, name, "k", "x"), S3Limits{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("PutS3Object into %q = %v, want ErrNotFound", name, err)
		}
		if _, err := db.S3Object(ctx, a, name, "k", false); !errors.Is(err, ErrNotFound) {
			t.Errorf("S3Object in %q = %v, want ErrNotFound", name, err)
		}
		if _, err := db.DeleteS3Objects(ctx, a, name, "k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteS3Objects in %q = %v, want ErrNotFound", name, err)
		}
		if keys := listKeys(t, db, a, name, "", "", false, 10); len(keys) != 0 {
			t.Errorf("ListS3Objects of %q = %q", name, keys)
		}
		if _, err := db.S3Upload(ctx, a, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("S3Upload(%q) = %v, want ErrNotFound", name, err)
		}
		if _, err := db.PutS3Part(ctx, S3Part{UploadID: name, Number: 1, AccountID: a, Size: 1, File: "p"}, S3Limits{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("PutS3Part(%q) = %v, want ErrNotFound", name, err)
		}
		if parts, err := db.S3Parts(ctx, name); err != nil || len(parts) != 0 {
			t.Errorf("S3Parts(%q) = %v, %v", name, parts, err)
		}
		if _, err := db.DeleteS3Upload(ctx, a, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteS3Upload(%q) = %v, want ErrNotFound", name, err)
		}
		if _, _, _, err := db.CompleteS3Upload(ctx, name, inlineObject(a, "b", "k", "x"), S3Limits{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("CompleteS3Upload(%q) = %v, want ErrNotFound", name, err)
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
