package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSigV2 checks S3 SigV2 query authentication against a signature made
// here by hand from the S3 documentation ("Signing and authenticating REST
// requests", query string request authentication):
//
//	StringToSign = HTTP-VERB + "\n" + Content-MD5 + "\n" + Content-Type + "\n" +
//	               Expires + "\n" + CanonicalizedAmzHeaders + CanonicalizedResource
//	Signature    = URL-Encode(Base64(HMAC-SHA1(secret, UTF-8(StringToSign))))
func TestSigV2(t *testing.T) {
	const (
		key     = "AKIAV2EXAMPLE"
		secret  = "v2/Secret+Example"
		expires = "1796118300" // 2026-12-01T09:45:00Z
		token   = "tok+en/=="
	)
	expiry := time.Unix(1796118300, 0)
	// Percent-encoding as boto3 does it (a space is %20; a '+' would be a
	// literal plus).
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	sign := func(sts string) string {
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	// A GET of bkt/photos/a b.jpg with a response override (a
	// sub-resource, signed decoded) and a session token (an x-amz-*
	// "header" carried in the query), plus a parameter SigV2 does not sign.
	sts := "GET\n\n\n" + expires + "\n" +
		"x-amz-security-token:" + token + "\n" +
		"/bkt/photos/a%20b.jpg?response-content-disposition=attachment; filename=a.jpg"
	query := "response-content-disposition=" + esc("attachment; filename=a.jpg") +
		"&x-amz-security-token=" + esc(token) +
		"&AWSAccessKeyId=" + key + "&Expires=" + expires + "&x-id=GetObject" +
		"&Signature=" + esc(sign(sts))
	target := "/bkt/photos/a%20b.jpg?" + query

	srv := newTestServer(t)
	tests := []struct {
		name, target, secret string
		now                  time.Time
		want                 string
	}{
		{"valid", target, secret, expiry.Add(-time.Minute), ""},
		{"last second", target, secret, expiry, ""},
		{"expired", target, secret, expiry.Add(time.Second), "AccessDenied"},
		{"wrong secret", target, secret + "x", expiry.Add(-time.Minute), "SignatureDoesNotMatch"},
		{"other key", "/bkt/photos/a%20c.jpg?" + query, secret, expiry.Add(-time.Minute), "SignatureDoesNotMatch"},
		{"override changed", strings.Replace(target, "attachment", "inline", 1), secret, expiry.Add(-time.Minute), "SignatureDoesNotMatch"},
		{"token changed", strings.Replace(target, "tok", "tak", 1), secret, expiry.Add(-time.Minute), "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		srv.doRaw(t, http.MethodGet, tt.target, [][2]string{{"Host", "127.0.0.1:9001"}}, "", func(r *http.Request, body []byte) {
			a, err := verify(r, body, tt.secret, tt.now)
			if got := code(err); got != tt.want {
				t.Errorf("%s: Verify = %q (%v), want %q", tt.name, got, err, tt.want)
			}
			if err == nil && (!a.V2 || a.AccessKeyID != key || a.SessionToken != token) {
				t.Errorf("%s: Parse = %+v, want V2 from %s with token %q", tt.name, *a, key, token)
			}
		})
	}

	// Virtual-hosted style: the bucket is in Host, and SigV2 still signs
	// /bucket/key; the caller tells Verify the bucket.
	vsts := "GET\n\n\n" + expires + "\n/bkt/k.txt"
	vtarget := "/k.txt?AWSAccessKeyId=" + key + "&Expires=" + expires + "&Signature=" + esc(sign(vsts))
	srv.doRaw(t, http.MethodGet, vtarget, [][2]string{{"Host", "bkt.localhost:9001"}}, "", func(r *http.Request, body []byte) {
		a, err := Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(r, secret, "", expiry); code(err) != "SignatureDoesNotMatch" {
			t.Errorf("virtual-hosted without Bucket: Verify = %v, want SignatureDoesNotMatch", err)
		}
		a.Bucket = "bkt"
		if err := a.Verify(r, secret, "", expiry); err != nil {
			t.Errorf("virtual-hosted with Bucket: Verify = %v, want nil", err)
		}
	})
}
