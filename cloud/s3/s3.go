// Package s3 emulates Amazon S3 for every learner account behind lambdalab's
// one AWS endpoint: buckets and objects kept in SQLite (store) with large
// bodies in files under the data directory, and the bucket notifications
// that trigger Lambda functions.
//
// The S3 protocol (XML, routing, ranges, conditional requests, multipart)
// is github.com/rclone/gofakes3, one instance for all accounts: its Backend
// is implemented here on store and takes the account from the request
// context (cloud.PrincipalFrom). In front of it this package does what the
// library does not (reference/aws-clients.md, "What the front door must do
// itself"): virtual-host addressing, checking a hex x-amz-content-sha256
// and decoding and verifying aws-chunked bodies before anything is
// committed, ?notification, and emitting the event of each successful
// write. It knows nothing about signatures beyond the chunk signer the
// endpoint hands it, and nothing about Lambda beyond Functions and
// Notifier.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rclone/gofakes3"

	"lambdalab/cloud"
	"lambdalab/cloud/sigv4"
	"lambdalab/store"
)

// Limits caps what one account may store. Zero fields take the defaults,
// sized for a classroom machine rather than for S3's own limits (5 GB per
// PUT, unlimited storage).
type Limits struct {
	// MaxObjectSize caps one PutObject and one part, in bytes. Default 1 GiB.
	MaxObjectSize int64
	// MaxBytes caps all of an account's objects and unfinished parts.
	// Default 2 GiB.
	MaxBytes int64
	// MaxObjects caps an account's objects. Default 100,000.
	MaxObjects int
	// MaxBuckets caps an account's buckets. Default 100, S3's own default.
	MaxBuckets int
}

func (l Limits) withDefaults() Limits {
	if l.MaxObjectSize == 0 {
		l.MaxObjectSize = 1 << 30
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = 2 << 30
	}
	if l.MaxObjects == 0 {
		l.MaxObjects = 100_000
	}
	if l.MaxBuckets == 0 {
		l.MaxBuckets = 100
	}
	return l
}

// Functions is what S3 asks of Lambda when a bucket's notification
// configuration names a function: whether the function exists and its
// resource policy lets s3.amazonaws.com invoke it on behalf of the bucket.
// *lambda.Service satisfies it.
type Functions interface {
	ServiceAllowed(ctx context.Context, account, functionArn, service, sourceArn, sourceAccount string) (bool, error)
}

// Notifier delivers an S3 event notification to a function, as S3 does:
// asynchronously (reference/lambda-behaviour.md §13.1, so §9's retries
// apply). event is the whole invocation payload, {"Records":[...]} with one
// record. Notify should return once the event is queued durably; an error
// is logged and the event dropped, as S3 drops what it cannot deliver.
type Notifier interface {
	Notify(ctx context.Context, account, functionArn string, event []byte) error
}

// Config wires a Service.
type Config struct {
	DB *store.DB
	// Dir holds the bodies too large for a row (DATA/s3).
	Dir    string
	Limits Limits
	// Functions validates notification targets; nil refuses every one.
	Functions Functions
	// Notifier receives the events of writes; nil drops them.
	Notifier Notifier
	// Hosts are the host names that virtual-hosted requests come under
	// (bucket.HOST:port). Empty means "localhost", which is what the AWS
	// SDK for Go uses with a http://localhost:PORT endpoint.
	Hosts  []string
	Logger *slog.Logger
	// Now is the clock of event times; nil means time.Now.
	Now func() time.Time
}

// Service is the S3 service of every account.
type Service struct {
	cfg     Config
	limits  Limits
	db      *store.DB
	files   *files
	fake    *gofakes3.GoFakeS3
	handler http.Handler
	logger  *slog.Logger
	// seq orders events for the same key (the event's sequencer). It
	// starts at the clock so that it keeps increasing across restarts.
	seq atomic.Uint64
}

// New opens the service on cfg.DB and cfg.Dir. Unfinished multipart uploads
// of an earlier run are discarded: the protocol library tracks uploads in
// memory, so no client could finish them.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"localhost"}
	}
	f, err := openFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, limits: cfg.Limits.withDefaults(), db: cfg.DB, files: f, logger: cfg.Logger}
	s.seq.Store(uint64(cfg.Now().UnixNano()))
	stale, err := cfg.DB.DeleteAllS3Uploads(ctx)
	if err != nil {
		return nil, err
	}
	f.remove(stale...)
	var idStart [8]byte
	rand.Read(idStart[:])
	s.fake = gofakes3.New(&backend{s: s},
		// The endpoint has checked the clock already, presigned URLs too.
		gofakes3.WithTimeSkewLimit(0),
		gofakes3.WithUploadOwner(func(ctx context.Context) string {
			p, _ := cloud.PrincipalFrom(ctx)
			return p.AccountID
		}),
		gofakes3.WithRequestID(binary.BigEndian.Uint64(idStart[:])>>16),
		gofakes3.WithLogger(libLogger{s.logger}),
	)
	s.handler = s.fake.Server()
	return s, nil
}

// Sweep removes body files that no object or part refers to any more and
// that are over an hour old; serve should call it at start and now and
// then, as it sweeps deployment packages.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	refs, err := s.db.S3Files(ctx)
	if err != nil {
		return 0, err
	}
	return s.files.sweep(ctx, refs, time.Hour, time.Now())
}

// ServeHTTP serves a request whose caller the endpoint knows without a
// usable signature: calls from inside function instances. aws-chunked
// bodies are decoded but their chunk signatures, made with the instance's
// made-up keys, are not checked.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, nil)
}

// ServeSigned serves a request whose signature the endpoint verified with
// secret, checking the chunks of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body
// against the signature chain that starts at auth's.
func (s *Service) ServeSigned(w http.ResponseWriter, r *http.Request, auth *sigv4.Auth, secret string) {
	var chunks *sigv4.ChunkSigner
	if auth != nil && !auth.V2 && !auth.Presigned {
		chunks = auth.ChunkSigner(secret)
	}
	s.serve(w, r, chunks)
}

// VirtualBucket returns the bucket a virtual-hosted request names in its
// Host header (photos.localhost:4566 → photos), or "" for a path-style
// request. The endpoint needs it to check a SigV2 signature, which signs
// /bucket/key however the bucket was addressed.
func (s *Service) VirtualBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, base := range s.cfg.Hosts {
		if b, ok := strings.CutSuffix(host, "."+strings.ToLower(base)); ok && b != "" {
			return b
		}
	}
	return ""
}

// request is what one request's handling shares between the front door and
// the backend, through the context.
type request struct {
	principal cloud.Principal
	// body is the checked body of an object or part upload; nil otherwise.
	body *checkedBody
	// events are the writes that succeeded, for notifications.
	events []objectEvent
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// maxRequestDocument caps a body that is not object data (DeleteObjects,
// CompleteMultipartUpload, tagging, notification XML), which is read whole
// and checked before the library sees it.
const maxRequestDocument = 8 << 20

func (s *Service) serve(w http.ResponseWriter, r *http.Request, chunks *sigv4.ChunkSigner) {
	p, ok := cloud.PrincipalFrom(r.Context())
	if !ok {
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	if b := s.VirtualBucket(r.Host); b != "" {
		path := "/" + b
		if r.URL.Path != "/" {
			path += r.URL.Path
		}
		r.URL.Path, r.URL.RawPath = path, ""
	}
	bucket, key := splitPath(r.URL.Path)
	if err := checkKey(key); err != nil {
		// Refused before the body is read: nothing of it is kept, and the
		// 400 tells the SDKs not to send it again.
		writeLibError(w, r, err)
		return
	}
	q := r.URL.Query()
	st := &request{principal: p}

	if objectUpload(r, key, q) {
		declared := r.ContentLength
		if n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64); err == nil {
			declared = n
		}
		if declared > s.limits.MaxObjectSize {
			writeError(w, r, http.StatusBadRequest, "EntityTooLarge",
				fmt.Sprintf("Your proposed upload exceeds the maximum allowed size: lambdalab takes objects of up to %d bytes in one PUT", s.limits.MaxObjectSize))
			return
		}
		cb, err := newCheckedBody(r, chunks)
		if err != nil {
			writeLibError(w, r, err)
			return
		}
		st.body = cb
		r.Body = readCloser{cb, r.Body}
	} else if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		if err := readDocument(r, chunks); err != nil {
			writeLibError(w, r, err)
			return
		}
	}

	switch {
	case has(q, "notification") && bucket != "":
		s.notification(w, r, p.AccountID, bucket)
		return
	case has(q, "policyStatus"), r.Method == http.MethodPost && key == "" && !has(q, "delete"):
		// policyStatus would report every bucket public; browser POST
		// uploads carry no SigV4 signature and never reach this far.
		writeError(w, r, http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented.")
		return
	}

	// A write's answer is held until its events are queued: a 2xx must
	// never reach the client while its notifications could still be lost.
	// (Write answers are small XML documents; reads stream.)
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	rw := &responseWriter{ResponseWriter: w, holdAll: write}
	ctx := context.WithValue(r.Context(), requestKey{}, st)
	s.handler.ServeHTTP(rw, r.WithContext(ctx))
	if status := rw.status; (status == 0 || status/100 == 2) && len(st.events) > 0 {
		s.emit(context.WithoutCancel(r.Context()), r, w.Header(), st, eventKind(r, q))
	}
	rw.flush()
}

// objectUpload reports whether r sends object data (PutObject or
// UploadPart, not a copy), whose body streams to the backend.
func objectUpload(r *http.Request, key string, q map[string][]string) bool {
	if r.Method != http.MethodPut || key == "" || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	for k := range q {
		switch {
		case k == "uploadId", k == "partNumber", k == "x-id",
			strings.HasPrefix(k, "X-Amz-"), k == "AWSAccessKeyId", k == "Signature", k == "Expires":
		default:
			return false
		}
	}
	return true
}

// readDocument reads a body that is not object data whole, checks it like
// an object body and hands it on as a plain body.
func readDocument(r *http.Request, chunks *sigv4.ChunkSigner) error {
	cb, err := newCheckedBody(r, chunks)
	if err != nil {
		return err
	}
	doc, err := io.ReadAll(io.LimitReader(cb, maxRequestDocument+1))
	if err != nil {
		return err
	}
	if len(doc) > maxRequestDocument {
		return gofakes3.ErrMaxMessageLengthExceeded
	}
	if _, err := cb.finish(); err != nil {
		return err
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(doc))
	r.ContentLength = int64(len(doc))
	r.Header.Set("Content-Length", strconv.Itoa(len(doc)))
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func has(q map[string][]string, k string) bool {
	_, ok := q[k]
	return ok
}

// splitPath splits /bucket/key; the key keeps any slashes, doubled or not.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// responseWriter notes the status and holds back a 500 until its code is
// known: the library answers codes it does not know (QuotaExceeded,
// BucketAlreadyOwnedByYou, ...) with 500, and S3 answers them otherwise.
type responseWriter struct {
	http.ResponseWriter
	status  int
	held    bool
	holdAll bool // hold every answer, not only the library's 500s
	buf     bytes.Buffer
}

// statuses are S3's statuses for the codes the library has no status for.
var statuses = map[string]int{
	"AccessDenied":              http.StatusForbidden,
	"QuotaExceeded":             http.StatusForbidden,
	"BucketAlreadyOwnedByYou":   http.StatusConflict,
	"EntityTooSmall":            http.StatusBadRequest,
	"XAmzContentSHA256Mismatch": http.StatusBadRequest,
	"SignatureDoesNotMatch":     http.StatusForbidden,
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code == http.StatusInternalServerError || w.holdAll {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.held {
		return w.buf.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *responseWriter) flush() {
	if w.status == 0 {
		// The handler wrote nothing: net/http answers 200.
		w.status = http.StatusOK
	}
	if !w.held {
		return
	}
	code := w.status
	if code == http.StatusInternalServerError {
		if c := errorCode(w.buf.Bytes()); statuses[c] != 0 {
			code = statuses[c]
		}
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
	w.ResponseWriter.Write(w.buf.Bytes())
}

func errorCode(doc []byte) string {
	_, rest, ok := bytes.Cut(doc, []byte("<Code>"))
	if !ok {
		return ""
	}
	code, _, _ := bytes.Cut(rest, []byte("</Code>"))
	return string(code)
}

// errCode is an S3 error the library renders as it is.
func errCode(code, message string) error {
	return &gofakes3.ErrorResponse{Code: gofakes3.ErrorCode(code), Message: message}
}

// fromSigv4 turns a chunk signature refusal into an S3 error.
func fromSigv4(err error) error {
	if se, ok := err.(*sigv4.Error); ok {
		return errCode(se.Code, se.Message)
	}
	return err
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%016X", b)
}

// writeError answers a request refused in the front door, in S3's shape.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	id := newRequestID()
	w.Header().Set("x-amz-request-id", id)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}{Code: code, Message: message, RequestID: id})
}

// writeLibError answers with an error in the library's terms.
func writeLibError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := string(gofakes3.ErrInternal), "We encountered an internal error. Please try again."
	if e, ok := err.(interface{ ErrorCode() gofakes3.ErrorCode }); ok {
		code = string(e.ErrorCode())
		msg = code
		if er, ok := err.(*gofakes3.ErrorResponse); ok && er.Message != "" {
			msg = er.Message
		}
	}
	status := gofakes3.ErrorCode(code).Status()
	if statuses[code] != 0 {
		status = statuses[code]
	}
	writeError(w, r, status, code, msg)
}

// libLogger sends the library's errors to our log; its chatter is dropped.
type libLogger struct{ l *slog.Logger }

func (g libLogger) Print(level gofakes3.LogLevel, v ...any) {
	if level == gofakes3.LogErr {
		g.l.Error("s3 library", "detail", fmt.Sprint(v...))
	}
}
