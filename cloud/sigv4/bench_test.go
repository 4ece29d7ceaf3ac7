package sigv4

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// BenchmarkVerifyLambda is Parse plus Verify of an Invoke as the Go SDK
// sends it: eight signed headers (accept-encoding, amz-sdk-invocation-id,
// amz-sdk-request, content-length, content-type, host, x-amz-date,
// x-amz-security-token). The body hash is the caller's and not timed.
func BenchmarkVerifyLambda(b *testing.B) {
	body := []byte(`{"order_id":"o-123","items":[1,2,3]}`)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:9001/2015-03-31/functions/my-fn%3Aprod/invocations", bytes.NewReader(body))
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Amz-Sdk-Invocation-Id", "0d9c8a8e-2d0c-4f3a-9d55-6b1c0a8e2d0c")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/lambda#1.114.4 m/E")
	creds := aws.Credentials{AccessKeyID: oracleKey, SecretAccessKey: oracleSecret, SessionToken: "FwoGZXIvYXdzEBYaDEXAMPLETOKEN"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), "lambda", "us-east-1", signedAt); err != nil {
		b.Fatal(err)
	}
	benchVerify(b, req, hashHex(body))
}

// BenchmarkVerifyS3Presigned is Parse plus Verify of a presigned S3 GET
// with a session token.
func BenchmarkVerifyS3Presigned(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9001/bkt/reports/2026%20Q4%2Bfinal.csv?X-Amz-Expires=900&response-content-type=text%2Fcsv", nil)
	creds := aws.Credentials{AccessKeyID: oracleKey, SecretAccessKey: oracleSecret, SessionToken: "FwoGZXIvYXdzEBYaDEXAMPLETOKEN"}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, UnsignedPayload, "s3", "us-east-1", signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		b.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, u, nil)
	benchVerify(b, req, EmptySHA256)
}

func benchVerify(b *testing.B, req *http.Request, payloadHash string) {
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		b.Fatal(err)
	}
	r := serverRequest(b, wire.String())
	now := signedAt.Add(10 * time.Second)
	a, err := Parse(r)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Verify(r, oracleSecret, payloadHash, now); err != nil {
		b.Fatalf("Verify = %v", err)
	}
	b.Logf("signed headers: %v", a.SignedHeaders)
	b.ReportAllocs()
	for b.Loop() {
		a, err := Parse(r)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Verify(r, oracleSecret, payloadHash, now); err != nil {
			b.Fatal(err)
		}
	}
}
