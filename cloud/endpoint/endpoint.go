// Package endpoint is the one AWS-compatible front door of every learner's
// emulated account: it verifies each request's signature against the
// account's secret key, routes it by the service in its credential scope,
// and answers authentication failures in the shape that service uses. Inside
// a function instance it trusts the socket a request came in on instead of
// a signature (see sandbox.CallerFrom). The services behind it know the
// caller only through cloud.PrincipalFrom.
package endpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"lambdalab/cloud"
	"lambdalab/cloud/sigv4"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// MaxBody caps every request body before it is read: a 50 MB package,
// base64 in JSON, with room for the rest of the document. Services cap
// their own operations more tightly.
const MaxBody = 72 << 20

// Config wires an Endpoint.
type Config struct {
	DB *store.DB
	// Services by the name in the SigV4 credential scope ("lambda", "s3",
	// "xray"). A service without a handler is refused plainly.
	Services map[string]http.Handler
	// Unsigned serves paths that carry their own authorisation (the code
	// download links of GetFunction), by path prefix.
	Unsigned map[string]http.Handler
	Logger   *slog.Logger
	// Now is the clock signatures are checked against; nil means time.Now.
	Now func() time.Time
}

// Endpoint is the AWS-compatible HTTP handler.
type Endpoint struct {
	cfg Config
}

// New makes an endpoint.
func New(cfg Config) *Endpoint {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Endpoint{cfg: cfg}
}

// ServeHTTP serves callers outside the sandbox: every request must be signed
// with an account's access key.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for prefix, h := range e.cfg.Unsigned {
		if strings.HasPrefix(r.URL.Path, prefix) && r.Header.Get("Authorization") == "" {
			h.ServeHTTP(w, r)
			return
		}
	}
	auth, err := sigv4.Parse(r)
	if err != nil {
		service := "lambda"
		if looksLikeS3(r) {
			service = "s3"
		}
		if errors.Is(err, sigv4.ErrNoSignature) {
			e.authFail(w, r, service, sigv4.NoSignature(service))
			return
		}
		e.authFail(w, r, service, err)
		return
	}
	h, ok := e.cfg.Services[auth.Service]
	if !ok {
		e.unknownService(w, r, auth.Service)
		return
	}
	if auth.Service != "s3" {
		// S3 caps each operation's body itself and streams objects of up
		// to a gigabyte.
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	}
	key, err := e.cfg.DB.AccessKey(r.Context(), auth.AccessKeyID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			e.cfg.Logger.ErrorContext(r.Context(), "look up access key", "err", err)
			e.authFail(w, r, auth.Service, &sigv4.Error{Code: "ServiceUnavailable", Status: 503, Message: "lambdalab could not check your key; try again"})
			return
		}
		e.authFail(w, r, auth.Service, unknownKey(auth.Service))
		return
	}
	hash, err := payloadHash(r, auth)
	if err != nil {
		e.authFail(w, r, auth.Service, err)
		return
	}
	if vh, ok := h.(virtualHoster); ok && auth.V2 {
		auth.Bucket = vh.VirtualBucket(r.Host)
	}
	if err := auth.Verify(r, key.Secret, hash, e.cfg.Now()); err != nil {
		e.authFail(w, r, auth.Service, err)
		return
	}
	ctx := cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: key.AccountID, AccessKeyID: key.ID})
	if sh, ok := h.(signedHandler); ok {
		sh.ServeSigned(w, r.WithContext(ctx), auth, key.Secret)
		return
	}
	h.ServeHTTP(w, r.WithContext(ctx))
}

// signedHandler is a service handler that checks more of a request against
// its verified signature than the endpoint does: S3 (cloud/s3), whose
// aws-chunked bodies carry a signature per chunk, chained from the
// request's own, and whose hex x-amz-content-sha256 it checks while
// streaming the body.
type signedHandler interface {
	ServeSigned(w http.ResponseWriter, r *http.Request, auth *sigv4.Auth, secret string)
}

// virtualHoster names the bucket of a virtual-hosted S3 request
// (bucket.localhost:4566), which a SigV2 signature covers as /bucket/key.
type virtualHoster interface {
	VirtualBucket(host string) string
}

// Instance serves callers inside function instances. The SDKs there sign
// with the instance's made-up execution-role keys; the signature proves
// nothing, the socket does, so the caller comes from sandbox.CallerFrom and
// the credential scope is read only to route the request.
func (e *Endpoint) Instance() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := sandbox.CallerFrom(r.Context())
		service := "lambda"
		if looksLikeS3(r) {
			service = "s3"
		}
		if !ok {
			e.authFail(w, r, service, &sigv4.Error{Code: "AccessDeniedException", Status: 403, Message: "this instance serves no function yet"})
			return
		}
		if auth, err := sigv4.Parse(r); err == nil {
			service = auth.Service
		}
		h, ok := e.cfg.Services[service]
		if !ok {
			e.unknownService(w, r, service)
			return
		}
		if service != "s3" {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		ctx := cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: c.AccountID, Function: c.Function, Version: c.Version, RequestID: c.RequestID})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// payloadHash is the body hash the signature covers. S3 clients send it,
// and the body, up to a gigabyte, is not read here: "" has Verify take the
// hash as sent, and cloud/s3 checks a hex one against the body while it
// streams, before committing anything (XAmzContentSHA256Mismatch). The JSON
// services' clients send none, so the body is read and hashed here and put
// back for the service.
func payloadHash(r *http.Request, auth *sigv4.Auth) (string, error) {
	if auth.V2 || auth.Service == "s3" {
		return "", nil
	}
	sent := auth.PayloadHash
	if sent == sigv4.UnsignedPayload || strings.HasPrefix(sent, "STREAMING-") {
		return sent, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return "", &sigv4.Error{Code: "RequestEntityTooLargeException", Status: 413, Message: fmt.Sprintf("Request must be smaller than %d bytes", MaxBody)}
		}
		return "", &sigv4.Error{Code: "IncompleteBody", Status: 400, Message: "The request body could not be read: " + err.Error()}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	got := hex.EncodeToString(sum[:])
	if sent != "" && !strings.EqualFold(sent, got) {
		return "", &sigv4.Error{Code: "XAmzContentSHA256Mismatch", Status: 400, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return got, nil
}

// unknownKey is the refusal for an access key no account has.
func unknownKey(service string) *sigv4.Error {
	if service == "s3" {
		return &sigv4.Error{Code: "InvalidAccessKeyId", Status: 403, Message: "The AWS Access Key Id you provided does not exist in our records."}
	}
	return &sigv4.Error{Code: "UnrecognizedClientException", Status: 403, Message: "The security token included in the request is invalid."}
}

func (e *Endpoint) unknownService(w http.ResponseWriter, r *http.Request, service string) {
	writeJSONError(w, &sigv4.Error{Code: "UnknownServiceException", Status: 400,
		Message: fmt.Sprintf("lambdalab does not emulate the AWS service %q; it serves %s", service, e.serviceList())})
}

func (e *Endpoint) serviceList() string {
	var names []string
	for n := range e.cfg.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// authFail answers an authentication failure in the service's own shape,
// having changed nothing.
func (e *Endpoint) authFail(w http.ResponseWriter, r *http.Request, service string, err error) {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		se = &sigv4.Error{Code: "InternalFailure", Status: 500, Message: "lambdalab failed to check this request"}
		e.cfg.Logger.ErrorContext(r.Context(), "authenticate aws request", "err", err)
	}
	e.cfg.Logger.InfoContext(r.Context(), "aws request refused", "service", service, "code", se.Code, "path", r.URL.Path)
	if service == "s3" {
		writeXMLError(w, se)
		return
	}
	writeJSONError(w, se)
}

func writeJSONError(w http.ResponseWriter, se *sigv4.Error) {
	w.Header().Set("X-Amzn-ErrorType", se.Code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(se.Status)
	json.NewEncoder(w).Encode(map[string]string{"message": se.Message})
}

func writeXMLError(w http.ResponseWriter, se *sigv4.Error) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(se.Status)
	xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: se.Code, Message: se.Message})
}

// looksLikeS3 guesses the service of a request whose signature could not be
// read, so that its refusal at least comes in the right shape: the JSON
// services all live under a dated API path.
func looksLikeS3(r *http.Request) bool {
	p := r.URL.Path
	return !(len(p) > 11 && p[0] == '/' && p[5] == '-' && p[8] == '-' && strings.HasPrefix(p[1:], "20"))
}
