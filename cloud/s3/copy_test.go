package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func randomBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// ageFiles makes every body file look two hours old, past Sweep's grace.
func ageFiles(t *testing.T, dir string) int {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "objects"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		return os.Chtimes(path, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCopyAccount copies an account with bodies in rows and in files, then
// changes everything in the copy: the original's rows (AccountDigest) and
// bodies stay as they were, and Sweep, with every file past its grace,
// keeps all the files the original names.
func TestCopyAccount(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	orig, scratch := w.account(), w.account()
	co := w.client(orig)
	target := "arn:aws:lambda:us-east-1:" + orig.id + ":function:thumbs:live"
	w.funcs.allowed[target] = true

	bodies := map[[2]string][]byte{
		{"photos", "small.txt"}:  []byte("a small body kept in its row"),
		{"photos", "big.bin"}:    randomBody(t, 300<<10),
		{"photos", "other.bin"}:  randomBody(t, 200<<10),
		{"docs", "report.pdf"}:   randomBody(t, 150<<10),
		{"gone", "soon.bin"}:     randomBody(t, 140<<10),
		{"gone", "also/soon.md"}: []byte("# soon gone"),
	}
	for _, b := range []string{"photos", "docs", "gone"} {
		if _, err := co.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for k, body := range bodies {
		put(t, co, k[0], k[1], body)
	}
	if _, err := co.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("photos"),
		NotificationConfiguration: &types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{
			LambdaFunctionArn: aws.String(target), Events: []types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	before, err := w.db.AccountDigest(ctx, orig.id)
	if err != nil {
		t.Fatal(err)
	}

	if err := w.svc.CopyAccount(ctx, orig.id, scratch.id); err != nil {
		t.Fatalf("CopyAccount: %v", err)
	}
	cs := w.client(scratch)
	for k, body := range bodies {
		if got := get(t, cs, k[0], k[1]); !bytes.Equal(got, body) {
			t.Errorf("the copy's %s/%s has %d bytes that differ from the original's %d", k[0], k[1], len(got), len(body))
		}
		o, err := w.db.S3Object(ctx, orig.id, k[0], k[1], false)
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.db.S3Object(ctx, scratch.id, k[0], k[1], false)
		if err != nil {
			t.Fatal(err)
		}
		if (o.File == "") != (len(body) <= 128<<10) || (c.File == "") != (o.File == "") || (o.File != "" && c.File == o.File) {
			t.Errorf("%s/%s: original's file %q, copy's %q; want bodies over 128 KiB in files, each its own", k[0], k[1], o.File, c.File)
		}
	}
	n, err := cs.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("photos")})
	if want := "arn:aws:lambda:us-east-1:" + scratch.id + ":function:thumbs:live"; err != nil ||
		len(n.LambdaFunctionConfigurations) != 1 || aws.ToString(n.LambdaFunctionConfigurations[0].LambdaFunctionArn) != want {
		t.Errorf("the copy's notification = %+v, %v; want one configuration for %s", n, err, want)
	}

	// Change everything in the copy.
	put(t, cs, "photos", "big.bin", randomBody(t, 260<<10))
	put(t, cs, "photos", "small.txt", []byte("changed"))
	put(t, cs, "photos", "new.bin", randomBody(t, 180<<10))
	if _, err := cs.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("docs"), Key: aws.String("copied.pdf"),
		CopySource: aws.String("photos/other.bin")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"report.pdf"} {
		if _, err := cs.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("docs"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("gone"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("soon.bin")}, {Key: aws.String("also/soon.md")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("other.bin")}); err != nil {
		t.Fatal(err)
	}

	checkOriginal := func(when string) {
		t.Helper()
		if after, err := w.db.AccountDigest(ctx, orig.id); err != nil || after != before {
			t.Errorf("%s: the original's digest changed (%v)", when, err)
		}
		for k, body := range bodies {
			if got := get(t, co, k[0], k[1]); !bytes.Equal(got, body) {
				t.Errorf("%s: the original's %s/%s changed", when, k[0], k[1])
			}
		}
	}
	checkOriginal("after changes in the copy")

	dir := filepath.Join(w.dir, "s3")
	ageFiles(t, dir)
	removed, err := w.svc.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 0 {
		// Every replaced or deleted body was removed at once; Sweep finds
		// only what a crash leaves.
		t.Logf("sweep removed %d files", removed)
	}
	checkOriginal("after a sweep")
	if got := get(t, cs, "docs", "copied.pdf"); !bytes.Equal(got, bodies[[2]string{"photos", "other.bin"}]) {
		t.Errorf("the copy's copied.pdf lost its body once the copy's other.bin was deleted")
	}

	// Deleting the scratch account is the cascade: its files are left to
	// Sweep, which takes them and keeps the original's.
	if err := w.db.DeleteAccount(ctx, scratch.id); err != nil {
		t.Fatal(err)
	}
	ageFiles(t, dir)
	removed, err = w.svc.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The copy's big.bin (new), new.bin and copied.pdf.
	if removed != 3 {
		t.Errorf("sweep after deleting the copy removed %d files, want the copy's 3", removed)
	}
	checkOriginal("after deleting the copy")
	if left := ageFiles(t, dir); left != 4 {
		t.Errorf("%d body files left, want the original's 4", left)
	}
}

// TestCopyAccountRefusesUsedTarget: a copy goes into an empty scratch
// account only, and a refused copy leaves no file behind.
func TestCopyAccountRefusesUsedTarget(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	orig, scratch := w.account(), w.account()
	co, cs := w.client(orig), w.client(scratch)
	for _, c := range []*s3.Client{co, cs} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
			t.Fatal(err)
		}
	}
	put(t, co, "bkt", "big", randomBody(t, 200<<10))
	dir := filepath.Join(w.dir, "s3")
	files := ageFiles(t, dir)
	if err := w.svc.CopyAccount(ctx, orig.id, scratch.id); err == nil {
		t.Fatal("a copy into an account with a bucket succeeded")
	}
	if n := ageFiles(t, dir); n != files {
		t.Errorf("a refused copy left %d files, want %d", n, files)
	}
}
