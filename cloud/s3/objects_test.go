package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3svc "lambdalab/cloud/s3"
)

// TestGoPutObject checks the Go side another service writes through: the
// object reads back over the wire like any PUT's (small in a row, large in
// a file), quotas apply, other accounts' buckets are not found, and the
// bucket's notification fires for the write.
func TestGoPutObject(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, withLimits(s3svc.Limits{MaxObjects: 3}))
	a, b := w.account(), w.account()
	c := w.client(a)
	must[*s3.CreateBucketOutput](t, "CreateBucket")(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("failures")}))

	for _, tt := range []struct {
		account, bucket string
		want            bool
	}{{a.id, "failures", true}, {a.id, "nope", false}, {b.id, "failures", false}} {
		if got, err := w.svc.BucketExists(ctx, tt.account, tt.bucket); err != nil || got != tt.want {
			t.Errorf("BucketExists(%s, %s) = %v, %v; want %v", tt.account, tt.bucket, got, err, tt.want)
		}
	}

	fn := "arn:aws:lambda:us-east-1:" + a.id + ":function:audit"
	w.funcs.mu.Lock()
	w.funcs.allowed[fn] = true
	w.funcs.mu.Unlock()
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("failures"),
		NotificationConfiguration: &types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{
			{LambdaFunctionArn: aws.String(fn), Events: []types.Event{"s3:ObjectCreated:*"}}}}})
	if err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}

	small := []byte(`{"version":"1.0"}`)
	large := bytes.Repeat([]byte("x"), 300<<10) // past the row limit: a file
	for key, body := range map[string][]byte{"aws/lambda/async/f/small": small, "aws/lambda/async/f/large": large} {
		if err := w.svc.PutObject(ctx, a.id, "failures", key, body, "application/json"); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
		out := must[*s3.GetObjectOutput](t, "GetObject")(c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("failures"), Key: aws.String(key)}))
		if got := readAll(t, out.Body); !bytes.Equal(got, body) || aws.ToString(out.ContentType) != "application/json" {
			t.Errorf("GetObject %s = %d bytes (%s), want the %d bytes put (application/json)", key, len(got), aws.ToString(out.ContentType), len(body))
		}
	}
	evs := w.events.take()
	if len(evs) != 2 || evs[0].function != fn {
		t.Fatalf("notifications after two writes: %+v, want two for %s", evs, fn)
	}
	var ev struct {
		Records []struct {
			EventName string `json:"eventName"`
			S3        struct {
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(evs[0].event, &ev); err != nil || len(ev.Records) != 1 || ev.Records[0].EventName != "ObjectCreated:Put" ||
		!strings.HasPrefix(ev.Records[0].S3.Object.Key, "aws/lambda/async/f/") {
		t.Errorf("event of the write: %s (%v)", evs[0].event, err)
	}

	if err := w.svc.PutObject(ctx, b.id, "failures", "k", small, "application/json"); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("PutObject into another account's bucket: %v, want NoSuchBucket", err)
	}
	must[*s3.PutObjectOutput](t, "PutObject")(c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("failures"), Key: aws.String("third"), Body: bytes.NewReader(small)}))
	if err := w.svc.PutObject(ctx, a.id, "failures", "fourth", small, "application/json"); err == nil || !strings.Contains(err.Error(), "QuotaExceeded") {
		t.Errorf("PutObject past MaxObjects: %v, want QuotaExceeded", err)
	}
}
