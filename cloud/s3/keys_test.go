package s3_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// counting is a transport that notes the request line of every request
// the SDK sends, retries included.
type counting struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []string
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.sent = append(c.sent, r.Method+" "+r.URL.RequestURI())
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *counting) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sent
	c.sent = nil
	return out
}

// status is the HTTP status of an SDK error, 0 if it has none.
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestKeysThatAreNotUTF8 sends keys S3 refuses (not UTF-8) or the store
// cannot keep (a NUL) through the SDK, with its default retryer: each
// operation is one request, percent-encoded as SDKs send keys, answered 400
// InvalidURI (a 500 would be sent three times), and nothing is stored.
func TestKeysThatAreNotUTF8(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	tr := &counting{next: w.srv.Client().Transport}
	c := w.client(a, func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: tr} })
	mkBucket(t, c, "bkt")
	put(t, c, "bkt", "ok", []byte("kept"))
	must[*s3.CreateMultipartUploadOutput](t, "CreateMultipartUpload ok")(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("ok")}))
	tr.take()

	for _, key := range []string{"b\xff", "a\x00b"} {
		escaped := url.PathEscape(key) // b%FF, a%00b
		ops := []struct {
			name string
			call func() error
		}{
			{"PutObject", func() error {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: strings.NewReader("data")})
				return err
			}},
			{"GetObject", func() error {
				_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
				return err
			}},
			{"HeadObject", func() error {
				_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
				return err
			}},
			{"DeleteObject", func() error {
				_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
				return err
			}},
			{"CreateMultipartUpload", func() error {
				_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
				return err
			}},
			{"UploadPart", func() error {
				_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key),
					UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
				return err
			}},
			{"PutObjectTagging", func() error {
				_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String(key),
					Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
				return err
			}},
			{"GetObjectTagging", func() error {
				_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
				return err
			}},
			{"CopyObject to it", func() error {
				_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), CopySource: aws.String("bkt/ok")})
				return err
			}},
		}
		for _, op := range ops {
			err := op.call()
			sent := tr.take()
			if op.name == "HeadObject" {
				// A HEAD answer has no body, so no code: the status says it.
				if status(err) != http.StatusBadRequest {
					t.Errorf("%s %q: %v, want a 400", op.name, key, err)
				}
			} else {
				wantCode(t, op.name+" "+escaped, err, "InvalidURI")
				if status(err) != http.StatusBadRequest {
					t.Errorf("%s %q: status %d, want 400", op.name, key, status(err))
				}
			}
			if len(sent) != 1 || !strings.Contains(sent[0], "/bkt/"+escaped) {
				t.Errorf("%s %q: sent %q, want one request for /bkt/%s", op.name, key, sent, escaped)
			}
		}

		// The source of a copy is a header the client percent-encodes.
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/" + escaped)})
		wantCode(t, "CopyObject from "+escaped, err, "InvalidURI")
		if sent := tr.take(); len(sent) != 1 {
			t.Errorf("CopyObject from %s: %d requests, want 1", escaped, len(sent))
		}

		// A listing bound may be any bytes; it selects nothing here. (The
		// answer echoes the prefix, and XML 1.0 has no NUL: it is
		// url-encoded, as S3 asks of clients for such names.)
		l := must[*s3.ListObjectsV2Output](t, "ListObjectsV2 prefix "+escaped)(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"),
			Prefix: aws.String(key), EncodingType: types.EncodingTypeUrl}))
		if len(l.Contents) != 0 {
			t.Errorf("ListObjectsV2 prefix %s: %d keys, want none", escaped, len(l.Contents))
		}
		tr.take()
	}

	l := must[*s3.ListObjectsV2Output](t, "ListObjectsV2")(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}))
	if len(l.Contents) != 1 || aws.ToString(l.Contents[0].Key) != "ok" {
		var keys []string
		for _, o := range l.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		t.Errorf("keys after the refusals = %q, want [ok]", keys)
	}
	if got := get(t, c, "bkt", "ok"); string(got) != "kept" {
		t.Errorf("GetObject ok = %q, want kept", got)
	}
	ups := must[*s3.ListMultipartUploadsOutput](t, "ListMultipartUploads")(c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")}))
	if len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].Key) != "ok" {
		t.Errorf("%d multipart uploads after the refusals, want the one of ok", len(ups.Uploads))
	}
	if u, _ := w.db.S3Usage(ctx, a.id); u.Objects != 1 || u.Bytes != int64(len("kept")) {
		t.Errorf("usage = %+v, want the one object ok", u)
	}
	must[*s3.DeleteObjectOutput](t, "DeleteObject ok")(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ok")}))
}
