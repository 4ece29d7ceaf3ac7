package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var signedAt = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// signed returns a request signed by the Go SDK at signedAt, as Go's server
// would hand it to a handler.
func signed(t testing.TB, service, method, target string, body []byte, presignExpires int) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:9001"+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: oracleKey, SecretAccessKey: oracleSecret, SessionToken: "tok"}
	opts := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" }
	payload := hashHex(body)
	if presignExpires >= 0 {
		q := req.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(presignExpires))
		req.URL.RawQuery = q.Encode()
		if service == "s3" {
			payload = UnsignedPayload
		}
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, payload, service, "us-east-1", signedAt, opts)
		if err != nil {
			t.Fatal(err)
		}
		if req, err = http.NewRequest(method, u, nil); err != nil {
			t.Fatal(err)
		}
	} else {
		if service == "s3" {
			req.Header.Set("X-Amz-Content-Sha256", payload)
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, service, "us-east-1", signedAt, opts); err != nil {
			t.Fatal(err)
		}
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	return serverRequest(t, wire.String())
}

func TestClockSkew(t *testing.T) {
	tests := []struct {
		service string
		skew    time.Duration // now - signing time
		want    string
	}{
		{"lambda", 0, ""},
		{"lambda", 4*time.Minute + 59*time.Second, ""},
		{"lambda", -(4*time.Minute + 59*time.Second), ""},
		{"lambda", 5 * time.Minute, ""},
		{"lambda", 5*time.Minute + time.Second, "InvalidSignatureException"},
		{"lambda", -(5*time.Minute + time.Second), "InvalidSignatureException"},
		{"lambda", 20*time.Minute + time.Second, "InvalidSignatureException"},
		{"s3", 14*time.Minute + 59*time.Second, ""},
		{"s3", -(14*time.Minute + 59*time.Second), ""},
		{"s3", 15*time.Minute + time.Second, "RequestTimeTooSkewed"},
		{"s3", -(15*time.Minute + time.Second), "RequestTimeTooSkewed"},
	}
	for _, tt := range tests {
		target := "/2015-03-31/functions/my-fn%3Aprod/invocations"
		if tt.service == "s3" {
			target = "/bkt/key"
		}
		body := []byte(`{"k":1}`)
		r := signed(t, tt.service, http.MethodPost, target, body, -1)
		_, err := verify(r, body, oracleSecret, signedAt.Add(tt.skew))
		if got := code(err); got != tt.want {
			t.Errorf("%s signed %v before now: Verify = %q (%v), want %q", tt.service, tt.skew, got, err, tt.want)
		}
	}
}

func TestClockSkewMessages(t *testing.T) {
	body := []byte(`{}`)
	r := signed(t, "lambda", http.MethodPost, "/2015-03-31/functions/f/invocations", body, -1)
	tests := []struct {
		now  time.Time
		want string
	}{
		{signedAt.Add(20*time.Minute + time.Second),
			"Signature expired: 20261201T093000Z is now earlier than 20261201T094501Z (20261201T095001Z - 5 min.)"},
		{signedAt.Add(-10 * time.Minute),
			"Signature not yet current: 20261201T093000Z is still later than 20261201T092500Z (20261201T092000Z + 5 min.)"},
	}
	for _, tt := range tests {
		_, err := verify(r, body, oracleSecret, tt.now)
		var e *Error
		if !errors.As(err, &e) || e.Message != tt.want || e.Status != http.StatusForbidden {
			t.Errorf("Verify at %v = %v, want InvalidSignatureException %q", tt.now, err, tt.want)
		}
	}
}

func TestPresignedExpiry(t *testing.T) {
	tests := []struct {
		name    string
		service string
		expires int
		now     time.Time
		want    string
	}{
		{"s3 valid", "s3", 900, signedAt.Add(899 * time.Second), ""},
		{"s3 last second", "s3", 900, signedAt.Add(900 * time.Second), ""},
		{"s3 expired", "s3", 900, signedAt.Add(901 * time.Second), "AccessDenied"},
		{"s3 a week", "s3", 604800, signedAt.Add(604799 * time.Second), ""},
		{"s3 a week and a second", "s3", 604800, signedAt.Add(604801 * time.Second), "AccessDenied"},
		{"s3 expires 0", "s3", 0, signedAt.Add(time.Second), "AccessDenied"},
		{"s3 signed in the future", "s3", 900, signedAt.Add(-16 * time.Minute), "AccessDenied"},
		{"s3 signed a little ahead", "s3", 900, signedAt.Add(-14 * time.Minute), ""},
		{"lambda valid", "lambda", 60, signedAt.Add(59 * time.Second), ""},
		{"lambda expired", "lambda", 60, signedAt.Add(61 * time.Second), "InvalidSignatureException"},
	}
	for _, tt := range tests {
		target := "/bkt/a%20b"
		if tt.service == "lambda" {
			target = "/2015-03-31/functions/f"
		}
		r := signed(t, tt.service, http.MethodGet, target, nil, tt.expires)
		_, err := verify(r, nil, oracleSecret, tt.now)
		if got := code(err); got != tt.want {
			t.Errorf("%s: Verify = %q (%v), want %q", tt.name, got, err, tt.want)
		}
		if tt.want == "AccessDenied" && strings.Contains(tt.name, "expired") {
			if e := (*Error)(nil); errors.As(err, &e) && e.Message != "Request has expired" {
				t.Errorf("%s: message %q, want %q", tt.name, e.Message, "Request has expired")
			}
		}
	}

	// Beyond a week is refused before any signature is looked at.
	for _, expires := range []string{"604801", "-1", "soon"} {
		r := serverRequest(t, "GET /bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request"+
			"&X-Amz-Date=20261201T093000Z&X-Amz-Expires="+expires+"&X-Amz-SignedHeaders=host&X-Amz-Signature=00 HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, err := Parse(r); code(err) != "AuthorizationQueryParametersError" {
			t.Errorf("X-Amz-Expires=%s: Parse = %v, want AuthorizationQueryParametersError", expires, err)
		}
	}
}

func TestScopeDate(t *testing.T) {
	// X-Amz-Date just after midnight, credential scope of the day before.
	r := serverRequest(t, "GET /2015-03-31/functions HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 20261201T000001Z\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261130/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n")
	_, err := verify(r, nil, "s", time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC))
	want := "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261130' != '20261201', from '20261201T000001Z'."
	var e *Error
	if !errors.As(err, &e) || e.Code != "InvalidSignatureException" || e.Message != want {
		t.Errorf("Verify = %v, want InvalidSignatureException %q", err, want)
	}
}

func TestParse(t *testing.T) {
	const date = "X-Amz-Date: 20261201T093000Z\r\n"
	tests := []struct {
		name, request string
		want          string // error code; "" for success
	}{
		{"runtime api call", "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n", "ErrNoSignature"},
		{"no signature", "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\n" + date + "\r\n", "ErrNoSignature"},
		{"header", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab\r\n\r\n", ""},
		{"header without spaces", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request,SignedHeaders=host;x-amz-date,Signature=ab\r\n\r\n", ""},
		{"no signature part", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date\r\n\r\n", "IncompleteSignatureException"},
		{"s3 no signature part", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date\r\n\r\n", "AuthorizationHeaderMalformed"},
		{"four-part credential", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda, SignedHeaders=host, Signature=ab\r\n\r\n", "IncompleteSignatureException"},
		{"bad terminator", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws5_request, SignedHeaders=host, Signature=ab\r\n\r\n", "IncompleteSignatureException"},
		{"s3 bad terminator", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=ab\r\n\r\n", "AuthorizationHeaderMalformed"},
		{"bad scope date", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/2026-12-01/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab\r\n\r\n", "IncompleteSignatureException"},
		{"no date", "GET / HTTP/1.1\r\nHost: h\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab\r\n\r\n", "IncompleteSignatureException"},
		{"s3 no date", "GET / HTTP/1.1\r\nHost: h\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab\r\n\r\n", "AccessDenied"},
		{"bad x-amz-date", "GET / HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 2026-12-01T09:30:00Z\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab\r\n\r\n", "IncompleteSignatureException"},
		{"date header instead", "GET / HTTP/1.1\r\nHost: h\r\nDate: Tue, 01 Dec 2026 09:30:00 GMT\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=date;host, Signature=ab\r\n\r\n", ""},
		{"host not signed", "GET / HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=ab\r\n\r\n", "InvalidSignatureException"},
		{"other scheme", "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\n\r\n", "IncompleteSignatureException"},
		{"sigv4a", "GET / HTTP/1.1\r\nHost: h\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-ECDSA-P256-SHA256 Credential=AK/20261201/s3/aws4_request\r\n\r\n", "InvalidRequest"},
		{"header and query", "GET /bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request HTTP/1.1\r\nHost: h\r\n" + date +
			"Authorization: AWS4-HMAC-SHA256 Credential=AK/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab\r\n\r\n", "InvalidArgument"},
		{"presigned", "GET /bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T093000Z" +
			"&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=a+b%2Bc&X-Amz-Signature=ab HTTP/1.1\r\nHost: h\r\n\r\n", ""},
		{"presigned without expires", "GET /bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T093000Z" +
			"&X-Amz-SignedHeaders=host&X-Amz-Signature=ab HTTP/1.1\r\nHost: h\r\n\r\n", "AuthorizationQueryParametersError"},
		{"presigned other algorithm", "GET /bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T093000Z" +
			"&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab HTTP/1.1\r\nHost: h\r\n\r\n", "AuthorizationQueryParametersError"},
		{"sigv2", "GET /bkt/k?AWSAccessKeyId=AK&Signature=a%2Bb%3D&Expires=1796118300 HTTP/1.1\r\nHost: h\r\n\r\n", ""},
		{"sigv2 without expires", "GET /bkt/k?AWSAccessKeyId=AK&Signature=ab HTTP/1.1\r\nHost: h\r\n\r\n", "AccessDenied"},
		{"sigv2 bad expires", "GET /bkt/k?AWSAccessKeyId=AK&Signature=ab&Expires=tomorrow HTTP/1.1\r\nHost: h\r\n\r\n", "AccessDenied"},
	}
	for _, tt := range tests {
		a, err := Parse(serverRequest(t, tt.request))
		got := code(err)
		if errors.Is(err, ErrNoSignature) {
			got = "ErrNoSignature"
		}
		if got != tt.want {
			t.Errorf("%s: Parse = %q (%v), want %q", tt.name, got, err, tt.want)
			continue
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) && (e.Message == "" || e.Status < 400) {
				t.Errorf("%s: Parse = %+v, want a status and a message", tt.name, e)
			}
			continue
		}
		switch tt.name {
		case "header":
			want := Auth{AccessKeyID: "AK", Date: "20261201", Region: "us-east-1", Service: "lambda",
				SignedHeaders: []string{"host", "x-amz-date"}, Signature: "ab", Time: signedAt}
			if a.AccessKeyID != want.AccessKeyID || a.Date != want.Date || a.Region != want.Region || a.Service != want.Service ||
				strings.Join(a.SignedHeaders, ";") != "host;x-amz-date" || a.Signature != "ab" || !a.Time.Equal(want.Time) || a.Presigned || a.V2 {
				t.Errorf("%s: Parse = %+v, want %+v", tt.name, *a, want)
			}
		case "presigned":
			if !a.Presigned || a.Expires != time.Minute || a.SessionToken != "a+b+c" || a.Service != "s3" || a.PayloadHash != "" {
				t.Errorf("%s: Parse = %+v, want presigned s3, 1m, token a+b+c (a '+' is not a space)", tt.name, *a)
			}
		case "sigv2":
			if !a.V2 || a.Service != "s3" || a.Signature != "a+b=" || a.Time.Unix() != 1796118300 {
				t.Errorf("%s: Parse = %+v, want SigV2, signature a+b=, expiring at 1796118300", tt.name, *a)
			}
		}
	}
}

func TestS3PayloadHash(t *testing.T) {
	body := []byte("hello")
	r := signed(t, "s3", http.MethodPut, "/bkt/k", body, -1)
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	now := signedAt.Add(time.Second)
	for _, tt := range []struct {
		name, given, want string
	}{
		{"body hash", hashHex(body), ""},
		{"left to the caller", "", ""},
		{"as sent", a.PayloadHash, ""},
		{"other body", hashHex([]byte("hellO")), "XAmzContentSHA256Mismatch"},
	} {
		if err := a.Verify(r, oracleSecret, tt.given, now); code(err) != tt.want {
			t.Errorf("%s: Verify = %v, want %q", tt.name, err, tt.want)
		}
	}

	// A Lambda request with no hash from anyone is refused, not verified
	// against an empty body.
	lr := signed(t, "lambda", http.MethodGet, "/2015-03-31/functions", nil, -1)
	la, err := Parse(lr)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Verify(lr, oracleSecret, "", now); code(err) != "InvalidSignatureException" {
		t.Errorf("lambda with no payload hash: Verify = %v, want InvalidSignatureException", err)
	}

	// S3 over header auth must send x-amz-content-sha256.
	r.Header.Del("X-Amz-Content-Sha256")
	a, _ = Parse(r)
	if err := a.Verify(r, oracleSecret, hashHex(body), now); code(err) != "InvalidRequest" {
		t.Errorf("s3 without x-amz-content-sha256: Verify = %v, want InvalidRequest", err)
	}
}

// TestContentLengthFallback: Go's HTTP/1 server keeps Content-Length in
// r.Header, but a handler or another server may not.
func TestContentLengthFallback(t *testing.T) {
	body := []byte(`{"a":1}`)
	r := signed(t, "lambda", http.MethodPost, "/2015-03-31/functions/f/invocations", body, -1)
	if r.Header.Get("Content-Length") == "" {
		t.Fatal("Go's server dropped Content-Length; the fallback is now the main path")
	}
	r.Header.Del("Content-Length")
	if _, err := verify(r, body, oracleSecret, signedAt); err != nil {
		t.Errorf("without the Content-Length header: Verify = %v, want nil", err)
	}
	r.ContentLength = int64(len(body) + 1)
	if _, err := verify(r, body, oracleSecret, signedAt); code(err) != "InvalidSignatureException" {
		t.Errorf("with another length: Verify = %v, want InvalidSignatureException", err)
	}
}

func TestRawPath(t *testing.T) {
	tests := []struct {
		request, want string
	}{
		{"GET /a//b HTTP/1.1\r\nHost: h\r\n\r\n", "/a//b"},
		{"GET /a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/a%2Fb"},
		{"GET /a%2fb/%C3%BC HTTP/1.1\r\nHost: h\r\n\r\n", "/a%2fb/%C3%BC"},
		{"GET /ü/a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", "/ü/a%2Fb"}, // EscapedPath says /%C3%BC/a/b
		{"GET /f/my-fn:$LATEST/x HTTP/1.1\r\nHost: h\r\n\r\n", "/f/my-fn:$LATEST/x"},
		{"GET http://h:9/bkt/a%20b?x HTTP/1.1\r\nHost: h\r\n\r\n", "/bkt/a%20b"},
		{"GET http://h:9 HTTP/1.1\r\nHost: h\r\n\r\n", "/"},
		{"GET http://h:9?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/"},
	}
	for _, tt := range tests {
		r := serverRequest(t, tt.request)
		if got := rawPath(r); got != tt.want {
			t.Errorf("rawPath(%q) = %q, want %q (EscapedPath %q)", r.RequestURI, got, tt.want, r.URL.EscapedPath())
		}
	}
	// Without a RequestURI (a request built in a process, not received).
	r, _ := http.NewRequest(http.MethodGet, "http://h/a%2Fb/c", nil)
	if got := rawPath(r); got != "/a%2Fb/c" {
		t.Errorf("rawPath of a client request = %q, want /a%%2Fb/c", got)
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		path       string
		s3         bool
		normalize  bool
		want       string
		wantOthers string
	}{
		{"/2015-03-31/functions/my-fn%3Aprod/invocations", false, false, "/2015-03-31/functions/my-fn%253Aprod/invocations", ""},
		{"/2015-03-31/functions/my-fn:$LATEST/invocations", false, false, "/2015-03-31/functions/my-fn%3A%24LATEST/invocations", ""},
		{"/f/a b/ü", false, false, "/f/a%20b/%C3%BC", ""},
		{"/bkt/a%2Fb/a b/ü/$x", true, false, "/bkt/a%2Fb/a b/ü/$x", ""},
		{"", true, false, "/", ""},
		{"", false, false, "/", ""},
		{"/a//b/./c/../d/", false, true, "/a/b/d/", ""},
		{"//", false, true, "/", ""},
		{"/a/..", false, true, "/", ""},
	}
	for _, tt := range tests {
		if got := string(appendCanonicalURI(nil, tt.path, tt.s3, tt.normalize)); got != tt.want {
			t.Errorf("canonical URI of %q (s3 %v, normalize %v) = %q, want %q", tt.path, tt.s3, tt.normalize, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw       string
		presigned bool
		want      string
	}{
		{"", false, ""},
		{"b=2&a=1", false, "a=1&b=2"},
		{"a=b+c", false, "a=b%2Bc"},
		{"a=b%20c", false, "a=b%20c"},
		{"a=%7e%2b", false, "a=~%2B"},
		{"acl", false, "acl="},
		{"a=2&a=1&a=10", false, "a=1&a=10&a=2"},
		{"ü=ü", false, "%C3%BC=%C3%BC"},
		{"x=%zz&y=%4", false, "x=%25zz&y=%254"},
		{"a=1&&b", false, "a=1&b="},
		{"k=a-b&k=a%2Fb", false, "k=a%2Fb&k=a-b"}, // sorted after encoding
		{"k=a;b", false, "k=a%3Bb"},
		{"X-Amz-Signature=ab&X-Amz-Date=1", true, "X-Amz-Date=1"},
		{"X-Amz-Signature=ab&X-Amz-Date=1", false, "X-Amz-Date=1&X-Amz-Signature=ab"},
	}
	var s scratch
	for _, tt := range tests {
		if got := string(s.appendCanonicalQuery(nil, tt.raw, tt.presigned)); got != tt.want {
			t.Errorf("canonical query of %q (presigned %v) = %q, want %q", tt.raw, tt.presigned, got, tt.want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	h := http.Header{"X-Amz-Meta-Color": {"a", "b"}, "Content-Type": {"x"}, "Amz-Sdk-Request": {"attempt=1"}}
	for name, want := range map[string]string{
		"x-amz-meta-color": "a,b", "content-type": "x", "amz-sdk-request": "attempt=1", "X-AMZ-META-COLOR": "a,b", "absent": "",
	} {
		if got := strings.Join(headerValues(h, name), ","); got != want {
			t.Errorf("headerValues(%q) = %q, want %q", name, got, want)
		}
	}
	if got := string(appendTrimmed(nil, "  a   b \t c  ")); got != "a b \t c" {
		t.Errorf("appendTrimmed = %q, want %q", got, "a b \t c")
	}
}

// The worked example of the IAM user guide's "Create a signed AWS API
// request": GET ?Action=ListUsers&Version=2010-05-08 on iam.amazonaws.com.
func TestDocumentationExample(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	k := deriveKey(secret, "20150830", "us-east-1", "iam")
	if got := hex.EncodeToString(k[:]); got != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Errorf("signing key = %s", got)
	}
	r := serverRequest(t, "GET /?Action=ListUsers&Version=2010-05-08 HTTP/1.1\r\n"+
		"Host: iam.amazonaws.com\r\n"+
		"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"+
		"X-Amz-Date: 20150830T123600Z\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n\r\n")
	if _, err := verify(r, nil, secret, time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)); err != nil {
		t.Errorf("documentation example: Verify = %v, want nil", err)
	}
}

func TestSigningKeyCache(t *testing.T) {
	for i := range maxSigningKeys + 50 {
		secret := "secret-" + strconv.Itoa(i)
		if got, want := signingKey(secret, "20261201", "us-east-1", "lambda"), deriveKey(secret, "20261201", "us-east-1", "lambda"); got != want {
			t.Fatalf("signingKey(%s) = %x, want %x", secret, got, want)
		}
		// A second look-up comes from the cache and is the same.
		if got, want := signingKey(secret, "20261201", "us-east-1", "lambda"), deriveKey(secret, "20261201", "us-east-1", "lambda"); got != want {
			t.Fatalf("cached signingKey(%s) = %x, want %x", secret, got, want)
		}
	}
	signingKeys.Lock()
	n := len(signingKeys.m)
	signingKeys.Unlock()
	if n > maxSigningKeys {
		t.Errorf("cache holds %d keys, want at most %d", n, maxSigningKeys)
	}
	// The key depends on every part of the scope.
	base := deriveKey("s", "20261201", "us-east-1", "lambda")
	for _, k := range [][32]byte{
		deriveKey("t", "20261201", "us-east-1", "lambda"), deriveKey("s", "20261202", "us-east-1", "lambda"),
		deriveKey("s", "20261201", "us-east-2", "lambda"), deriveKey("s", "20261201", "us-east-1", "s3"),
	} {
		if k == base {
			t.Error("signing keys of different scopes are equal")
		}
	}
	// And is HMAC-SHA256 as crypto/hmac computes it.
	mac := hmac.New(sha256.New, []byte("AWS4s"))
	mac.Write([]byte("20261201"))
	k1 := mac.Sum(nil)
	if k := hmacSHA256([]byte("AWS4s"), "20261201"); !bytes.Equal(k[:], k1) {
		t.Error("hmacSHA256 differs from crypto/hmac")
	}
}
