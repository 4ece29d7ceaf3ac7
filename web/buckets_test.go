package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/inproc"
)

// testS3 is an S3 client of the account, as the learner's CLI would be.
func testS3(t *testing.T, ls *labSite, account string) *s3sdk.Client {
	t.Helper()
	keys, err := ls.db.AccountKeys(context.Background(), account)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of %s: %v (%d)", account, err, len(keys))
	}
	return inproc.S3(ls.endpoint, keys[len(keys)-1])
}

// makeBuckets creates buckets in the account unless it has them already
// (the lab's set-up may have made them).
func makeBuckets(t *testing.T, cl *s3sdk.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := cl.CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String(n)})
		var api smithy.APIError
		if errors.As(err, &api) && (api.ErrorCode() == "BucketAlreadyOwnedByYou" || api.ErrorCode() == "BucketAlreadyExists") {
			continue
		}
		if err != nil {
			t.Fatalf("create bucket %s: %v", n, err)
		}
	}
}

// objectBody is an object's content, or "" and false when it is missing.
func objectBody(t *testing.T, cl *s3sdk.Client, bucket, key string) (string, bool) {
	t.Helper()
	out, err := cl.GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if s3Missing(err) {
		return "", false
	}
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b), true
}

// uploadFile posts a file through the panel's upload form, as a
// same-origin browser does.
func uploadFile(c *client, path string, fields map[string]string, filename string, body io.Reader) response {
	c.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		if filename != "" {
			fw, err := mw.CreateFormFile("file", filename)
			if err == nil {
				_, err = io.Copy(fw, body)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", c.base+path, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

const uploadPath = "/labs/s3-transform/buckets/raw-logs/objects?tab=buckets"

// TestBucketsBrowse: through the Buckets panel a learner lists their
// buckets, uploads, lists folders, views text escaped, downloads as an
// attachment, and deletes; mistakes and S3's refusals come back in place.
func TestBucketsBrowse(t *testing.T) {
	ls := newLabSite(t, nil)
	a, ua := ls.student("buckets@example.com")
	cl := testS3(t, ls, ua.AccountID)
	makeBuckets(t, cl, "raw-logs", "masked-logs", "scratch-a")

	r := a.get("/labs/s3-transform?tab=buckets")
	wantStatus(t, "buckets panel", r, http.StatusOK)
	wantContains(t, "buckets panel", r.body, `data-bucket="raw-logs"`, `data-bucket="masked-logs"`, `data-bucket="scratch-a"`,
		`data-testid="buckets-upload-form"`)
	if strings.Index(r.body, `data-bucket="masked-logs"`) > strings.Index(r.body, `data-bucket="scratch-a"`) {
		t.Error("the lab's buckets are not listed before the learner's own")
	}

	// Upload into a folder: the key ends in /, so the file's name is added.
	r = uploadFile(a, uploadPath, map[string]string{"key": "notes/", "fn": "mask-logs"}, "hello world.txt", strings.NewReader("hello\nworld\n"))
	wantStatus(t, "upload", r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.Contains(loc, "/buckets/raw-logs") || !strings.Contains(loc, "prefix=notes%2F") {
		t.Errorf("upload went back to %q, want the bucket's notes/ folder", loc)
	}
	if got, ok := objectBody(t, cl, "raw-logs", "notes/hello world.txt"); !ok || got != "hello\nworld\n" {
		t.Fatalf("uploaded object = %q (%v)", got, ok)
	}
	r = a.get(loc)
	wantStatus(t, "folder after upload", r, http.StatusOK)
	wantContains(t, "folder after upload", r.body, `data-key="notes/hello world.txt"`, "Uploaded notes/hello world.txt", `data-testid="buckets-flash"`)
	r = a.get("/labs/s3-transform/buckets/raw-logs")
	wantContains(t, "bucket top", r.body, `data-testid="buckets-folder"`, "notes/")
	wantNotContains(t, "bucket top", r.body, `data-key="notes/hello world.txt"`)

	// Download: an attachment with the object's type, never run as a page.
	key := url.QueryEscape("notes/hello world.txt")
	r = a.get("/labs/s3-transform/buckets/raw-logs/object?key=" + key)
	wantStatus(t, "download", r, http.StatusOK)
	if r.body != "hello\nworld\n" {
		t.Errorf("download = %q", r.body)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "hello world.txt") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the object's text/plain", ct)
	}

	// HTML is shown escaped and downloaded sandboxed.
	page := `<script>alert("owned")</script>`
	r = uploadFile(a, uploadPath, map[string]string{"key": "web/page.html"}, "page.html", strings.NewReader(page))
	wantStatus(t, "upload html", r, http.StatusSeeOther)
	r = a.get("/labs/s3-transform/buckets/raw-logs?prefix=web%2F&view=web%2Fpage.html")
	wantStatus(t, "view html", r, http.StatusOK)
	wantContains(t, "view html", r.body, `data-testid="buckets-text"`, "&lt;script&gt;alert(")
	wantNotContains(t, "view html", r.body, page)
	r = a.get("/labs/s3-transform/buckets/raw-logs/object?key=web%2Fpage.html")
	wantStatus(t, "download html", r, http.StatusOK)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("download's CSP = %q, want sandbox", csp)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("HTML download headers %v: want nosniff and an attachment", r.Header)
	}

	// Binary and long objects.
	r = uploadFile(a, uploadPath, map[string]string{"key": "bin/blob.bin"}, "blob.bin", bytes.NewReader([]byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 0xff}))
	wantStatus(t, "upload binary", r, http.StatusSeeOther)
	r = a.get("/labs/s3-transform/buckets/raw-logs?view=bin%2Fblob.bin")
	wantContains(t, "view binary", r.body, `data-testid="buckets-binary"`)
	long := "START-MARKER\n" + strings.Repeat("a log line that goes on\n", 12000) + "END-MARKER\n"
	r = uploadFile(a, uploadPath, map[string]string{"key": "big/long.log"}, "long.log", strings.NewReader(long))
	wantStatus(t, "upload long", r, http.StatusSeeOther)
	r = a.get("/labs/s3-transform/buckets/raw-logs?view=big%2Flong.log")
	wantContains(t, "view long", r.body, `data-testid="buckets-truncated"`, "START-MARKER")
	wantNotContains(t, "view long", r.body, "END-MARKER")

	// Missing things are 404s.
	wantStatus(t, "view a missing key", a.get("/labs/s3-transform/buckets/raw-logs?view=nope.txt"), http.StatusNotFound)
	wantStatus(t, "a missing bucket", a.get("/labs/s3-transform/buckets/no-such-bucket"), http.StatusNotFound)
	wantStatus(t, "download a missing key", a.get("/labs/s3-transform/buckets/raw-logs/object?key=nope.txt"), http.StatusNotFound)

	// Bad uploads, each answered in place.
	r = uploadFile(a, uploadPath, map[string]string{"key": "x/"}, "", nil)
	wantStatus(t, "upload without a file", r, http.StatusUnprocessableEntity)
	wantContains(t, "upload without a file", r.body, "Choose a file to upload.", `data-testid="buckets-error"`, `data-testid="buckets-upload-form"`,
		`name="key" value="x/"`)
	r = uploadFile(a, "/labs/s3-transform/buckets/no-such-bucket/objects?tab=buckets", map[string]string{"key": "a.txt"}, "a.txt", strings.NewReader("x"))
	wantStatus(t, "upload to a missing bucket", r, http.StatusNotFound)
	wantContains(t, "upload to a missing bucket", r.body, "There is no bucket no-such-bucket")
	r = uploadFile(a, uploadPath, map[string]string{"key": strings.Repeat("k", 1100)}, "a.txt", strings.NewReader("x"))
	wantStatus(t, "upload with a key too long", r, http.StatusUnprocessableEntity)
	wantContains(t, "upload with a key too long", r.body, `data-testid="buckets-error"`, "KeyTooLong")
	r = uploadFile(a, uploadPath, map[string]string{"key": "huge.bin"}, "huge.bin", io.LimitReader(zeros{}, maxObjectUpload+1<<20))
	wantStatus(t, "upload over 50 MB", r, http.StatusRequestEntityTooLarge)
	wantContains(t, "upload over 50 MB", r.body, "larger than 50 MB")
	if _, ok := objectBody(t, cl, "raw-logs", "huge.bin"); ok {
		t.Error("the refused upload was stored")
	}

	// Delete, then deleting again says there is nothing.
	del := url.Values{"key": {"notes/hello world.txt"}, "prefix": {"notes/"}, "tab": {"buckets"}}
	r = a.post("/labs/s3-transform/buckets/raw-logs/objects/delete", del)
	wantStatus(t, "delete", r, http.StatusSeeOther)
	if _, ok := objectBody(t, cl, "raw-logs", "notes/hello world.txt"); ok {
		t.Error("the deleted object is still there")
	}
	r = a.get(r.Header.Get("Location"))
	wantContains(t, "after delete", r.body, "Deleted notes/hello world.txt")
	wantNotContains(t, "after delete", r.body, `data-key="notes/hello world.txt"`)
	r = a.post("/labs/s3-transform/buckets/raw-logs/objects/delete", del)
	wantStatus(t, "delete again", r, http.StatusNotFound)
	wantContains(t, "delete again", r.body, "There is no object notes/hello world.txt")

	// Another learner, with buckets of the same names, reaches none of it.
	b, ub := ls.student("buckets-other@example.com")
	makeBuckets(t, testS3(t, ls, ub.AccountID), "raw-logs")
	r = b.get("/labs/s3-transform/buckets/raw-logs?prefix=web%2F")
	wantStatus(t, "other's raw-logs", r, http.StatusOK)
	wantNotContains(t, "other's raw-logs", r.body, `data-key="web/page.html"`, "scratch-a")
	wantStatus(t, "other downloads", b.get("/labs/s3-transform/buckets/raw-logs/object?key=web%2Fpage.html"), http.StatusNotFound)
	wantStatus(t, "other views", b.get("/labs/s3-transform/buckets/raw-logs?view=web%2Fpage.html"), http.StatusNotFound)
	wantStatus(t, "other's scratch-a", b.get("/labs/s3-transform/buckets/scratch-a"), http.StatusNotFound)
	wantStatus(t, "other downloads from scratch-a", b.get("/labs/s3-transform/buckets/scratch-a/object?key=x"), http.StatusNotFound)
	r = b.post("/labs/s3-transform/buckets/raw-logs/objects/delete", url.Values{"key": {"web/page.html"}})
	wantStatus(t, "other deletes", r, http.StatusNotFound)
	if _, ok := objectBody(t, cl, "raw-logs", "web/page.html"); !ok {
		t.Error("another learner's delete removed the first learner's object")
	}
	r = b.post("/labs/s3-transform/buckets/scratch-a/triggers", url.Values{"target": {"x"}, "events": {"s3:ObjectCreated:*"}})
	wantStatus(t, "other adds a trigger to scratch-a", r, http.StatusNotFound)
	r = uploadFile(b, "/labs/s3-transform/buckets/scratch-a/objects?tab=buckets", map[string]string{"key": "planted.txt"}, "p.txt", strings.NewReader("x"))
	wantStatus(t, "other uploads to scratch-a", r, http.StatusNotFound)
	if _, ok := objectBody(t, cl, "scratch-a", "planted.txt"); ok {
		t.Error("another learner wrote into the first learner's bucket")
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestBucketTriggers: a notification added through the page (with the
// permission S3 needs) makes an upload through the page run the lab's
// solution, which writes the masked copy; S3's refusals show in place; a
// loop is warned about; removal stops the function being run.
func TestBucketTriggers(t *testing.T) {
	ls := newLabSite(t, nil)
	a, ua := ls.student("triggers@example.com")
	ctx := context.Background()
	cl := testS3(t, ls, ua.AccountID)
	makeBuckets(t, cl, "raw-logs", "masked-logs")
	lab := ls.lab("s3-transform")
	code, err := fs.ReadFile(lab.FS, path.Join(lab.Solution.Dir, "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	deployPython(t, ls, ua.AccountID, "mask-logs", string(code), map[string]string{"DEST_BUCKET": "masked-logs"}, "")
	fc, err := ls.lambda.GetFunctionConfiguration(ctx, ua.AccountID, "mask-logs", "")
	if err != nil {
		t.Fatal(err)
	}
	arn := fc.FunctionArn
	trigger := func(bucket string, v url.Values) response {
		t.Helper()
		v.Set("tab", "buckets")
		v.Set("fn", "mask-logs")
		return a.post("/labs/s3-transform/buckets/"+bucket+"/triggers", v)
	}

	r := a.get("/labs/s3-transform/buckets/raw-logs")
	wantContains(t, "triggers", r.body, `data-testid="buckets-no-triggers"`, `value="`+arn+`"`)

	// No event: S3 says so, in place, the form refilled.
	r = trigger("raw-logs", url.Values{"id": {"mask-uploads"}, "target": {arn}, "prefix_filter": {"logs/"}})
	wantStatus(t, "trigger without events", r, http.StatusUnprocessableEntity)
	wantContains(t, "trigger without events", r.body, "at least one event", `data-testid="buckets-error"`, `value="mask-uploads"`, `value="logs/"`)
	// No permission: S3 cannot validate the target.
	r = trigger("raw-logs", url.Values{"id": {"mask-uploads"}, "target": {arn}, "events": {"s3:ObjectCreated:*"}, "prefix_filter": {"logs/"}})
	wantStatus(t, "trigger without permission", r, http.StatusUnprocessableEntity)
	wantContains(t, "trigger without permission", r.body, "Unable to validate the following destination configurations", "add-permission")
	// A target from outside the lab is refused before S3 is asked.
	r = trigger("raw-logs", url.Values{"target": {arn + "-other"}, "events": {"s3:ObjectCreated:*"}, "allow": {"1"}})
	wantStatus(t, "trigger to another function", r, http.StatusUnprocessableEntity)

	// With the permission, as the lab's add-permission gives it.
	r = trigger("raw-logs", url.Values{"id": {"mask-uploads"}, "target": {arn}, "events": {"s3:ObjectCreated:*"}, "prefix_filter": {"logs/"}, "allow": {"1"}})
	wantStatus(t, "trigger", r, http.StatusSeeOther)
	ok, err := ls.lambda.ServiceAllowed(ctx, ua.AccountID, arn, "s3.amazonaws.com", "arn:aws:s3:::raw-logs", ua.AccountID)
	if err != nil || !ok {
		t.Fatalf("after the trigger S3 may invoke mask-logs for raw-logs: %v, %v", ok, err)
	}
	r = a.get(r.Header.Get("Location"))
	wantContains(t, "after the trigger", r.body, `data-id="mask-uploads"`, `data-target="`+arn+`"`, "keys starting logs/", "Added a statement")

	upload := func(key, body string) {
		t.Helper()
		r := uploadFile(a, uploadPath, map[string]string{"key": key}, path.Base(key), strings.NewReader(body))
		wantStatus(t, "upload "+key, r, http.StatusSeeOther)
	}
	upload("logs/a.log", "mail ann@example.com\n")
	eventually(t, 60*time.Second, func() string {
		got, ok := objectBody(t, cl, "masked-logs", "logs/a.log")
		if !ok {
			return "masked-logs/logs/a.log has not appeared"
		}
		if got != "mail [email]\n" {
			t.Fatalf("masked copy = %q", got)
		}
		return ""
	})

	// Edit it: only .log keys.
	r = a.get("/labs/s3-transform/buckets/raw-logs?edit=mask-uploads")
	wantContains(t, "edit form", r.body, `name="orig" value="mask-uploads"`, "Edit notification mask-uploads")
	r = trigger("raw-logs", url.Values{"orig": {"mask-uploads"}, "id": {"mask-uploads"}, "target": {arn}, "events": {"s3:ObjectCreated:*"},
		"prefix_filter": {"logs/"}, "suffix_filter": {".log"}, "allow": {"1"}})
	wantStatus(t, "edit", r, http.StatusSeeOther)
	r = a.get(r.Header.Get("Location"))
	wantContains(t, "after edit", r.body, "keys ending .log")
	if strings.Count(r.body, `data-testid="buckets-trigger"`) != 1 {
		t.Error("editing added a notification instead of replacing it")
	}
	// A second one, for keys under sentinel/, shows when events have run.
	r = trigger("raw-logs", url.Values{"id": {"sentinel"}, "target": {arn}, "events": {"s3:ObjectCreated:Put"}, "prefix_filter": {"sentinel/"}, "allow": {"1"}})
	wantStatus(t, "second trigger", r, http.StatusSeeOther)

	// The function writes to masked-logs: triggering it from there loops.
	r = trigger("masked-logs", url.Values{"id": {"loop"}, "target": {arn}, "events": {"s3:ObjectCreated:*"}, "allow": {"1"}})
	wantStatus(t, "looping trigger", r, http.StatusSeeOther)
	r = a.get("/labs/s3-transform/buckets/masked-logs")
	wantContains(t, "looping trigger", r.body, `data-testid="buckets-loop"`, "DEST_BUCKET")
	r = a.post("/labs/s3-transform/buckets/masked-logs/triggers/delete", url.Values{"id": {"loop"}})
	wantStatus(t, "remove the loop", r, http.StatusSeeOther)
	r = a.get("/labs/s3-transform/buckets/raw-logs")
	wantNotContains(t, "raw-logs' triggers", r.body, `data-testid="buckets-loop"`)

	// Another learner sees and removes none of it.
	b, ub := ls.student("triggers-other@example.com")
	makeBuckets(t, testS3(t, ls, ub.AccountID), "raw-logs")
	r = b.get("/labs/s3-transform/buckets/raw-logs")
	wantNotContains(t, "other's triggers", r.body, `data-id="mask-uploads"`, arn)
	r = b.post("/labs/s3-transform/buckets/raw-logs/triggers/delete", url.Values{"id": {"mask-uploads"}})
	wantStatus(t, "other removes", r, http.StatusNotFound)

	// Removed, an upload runs nothing: the sentinel's copy appearing shows
	// the later upload's events have been delivered.
	r = a.post("/labs/s3-transform/buckets/raw-logs/triggers/delete", url.Values{"id": {"mask-uploads"}})
	wantStatus(t, "remove", r, http.StatusSeeOther)
	r = a.get(r.Header.Get("Location"))
	wantNotContains(t, "after remove", r.body, `data-id="mask-uploads"`)
	upload("logs/b.log", "mail bob@example.com\n")
	upload("sentinel/s.log", "sentinel\n")
	eventually(t, 60*time.Second, func() string {
		if _, ok := objectBody(t, cl, "masked-logs", "sentinel/s.log"); !ok {
			return "masked-logs/sentinel/s.log has not appeared"
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		if n, err := ls.lambda.PendingEvents(ctx); err != nil || n > 0 {
			return "events still pending"
		}
		if ls.engine.ConcurrencyInUse(ua.AccountID) > 0 {
			return "an invocation still runs"
		}
		return ""
	})
	if _, ok := objectBody(t, cl, "masked-logs", "logs/b.log"); ok {
		t.Error("an upload after the notification was removed still ran the function")
	}
}
