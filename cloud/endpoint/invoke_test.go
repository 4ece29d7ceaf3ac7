package endpoint_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// echoHandler answers what it was given and what it knows, prints a line,
// and raises when asked to.
const echoHandler = `def handler(event, context):
    print("handling", event.get("n"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    cc = context.client_context
    return {"event": event, "version": context.function_version, "arn": context.invoked_function_arn,
            "request_id": context.aws_request_id,
            "custom": cc.custom if cc else None, "client": cc.client.installation_id if cc and cc.client else None}
`

func TestInvoke(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "echo", echoHandler)
	if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}

	out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"n": 1}`),
		InvocationType: types.InvocationTypeRequestResponse, LogType: types.LogTypeTail})
	v := object(t, out.Payload)
	if out.StatusCode != 200 || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" || v["event"].(map[string]any)["n"] != float64(1) {
		t.Errorf("RequestResponse = status %d error %v executed %s payload %s", out.StatusCode, out.FunctionError, aws.ToString(out.ExecutedVersion), out.Payload)
	}
	if v["arn"] != a.arn("echo") || v["version"] != "$LATEST" {
		t.Errorf("unqualified invoke: handler saw arn %v version %v", v["arn"], v["version"])
	}
	logs, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("LogResult %q is not base64: %v", aws.ToString(out.LogResult), err)
	}
	if len(logs) > 4096 {
		t.Errorf("LogResult holds %d bytes, Lambda returns at most 4 KB", len(logs))
	}
	id := v["request_id"].(string)
	for _, want := range []string{"START RequestId: " + id + " Version: $LATEST", "handling 1", "END RequestId: " + id, "REPORT RequestId: " + id + "\tDuration: "} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("LogResult lacks %q:\n%s", want, logs)
		}
	}
	// A long log is cut to its last 4 KB, REPORT line included.
	out = a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"n": "` + strings.Repeat("y", 8000) + `"}`), LogType: types.LogTypeTail})
	logs, _ = base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if len(logs) > 4096 || !strings.Contains(string(logs), "REPORT RequestId:") {
		t.Errorf("a long log's LogResult is %d bytes, ends %q", len(logs), logs[max(0, len(logs)-200):])
	}
	if out := a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo")}); out.LogResult != nil {
		t.Errorf("without LogType Tail Invoke returned a LogResult")
	}

	// The three ways of naming a qualifier.
	for _, in := range []*lambda.InvokeInput{
		{FunctionName: aws.String("echo"), Qualifier: aws.String("1")},
		{FunctionName: aws.String("echo:1")},
		{FunctionName: aws.String(a.arn("echo") + ":1")},
	} {
		out := a.invoke(t, in)
		v := object(t, out.Payload)
		if aws.ToString(out.ExecutedVersion) != "1" || v["version"] != "1" || v["arn"] != a.arn("echo")+":1" {
			t.Errorf("Invoke(%s, Qualifier %s): executed %s, handler saw version %v arn %v; want 1, %s:1",
				aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), aws.ToString(out.ExecutedVersion), v["version"], v["arn"], a.arn("echo"))
		}
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo:1"), Qualifier: aws.String("2")})
	apiError(t, err, "InvalidParameterValueException", 400)
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo:7")})
	apiError(t, err, "ResourceNotFoundException", 404)

	// ClientContext: base64 JSON reaches context.client_context.
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom": {"team": "blue"}, "client": {"installation_id": "inst-1"}, "env": {}}`))
	v = object(t, a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo"), ClientContext: aws.String(cc)}).Payload)
	if c, _ := v["custom"].(map[string]any); c["team"] != "blue" || v["client"] != "inst-1" {
		t.Errorf("client context reached the handler as custom %v client %v", v["custom"], v["client"])
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), ClientContext: aws.String("not base64!")})
	apiError(t, err, "InvalidRequestContentException", 400)

	// A handler that raises: 200 with FunctionError and Lambda's error document.
	out = a.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"fail": true}`)})
	var doc struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		RequestID    string   `json:"requestId"`
		StackTrace   []string `json:"stackTrace"`
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		t.Fatalf("error document %q: %v", out.Payload, err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorType != "ValueError" || doc.ErrorMessage != "asked to fail" || len(doc.StackTrace) == 0 {
		t.Errorf("a raising handler gave status %d FunctionError %q and %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}

	// DryRun checks and runs nothing.
	out, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 || len(out.Payload) != 0 {
		t.Errorf("DryRun = %v, %v", out, err)
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("missing"), InvocationType: types.InvocationTypeDryRun})
	apiError(t, err, "ResourceNotFoundException", 404)

	// Payload limits and shape.
	huge := make([]byte, 6*1024*1024+1)
	huge[0], huge[len(huge)-1] = '"', '"'
	for i := 1; i < len(huge)-1; i++ {
		huge[i] = 'a'
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: huge})
	apiError(t, err, "RequestTooLargeException", 413)
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("oversized payload: the SDK did not decode a types.RequestTooLargeException from %v", err)
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"n": `)})
	apiError(t, err, "InvalidRequestContentException", 400)
	var badContent *types.InvalidRequestContentException
	if !errors.As(err, &badContent) {
		t.Errorf("invalid JSON: the SDK did not decode a types.InvalidRequestContentException from %v", err)
	}
}

func TestInvokeEvent(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "async", echoHandler)
	since := time.Now().Add(-time.Second)
	out, err := a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("async"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"n": 2}`)})
	if err != nil || out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("Event invoke = %+v, %v; want 202 and no payload", out, err)
	}
	// The handler runs after the answer: its invocation record appears.
	eventually(t, 60*time.Second, "the async event's invocation record", func() bool {
		invs, err := w.db.Invocations(ctx, a.id, "async", since)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if inv.Outcome == "success" {
				return true
			}
		}
		return false
	})
	// An async payload over 1 MB is refused.
	big := `"` + strings.Repeat("b", 1<<20) + `"`
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("async"), InvocationType: types.InvocationTypeEvent, Payload: []byte(big)})
	apiError(t, err, "RequestTooLargeException", 413)
}

func TestEventInvokeConfig(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "src", echoHandler)
	a.createPy(t, "dst", echoHandler)
	name := aws.String("src")
	_, err := a.c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)

	put, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: name,
		MaximumRetryAttempts: aws.Int32(1), MaximumEventAgeInSeconds: aws.Int32(120),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(a.arn("dst"))}}})
	if err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	if aws.ToInt32(put.MaximumRetryAttempts) != 1 || aws.ToInt32(put.MaximumEventAgeInSeconds) != 120 || put.LastModified == nil ||
		aws.ToString(put.FunctionArn) != a.arn("src")+":$LATEST" || aws.ToString(put.DestinationConfig.OnSuccess.Destination) != a.arn("dst") {
		t.Errorf("PutFunctionEventInvokeConfig = %+v", put)
	}
	if d := time.Since(aws.ToTime(put.LastModified)); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("LastModified %v is %v from now", aws.ToTime(put.LastModified), d)
	}
	// Update merges: the event age stays.
	upd, err := a.c.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: name, MaximumRetryAttempts: aws.Int32(0)})
	if err != nil {
		t.Fatalf("UpdateFunctionEventInvokeConfig: %v", err)
	}
	if aws.ToInt32(upd.MaximumRetryAttempts) != 0 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 120 || aws.ToString(upd.DestinationConfig.OnSuccess.Destination) != a.arn("dst") {
		t.Errorf("UpdateFunctionEventInvokeConfig did not merge: %+v", upd)
	}
	got, err := a.c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: name})
	if err != nil || aws.ToInt32(got.MaximumRetryAttempts) != 0 || aws.ToInt32(got.MaximumEventAgeInSeconds) != 120 {
		t.Errorf("GetFunctionEventInvokeConfig = %+v, %v", got, err)
	}
	// Put replaces: what is not given goes back to the defaults.
	put2, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: name, MaximumRetryAttempts: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if put2.MaximumEventAgeInSeconds != nil || (put2.DestinationConfig != nil && put2.DestinationConfig.OnSuccess != nil && aws.ToString(put2.DestinationConfig.OnSuccess.Destination) != "") {
		t.Errorf("Put kept fields it was not given: %+v", put2)
	}
	if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: name, Qualifier: aws.String("1"),
		MaximumRetryAttempts: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	list, err := a.c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: name})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, c := range list.FunctionEventInvokeConfigs {
		arns = append(arns, aws.ToString(c.FunctionArn))
	}
	if len(arns) != 2 {
		t.Errorf("ListFunctionEventInvokeConfigs = %v, want $LATEST and 1", arns)
	}

	refused := []struct {
		name string
		in   lambda.PutFunctionEventInvokeConfigInput
	}{
		{"3 retries", lambda.PutFunctionEventInvokeConfigInput{MaximumRetryAttempts: aws.Int32(3)}},
		{"event age 59 s", lambda.PutFunctionEventInvokeConfigInput{MaximumEventAgeInSeconds: aws.Int32(59)}},
		{"a queue destination", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: &types.DestinationConfig{
			OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:" + a.id + ":dead-letters")}}}},
		{"a missing function", lambda.PutFunctionEventInvokeConfigInput{DestinationConfig: &types.DestinationConfig{
			OnSuccess: &types.OnSuccess{Destination: aws.String(a.arn("nobody"))}}}},
	}
	for _, tt := range refused {
		in := tt.in
		in.FunctionName = name
		_, err := a.c.PutFunctionEventInvokeConfig(ctx, &in)
		t.Logf("%s: %s", tt.name, apiError(t, err, "InvalidParameterValueException", 400))
	}

	if _, err := a.c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: name}); err != nil {
		t.Fatalf("DeleteFunctionEventInvokeConfig: %v", err)
	}
	_, err = a.c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)
	if _, err := a.c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: name, Qualifier: aws.String("1")}); err != nil {
		t.Errorf("deleting $LATEST's config took version 1's: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "pol", echoHandler)
	name := aws.String("pol")
	_, err := a.c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)

	add, err := a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: name, StatementId: aws.String("s3-invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::uploads"), SourceAccount: aws.String(a.id)})
	if err != nil {
		t.Fatalf("AddPermission: %v", err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(add.Statement)), &st); err != nil || st["Sid"] != "s3-invoke" {
		t.Errorf("AddPermission Statement = %q (%v)", aws.ToString(add.Statement), err)
	}
	_, err = a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: name, StatementId: aws.String("s3-invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	apiError(t, err, "ResourceConflictException", 409)
	if _, err := a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: name, StatementId: aws.String("other-account"),
		Action: aws.String("lambda:GetFunction"), Principal: aws.String("210987654321")}); err != nil {
		t.Fatalf("AddPermission for an account: %v", err)
	}

	pol, err := a.c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: name})
	if err != nil {
		t.Fatalf("GetPolicy: %v", err)
	}
	var doc struct {
		Version   string
		Statement []struct {
			Sid       string
			Effect    string
			Principal json.RawMessage
			Action    string
			Resource  string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil {
		t.Fatalf("GetPolicy Policy %q: %v", aws.ToString(pol.Policy), err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 2 || aws.ToString(pol.RevisionId) == "" {
		t.Fatalf("GetPolicy = %s (revision %q)", aws.ToString(pol.Policy), aws.ToString(pol.RevisionId))
	}
	s := doc.Statement[0]
	var principal map[string]string
	json.Unmarshal(s.Principal, &principal)
	if s.Sid != "s3-invoke" || s.Effect != "Allow" || principal["Service"] != "s3.amazonaws.com" || s.Action != "lambda:InvokeFunction" ||
		s.Resource != a.arn("pol") || s.Condition["ArnLike"]["AWS:SourceArn"] != "arn:aws:s3:::uploads" ||
		s.Condition["StringEquals"]["AWS:SourceAccount"] != a.id {
		t.Errorf("statement = %+v principal %s", s, s.Principal)
	}
	json.Unmarshal(doc.Statement[1].Principal, &principal)
	if principal["AWS"] != "arn:aws:iam::210987654321:root" {
		t.Errorf("an account principal is shown as %s, want arn:aws:iam::210987654321:root", doc.Statement[1].Principal)
	}

	if _, err := a.c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: name, StatementId: aws.String("s3-invoke")}); err != nil {
		t.Fatalf("RemovePermission: %v", err)
	}
	_, err = a.c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: name, StatementId: aws.String("s3-invoke")})
	apiError(t, err, "ResourceNotFoundException", 404)
	if _, err := a.c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: name, StatementId: aws.String("other-account")}); err != nil {
		t.Fatalf("RemovePermission: %v", err)
	}
	_, err = a.c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: name})
	apiError(t, err, "ResourceNotFoundException", 404)
	_, err = a.c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("nope"), StatementId: aws.String("x"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	apiError(t, err, "ResourceNotFoundException", 404)
}

func TestConcurrency(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	a.createPy(t, "conc", echoHandler)
	name := aws.String("conc")

	settings, err := a.c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	limit := settings.AccountLimit.ConcurrentExecutions
	if limit <= 0 || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != limit || settings.AccountUsage.FunctionCount != 1 {
		t.Errorf("GetAccountSettings = limit %d unreserved %d functions %d", limit, aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions), settings.AccountUsage.FunctionCount)
	}

	got, err := a.c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: name})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("GetFunctionConcurrency with no reservation = %v, %v", got.ReservedConcurrentExecutions, err)
	}
	put, err := a.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: name, ReservedConcurrentExecutions: aws.Int32(3)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 3 {
		t.Fatalf("PutFunctionConcurrency 3 = %v, %v", put, err)
	}
	settings, _ = a.c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if got := aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions); got != limit-3 {
		t.Errorf("with 3 reserved UnreservedConcurrentExecutions = %d, want %d", got, limit-3)
	}
	_, err = a.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: name, ReservedConcurrentExecutions: aws.Int32(limit)})
	apiError(t, err, "InvalidParameterValueException", 400)

	// Reserved 0 throttles every invocation.
	if _, err := a.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: name, ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	gf, err := a.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name})
	if err != nil || gf.Concurrency == nil || aws.ToInt32(gf.Concurrency.ReservedConcurrentExecutions) != 0 {
		t.Errorf("GetFunction Concurrency = %+v, %v; want reserved 0", gf.Concurrency, err)
	}
	_, err = a.c.Invoke(ctx, &lambda.InvokeInput{FunctionName: name})
	apiError(t, err, "TooManyRequestsException", 429)
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Fatalf("the SDK did not decode a types.TooManyRequestsException from %v", err)
	}
	if tooMany.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded || aws.ToString(tooMany.RetryAfterSeconds) == "" {
		t.Errorf("throttle Reason %q RetryAfterSeconds %q, want ReservedFunctionConcurrentInvocationLimitExceeded and a Retry-After",
			tooMany.Reason, aws.ToString(tooMany.RetryAfterSeconds))
	}
	if _, err := a.c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: name}); err != nil {
		t.Fatalf("DeleteFunctionConcurrency: %v", err)
	}
	got, err = a.c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: name})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("GetFunctionConcurrency after delete = %v, %v", aws.ToInt32(got.ReservedConcurrentExecutions), err)
	}
	a.call(t, "conc", `{}`)

	// Provisioned concurrency on a version becomes READY; $LATEST is refused.
	if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name}); err != nil {
		t.Fatal(err)
	}
	_, err = a.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("$LATEST"),
		ProvisionedConcurrentExecutions: aws.Int32(1)})
	apiError(t, err, "InvalidParameterValueException", 400)
	pc, err := a.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1"),
		ProvisionedConcurrentExecutions: aws.Int32(1)})
	if err != nil {
		t.Fatalf("PutProvisionedConcurrencyConfig: %v", err)
	}
	if pc.Status != types.ProvisionedConcurrencyStatusEnumInProgress || aws.ToInt32(pc.RequestedProvisionedConcurrentExecutions) != 1 {
		t.Errorf("PutProvisionedConcurrencyConfig = status %s requested %d, want IN_PROGRESS 1", pc.Status, aws.ToInt32(pc.RequestedProvisionedConcurrentExecutions))
	}
	var last *lambda.GetProvisionedConcurrencyConfigOutput
	eventually(t, 60*time.Second, "provisioned concurrency READY", func() bool {
		last, err = a.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1")})
		if err != nil {
			t.Fatalf("GetProvisionedConcurrencyConfig: %v", err)
		}
		if last.Status == types.ProvisionedConcurrencyStatusEnumFailed {
			t.Fatalf("provisioned concurrency FAILED: %s", aws.ToString(last.StatusReason))
		}
		return last.Status == types.ProvisionedConcurrencyStatusEnumReady
	})
	if aws.ToInt32(last.AllocatedProvisionedConcurrentExecutions) != 1 || aws.ToInt32(last.AvailableProvisionedConcurrentExecutions) != 1 {
		t.Errorf("READY with allocated %d available %d, want 1", aws.ToInt32(last.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(last.AvailableProvisionedConcurrentExecutions))
	}
	list, err := a.c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: name})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 || aws.ToString(list.ProvisionedConcurrencyConfigs[0].FunctionArn) != a.arn("conc")+":1" {
		t.Errorf("ListProvisionedConcurrencyConfigs = %+v, %v", list, err)
	}
	// The provisioned instance serves version 1 warm.
	out := a.invoke(t, &lambda.InvokeInput{FunctionName: name, Qualifier: aws.String("1"), LogType: types.LogTypeTail})
	logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if strings.Contains(string(logs), "Init Duration") {
		t.Errorf("invoking a provisioned version paid an init:\n%s", logs)
	}
	if _, err := a.c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1")}); err != nil {
		t.Fatalf("DeleteProvisionedConcurrencyConfig: %v", err)
	}
	_, err = a.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1")})
	apiError(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404)
}

// provisionedInstances counts an account's instances kept initialised by a
// provisioned configuration, by function version.
func provisionedInstances(w *world, account string) map[string]int {
	n := map[string]int{}
	for _, in := range w.engine.Instances(account) {
		if in.State == "provisioned" {
			n[in.Function+":"+in.Version]++
		}
	}
	return n
}

// Provisioned instances are released when what they were provisioned for
// goes: an alias moving on, an alias or a function deleted. Otherwise they
// would hold a place on the machine until lambdalab restarts.
func TestProvisionedConcurrencyReleased(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	name := aws.String("prov")
	a.createPy(t, "prov", echoHandler)
	for _, g := range []string{"one", "two"} {
		if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: name,
			Environment: &types.Environment{Variables: map[string]string{"GREETING": g}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	ready := func(q string) {
		t.Helper()
		eventually(t, 60*time.Second, "provisioned concurrency on "+q+" READY", func() bool {
			pc, err := a.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String(q)})
			return err == nil && pc.Status == types.ProvisionedConcurrencyStatusEnumReady
		})
	}
	if _, err := a.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("live"),
		ProvisionedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatalf("PutProvisionedConcurrencyConfig on an alias: %v", err)
	}
	ready("live")
	if got := provisionedInstances(w, a.id); got["prov:1"] != 1 || len(got) != 1 {
		t.Fatalf("provisioned instances with live -> 1: %v", got)
	}

	// Moving the alias moves the allocation.
	if _, err := a.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	ready("live")
	eventually(t, 10*time.Second, "the allocation following the alias to version 2", func() bool {
		got := provisionedInstances(w, a.id)
		return got["prov:2"] == 1 && len(got) == 1
	})

	// Deleting the alias releases it.
	if _, err := a.c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: name, Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err := a.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("live")})
	apiError(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404)
	eventually(t, 10*time.Second, "no provisioned instance after DeleteAlias", func() bool { return len(provisionedInstances(w, a.id)) == 0 })
	// A new alias of the same name starts without one.
	if _, err := a.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	_, err = a.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("live")})
	apiError(t, err, "ProvisionedConcurrencyConfigNotFoundException", 404)
	if list, err := a.c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: name}); err != nil || len(list.ProvisionedConcurrencyConfigs) != 0 {
		t.Errorf("ListProvisionedConcurrencyConfigs after DeleteAlias = %+v, %v; want none", list, err)
	}

	// Deleting the function releases a version's allocation.
	if _, err := a.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: name, Qualifier: aws.String("1"),
		ProvisionedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	ready("1")
	if _, err := a.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: name}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "no provisioned instance after DeleteFunction", func() bool { return len(provisionedInstances(w, a.id)) == 0 })
}
