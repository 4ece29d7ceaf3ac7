package grader

// The account-action step kinds: what a learner does to the account beyond
// writing code (create a bucket, publish a version, move an alias, attach a
// layer, reserve concurrency), written in actions.yaml and replayed by the
// grader, and used by checks to set up what they test. Each one is a call
// of the Lambda Go API or of the scratch account's S3 client. A refusal by
// Lambda or S3 is the learner's mistake, reported in the service's own
// words; anything else is the platform failing. invoke is in
// steps_invoke.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/lambda"
	"lambdalab/labs"
	"lambdalab/sandbox"
)

// actionKinds are the step kinds that change the account, invoke and sleep
// included (both may appear in actions.yaml and in checks).
var actionKinds = map[string]Kind{
	"create_bucket":           actionKind(runCreateBucket),
	"put_object":              actionKind(runPutObject),
	"delete_object":           actionKind(runDeleteObject),
	"put_bucket_notification": actionKind(runPutBucketNotification),
	"add_permission":          actionKind(runAddPermission),
	"remove_permission":       actionKind(runRemovePermission),
	"update_code":             actionKind(runUpdateCode),
	"update_config":           actionKind(runUpdateConfig),
	"publish_version":         actionKind(runPublishVersion),
	"create_alias":            actionKind(runCreateAlias),
	"update_alias":            actionKind(runUpdateAlias),
	"delete_alias":            actionKind(runDeleteAlias),
	"publish_layer":           actionKind(runPublishLayer),
	"put_concurrency":         actionKind(runPutConcurrency),
	"delete_concurrency":      actionKind(runDeleteConcurrency),
	"put_provisioned":         actionKind(runPutProvisioned),
	"put_event_invoke_config": actionKind(runPutEventInvokeConfig),
	"invoke":                  actionKind(runInvoke),
	"sleep":                   actionKind(runSleep),
}

// actionKind makes a kind allowed in both files whose arguments are a *T.
func actionKind[T any](run func(ctx context.Context, env *Env, a *T) error) Kind {
	return Kind{
		StepKind: labs.StepKind{Args: func() any { return new(T) }, Where: labs.InBoth},
		Run: func(ctx context.Context, env *Env, args any) error {
			a, ok := args.(*T)
			if !ok {
				return fmt.Errorf("step arguments are %T, want %T", args, new(T))
			}
			return run(ctx, env, a)
		},
	}
}

// actPoll is how often an action that waits for the service looks again.
const actPoll = 75 * time.Millisecond

// actRefused turns a Lambda API refusal of an action into the learner's
// failure, in Lambda's words; what says what was attempted ("publishing a
// version of checkout"). The machine being full is Unrunnable; anything
// else is the platform's.
func actRefused(err error, what string) error {
	if errors.Is(err, sandbox.ErrCapacity) {
		return &Unrunnable{Msg: what + " could not be done: " + sandbox.ErrCapacity.Error()}
	}
	if le, ok := lambda.AsError(err); ok {
		if le == lambda.ErrCapacity {
			return &Unrunnable{Msg: what + " could not be done: " + le.Message}
		}
		if le.Status < 500 {
			return Failf("%s was refused: %s: %s", what, le.Type, le.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// actS3Refused is actRefused for the S3 client: an S3 error answer below
// 500 is a refusal of the learner's account (NoSuchBucket,
// BucketAlreadyOwnedByYou, InvalidArgument).
func actS3Refused(err error, what string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() < http.StatusInternalServerError {
			return Failf("%s was refused: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// actMissing reports required fields left empty, as "function, statement_id".
func actMissing(fields ...string) error {
	var missing []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			missing = append(missing, fields[i])
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s is required", missing[0])
	}
	return fmt.Errorf("%s are required", strings.Join(missing, ", "))
}

// actTarget names a function, with its qualifier when there is one.
func actTarget(function, qualifier string) string {
	if qualifier == "" {
		return function
	}
	return function + ":" + qualifier
}

// createBucketArgs: create_bucket.
type createBucketArgs struct {
	// Bucket is the new bucket; it is not tagged lab:"bucket" because it
	// does not exist before this step.
	Bucket string `yaml:"bucket"`
}

func (a *createBucketArgs) Validate() error { return actMissing("bucket", a.Bucket) }

func runCreateBucket(ctx context.Context, env *Env, a *createBucketArgs) error {
	if _, err := env.S3.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(a.Bucket)}); err != nil {
		return actS3Refused(err, "creating bucket "+a.Bucket)
	}
	return nil
}

// putObjectArgs: put_object.
type putObjectArgs struct {
	Bucket      string `yaml:"bucket" lab:"bucket"`
	Key         string `yaml:"key"`
	labs.Body   `yaml:",inline"`
	ContentType string `yaml:"content_type"`
}

func (a *putObjectArgs) Validate() error {
	if err := actMissing("bucket", a.Bucket, "key", a.Key); err != nil {
		return err
	}
	n := 0
	if a.Text != "" {
		n++
	}
	if a.File != "" {
		n++
	}
	if a.Generate != nil {
		n++
	}
	if n > 1 {
		return errors.New("give one of body, file and generate")
	}
	if g := a.Generate; g != nil && (g.Bytes <= 0 || g.Line == "") {
		return errors.New("generate needs a line and a positive number of bytes")
	}
	return nil
}

func runPutObject(ctx context.Context, env *Env, a *putObjectArgs) error {
	body, err := env.BodyBytes(a.Body)
	if err != nil {
		return fmt.Errorf("body of %s/%s: %w", a.Bucket, a.Key, err)
	}
	in := &s3sdk.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(a.Key), Body: bytes.NewReader(body)}
	if a.ContentType != "" {
		in.ContentType = aws.String(a.ContentType)
	}
	// Noted before the write, so that a function the write triggers can
	// never be blamed for it even if the answer is lost.
	env.NoteWrite(a.Bucket, a.Key, body)
	if _, err := env.S3.PutObject(ctx, in); err != nil {
		return actS3Refused(err, fmt.Sprintf("putting %s into bucket %s", a.Key, a.Bucket))
	}
	return nil
}

// deleteObjectArgs: delete_object.
type deleteObjectArgs struct {
	Bucket string `yaml:"bucket" lab:"bucket"`
	Key    string `yaml:"key"`
}

func (a *deleteObjectArgs) Validate() error { return actMissing("bucket", a.Bucket, "key", a.Key) }

func runDeleteObject(ctx context.Context, env *Env, a *deleteObjectArgs) error {
	if _, err := env.S3.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(a.Key)}); err != nil {
		return actS3Refused(err, fmt.Sprintf("deleting %s from bucket %s", a.Key, a.Bucket))
	}
	return nil
}

// putBucketNotificationArgs: put_bucket_notification. It replaces the
// bucket's whole configuration, as S3's PutBucketNotificationConfiguration
// does; an empty functions list removes every trigger.
type putBucketNotificationArgs struct {
	Bucket    string                `yaml:"bucket" lab:"bucket"`
	Functions []notificationTrigger `yaml:"functions"`
}

// notificationTrigger is one LambdaFunctionConfiguration.
type notificationTrigger struct {
	// Function is a function's name (or an ARN, through ${arn:lambda:…}).
	Function  string   `yaml:"function" lab:"function"`
	Qualifier string   `yaml:"qualifier"`
	Events    []string `yaml:"events"` // default s3:ObjectCreated:*
	Prefix    string   `yaml:"prefix"`
	Suffix    string   `yaml:"suffix"`
}

func (a *putBucketNotificationArgs) Validate() error {
	if err := actMissing("bucket", a.Bucket); err != nil {
		return err
	}
	for i, f := range a.Functions {
		if f.Function == "" {
			return fmt.Errorf("functions[%d]: function is required", i)
		}
		for _, e := range f.Events {
			if !strings.HasPrefix(e, "s3:") {
				return fmt.Errorf("functions[%d]: event %q is not an S3 event type (write s3:ObjectCreated:*)", i, e)
			}
		}
	}
	return nil
}

// arn is the trigger's target as S3 is given it.
func (f notificationTrigger) arn(env *Env) string {
	if strings.HasPrefix(f.Function, "arn:") {
		return f.Function
	}
	return env.FunctionARN(f.Function, f.Qualifier)
}

func runPutBucketNotification(ctx context.Context, env *Env, a *putBucketNotificationArgs) error {
	cfg := &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{}}
	for _, f := range a.Functions {
		events := f.Events
		if len(events) == 0 {
			events = []string{"s3:ObjectCreated:*"}
		}
		c := s3types.LambdaFunctionConfiguration{LambdaFunctionArn: aws.String(f.arn(env))}
		for _, e := range events {
			c.Events = append(c.Events, s3types.Event(e))
		}
		var rules []s3types.FilterRule
		if f.Prefix != "" {
			rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNamePrefix, Value: aws.String(f.Prefix)})
		}
		if f.Suffix != "" {
			rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNameSuffix, Value: aws.String(f.Suffix)})
		}
		if rules != nil {
			c.Filter = &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: rules}}
		}
		cfg.LambdaFunctionConfigurations = append(cfg.LambdaFunctionConfigurations, c)
	}
	_, err := env.S3.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(a.Bucket), NotificationConfiguration: cfg})
	if err == nil {
		return nil
	}
	refusal := actS3Refused(err, "setting the notification configuration of bucket "+a.Bucket)
	var f *Failure
	if !errors.As(refusal, &f) {
		return refusal
	}
	// S3 names the targets it could not validate in ArgumentName/Value
	// fields the SDK drops; ask Lambda's policy which ones S3 may not call,
	// so the student learns what to fix.
	var denied []string
	for _, t := range a.Functions {
		arn := t.arn(env)
		ok, err := env.Lambda.ServiceAllowed(ctx, env.Account, arn, "s3.amazonaws.com", "arn:aws:s3:::"+a.Bucket, env.Account)
		if err != nil {
			return fmt.Errorf("check s3 permission of %s: %w", arn, err)
		}
		if !ok {
			denied = append(denied, actTarget(t.Function, t.Qualifier))
		}
	}
	if len(denied) > 0 {
		f.Msg += fmt.Sprintf(" (not authorized to invoke %s: its resource policy does not let s3.amazonaws.com invoke it for bucket %s)",
			strings.Join(denied, ", "), a.Bucket)
	}
	return f
}

// addPermissionArgs: add_permission.
type addPermissionArgs struct {
	Function      string `yaml:"function" lab:"function"`
	Qualifier     string `yaml:"qualifier"`
	StatementID   string `yaml:"statement_id"`
	Principal     string `yaml:"principal"`
	Action        string `yaml:"action"` // default lambda:InvokeFunction
	SourceArn     string `yaml:"source_arn"`
	SourceAccount string `yaml:"source_account"`
}

func (a *addPermissionArgs) Validate() error {
	return actMissing("function", a.Function, "statement_id", a.StatementID, "principal", a.Principal)
}

func runAddPermission(ctx context.Context, env *Env, a *addPermissionArgs) error {
	action := a.Action
	if action == "" {
		action = "lambda:InvokeFunction"
	}
	_, err := env.Lambda.AddPermission(ctx, env.Account, a.Function, a.Qualifier, lambda.AddPermissionInput{
		StatementID: a.StatementID, Action: action, Principal: a.Principal, SourceArn: a.SourceArn, SourceAccount: a.SourceAccount})
	if err != nil {
		return actRefused(err, "adding permission "+a.StatementID+" to "+actTarget(a.Function, a.Qualifier))
	}
	return nil
}

// removePermissionArgs: remove_permission.
type removePermissionArgs struct {
	Function    string `yaml:"function" lab:"function"`
	Qualifier   string `yaml:"qualifier"`
	StatementID string `yaml:"statement_id"`
}

func (a *removePermissionArgs) Validate() error {
	return actMissing("function", a.Function, "statement_id", a.StatementID)
}

func runRemovePermission(ctx context.Context, env *Env, a *removePermissionArgs) error {
	if err := env.Lambda.RemovePermission(ctx, env.Account, a.Function, a.Qualifier, a.StatementID); err != nil {
		return actRefused(err, "removing permission "+a.StatementID+" from "+actTarget(a.Function, a.Qualifier))
	}
	return nil
}

// updateCodeArgs: update_code.
type updateCodeArgs struct {
	Function string `yaml:"function" lab:"function"`
	// Dir is the submission folder to package; empty means the function's
	// own code folder (labs.Function.Code).
	Dir string `yaml:"dir" lab:"dir"`
	// Bundle names ready layers whose files go into the package, as
	// `pip install -t .` would put them.
	Bundle []string `yaml:"bundle" lab:"layer"`
}

func (a *updateCodeArgs) Validate() error { return actMissing("function", a.Function) }

func runUpdateCode(ctx context.Context, env *Env, a *updateCodeArgs) error {
	fn, ok := env.Function(a.Function)
	if !ok {
		// Not one of the lab's functions: package it from the submission's
		// top folder, for the runtime it has.
		c, err := env.Lambda.GetFunctionConfiguration(ctx, env.Account, a.Function, "")
		if err != nil {
			return actRefused(err, "reading the configuration of "+a.Function)
		}
		fn = labs.Function{Name: a.Function, Runtime: c.Runtime, Handler: c.Handler, Code: "."}
	}
	zip, err := env.Package(ctx, fn, a.Dir, a.Bundle)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			dir := a.Dir
			if dir == "" {
				dir = fn.Code
			}
			return Failf("the submission has no folder %s to package for %s", dir, a.Function)
		}
		return fmt.Errorf("package %s: %w", a.Function, err)
	}
	if _, err := env.Lambda.UpdateFunctionCode(ctx, env.Account, a.Function, lambda.UpdateCodeInput{ZipFile: zip}); err != nil {
		return actRefused(err, "updating the code of "+a.Function)
	}
	return nil
}

// updateConfigArgs: update_config. Zero fields are left as they are; an
// empty environment ({}) removes every variable and an empty layers list
// ([]) detaches every layer.
type updateConfigArgs struct {
	Function    string            `yaml:"function" lab:"function"`
	Memory      int               `yaml:"memory"`  // MB
	Timeout     int               `yaml:"timeout"` // seconds
	Handler     string            `yaml:"handler"`
	Runtime     string            `yaml:"runtime"`
	Environment map[string]string `yaml:"environment"`
	Tracing     string            `yaml:"tracing"` // Active or PassThrough
	// Layers are layer version ARNs; a plain name means the newest version
	// of the account's layer of that name.
	Layers []string `yaml:"layers"`
}

func (a *updateConfigArgs) Validate() error {
	if err := actMissing("function", a.Function); err != nil {
		return err
	}
	switch a.Tracing {
	case "", "Active", "PassThrough":
	default:
		return fmt.Errorf("tracing is Active or PassThrough, not %q", a.Tracing)
	}
	if a.Memory < 0 || a.Timeout < 0 {
		return errors.New("memory and timeout are positive")
	}
	return nil
}

func runUpdateConfig(ctx context.Context, env *Env, a *updateConfigArgs) error {
	var in lambda.ConfigInput
	if a.Memory > 0 {
		in.MemorySize = aws.Int(a.Memory)
	}
	if a.Timeout > 0 {
		in.Timeout = aws.Int(a.Timeout)
	}
	if a.Handler != "" {
		in.Handler = aws.String(a.Handler)
	}
	if a.Runtime != "" {
		in.Runtime = aws.String(a.Runtime)
	}
	if a.Environment != nil {
		in.Environment = &lambda.Environment{Variables: a.Environment}
	}
	if a.Tracing != "" {
		in.TracingConfig = &lambda.TracingConfig{Mode: a.Tracing}
	}
	if a.Layers != nil {
		arns := []string{}
		for _, l := range a.Layers {
			if !strings.HasPrefix(l, "arn:") {
				arn, err := env.LayerARN(ctx, l)
				if err != nil {
					return err
				}
				l = arn
			}
			arns = append(arns, l)
		}
		in.Layers = &arns
	}
	if _, err := env.Lambda.UpdateFunctionConfiguration(ctx, env.Account, a.Function, in); err != nil {
		return actRefused(err, "updating the configuration of "+a.Function)
	}
	return nil
}

// publishVersionArgs: publish_version.
type publishVersionArgs struct {
	Function    string `yaml:"function" lab:"function"`
	Description string `yaml:"description"`
	// Save keeps the published version's number (a string, "3") for
	// later steps under this name.
	Save string `yaml:"save"`
}

func (a *publishVersionArgs) Validate() error { return actMissing("function", a.Function) }

func runPublishVersion(ctx context.Context, env *Env, a *publishVersionArgs) error {
	out, err := env.Lambda.PublishVersion(ctx, env.Account, a.Function, lambda.PublishVersionInput{Description: a.Description})
	if err != nil {
		return actRefused(err, "publishing a version of "+a.Function)
	}
	env.Save(a.Save, out.Version)
	return nil
}

// aliasArgs: create_alias and update_alias.
type aliasArgs struct {
	Function string `yaml:"function" lab:"function"`
	Alias    string `yaml:"alias"`
	// Version is the alias's primary version; update_alias leaves it as
	// it is when empty.
	Version string `yaml:"version"`
	// Weights route a share of the alias's traffic to other versions
	// (Lambda allows one). Absent leaves the routing as it is on update;
	// {} clears it.
	Weights map[string]float64 `yaml:"weights"`
}

func (a *aliasArgs) Validate() error {
	if err := actMissing("function", a.Function, "alias", a.Alias); err != nil {
		return err
	}
	for v, w := range a.Weights {
		if w < 0 || w > 1 {
			return fmt.Errorf("weights: version %s has share %v; a share lies between 0 and 1", v, w)
		}
	}
	return nil
}

// createAliasArgs are aliasArgs that need a version. (A defined type, not
// an embedding: the runner's expansion of ${…} sets exported fields only.)
type createAliasArgs aliasArgs

func (a *createAliasArgs) Validate() error {
	if err := (*aliasArgs)(a).Validate(); err != nil {
		return err
	}
	return actMissing("version", a.Version)
}

func (a *aliasArgs) input() lambda.AliasInput {
	in := lambda.AliasInput{Name: a.Alias}
	if a.Version != "" {
		in.FunctionVersion = aws.String(a.Version)
	}
	if a.Weights != nil {
		in.RoutingConfig = &lambda.RoutingConfig{AdditionalVersionWeights: a.Weights}
	}
	return in
}

func runCreateAlias(ctx context.Context, env *Env, a *createAliasArgs) error {
	if _, err := env.Lambda.CreateAlias(ctx, env.Account, a.Function, (*aliasArgs)(a).input()); err != nil {
		return actRefused(err, "creating alias "+a.Alias+" of "+a.Function)
	}
	return nil
}

func runUpdateAlias(ctx context.Context, env *Env, a *aliasArgs) error {
	if _, err := env.Lambda.UpdateAlias(ctx, env.Account, a.Function, a.Alias, a.input()); err != nil {
		return actRefused(err, "updating alias "+a.Alias+" of "+a.Function)
	}
	return nil
}

// deleteAliasArgs: delete_alias.
type deleteAliasArgs struct {
	Function string `yaml:"function" lab:"function"`
	Alias    string `yaml:"alias"`
}

func (a *deleteAliasArgs) Validate() error {
	return actMissing("function", a.Function, "alias", a.Alias)
}

func runDeleteAlias(ctx context.Context, env *Env, a *deleteAliasArgs) error {
	if err := env.Lambda.DeleteAlias(ctx, env.Account, a.Function, a.Alias); err != nil {
		return actRefused(err, "deleting alias "+a.Alias+" of "+a.Function)
	}
	return nil
}

// publishLayerArgs: publish_layer, from a submission folder zipped as it
// is (python/… inside it for Python) or from a ready layer's zip.
type publishLayerArgs struct {
	// Layer is the name of the account's layer to publish a version of.
	Layer    string   `yaml:"layer"`
	Dir      string   `yaml:"dir" lab:"dir"`
	Ready    string   `yaml:"ready" lab:"layer"`
	Runtimes []string `yaml:"runtimes"`
}

func (a *publishLayerArgs) Validate() error {
	if err := actMissing("layer", a.Layer); err != nil {
		return err
	}
	if (a.Dir == "") == (a.Ready == "") {
		return errors.New("give one of dir (a folder of the submission) and ready (a ready layer)")
	}
	return nil
}

func runPublishLayer(ctx context.Context, env *Env, a *publishLayerArgs) error {
	var zip []byte
	if a.Ready != "" {
		path, err := env.ReadyLayer(ctx, a.Ready)
		if err != nil {
			return fmt.Errorf("ready layer %s: %w", a.Ready, err)
		}
		if zip, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("ready layer %s: %w", a.Ready, err)
		}
	} else {
		if env.Files == nil {
			return errors.New("this grading run has no submission folder")
		}
		var err error
		zip, err = zipPackage(zipTree{env.Files, a.Dir})
		if errors.Is(err, fs.ErrNotExist) {
			return Failf("the submission has no folder %s to publish as layer %s", a.Dir, a.Layer)
		}
		if err != nil {
			return fmt.Errorf("zip layer %s from %s: %w", a.Layer, a.Dir, err)
		}
	}
	_, err := env.Lambda.PublishLayerVersion(ctx, env.Account, a.Layer, lambda.PublishLayerInput{
		Content: lambda.FunctionCode{ZipFile: zip}, CompatibleRuntimes: a.Runtimes})
	if err != nil {
		return actRefused(err, "publishing a version of layer "+a.Layer)
	}
	return nil
}

// putConcurrencyArgs: put_concurrency. Reserved 0 is allowed: it stops
// every invocation, as on Lambda.
type putConcurrencyArgs struct {
	Function string `yaml:"function" lab:"function"`
	Reserved *int   `yaml:"reserved"`
}

func (a *putConcurrencyArgs) Validate() error {
	if err := actMissing("function", a.Function); err != nil {
		return err
	}
	if a.Reserved == nil {
		return errors.New("reserved is required")
	}
	if *a.Reserved < 0 {
		return fmt.Errorf("reserved is %d; it is 0 or more", *a.Reserved)
	}
	return nil
}

func runPutConcurrency(ctx context.Context, env *Env, a *putConcurrencyArgs) error {
	if _, err := env.Lambda.PutFunctionConcurrency(ctx, env.Account, a.Function, *a.Reserved); err != nil {
		return actRefused(err, fmt.Sprintf("reserving concurrency %d for %s", *a.Reserved, a.Function))
	}
	return nil
}

// deleteConcurrencyArgs: delete_concurrency.
type deleteConcurrencyArgs struct {
	Function string `yaml:"function" lab:"function"`
}

func (a *deleteConcurrencyArgs) Validate() error { return actMissing("function", a.Function) }

func runDeleteConcurrency(ctx context.Context, env *Env, a *deleteConcurrencyArgs) error {
	if err := env.Lambda.DeleteFunctionConcurrency(ctx, env.Account, a.Function); err != nil {
		return actRefused(err, "removing the reserved concurrency of "+a.Function)
	}
	return nil
}

// putProvisionedArgs: put_provisioned.
type putProvisionedArgs struct {
	Function  string `yaml:"function" lab:"function"`
	Qualifier string `yaml:"qualifier"`
	Count     int    `yaml:"count"`
}

func (a *putProvisionedArgs) Validate() error {
	if err := actMissing("function", a.Function, "qualifier", a.Qualifier); err != nil {
		return err
	}
	if a.Count < 1 {
		return errors.New("count is required and at least 1")
	}
	return nil
}

// runPutProvisioned asks for provisioned concurrency and waits, within the
// step's time, until Lambda reports it READY: Lambda answers IN_PROGRESS
// at once, and a learner (or the next step) would wait for the instances
// before relying on them.
func runPutProvisioned(ctx context.Context, env *Env, a *putProvisionedArgs) error {
	instances := "instances"
	if a.Count == 1 {
		instances = "instance"
	}
	what := fmt.Sprintf("provisioning %d %s for %s", a.Count, instances, actTarget(a.Function, a.Qualifier))
	if _, err := env.Lambda.PutProvisionedConcurrencyConfig(ctx, env.Account, a.Function, a.Qualifier, a.Count); err != nil {
		return actRefused(err, what)
	}
	tick := time.NewTicker(actPoll)
	defer tick.Stop()
	for {
		c, err := env.Lambda.GetProvisionedConcurrencyConfig(ctx, env.Account, a.Function, a.Qualifier)
		if err != nil {
			return actRefused(err, what)
		}
		switch c.Status {
		case "READY":
			return nil
		case "FAILED":
			return Failf("%s failed: %s", what, c.StatusReason)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of %d ready when the step's time ran out: %w", what, c.AllocatedProvisionedConcurrentExecutions, a.Count, ctx.Err())
		case <-tick.C:
		}
	}
}

// putEventInvokeConfigArgs: put_event_invoke_config. It replaces the
// configuration (PutFunctionEventInvokeConfig, not Update).
type putEventInvokeConfigArgs struct {
	Function   string         `yaml:"function" lab:"function"`
	Qualifier  string         `yaml:"qualifier"`
	MaxRetries *int           `yaml:"max_retries"`
	MaxAge     *labs.Duration `yaml:"max_age"`
	OnSuccess  string         `yaml:"on_success"` // an ARN, or a function's name
	OnFailure  string         `yaml:"on_failure"`
}

func (a *putEventInvokeConfigArgs) Validate() error {
	if err := actMissing("function", a.Function); err != nil {
		return err
	}
	if a.MaxAge != nil && a.MaxAge.D()%time.Second != 0 {
		return fmt.Errorf("max_age %s is not a whole number of seconds", a.MaxAge.D())
	}
	return nil
}

// destination is an ARN as given, or the ARN of the account's function
// of that name.
func (a *putEventInvokeConfigArgs) destination(env *Env, s string) string {
	if s == "" || strings.HasPrefix(s, "arn:") {
		return s
	}
	return env.FunctionARN(s, "")
}

func runPutEventInvokeConfig(ctx context.Context, env *Env, a *putEventInvokeConfigArgs) error {
	in := lambda.EventInvokeConfigInput{MaximumRetryAttempts: a.MaxRetries}
	if a.MaxAge != nil {
		in.MaximumEventAgeInSeconds = aws.Int(int(a.MaxAge.D() / time.Second))
	}
	if a.OnSuccess != "" || a.OnFailure != "" {
		in.DestinationConfig = &lambda.DestinationConfig{
			OnSuccess: lambda.Destination{Destination: a.destination(env, a.OnSuccess)},
			OnFailure: lambda.Destination{Destination: a.destination(env, a.OnFailure)},
		}
	}
	if _, err := env.Lambda.PutFunctionEventInvokeConfig(ctx, env.Account, a.Function, a.Qualifier, in, false); err != nil {
		return actRefused(err, "configuring asynchronous invocation of "+actTarget(a.Function, a.Qualifier))
	}
	return nil
}

// maxSleep bounds a sleep step: a check's whole time is 30 s by default,
// and a lab that waits longer should wait for something (within:).
const maxSleep = 60 * time.Second

// sleepArgs: sleep.
type sleepArgs struct {
	Duration labs.Duration `yaml:"duration"`
}

func (a *sleepArgs) Validate() error {
	switch d := a.Duration.D(); {
	case d <= 0:
		return errors.New("duration is required (write 500ms or 5s)")
	case d > maxSleep:
		return fmt.Errorf("duration %s is longer than the %s a sleep may last", d, maxSleep)
	}
	return nil
}

func runSleep(ctx context.Context, env *Env, a *sleepArgs) error {
	t := time.NewTimer(a.Duration.D())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sleep %s: %w", a.Duration.D(), ctx.Err())
	}
}
