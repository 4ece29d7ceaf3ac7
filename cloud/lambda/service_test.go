package lambda

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"lambdalab/cloud/codepkg"
	"lambdalab/store"
	"lambdalab/store/storetest"
)

// These tests need no Docker: they hold the control plane's rules, with a
// real database (storetest.Target) and a real package store.

func newTestService(t *testing.T) (*Service, string) {
	t.Helper()
	ctx := context.Background()
	db := openTestDB(t, storetest.Target(t, "lambdalab.db"))
	pkgs, err := codepkg.Open(filepath.Join(t.TempDir(), "packages"))
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{DB: db, Packages: pkgs}), acct.ID
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

func createPy(t *testing.T, s *Service, acct, name, src string) FunctionConfiguration {
	t.Helper()
	out, err := s.CreateFunction(context.Background(), acct, CreateFunctionInput{FunctionName: name,
		Code:        FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": src})},
		ConfigInput: ConfigInput{Runtime: ptr("python3.13"), Handler: ptr("app.handler"), Role: ptr("arn:aws:iam::123456789012:role/r")}})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	return out
}

func wantLambdaError(t *testing.T, err error, typ, contains string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error = %v, want %s", err, typ)
	}
	if e.Type != typ || !strings.Contains(e.Message, contains) {
		t.Fatalf("error = %s %q, want %s containing %q", e.Type, e.Message, typ, contains)
	}
}

func TestParseFunctionRef(t *testing.T) {
	tests := []struct {
		in, qualifier string
		want          functionRef
		bad           bool
	}{
		{in: "fn", want: functionRef{Name: "fn"}},
		{in: "fn:prod", want: functionRef{Name: "fn", Qualifier: "prod"}},
		{in: "fn:$LATEST", want: functionRef{Name: "fn", Qualifier: "$LATEST"}},
		{in: "fn", qualifier: "3", want: functionRef{Name: "fn", Qualifier: "3"}},
		{in: "123456789012:function:fn", want: functionRef{Account: "123456789012", Name: "fn"}},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:fn:7", want: functionRef{Account: "123456789012", Name: "fn", Qualifier: "7"}},
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:fn", bad: true},
		{in: "fn:prod", qualifier: "dev", bad: true},
		{in: "fn:prod", qualifier: "prod", want: functionRef{Name: "fn", Qualifier: "prod"}},
		{in: "bad name", bad: true},
		{in: "", bad: true},
		{in: strings.Repeat("a", 65), bad: true},
	}
	for _, tt := range tests {
		got, err := parseFunctionRef(tt.in, tt.qualifier)
		if tt.bad {
			if err == nil {
				t.Errorf("parseFunctionRef(%q, %q) = %+v, want an error", tt.in, tt.qualifier, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseFunctionRef(%q, %q) = %+v, %v; want %+v", tt.in, tt.qualifier, got, err, tt.want)
		}
	}
}

func TestAliasRules(t *testing.T) {
	tests := []struct {
		name string
		in   AliasInput
		want string // substring of the error; "" = accepted
	}{
		{"plain", AliasInput{FunctionVersion: ptr("1")}, ""},
		{"latest", AliasInput{FunctionVersion: ptr("$LATEST")}, ""},
		{"weighted", AliasInput{FunctionVersion: ptr("1"), RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.1}}}, ""},
		{"two extra", AliasInput{FunctionVersion: ptr("1"), RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.1, "3": 0.1}}}, "cannot be greater than 1"},
		{"latest weighted", AliasInput{FunctionVersion: ptr("$LATEST"), RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.1}}}, "$LATEST is not supported"},
		{"same version", AliasInput{FunctionVersion: ptr("2"), RoutingConfig: &RoutingConfig{map[string]float64{"2": 0.1}}}, "already included in routing configuration"},
		{"weight above 1", AliasInput{FunctionVersion: ptr("1"), RoutingConfig: &RoutingConfig{map[string]float64{"2": 1.5}}}, "less than or equal to 1.0"},
		{"bad version", AliasInput{FunctionVersion: ptr("prod")}, "functionVersion"},
	}
	for _, tt := range tests {
		var a store.LambdaAlias
		err := applyAlias(&a, tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestPickVersionFollowsWeight(t *testing.T) {
	a := store.LambdaAlias{Version: "1", AdditionalVersion: "2", AdditionalWeight: 0.25}
	draws := []float64{0.1, 0.24, 0.25, 0.9}
	want := []string{"2", "2", "1", "1"}
	for i, d := range draws {
		if got := pickVersion(a, func() float64 { return d }); got != want[i] {
			t.Errorf("pickVersion with draw %v = %s, want %s", d, got, want[i])
		}
	}
	if got := pickVersion(store.LambdaAlias{Version: "3"}, func() float64 { return 0 }); got != "3" {
		t.Errorf("unweighted alias picked %s, want 3", got)
	}
}

func TestPublishIsNoOpWithoutChange(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	createPy(t, s, acct, "fn", "def handler(e, c): return 1")
	v1, err := s.PublishVersion(ctx, acct, "fn", PublishVersionInput{})
	if err != nil || v1.Version != "1" {
		t.Fatalf("first publish = %q, %v; want 1", v1.Version, err)
	}
	again, err := s.PublishVersion(ctx, acct, "fn", PublishVersionInput{})
	if err != nil || again.Version != "1" {
		t.Fatalf("unchanged publish = %q, %v; want 1 again", again.Version, err)
	}
	if _, err := s.UpdateFunctionConfiguration(ctx, acct, "fn", ConfigInput{MemorySize: ptr(256)}); err != nil {
		t.Fatal(err)
	}
	v2, err := s.PublishVersion(ctx, acct, "fn", PublishVersionInput{})
	if err != nil || v2.Version != "2" || v2.MemorySize != 256 {
		t.Fatalf("publish after a change = %q (%d MB), %v; want 2 with 256 MB", v2.Version, v2.MemorySize, err)
	}
	_, err = s.PublishVersion(ctx, acct, "fn", PublishVersionInput{CodeSha256: "AAAA"})
	wantLambdaError(t, err, "InvalidParameterValueException", "CodeSHA256")
	_, err = s.PublishVersion(ctx, acct, "fn", PublishVersionInput{RevisionID: "stale"})
	wantLambdaError(t, err, "PreconditionFailedException", "Revision Id")
	// Versions are frozen: $LATEST changes, version 1 does not.
	if _, err := s.UpdateFunctionConfiguration(ctx, acct, "fn", ConfigInput{Timeout: ptr(30)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetFunctionConfiguration(ctx, acct, "fn", "1")
	if err != nil || got.Timeout != 3 || got.MemorySize != 128 {
		t.Fatalf("version 1 = %d s, %d MB, %v; want it frozen at 3 s, 128 MB", got.Timeout, got.MemorySize, err)
	}
}

func TestRefusedCodeLeavesFunctionAsItWas(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	before := createPy(t, s, acct, "fn", "def handler(e, c): return 1")
	bad := [][]byte{[]byte("not a zip at all"), zipOf(t, map[string]string{"../escape.py": "x"})}
	for _, z := range bad {
		_, err := s.UpdateFunctionCode(ctx, acct, "fn", UpdateCodeInput{ZipFile: z})
		wantLambdaError(t, err, "InvalidParameterValueException", "")
	}
	after, err := s.GetFunctionConfiguration(ctx, acct, "fn", "")
	if err != nil {
		t.Fatal(err)
	}
	if after.CodeSha256 != before.CodeSha256 || after.RevisionID != before.RevisionID {
		t.Errorf("a refused update changed the function: %s/%s → %s/%s", before.CodeSha256, before.RevisionID, after.CodeSha256, after.RevisionID)
	}
}

func TestOtherAccountsAreInvisible(t *testing.T) {
	ctx := context.Background()
	s, a := newTestService(t)
	b, _, err := s.db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fn := createPy(t, s, a, "secret", "def handler(e, c): return 1")
	_, err = s.GetFunctionConfiguration(ctx, b.ID, "secret", "")
	wantLambdaError(t, err, "ResourceNotFoundException", "Function not found")
	_, err = s.GetFunctionConfiguration(ctx, b.ID, fn.FunctionArn, "")
	wantLambdaError(t, err, "AccessDeniedException", "not authorized")
	err = s.DeleteFunction(ctx, b.ID, fn.FunctionArn, "")
	wantLambdaError(t, err, "AccessDeniedException", "")
	_, err = s.AddPermission(ctx, b.ID, fn.FunctionArn, "", AddPermissionInput{StatementID: "x", Action: "lambda:InvokeFunction", Principal: "*"})
	wantLambdaError(t, err, "AccessDeniedException", "")
	list, err := s.ListFunctions(ctx, b.ID, "", 0)
	if err != nil || len(list.Functions) != 0 {
		t.Errorf("account B lists %d functions (%v), want none", len(list.Functions), err)
	}
	if _, err := s.GetFunctionConfiguration(ctx, a, "secret", ""); err != nil {
		t.Errorf("A's function after B's attempts: %v", err)
	}
}

func TestServiceAllowedFollowsPolicy(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	fn := createPy(t, s, acct, "fn", "def handler(e, c): return 1")
	if _, err := s.PublishVersion(ctx, acct, "fn", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, acct, "fn", AliasInput{Name: "live", FunctionVersion: ptr("1")}); err != nil {
		t.Fatal(err)
	}
	bucket := "arn:aws:s3:::photos"
	allowed := func(arn, source, sourceAccount string) bool {
		ok, err := s.ServiceAllowed(ctx, acct, arn, "s3.amazonaws.com", source, sourceAccount)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if allowed(fn.FunctionArn, bucket, acct) {
		t.Fatal("S3 may invoke a function with no policy")
	}
	if _, err := s.AddPermission(ctx, acct, "fn", "", AddPermissionInput{StatementID: "s3", Action: "lambda:InvokeFunction",
		Principal: "s3.amazonaws.com", SourceArn: bucket, SourceAccount: acct}); err != nil {
		t.Fatal(err)
	}
	if !allowed(fn.FunctionArn, bucket, acct) {
		t.Error("S3 may not invoke despite a matching statement")
	}
	if allowed(fn.FunctionArn, "arn:aws:s3:::other", acct) {
		t.Error("a statement for one bucket let another bucket invoke")
	}
	if allowed(fn.FunctionArn, bucket, "999999999999") {
		t.Error("a statement for one source account let another invoke")
	}
	if allowed(fn.FunctionArn+":live", bucket, acct) {
		t.Error("a statement on the unqualified function let S3 invoke the alias; Lambda scopes it to the ARN named")
	}
	_, err := s.AddPermission(ctx, acct, "fn", "", AddPermissionInput{StatementID: "s3", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com"})
	wantLambdaError(t, err, "ResourceConflictException", "already exists")
	if err := s.RemovePermission(ctx, acct, "fn", "", "s3"); err != nil {
		t.Fatal(err)
	}
	if allowed(fn.FunctionArn, bucket, acct) {
		t.Error("S3 may still invoke after RemovePermission")
	}
	_, err = s.GetPolicy(ctx, acct, "fn", "")
	wantLambdaError(t, err, "ResourceNotFoundException", "")
}

func TestConfigurationLimits(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	createPy(t, s, acct, "fn", "def handler(e, c): return 1")
	big := map[string]string{"BIG": strings.Repeat("x", 4100)}
	tests := []struct {
		name string
		in   ConfigInput
		want string
	}{
		{"memory too small", ConfigInput{MemorySize: ptr(64)}, "MemorySize"},
		{"memory too large", ConfigInput{MemorySize: ptr(10241)}, "MemorySize"},
		{"timeout", ConfigInput{Timeout: ptr(901)}, "Timeout"},
		{"env size", ConfigInput{Environment: &Environment{Variables: big}}, "4KB"},
		{"reserved env", ConfigInput{Environment: &Environment{Variables: map[string]string{"AWS_REGION": "x"}}}, "reserved keys"},
		{"six layers", ConfigInput{Layers: &[]string{"a", "b", "c", "d", "e", "f"}}, "more than 5 layers"},
		{"unknown layer", ConfigInput{Layers: &[]string{"arn:aws:lambda:us-east-1:" + acct + ":layer:nope:1"}}, "does not exist"},
		{"tracing", ConfigInput{TracingConfig: &TracingConfig{Mode: "Sometimes"}}, "tracingConfig.mode"},
	}
	for _, tt := range tests {
		_, err := s.UpdateFunctionConfiguration(ctx, acct, "fn", tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		var le *Error
		if err != nil && !errors.As(err, &le) {
			t.Errorf("%s: %v is not a Lambda refusal", tt.name, err)
		}
	}
	got, err := s.GetFunctionConfiguration(ctx, acct, "fn", "")
	if err != nil || got.MemorySize != 128 || got.Environment != nil {
		t.Errorf("refused updates changed the function: %+v, %v", got, err)
	}
}

func TestListFunctionsAllVersions(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	createPy(t, s, acct, "a", "def handler(e, c): return 1")
	createPy(t, s, acct, "b", "def handler(e, c): return 2")
	for _, mem := range []int{256, 512} {
		if _, err := s.UpdateFunctionConfiguration(ctx, acct, "a", ConfigInput{MemorySize: ptr(mem)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishVersion(ctx, acct, "a", PublishVersionInput{}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.ListFunctionsAllVersions(ctx, acct, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range out.Functions {
		got = append(got, f.FunctionName+":"+f.Version)
	}
	if want := "a:$LATEST a:1 a:2 b:$LATEST"; strings.Join(got, " ") != want {
		t.Errorf("ListFunctions FunctionVersion=ALL = %v, want %s", got, want)
	}
}

// TestAddPermissionKeepsBothStringEquals: a statement with a source account
// and an organization keeps both conditions; the organization once replaced
// the source account, which widened the grant to any account's resource.
func TestAddPermissionKeepsBothStringEquals(t *testing.T) {
	ctx := context.Background()
	s, acct := newTestService(t)
	createPy(t, s, acct, "fn", "def handler(e, c): return 1")
	if _, err := s.AddPermission(ctx, acct, "fn", "", AddPermissionInput{StatementID: "org", Action: "lambda:InvokeFunction",
		Principal: "s3.amazonaws.com", SourceAccount: acct, PrincipalOrgID: "o-a1b2c3d4e5"}); err != nil {
		t.Fatal(err)
	}
	pol, err := s.GetPolicy(ctx, acct, "fn", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"AWS:SourceAccount":"` + acct + `"`, `"aws:PrincipalOrgID":"o-a1b2c3d4e5"`} {
		if !strings.Contains(pol.Policy, want) {
			t.Errorf("policy %s lacks %s", pol.Policy, want)
		}
	}
}

// TestInvokeBeforeTheEngine: while the sandbox starts an invoke hears to
// try again; once the sandbox is known not to start, it hears why.
func TestInvokeBeforeTheEngine(t *testing.T) {
	s, acct := newTestService(t)
	createPy(t, s, acct, "early", "def handler(e, c):\n    return 1\n")
	_, err := s.Invoke(context.Background(), acct, InvokeInput{FunctionName: "early"})
	wantLambdaError(t, err, "ServiceException", "sandbox is starting; try again")
	s.NoEngine("its sandbox is off")
	_, err = s.Invoke(context.Background(), acct, InvokeInput{FunctionName: "early"})
	wantLambdaError(t, err, "ServiceException", "cannot run functions: its sandbox is off")
}
