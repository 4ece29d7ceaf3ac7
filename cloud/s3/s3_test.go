package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3svc "lambdalab/cloud/s3"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t testing.TB, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	return must[*s3.PutObjectOutput](t, "PutObject "+key)(c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}))
}

func get(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out := must[*s3.GetObjectOutput](t, "GetObject "+key)(c.GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key)}))
	return readAll(t, out.Body)
}

func mkBucket(t testing.TB, c *s3.Client, name string) {
	t.Helper()
	must[*s3.CreateBucketOutput](t, "CreateBucket "+name)(c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}))
}

func TestBucketsAndObjects(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	c := w.client(a)

	mkBucket(t, c, "photos")
	mkBucket(t, c, "logs")
	// us-east-1 answers 200 to recreating one's own bucket (CreateBucket API reference).
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Errorf("recreating own bucket in us-east-1: %v", err)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantCode(t, "CreateBucket Bad_Name", err, "InvalidBucketName")
	lb := must[*s3.ListBucketsOutput](t, "ListBuckets")(c.ListBuckets(ctx, &s3.ListBucketsInput{}))
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, *b.Name)
	}
	if !slices.Equal(names, []string{"logs", "photos"}) {
		t.Errorf("ListBuckets = %v, want [logs photos]", names)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
	wantCode(t, "HeadBucket nope", err, "NotFound")

	small := []byte("hello, lambdalab")
	large := randomBytes(3<<20 + 17) // past the in-row size: a file
	out := put(t, c, "photos", "small.txt", small)
	if want := fmt.Sprintf(`"%x"`, md5sum(small)); aws.ToString(out.ETag) != want {
		t.Errorf("PutObject ETag = %s, want %s", aws.ToString(out.ETag), want)
	}
	put(t, c, "photos", "big.bin", large)
	if got := get(t, c, "photos", "small.txt"); !bytes.Equal(got, small) {
		t.Errorf("GetObject small = %q", got)
	}
	if got := get(t, c, "photos", "big.bin"); !bytes.Equal(got, large) {
		t.Errorf("GetObject big: %d bytes back, want %d identical", len(got), len(large))
	}
	// Keys ServeMux would have cleaned.
	for _, k := range []string{"a//b", "x/../y", "./z", "sp ace+plus/é"} {
		put(t, c, "logs", k, []byte(k))
		if got := get(t, c, "logs", k); string(got) != k {
			t.Errorf("key %q: got %q back", k, got)
		}
	}

	// Ranges, from the start, the middle and the end, in a row and in a file.
	for _, tt := range []struct {
		key        string
		body       []byte
		rng        string
		start, end int
	}{
		{"small.txt", small, "bytes=0-4", 0, 5},
		{"small.txt", small, "bytes=7-", 7, len(small)},
		{"big.bin", large, "bytes=1048570-2097200", 1048570, 2097201},
		{"big.bin", large, "bytes=-100", len(large) - 100, len(large)},
	} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String(tt.key), Range: aws.String(tt.rng)})
		if err != nil {
			t.Errorf("GetObject %s %s: %v", tt.key, tt.rng, err)
			continue
		}
		if got := readAll(t, out.Body); !bytes.Equal(got, tt.body[tt.start:tt.end]) {
			t.Errorf("GetObject %s %s: %d bytes, want bytes %d..%d", tt.key, tt.rng, len(got), tt.start, tt.end)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("small.txt"), Range: aws.String("bytes=500-")})
	wantCode(t, "range past the end", err, "InvalidRange")

	// Conditional requests.
	head := must[*s3.HeadObjectOutput](t, "HeadObject")(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("big.bin")}))
	if aws.ToInt64(head.ContentLength) != int64(len(large)) {
		t.Errorf("HeadObject ContentLength = %d", aws.ToInt64(head.ContentLength))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("big.bin"), IfNoneMatch: head.ETag})
	wantCode(t, "If-None-Match current ETag", err, "NotModified")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("big.bin"), IfMatch: aws.String(`"0000"`)})
	wantCode(t, "If-Match other ETag", err, "PreconditionFailed")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")})
	wantCode(t, "GetObject missing", err, "NoSuchKey")

	// Copy, within and across buckets, with new metadata.
	must[*s3.CopyObjectOutput](t, "CopyObject")(c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("logs"), Key: aws.String("copy.bin"), CopySource: aws.String("photos/big.bin")}))
	if got := get(t, c, "logs", "copy.bin"); !bytes.Equal(got, large) {
		t.Error("copied object differs")
	}
	must[*s3.CopyObjectOutput](t, "CopyObject small REPLACE")(c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("photos"), Key: aws.String("small.txt"), CopySource: aws.String("photos/small.txt"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}}))
	h2 := must[*s3.HeadObjectOutput](t, "HeadObject after copy")(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("small.txt")}))
	if aws.ToString(h2.ContentType) != "text/plain" || h2.Metadata["k"] != "v" {
		t.Errorf("after copy with REPLACE: type %q, metadata %v", aws.ToString(h2.ContentType), h2.Metadata)
	}

	// Deleting.
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantCode(t, "DeleteBucket full", err, "BucketNotEmpty")
	must[*s3.DeleteObjectOutput](t, "DeleteObject")(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("big.bin")}))
	must[*s3.DeleteObjectOutput](t, "DeleteObject missing")(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("never")}))
	dm := must[*s3.DeleteObjectsOutput](t, "DeleteObjects")(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("photos"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("small.txt")}, {Key: aws.String("never")}}}}))
	if len(dm.Deleted) != 2 || len(dm.Errors) != 0 {
		t.Errorf("DeleteObjects: %d deleted, %d errors; want 2, 0", len(dm.Deleted), len(dm.Errors))
	}
	must[*s3.DeleteBucketOutput](t, "DeleteBucket")(c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")}))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, "PutObject into a deleted bucket", err, "NoSuchBucket")
	if u, _ := w.db.S3Usage(ctx, a.id); u.Buckets != 1 || u.Objects != 5 {
		t.Errorf("usage = %+v, want 1 bucket and 5 objects", u)
	}
}

func md5sum(b []byte) []byte {
	h := newMD5()
	h.Write(b)
	return h.Sum(nil)
}

func TestListObjectsV2(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	c := w.client(w.account())
	mkBucket(t, c, "bkt")
	keys := []string{"a.txt", "photos/2024-01/a.jpg", "photos/2024-01/b.jpg", "photos/2024-02/c.jpg", "photos/2025/d.jpg", "photos/readme", "z"}
	for _, k := range keys {
		put(t, c, "bkt", k, []byte(k))
	}
	list := func(in s3.ListObjectsV2Input) (keys, prefixes []string, next *string) {
		t.Helper()
		in.Bucket = aws.String("bkt")
		out, err := c.ListObjectsV2(ctx, &in)
		if err != nil {
			t.Fatalf("ListObjectsV2(%+v): %v", in, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, *p.Prefix)
		}
		return keys, prefixes, out.NextContinuationToken
	}
	tests := []struct {
		name           string
		in             s3.ListObjectsV2Input
		keys, prefixes []string
	}{
		{"all", s3.ListObjectsV2Input{}, keys, nil},
		{"top level", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"a.txt", "z"}, []string{"photos/"}},
		{"folder", s3.ListObjectsV2Input{Prefix: aws.String("photos/"), Delimiter: aws.String("/")},
			[]string{"photos/readme"}, []string{"photos/2024-01/", "photos/2024-02/", "photos/2025/"}},
		// The prefix ends inside a segment: the common prefixes run to the
		// next delimiter after it.
		{"prefix inside a segment", s3.ListObjectsV2Input{Prefix: aws.String("photos/2024"), Delimiter: aws.String("/")},
			nil, []string{"photos/2024-01/", "photos/2024-02/"}},
		{"start-after a key that does not exist", s3.ListObjectsV2Input{StartAfter: aws.String("photos/2024-01/aa")},
			[]string{"photos/2024-01/b.jpg", "photos/2024-02/c.jpg", "photos/2025/d.jpg", "photos/readme", "z"}, nil},
		{"prefix only", s3.ListObjectsV2Input{Prefix: aws.String("photos/2024-0")},
			[]string{"photos/2024-01/a.jpg", "photos/2024-01/b.jpg", "photos/2024-02/c.jpg"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, p, next := list(tt.in)
			if !slices.Equal(k, tt.keys) || !slices.Equal(p, tt.prefixes) {
				t.Errorf("keys %q prefixes %q, want %q and %q", k, p, tt.keys, tt.prefixes)
			}
			if next != nil {
				t.Errorf("NextContinuationToken %q on a complete listing", *next)
			}
		})
	}
	// Pages of two, keys and common prefixes counted together.
	var gotKeys, gotPrefixes []string
	var token *string
	for range 10 {
		in := s3.ListObjectsV2Input{Prefix: aws.String("photos/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), ContinuationToken: token}
		k, p, next := list(in)
		if len(k)+len(p) > 2 {
			t.Errorf("page of %d items, want at most 2", len(k)+len(p))
		}
		gotKeys, gotPrefixes = append(gotKeys, k...), append(gotPrefixes, p...)
		if token = next; token == nil {
			break
		}
	}
	if !slices.Equal(gotKeys, []string{"photos/readme"}) || !slices.Equal(gotPrefixes, []string{"photos/2024-01/", "photos/2024-02/", "photos/2025/"}) {
		t.Errorf("paged listing: keys %q prefixes %q", gotKeys, gotPrefixes)
	}
	// The paginator of the SDK over single-key pages.
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(1)})
	var all []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			all = append(all, *o.Key)
		}
	}
	if !slices.Equal(all, keys) {
		t.Errorf("paginator: %q, want %q", all, keys)
	}
}

func TestAccountsAreSeparate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	alice, bob := w.client(w.account()), w.client(w.account())
	mkBucket(t, alice, "photos")
	mkBucket(t, bob, "photos") // bucket names are per account
	put(t, alice, "photos", "k", []byte("alice's"))
	_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k")})
	wantCode(t, "bob reads alice's key", err, "NoSuchKey")
	mkBucket(t, alice, "private")
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("k")})
	wantCode(t, "bob reads alice's bucket", err, "NoSuchBucket")
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, "bob writes alice's bucket", err, "NoSuchBucket")
	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("private")})
	wantCode(t, "bob deletes alice's bucket", err, "NoSuchBucket")
	lb := must[*s3.ListBucketsOutput](t, "ListBuckets")(bob.ListBuckets(ctx, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 {
		t.Errorf("bob lists %d buckets, want only his own", len(lb.Buckets))
	}

	// A wrong secret is refused before anything happens.
	wrong := w.account()
	wrong.key.Secret = strings.Repeat("x", 40)
	_, err = w.client(wrong).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sneaky")})
	wantCode(t, "wrong secret", err, "SignatureDoesNotMatch")
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, withLimits(s3svc.Limits{MaxObjectSize: 1 << 20, MaxBytes: 2<<20 + 100, MaxObjects: 3, MaxBuckets: 2}))
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "one")
	mkBucket(t, c, "two")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("three")})
	wantCode(t, "third bucket", err, "TooManyBuckets")

	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("one"), Key: aws.String("huge"), Body: bytes.NewReader(randomBytes(1<<20 + 1))})
	wantCode(t, "object over MaxObjectSize", err, "EntityTooLarge")
	put(t, c, "one", "a", randomBytes(1<<20))
	put(t, c, "two", "b", randomBytes(1<<20))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("one"), Key: aws.String("c"), Body: bytes.NewReader(randomBytes(200))})
	wantCode(t, "past MaxBytes", err, "QuotaExceeded")
	put(t, c, "one", "a", randomBytes(10)) // replacing frees room
	put(t, c, "one", "c", randomBytes(10))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("one"), Key: aws.String("d"), Body: bytes.NewReader(randomBytes(10))})
	wantCode(t, "past MaxObjects", err, "QuotaExceeded")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("two"), Key: aws.String("copy"), CopySource: aws.String("two/b")})
	wantCode(t, "copy past MaxObjects", err, "QuotaExceeded")
	if u, _ := w.db.S3Usage(ctx, a.id); u.Objects != 3 || u.Bytes != 1<<20+20 {
		t.Errorf("usage = %+v, want 3 objects of %d bytes", u, 1<<20+20)
	}
}

func TestTaggingAndMetadata(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	c := w.client(w.account())
	mkBucket(t, c, "bkt")
	must[*s3.PutObjectOutput](t, "PutObject with tags")(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		Body: strings.NewReader("x"), Tagging: aws.String("team=red&stage=dev"),
		Metadata: map[string]string{"plain": "ascii", "city": "Zürich ☃", "encoded": "=?UTF-8?Q?caf=C3=A9?="}}))
	tags := func() map[string]string {
		out := must[*s3.GetObjectTaggingOutput](t, "GetObjectTagging")(c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")}))
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[*tg.Key] = *tg.Value
		}
		return m
	}
	if got := tags(); len(got) != 2 || got["team"] != "red" {
		t.Errorf("tags at put = %v", got)
	}
	must[*s3.PutObjectTaggingOutput](t, "PutObjectTagging")(c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("owner"), Value: aws.String("me")}}}}))
	if got := tags(); len(got) != 1 || got["owner"] != "me" {
		t.Errorf("tags after PutObjectTagging = %v", got)
	}
	if got := get(t, c, "bkt", "k"); string(got) != "x" {
		t.Errorf("tagging changed the body: %q", got)
	}
	must[*s3.DeleteObjectTaggingOutput](t, "DeleteObjectTagging")(c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")}))
	if got := tags(); len(got) != 0 {
		t.Errorf("tags after DeleteObjectTagging = %v", got)
	}
	// Non-ASCII metadata: stored decoded, answered RFC 2047-encoded.
	h := must[*s3.HeadObjectOutput](t, "HeadObject")(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}))
	want := map[string]string{"plain": "ascii", "city": "=?UTF-8?Q?Z=C3=BCrich_=E2=98=83?=", "encoded": "=?UTF-8?Q?caf=C3=A9?="}
	for k, v := range want {
		if h.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, h.Metadata[k], v)
		}
	}
}

func TestBodyChecks(t *testing.T) {
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "bkt")
	old := []byte("the old object")
	put(t, c, "bkt", "k", old)
	intact := func(what string) {
		t.Helper()
		if got := get(t, c, "bkt", "k"); !bytes.Equal(got, old) {
			t.Errorf("after %s the object is %q, want the old one", what, got)
		}
	}
	body := randomBytes(300 << 10)
	tests := []struct {
		name   string
		hash   string
		header map[string]string
		code   string
	}{
		{"wrong x-amz-content-sha256", sha256Hex([]byte("something else")), nil, "XAmzContentSHA256Mismatch"},
		{"bad Content-MD5", "", map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "BadDigest"},
		{"bad x-amz-checksum-crc32", "", map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, "BadDigest"},
	}
	for _, tt := range tests {
		resp := w.raw(a, "PUT", "/bkt/k", body, tt.hash, tt.header)
		got := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusBadRequest || xmlCode(got) != tt.code {
			t.Errorf("%s: %d %s, want 400 %s", tt.name, resp.StatusCode, xmlCode(got), tt.code)
		}
		intact(tt.name)
	}
	// The right hash is accepted, streamed and checked.
	resp := w.raw(a, "PUT", "/bkt/new", body, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("signed PUT with its hash: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	if got := get(t, c, "bkt", "new"); !bytes.Equal(got, body) {
		t.Error("body put with its hash came back different")
	}
}
