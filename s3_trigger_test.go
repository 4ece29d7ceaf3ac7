package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// transformHandler is the S3 lab's function: it reads the object that
// triggered it, replaces phone numbers and writes the result under the same
// key into photos-out. boto3 finds the endpoint and credentials in the
// environment alone. It also keeps the raw event as
// photos-out/events/<request id>.json, so the test can read what S3 sent.
const transformHandler = `import json
import re
import urllib.parse

import boto3

s3 = boto3.client("s3")
PHONE = re.compile(r"\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}")


def handler(event, context):
    s3.put_object(Bucket="photos-out", Key="events/%s.json" % context.aws_request_id,
                  Body=json.dumps(event).encode(), ContentType="application/json")
    print(json.dumps(event))
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        s3.put_object(Bucket="photos-out", Key=key, Body=PHONE.sub("[phone]", text).encode("utf-8"),
                      ContentType="text/plain; charset=utf-8")
    return event
`

// phoneRE is the handler's PHONE, for the outputs the test expects.
var phoneRE = regexp.MustCompile(`\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}`)

func redacted(s string) string { return phoneRE.ReplaceAllString(s, "[phone]") }

// s3Client is the Go SDK's S3 client signing with a learner's keys, path
// style as every SDK is against an IP endpoint.
func s3Client(endpoint string, keys map[string]string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], ""),
		UsePathStyle: true,
	})
}

// setUpTransform makes the lab's set-up with the CLI: buckets photos and
// photos-out, the transform function, the permission for S3 to invoke it
// for photos, and photos' notification for s3:ObjectCreated:* under in/
// ending .txt.
func setUpTransform(t *testing.T, aws *awsCLI, account string) {
	t.Helper()
	for _, b := range []string{"photos", "photos-out"} {
		aws.cliText("s3", "mb", "s3://"+b)
	}
	var fn struct{ FunctionArn string }
	aws.json(&fn, "lambda", "create-function", "--function-name", "transform", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--memory-size", "512", "--zip-file", aws.zipFile("transform.zip", map[string]string{"app.py": transformHandler}))
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", "transform")
	// Two cold starts at most: on two cores, many Python inits at once take
	// longer than Lambda's init allowance.
	aws.json(nil, "lambda", "put-function-concurrency", "--function-name", "transform", "--reserved-concurrent-executions", "2")
	aws.json(nil, "lambda", "add-permission", "--function-name", "transform", "--statement-id", "s3-photos", "--action", "lambda:InvokeFunction",
		"--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::photos", "--source-account", account)
	cfg := filepath.Join(aws.dir, "notification.json")
	doc := fmt.Sprintf(`{"LambdaFunctionConfigurations": [{"Id": "phone-redact", "LambdaFunctionArn": %q,
  "Events": ["s3:ObjectCreated:*"],
  "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".txt"}]}}}]}`, fn.FunctionArn)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	aws.json(nil, "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", "file://"+cfg)
	var got struct {
		LambdaFunctionConfigurations []struct {
			Id, LambdaFunctionArn string
			Events                []string
			Filter                struct {
				Key struct {
					FilterRules []struct{ Name, Value string }
				}
			}
		}
	}
	aws.json(&got, "s3api", "get-bucket-notification-configuration", "--bucket", "photos")
	if c := got.LambdaFunctionConfigurations; len(c) != 1 || c[0].Id != "phone-redact" || c[0].LambdaFunctionArn != fn.FunctionArn ||
		!slices.Equal(c[0].Events, []string{"s3:ObjectCreated:*"}) || len(c[0].Filter.Key.FilterRules) != 2 {
		t.Errorf("get-bucket-notification-configuration: %+v", got)
	}
}

// upload is one object a test puts into photos.
type upload struct {
	key, body string
	// match says whether the notification's filter covers the key.
	match bool
}

// transformUploads are keys that need encoding in an event (a space, a
// '+', non-ASCII letters, an '=' and a '&'), and keys the filter leaves out.
var transformUploads = []upload{
	{"in/red flower+ünï.txt", "Call 555-123-4567 or (555) 987-6543, ask for Ünï.\n", true},
	{"in/plain.txt", "no numbers here\n", true},
	{"in/a/b=c&d.txt", "fax 555.222.3333\n", true},
	{"in/photo.jpg", "not text 555-123-4567", false},
	{"notes/x.txt", "outside in/ 555-123-4567", false},
}

// putUploads puts the uploads into photos with the CLI, alternating between
// s3 cp and s3api put-object; bodies over 8 MB go by s3 cp, which sends
// them in parts.
func putUploads(t *testing.T, aws *awsCLI, ups []upload) {
	t.Helper()
	for i, u := range ups {
		f := filepath.Join(aws.dir, fmt.Sprintf("upload-%d", i))
		if err := os.WriteFile(f, []byte(u.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 || len(u.body) > 8<<20 {
			aws.cliText("s3", "cp", f, "s3://photos/"+u.key)
		} else {
			aws.json(nil, "s3api", "put-object", "--bucket", "photos", "--key", u.key, "--body", f)
		}
	}
}

// objectText reads an object; ok is false when there is no such key.
func objectText(t *testing.T, c *s3.Client, bucket, key string) (body string, ok bool) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nk *s3types.NoSuchKey
	if errors.As(err, &nk) {
		return "", false
	}
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return string(b), true
}

// listKeys lists a bucket's keys under prefix.
func listKeys(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// s3Record is the part of an S3 event record the tests look at.
type s3Record struct {
	EventVersion, EventSource, AWSRegion, EventTime, EventName string
	ResponseElements                                           map[string]string
	S3                                                         struct {
		S3SchemaVersion, ConfigurationID string
		Bucket                           struct{ Name, ARN string }
		Object                           struct {
			Key       string
			Size      *int64
			ETag      string
			Sequencer string
		}
	}
}

// waitForTransforms waits until photos-out holds the transformed copy of
// every matching upload and one event file per matching upload, checks the
// copies and returns the events' records by their (encoded) key.
func waitForTransforms(t *testing.T, c *s3.Client, ups []upload, limit time.Duration) map[string]s3Record {
	t.Helper()
	var want int
	for _, u := range ups {
		if u.match {
			want++
		}
	}
	waitFor(t, limit, "every transformed object and event in photos-out", func() bool {
		for _, u := range ups {
			if _, ok := objectText(t, c, "photos-out", u.key); u.match && !ok {
				return false
			}
		}
		return len(listKeys(t, c, "photos-out", "events/")) >= want
	})
	for _, u := range ups {
		body, ok := objectText(t, c, "photos-out", u.key)
		switch {
		case u.match && body != redacted(u.body):
			t.Errorf("photos-out/%s = %q, want %q", u.key, body, redacted(u.body))
		case !u.match && ok:
			t.Errorf("photos-out/%s exists, but the filter leaves %s out", u.key, u.key)
		}
	}
	records := map[string]s3Record{}
	events := listKeys(t, c, "photos-out", "events/")
	for _, k := range events {
		doc, _ := objectText(t, c, "photos-out", k)
		var ev struct{ Records []s3Record }
		if err := json.Unmarshal([]byte(doc), &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("%s is not a one-record S3 event (%v):\n%s", k, err, doc)
		}
		r := ev.Records[0]
		if _, dup := records[r.S3.Object.Key]; dup {
			t.Errorf("two events for %s", r.S3.Object.Key)
		}
		records[r.S3.Object.Key] = r
	}
	if len(events) != want {
		t.Errorf("the function ran for %d events, want %d (one per matching upload): %q", len(events), want, events)
	}
	return records
}

// checkRecord compares an event record with the upload that caused it.
func checkRecord(t *testing.T, rec s3Record, u upload, eventName string) {
	t.Helper()
	sum := md5.Sum([]byte(u.body))
	o := rec.S3.Object
	if rec.EventVersion != "2.1" || rec.EventSource != "aws:s3" || rec.AWSRegion != "us-east-1" || rec.EventName != eventName ||
		rec.S3.S3SchemaVersion != "1.0" || rec.S3.ConfigurationID != "phone-redact" ||
		rec.S3.Bucket.Name != "photos" || rec.S3.Bucket.ARN != "arn:aws:s3:::photos" ||
		o.Size == nil || *o.Size != int64(len(u.body)) || o.ETag != hex.EncodeToString(sum[:]) || o.Sequencer == "" ||
		rec.ResponseElements["x-amz-request-id"] == "" {
		t.Errorf("event record for %q: %+v (size %v); want %s version 2.1 from photos, size %d, eTag %x without quotes",
			u.key, rec, o.Size, eventName, len(u.body), sum)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.EventTime); err != nil {
		t.Errorf("eventTime %q is not ISO-8601 UTC with milliseconds", rec.EventTime)
	}
}

// TestS3TriggerTransform is the S3 lab end to end with the real CLI and
// boto3 inside the function: a function without the permission cannot be a
// target, and with it, objects put under in/ ending .txt are transformed
// into photos-out under the same decoded key, while the event names the key
// URL-encoded form style.
func TestS3TriggerTransform(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	data := shortTempDir(t)
	s := startWithSandbox(t, data)
	keys := addUser(t, data, "photos@example.com")
	aws := newAWSCLI(t, s.AWSURL, keys)
	account := keyAccount(t, openDB(t, data), keys)

	// A target S3 may not invoke is refused, and the bucket keeps no
	// configuration.
	aws.cliText("s3", "mb", "s3://unpermitted")
	var lone struct{ FunctionArn string }
	aws.json(&lone, "lambda", "create-function", "--function-name", "no-permission", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--zip-file", aws.zipFile("lone.zip", map[string]string{"app.py": "def handler(e, c):\n    return e\n"}))
	cfg := fmt.Sprintf(`{"LambdaFunctionConfigurations": [{"LambdaFunctionArn": %q, "Events": ["s3:ObjectCreated:*"]}]}`, lone.FunctionArn)
	errOut := aws.fails("InvalidArgument", nil, "s3api", "put-bucket-notification-configuration", "--bucket", "unpermitted", "--notification-configuration", cfg)
	if !strings.Contains(errOut, "Unable to validate the following destination configurations") {
		t.Errorf("the refusal does not say why:\n%s", errOut)
	}
	var none map[string]any
	aws.json(&none, "s3api", "get-bucket-notification-configuration", "--bucket", "unpermitted")
	if len(none) != 0 {
		t.Errorf("after the refusal the bucket has the configuration %v", none)
	}

	setUpTransform(t, aws, account)
	ups := append([]upload{}, transformUploads...)
	// A multipart upload (over the CLI's 8 MB threshold) is an
	// ObjectCreated:CompleteMultipartUpload.
	bigText := strings.Repeat("line with 555-000-1111 in it\n", 9<<20/29+1)
	ups = append(ups, upload{"in/big log.txt", bigText, true})
	putUploads(t, aws, ups)
	// A server-side copy is an ObjectCreated:Copy.
	aws.cliText("s3", "cp", "s3://photos/in/plain.txt", "s3://photos/in/copy of plain.txt")
	ups = append(ups, upload{"in/copy of plain.txt", transformUploads[1].body, true})

	c := s3Client(s.AWSURL, keys)
	records := waitForTransforms(t, c, ups, 2*time.Minute)
	wantKeys := map[string]string{
		"in/red flower+ünï.txt": "in/red+flower%2B%C3%BCn%C3%AF.txt",
		"in/plain.txt":          "in/plain.txt",
		"in/a/b=c&d.txt":        "in/a/b%3Dc%26d.txt",
		"in/big log.txt":        "in/big+log.txt",
		"in/copy of plain.txt":  "in/copy+of+plain.txt",
	}
	for _, u := range ups {
		if !u.match {
			continue
		}
		rec, ok := records[wantKeys[u.key]]
		if !ok {
			t.Errorf("no event with the key %q for %q; events have %v", wantKeys[u.key], u.key, slices.Collect(maps.Keys(records)))
			continue
		}
		name := "ObjectCreated:Put"
		switch {
		case len(u.body) > 8<<20:
			name = "ObjectCreated:CompleteMultipartUpload"
		case strings.HasPrefix(u.key, "in/copy of "):
			name = "ObjectCreated:Copy"
		}
		checkRecord(t, rec, u, name)
	}
	seqs := map[string]bool{}
	for _, r := range records {
		seqs[r.S3.Object.Sequencer] = true
	}
	if len(seqs) != len(records) {
		t.Errorf("events share sequencers: %d distinct of %d", len(seqs), len(records))
	}
}

// TestS3EventsSurviveKill kills the whole program with SIGKILL after S3
// answered the uploads and before any event could be delivered (the first
// run has no sandbox), restarts it with its sandbox on the same data folder
// and port, and finds every event delivered and transformed.
func TestS3EventsSurviveKill(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	bin := buildProgram(t)
	data, port := shortTempDir(t), freePort(t)
	keys := addUser(t, data, "kill@example.com")
	db := openDB(t, data)
	account := keyAccount(t, db, keys)

	first := startProgram(t, bin, data, port, "LAMBDALAB_SANDBOX=off", "LAMBDALAB_TIME_SCALE=600")
	aws := newAWSCLI(t, first.AWSURL, keys)
	setUpTransform(t, aws, account)
	putUploads(t, aws, transformUploads)
	first.kill()
	if got := invocations(t, db, account, "transform"); len(got) != 0 {
		t.Fatalf("%d invocations before the kill, want none", len(got))
	}

	second := startProgram(t, bin, data, port, "LAMBDALAB_PRESTART=1", "LAMBDALAB_TIME_SCALE=600")
	if second.AWSURL != first.AWSURL {
		t.Fatalf("restarted on %s, was %s", second.AWSURL, first.AWSURL)
	}
	records := waitForTransforms(t, s3Client(second.AWSURL, keys), transformUploads, 2*time.Minute)
	if _, ok := records["in/red+flower%2B%C3%BCn%C3%AF.txt"]; !ok {
		t.Errorf("no event for in/red flower+ünï.txt after the restart: %v", slices.Collect(maps.Keys(records)))
	}
	// With two instances reserved, the third event is throttled (and
	// retried) while they start.
	ran := 0
	for _, inv := range invocations(t, db, account, "transform") {
		switch inv.Outcome {
		case "success":
			ran++
		case "throttled":
		default:
			t.Errorf("invocation %s: %s %s", inv.RequestID, inv.Outcome, inv.ErrorType)
		}
	}
	if ran != 3 {
		t.Errorf("%d successful invocations, want one per matching upload, 3", ran)
	}
	second.stop(t)
	if left := containers(t, data); len(left) > 0 {
		t.Errorf("containers left after the program stopped: %v", left)
	}
}
