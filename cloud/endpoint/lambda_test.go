package endpoint_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// envHandler reports what the function sees of its configuration.
const envHandler = `import os
def handler(event, context):
    return {"greeting": os.environ.get("GREETING"), "memory": context.memory_limit_in_mb,
            "version": context.function_version, "arn": context.invoked_function_arn,
            "code": "one"}
`

func sha256b64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestFunctionLifecycle(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	code := pyZip(t, envHandler)
	created, err := a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("life"), Runtime: types.RuntimePython313, Handler: aws.String("app.handler"),
		Role: a.role(), Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(256), Timeout: aws.Int32(10),
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hello"}},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if got, want := aws.ToString(created.CodeSha256), sha256b64(code); got != want {
		t.Errorf("CreateFunction CodeSha256 = %s, want %s", got, want)
	}
	if err := lambda.NewFunctionActiveV2Waiter(a.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life")}, 30*time.Second); err != nil {
		t.Fatalf("FunctionActiveV2 waiter: %v", err)
	}

	got, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	c := got.Configuration
	checks := []struct {
		field     string
		got, want any
	}{
		{"FunctionArn", aws.ToString(c.FunctionArn), a.arn("life")},
		{"FunctionName", aws.ToString(c.FunctionName), "life"},
		{"CodeSha256", aws.ToString(c.CodeSha256), sha256b64(code)},
		{"CodeSize", c.CodeSize, int64(len(code))},
		{"State", c.State, types.StateActive},
		{"LastUpdateStatus", c.LastUpdateStatus, types.LastUpdateStatusSuccessful},
		{"Architectures", fmt.Sprint(c.Architectures), "[x86_64]"},
		{"EphemeralStorage", aws.ToInt32(c.EphemeralStorage.Size), int32(512)},
		{"MemorySize", aws.ToInt32(c.MemorySize), int32(256)},
		{"Timeout", aws.ToInt32(c.Timeout), int32(10)},
		{"Runtime", c.Runtime, types.RuntimePython313},
		{"Handler", aws.ToString(c.Handler), "app.handler"},
		{"Role", aws.ToString(c.Role), aws.ToString(a.role())},
		{"Version", aws.ToString(c.Version), "$LATEST"},
		{"PackageType", c.PackageType, types.PackageTypeZip},
		{"Environment", fmt.Sprint(c.Environment.Variables), "map[GREETING:hello]"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("GetFunction Configuration.%s = %v, want %v", ck.field, ck.got, ck.want)
		}
	}
	if c.RevisionId == nil || *c.RevisionId == "" {
		t.Errorf("GetFunction Configuration.RevisionId is empty")
	}
	// Lambda's timestamp form, for example 2026-12-01T09:30:00.000+0000.
	if mod, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(c.LastModified)); err != nil {
		t.Errorf("LastModified %q is not in Lambda's format: %v", aws.ToString(c.LastModified), err)
	} else if d := time.Since(mod); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("LastModified %s is %v away from now", mod, d)
	}

	// The code link is a plain HTTP GET, like the presigned S3 URL Lambda gives.
	if got.Code == nil || aws.ToString(got.Code.Location) == "" {
		t.Fatalf("GetFunction gave no Code.Location")
	}
	resp, err := http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatalf("download code: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, code) {
		t.Errorf("Code.Location gave HTTP %d and %d bytes (%.60q), want 200 and the %d bytes uploaded", resp.StatusCode, len(body), body, len(code))
	}

	// The configuration reaches the handler.
	v := a.call(t, "life", `{}`)
	if v["greeting"] != "hello" || v["memory"] != "256" && v["memory"] != float64(256) {
		t.Errorf("handler saw greeting %v and memory %v, want hello and 256", v["greeting"], v["memory"])
	}

	for _, q := range []*string{nil, aws.String("$LATEST")} {
		gc, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("life"), Qualifier: q})
		if err != nil {
			t.Fatalf("GetFunctionConfiguration(Qualifier %v): %v", aws.ToString(q), err)
		}
		if aws.ToString(gc.Version) != "$LATEST" || aws.ToString(gc.CodeSha256) != sha256b64(code) {
			t.Errorf("GetFunctionConfiguration(Qualifier %q) = version %s sha %s, want $LATEST %s", aws.ToString(q), aws.ToString(gc.Version), aws.ToString(gc.CodeSha256), sha256b64(code))
		}
	}
	if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("life")}); err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	gc, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration(Qualifier 1): %v", err)
	}
	if aws.ToString(gc.Version) != "1" || aws.ToString(gc.FunctionArn) != a.arn("life")+":1" {
		t.Errorf("GetFunctionConfiguration(Qualifier 1) = version %s arn %s, want 1 and %s:1", aws.ToString(gc.Version), aws.ToString(gc.FunctionArn), a.arn("life"))
	}
	_, err = a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("life"), Qualifier: aws.String("9")})
	apiError(t, err, "ResourceNotFoundException", 404)

	// UpdateFunctionCode: a new hash; a stale revision is refused.
	stale := aws.ToString(c.RevisionId)
	code2 := pyZip(t, strings.Replace(envHandler, `"one"`, `"two"`, 1))
	up, err := a.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("life"), ZipFile: code2, RevisionId: aws.String(stale)})
	if err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	if aws.ToString(up.CodeSha256) != sha256b64(code2) || aws.ToString(up.RevisionId) == stale {
		t.Errorf("UpdateFunctionCode = sha %s revision %s, want %s and a new revision", aws.ToString(up.CodeSha256), aws.ToString(up.RevisionId), sha256b64(code2))
	}
	_, err = a.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("life"), ZipFile: code, RevisionId: aws.String(stale)})
	apiError(t, err, "PreconditionFailedException", 412)
	if err := lambda.NewFunctionUpdatedV2Waiter(a.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life")}, 30*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter: %v", err)
	}
	if v := a.call(t, "life", `{}`); v["code"] != "two" {
		t.Errorf("after UpdateFunctionCode the handler returned code %v, want two", v["code"])
	}

	// UpdateFunctionConfiguration.
	uc, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("life"),
		MemorySize: aws.Int32(384), Timeout: aws.Int32(20), Environment: &types.Environment{Variables: map[string]string{"GREETING": "bonjour"}}})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	if aws.ToInt32(uc.MemorySize) != 384 || aws.ToInt32(uc.Timeout) != 20 || uc.Environment.Variables["GREETING"] != "bonjour" {
		t.Errorf("UpdateFunctionConfiguration = memory %d timeout %d env %v", aws.ToInt32(uc.MemorySize), aws.ToInt32(uc.Timeout), uc.Environment.Variables)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(a.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("life")}, 30*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter: %v", err)
	}
	if v := a.call(t, "life", `{}`); v["greeting"] != "bonjour" || v["memory"] != "384" && v["memory"] != float64(384) {
		t.Errorf("after UpdateFunctionConfiguration the handler saw greeting %v memory %v, want bonjour 384", v["greeting"], v["memory"])
	}
	big := strings.Repeat("x", 4*1024)
	refused := []struct {
		name string
		in   lambda.UpdateFunctionConfigurationInput
	}{
		{"memory 64", lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(64)}},
		{"env over 4 KB", lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"BIG": big}}}},
		{"reserved env key", lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1"}}}},
		{"timeout 901", lambda.UpdateFunctionConfigurationInput{Timeout: aws.Int32(901)}},
	}
	for _, tt := range refused {
		in := tt.in
		in.FunctionName = aws.String("life")
		_, err := a.c.UpdateFunctionConfiguration(ctx, &in)
		msg := apiError(t, err, "InvalidParameterValueException", 400)
		t.Logf("%s: %s", tt.name, msg)
	}
	after, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(after.MemorySize) != 384 || after.Environment.Variables["GREETING"] != "bonjour" || aws.ToString(after.RevisionId) != aws.ToString(uc.RevisionId) {
		t.Errorf("refused updates changed the function: memory %d env %v revision %s (was %s)",
			aws.ToInt32(after.MemorySize), after.Environment.Variables, aws.ToString(after.RevisionId), aws.ToString(uc.RevisionId))
	}

	_, err = a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("life"), Runtime: types.RuntimePython313,
		Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: code}})
	apiError(t, err, "ResourceConflictException", 409)
	_, err = a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nope")})
	if msg := apiError(t, err, "ResourceNotFoundException", 404); !strings.Contains(msg, a.arn("nope")) {
		t.Errorf("GetFunction of a missing function said %q, want the ARN %s in it", msg, a.arn("nope"))
	}
}

func TestListFunctionsPages(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("list-%d", i)
		want = append(want, name)
		a.createPy(t, name, "def handler(e, c):\n    return 1\n")
	}
	var got []string
	var marker *string
	pages := 0
	for {
		out, err := a.c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(3), Marker: marker})
		if err != nil {
			t.Fatalf("ListFunctions page %d: %v", pages+1, err)
		}
		pages++
		if len(out.Functions) > 3 {
			t.Errorf("page %d has %d functions, MaxItems was 3", pages, len(out.Functions))
		}
		for _, f := range out.Functions {
			got = append(got, aws.ToString(f.FunctionName))
		}
		if out.NextMarker == nil || *out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
		if pages > 5 {
			t.Fatal("ListFunctions never stops giving a NextMarker")
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("ListFunctions in pages of 3 gave %d pages %v, want 3 pages %v", pages, got, want)
	}
	// The SDK's paginator walks the same pages.
	p := lambda.NewListFunctionsPaginator(a.c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(3)})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("paginator: %v", err)
		}
		n += len(out.Functions)
	}
	if n != 7 {
		t.Errorf("the SDK paginator saw %d functions, want 7", n)
	}
	// Lambda's defaults for what CreateFunction was not given.
	d, err := a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("zz-defaults"), Runtime: types.RuntimePython313,
		Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: pyZip(t, "x = 1\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(d.MemorySize) != 128 || aws.ToInt32(d.Timeout) != 3 || aws.ToInt32(d.EphemeralStorage.Size) != 512 ||
		d.Architectures[0] != types.ArchitectureX8664 || d.TracingConfig.Mode != types.TracingModePassThrough {
		t.Errorf("defaults: memory %d timeout %d /tmp %d arch %v tracing %s", aws.ToInt32(d.MemorySize), aws.ToInt32(d.Timeout),
			aws.ToInt32(d.EphemeralStorage.Size), d.Architectures, d.TracingConfig.Mode)
	}
}

func TestDeleteFunction(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	name := aws.String("del")
	a.createPy(t, "del", "def handler(e, c):\n    return 1\n")
	for i, g := range []string{"a", "b"} {
		if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: name,
			Environment: &types.Environment{Variables: map[string]string{"GREETING": g}}}); err != nil {
			t.Fatal(err)
		}
		v, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name})
		if err != nil || aws.ToString(v.Version) != fmt.Sprint(i+1) {
			t.Fatalf("PublishVersion = %v, %v; want version %d", v, err, i+1)
		}
	}
	if _, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name, Qualifier: aws.String("1")}); err != nil {
		t.Fatalf("DeleteFunction(Qualifier 1): %v", err)
	}
	_, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name, Qualifier: aws.String("1")})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name, Qualifier: aws.String("$LATEST")})
	apiError(t, err, "InvalidParameterValueException", 400)
	_, err = a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name, Qualifier: aws.String("2")})
	if msg := apiError(t, err, "ResourceConflictException", 409); !strings.Contains(msg, "live") {
		t.Errorf("deleting a version an alias uses said %q, want the alias named", msg)
	}
	vs, err := a.c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, v := range vs.Versions {
		versions = append(versions, aws.ToString(v.Version))
	}
	if !slices.Equal(versions, []string{"$LATEST", "2"}) {
		t.Errorf("versions after deleting 1 = %v, want [$LATEST 2]", versions)
	}
	if _, err := a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name}); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	_, err = a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = a.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: aws.String("live")})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)
}

func TestVersions(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	name := aws.String("ver")
	code1 := pyZip(t, envHandler)
	a.createPy(t, "ver", envHandler)
	v1, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, Description: aws.String("first")})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != a.arn("ver")+":1" || aws.ToString(v1.CodeSha256) != sha256b64(code1) {
		t.Errorf("first PublishVersion = version %s arn %s sha %s", aws.ToString(v1.Version), aws.ToString(v1.FunctionArn), aws.ToString(v1.CodeSha256))
	}
	again, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name})
	if err != nil || aws.ToString(again.Version) != "1" {
		t.Errorf("publishing an unchanged $LATEST = %v, %v; want version 1 again", aws.ToString(again.Version), err)
	}
	code2 := pyZip(t, strings.Replace(envHandler, `"one"`, `"two"`, 1))
	up, err := a.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: code2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: aws.String(sha256b64(code1))})
	if msg := apiError(t, err, "InvalidParameterValueException", 400); !strings.Contains(msg, "CodeSHA256") {
		t.Errorf("publish with a stale CodeSha256 said %q", msg)
	}
	_, err = a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, RevisionId: aws.String("00000000-0000-0000-0000-000000000000")})
	apiError(t, err, "PreconditionFailedException", 412)
	v2, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: up.CodeSha256, RevisionId: up.RevisionId})
	if err != nil || aws.ToString(v2.Version) != "2" {
		t.Fatalf("PublishVersion after a code change = %v, %v; want 2", aws.ToString(v2.Version), err)
	}
	// A configuration change alone is a new version too.
	if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: name,
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "three"}}}); err != nil {
		t.Fatal(err)
	}
	v3, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name})
	if err != nil || aws.ToString(v3.Version) != "3" {
		t.Fatalf("PublishVersion after a configuration change = %v, %v; want 3", aws.ToString(v3.Version), err)
	}
	list, err := a.c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range list.Versions {
		got = append(got, aws.ToString(v.Version)+"="+aws.ToString(v.CodeSha256)[:6])
	}
	want := []string{"$LATEST=" + sha256b64(code2)[:6], "1=" + sha256b64(code1)[:6], "2=" + sha256b64(code2)[:6], "3=" + sha256b64(code2)[:6]}
	if !slices.Equal(got, want) {
		t.Errorf("ListVersionsByFunction = %v, want %v", got, want)
	}
	// Published versions are frozen: version 1 still runs the first code.
	out := a.invoke(t, &lambda.InvokeInput{FunctionName: name, Qualifier: aws.String("1")})
	if v := object(t, out.Payload); v["code"] != "one" || v["version"] != "1" || aws.ToString(out.ExecutedVersion) != "1" {
		t.Errorf("version 1 ran code %v as version %v (executed %s), want one, 1", v["code"], v["version"], aws.ToString(out.ExecutedVersion))
	}
	if v := a.call(t, "ver", `{}`); v["code"] != "two" || v["greeting"] != "three" {
		t.Errorf("$LATEST ran code %v greeting %v, want two, three", v["code"], v["greeting"])
	}
}

func TestAliases(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	name := aws.String("ali")
	a.createPy(t, "ali", envHandler)
	for _, g := range []string{"one", "two", "three"} {
		if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: name,
			Environment: &types.Environment{Variables: map[string]string{"GREETING": g}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name}); err != nil {
			t.Fatal(err)
		}
	}
	created, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"),
		FunctionVersion: aws.String("1"), Description: aws.String("production")})
	if err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	aliasARN := a.arn("ali") + ":live"
	if aws.ToString(created.AliasArn) != aliasARN || aws.ToString(created.FunctionVersion) != "1" || aws.ToString(created.RevisionId) == "" {
		t.Errorf("CreateAlias = arn %s version %s revision %q", aws.ToString(created.AliasArn), aws.ToString(created.FunctionVersion), aws.ToString(created.RevisionId))
	}
	_, err = a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("1")})
	apiError(t, err, "ResourceConflictException", 409)
	_, err = a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("gone"), FunctionVersion: aws.String("9")})
	apiError(t, err, "ResourceNotFoundException", 404)

	got, err := a.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: aws.String("live")})
	if err != nil || aws.ToString(got.Description) != "production" || aws.ToString(got.FunctionVersion) != "1" {
		t.Errorf("GetAlias = %+v, %v", got, err)
	}

	gc, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: name, Qualifier: aws.String("live")})
	if err != nil || aws.ToString(gc.Version) != "1" || aws.ToString(gc.FunctionArn) != aliasARN {
		t.Errorf("GetFunctionConfiguration(Qualifier live) = version %s arn %s, %v; want 1 and %s", aws.ToString(gc.Version), aws.ToString(gc.FunctionArn), err, aliasARN)
	}

	// Invoking an alias: the executed version is the alias's, and the
	// handler sees the version but keeps the alias ARN.
	out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("ali:live")})
	v := object(t, out.Payload)
	if aws.ToString(out.ExecutedVersion) != "1" || v["version"] != "1" || v["arn"] != aliasARN || v["greeting"] != "one" {
		t.Errorf("invoking ali:live: executed %s, handler saw version %v arn %v greeting %v; want 1, 1, %s, one",
			aws.ToString(out.ExecutedVersion), v["version"], v["arn"], v["greeting"], aliasARN)
	}

	// Weighted routing: 30% to version 2.
	upd, err := a.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.3}}})
	if err != nil {
		t.Fatalf("UpdateAlias with routing: %v", err)
	}
	if upd.RoutingConfig == nil || upd.RoutingConfig.AdditionalVersionWeights["2"] != 0.3 || aws.ToString(upd.RevisionId) == aws.ToString(created.RevisionId) {
		t.Errorf("UpdateAlias = routing %+v revision %s", upd.RoutingConfig, aws.ToString(upd.RevisionId))
	}
	_, err = a.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("3"),
		RevisionId: created.RevisionId})
	apiError(t, err, "PreconditionFailedException", 412)
	counts := map[string]int{}
	const n = 200
	for range n {
		out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(aliasARN)})
		v := object(t, out.Payload)
		ev := aws.ToString(out.ExecutedVersion)
		if v["version"] != ev || v["arn"] != aliasARN {
			t.Fatalf("executed version %s but the handler saw version %v, arn %v", ev, v["version"], v["arn"])
		}
		counts[ev]++
	}
	if counts["1"]+counts["2"] != n || counts["2"] < n*15/100 || counts["2"] > n*45/100 {
		t.Errorf("a 0.3 weight for version 2 routed %v of %d invocations", counts, n)
	}

	_, err = a.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.1, "3": 0.1}}})
	if msg := apiError(t, err, "InvalidParameterValueException", 400); msg != "Number of items in AdditionalVersionWeights cannot be greater than 1" {
		t.Errorf("two extra versions: %q", msg)
	}
	_, err = a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("edge"), FunctionVersion: aws.String("$LATEST"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 0.5}}})
	if msg := apiError(t, err, "InvalidParameterValueException", 400); !strings.Contains(msg, "$LATEST is not supported") {
		t.Errorf("$LATEST in a weighted alias: %q", msg)
	}
	if _, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("beta"), FunctionVersion: aws.String("3")}); err != nil {
		t.Fatal(err)
	}
	list, err := a.c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, al := range list.Aliases {
		names = append(names, aws.ToString(al.Name)+"->"+aws.ToString(al.FunctionVersion))
	}
	if !slices.Equal(names, []string{"beta->3", "live->1"}) {
		t.Errorf("ListAliases = %v, want [beta->3 live->1]", names)
	}
	if _, err := a.c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: name, Name: aws.String("beta")}); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	_, err = a.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: aws.String("beta")})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ali:beta")})
	apiError(t, err, "ResourceNotFoundException", 404)
}
