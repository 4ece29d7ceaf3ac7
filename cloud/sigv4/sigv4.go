// Package sigv4 verifies AWS request signatures on the server: Signature
// Version 4 in the Authorization header and in presigned URLs, the S3
// Signature Version 2 presigned URLs that boto3 still makes by default in
// us-east-1, and the chained signatures of aws-chunked S3 uploads.
//
// It implements the algorithm as AWS documents it ("Create a signed AWS API
// request" in the IAM user guide, "Authenticating Requests (AWS Signature
// Version 4)" and "Signing and authenticating REST requests (AWS signature
// version 2)" in the S3 API reference), tuned to what the AWS CLI, boto3 and
// the AWS SDK for Go v2 really send; reference/aws-clients.md, section
// "SigV4 verification", lists those measurements. Where the clients and the
// documentation part ways the clients win, since they are what learners run.
//
// The package knows nothing about accounts or keys: Parse says which access
// key a request claims, the caller looks up its secret and calls Verify.
// Errors carry the AWS error code, status and wording of the service named in
// the credential scope, so the endpoint can render them as they are.
package sigv4

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	amzDateLayout = "20060102T150405Z"
	dateLayout    = "20060102"
	terminator    = "aws4_request"

	// MaxPresignExpiry is the longest X-Amz-Expires AWS accepts: one week.
	MaxPresignExpiry = 604800 * time.Second

	// UnsignedPayload is the payload hash S3 clients send when they do not
	// sign the body; presigned S3 URLs always sign it.
	UnsignedPayload = "UNSIGNED-PAYLOAD"

	// EmptySHA256 is the hex SHA-256 of an empty body.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// ErrNoSignature is returned by Parse when a request carries no AWS
// signature at all: no Authorization header and no signing query parameters.
// Inside an instance that is how a Runtime API call is told from an AWS call
// on the shared port; elsewhere the endpoint answers NoSignature(service).
var ErrNoSignature = errors.New("sigv4: request is not signed")

// Error is an authentication failure worded as the AWS service would word
// it. Code is the AWS error code ("InvalidSignatureException",
// "SignatureDoesNotMatch", ...), Status the HTTP status to answer with and
// Message the text AWS puts beside the code.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Auth is what a request claims about its signature, parsed but not yet
// verified. Nothing in it can be trusted before Verify returns nil.
type Auth struct {
	// AccessKeyID, Date (YYYYMMDD), Region and Service are the credential
	// scope. For SigV2 Service is "s3" and Date and Region are empty.
	AccessKeyID, Date, Region, Service string
	// SignedHeaders are the lower-case header names the client signed, in
	// its order. Empty for SigV2.
	SignedHeaders []string
	// Signature is the signature as sent: lower-case hex for SigV4, base64
	// for SigV2.
	Signature string
	// Time is X-Amz-Date (or the Date header when X-Amz-Date is absent).
	// For SigV2 it is the Expires instant.
	Time time.Time
	// Presigned is true for the query-string forms.
	Presigned bool
	// Expires is X-Amz-Expires of a presigned SigV4 URL; zero when absent.
	Expires time.Duration
	// PayloadHash is x-amz-content-sha256 as sent: hex, UNSIGNED-PAYLOAD or
	// STREAMING-...; "" when the client sent none, as Lambda clients do.
	PayloadHash string
	// SessionToken is X-Amz-Security-Token, from the header or the query.
	SessionToken string
	// V2 is true for the S3 SigV2 query form (AWSAccessKeyId, Signature,
	// Expires).
	V2 bool
	// Bucket matters only for SigV2 over a virtual-hosted-style request
	// (bucket.host/key): SigV2 signs "/bucket/key" however the bucket was
	// addressed, so the caller, which knows its own host names, sets the
	// bucket here before Verify. Leave it empty for path-style requests.
	Bucket string

	v2Expires string // Expires exactly as sent; SigV2 signs the string
}

// Scope is the credential scope: date/region/service/aws4_request.
func (a *Auth) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + terminator
}

// NoSignature is the error to answer an AWS call that carries no signature
// with (Parse returned ErrNoSignature): S3 treats it as anonymous and denies
// it, the JSON services ask for a token.
func NoSignature(service string) *Error {
	if service == "s3" {
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Access Denied"}
	}
	return &Error{Code: "MissingAuthenticationTokenException", Status: http.StatusForbidden, Message: "Missing Authentication Token"}
}

// Parse reads the signature a request claims: the Authorization header
// (AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...), the
// presigned query form (X-Amz-Algorithm, X-Amz-Credential, ...) or the S3
// SigV2 query form (AWSAccessKeyId, Signature, Expires). It returns
// ErrNoSignature when there is none and an *Error when what is there is
// malformed. It reads the raw query itself: url.Values would turn a '+' into
// a space and drop pairs with a ';', both of which clients send.
func Parse(r *http.Request) (*Auth, error) {
	authz := r.Header.Get("Authorization")
	q := scanQuery(rawQuery(r))
	presigned := q.algorithm != "" || q.credential != "" || q.signature != ""
	v2 := !presigned && (q.v2Key != "" || q.v2Signature != "")
	switch {
	case authz != "" && (presigned || v2):
		svc := guessService(r, q.credential)
		if svc == "s3" {
			return nil, &Error{Code: "InvalidArgument", Status: http.StatusBadRequest,
				Message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"}
		}
		return nil, incomplete("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	case authz != "":
		return parseHeader(r, authz)
	case presigned:
		return parsePresigned(r, q)
	case v2:
		return parseV2(r, q)
	}
	return nil, ErrNoSignature
}

// parseHeader reads the Authorization header form.
func parseHeader(r *http.Request, authz string) (*Auth, error) {
	rest, ok := strings.CutPrefix(authz, algorithm+" ")
	if !ok {
		if guessService(r, "") == "s3" {
			return nil, &Error{Code: "InvalidRequest", Status: http.StatusBadRequest,
				Message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."}
		}
		return nil, incomplete("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=" + firstWord(authz))
	}
	var credential, signedHeaders, signature string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential, haveCred = v, true
		case "SignedHeaders":
			signedHeaders, haveSigned = v, true
		case "Signature":
			signature, haveSig = v, true
		}
	}
	a := &Auth{}
	if haveCred {
		if err := a.parseCredential(credential, false); err != nil {
			return nil, err
		}
	}
	s3 := a.Service == "s3" || (!haveCred && guessService(r, "") == "s3")
	if !haveCred || !haveSigned || !haveSig {
		if s3 {
			return nil, headerMalformed("the authorization header is missing a Credential, SignedHeaders or Signature.")
		}
		var msg strings.Builder
		for _, p := range []struct {
			have bool
			name string
		}{{haveCred, "Credential"}, {haveSig, "Signature"}, {haveSigned, "SignedHeaders"}} {
			if !p.have {
				msg.WriteString("Authorization header requires '" + p.name + "' parameter. ")
			}
		}
		msg.WriteString("Authorization=" + authz)
		return nil, incomplete(msg.String())
	}
	a.Signature = signature
	a.SignedHeaders = splitSignedHeaders(signedHeaders)
	if err := a.checkSignedHeaders(false); err != nil {
		return nil, err
	}
	a.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	a.SessionToken = r.Header.Get("X-Amz-Security-Token")

	// SigV4 takes the time from X-Amz-Date, or from Date when a client
	// sends only that; either way it is signed in the ISO 8601 basic form.
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateLayout, d)
		if err != nil {
			return nil, a.badDate("X-Amz-Date", d)
		}
		a.Time = t
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, a.badDate("Date", d)
		}
		a.Time = t.UTC()
	} else {
		if a.Service == "s3" {
			return nil, &Error{Code: "AccessDenied", Status: http.StatusForbidden,
				Message: "AWS authentication requires a valid Date or x-amz-date header"}
		}
		return nil, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + authz)
	}
	return a, nil
}

// parsePresigned reads the SigV4 query form.
func parsePresigned(r *http.Request, q queryAuth) (*Auth, error) {
	a := &Auth{Presigned: true}
	if q.credential != "" {
		if err := a.parseCredential(q.credential, true); err != nil {
			return nil, err
		}
	}
	s3 := a.Service == "s3" || (q.credential == "" && guessService(r, "") == "s3")
	missing := q.algorithm == "" || q.credential == "" || q.signature == "" ||
		q.date == "" || q.signedHeaders == "" || (s3 && q.expires == "")
	if missing {
		if s3 {
			return nil, queryError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
		return nil, incomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'.")
	}
	if q.algorithm != algorithm {
		if s3 {
			return nil, queryError(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
		}
		return nil, incomplete("Unsupported AWS 'algorithm': '" + q.algorithm + "'")
	}
	a.Signature = q.signature
	a.SignedHeaders = splitSignedHeaders(q.signedHeaders)
	if err := a.checkSignedHeaders(true); err != nil {
		return nil, err
	}
	t, err := time.Parse(amzDateLayout, q.date)
	if err != nil {
		return nil, a.badDate("X-Amz-Date", q.date)
	}
	a.Time = t
	if q.expires != "" {
		n, err := strconv.ParseInt(q.expires, 10, 64)
		switch {
		case err != nil:
			return nil, a.queryOrIncomplete("X-Amz-Expires should be a number")
		case n < 0:
			return nil, a.queryOrIncomplete("X-Amz-Expires must be non-negative")
		case n > int64(MaxPresignExpiry/time.Second):
			return nil, a.queryOrIncomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		a.Expires = time.Duration(n) * time.Second
	}
	a.PayloadHash = q.contentSHA256
	if a.PayloadHash == "" {
		a.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	}
	a.SessionToken = q.token
	if a.SessionToken == "" {
		a.SessionToken = r.Header.Get("X-Amz-Security-Token")
	}
	return a, nil
}

// parseV2 reads the S3 SigV2 query form.
func parseV2(r *http.Request, q queryAuth) (*Auth, error) {
	denied := func(msg string) error {
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: msg}
	}
	if q.v2Key == "" || q.v2Signature == "" || q.v2Expires == "" {
		return nil, denied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	n, err := strconv.ParseInt(q.v2Expires, 10, 64)
	if err != nil {
		return nil, denied("Invalid date (should be seconds since epoch): " + q.v2Expires)
	}
	a := &Auth{
		AccessKeyID: q.v2Key,
		Service:     "s3",
		Signature:   q.v2Signature,
		Time:        time.Unix(n, 0).UTC(),
		Presigned:   true,
		V2:          true,
		v2Expires:   q.v2Expires,
	}
	a.SessionToken = q.token
	if a.SessionToken == "" {
		a.SessionToken = r.Header.Get("X-Amz-Security-Token")
	}
	return a, nil
}

// parseCredential splits AKID/date/region/service/aws4_request.
func (a *Auth) parseCredential(c string, presigned bool) error {
	parts := strings.Split(c, "/")
	if len(parts) != 5 {
		if len(parts) >= 4 && parts[3] == "s3" {
			return s3Malformed(presigned, `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
		}
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + c + "'")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	s3 := a.Service == "s3"
	switch {
	case parts[4] != terminator:
		if s3 {
			return s3Malformed(presigned, "incorrect terminal \""+parts[4]+"\". This endpoint uses \"aws4_request\".")
		}
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" + parts[4] + "'.")
	case a.AccessKeyID == "" || a.Region == "" || a.Service == "":
		if s3 {
			return s3Malformed(presigned, `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
		}
		return incomplete("Credential should be scoped to a valid region, service and key, got '" + c + "'.")
	}
	if _, err := time.Parse(dateLayout, a.Date); err != nil {
		if s3 {
			return s3Malformed(presigned, "incorrect date format \""+a.Date+"\". This date in the credential must be in the format \"yyyyMMdd\".")
		}
		return incomplete("Credential should be scoped to a valid date, got '" + a.Date + "'.")
	}
	return nil
}

// checkSignedHeaders insists on host: without it a signature could be
// replayed against another host, and AWS refuses it too.
func (a *Auth) checkSignedHeaders(presigned bool) error {
	for _, h := range a.SignedHeaders {
		if h == "host" {
			return nil
		}
	}
	if a.Service == "s3" {
		return s3Malformed(presigned, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
		Message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
}

func (a *Auth) badDate(name, value string) error {
	if a.Service == "s3" {
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden,
			Message: "AWS authentication requires a valid Date or x-amz-date header"}
	}
	return incomplete("Date must be in ISO-8601 'basic format'. Got '" + value + "' (" + name + "). See http://en.wikipedia.org/wiki/ISO_8601")
}

func (a *Auth) queryOrIncomplete(msg string) error {
	if a.Service == "s3" {
		return queryError(msg)
	}
	return incomplete(msg)
}

func splitSignedHeaders(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// guessService names the service for an error raised before the credential
// scope could be read: S3 requests are the ones with x-amz-content-sha256 or
// SigV2 parameters; everything else gets the JSON services' codes.
func guessService(r *http.Request, credential string) string {
	if parts := strings.Split(credential, "/"); len(parts) >= 4 {
		return parts[3]
	}
	if r.Header.Get("X-Amz-Content-Sha256") != "" {
		return "s3"
	}
	if q := scanQuery(rawQuery(r)); q.v2Key != "" || q.v2Signature != "" {
		return "s3"
	}
	return ""
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

func incomplete(msg string) *Error {
	return &Error{Code: "IncompleteSignatureException", Status: http.StatusBadRequest, Message: msg}
}

func headerMalformed(msg string) *Error {
	return &Error{Code: "AuthorizationHeaderMalformed", Status: http.StatusBadRequest,
		Message: "The authorization header is malformed; " + msg}
}

func queryError(msg string) *Error {
	return &Error{Code: "AuthorizationQueryParametersError", Status: http.StatusBadRequest, Message: msg}
}

func s3Malformed(presigned bool, msg string) *Error {
	if presigned {
		return queryError("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	return headerMalformed(msg)
}

// queryAuth holds the signing parameters found in a raw query, decoded.
type queryAuth struct {
	algorithm, credential, date, expires, signedHeaders, signature string
	contentSHA256, token                                           string
	v2Key, v2Signature, v2Expires                                  string
}

func scanQuery(raw string) queryAuth {
	var q queryAuth
	if raw == "" {
		return q
	}
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		var dst *string
		switch k {
		case "X-Amz-Algorithm":
			dst = &q.algorithm
		case "X-Amz-Credential":
			dst = &q.credential
		case "X-Amz-Date":
			dst = &q.date
		case "X-Amz-Expires":
			dst = &q.expires
		case "X-Amz-SignedHeaders":
			dst = &q.signedHeaders
		case "X-Amz-Signature":
			dst = &q.signature
		case "X-Amz-Content-Sha256", "x-amz-content-sha256":
			dst = &q.contentSHA256
		case "X-Amz-Security-Token", "x-amz-security-token":
			dst = &q.token
		case "AWSAccessKeyId":
			dst = &q.v2Key
		case "Signature":
			dst = &q.v2Signature
		case "Expires":
			dst = &q.v2Expires
		default:
			continue
		}
		*dst = unescape(v)
	}
	return q
}
