package sigv4

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The AWS SDK for Go v2's signer is the oracle: requests it signs must
// verify, and must stop verifying when any signed part changes. It is only
// an oracle for what it signs; where it differs from the other clients
// (botocore), fixtures_test.go covers those.

const (
	oracleKey    = "AKIAORACLE0000000001"
	oracleSecret = "oracle/Secret+Key0000000000000000000000"
)

var oracleBase = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// Wire forms of path segments, the tricky ones from reference/aws-clients.md.
var (
	lambdaNames = []string{
		"my-fn", "my-fn%3Aprod", "my-fn:prod", "my-fn%3A%24LATEST", "my-fn:$LATEST",
		"a%2Fb", "a%20b", "%C3%BC", "a+b", "%7Efn", "fn%2a", "",
	}
	s3Segments = []string{
		"key", "", "a%2Fb", "a%20b", "%C3%BC", "$LATEST", "%24LATEST", ":", "%3A",
		"a+b", "~x", "!*'()", "x=y", "@", "%25", "a%2fb", "2018-06-01",
	}
	// Raw bytes Go's client would have escaped; sent through URL.Opaque,
	// they reach the server raw, where r.URL.EscapedPath() no longer
	// matches what was sent.
	rawSegments = []string{"ü", "{x}", "a|b", "q^"}
	queryKeys   = []string{"list-type", "prefix", "Marker", "x", "a b", "ü", "k+", "Qualifier", "acl"}
	queryValues = []string{"", "1", "a+b", "a b", "ü", "=", "x=y", "%", "$LATEST", "~._-", "a/b", "+", "2 + 2 = 4"}
)

type oracleCase struct {
	service, region, method string
	path                    string // wire form
	opaque                  bool   // send the path raw via URL.Opaque
	query                   [][2]string
	body                    []byte
	token                   string
	presigned               bool
	unsignedPayload         bool // S3 with x-amz-content-sha256: UNSIGNED-PAYLOAD
	signedAt                time.Time
}

func randomCase(rng *rand.Rand) oracleCase {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	c := oracleCase{
		service:  []string{"lambda", "s3"}[rng.IntN(2)],
		region:   []string{"us-east-1", "eu-west-1"}[rng.IntN(2)],
		method:   []string{http.MethodGet, http.MethodPut, http.MethodPost}[rng.IntN(3)],
		signedAt: oracleBase.Add(time.Duration(rng.IntN(86400)) * time.Second),
	}
	c.opaque = rng.IntN(5) == 0
	if c.service == "lambda" {
		c.path = "/2015-03-31/functions/" + pick(lambdaNames) + "/invocations"
		if c.opaque {
			c.path = "/2015-03-31/functions/" + pick(rawSegments) + "/invocations"
		}
	} else {
		segs := []string{"bkt"}
		for range 1 + rng.IntN(3) {
			segs = append(segs, pick(s3Segments))
		}
		if c.opaque {
			segs = append(segs, pick(rawSegments))
		}
		c.path = "/" + strings.Join(segs, "/")
	}
	for range rng.IntN(4) {
		c.query = append(c.query, [2]string{pick(queryKeys), pick(queryValues)})
	}
	if rng.IntN(3) > 0 {
		c.token = "token/" + strconv.Itoa(rng.IntN(1000)) + "+=="
	}
	c.presigned = rng.IntN(4) == 0
	if c.presigned {
		c.method = http.MethodGet
	} else if c.method != http.MethodGet {
		c.body = []byte(`{"payload":` + strconv.Itoa(rng.IntN(1e6)) + `}`)
	}
	c.unsignedPayload = c.service == "s3" && !c.presigned && rng.IntN(4) == 0
	return c
}

// encodeStrict percent-encodes everything outside the unreserved set, as
// botocore and the Go SDK do on the wire.
func encodeStrict(s string) string {
	return string(appendQueryEncoded(nil, strings.ReplaceAll(s, "%", "%25")))
}

// sign builds the request as an SDK would send it and signs it with the
// oracle. It returns the signed request and a fresh copy maker.
func (c oracleCase) sign(t *testing.T, srvURL string) func() *http.Request {
	t.Helper()
	var q []string
	for _, kv := range c.query {
		q = append(q, encodeStrict(kv[0])+"="+encodeStrict(kv[1]))
	}
	if c.presigned {
		q = append(q, "X-Amz-Expires=300")
	}
	rawURL := srvURL + "/placeholder"
	req, err := http.NewRequest(c.method, rawURL, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.opaque {
		req.URL.Opaque = "//" + req.URL.Host + c.path
	} else {
		u, err := url.Parse(srvURL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		req.URL = u
	}
	req.URL.RawQuery = strings.Join(q, "&")
	req.Header.Set("X-Lab-Note", "note "+c.signedAt.Format(time.Kitchen))
	req.Header.Set("X-Amz-Meta-Color", "  blue   and  green ")
	req.Header.Add("X-Lab-Multi", "one")
	req.Header.Add("X-Lab-Multi", " two  values")
	req.Header.Set("Amz-Sdk-Invocation-Id", "6b1c0a8e-2d0c-4f3a-9d55-"+strconv.Itoa(c.signedAt.Second()))
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	payload := hashHex(c.body)
	creds := aws.Credentials{AccessKeyID: oracleKey, SecretAccessKey: oracleSecret, SessionToken: c.token}
	opts := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.service == "s3" }
	signer := v4.NewSigner()
	if c.presigned {
		if c.service == "s3" {
			payload = UnsignedPayload
		}
		signed, _, err := signer.PresignHTTP(context.Background(), creds, req, payload, c.service, c.region, c.signedAt, opts)
		if err != nil {
			t.Fatal(err)
		}
		su, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = su.RawQuery
		// Headers the SDK hoisted into the query are no longer sent.
		for k := range req.Header {
			if su.Query().Has(k) {
				req.Header.Del(k)
			}
		}
	} else {
		if c.service == "s3" {
			if c.unsignedPayload {
				payload = UnsignedPayload
			}
			req.Header.Set("X-Amz-Content-Sha256", payload)
		}
		if err := signer.SignHTTP(context.Background(), creds, req, payload, c.service, c.region, c.signedAt, opts); err != nil {
			t.Fatal(err)
		}
	}
	return func() *http.Request {
		r := req.Clone(context.Background())
		r.URL = new(url.URL)
		*r.URL = *req.URL
		r.Body = io.NopCloser(bytes.NewReader(c.body))
		r.ContentLength = int64(len(c.body))
		return r
	}
}

type mutation struct {
	name string
	// apply changes the request on the wire; returns false when it does
	// not apply to this case.
	apply func(c oracleCase, r *http.Request) bool
	// secret and now are the server's, given the signer's.
	secret func(string) string
	// want is the error code expected; "" means it must still verify.
	want func(c oracleCase) string
}

func mismatchCode(c oracleCase) string {
	if c.service == "s3" {
		return "SignatureDoesNotMatch"
	}
	return "InvalidSignatureException"
}

// verifies is the want of a change that must not matter.
func verifies(oracleCase) string { return "" }

// editQuery and editAuth change the signing parameters where they live.
func editAuth(c oracleCase, r *http.Request, header, query func(string) string) bool {
	if c.presigned {
		n := query(r.URL.RawQuery)
		changed := n != r.URL.RawQuery
		r.URL.RawQuery = n
		return changed
	}
	h := r.Header.Get("Authorization")
	n := header(h)
	r.Header.Set("Authorization", n)
	return n != h
}

func setPath(r *http.Request, f func(string) string) {
	if r.URL.Opaque != "" {
		r.URL.Opaque = f(r.URL.Opaque)
		return
	}
	r.URL.Path = f(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = f(r.URL.RawPath)
	}
}

var mutations = []mutation{
	{name: "none", apply: func(oracleCase, *http.Request) bool { return true }, want: verifies},
	{
		name: "path",
		apply: func(c oracleCase, r *http.Request) bool {
			setPath(r, func(p string) string { return p + "x" })
			return true
		},
		want: mismatchCode,
	},
	{
		name: "path-case",
		apply: func(c oracleCase, r *http.Request) bool {
			setPath(r, func(p string) string { return strings.Replace(p, "/bkt", "/bKt", 1) })
			return c.service == "s3"
		},
		want: mismatchCode,
	},
	{
		name: "query-added",
		apply: func(c oracleCase, r *http.Request) bool {
			r.URL.RawQuery = strings.TrimPrefix(r.URL.RawQuery+"&extra=1", "&")
			return true
		},
		want: mismatchCode,
	},
	{
		name: "query-value",
		apply: func(c oracleCase, r *http.Request) bool {
			if len(c.query) == 0 {
				return false
			}
			k := encodeStrict(c.query[0][0]) + "="
			n := strings.Replace(r.URL.RawQuery, k, k+"Z", 1)
			changed := n != r.URL.RawQuery
			r.URL.RawQuery = n
			return changed
		},
		want: mismatchCode,
	},
	{
		// A client that sends '+' unencoded means a plus; the Go SDK's
		// signer would read it as a space (url.Values), but the
		// verifier, like AWS, must not.
		name: "query-plus-literal",
		apply: func(c oracleCase, r *http.Request) bool {
			n := strings.ReplaceAll(r.URL.RawQuery, "%2B", "+")
			changed := n != r.URL.RawQuery
			r.URL.RawQuery = n
			return changed
		},
		want: verifies,
	},
	{
		name: "query-lower-hex",
		apply: func(c oracleCase, r *http.Request) bool {
			n := lowerEscapes(r.URL.RawQuery)
			changed := n != r.URL.RawQuery
			r.URL.RawQuery = n
			return changed
		},
		want: verifies,
	},
	{
		name: "query-reordered",
		apply: func(c oracleCase, r *http.Request) bool {
			pairs := strings.Split(r.URL.RawQuery, "&")
			if len(pairs) < 2 {
				return false
			}
			slices.Reverse(pairs)
			r.URL.RawQuery = strings.Join(pairs, "&")
			return true
		},
		want: verifies,
	},
	{
		name: "signed-header",
		apply: func(c oracleCase, r *http.Request) bool {
			r.Header.Set("X-Lab-Note", r.Header.Get("X-Lab-Note")+"!")
			return true
		},
		want: mismatchCode,
	},
	{
		name: "signed-header-second-value",
		apply: func(c oracleCase, r *http.Request) bool {
			r.Header["X-Lab-Multi"] = []string{"one"}
			return true
		},
		want: mismatchCode,
	},
	{
		name: "header-whitespace",
		apply: func(c oracleCase, r *http.Request) bool {
			r.Header.Set("X-Lab-Note", "  "+strings.ReplaceAll(r.Header.Get("X-Lab-Note"), " ", "    ")+"  ")
			return true
		},
		want: verifies,
	},
	{
		name: "body",
		apply: func(c oracleCase, r *http.Request) bool {
			if len(c.body) == 0 {
				return false
			}
			b := bytes.Clone(c.body)
			b[len(b)-2]++
			r.Body = io.NopCloser(bytes.NewReader(b))
			return true
		},
		want: func(c oracleCase) string {
			switch {
			case c.service == "s3" && c.unsignedPayload:
				return "" // the client chose not to sign it
			case c.service == "s3":
				return "XAmzContentSHA256Mismatch"
			}
			return "InvalidSignatureException"
		},
	},
	{
		name:  "method",
		apply: func(c oracleCase, r *http.Request) bool { r.Method = http.MethodDelete; return true },
		want:  mismatchCode,
	},
	{
		name:   "secret",
		apply:  func(oracleCase, *http.Request) bool { return true },
		secret: func(s string) string { return s + "x" },
		want:   mismatchCode,
	},
	{
		name: "signature",
		apply: func(c oracleCase, r *http.Request) bool {
			if c.presigned {
				return editPresignedSignature(r)
			}
			h := r.Header.Get("Authorization")
			i := strings.Index(h, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", h[:i]+flipDigit(h[i])+h[i+1:])
			return true
		},
		want: mismatchCode,
	},
	{
		name: "amz-date",
		apply: func(c oracleCase, r *http.Request) bool {
			old := c.signedAt.Format(amzDateLayout)
			later := c.signedAt.Add(time.Second).Format(amzDateLayout)
			if c.presigned {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Date="+old, "X-Amz-Date="+later, 1)
				return true
			}
			r.Header.Set("X-Amz-Date", later)
			return true
		},
		want: mismatchCode,
	},
	{
		name: "scope-date",
		apply: func(c oracleCase, r *http.Request) bool {
			d, prev := c.signedAt.Format(dateLayout), c.signedAt.AddDate(0, 0, -1).Format(dateLayout)
			return editAuth(c, r,
				func(h string) string { return strings.Replace(h, "/"+d+"/", "/"+prev+"/", 1) },
				func(q string) string { return strings.Replace(q, "%2F"+d+"%2F", "%2F"+prev+"%2F", 1) })
		},
		want: func(c oracleCase) string {
			switch {
			case c.service == "s3" && c.presigned:
				return "AuthorizationQueryParametersError"
			case c.service == "s3":
				return "AuthorizationHeaderMalformed"
			}
			return "InvalidSignatureException"
		},
	},
	{
		name: "region",
		apply: func(c oracleCase, r *http.Request) bool {
			return editAuth(c, r,
				func(h string) string { return strings.Replace(h, "/"+c.region+"/", "/ap-south-1/", 1) },
				func(q string) string { return strings.Replace(q, "%2F"+c.region+"%2F", "%2Fap-south-1%2F", 1) })
		},
		want: mismatchCode,
	},
	{
		name: "service",
		apply: func(c oracleCase, r *http.Request) bool {
			return editAuth(c, r,
				func(h string) string { return strings.Replace(h, "/"+c.service+"/", "/sqs/", 1) },
				func(q string) string { return strings.Replace(q, "%2F"+c.service+"%2F", "%2Fsqs%2F", 1) })
		},
		want: func(oracleCase) string { return "InvalidSignatureException" },
	},
	{
		name: "token-dropped",
		apply: func(c oracleCase, r *http.Request) bool {
			if c.token == "" {
				return false
			}
			if c.presigned {
				var keep []string
				for p := range strings.SplitSeq(r.URL.RawQuery, "&") {
					if !strings.HasPrefix(p, "X-Amz-Security-Token=") {
						keep = append(keep, p)
					}
				}
				r.URL.RawQuery = strings.Join(keep, "&")
				return true
			}
			r.Header.Del("X-Amz-Security-Token")
			return true
		},
		want: mismatchCode,
	},
}

// editPresignedSignature flips a digit of X-Amz-Signature.
func editPresignedSignature(r *http.Request) bool {
	const p = "X-Amz-Signature="
	q := r.URL.RawQuery
	i := strings.Index(q, p)
	if i < 0 {
		return false
	}
	i += len(p)
	r.URL.RawQuery = q[:i] + flipDigit(q[i]) + q[i+1:]
	return true
}

func flipDigit(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = toLower(b[i+1])
			b[i+2] = toLower(b[i+2])
		}
	}
	return string(b)
}

func toLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func TestOracle(t *testing.T) {
	runOracle(t, newTestServer(t), 150)
}

// TestOracleHTTP2 runs fewer cases over HTTP/2 with TLS, as behind the TLS
// proxy of reference/aws-clients.md: the request target then arrives as
// the :path pseudo-header.
func TestOracleHTTP2(t *testing.T) {
	srv := newTestServerHTTP2(t)
	runOracle(t, srv, 40)
}

func runOracle(t *testing.T, srv *testServer, n int) {
	seed := uint64(time.Now().UnixNano())
	if s := testSeed(); s != 0 {
		seed = s
	}
	t.Logf("seed %d (rerun with SIGV4_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	applied := map[string]int{}
	for i := range n {
		c := randomCase(rng)
		fresh := c.sign(t, srv.URL)
		for _, m := range mutations {
			r := fresh()
			if !m.apply(c, r) {
				continue
			}
			applied[m.name]++
			secret := oracleSecret
			if m.secret != nil {
				secret = m.secret(secret)
			}
			want := m.want(c)
			srv.do(t, r, func(sr *http.Request, body []byte) {
				if sr.ProtoMajor != srv.protoMajor {
					t.Fatalf("request came over HTTP/%d, want HTTP/%d", sr.ProtoMajor, srv.protoMajor)
				}
				_, err := verify(sr, body, secret, c.signedAt.Add(30*time.Second))
				if got := code(err); got != want {
					t.Errorf("case %d %+v\nmutation %s: %s %s\nVerify = %q (%v), want %q",
						i, c, m.name, sr.Method, sr.RequestURI, got, err, want)
				}
			})
		}
	}
	for _, m := range mutations {
		if applied[m.name] == 0 && n >= 100 {
			t.Errorf("mutation %s never applied in %d cases", m.name, n)
		}
	}
	t.Logf("mutations applied: %v", applied)
}

func testSeed() uint64 {
	s, _ := strconv.ParseUint(os.Getenv("SIGV4_SEED"), 10, 64)
	return s
}
