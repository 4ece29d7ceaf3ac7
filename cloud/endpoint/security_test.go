package endpoint_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// rawCall sends a request to the endpoint signed by the SDK's own signer
// at signedAt (zero: unsigned), and returns the status, error type and body.
func rawCall(t *testing.T, w *world, a *account, method, path string, body []byte, signedAt time.Time, tamper func(*http.Request)) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !signedAt.IsZero() {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: a.key, SecretAccessKey: a.secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(b)
}

func TestAuthentication(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "guarded", echoHandler)

	_, err := w.client(a.key, a.secret+"x").GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("guarded")})
	apiError(t, err, "InvalidSignatureException", 403)
	_, err = w.client("AKIAUNKNOWNKEY000000", a.secret).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("guarded")})
	apiError(t, err, "UnrecognizedClientException", 403)
	_, err = w.client(a.key, a.secret+"x").DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("guarded")})
	apiError(t, err, "InvalidSignatureException", 403)

	path := "/2015-03-31/functions/guarded/configuration"
	// The same request signed now is accepted, so the refusals below are
	// about the time and the signature alone.
	if status, typ, body := rawCall(t, w, a, "GET", path, nil, time.Now(), nil); status != 200 {
		t.Fatalf("a request signed now: HTTP %d %s %s", status, typ, body)
	}
	status, typ, body := rawCall(t, w, a, "GET", path, nil, time.Now().Add(-10*time.Minute), nil)
	if status != 403 || typ != "InvalidSignatureException" || !strings.Contains(body, "Signature expired") {
		t.Errorf("a request signed 10 minutes ago: HTTP %d %s %s; want 403 InvalidSignatureException Signature expired", status, typ, body)
	}
	status, typ, body = rawCall(t, w, a, "GET", path, nil, time.Time{}, nil)
	if status != 403 || typ != "MissingAuthenticationTokenException" {
		t.Errorf("an unsigned request: HTTP %d %s %s; want 403 MissingAuthenticationTokenException", status, typ, body)
	}
	// A body changed after signing.
	inv := "/2015-03-31/functions/guarded/invocations"
	status, typ, body = rawCall(t, w, a, "POST", inv, []byte(`{"n": 1}`), time.Now(), func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`{"n": 2}`))
	})
	if status != 403 && status != 400 || typ != "InvalidSignatureException" && typ != "XAmzContentSHA256Mismatch" {
		t.Errorf("a tampered body: HTTP %d %s %s; want a refusal", status, typ, body)
	}
	// A path changed after signing.
	status, typ, body = rawCall(t, w, a, "DELETE", "/2015-03-31/functions/other", nil, time.Now(), func(r *http.Request) {
		r.URL.Path = "/2015-03-31/functions/guarded"
	})
	if status != 403 || typ != "InvalidSignatureException" {
		t.Errorf("a request whose path changed after signing: HTTP %d %s %s", status, typ, body)
	}
	if _, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("guarded")}); err != nil {
		t.Errorf("after the refused requests the function is gone: %v", err)
	}
	invs, err := w.db.Invocations(ctx, a.id, "guarded", time.Time{})
	if err != nil || len(invs) != 0 {
		t.Errorf("refused requests ran the function: %d invocations, %v", len(invs), err)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a, b := w.newAccount(t), w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "private", echoHandler)
	layer, _ := a.publishLayer(t, "alib", map[string]string{"python/alib.py": "X = 1\n"})
	before, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("private")})
	if err != nil {
		t.Fatal(err)
	}

	tries := []struct {
		name string
		call func(fn string) error
	}{
		{"GetFunction", func(fn string) error {
			_, err := b.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
			return err
		}},
		{"Invoke", func(fn string) error {
			_, err := b.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn)})
			return err
		}},
		{"Invoke Event", func(fn string) error {
			_, err := b.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), InvocationType: types.InvocationTypeEvent})
			return err
		}},
		{"DeleteFunction", func(fn string) error {
			_, err := b.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)})
			return err
		}},
		{"AddPermission", func(fn string) error {
			_, err := b.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(fn), StatementId: aws.String("steal"),
				Action: aws.String("lambda:InvokeFunction"), Principal: aws.String(b.id)})
			return err
		}},
		{"GetPolicy", func(fn string) error {
			_, err := b.c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(fn)})
			return err
		}},
		{"UpdateFunctionCode", func(fn string) error {
			_, err := b.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: pyZip(t, "def handler(e, c):\n    return 'pwned'\n")})
			return err
		}},
		{"UpdateFunctionConfiguration", func(fn string) error {
			_, err := b.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Timeout: aws.Int32(1)})
			return err
		}},
		{"PutFunctionConcurrency", func(fn string) error {
			_, err := b.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(fn), ReservedConcurrentExecutions: aws.Int32(0)})
			return err
		}},
		{"PublishVersion", func(fn string) error {
			_, err := b.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
			return err
		}},
		{"CreateAlias", func(fn string) error {
			_, err := b.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("mine"), FunctionVersion: aws.String("$LATEST")})
			return err
		}},
		{"PutFunctionEventInvokeConfig", func(fn string) error {
			_, err := b.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(fn), MaximumRetryAttempts: aws.Int32(0)})
			return err
		}},
	}
	for _, tt := range tries {
		t.Run(tt.name, func(t *testing.T) {
			apiError(t, tt.call("private"), "ResourceNotFoundException", 404)
			apiError(t, tt.call(a.arn("private")), "AccessDeniedException", 403)
		})
	}

	list, err := b.c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 0 {
		t.Errorf("B's ListFunctions = %d functions, %v; want none", len(list.Functions), err)
	}
	layers, err := b.c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(layers.Layers) != 0 {
		t.Errorf("B's ListLayers = %d layers, %v; want none", len(layers.Layers), err)
	}
	_, err = b.c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: layer.LayerVersionArn})
	apiError(t, err, "AccessDeniedException", 403)
	_, err = b.c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("alib"), VersionNumber: aws.Int64(1)})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = b.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("borrower"), Runtime: types.RuntimePython313,
		Handler: aws.String("app.handler"), Role: b.role(), Code: &types.FunctionCode{ZipFile: pyZip(t, "import alib\n")},
		Layers: []string{aws.ToString(layer.LayerVersionArn)}})
	apiError(t, err, "AccessDeniedException", 403)

	// Nothing B tried changed A's function.
	after, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("private")})
	if err != nil {
		t.Fatalf("A's function after B's attempts: %v", err)
	}
	if aws.ToString(after.Configuration.RevisionId) != aws.ToString(before.Configuration.RevisionId) ||
		aws.ToString(after.Configuration.CodeSha256) != aws.ToString(before.Configuration.CodeSha256) || after.Concurrency != nil {
		t.Errorf("B changed A's function: revision %s→%s sha %s→%s concurrency %+v", aws.ToString(before.Configuration.RevisionId),
			aws.ToString(after.Configuration.RevisionId), aws.ToString(before.Configuration.CodeSha256), aws.ToString(after.Configuration.CodeSha256), after.Concurrency)
	}
	_, err = a.c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("private")})
	apiError(t, err, "ResourceNotFoundException", 404)
	vs, _ := a.c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("private")})
	al, _ := a.c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("private")})
	if len(vs.Versions) != 1 || len(al.Aliases) != 0 {
		t.Errorf("B gave A's function %d versions and %d aliases", len(vs.Versions)-1, len(al.Aliases))
	}
	_, err = a.c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("private")})
	apiError(t, err, "ResourceNotFoundException", 404)
	time.Sleep(200 * time.Millisecond) // room for a wrongly accepted async event to run
	if invs, _ := w.db.Invocations(ctx, a.id, "private", time.Time{}); len(invs) != 0 {
		t.Errorf("B's calls ran A's function %d times", len(invs))
	}
	if v := a.call(t, "private", `{"n": 5}`); v["event"].(map[string]any)["n"] != float64(5) {
		t.Errorf("A's function after B's attempts returned %v", v)
	}
}

// bombZip holds one entry that inflates to n MB of zeros from a few hundred
// KB: the deflate blocks of one MB, repeated (each refers only to the zeros
// before it).
func bombZip(t testing.TB, n int) []byte {
	t.Helper()
	var out bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	var marks []int
	for range 3 {
		fw.Write(zeros)
		fw.Flush()
		marks = append(marks, out.Len())
	}
	fw.Close()
	all := out.Bytes()
	unit := all[marks[0]:marks[1]]
	if !bytes.Equal(unit, all[marks[1]:marks[2]]) {
		t.Fatal("bombZip: the deflate blocks of successive megabytes differ")
	}
	var stream bytes.Buffer
	stream.Write(all[:marks[0]])
	crc := crc32.ChecksumIEEE(zeros)
	for range n - 1 {
		stream.Write(unit)
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	stream.Write(all[marks[2]:])
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	h := &zip.FileHeader{Name: "app.py", Method: zip.Deflate, Modified: fixedTime, CRC32: crc,
		CompressedSize64: uint64(stream.Len()), UncompressedSize64: uint64(n) << 20}
	f, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(stream.Bytes())
	zw.Close()
	return z.Bytes()
}

func symlinkZip(t testing.TB, target string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, _ := zw.Create("app.py")
	f.Write([]byte("def handler(e, c):\n    return open('leak').read()\n"))
	h := &zip.FileHeader{Name: "leak", Modified: fixedTime}
	h.SetMode(0o777 | 1<<27) // os.ModeSymlink
	l, _ := zw.CreateHeader(h)
	l.Write([]byte(target))
	zw.Close()
	return b.Bytes()
}

func TestHostilePackagesRefused(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "target", "def handler(e, c):\n    return {'code': 'original'}\n")
	before, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("target")})
	if err != nil {
		t.Fatal(err)
	}
	good := pyZip(t, "def handler(e, c):\n    return 1\n")
	tests := []struct {
		name string
		zip  []byte
	}{
		{"zip slip", zipOf(t, map[string]string{"app.py": "x = 1\n", "../../escape.py": "x = 2\n"})},
		{"absolute path", zipOf(t, map[string]string{"app.py": "x = 1\n", "/etc/cron.d/evil": "x\n"})},
		{"symlink to /etc/passwd", symlinkZip(t, "/etc/passwd")},
		{"symlink climbing out", symlinkZip(t, "../../../../etc/passwd")},
		{"broken zip", []byte("PK\x03\x04 this is not really a zip file")},
		{"truncated zip", good[:len(good)/2]},
		{"zip bomb", bombZip(t, 260)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("target"), ZipFile: tt.zip})
			t.Logf("%d bytes: %s", len(tt.zip), apiError(t, err, "InvalidParameterValueException", 400))
			_, err = a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("fresh"), Runtime: types.RuntimePython313,
				Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: tt.zip}})
			apiError(t, err, "InvalidParameterValueException", 400)
		})
	}
	after, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("target")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.CodeSha256) != aws.ToString(before.CodeSha256) || aws.ToString(after.RevisionId) != aws.ToString(before.RevisionId) {
		t.Errorf("refused packages changed the function: sha %s→%s", aws.ToString(before.CodeSha256), aws.ToString(after.CodeSha256))
	}
	if _, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fresh")}); err == nil {
		t.Errorf("a refused CreateFunction left a function behind")
	}
	if v := a.call(t, "target", `{}`); v["code"] != "original" {
		t.Errorf("after the refused packages the function returned %v", v)
	}
}

// callerHandler calls another function through boto3 with nothing but what
// the sandbox gives it: no endpoint, no keys in the code.
const callerHandler = `import json, boto3, botocore
lam = boto3.client("lambda")
def handler(event, context):
    try:
        r = lam.invoke(FunctionName=event["target"], Payload=json.dumps({"sleep_ms": event.get("sleep_ms", 0)}))
    except botocore.exceptions.ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
    return {"status": r["StatusCode"], "executed": r.get("ExecutedVersion"), "payload": json.loads(r["Payload"].read())}
`

const calleeHandler = `import time
def handler(event, context):
    time.sleep(event.get("sleep_ms", 0) / 1000)
    return {"callee": context.invoked_function_arn, "slept": event.get("sleep_ms", 0)}
`

func TestInvokeFromInsideAnInstance(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a, b := w.newAccount(t), w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "callee", calleeHandler)
	// boto3 takes a while to import on a small CPU share: a whole vCPU.
	a.createPy(t, "caller", callerHandler, func(in *lambda.CreateFunctionInput) {
		in.MemorySize, in.Timeout = aws.Int32(1769), aws.Int32(60)
	})
	b.createPy(t, "other", calleeHandler)

	out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("caller"), LogType: types.LogTypeTail,
		Payload: []byte(`{"target": "callee", "sleep_ms": 300}`)})
	logs := logTail(t, out)
	if out.FunctionError != nil {
		t.Fatalf("caller failed: %s\n%s", out.Payload, logs)
	}
	var v struct {
		Status   int
		Executed string
		Error    string
		Message  string
		Payload  struct {
			Callee string
			Slept  float64
		}
	}
	if err := json.Unmarshal(out.Payload, &v); err != nil {
		t.Fatalf("caller returned %s: %v", out.Payload, err)
	}
	if v.Status != 200 || v.Executed != "$LATEST" || v.Payload.Callee != a.arn("callee") || v.Payload.Slept != 300 {
		t.Errorf("boto3 invoke from inside the caller returned %s\n%s", out.Payload, logs)
	}
	// The caller pays for the wait: its billed run covers the callee's sleep.
	if d := reportDuration(t, logs); d < 300 {
		t.Errorf("the caller's REPORT Duration is %.2f ms, less than the 300 ms it waited for the callee\n%s", d, logs)
	}

	// Inside an instance the caller's account is the only one there is.
	out = a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("caller"), Payload: []byte(`{"target": "` + b.arn("other") + `"}`)})
	if err := json.Unmarshal(out.Payload, &v); err != nil || v.Error != "AccessDeniedException" {
		t.Errorf("invoking account B's function by ARN from inside A returned %s", out.Payload)
	}
	out = a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("caller"), Payload: []byte(`{"target": "other"}`)})
	if err := json.Unmarshal(out.Payload, &v); err != nil || v.Error != "ResourceNotFoundException" {
		t.Errorf("invoking a function of B by name from inside A returned %s", out.Payload)
	}
	if invs, _ := w.db.Invocations(ctx, b.id, "other", time.Time{}); len(invs) != 0 {
		t.Errorf("A's instance ran B's function %d times", len(invs))
	}
}
