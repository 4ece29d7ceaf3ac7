// Package inproc makes AWS SDK clients that reach the emulated accounts'
// endpoint inside this process: the grader and the web workspace are AWS
// clients of a learner's (or a scratch) account like the CLI is, signing
// every request, without a socket in between.
package inproc

import (
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud"
	"lambdalab/store"
)

// Transport sends each request straight to an endpoint's handler.
type Transport struct{ Handler http.Handler }

func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody // a server's request always has a body
	}
	// On the wire the transport writes the length as a header, which is
	// where servers (gofakes3 among them) look for it.
	if in.ContentLength >= 0 && in.Header.Get("Content-Length") == "" && (in.ContentLength > 0 || in.Body == http.NoBody) {
		in.Header.Set("Content-Length", strconv.FormatInt(in.ContentLength, 10))
	}
	if in.Host == "" {
		in.Host = r.URL.Host
	}
	rec := httptest.NewRecorder()
	t.Handler.ServeHTTP(rec, in)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// S3 is an SDK client of the account's S3, signed with its key.
func S3(endpoint http.Handler, key store.AccessKey) *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		Region:       cloud.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(key.ID, key.Secret, ""),
		BaseEndpoint: aws.String("http://localhost"),
		UsePathStyle: true,
		HTTPClient:   &http.Client{Transport: Transport{endpoint}},
		// What config.LoadDefaultConfig sets, and so what real programs send.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		RetryMaxAttempts:           1,
	})
}
