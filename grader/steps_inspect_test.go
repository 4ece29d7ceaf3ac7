package grader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lambdalab/cloud/lambda"
	"lambdalab/cloud/xray"
	"lambdalab/labs"
	"lambdalab/store"
)

// step decodes src as the arguments of an inspection kind (strictly, as
// the loader would), validates and expands them, and runs the kind.
func step(t *testing.T, env *Env, kind, src string) error {
	t.Helper()
	k, ok := inspectKinds[kind]
	if !ok {
		t.Fatalf("no inspection kind %s", kind)
	}
	if k.Where != labs.InChecks {
		t.Errorf("%s may appear in %v, want checks only", kind, k.Where)
	}
	return runStep(t, env, k, kind, src, 60*time.Second)
}

// pass runs a step that must pass.
func pass(t *testing.T, env *Env, kind, src string) {
	t.Helper()
	if err := step(t, env, kind, src); err != nil {
		t.Errorf("%s {%s} = %v, want it to pass", kind, src, err)
	}
}

// fail runs a step that must fail with a message matching want (a
// regular expression anchored at both ends), and returns the message.
func fail(t *testing.T, env *Env, kind, src, want string) string {
	t.Helper()
	err := step(t, env, kind, src)
	var f *Failure
	if !errors.As(err, &f) {
		t.Errorf("%s {%s} = %v (%T), want a failure matching %s", kind, src, err, err, want)
		return ""
	}
	t.Logf("%s: %s", kind, f.Msg)
	if !regexp.MustCompile("^(?:" + want + ")$").MatchString(f.Msg) {
		t.Errorf("%s {%s} failed with\n  %s\nwant a message matching\n  %s", kind, src, f.Msg, want)
	}
	return f.Msg
}

func putObject(t *testing.T, env *Env, bucket, key string, body []byte) {
	t.Helper()
	if _, err := env.S3.PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func createBucket(t *testing.T, env *Env, bucket string) {
	t.Helper()
	if _, err := env.S3.CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// createPy creates a python3.13 function whose app.py is src, as the
// lab's provisioning would.
func createPy(t *testing.T, env *Env, fn labs.Function, src map[string]string) {
	t.Helper()
	if fn.Runtime == "" {
		fn.Runtime, fn.Handler = "python3.13", "app.handler"
	}
	zip, err := zipPackage(zipTree{files(src), "."})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.CreateFunction(context.Background(), fn, zip); err != nil {
		t.Fatalf("create function %s: %v", fn.Name, err)
	}
}

// result holds a call's two results, so that must(f()).on(t) reads as
// one line.
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) on(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func TestInspect(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	newEnv := func(t *testing.T) *Env { return st.env(t, nil) }

	t.Run("expect_object", func(t *testing.T) {
		env := newEnv(t)
		createBucket(t, env, "masked-logs")
		putObject(t, env, "masked-logs", "in/a.log", []byte("line one\nmail [email]\nuser=ann@example.com\n"))
		putObject(t, env, "masked-logs", "in/doc.json", []byte(`{"items":[{"name":"a","n":1},{"name":"b","n":2}],"ok":true}`))
		putObject(t, env, "masked-logs", "in/empty", nil)
		big := bytes.Repeat([]byte("padding padding padding\n"), 20000)
		putObject(t, env, "masked-logs", "in/big.log", append(big, []byte("secret ann@example.com here\n")...))

		pass(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, contains: ["[email]"], lines: 3, min_size: 10, empty: false}`)
		pass(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, equals: "line one\nmail [email]\nuser=ann@example.com\n", matches: ['\[email\]'], not_matches: ['\d{3}-\d{4}']}`)
		pass(t, env, "expect_object", `{bucket: masked-logs, key: in/doc.json, json_equals: {ok: true, items: [{name: a, n: 1}, {name: b, n: 2.0}]}}`)
		pass(t, env, "expect_object", `{bucket: masked-logs, key: in/empty, empty: true, lines: 0}`)

		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, not_contains: ["ann@example.com"]}`,
			`masked-logs/in/a\.log still contains "ann@example\.com" \(line 3: "user=ann@example\.com"\)`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/missing.log, within: 300ms}`,
			`no object in/missing\.log appeared in bucket masked-logs within 300ms`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/missing.log}`,
			`there is no object in/missing\.log in bucket masked-logs`)
		fail(t, env, "expect_object", `{bucket: no-such-bucket, key: in/a.log}`, `bucket no-such-bucket does not exist`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, equals: "line one\nmail [email]\nuser=[email]\n"}`,
			`masked-logs/in/a\.log is not what was expected: line 3 is "user=ann@example\.com", expected "user=\[email\]"`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, contains: ["[phone]"]}`,
			`masked-logs/in/a\.log does not contain "\[phone\]"; it begins "line one\\nmail \[email\]\\nuser=ann@example\.com\\n"`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, lines: 4}`,
			`masked-logs/in/a\.log has 3 lines; 4 were expected`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, matches: ['\[phone\]']}`,
			`masked-logs/in/a\.log has nothing matching /\\\[phone\\\]/; it begins .*`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, not_matches: ['[a-z]+@[a-z.]+']}`,
			`masked-logs/in/a\.log still has "ann@example\.com" matching /\[a-z\]\+@\[a-z\.\]\+/ \(line 3: "user=ann@example\.com"\)`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/doc.json, json_equals: {ok: true, items: [{name: a, n: 1}, {name: c, n: 2}]}}`,
			`masked-logs/in/doc\.json does not hold the expected JSON: at \.items\[1\]\.name found "b", expected "c"`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, json_equals: {ok: true}}`,
			`masked-logs/in/a\.log is not JSON \(.*\); it begins "line one.*`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/empty, empty: false}`, `masked-logs/in/empty is empty`)
		fail(t, env, "expect_object", `{bucket: masked-logs, key: in/a.log, min_size: 5000000}`,
			`masked-logs/in/a\.log has only 43 bytes; at least 4\.8 MB \(5000000 bytes\) were expected`)

		// A large body: the message quotes the line around the problem, not the body.
		msg := fail(t, env, "expect_object", `{bucket: masked-logs, key: in/big.log, not_contains: ["ann@example.com"]}`,
			`masked-logs/in/big\.log still contains "ann@example\.com" \(line 20001: "secret ann@example\.com here"\)`)
		if len(msg) > 400 {
			t.Errorf("message about a 480 KB body is %d bytes long", len(msg))
		}
		msg = fail(t, env, "expect_object", `{bucket: masked-logs, key: in/big.log, contains: ["[email]"]}`,
			`masked-logs/in/big\.log does not contain "\[email\]"; it begins "padding padding.*"…`)
		if len(msg) > 400 {
			t.Errorf("message about a 480 KB body is %d bytes long", len(msg))
		}

		// The object appears while the step waits for it.
		go func() {
			time.Sleep(300 * time.Millisecond)
			env.S3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("masked-logs"), Key: aws.String("in/late.log"), Body: strings.NewReader("late\n")})
		}()
		pass(t, env, "expect_object", `{bucket: masked-logs, key: in/late.log, within: 10s, equals: "late\n"}`)
	})

	t.Run("expect_no_object", func(t *testing.T) {
		env := newEnv(t)
		createBucket(t, env, "raw-logs")
		pass(t, env, "expect_no_object", `{bucket: raw-logs, key: in/a.log.masked, for: 200ms}`)
		go func() {
			time.Sleep(200 * time.Millisecond)
			env.S3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("raw-logs"), Key: aws.String("in/a.log.masked"), Body: strings.NewReader("x")})
		}()
		fail(t, env, "expect_no_object", `{bucket: raw-logs, key: in/a.log.masked, for: 10s}`,
			`an object in/a\.log\.masked appeared in bucket raw-logs, where none should be written`)
	})

	t.Run("expect_no_writes", func(t *testing.T) {
		env := newEnv(t)
		createBucket(t, env, "raw-logs")
		putObject(t, env, "raw-logs", "seed.log", []byte("before grading")) // provisioned before the run
		time.Sleep(5 * time.Millisecond)
		env.GradingStart = time.Now()
		env.CheckStart = env.GradingStart
		putObject(t, env, "raw-logs", "in/a.log", []byte("the grader's upload"))
		env.NoteWrite("raw-logs", "in/a.log", []byte("the grader's upload"))
		pass(t, env, "expect_no_writes", `{bucket: raw-logs}`)
		// The learner's code overwriting the grader's own upload is a write.
		putObject(t, env, "raw-logs", "in/a.log", []byte("masked in place"))
		fail(t, env, "expect_no_writes", `{bucket: raw-logs}`,
			`your code wrote 1 object into bucket raw-logs since grading began, where it should write nothing: in/a\.log`)
		putObject(t, env, "raw-logs", "in/a.log", []byte("the grader's upload"))
		for _, k := range []string{"in/a.log.out", "in/b.log.out", "in/c.log.out", "in/d.log.out"} {
			putObject(t, env, "raw-logs", k, []byte("the learner's write"))
		}
		fail(t, env, "expect_no_writes", `{bucket: raw-logs}`,
			`your code wrote 4 objects into bucket raw-logs since grading began, where it should write nothing: in/a\.log\.out, in/b\.log\.out, in/c\.log\.out and 1 more`)
		pass(t, env, "expect_no_writes", `{bucket: raw-logs, except: [in/a.log.out, in/b.log.out, in/c.log.out, in/d.log.out]}`)
		env.CheckStart = time.Now().Add(time.Second)
		pass(t, env, "expect_no_writes", `{bucket: raw-logs, since: check}`)
	})

	t.Run("recursion, trigger and permission", func(t *testing.T) {
		env := newEnv(t)
		createBucket(t, env, "loop")
		createPy(t, env, labs.Function{Name: "looper", TimeoutS: 10}, map[string]string{"app.py": loopHandler})
		arn := regexp.QuoteMeta(env.FunctionARN("looper", ""))
		fail(t, env, "expect_permission", `{function: looper, principal: s3.amazonaws.com}`,
			`s3\.amazonaws\.com may not invoke `+arn+`: it has no resource-based policy`)
		must(env.Lambda.AddPermission(ctx, env.Account, "looper", "", lambda.AddPermissionInput{StatementID: "s3",
			Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::loop", SourceAccount: env.Account})).on(t)
		must(env.Lambda.PublishVersion(ctx, env.Account, "looper", lambda.PublishVersionInput{})).on(t)
		must(env.Lambda.CreateAlias(ctx, env.Account, "looper", lambda.AliasInput{Name: "prod", FunctionVersion: aws.String("1")})).on(t)
		if _, err := env.S3.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{Bucket: aws.String("loop"),
			NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{{
				LambdaFunctionArn: aws.String(env.FunctionARN("looper", "")), Events: []s3types.Event{"s3:ObjectCreated:*"},
			}}}}); err != nil {
			t.Fatalf("put notification: %v", err)
		}

		pass(t, env, "expect_trigger", `{bucket: loop, function: looper}`)
		pass(t, env, "expect_trigger", `{bucket: loop, function: looper, qualifier: $LATEST, events: ["s3:ObjectCreated:Put"]}`)
		fail(t, env, "expect_trigger", `{bucket: loop, function: looper, qualifier: prod}`,
			`the trigger on loop invokes `+arn+` \(no alias\); the lab wants it to invoke the prod alias, `+arn+`:prod`)
		fail(t, env, "expect_trigger", `{bucket: loop, function: looper, events: ["s3:ObjectRemoved:*"]}`,
			`the trigger on loop that invokes `+arn+` fires on s3:ObjectCreated:\*; the lab wants it to fire on s3:ObjectRemoved:\*`)
		fail(t, env, "expect_trigger", `{bucket: loop, function: other}`,
			`the trigger on loop invokes `+arn+`; the lab wants it to invoke the function itself, `+regexp.QuoteMeta(env.FunctionARN("other", "")))

		pass(t, env, "expect_permission", `{function: looper, principal: s3.amazonaws.com, source_arn: "${arn:s3:loop}", source_account: "${account}"}`)
		pass(t, env, "expect_permission", `{function: looper, principal: s3.amazonaws.com}`)
		fail(t, env, "expect_permission", `{function: looper, principal: s3.amazonaws.com, source_arn: "arn:aws:s3:::other"}`,
			`s3\.amazonaws\.com \(for arn:aws:s3:::other\) may not invoke `+arn+`: no statement of its policy allows it \(statements: s3: s3\.amazonaws\.com from arn:aws:s3:::loop in account `+env.Account+`\)`)
		fail(t, env, "expect_permission", `{function: looper, qualifier: prod, principal: s3.amazonaws.com, source_arn: "arn:aws:s3:::loop"}`,
			`the permission for s3\.amazonaws\.com \(for arn:aws:s3:::loop\) is on `+arn+` without a qualifier, but `+arn+`:prod has a resource policy of its own: add the permission with the qualifier prod`)
		fail(t, env, "expect_permission", `{function: looper, qualifier: beta, principal: s3.amazonaws.com}`,
			`function looper:beta does not exist \(ResourceNotFoundException: Function not found: `+arn+`:beta\)`)

		// The grader's upload starts a loop: the function writes back into
		// the bucket that triggers it until Lambda stops it. The judgement
		// waits for the chain to end rather than pass while it still runs.
		env.GradingStart = time.Now()
		env.CheckStart = env.GradingStart
		putObject(t, env, "loop", "in/0", []byte("first"))
		env.NoteWrite("loop", "in/0", []byte("first"))
		waitForRecord(t, env, "looper")
		fail(t, env, "expect_records", `{function: looper, recursion_stopped: false}`,
			`Lambda detected a recursive loop \(S3 → function looper → the same bucket\) since the check began and stopped it, as its recursive loop detection does`)

		fail(t, env, "expect_no_writes", `{bucket: loop}`,
			`your code wrote 1[0-9] objects into bucket loop since grading began, where it should write nothing: in/1, in/10, in/11 and 1[0-9] more\. `+
				`Lambda detected a recursive loop \(S3 → function looper → the same bucket\) and stopped it, as its recursive loop detection does`)
		pass(t, env, "expect_records", `{function: looper, recursion_stopped: true, min_count: 10, max_errors: 0}`)
		fail(t, env, "expect_records", `{function: looper, outcomes: {success: 3}}`,
			`1[0-9] invokes of looper since the check began ended with outcome success; the lab expects 3 \(outcomes seen: recursion-stopped 1, success 1[0-9]\)`)
	})

	t.Run("expect_trigger on an alias", func(t *testing.T) {
		env := newEnv(t)
		createBucket(t, env, "raw-logs")
		createBucket(t, env, "empty")
		createPy(t, env, labs.Function{Name: "report"}, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
		must(env.Lambda.PublishVersion(ctx, env.Account, "report", lambda.PublishVersionInput{})).on(t)
		must(env.Lambda.CreateAlias(ctx, env.Account, "report", lambda.AliasInput{Name: "prod", FunctionVersion: aws.String("1")})).on(t)
		must(env.Lambda.AddPermission(ctx, env.Account, "report", "prod", lambda.AddPermissionInput{StatementID: "s3",
			Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::raw-logs", SourceAccount: env.Account})).on(t)
		prod := env.FunctionARN("report", "prod")
		prefix := func(p string) *s3types.NotificationConfigurationFilter {
			return &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String(p)}}}}
		}
		if _, err := env.S3.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{Bucket: aws.String("raw-logs"),
			NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{
				{LambdaFunctionArn: aws.String(prod), Events: []s3types.Event{"s3:ObjectRemoved:*"}, Filter: prefix("a/")},
				{LambdaFunctionArn: aws.String(prod), Events: []s3types.Event{"s3:ObjectCreated:Put"}, Filter: prefix("b/")},
			}}}); err != nil {
			t.Fatalf("put notification: %v", err)
		}
		pass(t, env, "expect_trigger", `{bucket: raw-logs, function: report, qualifier: prod}`)
		pass(t, env, "expect_trigger", `{bucket: raw-logs, function: report, qualifier: prod, events: ["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"]}`)
		pass(t, env, "expect_permission", `{function: report, qualifier: prod, principal: s3.amazonaws.com, source_arn: "arn:aws:s3:::raw-logs"}`)
		fail(t, env, "expect_trigger", `{bucket: raw-logs, function: report, qualifier: prod, events: ["s3:ObjectCreated:*"]}`,
			`the trigger on raw-logs that invokes `+regexp.QuoteMeta(prod)+` fires on s3:ObjectRemoved:\*, s3:ObjectCreated:Put; the lab wants it to fire on s3:ObjectCreated:\*`)
		fail(t, env, "expect_trigger", `{bucket: raw-logs, function: report}`,
			`the trigger on raw-logs invokes `+regexp.QuoteMeta(prod)+` \(alias prod\); the lab wants it to invoke the function itself, `+regexp.QuoteMeta(env.FunctionARN("report", "")))
		fail(t, env, "expect_trigger", `{bucket: raw-logs, function: report, qualifier: "1"}`,
			`the trigger on raw-logs invokes `+regexp.QuoteMeta(prod)+` \(alias prod\); the lab wants it to invoke version 1, `+regexp.QuoteMeta(env.FunctionARN("report", "1")))
		fail(t, env, "expect_trigger", `{bucket: empty, function: report, qualifier: prod}`,
			`bucket empty has no trigger that invokes a Lambda function; the lab wants one that invokes the prod alias, `+regexp.QuoteMeta(prod))
		fail(t, env, "expect_trigger", `{bucket: nowhere, function: report}`, `bucket nowhere does not exist`)
	})

	t.Run("expect_config", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "mask-logs", MemoryMB: 256, TimeoutS: 10, Environment: map[string]string{"DEST_BUCKET": "masked-logs"}},
			map[string]string{"app.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n", "lib/data/words.txt": "a\n"})
		layerZip, err := zipPackage(zipTree{files(map[string]string{"python/tool.py": strings.Repeat("# padding\n", 1000)}), "."})
		if err != nil {
			t.Fatal(err)
		}
		lv := must(env.Lambda.PublishLayerVersion(ctx, env.Account, "tools", lambda.PublishLayerInput{Content: lambda.FunctionCode{ZipFile: layerZip}, CompatibleRuntimes: []string{"python3.13"}})).on(t)
		must(env.Lambda.UpdateFunctionConfiguration(ctx, env.Account, "mask-logs", lambda.ConfigInput{Layers: &[]string{lv.LayerVersionArn}})).on(t)
		cfg := must(env.Lambda.GetFunctionConfiguration(ctx, env.Account, "mask-logs", "")).on(t)

		pass(t, env, "expect_config", `{function: mask-logs, memory: 256, timeout: 10, handler: app.handler, runtime: python3.13, tracing: PassThrough,
			environment: {DEST_BUCKET: masked-logs}, layers: [tools, "${arn:layer:tools}"], code_size_max: 100000, total_size_max: 200000,
			package_has: [app.py, lib, lib/data/, ./lib/util.py], package_lacks: [boto3, lib/other.py]}`)
		pass(t, env, "expect_config", fmt.Sprintf(`{function: mask-logs, layers: [%q]}`, lv.LayerArn))

		fail(t, env, "expect_config", `{function: mask-logs, memory: 512}`, `mask-logs has 256 MB of memory; the lab wants 512 MB`)
		fail(t, env, "expect_config", `{function: mask-logs, timeout: 1}`, `mask-logs has a timeout of 10 seconds; the lab wants 1 second`)
		fail(t, env, "expect_config", `{function: mask-logs, handler: main.handler}`, `the handler of mask-logs is app\.handler; the lab wants main\.handler`)
		fail(t, env, "expect_config", `{function: mask-logs, tracing: Active}`, `the tracing mode of mask-logs is PassThrough; the lab wants Active`)
		fail(t, env, "expect_config", `{function: mask-logs, environment: {DEST_BUCKET: raw-logs}}`,
			`the environment variable DEST_BUCKET of mask-logs is "masked-logs"; the lab wants "raw-logs"`)
		fail(t, env, "expect_config", `{function: mask-logs, environment: {MODE: strict}}`,
			`mask-logs has no environment variable MODE; the lab wants it set to "strict"`)
		fail(t, env, "expect_config", `{function: mask-logs, layers: [xray-sdk]}`,
			`mask-logs has no layer xray-sdk attached \(attached: `+regexp.QuoteMeta(lv.LayerVersionArn)+`\)`)
		fail(t, env, "expect_config", `{function: mask-logs, code_size_max: 100}`,
			fmt.Sprintf(`the package of mask-logs is %d bytes; the lab allows at most 100 bytes`, cfg.CodeSize))
		fail(t, env, "expect_config", fmt.Sprintf(`{function: mask-logs, total_size_max: %d}`, cfg.CodeSize+10),
			fmt.Sprintf(`the package of mask-logs and its layers come to %d bytes \(package %d bytes, layers %d bytes\); the lab allows at most %d bytes`,
				cfg.CodeSize+cfg.Layers[0].CodeSize, cfg.CodeSize, cfg.Layers[0].CodeSize, cfg.CodeSize+10))
		fail(t, env, "expect_config", `{function: mask-logs, package_has: [handler.py]}`,
			`the package of mask-logs has no handler\.py; it holds app\.py, lib/`)
		fail(t, env, "expect_config", `{function: mask-logs, package_lacks: [lib/]}`,
			`the package of mask-logs holds lib/ \(2 files, e\.g\. lib/data/words\.txt\), which it should not`)
		fail(t, env, "expect_config", `{function: mask-logs, package_lacks: [app.py]}`,
			`the package of mask-logs holds app\.py, which it should not`)
		fail(t, env, "expect_config", `{function: mask-log}`,
			`function mask-log does not exist \(ResourceNotFoundException: Function not found: `+regexp.QuoteMeta(env.FunctionARN("mask-log", ""))+`\)`)
	})

	t.Run("expect_versions and expect_alias", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "report"}, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
		must(env.Lambda.PublishVersion(ctx, env.Account, "report", lambda.PublishVersionInput{})).on(t)
		fail(t, env, "expect_versions", `{function: report, min: 2}`, `report has 1 published version; the lab wants at least 2`)
		zip, err := zipPackage(zipTree{files(map[string]string{"app.py": "def handler(e, c):\n    return 2\n"}), "."})
		if err != nil {
			t.Fatal(err)
		}
		must(env.Lambda.UpdateFunctionCode(ctx, env.Account, "report", lambda.UpdateCodeInput{ZipFile: zip})).on(t)
		v2 := must(env.Lambda.PublishVersion(ctx, env.Account, "report", lambda.PublishVersionInput{})).on(t)
		v1 := must(env.Lambda.GetFunctionConfiguration(ctx, env.Account, "report", "1")).on(t)

		pass(t, env, "expect_versions", `{function: report, min: 2, max: 2, distinct_code: true, code_of: {2: $LATEST}}`)
		fail(t, env, "expect_versions", `{function: report, max: 1}`, `report has 2 published versions; the lab wants at most 1`)
		fail(t, env, "expect_versions", `{function: report, code_of: {1: $LATEST}}`,
			fmt.Sprintf(`version 1 of report does not have the code of \$LATEST \(CodeSha256 %s, and \$LATEST has %s\)`, regexp.QuoteMeta(v1.CodeSha256), regexp.QuoteMeta(v2.CodeSha256)))
		fail(t, env, "expect_versions", `{function: report, code_of: {3: "1"}}`, `report has no version 3`)
		// A configuration change publishes a third version with the second's code.
		must(env.Lambda.UpdateFunctionConfiguration(ctx, env.Account, "report", lambda.ConfigInput{MemorySize: aws.Int(256)})).on(t)
		must(env.Lambda.PublishVersion(ctx, env.Account, "report", lambda.PublishVersionInput{})).on(t)
		fail(t, env, "expect_versions", `{function: report, distinct_code: true}`,
			`versions 2 and 3 of report have the same code \(CodeSha256 `+regexp.QuoteMeta(v2.CodeSha256)+`\); each version should be published after a change to the code`)

		fail(t, env, "expect_alias", `{function: report, alias: prod, version: "1"}`, `report has no alias prod`)
		must(env.Lambda.CreateAlias(ctx, env.Account, "report", lambda.AliasInput{Name: "prod", FunctionVersion: aws.String("1"),
			RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.1}}})).on(t)
		pass(t, env, "expect_alias", `{function: report, alias: prod, version: "1", weights: {2: 0.1}}`)
		pass(t, env, "expect_alias", `{function: report, alias: prod, weights: {2: 0.12}, tolerance: 0.05}`)
		fail(t, env, "expect_alias", `{function: report, alias: prod, version: "2"}`, `alias prod of report points to version 1; the lab wants version 2`)
		fail(t, env, "expect_alias", `{function: report, alias: prod, weights: {}}`,
			`alias prod of report still sends 10% of its traffic to version 2; the lab wants all of it on version 1`)
		fail(t, env, "expect_alias", `{function: report, alias: prod, weights: {2: 0.5}}`,
			`alias prod of report sends 10% of its traffic to version 2; the lab wants 50%`)
		fail(t, env, "expect_alias", `{function: report, alias: prod, weights: {3: 0.1}}`,
			`alias prod of report sends 10% of its traffic to version 2; the lab wants 10% on version 3`)
		must(env.Lambda.UpdateAlias(ctx, env.Account, "report", "prod", lambda.AliasInput{FunctionVersion: aws.String("2"),
			RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{}}})).on(t)
		pass(t, env, "expect_alias", `{function: report, alias: prod, version: "2", weights: {}}`)
		fail(t, env, "expect_alias", `{function: report, alias: prod, weights: {1: 0.2}}`,
			`alias prod of report sends all its traffic to version 2; the lab wants 20% of it on version 1`)
	})

	t.Run("expect_concurrency", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "checkout"}, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
		fail(t, env, "expect_concurrency", `{function: checkout, reserved_max: 5}`,
			`checkout has no reserved concurrency, so it may use the whole account's concurrency; the lab wants at most 5`)
		fail(t, env, "expect_concurrency", `{function: checkout, reserved: 5}`, `checkout has no reserved concurrency; the lab wants 5`)
		must(env.Lambda.PutFunctionConcurrency(ctx, env.Account, "checkout", 5)).on(t)
		pass(t, env, "expect_concurrency", `{function: checkout, reserved: 5, reserved_max: 5}`)
		fail(t, env, "expect_concurrency", `{function: checkout, reserved: 3}`, `checkout has a reserved concurrency of 5; the lab wants 3`)
		fail(t, env, "expect_concurrency", `{function: checkout, reserved_max: 2}`, `checkout has a reserved concurrency of 5; the lab wants at most 2`)

		must(env.Lambda.PublishVersion(ctx, env.Account, "checkout", lambda.PublishVersionInput{})).on(t)
		must(env.Lambda.CreateAlias(ctx, env.Account, "checkout", lambda.AliasInput{Name: "live", FunctionVersion: aws.String("1")})).on(t)
		fail(t, env, "expect_concurrency", `{function: checkout, provisioned: {qualifier: live, count: 1}}`,
			`checkout:live has no provisioned concurrency; the lab wants 1`)
		must(env.Lambda.PutProvisionedConcurrencyConfig(ctx, env.Account, "checkout", "1", 1)).on(t)
		pass(t, env, "expect_concurrency", `{function: checkout, provisioned: {qualifier: "1", count: 1}}`)
		fail(t, env, "expect_concurrency", `{function: checkout, provisioned: {qualifier: "1", count: 2}}`,
			`checkout:1 has a provisioned concurrency of 1; the lab wants 2`)
		fail(t, env, "expect_concurrency", `{function: checkout, provisioned: {qualifier: live, count: 1}}`,
			`checkout:live has no provisioned concurrency; the lab wants 1 \(checkout has 1 on 1: it is set per version or alias\)`)
		if err := env.Lambda.DeleteProvisionedConcurrencyConfig(ctx, env.Account, "checkout", "1"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("expect_records", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "slow", TimeoutS: 10}, map[string]string{"app.py": "import time\n\ndef handler(e, c):\n    time.sleep(2)\n    return 1\n"})
		must(env.Lambda.PutFunctionConcurrency(ctx, env.Account, "slow", 2)).on(t)
		env.CheckStart = time.Now()
		fail(t, env, "expect_records", `{function: slow, min_count: 1}`, `slow was invoked 0 times since the check began; the lab expects at least 1`)
		// Six orders at once against two reserved: four are throttled.
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "slow", Payload: []byte(`{}`)})
			})
		}
		wg.Wait()
		pass(t, env, "expect_records", `{function: slow, count: 6, min_throttles: 1, max_concurrency: 2, min_concurrency: 2, min_cold: 1, max_errors: 0, min_success: 2, outcomes: {success: 2, throttled: 4}}`)
		fail(t, env, "expect_records", `{function: slow, max_concurrency: 1}`,
			`slow ran up to 2 at once since the check began \(the lab allows at most 1\)`)
		fail(t, env, "expect_records", `{function: slow, max_throttles: 0}`,
			`4 invokes of slow since the check began were throttled \(TooManyRequestsException\); the lab allows at most 0`)
		fail(t, env, "expect_records", `{function: slow, min_throttles: 5}`,
			`only 4 invokes of slow were throttled since the check began: with 6 invokes and a reserved concurrency of 2, at least 5 should have been`)
		fail(t, env, "expect_records", `{function: slow, min_success: 6}`,
			`2 invokes of slow since the check began succeeded; the lab expects at least 6 \(0 invokes failed, 4 throttled\)`)
		fail(t, env, "expect_records", `{function: slow, count: 5}`, `slow was invoked 6 times since the check began; the lab expects 5`)
		fail(t, env, "expect_records", `{function: slow, max_cold: 0}`,
			`(1 invoke|2 invokes) of slow since the check began had a cold start; the lab allows at most 0`)

		// Without a reservation nothing is throttled.
		if err := env.Lambda.DeleteFunctionConcurrency(ctx, env.Account, "slow"); err != nil {
			t.Fatal(err)
		}
		env.CheckStart = time.Now()
		env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "slow", Payload: []byte(`{}`)})
		fail(t, env, "expect_records", `{function: slow, min_throttles: 1}`,
			`no invoke of slow was throttled since the check began: with 1 invoke and no reserved concurrency \(so it may use all of the account's\), at least 1 should have been`)
		pass(t, env, "expect_records", `{function: slow, since: grading, count: 7}`)
	})

	t.Run("expect_records retries", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "flaky"}, map[string]string{"app.py": "def handler(e, c):\n    raise ValueError('backend down')\n"})
		env.CheckStart = time.Now()
		must(env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "flaky", InvocationType: "Event", Payload: []byte(`{}`)})).on(t)
		// Lambda tries an async event three times (two retries, about a
		// minute and two apart, scaled by LAMBDALAB_TIME_SCALE).
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			recs, err := env.DB.Invocations(ctx, env.Account, "flaky", env.CheckStart)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) >= 3 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		pass(t, env, "expect_records", `{function: flaky, min_retries: 2, max_retries: 2, count: 3}`)
		fail(t, env, "expect_records", `{function: flaky, max_retries: 0}`,
			`Lambda retried events of flaky 2 times since the check began; the lab allows at most 0 retries`)
	})

	t.Run("expect_records versions", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "split"}, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
		must(env.Lambda.PublishVersion(ctx, env.Account, "split", lambda.PublishVersionInput{})).on(t)
		must(env.Lambda.UpdateFunctionConfiguration(ctx, env.Account, "split", lambda.ConfigInput{MemorySize: aws.Int(192)})).on(t)
		must(env.Lambda.PublishVersion(ctx, env.Account, "split", lambda.PublishVersionInput{})).on(t)
		must(env.Lambda.CreateAlias(ctx, env.Account, "split", lambda.AliasInput{Name: "live", FunctionVersion: aws.String("1"),
			RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.5}}})).on(t)
		for range 30 {
			if _, err := env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "split", Qualifier: "live", Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		pass(t, env, "expect_records", `{function: split, count: 30, versions: {"1": 0.5, "2": 0.5}}`)
		fail(t, env, "expect_records", `{function: split, versions: {"2": 1}}`,
			`of the 30 invokes of split that ran since the check began, \d+ ran version 2 \(\d+(\.\d+)?%\); the lab expects about 100% \(30 to 30 of 30\)`)
	})

	t.Run("expect_trace", func(t *testing.T) {
		env := newEnv(t)
		createPy(t, env, labs.Function{Name: "traced"}, map[string]string{"app.py": tracedHandler})
		must(env.Lambda.UpdateFunctionConfiguration(ctx, env.Account, "traced", lambda.ConfigInput{TracingConfig: &lambda.TracingConfig{Mode: "Active"}})).on(t)
		createPy(t, env, labs.Function{Name: "untraced"}, map[string]string{"app.py": tracedHandler})
		env.CheckStart = time.Now()

		fail(t, env, "expect_trace", `{function: traced, within: 200ms}`, `no trace of traced was recorded within 200ms: it did not run since the check began`)
		// A caller's sampled header makes Lambda trace this invocation,
		// whatever its sampler would have decided.
		header := xray.NewTraceHeader(xray.NewTraceID(time.Now()), xray.NewID(), true)
		out := must(env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "traced", Payload: []byte(`{}`), TraceID: header})).on(t)
		if out.FunctionError != "" {
			t.Fatalf("traced failed: %s\n%s", out.Payload, out.Log)
		}
		pass(t, env, "expect_trace", `{function: traced, subsegments: [transform, Invocation], annotations: {order_id: 42, kind: test, big: true}, metadata: [rows, default.rows]}`)
		fail(t, env, "expect_trace", `{function: traced, within: 300ms, subsegments: [transform, save]}`,
			`no trace of traced since the check began has all the lab wants: its trace \(1-[0-9a-f]{8}-[0-9a-f]{24}\) has no subsegment named save \(its subsegments: Initialization, Invocation, transform, Overhead\)`)
		fail(t, env, "expect_trace", `{function: traced, within: 300ms, annotations: {order_id: 41}}`,
			`no trace of traced since the check began has all the lab wants: its trace \(.*\) has the annotation order_id = 42 where the lab wants 41`)
		fail(t, env, "expect_trace", `{function: traced, within: 300ms, annotations: {customer: ann}}`,
			`.* has no annotation customer \(annotations: big, kind, order_id\)`)
		fail(t, env, "expect_trace", `{function: traced, within: 300ms, metadata: [columns]}`,
			`.* has no metadata columns \(metadata: default, rows\)`)

		must(env.Lambda.Invoke(ctx, env.Account, lambda.InvokeInput{FunctionName: "untraced", Payload: []byte(`{}`)})).on(t)
		fail(t, env, "expect_trace", `{function: untraced, within: 300ms, subsegments: [transform]}`,
			`no trace of untraced was recorded within 300ms: its tracing mode is PassThrough, so Lambda records no trace of it \(set it to Active\)`)
	})
}

// loopHandler writes in/<n+1> into the bucket that sent it in/<n>: a
// recursive loop that only Lambda stops.
const loopHandler = `import boto3, urllib.parse

s3 = boto3.client("s3")

def handler(event, context):
    rec = event["Records"][0]["s3"]
    n = int(urllib.parse.unquote_plus(rec["object"]["key"]).rsplit("/", 1)[1])
    s3.put_object(Bucket=rec["bucket"]["name"], Key="in/%d" % (n + 1), Body=b"again")
    return n
`

// tracedHandler sends a subsegment with annotations and metadata to the
// X-Ray daemon itself, as the X-Ray SDK would, under the Invocation
// subsegment its trace header names; with an unsampled header (a
// PassThrough function called without one) it sends nothing.
const tracedHandler = `import json, os, secrets, socket, time

def handler(event, context):
    h = dict(p.split("=", 1) for p in os.environ.get("_X_AMZN_TRACE_ID", "").split(";") if "=" in p)
    if h.get("Sampled") != "1":
        return "unsampled"
    now = time.time()
    doc = {"type": "subsegment", "id": secrets.token_hex(8), "trace_id": h["Root"], "parent_id": h["Parent"],
           "name": "transform", "start_time": now, "end_time": now + 0.001,
           "annotations": {"order_id": 42, "kind": "test", "big": True},
           "metadata": {"default": {"rows": 3}}}
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'{"format":"json","version":1}\n' + json.dumps(doc).encode(), (host, int(port)))
    return "sent"
`

// waitForRecord waits (up to a minute) for a first record of fn.
func waitForRecord(t *testing.T, env *Env, fn string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		recs, err := env.DB.Invocations(context.Background(), env.Account, fn, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not run within a minute", fn)
}

func TestAnswer(t *testing.T) {
	env := &Env{Lab: &labs.Lab{Questions: []labs.Question{
		{ID: "sustainable-rps", Text: "How many orders per second can checkout sustain?", Kind: "number", Unit: "requests per second"},
		{ID: "limit", Text: "Which limit throttled the burst?", Kind: "text"},
	}}}
	tests := []struct {
		answer, args string
		want         string // "" for a pass
	}{
		{"16.7", `{question: sustainable-rps, number: 16.7}`, ""},
		{"16,7", `{question: sustainable-rps, number: 16.7}`, ""},
		{"about 17 rps", `{question: sustainable-rps, number: 16.7, tolerance: 0.5}`, ""},
		{"1,000 per second", `{question: sustainable-rps, number: 1000}`, ""},
		{"16.8", `{question: sustainable-rps, number: 16.7}`, ""}, // within 1 %
		{"17", `{question: sustainable-rps, number: 16.7}`,
			`your answer 17 to "How many orders per second can checkout sustain?" is not right (the question asks for requests per second)`},
		{"about 20 rps", `{question: sustainable-rps, number: 16.7, tolerance: 0.5}`,
			`your answer 20 to "How many orders per second can checkout sustain?" is not right (the question asks for requests per second)`},
		{"seventeen", `{question: sustainable-rps, number: 16.7}`,
			`your answer "seventeen" to "How many orders per second can checkout sustain?" has no number in it (the question asks for requests per second)`},
		{"", `{question: sustainable-rps, number: 16.7}`,
			`you have not answered the question "How many orders per second can checkout sustain?"`},
		{"  Reserved   concurrency ", `{question: limit, text: reserved concurrency}`, ""},
		{"the reserved concurrency of 5", `{question: limit, matches: 'reserved\s+concurrency'}`, ""},
		{"the account limit", `{question: limit, matches: 'reserved\s+concurrency'}`,
			`your answer "the account limit" to "Which limit throttled the burst?" is not right`},
		{"account concurrency", `{question: limit, text: reserved concurrency}`,
			`your answer "account concurrency" to "Which limit throttled the burst?" is not right`},
	}
	for _, tt := range tests {
		t.Run(tt.answer+" "+tt.args, func(t *testing.T) {
			q := "sustainable-rps"
			if strings.Contains(tt.args, "question: limit") {
				q = "limit"
			}
			env.Answers = map[string]string{q: tt.answer}
			err := step(t, env, "answer", tt.args)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("answer %q to %s = %v, want a pass", tt.answer, tt.args, err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("answer %q to %s = %v, want %q", tt.answer, tt.args, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "16.7") {
				t.Errorf("the message %q reveals the expected value", err)
			}
		})
	}
}

func TestParseAnswerNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"16.7", 16.7, true}, {"16,7", 16.7, true}, {"about 17 rps", 17, true}, {"-3", -3, true},
		{".5 s", 0.5, true}, {"1,000", 1000, true}, {"1,000.25", 1000.25, true}, {"20-25", 20, true},
		{"none", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseAnswerNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseAnswerNumber(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPeakConcurrency(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(1700000000, 0).Add(time.Duration(ms) * time.Millisecond) }
	rec := func(from, to int) store.Invocation {
		return store.Invocation{InstanceID: "i", Start: at(from), End: at(to)}
	}
	tests := []struct {
		name string
		recs []store.Invocation
		want int
	}{
		{"none", nil, 0},
		{"one", []store.Invocation{rec(0, 10)}, 1},
		{"back to back do not overlap", []store.Invocation{rec(0, 10), rec(10, 20), rec(20, 30)}, 1},
		{"nested", []store.Invocation{rec(0, 100), rec(10, 20), rec(15, 30), rec(50, 60)}, 3},
		{"throttles do not run", []store.Invocation{rec(0, 10), {Start: at(5), End: at(5), Outcome: "throttled"}}, 1},
		{"an instant still runs", []store.Invocation{rec(0, 10), rec(5, 5)}, 2},
	}
	for _, tt := range tests {
		if got := peakConcurrency(tt.recs); got != tt.want {
			t.Errorf("%s: peakConcurrency = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSizeText(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"}, {1023, "1023 bytes"}, {51200, "50.0 KB (51200 bytes)"},
		{503629, "491.8 KB (503629 bytes)"}, {50 << 20, "50.0 MB (52428800 bytes)"},
	}
	for _, tt := range tests {
		if got := sizeText(tt.n); got != tt.want {
			t.Errorf("sizeText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
