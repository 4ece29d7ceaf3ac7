package endpoint_test

// Lambda and S3 together, as serve wires them: a function triggered by its
// own bucket, stopped by recursive loop detection (reference §13.3), and
// async on-failure records kept in a bucket (§9.3). Real Docker, real boto3
// inside the function, real SQLite.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/endpoint"
	lambdasvc "lambdalab/cloud/lambda"
	s3svc "lambdalab/cloud/s3"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker/dockertest"
	"lambdalab/store"
)

// lockedBuffer collects the service log, written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// s3World is a world with S3 behind the endpoint, wired as accounts.go
// wires serve, and async waits 600 times faster than Lambda's.
type s3World struct {
	*world
	log *lockedBuffer
}

func newS3World(t *testing.T) *s3World {
	t.Helper()
	requireDocker(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := codepkg.Open(filepath.Join(dir, "packages"))
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	svc := lambdasvc.New(lambdasvc.Config{DB: db, Packages: pkgs, Clock: lambdasvc.Clock{Scale: 600}, Logger: logger})
	objects, err := s3svc.New(ctx, s3svc.Config{DB: db, Dir: filepath.Join(dir, "s3"), Functions: svc, Notifier: svc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetObjectStore(objects)
	api := svc.Handler()
	ep := endpoint.New(endpoint.Config{
		DB:       db,
		Services: map[string]http.Handler{"lambda": api, "s3": objects},
		Unsigned: map[string]http.Handler{"/_lambdalab/code/": api},
		Logger:   logger,
	})
	engine := sandbox.New(db, dockertest.Backend(t), sandbox.Config{AWS: ep.Instance(), Runtime: runtimeTable, MaxInstances: 40})
	w := &world{dir: dir, db: db, pkgs: pkgs, svc: svc, ep: ep, engine: engine, srv: httptest.NewServer(ep)}
	t.Cleanup(w.close)
	if err := svc.SetEngine(ctx, engine); err != nil {
		t.Fatal(err)
	}
	return &s3World{world: w, log: log}
}

func (a *account) s3() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(a.w.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(a.key, a.secret, ""),
		UsePathStyle: true,
		Retryer:      aws.NopRetryer{},
	})
}

func createBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// loopHandler writes in/<n+1> into the bucket that sent it in/<n>, under
// the prefix that triggers it: a real loop, which ends on its own only
// when n reaches STOP.
const loopHandler = `import boto3, urllib.parse

STOP = %d
s3 = boto3.client("s3")

def handler(event, context):
    rec = event["Records"][0]["s3"]
    n = int(urllib.parse.unquote_plus(rec["object"]["key"]).rsplit("/", 1)[1])
    if n < STOP:
        s3.put_object(Bucket=rec["bucket"]["name"], Key="in/%%d" %% (n + 1), Body=b"again")
    return n
`

// startLoop creates the function "looper" (stopping itself at stop), lets
// bucket "loop" invoke it for ObjectCreated under in/, sends its failures
// to bucket "failures", and writes in/0 from outside.
func startLoop(t *testing.T, a *account, stop int, allow bool) {
	t.Helper()
	ctx := context.Background()
	b := a.s3()
	createBucket(t, b, "loop")
	createBucket(t, b, "failures")
	a.createPy(t, "looper", fmt.Sprintf(loopHandler, stop))
	if _, err := a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("looper"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::loop"), SourceAccount: aws.String(a.id)}); err != nil {
		t.Fatalf("AddPermission: %v", err)
	}
	if _, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("looper"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:s3:::failures")}}}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	if allow {
		out, err := a.c.PutFunctionRecursionConfig(ctx, &lambda.PutFunctionRecursionConfigInput{FunctionName: aws.String("looper"),
			RecursiveLoop: types.RecursiveLoopAllow})
		if err != nil || out.RecursiveLoop != types.RecursiveLoopAllow {
			t.Fatalf("PutFunctionRecursionConfig Allow = %+v, %v", out, err)
		}
	}
	if _, err := b.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("loop"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{{
			LambdaFunctionArn: aws.String(a.arn("looper")), Events: []s3types.Event{"s3:ObjectCreated:*"},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String("in/")}}}},
		}}}}); err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	if _, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("loop"), Key: aws.String("in/0"), Body: strings.NewReader("first")}); err != nil {
		t.Fatalf("PutObject in/0: %v", err)
	}
}

// outcomes counts a function's invocation records by outcome.
func (w *s3World) outcomes(t *testing.T, a *account, fn string) map[string]int {
	t.Helper()
	if err := w.engine.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	invs, err := w.db.Invocations(context.Background(), a.id, fn, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, inv := range invs {
		out[inv.Outcome+"/"+inv.ErrorType]++
	}
	return out
}

// runs is how many times fn ran (any outcome but a stopped one).
func runs(o map[string]int) int {
	n := 0
	for k, v := range o {
		if !strings.HasPrefix(k, "recursion-stopped/") {
			n += v
		}
	}
	return n
}

// records lists the objects under aws/lambda/async/ in bucket "failures".
func records(t *testing.T, c *s3.Client) []s3types.Object {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("failures"), Prefix: aws.String("aws/lambda/async/")})
	if err != nil {
		t.Fatalf("ListObjectsV2 failures: %v", err)
	}
	return out.Contents
}

func getRecord(t *testing.T, c *s3.Client, key string) lambdasvc.DestinationRecord {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("failures"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rec lambdasvc.DestinationRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatalf("record object %s is not a record: %v\n%s", key, err, body)
	}
	return rec
}

var recordKeyRE = regexp.MustCompile(`^aws/lambda/async/%s/\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func recordKeyOK(fn, key string) bool {
	return regexp.MustCompile(strings.Replace(recordKeyRE.String(), "%s", regexp.QuoteMeta(fn), 1)).MatchString(key)
}

// TestS3RecursiveLoopStopped: a function that writes into the bucket and
// prefix that trigger it runs about 16 times and is stopped; the stopped
// event's record is in the failure bucket, the invocation records and the
// log say why, and nothing runs after.
func TestS3RecursiveLoopStopped(t *testing.T) {
	w := newS3World(t)
	a := w.newAccount(t)
	_, err := a.c.GetFunctionRecursionConfig(context.Background(), &lambda.GetFunctionRecursionConfigInput{FunctionName: aws.String("nope")})
	apiError(t, err, "ResourceNotFoundException", 404)
	startLoop(t, a, 1000, false)
	out, err := a.c.GetFunctionRecursionConfig(context.Background(), &lambda.GetFunctionRecursionConfigInput{FunctionName: aws.String("looper")})
	if err != nil || out.RecursiveLoop != types.RecursiveLoopTerminate {
		t.Fatalf("GetFunctionRecursionConfig of a new function = %+v, %v; want Terminate", out, err)
	}
	c := a.s3()
	eventually(t, 2*time.Minute, "the stopped event's record in bucket failures", func() bool { return len(records(t, c)) > 0 })
	o := w.outcomes(t, a, "looper")
	n := runs(o)
	if n < 15 || n > 17 || o["recursion-stopped/RecursiveInvocationException"] != 1 || o["success/"] != n {
		t.Errorf("invocation records %v: want about 16 successes and one recursion-stopped/RecursiveInvocationException", o)
	}
	// It stays stopped.
	time.Sleep(3 * time.Second)
	if later := w.outcomes(t, a, "looper"); runs(later) != n || len(records(t, c)) != 1 {
		t.Errorf("after the stop: invocation records %v (was %v), %d records; want no more of either", later, o, len(records(t, c)))
	}
	objs := records(t, c)
	key := aws.ToString(objs[0].Key)
	if !recordKeyOK("looper", key) {
		t.Errorf("record key %s, want aws/lambda/async/looper/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>", key)
	}
	rec := getRecord(t, c, key)
	var payload struct {
		Records []struct {
			S3 struct {
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	json.Unmarshal(rec.RequestPayload, &payload)
	if rec.RequestContext.Condition != "RecursiveInvocationDetected" || rec.RequestContext.ApproximateInvokeCount != 0 ||
		!strings.Contains(string(rec.ResponsePayload), "RecursiveInvocationException") ||
		len(payload.Records) != 1 || payload.Records[0].S3.Object.Key != "in/"+strconv.Itoa(n) {
		t.Errorf("record %+v, payload %s: want the loop stopped at the event for in/%d", rec.RequestContext, rec.RequestPayload, n)
	}
	if want := "lambdalab stopped a recursive loop: function looper was invoked by its own writes to bucket loop 16 times in one chain; see PutFunctionRecursionConfig"; !strings.Contains(w.log.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, w.log.String())
	}
}

// TestS3RecursiveLoopAllowed: with RecursiveLoop Allow the chain goes on
// past 16, to where the function itself stops writing (in/20).
func TestS3RecursiveLoopAllowed(t *testing.T) {
	w := newS3World(t)
	a := w.newAccount(t)
	startLoop(t, a, 20, true)
	eventually(t, 2*time.Minute, "21 runs (in/0 to in/20)", func() bool { return runs(w.outcomes(t, a, "looper")) >= 21 })
	time.Sleep(2 * time.Second)
	if o := w.outcomes(t, a, "looper"); o["success/"] != 21 || runs(o) != 21 {
		t.Errorf("invocation records %v, want 21 successes and nothing stopped", o)
	}
	if n := len(records(t, a.s3())); n != 0 {
		t.Errorf("%d records in the failure bucket, want none", n)
	}
}

// TestS3FailureDestination: an always-failing function's events end as
// objects in its on-failure bucket, the record as the body.
func TestS3FailureDestination(t *testing.T) {
	w := newS3World(t)
	a := w.newAccount(t)
	ctx := context.Background()
	c := a.s3()
	createBucket(t, c, "failures")
	a.createPy(t, "broken", "def handler(event, context):\n    raise ValueError(\"broken on purpose\")\n")
	_, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("broken"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String("arn:aws:s3:::failures")}}})
	apiError(t, err, "InvalidParameterValueException", 400)
	_, err = a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("broken"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:s3:::no-such-bucket")}}})
	apiError(t, err, "InvalidParameterValueException", 400)
	if _, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("broken"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:s3:::failures")}}}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig OnFailure S3: %v", err)
	}
	inv, err := a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("broken"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"order": 42}`)})
	if err != nil || inv.StatusCode != 202 {
		t.Fatalf("Event invoke: %+v, %v", inv, err)
	}
	eventually(t, 2*time.Minute, "the record object in bucket failures", func() bool { return len(records(t, c)) > 0 })
	objs := records(t, c)
	key := aws.ToString(objs[0].Key)
	if len(objs) != 1 || !recordKeyOK("broken", key) {
		t.Errorf("record objects %d, key %s; want one at aws/lambda/async/broken/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>", len(objs), key)
	}
	rec := getRecord(t, c, key)
	var resp struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	json.Unmarshal(rec.ResponsePayload, &resp)
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 ||
		rec.RequestContext.FunctionArn != a.arn("broken")+":$LATEST" || string(rec.RequestPayload) != `{"order":42}` ||
		rec.ResponseContext == nil || rec.ResponseContext.FunctionError != "Unhandled" ||
		resp.ErrorType != "ValueError" || resp.ErrorMessage != "broken on purpose" {
		t.Errorf("record %+v %+v %s %s: want RetriesExhausted after 3 tries with the ValueError", rec.RequestContext, rec.ResponseContext, rec.RequestPayload, rec.ResponsePayload)
	}
	if !strings.HasPrefix(key, "aws/lambda/async/broken/"+strings.ReplaceAll(rec.Timestamp[:10], "-", "/")+"/"+rec.Timestamp[:10]+"T") {
		t.Errorf("key %s does not carry the record's time %s", key, rec.Timestamp)
	}
}
