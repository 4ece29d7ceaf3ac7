package lambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	lsdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"lambdalab/cloud"
	"lambdalab/store"
)

// Text the store cannot keep (a NUL, invalid UTF-8) and URL parameters
// outside Lambda's patterns are refused with Lambda's 400s, through the
// real SDK with its default retryer: one request each, where a 500 would
// be sent three times. These run on the engine the run asks for
// (storetest.Target), PostgreSQL included.

// sdkLab is the service's REST API behind an httptest server, as the
// endpoint serves it once a signature is verified, and an SDK client whose
// requests are counted.
type sdkLab struct {
	svc  *Service
	acct string
	c    *lsdk.Client
	mu   sync.Mutex
	sent []string
}

func (l *sdkLab) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.sent = append(l.sent, r.Method+" "+r.URL.RequestURI())
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (l *sdkLab) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sent
	l.sent = nil
	return out
}

func newSDKLab(t *testing.T) *sdkLab {
	t.Helper()
	s, acct := newTestService(t)
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: acct})))
	}))
	t.Cleanup(srv.Close)
	l := &sdkLab{svc: s, acct: acct}
	l.c = lsdk.New(lsdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: l}})
	return l
}

// refused checks that err is a 400 of type typ whose message holds want,
// and that the operation was sent once.
func (l *sdkLab) refused(t *testing.T, what string, err error, typ, want string) {
	t.Helper()
	sent := l.take()
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Errorf("%s: %v, want a %s", what, err, typ)
		return
	}
	if ae.ErrorCode() != typ || re.HTTPStatusCode() != 400 || !strings.Contains(ae.ErrorMessage(), want) {
		t.Errorf("%s: %d %s %q, want 400 %s with %q", what, re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), typ, want)
	}
	if len(sent) != 1 {
		t.Errorf("%s: sent %d requests (%q), want 1", what, len(sent), sent)
	}
}

var zipHello = map[string]string{"app.py": "def handler(e, c):\n    return 1\n"}

func TestDescriptionsRefuseNUL(t *testing.T) {
	ctx := context.Background()
	l := newSDKLab(t)
	c := l.c
	createPy(t, l.svc, l.acct, "fn", zipHello["app.py"])
	if _, err := l.svc.PublishVersion(ctx, l.acct, "fn", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.CreateAlias(ctx, l.acct, "fn", AliasInput{Name: "live", FunctionVersion: ptr("1"), Description: ptr("kept")}); err != nil {
		t.Fatal(err)
	}
	const nul = "a\x00b"
	const want = "Description must not contain a NUL character"

	_, err := c.CreateAlias(ctx, &lsdk.CreateAliasInput{FunctionName: aws.String("fn"), Name: aws.String("new"),
		FunctionVersion: aws.String("1"), Description: aws.String(nul)})
	l.refused(t, "CreateAlias", err, "InvalidParameterValueException", want)
	_, err = c.UpdateAlias(ctx, &lsdk.UpdateAliasInput{FunctionName: aws.String("fn"), Name: aws.String("live"), Description: aws.String(nul)})
	l.refused(t, "UpdateAlias", err, "InvalidParameterValueException", want)
	_, err = c.CreateFunction(ctx, &lsdk.CreateFunctionInput{FunctionName: aws.String("fn2"), Description: aws.String(nul),
		Runtime: types.RuntimePython313, Handler: aws.String("app.handler"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		Code: &types.FunctionCode{ZipFile: zipOf(t, zipHello)}})
	l.refused(t, "CreateFunction", err, "InvalidParameterValueException", want)
	_, err = c.UpdateFunctionConfiguration(ctx, &lsdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), Description: aws.String(nul)})
	l.refused(t, "UpdateFunctionConfiguration", err, "InvalidParameterValueException", want)
	_, err = c.PublishVersion(ctx, &lsdk.PublishVersionInput{FunctionName: aws.String("fn"), Description: aws.String(nul)})
	l.refused(t, "PublishVersion", err, "InvalidParameterValueException", want)
	_, err = c.PublishLayerVersion(ctx, &lsdk.PublishLayerVersionInput{LayerName: aws.String("lay"), Description: aws.String(nul),
		Content: &types.LayerVersionContentInput{ZipFile: zipOf(t, map[string]string{"python/x.py": ""})}})
	l.refused(t, "PublishLayerVersion", err, "InvalidParameterValueException", want)

	// Nothing changed.
	if a, err := l.svc.GetAlias(ctx, l.acct, "fn", "live"); err != nil || a.Description != "kept" {
		t.Errorf("alias live after the refusals = %+v, %v", a, err)
	}
	if _, err := l.svc.GetAlias(ctx, l.acct, "fn", "new"); err == nil {
		t.Error("alias new was created")
	}
	if _, err := l.svc.GetFunctionConfiguration(ctx, l.acct, "fn2", ""); err == nil {
		t.Error("function fn2 was created")
	}
	if vs, err := l.svc.ListVersionsByFunction(ctx, l.acct, "fn", "", 0); err != nil || len(vs.Versions) != 2 {
		t.Errorf("versions of fn = %+v, %v; want $LATEST and 1", vs, err)
	}
	if lv, err := l.svc.ListLayerVersions(ctx, l.acct, "lay"); err != nil || len(lv.LayerVersions) != 0 {
		t.Errorf("versions of layer lay = %+v, %v; want none", lv, err)
	}

	// The service's Go callers (the web console) can hand it bytes JSON
	// cannot carry: invalid UTF-8 is refused too.
	_, err = l.svc.UpdateAlias(ctx, l.acct, "fn", "live", AliasInput{Description: ptr("b\xff")})
	wantLambdaError(t, err, "InvalidParameterValueException", "Description must be valid UTF-8")
	_, err = l.svc.CreateAlias(ctx, l.acct, "fn", AliasInput{Name: "other", FunctionVersion: ptr("1"), Description: ptr("b\xff")})
	wantLambdaError(t, err, "InvalidParameterValueException", "Description must be valid UTF-8")
	// The limit is Lambda's 256 characters, not bytes.
	if _, err := l.svc.UpdateAlias(ctx, l.acct, "fn", "live", AliasInput{Description: ptr(strings.Repeat("é", 256))}); err != nil {
		t.Errorf("a description of 256 two-byte characters: %v", err)
	}
	_, err = l.svc.UpdateAlias(ctx, l.acct, "fn", "live", AliasInput{Description: ptr(strings.Repeat("é", 257))})
	wantLambdaError(t, err, "InvalidParameterValueException", "at most 256 characters")
}

func TestURLParametersFollowLambdaPatterns(t *testing.T) {
	ctx := context.Background()
	l := newSDKLab(t)
	c := l.c
	createPy(t, l.svc, l.acct, "fn", zipHello["app.py"])
	if _, err := l.svc.PublishVersion(ctx, l.acct, "fn", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	l.take()

	const qualifierPattern = "at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
	for _, q := range []string{"a\x00b", "b\xff", "has space", "v:1"} {
		fn := aws.String("fn")
		ops := []struct {
			name string
			call func() error
		}{
			{"GetFunction", func() error {
				_, err := c.GetFunction(ctx, &lsdk.GetFunctionInput{FunctionName: fn, Qualifier: aws.String(q)})
				return err
			}},
			{"Invoke", func() error {
				_, err := c.Invoke(ctx, &lsdk.InvokeInput{FunctionName: fn, Qualifier: aws.String(q), InvocationType: types.InvocationTypeDryRun})
				return err
			}},
			{"DeleteFunction", func() error {
				_, err := c.DeleteFunction(ctx, &lsdk.DeleteFunctionInput{FunctionName: fn, Qualifier: aws.String(q)})
				return err
			}},
			{"AddPermission", func() error {
				_, err := c.AddPermission(ctx, &lsdk.AddPermissionInput{FunctionName: fn, Qualifier: aws.String(q), StatementId: aws.String("s3"),
					Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
				return err
			}},
			{"GetPolicy", func() error {
				_, err := c.GetPolicy(ctx, &lsdk.GetPolicyInput{FunctionName: fn, Qualifier: aws.String(q)})
				return err
			}},
			{"PutProvisionedConcurrencyConfig", func() error {
				_, err := c.PutProvisionedConcurrencyConfig(ctx, &lsdk.PutProvisionedConcurrencyConfigInput{FunctionName: fn, Qualifier: aws.String(q),
					ProvisionedConcurrentExecutions: aws.Int32(1)})
				return err
			}},
			{"PutFunctionEventInvokeConfig", func() error {
				_, err := c.PutFunctionEventInvokeConfig(ctx, &lsdk.PutFunctionEventInvokeConfigInput{FunctionName: fn, Qualifier: aws.String(q),
					MaximumRetryAttempts: aws.Int32(1)})
				return err
			}},
		}
		for _, op := range ops {
			l.refused(t, fmt.Sprintf("%s Qualifier %q", op.name, q), op.call(), "ValidationException", qualifierPattern)
		}
	}
	long := strings.Repeat("q", 129)
	_, err := c.GetFunction(ctx, &lsdk.GetFunctionInput{FunctionName: aws.String("fn"), Qualifier: aws.String(long)})
	l.refused(t, "GetFunction Qualifier of 129 characters", err, "ValidationException", "1 validation error detected: Value '"+long+"' at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128")
	both := strings.Repeat("q", 128) + " "
	_, err = c.GetFunction(ctx, &lsdk.GetFunctionInput{FunctionName: aws.String("fn"), Qualifier: aws.String(both)})
	l.refused(t, "GetFunction Qualifier long and spaced", err, "ValidationException", "2 validation errors detected: ")
	// The function and its version are still there, and good qualifiers work.
	for _, q := range []string{"1", "$LATEST"} {
		if _, err := c.GetFunction(ctx, &lsdk.GetFunctionInput{FunctionName: aws.String("fn"), Qualifier: aws.String(q)}); err != nil {
			t.Errorf("GetFunction Qualifier %s: %v", q, err)
		}
	}
	l.take()

	const sidPattern = "at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)"
	for _, sid := range []string{"a\x00b", "b\xff", "has space"} {
		_, err := c.RemovePermission(ctx, &lsdk.RemovePermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String(sid)})
		l.refused(t, fmt.Sprintf("RemovePermission %q", sid), err, "ValidationException", sidPattern)
	}
	_, err = c.RemovePermission(ctx, &lsdk.RemovePermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String(strings.Repeat("s", 101))})
	l.refused(t, "RemovePermission of 101 characters", err, "ValidationException", "Member must have length less than or equal to 100")
	// A dot is in RemovePermission's pattern: such a statement is looked for.
	_, err = c.RemovePermission(ctx, &lsdk.RemovePermissionInput{FunctionName: aws.String("fn"), StatementId: aws.String("v1.0")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("RemovePermission v1.0 = %v, want ResourceNotFoundException", err)
	}
	l.take()

	const layerPattern = "at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
	for _, name := range []string{"a\x00b", "b\xff", "lay.er"} {
		_, err := c.GetLayerVersion(ctx, &lsdk.GetLayerVersionInput{LayerName: aws.String(name), VersionNumber: aws.Int64(1)})
		l.refused(t, fmt.Sprintf("GetLayerVersion %q", name), err, "InvalidParameterValueException", layerPattern)
		_, err = c.ListLayerVersions(ctx, &lsdk.ListLayerVersionsInput{LayerName: aws.String(name)})
		l.refused(t, fmt.Sprintf("ListLayerVersions %q", name), err, "InvalidParameterValueException", layerPattern)
		_, err = c.DeleteLayerVersion(ctx, &lsdk.DeleteLayerVersionInput{LayerName: aws.String(name), VersionNumber: aws.Int64(1)})
		l.refused(t, fmt.Sprintf("DeleteLayerVersion %q", name), err, "InvalidParameterValueException", layerPattern)
	}
	_, err = c.ListLayerVersions(ctx, &lsdk.ListLayerVersionsInput{LayerName: aws.String(strings.Repeat("l", 141))})
	l.refused(t, "ListLayerVersions of 141 characters", err, "InvalidParameterValueException", "Member must have length less than or equal to 140")
	// A layer's ARN is a LayerName too.
	arn := "arn:aws:lambda:us-east-1:" + l.acct + ":layer:lay"
	if _, err := c.ListLayerVersions(ctx, &lsdk.ListLayerVersionsInput{LayerName: aws.String(arn)}); err != nil {
		t.Errorf("ListLayerVersions %s: %v", arn, err)
	}
}

// TestStoreRefusalIsA400: should input reach the store that it refuses as
// ErrInvalid (a check missing above it), the API answers 400, not 500.
func TestStoreRefusalIsA400(t *testing.T) {
	s, _ := newTestService(t)
	h := s.Handler().(*apiHandler)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("PUT", "/2015-03-31/functions/fn/aliases/live", nil)
	h.fail(w, r, fmt.Errorf("update alias live of fn: %w: alias description %q contains a NUL character", store.ErrInvalid, "a\x00b"))
	if w.Code != 400 || w.Header().Get("X-Amzn-ErrorType") != "InvalidParameterValueException" ||
		!strings.Contains(w.Body.String(), `lambdalab cannot store a value of this request: alias description`) {
		t.Errorf("fail(ErrInvalid) = %d %s %s", w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body)
	}
}
