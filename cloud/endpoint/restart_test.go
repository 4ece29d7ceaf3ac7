package endpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Everything a learner configured survives a restart of lambdalab on the
// same data: the next service and engine restore it.
func TestRestartKeepsEverything(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	dir := t.TempDir()
	w1, err := openWorld(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			w1.close()
		}
	}()
	a := w1.newAccount(t)
	ctx := context.Background()
	layer, layerZip := a.publishLayer(t, "lib", map[string]string{"python/mylib.py": "def hello():\n    return 'from the layer'\n"})
	const src = `import mylib
def handler(event, context):
    return {"hello": mylib.hello(), "version": context.function_version}
`
	a.createPy(t, "keep", src, func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(layer.LayerVersionArn)} })
	a.createPy(t, "stopped", echoHandler)
	name := aws.String("keep")
	if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: name, StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::in")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: name, ReservedConcurrentExecutions: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("stopped"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1"),
		ProvisionedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: name, MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if v := a.call(t, "keep:live", `{}`); v["hello"] != "from the layer" {
		t.Fatalf("before the restart keep:live returned %v", v)
	}
	before, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}

	w1.close()
	closed = true
	w2 := newWorld(t, dir, 0)
	c := w2.client(a.key, a.secret) // the same key pair, from the database
	a.c, a.w = c, w2

	after, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name})
	if err != nil {
		t.Fatalf("GetFunction after the restart: %v", err)
	}
	b1, _ := json.Marshal(before.Configuration)
	b2, _ := json.Marshal(after.Configuration)
	if string(b1) != string(b2) {
		t.Errorf("the configuration changed across the restart:\nbefore %s\nafter  %s", b1, b2)
	}
	if after.Concurrency == nil || aws.ToInt32(after.Concurrency.ReservedConcurrentExecutions) != 4 {
		t.Errorf("reserved concurrency after the restart = %+v, want 4", after.Concurrency)
	}
	list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 2 {
		t.Errorf("ListFunctions after the restart = %d functions, %v; want 2", len(list.Functions), err)
	}
	vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: name})
	if err != nil || len(vs.Versions) != 2 || aws.ToString(vs.Versions[1].Version) != "1" {
		t.Errorf("versions after the restart = %+v, %v", vs, err)
	}
	al, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: aws.String("live")})
	if err != nil || aws.ToString(al.FunctionVersion) != "1" {
		t.Errorf("alias after the restart = %+v, %v", al, err)
	}
	lv, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(lv.Content.CodeSha256) != sha256b64(layerZip) {
		t.Errorf("layer after the restart = %+v, %v", lv, err)
	}
	pol, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: name})
	if err != nil {
		t.Errorf("GetPolicy after the restart: %v", err)
	} else {
		var doc struct{ Statement []struct{ Sid string } }
		json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc)
		if len(doc.Statement) != 1 || doc.Statement[0].Sid != "s3" {
			t.Errorf("policy after the restart = %s", aws.ToString(pol.Policy))
		}
	}
	eic, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: name})
	if err != nil || aws.ToInt32(eic.MaximumRetryAttempts) != 1 {
		t.Errorf("event invoke config after the restart = %+v, %v", eic, err)
	}
	// The restored settings are in force in the new engine, not only stored.
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("stopped")})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Errorf("a function with reserved concurrency 0 after the restart: %v, want TooManyRequestsException", err)
	}
	eventually(t, 60*time.Second, "provisioned concurrency READY again after the restart", func() bool {
		pc, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1")})
		if err != nil {
			t.Fatalf("GetProvisionedConcurrencyConfig after the restart: %v", err)
		}
		return pc.Status == types.ProvisionedConcurrencyStatusEnumReady
	})
	if v := a.call(t, "keep:live", `{}`); v["hello"] != "from the layer" || v["version"] != "1" {
		t.Errorf("after the restart keep:live returned %v", v)
	}
	if v := a.call(t, "keep", `{}`); v["hello"] != "from the layer" || v["version"] != "$LATEST" {
		t.Errorf("after the restart keep returned %v", v)
	}
	settings, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != settings.AccountLimit.ConcurrentExecutions-4 {
		t.Errorf("account settings after the restart = %+v, %v", settings.AccountLimit, err)
	}
}
