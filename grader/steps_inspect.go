package grader

// The inspection step kinds (checks.yaml only): they look at the scratch
// account after the learner's code and actions ran, and fail with a
// message naming the first thing that is not as the lab wants. This file
// has the kinds' table, the helpers they share and the S3 inspections;
// inspect_*.go have the rest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/lambda"
	"lambdalab/labs"
	"lambdalab/store"
)

var inspectKinds = map[string]Kind{
	"expect_object":      inspectKind(runExpectObject),
	"expect_no_object":   inspectKind(runExpectNoObject),
	"expect_no_writes":   inspectKind(runExpectNoWrites),
	"expect_config":      inspectKind(runExpectConfig),
	"expect_versions":    inspectKind(runExpectVersions),
	"expect_alias":       inspectKind(runExpectAlias),
	"expect_concurrency": inspectKind(runExpectConcurrency),
	"expect_trigger":     inspectKind(runExpectTrigger),
	"expect_permission":  inspectKind(runExpectPermission),
	"expect_records":     inspectKind(runExpectRecords),
	"expect_trace":       inspectKind(runExpectTrace),
	"answer":             inspectKind(runAnswer),
}

// inspectKind makes a checks-only kind whose arguments are a *T.
func inspectKind[T any](run func(ctx context.Context, env *Env, a *T) error) Kind {
	return Kind{
		StepKind: labs.StepKind{Args: func() any { return new(T) }, Where: labs.InChecks},
		Run: func(ctx context.Context, env *Env, args any) error {
			a, ok := args.(*T)
			if !ok {
				return fmt.Errorf("step arguments are %T, want %T", args, new(T))
			}
			return run(ctx, env, a)
		},
	}
}

// pollEvery is how often a step that waits looks again.
const pollEvery = 75 * time.Millisecond

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inspectRefusal turns a Lambda API refusal met while inspecting into a
// failure saying what was looked at; anything else is the platform's.
func inspectRefusal(err error, what string) error {
	if le, ok := lambda.AsError(err); ok {
		if le.Type == "ResourceNotFoundException" {
			return Failf("%s does not exist (%s: %s)", what, le.Type, le.Message)
		}
		return Failf("reading %s was refused: %s: %s", what, le.Type, le.Message)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// s3Code is the S3 error code of err ("NoSuchKey"), or "".
func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// countOf says "1 object" or "3 objects".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// listing joins up to max names and says how many more there are.
func listing(names []string, max int) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// maxQuote bounds what a message quotes of a body.
const maxQuote = 200

// quoteBytes quotes b, cut to about maxQuote bytes on a rune boundary.
func quoteBytes(b []byte) string {
	if len(b) <= maxQuote {
		return strconv.Quote(string(b))
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + "…"
}

// quoteAround quotes up to about maxQuote bytes of body around [from, to).
func quoteAround(body []byte, from, to int) string {
	lo := max(0, from-maxQuote/2)
	hi := min(len(body), max(to, from)+maxQuote/2)
	for lo > 0 && !utf8.RuneStart(body[lo]) {
		lo--
	}
	for hi < len(body) && !utf8.RuneStart(body[hi]) {
		hi++
	}
	q := strconv.Quote(string(body[lo:hi]))
	if lo > 0 {
		q = "…" + q
	}
	if hi < len(body) {
		q += "…"
	}
	return q
}

// lineAt is the 1-based line number of byte offset i, and that line
// quoted (cut around i when long).
func lineAt(body []byte, i int) (int, string) {
	n := bytes.Count(body[:i], []byte("\n")) + 1
	start := bytes.LastIndexByte(body[:i], '\n') + 1
	end := len(body)
	if j := bytes.IndexByte(body[i:], '\n'); j >= 0 {
		end = i + j
	}
	line := body[start:end]
	if len(line) <= maxQuote {
		return n, strconv.Quote(string(line))
	}
	return n, quoteAround(line, i-start, i-start)
}

// lineCount counts lines as `wc -l` would, plus a last line without a
// newline.
func lineCount(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// sizeText shows a byte count in Lambda's KB and MB (KiB, MiB) with the
// exact count.
func sizeText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%.1f MB (%d bytes)", float64(n)/(1<<20), n)
}

// expectObjectArgs are expect_object's fields: the object must exist
// (within Within) and its body pass every test given.
type expectObjectArgs struct {
	Bucket      string        `yaml:"bucket" lab:"bucket"`
	Key         string        `yaml:"key"`
	Within      labs.Duration `yaml:"within"`
	Equals      *string       `yaml:"equals"`
	Contains    []string      `yaml:"contains"`
	NotContains []string      `yaml:"not_contains"`
	Matches     []string      `yaml:"matches" lab:"regexp"`
	NotMatches  []string      `yaml:"not_matches" lab:"regexp"`
	JSONEquals  any           `yaml:"json_equals"`
	Empty       *bool         `yaml:"empty"`
	MinSize     *int64        `yaml:"min_size"`
	Lines       *int          `yaml:"lines"`
}

// Validate checks the fields the loader can.
func (a *expectObjectArgs) Validate() error {
	if a.Bucket == "" || a.Key == "" {
		return errors.New("bucket and key are required")
	}
	for _, re := range slices.Concat(a.Matches, a.NotMatches) {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("regular expression %q: %w", re, err)
		}
	}
	if a.MinSize != nil && *a.MinSize < 0 {
		return errors.New("min_size must not be negative")
	}
	if a.Lines != nil && *a.Lines < 0 {
		return errors.New("lines must not be negative")
	}
	if a.Empty != nil && *a.Empty && (a.MinSize != nil && *a.MinSize > 0 || a.Lines != nil && *a.Lines > 0 || len(a.Contains) > 0) {
		return errors.New("empty: true contradicts min_size, lines or contains")
	}
	return nil
}

func runExpectObject(ctx context.Context, env *Env, a *expectObjectArgs) error {
	body, found, err := waitObject(ctx, env, a.Bucket, a.Key, a.Within.D())
	if err != nil {
		return err
	}
	name := a.Bucket + "/" + a.Key
	if !found {
		if a.Within > 0 {
			return Failf("no object %s appeared in bucket %s within %s", a.Key, a.Bucket, a.Within.D())
		}
		return Failf("there is no object %s in bucket %s", a.Key, a.Bucket)
	}
	return judgeBody(name, body, a)
}

// waitObject reads bucket/key, waiting up to within for it to exist. A
// bucket that does not exist fails the step.
func waitObject(ctx context.Context, env *Env, bucket, key string, within time.Duration) ([]byte, bool, error) {
	deadline := time.Now().Add(within)
	for {
		out, err := env.S3.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			body, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil {
				return nil, false, fmt.Errorf("read object %s/%s: %w", bucket, key, rerr)
			}
			return body, true, nil
		}
		switch s3Code(err) {
		case "NoSuchKey":
		case "NoSuchBucket":
			return nil, false, Failf("bucket %s does not exist", bucket)
		default:
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, fmt.Errorf("get object %s/%s: %w", bucket, key, err)
		}
		if !time.Now().Before(deadline) {
			return nil, false, nil
		}
		if err := pause(ctx, min(pollEvery, time.Until(deadline))); err != nil {
			return nil, false, err
		}
	}
}

// judgeBody applies expect_object's tests to the body of the object name.
func judgeBody(name string, body []byte, a *expectObjectArgs) error {
	if a.Equals != nil {
		if msg := textDiff(body, []byte(*a.Equals)); msg != "" {
			return Failf("%s is not what was expected: %s", name, msg)
		}
	}
	if a.JSONEquals != nil {
		var got any
		if err := json.Unmarshal(body, &got); err != nil {
			return Failf("%s is not JSON (%v); it begins %s", name, err, quoteBytes(body))
		}
		want, err := jsonValue(a.JSONEquals)
		if err != nil {
			return fmt.Errorf("json_equals of %s: %w", name, err)
		}
		if msg := jsonDiff("", got, want); msg != "" {
			return Failf("%s does not hold the expected JSON: %s", name, msg)
		}
	}
	if a.Empty != nil {
		if *a.Empty && len(body) > 0 {
			return Failf("%s should be empty but has %s; it begins %s", name, sizeText(int64(len(body))), quoteBytes(body))
		}
		if !*a.Empty && len(body) == 0 {
			return Failf("%s is empty", name)
		}
	}
	if a.MinSize != nil && int64(len(body)) < *a.MinSize {
		return Failf("%s has only %s; at least %s were expected", name, sizeText(int64(len(body))), sizeText(*a.MinSize))
	}
	if a.Lines != nil {
		if n := lineCount(body); n != *a.Lines {
			return Failf("%s has %s; %d were expected", name, countOf(n, "line", "lines"), *a.Lines)
		}
	}
	for _, s := range a.Contains {
		if !bytes.Contains(body, []byte(s)) {
			if len(body) == 0 {
				return Failf("%s does not contain %q: it is empty", name, s)
			}
			return Failf("%s does not contain %q; it begins %s", name, s, quoteBytes(body))
		}
	}
	for _, s := range a.NotContains {
		if i := bytes.Index(body, []byte(s)); s != "" && i >= 0 {
			n, line := lineAt(body, i)
			return Failf("%s still contains %q (line %d: %s)", name, s, n, line)
		}
	}
	for _, expr := range a.Matches {
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("regular expression %q: %w", expr, err)
		}
		if !re.Match(body) {
			return Failf("%s has nothing matching /%s/; it begins %s", name, expr, quoteBytes(body))
		}
	}
	for _, expr := range a.NotMatches {
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("regular expression %q: %w", expr, err)
		}
		if loc := re.FindIndex(body); loc != nil {
			n, line := lineAt(body, loc[0])
			return Failf("%s still has %s matching /%s/ (line %d: %s)", name, quoteBytes(body[loc[0]:loc[1]]), expr, n, line)
		}
	}
	return nil
}

// textDiff says where got first differs from want, by line; "" when equal.
func textDiff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	n, _ := lineAt(got, min(i, len(got)))
	gotLine, wantLine := lineBytes(got, i), lineBytes(want, i)
	switch {
	case i == len(got):
		return fmt.Sprintf("it ends at line %d where more was expected: %s", n, quoteAround(want, i, i))
	case i == len(want):
		return fmt.Sprintf("it goes on after the expected end, at line %d: %s", n, quoteAround(got, i, i))
	}
	return fmt.Sprintf("line %d is %s, expected %s", n, gotLine, wantLine)
}

// lineBytes quotes the line of b that holds offset i (cut around i).
func lineBytes(b []byte, i int) string {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := len(b)
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		end = i + j
	}
	line := b[start:end]
	if len(line) <= maxQuote {
		return strconv.Quote(string(line))
	}
	return quoteAround(line, i-start, i-start)
}

// jsonValue turns a YAML value into what encoding/json decodes, so that
// numbers are float64 and maps map[string]any on both sides.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// jsonDiff says where got first differs from want ("at .items[2].name
// found 3, expected 4"); "" when they are equal.
func jsonDiff(path string, got, want any) string {
	at := path
	if at == "" {
		at = "the top"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("at %s found %s, expected an object", at, jsonText(got))
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s has no field %q", at, k)
			}
			if msg := jsonDiff(path+"."+k, gv, w[k]); msg != "" {
				return msg
			}
		}
		var extra []string
		for k := range g {
			if _, ok := w[k]; !ok {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			return fmt.Sprintf("%s has %s not expected: %s", at, countOf(len(extra), "field", "fields"), listing(extra, 3))
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("at %s found %s, expected a list", at, jsonText(got))
		}
		for i := range min(len(g), len(w)) {
			if msg := jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); msg != "" {
				return msg
			}
		}
		if len(g) != len(w) {
			return fmt.Sprintf("the list at %s has %d items, expected %d", at, len(g), len(w))
		}
		return ""
	}
	if fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprintf("%T", got) == fmt.Sprintf("%T", want) {
		return ""
	}
	return fmt.Sprintf("at %s found %s, expected %s", at, jsonText(got), jsonText(want))
}

// jsonText shows a JSON value briefly.
func jsonText(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	if len(b) > maxQuote {
		return string(b[:maxQuote]) + "…"
	}
	return string(b)
}

// expectNoObjectArgs are expect_no_object's fields.
type expectNoObjectArgs struct {
	Bucket string        `yaml:"bucket" lab:"bucket"`
	Key    string        `yaml:"key"`
	For    labs.Duration `yaml:"for"`
}

// Validate checks the required fields.
func (a *expectNoObjectArgs) Validate() error {
	if a.Bucket == "" || a.Key == "" {
		return errors.New("bucket and key are required")
	}
	return nil
}

func runExpectNoObject(ctx context.Context, env *Env, a *expectNoObjectArgs) error {
	watch := a.For.D()
	if watch == 0 {
		watch = time.Second
	}
	deadline := time.Now().Add(watch)
	for {
		_, err := env.S3.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(a.Key)})
		if err == nil {
			return Failf("an object %s appeared in bucket %s, where none should be written", a.Key, a.Bucket)
		}
		// HEAD answers carry no error body: a missing key or bucket is a
		// plain 404 ("NotFound"), which is what is wanted here.
		if code := s3Code(err); code != "NotFound" && code != "NoSuchKey" && code != "NoSuchBucket" {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("head object %s/%s: %w", a.Bucket, a.Key, err)
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		if err := pause(ctx, min(pollEvery, time.Until(deadline))); err != nil {
			return err
		}
	}
}

// expectNoWritesArgs are expect_no_writes's fields.
type expectNoWritesArgs struct {
	Bucket string   `yaml:"bucket" lab:"bucket"`
	Since  string   `yaml:"since"`
	Except []string `yaml:"except"`
}

// Validate checks since.
func (a *expectNoWritesArgs) Validate() error {
	if a.Bucket == "" {
		return errors.New("bucket is required")
	}
	return validSince(a.Since)
}

func validSince(s string) error {
	if s != "" && s != "check" && s != "grading" {
		return fmt.Errorf("since is %q: write check or grading", s)
	}
	return nil
}

// sinceTime is the instant a since field names, and how a message says it.
func sinceTime(env *Env, since, def string) (time.Time, string) {
	if since == "" {
		since = def
	}
	if since == "check" {
		return env.CheckStart, "since the check began"
	}
	return env.GradingStart, "since grading began"
}

func runExpectNoWrites(ctx context.Context, env *Env, a *expectNoWritesArgs) error {
	since, when := sinceTime(env, a.Since, "grading")
	// S3 keeps LastModified to the millisecond.
	from := since.Truncate(time.Millisecond)
	var written []string
	p := s3sdk.NewListObjectsV2Paginator(env.S3, &s3sdk.ListObjectsV2Input{Bucket: aws.String(a.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if s3Code(err) == "NoSuchBucket" {
				return Failf("bucket %s does not exist", a.Bucket)
			}
			return fmt.Errorf("list bucket %s: %w", a.Bucket, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if o.LastModified == nil || o.LastModified.Before(from) || env.WroteItself(a.Bucket, key, aws.ToString(o.ETag)) || slices.Contains(a.Except, key) {
				continue
			}
			written = append(written, key)
		}
	}
	if len(written) == 0 {
		return nil
	}
	msg := fmt.Sprintf("your code wrote %s into bucket %s %s, where it should write nothing: %s",
		countOf(len(written), "object", "objects"), a.Bucket, when, listing(written, 3))
	stopped, err := recursionStopped(ctx, env, a.Bucket, since)
	if err != nil {
		return err
	}
	if len(stopped) > 0 {
		msg += fmt.Sprintf(". Lambda detected a recursive loop (S3 → function %s → the same bucket) and stopped it, as its recursive loop detection does",
			strings.Join(stopped, ", "))
	}
	return Failf("%s", msg)
}

// recursionStopped names the functions that bucket's notifications invoke
// (and the lab's functions) of which Lambda stopped a recursive loop since,
// once they are quiet (quietRecords): it is only asked when writes were
// found, so a loop they started is usually still running.
func recursionStopped(ctx context.Context, env *Env, bucket string, since time.Time) ([]string, error) {
	var names []string
	if out, err := env.S3.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)}); err == nil {
		for _, c := range out.LambdaFunctionConfigurations {
			if name := functionNameOf(aws.ToString(c.LambdaFunctionArn)); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if env.Lab != nil {
		for _, f := range env.Lab.Functions {
			if !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	var stopped []string
	for _, name := range names {
		recs, err := quietRecords(ctx, env, name, since)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(recs, func(r store.Invocation) bool { return r.Outcome == "recursion-stopped" }) {
			stopped = append(stopped, name)
		}
	}
	return stopped, nil
}

// functionNameOf is the function name in a Lambda function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]).
func functionNameOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[5] != "function" {
		return ""
	}
	return parts[6]
}
