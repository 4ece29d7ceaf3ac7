package main

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliText runs the CLI, which must succeed, and returns what it printed.
func (c *awsCLI) cliText(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(nil, args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fileSHA256 is the hex SHA-256 of a file's contents.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// httpGet fetches a URL with net/http and returns the status and body.
func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAWSCLIS3 drives a learner's S3 with the real AWS CLI v2 through the
// whole program: the high-level s3 commands (a 20 MB file goes up and comes
// down in parts, the CLI's multipart threshold being 8 MB), listings,
// presigned URLs fetched with net/http, the s3api object calls with
// metadata, delimiter listings and tags, and a wrong secret refused.
func TestAWSCLIS3(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	data := shortTempDir(t)
	s := startWithSandbox(t, data)
	keys := addUser(t, data, "s3cli@example.com")
	aws := newAWSCLI(t, s.AWSURL, keys)
	const bucket = "cli-bucket"

	if out := aws.cliText("s3", "mb", "s3://"+bucket); strings.TrimSpace(out) != "make_bucket: "+bucket {
		t.Errorf("s3 mb printed %q", out)
	}
	if out := aws.cliText("s3", "ls"); !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ` + bucket + `$`).MatchString(out) {
		t.Errorf("s3 ls does not list the bucket:\n%s", out)
	}

	// 20 MB of random bytes: three parts of the CLI's 8 MB chunks up, and
	// ranged GETs of the same size down.
	big := filepath.Join(aws.dir, "big.bin")
	buf := make([]byte, 20<<20)
	rand.Read(buf)
	if err := os.WriteFile(big, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	want := fileSHA256(t, big)
	out, errOut, err := aws.exec(nil, "--debug", "s3", "cp", big, "s3://"+bucket+"/big/big.bin")
	if err != nil {
		t.Fatalf("s3 cp up: %v\n%s\n%s", err, out, lastLines(errOut, 40))
	}
	if !strings.Contains(out, "upload: ./big.bin to s3://"+bucket+"/big/big.bin") {
		t.Errorf("s3 cp up printed %q", out)
	}
	if n := strings.Count(errOut, "CompleteMultipartUpload"); n == 0 || !strings.Contains(errOut, "UploadPart") {
		t.Errorf("the 20 MB upload was not a multipart upload (no UploadPart/CompleteMultipartUpload in --debug)")
	}
	var head struct {
		ContentLength int64
		ETag          string
	}
	aws.json(&head, "s3api", "head-object", "--bucket", bucket, "--key", "big/big.bin")
	// S3 gives a multipart object the MD5 of its parts' MD5s and the part
	// count; lambdalab gives the whole body's MD5 (see cloud/s3's
	// CompleteMultipartUpload). Either names these bytes.
	whole := md5.Sum(buf)
	var partSums []byte
	for off := 0; off < len(buf); off += 8 << 20 {
		s := md5.Sum(buf[off:min(off+8<<20, len(buf))])
		partSums = append(partSums, s[:]...)
	}
	ofParts := md5.Sum(partSums)
	if etags := []string{`"` + hex.EncodeToString(whole[:]) + `"`, `"` + hex.EncodeToString(ofParts[:]) + `-3"`}; head.ContentLength != 20<<20 || !slices.Contains(etags, head.ETag) {
		t.Errorf("head-object of the multipart upload: %+v, want 20 MiB and one of the ETags %q", head, etags)
	}

	down := filepath.Join(aws.dir, "down.bin")
	out, errOut, err = aws.exec(nil, "--debug", "s3", "cp", "s3://"+bucket+"/big/big.bin", down)
	if err != nil {
		t.Fatalf("s3 cp down: %v\n%s\n%s", err, out, lastLines(errOut, 40))
	}
	if !strings.Contains(out, "download: s3://"+bucket+"/big/big.bin to ./down.bin") {
		t.Errorf("s3 cp down printed %q", out)
	}
	ranges := regexp.MustCompile(`'Range': 'bytes=\d+-\d+'`).FindAllString(errOut, -1)
	if len(ranges) < 3 {
		t.Errorf("the download made %d ranged GETs, want at least 3: %v", len(ranges), ranges)
	}
	if got := fileSHA256(t, down); got != want {
		t.Errorf("downloaded file SHA-256 %s, uploaded %s", got, want)
	}
	var part struct {
		ContentLength int64
		ContentRange  string
	}
	aws.json(&part, "s3api", "get-object", "--bucket", bucket, "--key", "big/big.bin", "--range", "bytes=100-199", filepath.Join(aws.dir, "part.bin"))
	if got, _ := os.ReadFile(filepath.Join(aws.dir, "part.bin")); part.ContentLength != 100 || part.ContentRange != "bytes 100-199/20971520" || string(got) != string(buf[100:200]) {
		t.Errorf("ranged get-object: %+v and %d bytes, want bytes 100-199 of 20971520", part, len(got))
	}

	// s3api: an object with a content type and metadata, read back.
	doc := filepath.Join(aws.dir, "a.txt")
	os.WriteFile(doc, []byte("hello from the CLI\n"), 0o644)
	sum := md5.Sum([]byte("hello from the CLI\n"))
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	var put struct{ ETag string }
	aws.json(&put, "s3api", "put-object", "--bucket", bucket, "--key", "docs/a.txt", "--body", doc,
		"--content-type", "text/plain", "--metadata", "owner=ada,lab=s3")
	if put.ETag != etag {
		t.Errorf("put-object ETag %s, want %s", put.ETag, etag)
	}
	var got struct {
		ContentLength int64
		ContentType   string
		ETag          string
		Metadata      map[string]string
	}
	aws.json(&got, "s3api", "get-object", "--bucket", bucket, "--key", "docs/a.txt", filepath.Join(aws.dir, "a.out"))
	if body, _ := os.ReadFile(filepath.Join(aws.dir, "a.out")); string(body) != "hello from the CLI\n" || got.ETag != etag ||
		got.ContentType != "text/plain" || got.Metadata["owner"] != "ada" || got.Metadata["lab"] != "s3" || len(got.Metadata) != 2 {
		t.Errorf("get-object: %+v, body %q", got, body)
	}
	got.Metadata = nil
	aws.json(&got, "s3api", "head-object", "--bucket", bucket, "--key", "docs/a.txt")
	if got.ContentLength != 19 || got.ContentType != "text/plain" || got.ETag != etag || got.Metadata["owner"] != "ada" {
		t.Errorf("head-object: %+v", got)
	}
	aws.fails("404", nil, "s3api", "head-object", "--bucket", bucket, "--key", "docs/none.txt")

	for _, k := range []string{"docs/sub/b.txt", "docs/sub/c.txt", "docs/x/y.txt", "other.txt", "docsfile.txt"} {
		aws.json(nil, "s3api", "put-object", "--bucket", bucket, "--key", k, "--body", doc)
	}
	var listing struct {
		KeyCount       int
		Prefix         string
		Delimiter      string
		Contents       []struct{ Key string }
		CommonPrefixes []struct{ Prefix string }
	}
	// --no-paginate: the CLI's paginated output keeps only Contents and
	// CommonPrefixes.
	aws.json(&listing, "s3api", "list-objects-v2", "--no-paginate", "--bucket", bucket, "--prefix", "docs/", "--delimiter", "/")
	var keysSeen, prefixes []string
	for _, c := range listing.Contents {
		keysSeen = append(keysSeen, c.Key)
	}
	for _, p := range listing.CommonPrefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	if !slices.Equal(keysSeen, []string{"docs/a.txt"}) || !slices.Equal(prefixes, []string{"docs/sub/", "docs/x/"}) ||
		listing.KeyCount != 3 || listing.Prefix != "docs/" || listing.Delimiter != "/" {
		t.Errorf("list-objects-v2 --prefix docs/ --delimiter /: %+v; want docs/a.txt and the prefixes docs/sub/, docs/x/ (KeyCount 3)", listing)
	}
	listing.Contents, listing.CommonPrefixes = nil, nil
	aws.json(&listing, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "docs/sub/", "--delimiter", "/")
	if len(listing.Contents) != 2 || len(listing.CommonPrefixes) != 0 {
		t.Errorf("list-objects-v2 --prefix docs/sub/: %+v, want its two keys", listing)
	}

	out = aws.cliText("s3", "ls", "s3://"+bucket)
	for _, re := range []string{`(?m)^\s+PRE big/$`, `(?m)^\s+PRE docs/$`, `(?m)^\S+ \S+\s+19 other\.txt$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("s3 ls s3://%s lacks %s:\n%s", bucket, re, out)
		}
	}
	out = aws.cliText("s3", "ls", "--recursive", "s3://"+bucket)
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 4 {
			listed = append(listed, f[2]+" "+f[3])
		}
	}
	wantListed := []string{"20971520 big/big.bin", "19 docs/a.txt", "19 docs/sub/b.txt", "19 docs/sub/c.txt", "19 docs/x/y.txt", "19 docsfile.txt", "19 other.txt"}
	if !slices.Equal(listed, wantListed) {
		t.Errorf("s3 ls --recursive listed %q, want %q", listed, wantListed)
	}

	// Pages of one key or prefix each, continued by token, and a start
	// after a key that is not an object.
	var paged struct {
		Contents       []struct{ Key string }
		CommonPrefixes []struct{ Prefix string }
	}
	aws.json(&paged, "s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "1", "--delimiter", "/")
	var entries []string
	for _, c := range paged.Contents {
		entries = append(entries, c.Key)
	}
	for _, p := range paged.CommonPrefixes {
		entries = append(entries, p.Prefix)
	}
	slices.Sort(entries)
	if want := []string{"big/", "docs/", "docsfile.txt", "other.txt"}; !slices.Equal(entries, want) {
		t.Errorf("list-objects-v2 --delimiter / in pages of 1: %q, want %q", entries, want)
	}
	paged.Contents = nil
	aws.json(&paged, "s3api", "list-objects-v2", "--bucket", bucket, "--start-after", "docs/sub/bz")
	entries = nil
	for _, c := range paged.Contents {
		entries = append(entries, c.Key)
	}
	if want := []string{"docs/sub/c.txt", "docs/x/y.txt", "docsfile.txt", "other.txt"}; !slices.Equal(entries, want) {
		t.Errorf("list-objects-v2 --start-after docs/sub/bz: %q, want %q", entries, want)
	}

	// A server-side copy and a move.
	out = aws.cliText("s3", "cp", "s3://"+bucket+"/docs/a.txt", "s3://"+bucket+"/copies/a.txt")
	if !strings.Contains(out, "copy: s3://"+bucket+"/docs/a.txt to s3://"+bucket+"/copies/a.txt") {
		t.Errorf("s3 cp between keys printed %q", out)
	}
	aws.cliText("s3", "mv", "s3://"+bucket+"/copies/a.txt", "s3://"+bucket+"/copies/moved.txt")
	aws.json(&got, "s3api", "head-object", "--bucket", bucket, "--key", "copies/moved.txt")
	if got.ETag != etag || got.ContentType != "text/plain" || got.Metadata["owner"] != "ada" {
		t.Errorf("head-object of the copied and moved object: %+v, want the original's ETag, type and metadata", got)
	}
	aws.fails("404", nil, "s3api", "head-object", "--bucket", bucket, "--key", "copies/a.txt")
	aws.cliText("s3", "rm", "s3://"+bucket+"/copies/moved.txt")

	// Tags.
	aws.json(nil, "s3api", "put-object-tagging", "--bucket", bucket, "--key", "docs/a.txt",
		"--tagging", `{"TagSet": [{"Key": "env", "Value": "lab"}, {"Key": "team", "Value": "a b"}]}`)
	var tags struct{ TagSet []struct{ Key, Value string } }
	aws.json(&tags, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "docs/a.txt")
	slices.SortFunc(tags.TagSet, func(a, b struct{ Key, Value string }) int { return strings.Compare(a.Key, b.Key) })
	if len(tags.TagSet) != 2 || tags.TagSet[0] != (struct{ Key, Value string }{"env", "lab"}) || tags.TagSet[1] != (struct{ Key, Value string }{"team", "a b"}) {
		t.Errorf("get-object-tagging: %+v, want env=lab and team=a b", tags.TagSet)
	}
	aws.json(nil, "s3api", "get-object", "--bucket", bucket, "--key", "docs/a.txt", filepath.Join(aws.dir, "tagged.out"))
	if after, _ := os.ReadFile(filepath.Join(aws.dir, "tagged.out")); string(after) != "hello from the CLI\n" {
		t.Errorf("tagging changed the object to %q", after)
	}

	// A presigned URL works with any HTTP client; a tampered one does not.
	presigned := strings.TrimSpace(aws.cliText("s3", "presign", "s3://"+bucket+"/docs/a.txt", "--expires-in", "300"))
	u, err := url.Parse(presigned)
	if err != nil || u.Query().Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || u.Query().Get("X-Amz-Expires") != "300" {
		t.Fatalf("s3 presign printed %q (%v), want a SigV4 URL valid 300 s", presigned, err)
	}
	if code, body := httpGet(t, presigned); code != 200 || body != "hello from the CLI\n" {
		t.Errorf("GET the presigned URL: %d %q", code, body)
	}
	tampered := map[string]string{}
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	q.Set("X-Amz-Signature", strings.Map(func(r rune) rune {
		if r == '0' {
			return '1'
		}
		return '0'
	}, sig))
	tampered["signature"] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: q.Encode()}).String()
	q = u.Query()
	q.Set("X-Amz-Expires", "604800")
	tampered["expiry"] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: q.Encode()}).String()
	tampered["other key"] = strings.Replace(presigned, "/docs/a.txt?", "/other.txt?", 1)
	for what, link := range tampered {
		code, body := httpGet(t, link)
		if code != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Errorf("presigned URL with a changed %s: %d %.300s, want 403 SignatureDoesNotMatch", what, code, body)
		}
	}

	// An expired URL is refused.
	short := strings.TrimSpace(aws.cliText("s3", "presign", "s3://"+bucket+"/docs/a.txt", "--expires-in", "1"))
	time.Sleep(2 * time.Second)
	if code, body := httpGet(t, short); code != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") || !strings.Contains(body, "Request has expired") {
		t.Errorf("GET an expired presigned URL: %d %.300s, want 403 AccessDenied, Request has expired", code, body)
	}

	// Remove everything under a prefix, then everything.
	out = aws.cliText("s3", "rm", "--recursive", "s3://"+bucket+"/docs/")
	if n := strings.Count(out, "delete: s3://"+bucket+"/docs/"); n != 4 {
		t.Errorf("s3 rm --recursive docs/ printed %d deletes, want 4:\n%s", n, out)
	}
	out = aws.cliText("s3", "rm", "--recursive", "s3://"+bucket)
	if n := strings.Count(out, "delete: s3://"+bucket+"/"); n != 3 {
		t.Errorf("s3 rm --recursive printed %d deletes, want 3:\n%s", n, out)
	}
	var empty struct {
		KeyCount int
		Contents []struct{ Key string }
	}
	aws.json(&empty, "s3api", "list-objects-v2", "--no-paginate", "--bucket", bucket)
	if empty.KeyCount != 0 || len(empty.Contents) != 0 {
		t.Errorf("after s3 rm --recursive: %+v, want an empty bucket", empty)
	}

	wrong := []string{"AWS_SECRET_ACCESS_KEY=" + strings.Repeat("x", len(keys["AWS_SECRET_ACCESS_KEY"]))}
	aws.fails("SignatureDoesNotMatch", wrong, "s3", "ls", "s3://"+bucket)
	aws.fails("SignatureDoesNotMatch", wrong, "s3api", "put-object", "--bucket", bucket, "--key", "sneaky.txt", "--body", doc)
	aws.json(&empty, "s3api", "list-objects-v2", "--no-paginate", "--bucket", bucket)
	if empty.KeyCount != 0 {
		t.Errorf("a request with a wrong secret wrote an object: %+v", empty)
	}
	out = aws.cliText("s3", "rb", "s3://"+bucket)
	if strings.TrimSpace(out) != "remove_bucket: "+bucket {
		t.Errorf("s3 rb printed %q", out)
	}
}
