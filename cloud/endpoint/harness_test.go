package endpoint_test

// End-to-end tests of the emulated Lambda service: the real AWS SDK for Go
// v2 signs every request, an httptest server runs the real endpoint (SigV4
// verified against the account's key in SQLite), the service stores in
// SQLite and the package store, and the sandbox runs handlers in Docker.
// reference/lambda-behaviour.md §6–§12 is the behaviour checked.
//
// Most tests share one world (database, service, engine, server) and take a
// fresh scratch account each: accounts are the isolation Lambda itself
// offers, and one engine keeps the cold starts, which dominate the time,
// down. Tests that close or reconfigure things build their own world.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/endpoint"
	lambdasvc "lambdalab/cloud/lambda"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker/dockertest"
	"lambdalab/sandbox/runtimes"
	"lambdalab/store"
)

var env struct {
	sharedOnce sync.Once
	shared     *world
	sharedErr  error
}

// requireDocker skips when no Docker engine answers, or fails when
// LAMBDALAB_REQUIRE_DOCKER=1 (as `make test` sets it); see dockertest.
func requireDocker(t testing.TB) {
	t.Helper()
	dockertest.Backend(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.shared != nil {
		env.shared.close()
	}
	dockertest.Cleanup()
	os.Exit(code)
}

// world is one lambdalab as serve wires it: database, package store, Lambda
// service, endpoint on an httptest server, and a sandbox engine.
type world struct {
	dir    string
	db     *store.DB
	pkgs   *codepkg.Store
	svc    *lambdasvc.Service
	ep     *endpoint.Endpoint
	engine *sandbox.Engine
	srv    *httptest.Server
}

func runtimeTable(rt string) ([]string, []string, error) {
	cmd, err := runtimes.Command(rt)
	return cmd, runtimes.Env(rt), err
}

// openWorld starts lambdalab on the data in dir (creating it when empty).
func openWorld(dir string, prestart int) (*world, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "lambdalab.db"))
	if err != nil {
		return nil, err
	}
	pkgs, err := codepkg.Open(filepath.Join(dir, "packages"))
	if err != nil {
		db.Close()
		return nil, err
	}
	svc := lambdasvc.New(lambdasvc.Config{DB: db, Packages: pkgs})
	api := svc.Handler()
	ep := endpoint.New(endpoint.Config{
		DB:       db,
		Services: map[string]http.Handler{"lambda": api},
		Unsigned: map[string]http.Handler{"/_lambdalab/code/": api},
	})
	engine := sandbox.New(db, dockertest.Shared(), sandbox.Config{AWS: ep.Instance(), Runtime: runtimeTable, Prestart: prestart,
		MaxInstances: 40})
	w := &world{dir: dir, db: db, pkgs: pkgs, svc: svc, ep: ep, engine: engine, srv: httptest.NewServer(ep)}
	if err := svc.SetEngine(ctx, engine); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// close stops everything in the order serve does: no new requests, no
// async delivery, no instances, then the stores.
func (w *world) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.srv.Close()
	w.svc.Close()
	w.engine.Close(ctx)
	w.pkgs.Close()
	w.db.Close()
}

// newWorld is a world of the test's own, closed when it ends.
func newWorld(t testing.TB, dir string, prestart int) *world {
	t.Helper()
	requireDocker(t)
	w, err := openWorld(dir, prestart)
	if err != nil {
		t.Fatalf("start lambdalab on %s: %v", dir, err)
	}
	t.Cleanup(w.close)
	return w
}

// shared is the world most tests run in; TestMain closes it.
func shared(t testing.TB) *world {
	t.Helper()
	requireDocker(t)
	env.sharedOnce.Do(func() {
		dir, err := os.MkdirTemp(dockertest.Dir(), "shared-")
		if err != nil {
			env.sharedErr = err
			return
		}
		env.shared, env.sharedErr = openWorld(dir, 1)
	})
	if env.sharedErr != nil {
		t.Fatalf("start the shared lambdalab: %v", env.sharedErr)
	}
	return env.shared
}

// account is one learner account seen from outside: its id, key pair and
// an SDK client signing with it.
type account struct {
	w      *world
	id     string
	key    string
	secret string
	c      *lambda.Client
}

func (w *world) newAccount(t testing.TB) *account {
	t.Helper()
	a, k, err := w.db.CreateScratchAccount(context.Background())
	if err != nil {
		t.Fatalf("create scratch account: %v", err)
	}
	return &account{w: w, id: a.ID, key: k.ID, secret: k.Secret, c: w.client(k.ID, k.Secret)}
}

// client is the Go SDK as a learner's program would build it, pointed at
// the endpoint. It does not retry, so each call is one request and a test
// sees the first answer.
func (w *world) client(key, secret string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func (a *account) role() *string {
	return aws.String("arn:aws:iam::" + a.id + ":role/lambda-role")
}

func (a *account) arn(name string) string {
	return "arn:aws:lambda:us-east-1:" + a.id + ":function:" + name
}

var fixedTime = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// zipOf builds a deployment package with files in name order and fixed
// times, so the same files always make the same bytes.
func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: fixedTime}
		h.SetMode(0o644)
		f, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(files[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pyZip(t testing.TB, src string) []byte { return zipOf(t, map[string]string{"app.py": src}) }

// createPy creates a python3.13 function with app.py as its code. It has
// 1,024 MB unless edit says otherwise: at Lambda's default of 128 MB a
// function gets 7% of a CPU, which makes every cold start and many warm
// invokes wait for the next CFS period, and the suite slow.
func (a *account) createPy(t testing.TB, name, src string, edit ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimePython313, Handler: aws.String("app.handler"),
		Role: a.role(), Code: &types.FunctionCode{ZipFile: pyZip(t, src)}, Timeout: aws.Int32(10), MemorySize: aws.Int32(1024),
	}
	for _, e := range edit {
		e(in)
	}
	out, err := a.c.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	return out
}

// invoke calls a function synchronously and fails the test on an API error.
func (a *account) invoke(t testing.TB, in *lambda.InvokeInput) *lambda.InvokeOutput {
	t.Helper()
	out, err := a.c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// call invokes name with payload and decodes the JSON object it returns.
func (a *account) call(t testing.TB, name, payload string) map[string]any {
	t.Helper()
	out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if out.FunctionError != nil {
		t.Fatalf("Invoke %s: function error %s: %s", name, *out.FunctionError, out.Payload)
	}
	return object(t, out.Payload)
}

func object(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload %q is not a JSON object: %v", b, err)
	}
	return v
}

// apiError checks that err is the API error code with HTTP status and
// returns its message.
func apiError(t testing.TB, err error, code string, status int) string {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%v), want %s", ae.ErrorCode(), err, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if re.HTTPStatusCode() != status {
		t.Fatalf("%s came with HTTP %d, want %d", code, re.HTTPStatusCode(), status)
	}
	return ae.ErrorMessage()
}

// eventually polls check until it returns true or d passes.
func eventually(t testing.TB, d time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail decodes an Invoke's LogResult (LogType Tail).
func logTail(t testing.TB, out *lambda.InvokeOutput) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("LogResult %q is not base64: %v", aws.ToString(out.LogResult), err)
	}
	return string(b)
}

// reportDuration reads "Duration: N ms" from the REPORT line of a log.
func reportDuration(t testing.TB, log string) float64 {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(line, "REPORT ") {
			continue
		}
		_, rest, ok := strings.Cut(line, "\tDuration: ")
		if !ok {
			break
		}
		var ms float64
		if _, err := fmt.Sscanf(rest, "%f ms", &ms); err != nil {
			t.Fatalf("REPORT line %q: %v", line, err)
		}
		return ms
	}
	t.Fatalf("no REPORT Duration in log:\n%s", log)
	return 0
}
