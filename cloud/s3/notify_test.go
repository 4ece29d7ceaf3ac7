package s3_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// referenceEvent is the Put event of reference/lambda-behaviour.md §13.2.
const referenceEvent = `{
  "Records": [
    {
      "eventVersion": "2.1",
      "eventSource": "aws:s3",
      "awsRegion": "us-east-2",
      "eventTime": "2019-09-03T19:37:27.192Z",
      "eventName": "ObjectCreated:Put",
      "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
      "requestParameters": {"sourceIPAddress": "205.255.255.255"},
      "responseElements": {
        "x-amz-request-id": "D82B88E5F771F645",
        "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="
      },
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "828aa6fc-f7b5-4305-8584-487c791949c1",
        "bucket": {
          "name": "source-bucket",
          "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
          "arn": "arn:aws:s3:::source-bucket"
        },
        "object": {
          "key": "incoming/red+flower.jpg",
          "size": 1305107,
          "eTag": "b21b84d653bb07b05b1e6b33684dc11b",
          "sequencer": "0C0F6F405D6ED209E1"
        }
      }
    }
  ]
}`

// shape flattens a JSON document into path → JSON kind, so that two
// events can be compared field by field.
func shape(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, doc)
	}
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			out[path] = "array of " + string(rune('0'+len(x)))
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			out[path] = "string"
		case float64:
			out[path] = "number"
		default:
			out[path] = "other"
		}
	}
	walk("", v)
	return out
}

func record(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var ev struct{ Records []map[string]any }
	if err := json.Unmarshal(doc, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("event %s: want one record (%v)", doc, err)
	}
	return ev.Records[0]
}

func field(r map[string]any, path string) any {
	var v any = r
	for _, p := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestNotifications(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "source-bucket")
	thumbs := "arn:aws:lambda:us-east-1:" + a.id + ":function:thumbs"
	cleanup := "arn:aws:lambda:us-east-1:" + a.id + ":function:cleanup:live"
	lambdaCfg := func(id, arn string, events []types.Event, prefix, suffix string) types.LambdaFunctionConfiguration {
		cfg := types.LambdaFunctionConfiguration{Id: aws.String(id), LambdaFunctionArn: aws.String(arn), Events: events}
		var rules []types.FilterRule
		if prefix != "" {
			rules = append(rules, types.FilterRule{Name: types.FilterRuleNamePrefix, Value: aws.String(prefix)})
		}
		if suffix != "" {
			rules = append(rules, types.FilterRule{Name: types.FilterRuleNameSuffix, Value: aws.String(suffix)})
		}
		if rules != nil {
			cfg.Filter = &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: rules}}
		}
		return cfg
	}
	configure := func(cfgs ...types.LambdaFunctionConfiguration) error {
		_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("source-bucket"),
			NotificationConfiguration: &types.NotificationConfiguration{LambdaFunctionConfigurations: cfgs}})
		return err
	}
	created := lambdaCfg("on-upload", thumbs, []types.Event{"s3:ObjectCreated:*"}, "incoming/", ".jpg")
	removed := lambdaCfg("on-delete", cleanup, []types.Event{"s3:ObjectRemoved:*"}, "", "")

	// Refusals: no permission, overlapping configurations, bad event.
	err := configure(created)
	wantCode(t, "target without permission", err, "InvalidArgument")
	if err != nil && !strings.Contains(err.Error(), "Unable to validate the following destination configurations") {
		t.Errorf("refusal message: %v", err)
	}
	w.funcs.mu.Lock()
	w.funcs.allowed[thumbs], w.funcs.allowed[cleanup] = true, true
	w.funcs.mu.Unlock()
	wantCode(t, "overlapping configurations", configure(created, lambdaCfg("again", cleanup, []types.Event{"s3:ObjectCreated:Put"}, "incoming/a", "")), "InvalidArgument")
	wantCode(t, "unknown event", configure(lambdaCfg("x", thumbs, []types.Event{"s3:ObjectCreated:Sideways"}, "", "")), "InvalidArgument")
	other := "arn:aws:lambda:us-east-1:999999999999:function:thumbs"
	wantCode(t, "another account's function", configure(lambdaCfg("x", other, []types.Event{"s3:ObjectCreated:*"}, "", "")), "InvalidArgument")

	if err := configure(created, removed); err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	got := must[*s3.GetBucketNotificationConfigurationOutput](t, "GetBucketNotificationConfiguration")(c.GetBucketNotificationConfiguration(ctx,
		&s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("source-bucket")}))
	if len(got.LambdaFunctionConfigurations) != 2 || aws.ToString(got.LambdaFunctionConfigurations[0].LambdaFunctionArn) != thumbs ||
		len(got.LambdaFunctionConfigurations[0].Filter.Key.FilterRules) != 2 {
		t.Errorf("configuration read back: %+v", got.LambdaFunctionConfigurations)
	}
	w.events.take()

	// A key with a space, a plus and non-ASCII letters.
	key := "incoming/red flower+ünïcödé.jpg"
	body := []byte("a jpeg, honestly")
	put(t, c, "source-bucket", key, body)
	put(t, c, "source-bucket", "incoming/not-a-photo.png", body) // suffix does not match
	put(t, c, "source-bucket", "elsewhere/x.jpg", body)          // prefix does not match
	evs := w.events.take()
	if len(evs) != 1 {
		t.Fatalf("%d events for one matching PUT, want 1", len(evs))
	}
	if evs[0].account != a.id || evs[0].function != thumbs {
		t.Errorf("event for %s/%s, want %s/%s", evs[0].account, evs[0].function, a.id, thumbs)
	}
	want, gotShape := shape(t, []byte(referenceEvent)), shape(t, evs[0].event)
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range gotShape {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if want[p] != gotShape[p] {
			t.Errorf("field %s: %q, the reference has %q", p, gotShape[p], want[p])
		}
	}
	rec := record(t, evs[0].event)
	sum := md5sum(body)
	for path, want := range map[string]any{
		"eventVersion":                      "2.1",
		"eventSource":                       "aws:s3",
		"awsRegion":                         "us-east-1",
		"eventName":                         "ObjectCreated:Put",
		"requestParameters.sourceIPAddress": "127.0.0.1",
		"s3.s3SchemaVersion":                "1.0",
		"s3.configurationId":                "on-upload",
		"s3.bucket.name":                    "source-bucket",
		"s3.bucket.arn":                     "arn:aws:s3:::source-bucket",
		"s3.object.key":                     "incoming/red+flower%2B%C3%BCn%C3%AFc%C3%B6d%C3%A9.jpg",
		"s3.object.size":                    float64(len(body)),
		"s3.object.eTag":                    hex.EncodeToString(sum),
	} {
		if got := field(rec, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for path, re := range map[string]string{
		"eventTime":                           `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`,
		"userIdentity.principalId":            `^AWS:AIDA[A-Z2-7]{16}$`,
		"responseElements.x-amz-request-id":   `^[0-9A-F]{16}$`,
		"responseElements.x-amz-id-2":         `^[A-Za-z0-9+/=]{20,}$`,
		"s3.bucket.ownerIdentity.principalId": `^A[A-Z2-7]{13}$`,
		"s3.object.sequencer":                 `^[0-9A-F]{18}$`,
	} {
		if s, _ := field(rec, path).(string); !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("%s = %q, want it to match %s", path, s, re)
		}
	}

	// Copy, multipart, delete and multi-delete, each with its event name;
	// the sequencer grows for the same key.
	firstSeq := field(rec, "s3.object.sequencer").(string)
	must[*s3.CopyObjectOutput](t, "CopyObject")(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("source-bucket"),
		Key: aws.String("incoming/copy.jpg"), CopySource: aws.String("source-bucket/elsewhere/x.jpg")}))
	up := must[*s3.CreateMultipartUploadOutput](t, "CreateMultipartUpload")(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("source-bucket"), Key: aws.String("incoming/mp.jpg")}))
	part := must[*s3.UploadPartOutput](t, "UploadPart")(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("source-bucket"), Key: aws.String("incoming/mp.jpg"),
		UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(body)}))
	must[*s3.CompleteMultipartUploadOutput](t, "CompleteMultipartUpload")(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("source-bucket"),
		Key: aws.String("incoming/mp.jpg"), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}}))
	must[*s3.DeleteObjectOutput](t, "DeleteObject")(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("source-bucket"), Key: aws.String(key)}))
	must[*s3.DeleteObjectOutput](t, "DeleteObject of a missing key")(c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("source-bucket"), Key: aws.String("never/was")}))
	must[*s3.DeleteObjectsOutput](t, "DeleteObjects")(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("source-bucket"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("incoming/copy.jpg")}, {Key: aws.String("elsewhere/x.jpg")}}}}))
	var names []string
	for _, ev := range w.events.take() {
		r := record(t, ev.event)
		name := field(r, "eventName").(string) + " " + field(r, "s3.object.key").(string) + " " + ev.function[strings.LastIndex(ev.function, "function:")+9:]
		names = append(names, name)
		if strings.HasPrefix(name, "ObjectRemoved") {
			if field(r, "s3.object.size") != nil || field(r, "s3.object.eTag") != nil {
				t.Errorf("%s carries size or eTag: %s", name, ev.event)
			}
			if k := field(r, "s3.object.key").(string); strings.HasPrefix(k, "incoming/red") {
				if seq := field(r, "s3.object.sequencer").(string); seq <= firstSeq {
					t.Errorf("sequencer of the delete %s is not after the put's %s", seq, firstSeq)
				}
			}
		}
	}
	wantNames := []string{
		"ObjectCreated:Copy incoming/copy.jpg thumbs",
		"ObjectCreated:CompleteMultipartUpload incoming/mp.jpg thumbs",
		"ObjectRemoved:Delete incoming/red+flower%2B%C3%BCn%C3%AFc%C3%B6d%C3%A9.jpg cleanup:live",
		"ObjectRemoved:Delete incoming/copy.jpg cleanup:live",
		"ObjectRemoved:Delete elsewhere/x.jpg cleanup:live",
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}

	// An empty configuration removes notifications.
	if err := configure(); err != nil {
		t.Fatal(err)
	}
	put(t, c, "source-bucket", "incoming/after.jpg", body)
	if evs := w.events.take(); len(evs) != 0 {
		t.Errorf("%d events after the configuration was removed", len(evs))
	}
	// Other sub-resources are refused plainly.
	_, err = c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String("source-bucket"),
		WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}})
	wantCode(t, "PutBucketWebsite", err, "NotImplemented")
}
