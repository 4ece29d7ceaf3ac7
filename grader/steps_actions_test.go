package grader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"gopkg.in/yaml.v3"

	"lambdalab/cloud/lambda"
	"lambdalab/labs"
)

// act decodes src strictly as the arguments of an action kind, validates
// and expands them as the runner does, and runs the kind.
func act(t *testing.T, env *Env, kind, src string) error {
	t.Helper()
	k, ok := actionKinds[kind]
	if !ok {
		t.Fatalf("no action kind %s", kind)
	}
	return runStep(t, env, k, kind, src, 90*time.Second)
}

// actOK runs a step that must pass.
func actOK(t *testing.T, env *Env, kind, src string) {
	t.Helper()
	if err := act(t, env, kind, src); err != nil {
		t.Fatalf("%s {%s} = %v, want it to pass", kind, src, err)
	}
}

// actFails runs a step that must fail with a message matching want (a
// regular expression of the whole message).
func actFails(t *testing.T, env *Env, kind, src, want string) {
	t.Helper()
	err := act(t, env, kind, src)
	var f *Failure
	if !errors.As(err, &f) {
		t.Errorf("%s {%s} = %v (%T), want a failure matching %s", kind, src, err, err, want)
		return
	}
	t.Logf("%s: %s", kind, f.Msg)
	if !regexp.MustCompile("^(?:" + want + ")$").MatchString(f.Msg) {
		t.Errorf("%s {%s} failed with\n  %s\nwant a message matching\n  %s", kind, src, f.Msg, want)
	}
}

// actSubmission is the submission folder of the tests: a handler whose
// answer says which code runs, a second version of it, a layer folder
// and a handler that does not import.
var actSubmission = map[string]string{
	"app.py": `import json, os, time

MARK = "one"


def handler(event, context):
    mode = event.get("mode") if isinstance(event, dict) else None
    if mode == "sleep":
        time.sleep(event["seconds"])
        return {"slept": event["seconds"]}
    if mode == "raise":
        raise ValueError("bad order %s" % event.get("id"))
    if mode == "exit":
        os._exit(1)
    if mode == "layer":
        import helper
        return {"helper": helper.NAME}
    if mode == "bundled":
        import bundled
        return {"bundled": bundled.NAME}
    if mode == "env":
        return {k: os.environ.get(k) for k in event["keys"]}
    return {"mark": MARK, "echo": event}
`,
	"v2/app.py": `def handler(event, context):
    return {"mark": "two", "echo": event}
`,
	"layer/python/helper.py": "NAME = 'from layer'\n",
	"broken/app.py":          "import nosuchmodule\n\ndef handler(event, context):\n    return 1\n",
	"syntax/app.py":          "def handler(event, context:\n    return 1\n",
}

// actReadyLayer writes a ready layer's zip (a Python module under
// python/) and returns a ReadyLayer that knows it as demo-lib.
func actReadyLayer(t *testing.T) func(context.Context, string) (string, error) {
	zip, err := zipPackage(zipTree{files(map[string]string{"python/bundled.py": "NAME = 'bundled'\n"}), "."})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo-lib.zip")
	if err := os.WriteFile(path, zip, 0o644); err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, name string) (string, error) {
		if name != "demo-lib" {
			return "", os.ErrNotExist
		}
		return path, nil
	}
}

func TestActionValidate(t *testing.T) {
	tests := []struct {
		kind, src string
		want      string // "" for valid, else a substring of the error
	}{
		{"put_object", `{bucket: b, key: k, body: x}`, ""},
		{"put_object", `{bucket: b, key: k}`, ""},
		{"put_object", `{bucket: b, key: k, body: x, file: seeds/a}`, "give one of"},
		{"put_object", `{bucket: b, key: k, generate: {line: "", bytes: 5}}`, "generate needs"},
		{"put_object", `{key: k}`, "bucket is required"},
		{"create_bucket", `{}`, "bucket is required"},
		{"put_bucket_notification", `{bucket: b, functions: [{function: f, events: ["ObjectCreated:*"]}]}`, "not an S3 event type"},
		{"put_bucket_notification", `{bucket: b, functions: [{prefix: in/}]}`, "functions[0]: function is required"},
		{"add_permission", `{function: f}`, "statement_id, principal are required"},
		{"update_config", `{function: f, tracing: active}`, "tracing is Active or PassThrough"},
		{"update_config", `{function: f, layers: []}`, ""},
		{"create_alias", `{function: f, alias: prod}`, "version is required"},
		{"create_alias", `{function: f, alias: prod, version: "1", weights: {"2": 1.5}}`, "between 0 and 1"},
		{"update_alias", `{function: f, alias: prod, weights: {}}`, ""},
		{"publish_layer", `{layer: l}`, "give one of dir"},
		{"publish_layer", `{layer: l, dir: a, ready: xray-sdk}`, "give one of dir"},
		{"put_concurrency", `{function: f}`, "reserved is required"},
		{"put_concurrency", `{function: f, reserved: 0}`, ""},
		{"put_concurrency", `{function: f, reserved: -2}`, "reserved is -2"},
		{"put_provisioned", `{function: f, qualifier: prod}`, "count is required"},
		{"put_event_invoke_config", `{function: f, max_age: 1500ms}`, "whole number of seconds"},
		{"sleep", `{duration: 2m}`, "longer than the 1m0s"},
		{"sleep", `{}`, "duration is required"},
		{"sleep", `{duration: 250ms}`, ""},
	}
	for _, tt := range tests {
		k := actionKinds[tt.kind]
		if k.Where != labs.InBoth {
			t.Errorf("%s may appear in %v, want both files", tt.kind, k.Where)
		}
		args := k.Args()
		dec := yaml.NewDecoder(strings.NewReader(tt.src))
		dec.KnownFields(true)
		if err := dec.Decode(args); err != nil {
			t.Fatalf("decode %s {%s}: %v", tt.kind, tt.src, err)
		}
		err := args.(interface{ Validate() error }).Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s {%s}: Validate = %v, want valid", tt.kind, tt.src, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s {%s}: Validate = %v, want an error with %q", tt.kind, tt.src, err, tt.want)
		}
	}
	for name, k := range actionKinds {
		if _, ok := k.Args().(interface{ Validate() error }); !ok {
			t.Errorf("%s's arguments have no Validate", name)
		}
	}
}

// TestActionSteps runs every action kind, and invoke, on one stack and
// one scratch account: each once passing and once failing as a student
// would see it.
func TestActionSteps(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	env := st.env(t, files(actSubmission))
	env.ReadyLayer = actReadyLayer(t)
	fn := labs.Function{Name: "checkout", Runtime: "python3.13", Handler: "app.handler", MemoryMB: 128, TimeoutS: 10, Code: "."}
	env.Lab = &labs.Lab{ID: "actions", Functions: []labs.Function{fn}}
	zip, err := env.Package(ctx, fn, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.CreateFunction(ctx, fn, zip); err != nil {
		t.Fatal(err)
	}

	t.Run("buckets and objects", func(t *testing.T) {
		actOK(t, env, "create_bucket", `{bucket: raw-logs}`)
		// In us-east-1 S3 answers 200 to creating a bucket one already owns.
		actOK(t, env, "create_bucket", `{bucket: raw-logs}`)
		actFails(t, env, "create_bucket", `{bucket: Raw_Logs}`, `creating bucket Raw_Logs was refused: InvalidBucketName: .+`)

		actOK(t, env, "put_object", `{bucket: raw-logs, key: samples/a.log, body: "user=ann@example.com\n", content_type: text/plain}`)
		got, err := env.S3.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String("raw-logs"), Key: aws.String("samples/a.log")})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(body) != "user=ann@example.com\n" || aws.ToString(got.ContentType) != "text/plain" {
			t.Errorf("samples/a.log = %q of type %q, want the body put, text/plain", body, aws.ToString(got.ContentType))
		}
		if !env.WroteItself("raw-logs", "samples/a.log", aws.ToString(got.ETag)) {
			t.Errorf("put_object did not note its write (ETag %s)", aws.ToString(got.ETag))
		}
		if env.WroteItself("raw-logs", "samples/a.log", `"d41d8cd98f00b204e9800998ecf8427e"`) {
			t.Errorf("another body under the grader's key counts as the grader's write")
		}
		actOK(t, env, "put_object", `{bucket: raw-logs, key: samples/big.log, generate: {line: "0123456789\n", bytes: 100000}}`)
		head, err := env.S3.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String("raw-logs"), Key: aws.String("samples/big.log")})
		if err != nil || aws.ToInt64(head.ContentLength) != 99990 {
			t.Errorf("samples/big.log: %v, %d bytes, want 99990", err, aws.ToInt64(head.ContentLength))
		}
		actFails(t, env, "put_object", `{bucket: no-such-bucket, key: a.log, body: x}`,
			`putting a\.log into bucket no-such-bucket was refused: NoSuchBucket: .+`)

		actOK(t, env, "delete_object", `{bucket: raw-logs, key: samples/big.log}`)
		if _, err := env.S3.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String("raw-logs"), Key: aws.String("samples/big.log")}); err == nil {
			t.Errorf("samples/big.log is still there after delete_object")
		}
		actFails(t, env, "delete_object", `{bucket: no-such-bucket, key: a.log}`,
			`deleting a\.log from bucket no-such-bucket was refused: NoSuchBucket: .+`)
	})

	t.Run("invoke", func(t *testing.T) { testInvokeSteps(t, env) })

	t.Run("versions and aliases", func(t *testing.T) {
		actOK(t, env, "publish_version", `{function: checkout, description: first, save: v1}`)
		actOK(t, env, "update_code", `{function: checkout, dir: v2}`)
		actOK(t, env, "publish_version", `{function: checkout, save: v2}`)
		for name, want := range map[string]string{"v1": "1", "v2": "2"} {
			if v, _ := env.Saved(name); v != want {
				t.Errorf("saved %s = %v, want %s", name, v, want)
			}
		}
		actFails(t, env, "publish_version", `{function: no-such-function}`,
			`publishing a version of no-such-function was refused: ResourceNotFoundException: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:no-such-function`)

		actOK(t, env, "create_alias", `{function: checkout, alias: prod, version: "1", weights: {"2": 0.3}}`)
		actFails(t, env, "create_alias", `{function: checkout, alias: broken, version: "9"}`,
			`creating alias broken of checkout was refused: ResourceNotFoundException: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:checkout:9`)
		actOK(t, env, "invoke", `{function: checkout, qualifier: prod, count: 200, parallel: 4, save: split, expect: {versions: {"1": 0.7, "2": 0.3}}}`)
		if v, _ := env.Saved("split"); len(v.([]InvokeResult)) != 200 {
			t.Errorf("saved split holds %d results, want 200", len(v.([]InvokeResult)))
		}
		actFails(t, env, "invoke", `{function: checkout, qualifier: prod, count: 200, parallel: 4, expect: {versions: {"1": 0.95, "2": 0.05}}}`,
			`checkout:prod ran version 1 in 1\d\d of 200 invokes \([\d.]+ %\); with 95 % routed to it, expected between 1\d\d and 200`)

		actOK(t, env, "update_alias", `{function: checkout, alias: prod, weights: {}}`)
		actOK(t, env, "invoke", `{function: checkout, qualifier: prod, count: 5, expect: {executed_version: "1", payload_fields: {mark: one}}}`)
		actOK(t, env, "update_alias", `{function: checkout, alias: prod, version: "2"}`)
		actOK(t, env, "invoke", `{function: checkout, qualifier: prod, expect: {executed_version: "2", payload_fields: {mark: two}}}`)
		actFails(t, env, "update_alias", `{function: checkout, alias: canary, version: "1"}`,
			`updating alias canary of checkout was refused: ResourceNotFoundException: Alias not found: .+:checkout:canary`)

		actOK(t, env, "delete_alias", `{function: checkout, alias: prod}`)
		actFails(t, env, "invoke", `{function: checkout, qualifier: prod}`,
			`invoking checkout:prod was refused: ResourceNotFoundException: Function not found: .+:checkout:prod`)
		actFails(t, env, "delete_alias", `{function: "arn:aws:lambda:us-east-1:123456789012:function:other", alias: prod}`,
			`deleting alias prod of arn:aws:lambda:us-east-1:123456789012:function:other was refused: AccessDeniedException: .+`)
	})

	getConfig := func(t *testing.T) lambdaConfig {
		t.Helper()
		c, err := env.Lambda.GetFunctionConfiguration(ctx, env.Account, "checkout", "")
		if err != nil {
			t.Fatal(err)
		}
		return lambdaConfig{c}
	}

	t.Run("update_code", func(t *testing.T) {
		actOK(t, env, "update_code", `{function: checkout, bundle: [demo-lib]}`)
		actOK(t, env, "invoke", `{function: checkout, payload: {mode: bundled}, expect: {payload_equals: {bundled: bundled}}}`)
		actOK(t, env, "update_code", `{function: checkout}`)
		actFails(t, env, "invoke", `{function: checkout, payload: {mode: bundled}}`,
			`invoking checkout returned a function error: ModuleNotFoundError: No module named 'bundled' \(File "/var/task/app\.py", line \d+, in handler\)`)
		actFails(t, env, "update_code", `{function: checkout, dir: no-such-dir}`,
			`the submission has no folder no-such-dir to package for checkout`)
	})

	t.Run("update_config", func(t *testing.T) {
		actOK(t, env, "update_config", `{function: checkout, memory: 256, environment: {GREETING: hi, COUNT: 3}, tracing: Active}`)
		c := getConfig(t)
		if c.MemorySize != 256 || c.TracingConfig.Mode != "Active" || c.Environment == nil || c.Environment.Variables["GREETING"] != "hi" || c.Timeout != 10 {
			t.Errorf("configuration after update_config = %+v, want 256 MB, Active, GREETING=hi and the timeout kept", c.FunctionConfiguration)
		}
		actOK(t, env, "invoke", `{function: checkout, payload: {mode: env, keys: [GREETING, COUNT]}, expect: {payload_equals: {GREETING: hi, COUNT: "3"}}}`)
		actOK(t, env, "update_config", `{function: checkout, environment: {}, tracing: PassThrough}`)
		if c := getConfig(t); c.Environment != nil && len(c.Environment.Variables) > 0 {
			t.Errorf("environment after environment: {} = %v, want none", c.Environment.Variables)
		}
		actFails(t, env, "update_config", `{function: checkout, memory: 64}`,
			`updating the configuration of checkout was refused: InvalidParameterValueException: .+`)

		actOK(t, env, "update_config", `{function: checkout, timeout: 1}`)
		actFails(t, env, "invoke", `{function: checkout, payload: {mode: sleep, seconds: 3}}`,
			`invoking checkout returned a function error: Sandbox\.Timedout: RequestId: [0-9a-f-]+ Error: Task timed out after 1\.00 seconds`)
		actOK(t, env, "update_config", `{function: checkout, timeout: 10}`)
	})

	t.Run("layers", func(t *testing.T) {
		actOK(t, env, "publish_layer", `{layer: helpers, dir: layer, runtimes: [python3.13]}`)
		actOK(t, env, "update_config", `{function: checkout, layers: [helpers]}`)
		if c := getConfig(t); len(c.Layers) != 1 || !strings.HasSuffix(c.Layers[0].Arn, ":layer:helpers:1") {
			t.Errorf("layers after update_config = %+v, want helpers version 1", c.Layers)
		}
		actOK(t, env, "invoke", `{function: checkout, payload: {mode: layer}, expect: {payload_equals: {helper: from layer}}}`)
		actOK(t, env, "publish_layer", `{layer: helpers, ready: demo-lib}`)
		actOK(t, env, "update_config", `{function: checkout, layers: ["${arn:layer:helpers}"]}`)
		actOK(t, env, "invoke", `{function: checkout, payload: {mode: bundled}, expect: {payload_equals: {bundled: bundled}}}`)
		actFails(t, env, "update_config", `{function: checkout, layers: [no-such-layer]}`, `the account has no layer named no-such-layer`)
		actFails(t, env, "publish_layer", `{layer: "bad name", dir: layer}`,
			`publishing a version of layer bad name was refused: InvalidParameterValueException: .+`)
		actOK(t, env, "update_config", `{function: checkout, layers: []}`)
		if c := getConfig(t); len(c.Layers) != 0 {
			t.Errorf("layers after layers: [] = %+v, want none", c.Layers)
		}
	})

	t.Run("permissions and triggers", func(t *testing.T) {
		trigger := `{bucket: raw-logs, functions: [{function: checkout, prefix: in/, suffix: .txt}]}`
		actFails(t, env, "put_bucket_notification", trigger,
			`setting the notification configuration of bucket raw-logs was refused: InvalidArgument: Unable to validate the following destination configurations `+
				`\(not authorized to invoke checkout: its resource policy does not let s3\.amazonaws\.com invoke it for bucket raw-logs\)`)
		permission := `{function: checkout, statement_id: s3, principal: s3.amazonaws.com, source_arn: "${arn:s3:raw-logs}", source_account: "${account}"}`
		actOK(t, env, "add_permission", permission)
		actFails(t, env, "add_permission", permission,
			`adding permission s3 to checkout was refused: ResourceConflictException: The statement id \(s3\) provided already exists\. .+`)
		actOK(t, env, "put_bucket_notification", trigger)

		since := time.Now()
		actOK(t, env, "put_object", `{bucket: raw-logs, key: in/report.txt, body: "hello\n"}`)
		actOK(t, env, "put_object", `{bucket: raw-logs, key: in/skipped.log, body: "not matched\n"}`)
		deadline := time.Now().Add(30 * time.Second)
		for {
			invs, err := env.DB.Invocations(ctx, env.Account, "checkout", since)
			if err != nil {
				t.Fatal(err)
			}
			if len(invs) > 0 {
				time.Sleep(500 * time.Millisecond) // an event for skipped.log would come as soon
				if invs, _ = env.DB.Invocations(ctx, env.Account, "checkout", since); len(invs) != 1 {
					t.Errorf("%d invocations after two uploads, want 1 (in/report.txt only)", len(invs))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the upload of in/report.txt did not invoke checkout within 30s")
			}
			time.Sleep(75 * time.Millisecond)
		}

		actOK(t, env, "remove_permission", `{function: checkout, statement_id: s3}`)
		actFails(t, env, "remove_permission", `{function: checkout, statement_id: s3}`,
			`removing permission s3 from checkout was refused: ResourceNotFoundException: Statement s3 is not found in resource policy\.`)
		actOK(t, env, "put_bucket_notification", `{bucket: raw-logs, functions: []}`)
		out, err := env.S3.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String("raw-logs")})
		if err != nil || len(out.LambdaFunctionConfigurations) != 0 {
			t.Errorf("notification configuration after functions: [] = %v, %v; want none", out, err)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		actOK(t, env, "put_concurrency", `{function: checkout, reserved: 1}`)
		burst := `{function: checkout, payload: {mode: sleep, seconds: 1}, count: 6, parallel: 6%s}`
		actOK(t, env, "invoke", fmt.Sprintf(burst, `, expect: {min_throttled: 3}`))
		actFails(t, env, "invoke", fmt.Sprintf(burst, ``),
			`[3-5] of 6 invokes of checkout were throttled: TooManyRequestsException \(ReservedFunctionConcurrentInvocationLimitExceeded\): Rate Exceeded\.`)
		actOK(t, env, "delete_concurrency", `{function: checkout}`)
		if c, err := env.Lambda.GetFunctionConcurrency(ctx, env.Account, "checkout"); err != nil || c.ReservedConcurrentExecutions != nil {
			t.Errorf("reserved concurrency after delete_concurrency = %+v, %v; want none", c, err)
		}
		actFails(t, env, "put_concurrency", `{function: no-such-function, reserved: 2}`,
			`reserving concurrency 2 for no-such-function was refused: ResourceNotFoundException: .+`)
		actFails(t, env, "delete_concurrency", `{function: no-such-function}`,
			`removing the reserved concurrency of no-such-function was refused: ResourceNotFoundException: .+`)
	})

	t.Run("provisioned", func(t *testing.T) {
		actOK(t, env, "put_provisioned", `{function: checkout, qualifier: "1", count: 1}`)
		c, err := env.Lambda.GetProvisionedConcurrencyConfig(ctx, env.Account, "checkout", "1")
		if err != nil || c.Status != "READY" {
			t.Errorf("provisioned concurrency after put_provisioned = %+v, %v; want READY", c, err)
		}
		actFails(t, env, "put_provisioned", `{function: checkout, qualifier: $LATEST, count: 1}`,
			`provisioning 1 instance for checkout:\$LATEST was refused: InvalidParameterValueException: Provisioned Concurrency Configs cannot be applied to unpublished function versions\.`)
		if err := env.Lambda.DeleteProvisionedConcurrencyConfig(ctx, env.Account, "checkout", "1"); err != nil {
			t.Error(err)
		}
	})

	t.Run("put_event_invoke_config", func(t *testing.T) {
		actOK(t, env, "put_event_invoke_config", `{function: checkout, max_retries: 0, max_age: 2m, on_failure: checkout}`)
		c, err := env.Lambda.GetFunctionEventInvokeConfig(ctx, env.Account, "checkout", "")
		if err != nil || c.MaximumRetryAttempts == nil || *c.MaximumRetryAttempts != 0 || c.MaximumEventAgeInSeconds == nil ||
			*c.MaximumEventAgeInSeconds != 120 || c.DestinationConfig.OnFailure.Destination != env.FunctionARN("checkout", "") {
			t.Errorf("event invoke config = %+v, %v; want 0 retries, 120 s, failures to checkout", c, err)
		}
		actFails(t, env, "put_event_invoke_config", `{function: checkout, max_retries: 5}`,
			`configuring asynchronous invocation of checkout was refused: InvalidParameterValueException: .+`)
	})

	t.Run("sleep", func(t *testing.T) {
		start := time.Now()
		actOK(t, env, "sleep", `{duration: 50ms}`)
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("sleep of 50ms took %s", d)
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := actionKinds["sleep"].Run(ctx, env, &sleepArgs{Duration: labs.Duration(time.Minute)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("sleep past the check's deadline = %v, want the deadline", err)
		}
	})

	t.Run("startup errors", func(t *testing.T) {
		broken := labs.Function{Name: "broken", Runtime: "python3.13", Handler: "app.handler", Code: "broken"}
		zip, err := env.Package(ctx, broken, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.CreateFunction(ctx, broken, zip); err != nil {
			t.Fatal(err)
		}
		err = act(t, env, "invoke", `{function: broken, expect: {payload_equals: 1}}`)
		var u *Unrunnable
		want := `broken could not run: Runtime.ImportModuleError: Unable to import module 'app': No module named 'nosuchmodule'`
		if !errors.As(err, &u) || u.Msg != want {
			t.Errorf("invoking a function that does not import = %v (%T), want Unrunnable %q", err, err, want)
		}
		actOK(t, env, "update_code", `{function: broken, dir: .}`)
		actOK(t, env, "update_config", `{function: broken, handler: app.missing}`)
		err = act(t, env, "invoke", `{function: broken}`)
		want = `broken could not run: Runtime.HandlerNotFound: Handler 'missing' missing on module 'app'`
		if !errors.As(err, &u) || u.Msg != want {
			t.Errorf("invoking a function without its handler = %v (%T), want Unrunnable %q", err, err, want)
		}
		actOK(t, env, "update_config", `{function: broken, handler: app.handler}`)
		actOK(t, env, "update_code", `{function: broken, dir: syntax}`)
		err = act(t, env, "invoke", `{function: broken}`)
		if !errors.As(err, &u) || !strings.HasPrefix(u.Msg, "broken could not run: Runtime.UserCodeSyntaxError: ") {
			t.Errorf("invoking a function that does not parse = %v (%T), want Unrunnable with Runtime.UserCodeSyntaxError", err, err)
		} else {
			t.Logf("syntax error: %s", u.Msg)
		}
		actOK(t, env, "invoke", `{function: broken, expect: {error_type: Runtime.UserCodeSyntaxError}}`)
	})
}

// lambdaConfig is a function's configuration in a test.
type lambdaConfig struct{ lambda.FunctionConfiguration }
