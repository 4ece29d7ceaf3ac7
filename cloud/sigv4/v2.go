package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
)

// v2SubResources are the query parameters SigV2 signs as part of the
// resource: the S3 documentation's list of sub-resources and response
// overrides, with the later additions boto3 signs as well.
var v2SubResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "cors": true, "defaultObjectAcl": true,
	"delete": true, "inventory": true, "lifecycle": true, "location": true, "logging": true,
	"metrics": true, "notification": true, "object-lock": true, "partNumber": true, "policy": true,
	"replication": true, "requestPayment": true, "restore": true, "select": true, "select-type": true,
	"storageClass": true, "tagging": true, "torrent": true, "uploadId": true, "uploads": true,
	"versionId": true, "versioning": true, "versions": true, "website": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true,
}

// verifyV2 checks an S3 SigV2 presigned URL: HMAC-SHA1, base64, over
//
//	Method \n Content-MD5 \n Content-Type \n Expires \n CanonicalizedAmzHeaders CanonicalizedResource
//
// where the x-amz-* "headers" may also arrive as query parameters (boto3
// moves the session token and any x-amz-* header it signed into the query).
func (a *Auth) verifyV2(r *http.Request, secret string, now time.Time) error {
	if now.After(a.Time) {
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Request has expired"}
	}
	want, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil || len(want) != sha1.Size {
		return a.mismatch()
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(stringToSignV2(r, a.v2Expires, a.Bucket)))
	if !hmac.Equal(mac.Sum(nil), want) {
		return a.mismatch()
	}
	return nil
}

func stringToSignV2(r *http.Request, expires, bucket string) string {
	type param struct{ k, v string }
	var query []param
	raw := rawQuery(r)
	if raw != "" {
		for pair := range strings.SplitSeq(raw, "&") {
			k, v, hasValue := strings.Cut(pair, "=")
			if !hasValue {
				v = "\x00" // marks a bare sub-resource, "?acl"
			}
			query = append(query, param{k, v})
		}
	}
	fromQuery := func(name string) string {
		for _, p := range query {
			if strings.EqualFold(p.k, name) && p.v != "\x00" {
				return unescape(p.v)
			}
		}
		return ""
	}

	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	for _, name := range []string{"Content-Md5", "Content-Type"} {
		v := r.Header.Get(name)
		if v == "" {
			v = fromQuery(name)
		}
		b.WriteString(strings.TrimSpace(v))
		b.WriteByte('\n')
	}
	b.WriteString(expires)
	b.WriteByte('\n')

	amz := map[string][]string{}
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz[lk] = append(amz[lk], vs...)
		}
	}
	for _, p := range query {
		if lk := strings.ToLower(unescape(p.k)); strings.HasPrefix(lk, "x-amz-") && p.v != "\x00" {
			amz[lk] = append(amz[lk], unescape(p.v))
		}
	}
	names := make([]string, 0, len(amz))
	for k := range amz {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(':')
		for i, v := range amz[k] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.TrimSpace(v))
		}
		b.WriteByte('\n')
	}

	if bucket != "" {
		b.WriteString("/" + bucket)
	}
	path := rawPath(r)
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	var sub []param
	for _, p := range query {
		if v2SubResources[p.k] {
			sub = append(sub, p)
		}
	}
	slices.SortStableFunc(sub, func(x, y param) int { return strings.Compare(x.k, y.k) })
	for i, p := range sub {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if p.v != "\x00" {
			// Sub-resource values are signed decoded.
			b.WriteString("=" + unescape(p.v))
		}
	}
	return b.String()
}
