package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox/initproc"
	"lambdalab/store"
	"lambdalab/store/storetest"
)

// TestMain lets the test binary serve as the sandbox init. The program that
// startServeEnv runs in-process uses its own executable as PID 1 of every
// instance when no small init is embedded (see initBinary), and here that
// executable is the test binary, started as lambdalab-init.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == initName {
		initproc.Main() // never returns
	}
	storetest.Main(m) // runs the tests, then stops any PostgreSQL they started
}

// awsCLIPath is Debian's AWS CLI v2. Another aws may come first on PATH (a
// pip-installed v1 on our machines), so the tests name this one.
const awsCLIPath = "/usr/bin/aws"

// requireAWSCLI skips without the AWS CLI v2, or fails when
// LAMBDALAB_REQUIRE_DOCKER=1 (as `make test` sets it, after `make deps`
// installed the CLI).
func requireAWSCLI(t *testing.T) {
	t.Helper()
	out, err := exec.Command(awsCLIPath, "--version").CombinedOutput()
	if err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
		return
	}
	msg := fmt.Sprintf("the AWS CLI v2 is needed at %s (make deps, or scripts/deps.sh awscli, installs it): %v %s", awsCLIPath, err, bytes.TrimSpace(out))
	if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startWithSandbox runs the program in-process with its sandbox (one
// prestarted instance) and waits until it can run functions.
func startWithSandbox(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	s := startServeEnv(t, map[string]string{"LAMBDALAB_PRESTART": "1"}, dataDir, extra...)
	deadline := time.Now().Add(10 * time.Minute) // a first image build takes minutes
	for !strings.Contains(s.Logs.String(), "sandbox ready") {
		if strings.Contains(s.Logs.String(), "labs are unavailable") || time.Now().After(deadline) {
			t.Fatalf("sandbox did not start:\n%s", s.Logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.AWSURL == "" {
		t.Fatalf("no aws endpoint line in the log:\n%s", s.Logs)
	}
	return s
}

// addUser runs `lambdalab user add` and returns the new user's AWS keys as
// `lambdalab user keys` prints them, evaluated by a POSIX shell.
func addUser(t *testing.T, dataDir, email string) map[string]string {
	t.Helper()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"user", "add", "--email", email, "--password-stdin", "--data", dataDir},
		func(string) string { return "" }, strings.NewReader("a long enough password\n"), &out, &errOut); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut.String())
	}
	return userKeys(t, dataDir, email)
}

// userKeys runs `lambdalab user keys` and evaluates its output in /bin/sh as
// the usage text tells a learner to, checking that the shell sees exactly
// the variables the lines spell out.
func userKeys(t *testing.T, dataDir, email string) map[string]string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"user", "keys", "--email", email, "--data", dataDir},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("user keys: %v\n%s", err, errOut.String())
	}
	printed := out.String()
	// Parse the lines as the format promises: export NAME='value'; lines,
	// unset NAME; lines for variables that must not linger, the alias that
	// gives a CLI before 2.13 the endpoint, the account as a comment.
	parsed, unset := map[string]string{}, []string{}
	exportLine := regexp.MustCompile(`^export ([A-Z_]+)='([^']*)';$`)
	unsetLine := regexp.MustCompile(`^unset ([A-Z_]+);$`)
	aliasLine := regexp.MustCompile(`^alias aws='aws --endpoint-url ([^']*)';$`)
	alias := ""
	for _, line := range strings.Split(strings.TrimSuffix(printed, "\n"), "\n") {
		if m := exportLine.FindStringSubmatch(line); m != nil {
			parsed[m[1]] = m[2]
		} else if m := unsetLine.FindStringSubmatch(line); m != nil {
			unset = append(unset, m[1])
		} else if m := aliasLine.FindStringSubmatch(line); m != nil {
			alias = m[1]
		} else if !strings.HasPrefix(line, "# AWS account ") {
			t.Errorf("user keys printed a line that is neither an export, an unset, the aws alias nor the account comment: %q", line)
		}
	}
	if alias != parsed["AWS_ENDPOINT_URL"] {
		t.Errorf("user keys' aws alias names %q, its AWS_ENDPOINT_URL %q", alias, parsed["AWS_ENDPOINT_URL"])
	}
	names := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"}
	// Both ways a learner may paste it, eval "$(...)" and the unquoted
	// eval $(...), into a shell that had other values before.
	for _, script := range []string{`eval "$KEYS"`, `eval $KEYS`} {
		cmd := exec.Command("/bin/sh", "-c", script+`; for v in `+strings.Join(append(names, unset...), " ")+`; do eval "printf '%s=%s\n' $v \"\${$v-(unset)}\""; done`)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "KEYS=" + printed}
		for _, k := range append(names, unset...) {
			cmd.Env = append(cmd.Env, k+"=stale")
		}
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh %s: %v", script, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
			k, v, _ := strings.Cut(line, "=")
			want, ok := parsed[k]
			if !ok {
				want = "(unset)"
			}
			if v != want {
				t.Errorf("after %s the shell has %s=%q; the printed lines say %q", script, k, v, want)
			}
		}
	}
	for _, k := range names {
		if parsed[k] == "" {
			t.Errorf("user keys printed no %s:\n%s", k, printed)
		}
	}
	if parsed["AWS_DEFAULT_REGION"] != "us-east-1" || parsed["AWS_ENDPOINT_URL"] != awsEndpointURL {
		t.Errorf("user keys: region %q, endpoint %q; want us-east-1 and %s", parsed["AWS_DEFAULT_REGION"], parsed["AWS_ENDPOINT_URL"], awsEndpointURL)
	}
	return parsed
}

// awsCLI runs /usr/bin/aws in an environment of its own: a learner's keys,
// the test server's endpoint, and empty configuration files, so nothing of
// the machine's own AWS set-up leaks in.
//
// The CLI 2.9.19 that Debian bookworm ships predates AWS_ENDPOINT_URL (the
// CLI reads it from 2.13 on), so every call also passes --endpoint-url.
type awsCLI struct {
	t        *testing.T
	env      []string
	endpoint string
	dir      string // working directory: zips and output files
}

func newAWSCLI(t *testing.T, endpointURL string, keys map[string]string) *awsCLI {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &awsCLI{t: t, dir: dir, endpoint: endpointURL, env: []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + keys["AWS_ACCESS_KEY_ID"],
		"AWS_SECRET_ACCESS_KEY=" + keys["AWS_SECRET_ACCESS_KEY"],
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + endpointURL,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
	}}
}

// exec runs the CLI with extra environment entries and returns its output;
// err is non-nil when it exited non-zero.
func (c *awsCLI) exec(extraEnv []string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLIPath, append([]string{"--endpoint-url", c.endpoint}, args...)...)
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	cmd.Dir = c.dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// json runs the CLI, which must succeed, and decodes its JSON output into v
// (nil for commands that print nothing).
func (c *awsCLI) json(v any, args ...string) {
	c.t.Helper()
	out, errOut, err := c.exec(nil, args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	if v == nil {
		return
	}
	if strings.TrimSpace(out) == "" {
		out = "{}" // the CLI prints nothing for an empty answer
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("aws %s: output is not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs the CLI, which must fail with the named AWS error code.
func (c *awsCLI) fails(code string, extraEnv []string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(extraEnv, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		c.t.Fatalf("aws %s: got %v, want a non-zero exit with %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, code, out, errOut)
	}
	if !strings.Contains(errOut, "("+code+")") {
		c.t.Fatalf("aws %s: exit %d, stderr does not name %s:\n%s", strings.Join(args, " "), ee.ExitCode(), code, errOut)
	}
	return errOut
}

// zipFile writes a zip of files into the CLI's folder and returns its
// fileb:// argument.
func (c *awsCLI) zipFile(name string, files map[string]string) string {
	c.t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, body := range files {
		w, err := zw.Create(n)
		if err != nil {
			c.t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return "fileb://" + p
}

// cliInvoke is the CLI's own output of `lambda invoke` plus the response
// file it wrote.
type cliInvoke struct {
	StatusCode      int
	FunctionError   string
	ExecutedVersion string
	LogResult       string
	Body            map[string]any `json:"-"`
}

func (c *awsCLI) invoke(function string, payload string, extra ...string) cliInvoke {
	c.t.Helper()
	outFile := filepath.Join(c.dir, "out.json")
	os.Remove(outFile)
	args := append([]string{"lambda", "invoke", "--function-name", function, "--cli-binary-format", "raw-in-base64-out",
		"--payload", payload}, extra...)
	var res cliInvoke
	c.json(&res, append(args, outFile)...)
	body, err := os.ReadFile(outFile)
	if err != nil {
		c.t.Fatalf("aws lambda invoke %s wrote no response file: %v", function, err)
	}
	if res.StatusCode == 200 {
		if err := json.Unmarshal(body, &res.Body); err != nil {
			c.t.Fatalf("invoke %s: response file is not a JSON object (%v): %s", function, err, body)
		}
	}
	return res
}

// logTail decodes an invocation's LogResult.
func logTail(t *testing.T, res cliInvoke) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(res.LogResult)
	if err != nil || len(b) == 0 {
		t.Fatalf("LogResult %q is not base64 of a log: %v", res.LogResult, err)
	}
	return string(b)
}

const testRole = "arn:aws:iam::123456789012:role/lambda-role"

const handlerV1 = `import json

def handler(event, context):
    print("handling", json.dumps(event))
    try:
        import labhelper
        layer = labhelper.greeting()
    except ImportError:
        layer = None
    return {"code": 1, "version": context.function_version, "event": event, "layer": layer}
`

const handlerV2 = `def handler(event, context):
    return {"code": 2, "version": context.function_version}
`

// TestAWSCLILambda drives a learner's Lambda service with the real AWS CLI v2
// through the whole program: keys from `lambdalab user keys`, then
// functions, versions, weighted aliases, concurrency, layers, policies,
// account settings, async invokes and deletion, asserting on the CLI's
// parsed output; and a wrong secret is refused.
func TestAWSCLILambda(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	data := t.TempDir()
	s := startWithSandbox(t, data)
	keys := addUser(t, data, "cli@example.com")
	aws := newAWSCLI(t, s.AWSURL, keys)
	const fn = "hello-cli"

	var created struct {
		FunctionName, FunctionArn, Runtime, Handler, State string
		CodeSize                                           int64
	}
	aws.json(&created, "lambda", "create-function", "--function-name", fn, "--runtime", "python3.13",
		"--handler", "app.handler", "--role", testRole, "--zip-file", aws.zipFile("v1.zip", map[string]string{"app.py": handlerV1}))
	if created.FunctionName != fn || created.Runtime != "python3.13" || created.Handler != "app.handler" || created.CodeSize == 0 ||
		!strings.HasPrefix(created.FunctionArn, "arn:aws:lambda:us-east-1:") || !strings.HasSuffix(created.FunctionArn, ":function:"+fn) {
		t.Errorf("create-function answered %+v", created)
	}
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", fn)

	res := aws.invoke(fn, `{"name": "Ada"}`, "--log-type", "Tail")
	if res.StatusCode != 200 || res.FunctionError != "" || res.ExecutedVersion != "$LATEST" {
		t.Errorf("invoke: %+v", res)
	}
	if ev, _ := res.Body["event"].(map[string]any); res.Body["code"] != 1.0 || ev["name"] != "Ada" || res.Body["version"] != "$LATEST" {
		t.Errorf("invoke wrote %v, want code 1 echoing the event from $LATEST", res.Body)
	}
	tail := logTail(t, res)
	for _, re := range []string{`(?m)^START RequestId: \S+ Version: \$LATEST$`, `(?m)^handling \{"name": "Ada"\}$`,
		`(?m)^END RequestId: \S+$`, `(?m)^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB`} {
		if !regexp.MustCompile(re).MatchString(tail) {
			t.Errorf("LogResult lacks %s:\n%s", re, tail)
		}
	}

	var v1 struct{ Version, FunctionArn string }
	aws.json(&v1, "lambda", "publish-version", "--function-name", fn, "--description", "first")
	if v1.Version != "1" || !strings.HasSuffix(v1.FunctionArn, ":"+fn+":1") {
		t.Errorf("publish-version: %+v, want version 1", v1)
	}
	var alias struct{ Name, FunctionVersion, AliasArn string }
	aws.json(&alias, "lambda", "create-alias", "--function-name", fn, "--name", "prod", "--function-version", "1")
	if alias.Name != "prod" || alias.FunctionVersion != "1" || !strings.HasSuffix(alias.AliasArn, ":"+fn+":prod") {
		t.Errorf("create-alias: %+v", alias)
	}
	aws.json(nil, "lambda", "update-function-code", "--function-name", fn, "--zip-file", aws.zipFile("v2.zip", map[string]string{"app.py": handlerV2}))
	aws.json(nil, "lambda", "wait", "function-updated-v2", "--function-name", fn)
	var v2 struct{ Version string }
	aws.json(&v2, "lambda", "publish-version", "--function-name", fn)
	if v2.Version != "2" {
		t.Errorf("second publish-version made %q, want 2", v2.Version)
	}
	var routed struct {
		FunctionVersion string
		RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
	}
	aws.json(&routed, "lambda", "update-alias", "--function-name", fn, "--name", "prod", "--routing-config", "AdditionalVersionWeights={2=0.5}" /* what the shell makes of AdditionalVersionWeights={"2"=0.5} */)
	if routed.FunctionVersion != "1" || routed.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 {
		t.Errorf("update-alias: %+v, want version 1 with 2 weighted 0.5", routed)
	}
	// Half the calls go to each version: 30 tries all missing one of them
	// happens once in 2^29 runs.
	seen := map[string]int{}
	for i := 0; i < 30 && (seen["1"] == 0 || seen["2"] == 0); i++ {
		r := aws.invoke(fn+":prod", `{}`)
		want := map[string]float64{"1": 1, "2": 2}[r.ExecutedVersion]
		if r.StatusCode != 200 || want == 0 || r.Body["code"] != want || r.Body["version"] != r.ExecutedVersion {
			t.Fatalf("invoke prod: %+v, body %v", r, r.Body)
		}
		seen[r.ExecutedVersion]++
	}
	if seen["1"] == 0 || seen["2"] == 0 {
		t.Errorf("the weighted alias ran versions %v, want both 1 and 2", seen)
	}

	var conc struct{ ReservedConcurrentExecutions *int }
	aws.json(&conc, "lambda", "put-function-concurrency", "--function-name", fn, "--reserved-concurrent-executions", "0")
	if conc.ReservedConcurrentExecutions == nil || *conc.ReservedConcurrentExecutions != 0 {
		t.Errorf("put-function-concurrency answered %+v, want 0", conc)
	}
	aws.fails("TooManyRequestsException", []string{"AWS_MAX_ATTEMPTS=1"}, "lambda", "invoke", "--function-name", fn, filepath.Join(aws.dir, "throttled.json"))
	aws.json(nil, "lambda", "delete-function-concurrency", "--function-name", fn)
	var noConc map[string]any
	aws.json(&noConc, "lambda", "get-function-concurrency", "--function-name", fn)
	if _, ok := noConc["ReservedConcurrentExecutions"]; ok {
		t.Errorf("get-function-concurrency after delete: %v, want no reservation", noConc)
	}

	var layer struct {
		LayerArn, LayerVersionArn string
		Version                   int
		CompatibleRuntimes        []string
	}
	aws.json(&layer, "lambda", "publish-layer-version", "--layer-name", "helpers", "--compatible-runtimes", "python3.13",
		"--zip-file", aws.zipFile("layer.zip", map[string]string{"python/labhelper.py": "def greeting():\n    return 'hi from the layer'\n"}))
	if layer.Version != 1 || layer.LayerVersionArn != layer.LayerArn+":1" || !strings.Contains(layer.LayerArn, ":layer:helpers") {
		t.Errorf("publish-layer-version: %+v", layer)
	}
	var withLayer struct{ Layers []struct{ Arn string } }
	aws.json(&withLayer, "lambda", "update-function-configuration", "--function-name", fn, "--layers", layer.LayerVersionArn)
	if len(withLayer.Layers) != 1 || withLayer.Layers[0].Arn != layer.LayerVersionArn {
		t.Errorf("update-function-configuration --layers: %+v", withLayer)
	}
	aws.json(nil, "lambda", "wait", "function-updated-v2", "--function-name", fn)
	// $LATEST still has the version 2 code, which knows no layer; put the
	// first back to see the layer's module imported.
	aws.json(nil, "lambda", "update-function-code", "--function-name", fn, "--zip-file", "fileb://"+filepath.Join(aws.dir, "v1.zip"))
	aws.json(nil, "lambda", "wait", "function-updated-v2", "--function-name", fn)
	if r := aws.invoke(fn, `{}`); r.Body["layer"] != "hi from the layer" {
		t.Errorf("invoke with the layer: %v, want the layer's greeting", r.Body)
	}

	var perm struct{ Statement string }
	aws.json(&perm, "lambda", "add-permission", "--function-name", fn, "--statement-id", "s3-invoke", "--action", "lambda:InvokeFunction",
		"--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::lab-uploads")
	var stmt struct {
		Sid, Effect, Action, Resource string
		Principal                     struct{ Service string }
	}
	if err := json.Unmarshal([]byte(perm.Statement), &stmt); err != nil || stmt.Sid != "s3-invoke" || stmt.Effect != "Allow" ||
		stmt.Action != "lambda:InvokeFunction" || stmt.Principal.Service != "s3.amazonaws.com" || stmt.Resource != created.FunctionArn {
		t.Errorf("add-permission statement %s (%v)", perm.Statement, err)
	}
	var pol struct{ Policy, RevisionId string }
	aws.json(&pol, "lambda", "get-policy", "--function-name", fn)
	var doc struct {
		Version   string
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal([]byte(pol.Policy), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) != 1 || doc.Statement[0].Sid != "s3-invoke" || pol.RevisionId == "" {
		t.Errorf("get-policy: %+v (%v)", pol, err)
	}

	var list struct {
		Functions []struct{ FunctionName string }
	}
	aws.json(&list, "lambda", "list-functions")
	if len(list.Functions) != 1 || list.Functions[0].FunctionName != fn {
		t.Errorf("list-functions: %+v, want only %s", list, fn)
	}
	var versions struct{ Versions []struct{ Version string } }
	aws.json(&versions, "lambda", "list-versions-by-function", "--function-name", fn)
	var vs []string
	for _, v := range versions.Versions {
		vs = append(vs, v.Version)
	}
	if strings.Join(vs, ",") != "$LATEST,1,2" {
		t.Errorf("list-versions-by-function: %v, want $LATEST,1,2", vs)
	}
	var settings struct {
		AccountLimit struct {
			ConcurrentExecutions, UnreservedConcurrentExecutions int
			CodeSizeZipped                                       int64
		}
		AccountUsage struct{ FunctionCount int }
	}
	aws.json(&settings, "lambda", "get-account-settings")
	if settings.AccountLimit.ConcurrentExecutions <= 0 || settings.AccountLimit.UnreservedConcurrentExecutions != settings.AccountLimit.ConcurrentExecutions ||
		settings.AccountLimit.CodeSizeZipped != 52428800 || settings.AccountUsage.FunctionCount != 1 {
		t.Errorf("get-account-settings: %+v", settings)
	}

	db := openDB(t, data)
	account := keyAccount(t, db, keys)
	before := invocationCount(t, db, account, fn)
	var async struct{ StatusCode int }
	asyncOut := filepath.Join(aws.dir, "async.json")
	aws.json(&async, "lambda", "invoke", "--function-name", fn, "--invocation-type", "Event", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"async": true}`, asyncOut)
	if async.StatusCode != 202 {
		t.Errorf("invoke --invocation-type Event: status %d, want 202", async.StatusCode)
	}
	if b, _ := os.ReadFile(asyncOut); len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("an Event invoke wrote a response body: %q", b)
	}
	waitFor(t, 30*time.Second, "the Event invoke to run", func() bool {
		return invocationCount(t, db, account, fn) > before
	})

	aws.json(nil, "lambda", "delete-function", "--function-name", fn)
	aws.fails("ResourceNotFoundException", nil, "lambda", "get-function", "--function-name", fn)

	wrong := []string{"AWS_SECRET_ACCESS_KEY=" + strings.Repeat("x", len(keys["AWS_SECRET_ACCESS_KEY"]))}
	errOut := aws.fails("InvalidSignatureException", wrong, "lambda", "list-functions")
	if !strings.Contains(errOut, "ListFunctions") {
		t.Errorf("the refusal does not name the operation:\n%s", errOut)
	}
}

// TestBoto3InsideFunction has a Python function call another one with
// boto3, which finds lambdalab's endpoint and credentials in its environment
// alone. The caller's billed run includes the wait for the callee.
func TestBoto3InsideFunction(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	data := t.TempDir()
	s := startWithSandbox(t, data)
	aws := newAWSCLI(t, s.AWSURL, addUser(t, data, "boto@example.com"))

	aws.json(nil, "lambda", "create-function", "--function-name", "callee", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "10", "--zip-file", aws.zipFile("callee.zip", map[string]string{"app.py": `import time

def handler(event, context):
    time.sleep(event["sleep"])
    return {"slept": event["sleep"], "by": context.function_name}
`}))
	aws.json(nil, "lambda", "create-function", "--function-name", "caller", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--memory-size", "256", "--zip-file", aws.zipFile("caller.zip", map[string]string{"app.py": `import json
import boto3

def handler(event, context):
    r = boto3.client("lambda").invoke(FunctionName="callee", Payload=json.dumps({"sleep": event["sleep"]}))
    return {"status": r["StatusCode"], "callee": json.loads(r["Payload"].read())}
`}))
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", "caller")
	const sleep = 1.5
	res := aws.invoke("caller", fmt.Sprintf(`{"sleep": %v}`, sleep), "--log-type", "Tail")
	callee, _ := res.Body["callee"].(map[string]any)
	if res.StatusCode != 200 || res.FunctionError != "" || res.Body["status"] != 200.0 || callee["slept"] != sleep || callee["by"] != "callee" {
		t.Fatalf("caller: %+v, body %v\n%s", res, res.Body, s.Logs)
	}
	m := regexp.MustCompile(`REPORT RequestId: \S+\tDuration: ([\d.]+) ms`).FindStringSubmatch(logTail(t, res))
	if m == nil {
		t.Fatalf("no REPORT line in the caller's log:\n%s", logTail(t, res))
	}
	if d, _ := strconv.ParseFloat(m[1], 64); d < sleep*1000 {
		t.Errorf("caller's Duration %v ms is below the callee's %v s sleep it waited for", d, sleep)
	}
}

// keyAccount is the account a user's access key belongs to.
func keyAccount(t *testing.T, db *store.DB, keys map[string]string) string {
	t.Helper()
	k, err := db.AccessKey(context.Background(), keys["AWS_ACCESS_KEY_ID"])
	if err != nil {
		t.Fatalf("access key %s: %v", keys["AWS_ACCESS_KEY_ID"], err)
	}
	return k.AccountID
}

// openDB opens the data folder's database beside the program using it
// (SQLite in WAL mode serves both).
func openDB(t *testing.T, dataDir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func invocationCount(t *testing.T, db *store.DB, account, function string) int {
	t.Helper()
	invs, err := db.Invocations(context.Background(), account, function, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return len(invs)
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
