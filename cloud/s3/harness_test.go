package s3_test

// End-to-end tests of the emulated S3: the AWS SDK for Go v2 (or a raw
// request signed with its signer) against an httptest server made of the
// real endpoint (SigV4 verified against the account's key in SQLite) and
// this package's handler, storing in a real SQLite database and a temp
// data directory.

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/endpoint"
	s3svc "lambdalab/cloud/s3"
	"lambdalab/store"
)

type world struct {
	t      testing.TB
	dir    string
	db     *store.DB
	svc    *s3svc.Service
	srv    *httptest.Server
	funcs  *fakeFunctions
	events *recorder
}

// fakeFunctions allows the functions in allowed, as a policy statement for
// s3.amazonaws.com would.
type fakeFunctions struct {
	mu      sync.Mutex
	allowed map[string]bool
}

func (f *fakeFunctions) ServiceAllowed(ctx context.Context, account, arn, service, sourceArn, sourceAccount string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return service == "s3.amazonaws.com" && sourceAccount == account && f.allowed[arn], nil
}

type notified struct {
	account, function string
	event             []byte
}

type recorder struct {
	mu  sync.Mutex
	got []notified
}

func (r *recorder) Notify(ctx context.Context, account, fn string, event []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, notified{account, fn, event})
	return nil
}

func (r *recorder) take() []notified {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

type worldOption func(*s3svc.Config)

func withLimits(l s3svc.Limits) worldOption { return func(c *s3svc.Config) { c.Limits = l } }

func newWorld(t testing.TB, opts ...worldOption) *world {
	t.Helper()
	return newWorldServer(t, false, opts...)
}

func newWorldServer(t testing.TB, useTLS bool, opts ...worldOption) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &world{t: t, dir: dir, db: db, funcs: &fakeFunctions{allowed: map[string]bool{}}, events: &recorder{}}
	cfg := s3svc.Config{DB: db, Dir: filepath.Join(dir, "s3"), Functions: w.funcs, Notifier: w.events}
	for _, o := range opts {
		o(&cfg)
	}
	w.svc, err = s3svc.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep := endpoint.New(endpoint.Config{DB: db, Services: map[string]http.Handler{"s3": w.svc}})
	if useTLS {
		w.srv = httptest.NewTLSServer(ep)
	} else {
		w.srv = httptest.NewServer(ep)
	}
	t.Cleanup(w.srv.Close)
	return w
}

// account is a scratch account and its key.
type account struct {
	id  string
	key store.AccessKey
}

func (w *world) account() account {
	w.t.Helper()
	a, k, err := w.db.CreateScratchAccount(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return account{a.ID, k}
}

func (a account) creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: a.key.ID, SecretAccessKey: a.key.Secret, Source: "test"}
}

// client is an SDK client for the account, path style unless virtual.
func (w *world) client(a account, optFns ...func(*s3.Options)) *s3.Client {
	httpClient := w.srv.Client()
	return s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(a.key.ID, a.key.Secret, ""),
		BaseEndpoint: aws.String(w.srv.URL),
		UsePathStyle: true,
		HTTPClient:   httpClient,
		// What config.LoadDefaultConfig sets, and so what real programs send.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, optFns...)
}

// virtualClient addresses buckets as bucket.localhost:PORT; every host is
// dialled at the test server.
func (w *world) virtualClient(a account) *s3.Client {
	addr := w.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	return w.client(a, func(o *s3.Options) {
		o.UsePathStyle = false
		o.BaseEndpoint = aws.String("http://localhost:" + port)
		o.HTTPClient = &http.Client{Transport: tr}
	})
}

// raw sends a request signed with the SDK's signer and payload hash hash
// (computed from body when ""), with the given extra headers.
func (w *world) raw(a account, method, path string, body []byte, hash string, header map[string]string) *http.Response {
	w.t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if hash == "" {
		hash = sha256Hex(body)
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), a.creds(), req, hash, "s3", "us-east-1", time.Now()); err != nil {
		w.t.Fatal(err)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

func readAll(t testing.TB, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// code returns the S3 error code of err, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

func wantCode(t testing.TB, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: error code %q (%v), want %q", what, got, err, want)
	}
}

func must[T any](t testing.TB, what string) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func xmlCode(body []byte) string {
	_, rest, ok := strings.Cut(string(body), "<Code>")
	if !ok {
		return ""
	}
	c, _, _ := strings.Cut(rest, "</Code>")
	return c
}

func newMD5() hash.Hash { return md5.New() }
