package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"lambdalab/cloud"
	"lambdalab/store"
)

// The Go side of the service, for other services of the account: Lambda
// keeps async on-failure records in a bucket through it (it satisfies
// cloud/lambda's ObjectStore).

// BucketExists reports whether account owns bucket.
func (s *Service) BucketExists(ctx context.Context, account, bucket string) (bool, error) {
	_, err := s.db.S3Bucket(ctx, account, bucket)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up bucket %s: %w", bucket, err)
	}
	return true, nil
}

// PutObject stores body under key in the account's bucket as a PutObject
// request from the account would: it takes the same path (the body checked
// and committed atomically, in a row or a file), the same quotas apply, and
// the bucket's notifications fire for it. A refusal comes back as an error
// with S3's code and message.
func (s *Service) PutObject(ctx context.Context, account, bucket, key string, body []byte, contentType string) error {
	p := cloud.Principal{AccountID: account}
	r, err := http.NewRequestWithContext(cloud.WithPrincipal(ctx, p), http.MethodPut, "http://localhost/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	r.URL = &url.URL{Scheme: "http", Host: "localhost", Path: "/" + bucket + "/" + key}
	r.Host = "localhost"
	// The write is the service's own, from inside AWS: no client address.
	r.RemoteAddr = "127.0.0.1:0"
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	w := &recorder{header: http.Header{}}
	s.serve(w, r, nil)
	if w.status != 0 && w.status/100 != 2 {
		msg := w.body.Bytes()
		if _, rest, ok := bytes.Cut(msg, []byte("<Message>")); ok {
			msg, _, _ = bytes.Cut(rest, []byte("</Message>"))
		}
		return fmt.Errorf("put %s/%s: %s (%d): %s", bucket, key, errorCode(w.body.Bytes()), w.status, msg)
	}
	return nil
}

// recorder is the response of a request the service makes of itself.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
