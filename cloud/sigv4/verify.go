package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock skew AWS tolerates on a header-signed request: S3 refuses a request
// more than 15 minutes off, Lambda and the JSON services 5 minutes.
const (
	skewS3    = 15 * time.Minute
	skewOther = 5 * time.Minute
)

// Verify checks a's signature over r with the secret key of a.AccessKeyID.
//
// payloadHash is the lower-case hex SHA-256 of the body as the caller
// computed it. Lambda clients send no hash, so for them it is what gets
// signed; "" falls back to a.PayloadHash and, if that is empty too, the
// request is refused rather than verified against a guess. For S3 the hash
// the client sent is what was signed: a hex one must equal payloadHash when
// payloadHash is given (XAmzContentSHA256Mismatch otherwise; pass "" or
// a.PayloadHash to check the body later, while streaming it), and
// UNSIGNED-PAYLOAD and STREAMING-* are taken as sent.
//
// now is the server clock. Verify checks, in this order, that the scope
// date is X-Amz-Date's date, the clock skew (S3 15 minutes, others 5) or
// the presigned validity window, the payload hash, and last the signature,
// compared in constant time. Every refusal is an *Error.
//
// For SigV2 (a.V2) it checks Expires against now and the HMAC-SHA1 over the
// documented string to sign; payloadHash is not used.
func (a *Auth) Verify(r *http.Request, secret, payloadHash string, now time.Time) error {
	if a.V2 {
		return a.verifyV2(r, secret, now)
	}
	if err := a.checkTime(now); err != nil {
		return err
	}
	hash, err := a.signedPayloadHash(payloadHash)
	if err != nil {
		return err
	}
	want, ok := decodeSignature(a.Signature)
	if !ok {
		return a.mismatch()
	}
	path := rawPath(r)
	got := a.compute(r, secret, hash, path, false)
	if hmac.Equal(got[:], want[:]) {
		return nil
	}
	// botocore removes empty and dot segments from the path before signing
	// for every service but S3 (the documentation's "normalize URI paths");
	// the Go SDK signs the path as it is. Accept either.
	if a.Service != "s3" && needsNormalizing(path) {
		got = a.compute(r, secret, hash, path, true)
		if hmac.Equal(got[:], want[:]) {
			return nil
		}
	}
	return a.mismatch()
}

// checkTime checks the scope date and the time window.
func (a *Auth) checkTime(now time.Time) error {
	s3 := a.Service == "s3"
	now = now.UTC()
	if a.Date != a.Time.Format(dateLayout) {
		switch {
		case s3 && a.Presigned:
			return queryError("Invalid credential date. Date is not the same as X-Amz-Date.")
		case s3:
			return headerMalformed("Invalid credential date. Date is not the same as X-Amz-Date.")
		}
		return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
			Message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
				a.Date + "' != '" + a.Time.Format(dateLayout) + "', from '" + a.Time.Format(amzDateLayout) + "'."}
	}
	skew := skewOther
	if s3 {
		skew = skewS3
	}
	if a.Presigned && (s3 || a.Expires > 0) {
		// A presigned URL is good from X-Amz-Date for X-Amz-Expires; a date
		// too far ahead of the server clock is refused like a skewed header.
		if end := a.Time.Add(a.Expires); now.After(end) {
			if s3 {
				return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Request has expired"}
			}
			return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
				Message: "Signature expired: " + end.Format(amzDateLayout) + " is now earlier than " + now.Format(amzDateLayout) + "."}
		}
		if a.Time.After(now.Add(skew)) {
			if s3 {
				return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Request is not valid yet"}
			}
			return notYetCurrent(a.Time, now, skew)
		}
		return nil
	}
	if s3 {
		if a.Time.Before(now.Add(-skew)) || a.Time.After(now.Add(skew)) {
			return &Error{Code: "RequestTimeTooSkewed", Status: http.StatusForbidden,
				Message: "The difference between the request time and the current time is too large."}
		}
		return nil
	}
	if earliest := now.Add(-skew); a.Time.Before(earliest) {
		return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
			Message: "Signature expired: " + a.Time.Format(amzDateLayout) + " is now earlier than " +
				earliest.Format(amzDateLayout) + " (" + now.Format(amzDateLayout) + " - 5 min.)"}
	}
	if a.Time.After(now.Add(skew)) {
		return notYetCurrent(a.Time, now, skew)
	}
	return nil
}

func notYetCurrent(t, now time.Time, skew time.Duration) error {
	return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
		Message: "Signature not yet current: " + t.Format(amzDateLayout) + " is still later than " +
			now.Add(skew).Format(amzDateLayout) + " (" + now.Format(amzDateLayout) + " + " +
			strconv.Itoa(int(skew/time.Minute)) + " min.)"}
}

// signedPayloadHash picks the payload hash line of the canonical request.
func (a *Auth) signedPayloadHash(given string) (string, error) {
	sent := a.PayloadHash
	if a.Service != "s3" {
		if given == "" {
			given = sent
		}
		if given == "" {
			return "", a.mismatch()
		}
		return given, nil
	}
	switch {
	case sent == "" && a.Presigned:
		// A presigned S3 URL never signs its body.
		return UnsignedPayload, nil
	case sent == "":
		return "", &Error{Code: "InvalidRequest", Status: http.StatusBadRequest,
			Message: "Missing required header for this request: x-amz-content-sha256"}
	case !isHexSHA256(sent):
		// UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, ...: the
		// literal is what was signed; chunks are checked by a ChunkSigner.
		return sent, nil
	case given != "" && !strings.EqualFold(given, sent):
		return "", &Error{Code: "XAmzContentSHA256Mismatch", Status: http.StatusBadRequest,
			Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return sent, nil
}

func (a *Auth) mismatch() *Error { return mismatch(a.Service) }

// mismatch is the service's answer to a wrong signature.
func mismatch(service string) *Error {
	if service == "s3" {
		return &Error{Code: "SignatureDoesNotMatch", Status: http.StatusForbidden,
			Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	}
	return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
		Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
}

// scratch holds the buffers one verification needs; pooled so that a
// verification allocates next to nothing.
type scratch struct {
	buf   []byte // canonical request, then string to sign
	enc   []byte // encoded query keys and values
	pairs []span
}

type span struct{ k0, k1, v0, v1 int }

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), enc: make([]byte, 0, 512), pairs: make([]span, 0, 16)}
}}

// compute returns the SigV4 signature of r as the client should have
// computed it.
func (a *Auth) compute(r *http.Request, secret, payloadHash, path string, normalize bool) [32]byte {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)

	b := s.buf[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, path, a.Service == "s3", normalize)
	b = append(b, '\n')
	b = s.appendCanonicalQuery(b, rawQuery(r), a.Presigned)
	b = append(b, '\n')
	for _, name := range a.SignedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		b = appendHeader(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, name := range a.SignedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, name...)
	}
	b = append(b, '\n')
	b = append(b, payloadHash...)
	crHash := sha256.Sum256(b)

	b = b[:0]
	b = append(b, algorithm+"\n"...)
	b = a.Time.UTC().AppendFormat(b, amzDateLayout)
	b = append(b, '\n')
	b = appendScope(b, a.Date, a.Region, a.Service)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	s.buf = b

	key := signingKey(secret, a.Date, a.Region, a.Service)
	var sig [32]byte
	mac := hmac.New(sha256.New, key[:])
	mac.Write(b)
	mac.Sum(sig[:0])
	return sig
}

func appendScope(b []byte, date, region, service string) []byte {
	b = append(b, date...)
	b = append(b, '/')
	b = append(b, region...)
	b = append(b, '/')
	b = append(b, service...)
	b = append(b, "/"+terminator...)
	return b
}

// rawPath is the request path exactly as the client sent it, which is what
// clients sign. r.URL.Path is decoded (a%2Fb became a/b), and
// r.URL.EscapedPath re-encodes from it whenever the raw form holds a byte Go
// would have escaped (a raw "ü" or "{"), losing the client's %2F on the way.
// r.RequestURI is the request target as received: origin form, absolute
// form (from proxies, and from Go clients whose URL has Opaque set) or
// HTTP/2's :path. A request built in-process has none; then RawPath, which
// Go sets whenever the raw form differs from its own encoding, else
// EscapedPath.
func rawPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || uri == "*" {
		if r.URL.RawPath != "" {
			return r.URL.RawPath
		}
		return r.URL.EscapedPath()
	}
	if uri[0] != '/' {
		// Absolute form, GET http://host/path: what a client whose URL
		// has Opaque set sends, and what proxies receive.
		if i := strings.Index(uri, "://"); i >= 0 {
			uri = uri[i+3:]
		}
		j := strings.IndexAny(uri, "/?")
		if j < 0 || uri[j] == '?' {
			return "/"
		}
		uri = uri[j:]
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// rawQuery is the query exactly as sent.
func rawQuery(r *http.Request) string {
	if uri := r.RequestURI; uri != "" {
		if _, q, ok := strings.Cut(uri, "?"); ok {
			return q
		}
		return ""
	}
	return r.URL.RawQuery
}

// appendCanonicalURI writes the canonical URI. S3 signs the path as sent.
// Every other service signs it URI-encoded once more, so a client's %3A is
// signed as %253A and a literal '$' as %24; with normalize, empty and dot
// segments are removed first, as botocore does.
func appendCanonicalURI(b []byte, path string, s3, normalize bool) []byte {
	if path == "" {
		path = "/"
	}
	if s3 {
		return append(b, path...)
	}
	if normalize {
		path = normalizePath(path)
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

func needsNormalizing(path string) bool {
	return strings.Contains(path, "//") || strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
		strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..")
}

// normalizePath removes empty, "." and ".." segments, keeping a leading and
// a trailing slash, as RFC 3986 section 5.2.4 plus AWS's slash collapsing.
func normalizePath(path string) string {
	var out []string
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	p := strings.Join(out, "/")
	if strings.HasPrefix(path, "/") {
		p = "/" + p
	}
	if strings.HasSuffix(path, "/") && len(out) > 0 {
		p += "/"
	}
	return p
}

// appendCanonicalQuery writes the canonical query string: every pair of the
// raw query decoded (a '+' stays a '+': clients that mean a space send
// %20) and encoded again with only A-Z a-z 0-9 - _ . ~ left bare, sorted by
// encoded key and then value. A presigned URL's own X-Amz-Signature is left
// out, being what is signed into.
func (s *scratch) appendCanonicalQuery(b []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return b
	}
	enc, pairs := s.enc[:0], s.pairs[:0]
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		var sp span
		sp.k0 = len(enc)
		enc = appendQueryEncoded(enc, k)
		sp.k1 = len(enc)
		sp.v0 = sp.k1
		enc = appendQueryEncoded(enc, v)
		sp.v1 = len(enc)
		pairs = append(pairs, sp)
	}
	slices.SortFunc(pairs, func(x, y span) int {
		if c := bytes.Compare(enc[x.k0:x.k1], enc[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(enc[x.v0:x.v1], enc[y.v0:y.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, enc[p.k0:p.k1]...)
		b = append(b, '=')
		b = append(b, enc[p.v0:p.v1]...)
	}
	s.enc, s.pairs = enc, pairs
	return b
}

// appendQueryEncoded decodes one raw query component and appends its SigV4
// encoding. A '%' not followed by two hex digits is taken literally.
func appendQueryEncoded(b []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// unescape percent-decodes a query component, keeping '+' as it is.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	return string(b)
}

// appendHeader writes one signed header's canonical value: its values
// trimmed, runs of spaces inside collapsed to one, joined with ','. Only
// spaces, as the documentation and the Go SDK have it; botocore folds tabs
// too, which only matters for a value with a tab inside.
func appendHeader(b []byte, r *http.Request, name string) []byte {
	switch name {
	case "host":
		// Go's server moves Host out of r.Header into r.Host.
		return appendTrimmed(b, r.Host)
	case "content-length":
		// Go's HTTP/1 server keeps Content-Length in r.Header; fall back
		// to r.ContentLength for servers or handlers that drop it. The Go
		// SDK signs it, botocore never does.
		if vs := headerValues(r.Header, name); len(vs) > 0 {
			return appendValues(b, vs)
		}
		if r.ContentLength >= 0 {
			return strconv.AppendInt(b, r.ContentLength, 10)
		}
		return b
	}
	return appendValues(b, headerValues(r.Header, name))
}

func appendValues(b []byte, vs []string) []byte {
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

func appendTrimmed(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// headerValues looks a lower-case name up in h without allocating for the
// canonical form of the key.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h.Values(name)
	}
	k := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		k[i] = c
		upper = c == '-'
	}
	return h[string(k)]
}

// Signing keys take four HMACs to derive and stay the same for a key, day,
// region and service, so the last few are kept. The cache is bounded; when
// full, an arbitrary entry makes room.
const maxSigningKeys = 256

type keyID struct{ secret, date, region, service string }

var signingKeys = struct {
	sync.Mutex
	m map[keyID][32]byte
}{m: make(map[keyID][32]byte)}

func signingKey(secret, date, region, service string) [32]byte {
	id := keyID{secret, date, region, service}
	signingKeys.Lock()
	k, ok := signingKeys.m[id]
	signingKeys.Unlock()
	if ok {
		return k
	}
	k = deriveKey(secret, date, region, service)
	signingKeys.Lock()
	if len(signingKeys.m) >= maxSigningKeys {
		for old := range signingKeys.m {
			delete(signingKeys.m, old)
			break
		}
	}
	signingKeys.m[id] = k
	signingKeys.Unlock()
	return k
}

// deriveKey is the documented chain: HMAC("AWS4"+secret, date), then the
// region, the service and "aws4_request".
func deriveKey(secret, date, region, service string) [32]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k[:], region)
	k = hmacSHA256(k[:], service)
	return hmacSHA256(k[:], terminator)
}

func hmacSHA256(key []byte, msg string) [32]byte {
	var out [32]byte
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	mac.Sum(out[:0])
	return out
}

func decodeSignature(s string) ([32]byte, bool) {
	var sig [32]byte
	if len(s) != 64 {
		return sig, false
	}
	_, err := hex.Decode(sig[:], []byte(s))
	return sig, err == nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
