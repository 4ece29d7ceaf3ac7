package grader

// Inspections of Lambda's configuration: a function's settings and
// package, its versions, aliases, concurrency, the S3 trigger that invokes
// it and the resource policy that lets S3 do so.

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud/lambda"
)

// qualified names a function or one of its versions or aliases as the
// CLI's --function-name/--qualifier pair does: "report" or "report:prod".
func qualified(function, qualifier string) string {
	if qualifier == "" {
		return function
	}
	return function + ":" + qualifier
}

// expectConfigArgs are expect_config's fields; each one given must hold.
// Timeout is in seconds, sizes in bytes.
type expectConfigArgs struct {
	Function     string            `yaml:"function" lab:"function"`
	Qualifier    string            `yaml:"qualifier"`
	Memory       *int              `yaml:"memory"`
	Timeout      *int              `yaml:"timeout"`
	Handler      *string           `yaml:"handler"`
	Runtime      *string           `yaml:"runtime"`
	Tracing      *string           `yaml:"tracing"`
	Environment  map[string]string `yaml:"environment"`
	Layers       []string          `yaml:"layers" lab:"layer"`
	CodeSizeMax  *int64            `yaml:"code_size_max"`
	TotalSizeMax *int64            `yaml:"total_size_max"`
	PackageHas   []string          `yaml:"package_has"`
	PackageLacks []string          `yaml:"package_lacks"`
}

// Validate checks the fields the loader can.
func (a *expectConfigArgs) Validate() error {
	if a.Function == "" {
		return errors.New("function is required")
	}
	if a.Tracing != nil && *a.Tracing != "Active" && *a.Tracing != "PassThrough" {
		return fmt.Errorf("tracing is %q: write Active or PassThrough", *a.Tracing)
	}
	return nil
}

func runExpectConfig(ctx context.Context, env *Env, a *expectConfigArgs) error {
	name := qualified(a.Function, a.Qualifier)
	cfg, err := env.Lambda.GetFunctionConfiguration(ctx, env.Account, a.Function, a.Qualifier)
	if err != nil {
		return inspectRefusal(err, "function "+name)
	}
	switch {
	case a.Memory != nil && cfg.MemorySize != *a.Memory:
		return Failf("%s has %d MB of memory; the lab wants %d MB", name, cfg.MemorySize, *a.Memory)
	case a.Timeout != nil && cfg.Timeout != *a.Timeout:
		return Failf("%s has a timeout of %s; the lab wants %s", name, countOf(cfg.Timeout, "second", "seconds"), countOf(*a.Timeout, "second", "seconds"))
	case a.Handler != nil && cfg.Handler != *a.Handler:
		return Failf("the handler of %s is %s; the lab wants %s", name, cfg.Handler, *a.Handler)
	case a.Runtime != nil && cfg.Runtime != *a.Runtime:
		return Failf("%s runs on %s; the lab wants %s", name, cfg.Runtime, *a.Runtime)
	case a.Tracing != nil && cfg.TracingConfig.Mode != *a.Tracing:
		return Failf("the tracing mode of %s is %s; the lab wants %s", name, cfg.TracingConfig.Mode, *a.Tracing)
	}
	var vars map[string]string
	if cfg.Environment != nil {
		vars = cfg.Environment.Variables
	}
	for _, k := range slices.Sorted(maps.Keys(a.Environment)) {
		want := a.Environment[k]
		got, ok := vars[k]
		if !ok {
			return Failf("%s has no environment variable %s; the lab wants it set to %q", name, k, want)
		}
		if got != want {
			return Failf("the environment variable %s of %s is %q; the lab wants %q", k, name, got, want)
		}
	}
	var attached []string
	var layerBytes int64
	for _, l := range cfg.Layers {
		attached = append(attached, l.Arn)
		layerBytes += l.CodeSize
	}
	for _, want := range a.Layers {
		if !slices.ContainsFunc(attached, func(arn string) bool { return layerMatches(env, want, arn) }) {
			return Failf("%s has no layer %s attached (attached: %s)", name, want, listing(attached, 3))
		}
	}
	if a.CodeSizeMax != nil && cfg.CodeSize > *a.CodeSizeMax {
		return Failf("the package of %s is %s; the lab allows at most %s", name, sizeText(cfg.CodeSize), sizeText(*a.CodeSizeMax))
	}
	if total := cfg.CodeSize + layerBytes; a.TotalSizeMax != nil && total > *a.TotalSizeMax {
		return Failf("the package of %s and its layers come to %s (package %s, layers %s); the lab allows at most %s",
			name, sizeText(total), sizeText(cfg.CodeSize), sizeText(layerBytes), sizeText(*a.TotalSizeMax))
	}
	if len(a.PackageHas) == 0 && len(a.PackageLacks) == 0 {
		return nil
	}
	files, err := packageFiles(ctx, env, cfg.CodeSha256)
	if err != nil {
		return fmt.Errorf("package of %s: %w", name, err)
	}
	for _, p := range a.PackageHas {
		if len(underPath(files, p)) == 0 {
			return Failf("the package of %s has no %s; it holds %s", name, p, listing(topLevel(files), 8))
		}
	}
	for _, p := range a.PackageLacks {
		if in := underPath(files, p); len(in) > 0 {
			if len(in) == 1 && in[0] == cleanPackagePath(p) {
				return Failf("the package of %s holds %s, which it should not", name, p)
			}
			return Failf("the package of %s holds %s (%s, e.g. %s), which it should not", name, p, countOf(len(in), "file", "files"), in[0])
		}
	}
	return nil
}

// layerMatches reports whether want (a layer name of the account, a layer
// ARN without version, or a layer version ARN) names the attached layer
// version ARN.
func layerMatches(env *Env, want, attached string) bool {
	if strings.HasPrefix(want, "arn:") {
		if attached == want {
			return true
		}
		base, _, ok := cutLast(attached, ":")
		return ok && base == want
	}
	parts := strings.Split(attached, ":")
	return len(parts) == 8 && parts[4] == env.Account && parts[5] == "layer" && parts[6] == want
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// packageFiles lists the files of a stored package zip.
func packageFiles(ctx context.Context, env *Env, sha string) ([]string, error) {
	f, err := env.Lambda.OpenCode(ctx, sha)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		return nil, err
	}
	var files []string
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, "/") {
			files = append(files, strings.TrimPrefix(zf.Name, "./"))
		}
	}
	slices.Sort(files)
	return files, nil
}

func cleanPackagePath(p string) string {
	return strings.Trim(path.Clean("/"+p), "/")
}

// underPath lists the files that are p or inside the folder p.
func underPath(files []string, p string) []string {
	p = cleanPackagePath(p)
	var in []string
	for _, f := range files {
		if p == "" || f == p || strings.HasPrefix(f, p+"/") {
			in = append(in, f)
		}
	}
	return in
}

// topLevel lists a package's top-level entries, folders with a slash.
func topLevel(files []string) []string {
	var out []string
	for _, f := range files {
		name := f
		if first, _, ok := strings.Cut(f, "/"); ok {
			name = first + "/"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// expectVersionsArgs are expect_versions's fields. CodeOf maps a version
// number to another version number or $LATEST whose code it must have.
type expectVersionsArgs struct {
	Function     string            `yaml:"function" lab:"function"`
	Min          *int              `yaml:"min"`
	Max          *int              `yaml:"max"`
	DistinctCode bool              `yaml:"distinct_code"`
	CodeOf       map[string]string `yaml:"code_of"`
}

// Validate checks the bounds and versions named.
func (a *expectVersionsArgs) Validate() error {
	if a.Function == "" {
		return errors.New("function is required")
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		return fmt.Errorf("min %d is above max %d", *a.Min, *a.Max)
	}
	for k, v := range a.CodeOf {
		if !isVersion(k) || (!isVersion(v) && v != "$LATEST") {
			return fmt.Errorf("code_of %s: %s: write a version number and a version number or $LATEST", k, v)
		}
	}
	return nil
}

func isVersion(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && strconv.Itoa(n) == s
}

func runExpectVersions(ctx context.Context, env *Env, a *expectVersionsArgs) error {
	var all []lambda.FunctionConfiguration
	marker := ""
	for {
		out, err := env.Lambda.ListVersionsByFunction(ctx, env.Account, a.Function, marker, 50)
		if err != nil {
			return inspectRefusal(err, "function "+a.Function)
		}
		all = append(all, out.Versions...)
		if out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
	}
	sha := map[string]string{}
	var published []lambda.FunctionConfiguration
	for _, v := range all {
		sha[v.Version] = v.CodeSha256
		if v.Version != "$LATEST" {
			published = append(published, v)
		}
	}
	n := len(published)
	if a.Min != nil && n < *a.Min {
		return Failf("%s has %s; the lab wants at least %d", a.Function, countOf(n, "published version", "published versions"), *a.Min)
	}
	if a.Max != nil && n > *a.Max {
		return Failf("%s has %s; the lab wants at most %d", a.Function, countOf(n, "published version", "published versions"), *a.Max)
	}
	if a.DistinctCode {
		first := map[string]string{}
		for _, v := range published {
			if earlier, ok := first[v.CodeSha256]; ok {
				return Failf("versions %s and %s of %s have the same code (CodeSha256 %s); each version should be published after a change to the code",
					earlier, v.Version, a.Function, v.CodeSha256)
			}
			first[v.CodeSha256] = v.Version
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.CodeOf)) {
		other := a.CodeOf[k]
		got, ok := sha[k]
		if !ok {
			return Failf("%s has no version %s", a.Function, k)
		}
		want, ok := sha[other]
		if !ok {
			return Failf("%s has no version %s", a.Function, other)
		}
		if got != want {
			return Failf("version %s of %s does not have the code of %s (CodeSha256 %s, and %s has %s)",
				k, a.Function, versionName(other), got, versionName(other), want)
		}
	}
	return nil
}

// versionName says "version 3" or "$LATEST".
func versionName(v string) string {
	if v == "$LATEST" {
		return v
	}
	return "version " + v
}

// expectAliasArgs are expect_alias's fields. Weights are the additional
// versions' shares; an empty map means the alias must not split traffic.
type expectAliasArgs struct {
	Function  string             `yaml:"function" lab:"function"`
	Alias     string             `yaml:"alias"`
	Version   *string            `yaml:"version"`
	Weights   map[string]float64 `yaml:"weights"`
	Tolerance *float64           `yaml:"tolerance"`
}

// Validate checks the weights as Lambda would take them.
func (a *expectAliasArgs) Validate() error {
	if a.Function == "" || a.Alias == "" {
		return errors.New("function and alias are required")
	}
	if len(a.Weights) > 1 {
		return errors.New("weights: an alias sends traffic to at most one additional version")
	}
	for v, w := range a.Weights {
		if !isVersion(v) {
			return fmt.Errorf("weights: %q is not a version number", v)
		}
		if w < 0 || w > 1 {
			return fmt.Errorf("weights: %v for version %s is not between 0 and 1", w, v)
		}
	}
	if a.Tolerance != nil && (*a.Tolerance < 0 || *a.Tolerance >= 1) {
		return errors.New("tolerance must be between 0 and 1")
	}
	return nil
}

// shareText shows a share as a percentage: 0.1 → "10%".
func shareText(w float64) string {
	return strconv.FormatFloat(math.Round(w*10000)/100, 'f', -1, 64) + "%"
}

func runExpectAlias(ctx context.Context, env *Env, a *expectAliasArgs) error {
	al, err := env.Lambda.GetAlias(ctx, env.Account, a.Function, a.Alias)
	if err != nil {
		if le, ok := lambda.AsError(err); ok && le.Type == "ResourceNotFoundException" {
			return Failf("%s has no alias %s", a.Function, a.Alias)
		}
		return inspectRefusal(err, "alias "+a.Alias+" of "+a.Function)
	}
	if a.Version != nil && al.FunctionVersion != *a.Version {
		return Failf("alias %s of %s points to %s; the lab wants %s", a.Alias, a.Function, versionName(al.FunctionVersion), versionName(*a.Version))
	}
	if a.Weights == nil {
		return nil
	}
	tol := 0.001
	if a.Tolerance != nil {
		tol = *a.Tolerance
	}
	var got map[string]float64
	if al.RoutingConfig != nil {
		got = al.RoutingConfig.AdditionalVersionWeights
	}
	if len(a.Weights) == 0 {
		for v, w := range got {
			return Failf("alias %s of %s still sends %s of its traffic to version %s; the lab wants all of it on %s",
				a.Alias, a.Function, shareText(w), v, versionName(al.FunctionVersion))
		}
		return nil
	}
	for v, w := range a.Weights {
		gw, ok := got[v]
		switch {
		case len(got) == 0:
			return Failf("alias %s of %s sends all its traffic to %s; the lab wants %s of it on version %s",
				a.Alias, a.Function, versionName(al.FunctionVersion), shareText(w), v)
		case !ok:
			for ov, ow := range got {
				return Failf("alias %s of %s sends %s of its traffic to version %s; the lab wants %s on version %s",
					a.Alias, a.Function, shareText(ow), ov, shareText(w), v)
			}
		case math.Abs(gw-w) > tol:
			return Failf("alias %s of %s sends %s of its traffic to version %s; the lab wants %s",
				a.Alias, a.Function, shareText(gw), v, shareText(w))
		}
	}
	return nil
}

// expectConcurrencyArgs are expect_concurrency's fields.
type expectConcurrencyArgs struct {
	Function    string               `yaml:"function" lab:"function"`
	Reserved    *int                 `yaml:"reserved"`
	ReservedMax *int                 `yaml:"reserved_max"`
	Provisioned *provisionedExpected `yaml:"provisioned"`
}

// provisionedExpected is the provisioned concurrency a version or alias
// must have requested.
type provisionedExpected struct {
	Qualifier string `yaml:"qualifier"`
	Count     int    `yaml:"count"`
}

// Validate checks the fields the loader can.
func (a *expectConcurrencyArgs) Validate() error {
	if a.Function == "" {
		return errors.New("function is required")
	}
	if p := a.Provisioned; p != nil && (p.Qualifier == "" || p.Qualifier == "$LATEST") {
		return errors.New("provisioned: qualifier must name a version or an alias (Lambda keeps no provisioned instances of $LATEST)")
	}
	if p := a.Provisioned; p != nil && p.Count < 1 {
		return errors.New("provisioned: count must be at least 1")
	}
	return nil
}

func runExpectConcurrency(ctx context.Context, env *Env, a *expectConcurrencyArgs) error {
	if a.Reserved != nil || a.ReservedMax != nil {
		c, err := env.Lambda.GetFunctionConcurrency(ctx, env.Account, a.Function)
		if err != nil {
			return inspectRefusal(err, "function "+a.Function)
		}
		r := c.ReservedConcurrentExecutions
		switch {
		case a.Reserved != nil && r == nil:
			return Failf("%s has no reserved concurrency; the lab wants %d", a.Function, *a.Reserved)
		case a.Reserved != nil && *r != *a.Reserved:
			return Failf("%s has a reserved concurrency of %d; the lab wants %d", a.Function, *r, *a.Reserved)
		case a.ReservedMax != nil && r == nil:
			return Failf("%s has no reserved concurrency, so it may use the whole account's concurrency; the lab wants at most %d", a.Function, *a.ReservedMax)
		case a.ReservedMax != nil && *r > *a.ReservedMax:
			return Failf("%s has a reserved concurrency of %d; the lab wants at most %d", a.Function, *r, *a.ReservedMax)
		}
	}
	if p := a.Provisioned; p != nil {
		name := qualified(a.Function, p.Qualifier)
		pc, err := env.Lambda.GetProvisionedConcurrencyConfig(ctx, env.Account, a.Function, p.Qualifier)
		if le, ok := lambda.AsError(err); ok && le.Type == "ProvisionedConcurrencyConfigNotFoundException" {
			msg := fmt.Sprintf("%s has no provisioned concurrency; the lab wants %d", name, p.Count)
			if list, lerr := env.Lambda.ListProvisionedConcurrencyConfigs(ctx, env.Account, a.Function); lerr == nil && len(list.ProvisionedConcurrencyConfigs) > 0 {
				var on []string
				for _, c := range list.ProvisionedConcurrencyConfigs {
					_, q, _ := cutLast(c.FunctionArn, ":")
					on = append(on, fmt.Sprintf("%d on %s", c.RequestedProvisionedConcurrentExecutions, q))
				}
				msg += fmt.Sprintf(" (%s has %s: it is set per version or alias)", a.Function, strings.Join(on, ", "))
			}
			return Failf("%s", msg)
		}
		if err != nil {
			return inspectRefusal(err, "function "+name)
		}
		if pc.Status == "FAILED" {
			return Failf("the provisioned concurrency of %s failed: %s", name, pc.StatusReason)
		}
		if pc.RequestedProvisionedConcurrentExecutions != p.Count {
			return Failf("%s has a provisioned concurrency of %d; the lab wants %d", name, pc.RequestedProvisionedConcurrentExecutions, p.Count)
		}
	}
	return nil
}

// expectTriggerArgs are expect_trigger's fields.
type expectTriggerArgs struct {
	Bucket    string   `yaml:"bucket" lab:"bucket"`
	Function  string   `yaml:"function" lab:"function"`
	Qualifier string   `yaml:"qualifier"`
	Events    []string `yaml:"events"`
}

// Validate checks the required fields.
func (a *expectTriggerArgs) Validate() error {
	if a.Bucket == "" || a.Function == "" {
		return errors.New("bucket and function are required")
	}
	for _, e := range a.Events {
		if !strings.HasPrefix(e, "s3:") {
			return fmt.Errorf("events: %q is not an S3 event type (s3:ObjectCreated:*)", e)
		}
	}
	return nil
}

// unqualifiedARN strips :$LATEST, which invokes what the bare ARN does.
func unqualifiedARN(arn string) string { return strings.TrimSuffix(arn, ":$LATEST") }

// targetText says what a function ARN invokes: "(no alias)", "(version
// 2)" or "(alias prod)".
func targetText(arn string) string {
	parts := strings.Split(unqualifiedARN(arn), ":")
	if len(parts) < 8 {
		return "(no alias)"
	}
	if isVersion(parts[7]) {
		return "(version " + parts[7] + ")"
	}
	return "(alias " + parts[7] + ")"
}

// wantedText says what the lab wants invoked: "the prod alias, ARN".
func wantedText(qualifier, arn string) string {
	switch {
	case qualifier == "" || qualifier == "$LATEST":
		return "the function itself, " + arn
	case isVersion(qualifier):
		return "version " + qualifier + ", " + arn
	}
	return "the " + qualifier + " alias, " + arn
}

// eventCovered reports whether a configured event pattern covers want
// (s3:ObjectCreated:* covers s3:ObjectCreated:Put).
func eventCovered(configured, want string) bool {
	if configured == want {
		return true
	}
	base, ok := strings.CutSuffix(configured, "*")
	return ok && strings.HasPrefix(want, base) && !strings.HasSuffix(want, "*")
}

// triggerFires reports whether a configuration's events cover every event
// wanted, or (none wanted) some s3:ObjectCreated event.
func triggerFires(events, wanted []string) bool {
	if len(wanted) == 0 {
		return slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "s3:ObjectCreated:") })
	}
	for _, w := range wanted {
		if !slices.ContainsFunc(events, func(e string) bool { return eventCovered(e, w) }) {
			return false
		}
	}
	return true
}

func runExpectTrigger(ctx context.Context, env *Env, a *expectTriggerArgs) error {
	want := env.FunctionARN(a.Function, a.Qualifier)
	if a.Qualifier == "$LATEST" {
		want = env.FunctionARN(a.Function, "")
	}
	out, err := env.S3.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String(a.Bucket)})
	if err != nil {
		if s3Code(err) == "NoSuchBucket" {
			return Failf("bucket %s does not exist", a.Bucket)
		}
		return fmt.Errorf("notification configuration of %s: %w", a.Bucket, err)
	}
	if len(out.LambdaFunctionConfigurations) == 0 {
		return Failf("bucket %s has no trigger that invokes a Lambda function; the lab wants one that invokes %s", a.Bucket, wantedText(a.Qualifier, want))
	}
	// S3 allows several configurations for one target (other events,
	// other prefixes): together they must fire on what the lab wants.
	var same, others, firing []string
	matched := false
	for _, c := range out.LambdaFunctionConfigurations {
		arn := unqualifiedARN(aws.ToString(c.LambdaFunctionArn))
		if arn != want {
			if base := env.FunctionARN(a.Function, ""); arn == base || strings.HasPrefix(arn, base+":") {
				same = append(same, arn)
			} else {
				others = append(others, arn)
			}
			continue
		}
		matched = true
		for _, e := range c.Events {
			if !slices.Contains(firing, string(e)) {
				firing = append(firing, string(e))
			}
		}
	}
	if matched && triggerFires(firing, a.Events) {
		return nil
	}
	if matched {
		wanted := "when objects are created (s3:ObjectCreated:*)"
		if len(a.Events) > 0 {
			wanted = "on " + strings.Join(a.Events, " and ")
		}
		return Failf("the trigger on %s that invokes %s fires on %s; the lab wants it to fire %s", a.Bucket, want, listing(firing, 4), wanted)
	}
	if len(same) > 0 {
		return Failf("the trigger on %s invokes %s %s; the lab wants it to invoke %s", a.Bucket, same[0], targetText(same[0]), wantedText(a.Qualifier, want))
	}
	return Failf("the trigger on %s invokes %s; the lab wants it to invoke %s", a.Bucket, listing(others, 3), wantedText(a.Qualifier, want))
}

// expectPermissionArgs are expect_permission's fields.
type expectPermissionArgs struct {
	Function      string `yaml:"function" lab:"function"`
	Qualifier     string `yaml:"qualifier"`
	Principal     string `yaml:"principal"`
	SourceArn     string `yaml:"source_arn"`
	SourceAccount string `yaml:"source_account"`
}

// Validate checks the required fields.
func (a *expectPermissionArgs) Validate() error {
	if a.Function == "" || a.Principal == "" {
		return errors.New("function and principal are required")
	}
	return nil
}

// policyStatement is the part of a policy statement a message shows.
type policyStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    string                       `json:"Action"`
	Condition map[string]map[string]string `json:"Condition"`
}

func (s policyStatement) principal() string {
	switch p := s.Principal.(type) {
	case string:
		return p
	case map[string]any:
		for _, k := range []string{"Service", "AWS"} {
			if v, ok := p[k].(string); ok {
				return v
			}
		}
	}
	return fmt.Sprint(s.Principal)
}

func (s policyStatement) text() string {
	t := s.Sid + ": " + s.principal()
	if v := s.Condition["ArnLike"]["AWS:SourceArn"]; v != "" {
		t += " from " + v
	}
	if v := s.Condition["StringEquals"]["AWS:SourceAccount"]; v != "" {
		t += " in account " + v
	}
	return t
}

// statementsOf reads the statements of a function's (or qualifier's)
// policy; none when it has no policy.
func statementsOf(ctx context.Context, env *Env, function, qualifier string) ([]policyStatement, error) {
	pol, err := env.Lambda.GetPolicy(ctx, env.Account, function, qualifier)
	if err != nil {
		if le, ok := lambda.AsError(err); ok && le.Type == "ResourceNotFoundException" && le.Message == "The resource you requested does not exist." {
			return nil, nil
		}
		return nil, inspectRefusal(err, "function "+qualified(function, qualifier))
	}
	var doc struct {
		Statement []policyStatement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(pol.Policy), &doc); err != nil {
		return nil, fmt.Errorf("policy of %s: %w", qualified(function, qualifier), err)
	}
	return doc.Statement, nil
}

// allows reports whether the policy of function:qualifier lets the
// principal invoke it for a, as Lambda evaluates it; without a source ARN
// in a, any statement for the principal will do.
func allows(ctx context.Context, env *Env, a *expectPermissionArgs, qualifier string) (bool, error) {
	account := a.SourceAccount
	if account == "" {
		account = env.Account // S3 calls on behalf of the bucket's owner
	}
	if a.SourceArn != "" {
		return env.Lambda.ServiceAllowed(ctx, env.Account, env.FunctionARN(a.Function, qualifier), a.Principal, a.SourceArn, account)
	}
	sts, err := statementsOf(ctx, env, a.Function, qualifier)
	if err != nil {
		return false, err
	}
	for _, s := range sts {
		p := s.principal()
		if s.Effect == "Allow" && (p == a.Principal || p == "*") && slices.Contains([]string{"lambda:InvokeFunction", "lambda:*", "*"}, s.Action) {
			if v, ok := s.Condition["StringEquals"]["AWS:SourceAccount"]; !ok || v == account {
				return true, nil
			}
		}
	}
	return false, nil
}

func runExpectPermission(ctx context.Context, env *Env, a *expectPermissionArgs) error {
	name := qualified(a.Function, a.Qualifier)
	if _, err := env.Lambda.GetFunctionConfiguration(ctx, env.Account, a.Function, a.Qualifier); err != nil {
		return inspectRefusal(err, "function "+name)
	}
	ok, err := allows(ctx, env, a, a.Qualifier)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	what := a.Principal
	if a.SourceArn != "" {
		what += " (for " + a.SourceArn + ")"
	}
	arn := env.FunctionARN(a.Function, a.Qualifier)
	if a.Qualifier != "" {
		if elsewhere, err := allows(ctx, env, a, ""); err == nil && elsewhere {
			return Failf("the permission for %s is on %s without a qualifier, but %s has a resource policy of its own: add the permission with the qualifier %s",
				what, env.FunctionARN(a.Function, ""), arn, a.Qualifier)
		}
	}
	sts, err := statementsOf(ctx, env, a.Function, a.Qualifier)
	if err != nil {
		return err
	}
	if len(sts) == 0 {
		return Failf("%s may not invoke %s: it has no resource-based policy", what, arn)
	}
	var texts []string
	for _, s := range sts {
		texts = append(texts, s.text())
	}
	return Failf("%s may not invoke %s: no statement of its policy allows it (statements: %s)", what, arn, strings.Join(texts, "; "))
}
