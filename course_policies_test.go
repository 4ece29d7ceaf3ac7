package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lessonAccount is the account id the lessons write; the test puts the
// learner's own account in its place, as the lessons tell readers to.
const lessonAccount = "123456789012"

// permissionExample is one `aws lambda add-permission` command of a lesson
// (a ```sh block) and the policy or statement the lesson shows for it (the
// ```json block right after).
type permissionExample struct {
	file    string
	line    int
	flags   map[string]string
	want    string // JSON: a whole policy document or one statement
	wantDoc bool   // want is a whole document (it has a Statement list)
}

// fence is one fenced code block of a Markdown file.
type fence struct {
	info, body string
	line       int // of the opening fence
}

func fences(text string) []fence {
	var out []fence
	var cur *fence
	var body []string
	for i, line := range strings.Split(text, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: i + 1}
			body = nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.body = strings.Join(body, "\n")
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	return out
}

// addPermissionFlags reads the one add-permission command of a sh block:
// continuation lines joined, comments dropped, --flag value pairs. The
// lessons quote nothing, so a quote is an error rather than a shell to
// emulate.
func addPermissionFlags(body string) (map[string]string, error) {
	var words []string
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, `'"`) {
			return nil, fmt.Errorf("quoted words are not supported: %s", line)
		}
		words = append(words, strings.Fields(strings.TrimSuffix(line, `\`))...)
	}
	if len(words) < 3 || strings.Join(words[:3], " ") != "aws lambda add-permission" {
		return nil, fmt.Errorf("not one aws lambda add-permission command: %q", body)
	}
	flags := map[string]string{}
	rest := words[3:]
	for len(rest) > 0 {
		if len(rest) < 2 || !strings.HasPrefix(rest[0], "--") {
			return nil, fmt.Errorf("expected --flag value, got %q", rest)
		}
		name := strings.TrimPrefix(rest[0], "--")
		if _, dup := flags[name]; dup {
			return nil, fmt.Errorf("--%s given twice", name)
		}
		flags[name] = rest[1]
		rest = rest[2:]
	}
	return flags, nil
}

// permissionExamples collects the add-permission examples of every lesson
// matching glob.
func permissionExamples(t *testing.T, glob string) []permissionExample {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no lessons match %s (%v)", glob, err)
	}
	var out []permissionExample
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fs := fences(string(text))
		for i, f := range fs {
			if !strings.Contains(f.body, "aws lambda add-permission") {
				continue
			}
			if f.info != "sh" {
				t.Errorf("%s:%d: an add-permission example in a ```%s block; write it as ```sh so this test runs it", file, f.line, f.info)
				continue
			}
			flags, err := addPermissionFlags(f.body)
			if err != nil {
				t.Errorf("%s:%d: %v", file, f.line, err)
				continue
			}
			if i+1 == len(fs) || fs[i+1].info != "json" {
				t.Errorf("%s:%d: the add-permission example is not followed by a ```json block showing its statement", file, f.line)
				continue
			}
			want := fs[i+1].body
			if strings.Contains(f.body+want, "{{") {
				t.Errorf("%s:%d: a placeholder in a policy example; this test reads the Markdown as written", file, f.line)
				continue
			}
			var probe map[string]any
			if err := json.Unmarshal([]byte(want), &probe); err != nil {
				t.Errorf("%s:%d: the statement shown is not JSON: %v", file, fs[i+1].line, err)
				continue
			}
			_, doc := probe["Statement"]
			out = append(out, permissionExample{file: file, line: f.line, flags: flags, want: want, wantDoc: doc})
		}
	}
	return out
}

// jsonValue decodes s with the lesson's account replaced by account.
func jsonValue(t *testing.T, s, account string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(s, lessonAccount, account)), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

var functionARNAccount = regexp.MustCompile(`^arn:aws:lambda:[a-z0-9-]+:(\d{12}):function:`)

// TestCoursePolicies runs every add-permission example of the security
// lessons against the emulated Lambda service through the AWS SDK for Go
// v2, and checks that AddPermission and GetPolicy answer with the statement
// (or the whole policy) the lesson prints after it. For a grant to S3 it
// also checks what the lesson's note promises: the bucket's notification
// configuration is refused before the statement exists and accepted after.
// No function runs, so the sandbox stays off and Docker is not needed.
func TestCoursePolicies(t *testing.T) {
	examples := permissionExamples(t, filepath.Join("content", "course", "security", "*.md"))
	if len(examples) < 3 {
		t.Fatalf("found %d add-permission examples in the security lessons, want at least 3 (S3, EventBridge, another account)", len(examples))
	}
	data := t.TempDir()
	s := startServe(t, data)
	if s.AWSURL == "" {
		t.Fatalf("no aws endpoint line in the log:\n%s", s.Logs)
	}
	keys := addUser(t, data, "policies@example.com")
	c := lambdaClient(s.AWSURL, keys)
	sc := s3Client(s.AWSURL, keys)
	ctx := context.Background()

	account := ""
	created := map[string]bool{}
	for _, ex := range examples {
		where := fmt.Sprintf("%s:%d", ex.file, ex.line)
		fn, qualifier := ex.flags["function-name"], ex.flags["qualifier"]
		if fn == "" {
			t.Fatalf("%s: no --function-name", where)
		}
		if !created[fn] {
			arn := createPython(t, c, fn, 128, 3, "def handler(event, context):\n    return event\n")
			m := functionARNAccount.FindStringSubmatch(arn)
			if m == nil {
				t.Fatalf("create %s answered ARN %q", fn, arn)
			}
			account = m[1]
			created[fn] = true
		}
		if qualifier != "" && qualifier != "$LATEST" && !created[fn+":"+qualifier] {
			v, err := c.PublishVersion(ctx, &awslambda.PublishVersionInput{FunctionName: aws.String(fn)})
			if err != nil {
				t.Fatalf("%s: publish a version of %s: %v", where, fn, err)
			}
			if !regexp.MustCompile(`^\d+$`).MatchString(qualifier) {
				if _, err := c.CreateAlias(ctx, &awslambda.CreateAliasInput{FunctionName: aws.String(fn),
					Name: aws.String(qualifier), FunctionVersion: v.Version}); err != nil {
					t.Fatalf("%s: create alias %s: %v", where, qualifier, err)
				}
			}
			created[fn+":"+qualifier] = true
		}

		in := &awslambda.AddPermissionInput{FunctionName: aws.String(fn)}
		for name, v := range ex.flags {
			v := aws.String(strings.ReplaceAll(v, lessonAccount, account))
			switch name {
			case "function-name":
			case "qualifier":
				in.Qualifier = v
			case "statement-id":
				in.StatementId = v
			case "action":
				in.Action = v
			case "principal":
				in.Principal = v
			case "source-arn":
				in.SourceArn = v
			case "source-account":
				in.SourceAccount = v
			default:
				t.Fatalf("%s: --%s is not an option this test knows; add it here", where, name)
			}
		}
		// The lesson says S3 is held to the statement: without it the
		// bucket's notification configuration is refused, with it accepted.
		bucket, fromS3 := strings.CutPrefix(aws.ToString(in.SourceArn), "arn:aws:s3:::")
		fromS3 = fromS3 && aws.ToString(in.Principal) == "s3.amazonaws.com"
		notify := func() error {
			target := "arn:aws:lambda:us-east-1:" + account + ":function:" + fn
			if qualifier != "" {
				target += ":" + qualifier
			}
			_, err := sc.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
				Bucket: aws.String(bucket),
				NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{
					{LambdaFunctionArn: aws.String(target), Events: []s3types.Event{"s3:ObjectCreated:*"}},
				}},
			})
			return err
		}
		if fromS3 {
			if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
				t.Fatalf("%s: create bucket %s: %v", where, bucket, err)
			}
			if err := notify(); err == nil || !strings.Contains(err.Error(), "Unable to validate the following destination configurations") {
				t.Errorf("%s: S3 notification to %s before add-permission: %v, want it refused", where, fn, err)
			}
		}
		added, err := c.AddPermission(ctx, in)
		if err != nil {
			t.Errorf("%s: add-permission %v: %v", where, ex.flags, err)
			continue
		}
		got, err := c.GetPolicy(ctx, &awslambda.GetPolicyInput{FunctionName: aws.String(fn), Qualifier: in.Qualifier})
		if err != nil {
			t.Errorf("%s: get-policy of %s (qualifier %q): %v", where, fn, qualifier, err)
			continue
		}
		var doc struct {
			Version, Id string
			Statement   []json.RawMessage
		}
		if err := json.Unmarshal([]byte(aws.ToString(got.Policy)), &doc); err != nil {
			t.Errorf("%s: get-policy answered a Policy that is not JSON: %v\n%s", where, err, aws.ToString(got.Policy))
			continue
		}
		sid := aws.ToString(in.StatementId)
		var stmt any
		for _, raw := range doc.Statement {
			var st map[string]any
			json.Unmarshal(raw, &st)
			if st["Sid"] == sid {
				stmt = st
			}
		}
		if stmt == nil {
			t.Errorf("%s: get-policy has no statement %q:\n%s", where, sid, aws.ToString(got.Policy))
			continue
		}
		if ret := jsonValue(t, aws.ToString(added.Statement), account); !reflect.DeepEqual(ret, stmt) {
			t.Errorf("%s: add-permission answered statement\n%v\nbut get-policy holds\n%v", where, ret, stmt)
		}

		if fromS3 {
			if err := notify(); err != nil {
				t.Errorf("%s: S3 notification to %s after add-permission: %v", where, fn, err)
			}
		}

		if ex.wantDoc {
			gotDoc := jsonValue(t, aws.ToString(got.Policy), account)
			if want := jsonValue(t, ex.want, account); !reflect.DeepEqual(gotDoc, want) {
				t.Errorf("%s: get-policy answered\n%s\nthe lesson shows\n%s", where, aws.ToString(got.Policy), ex.want)
			}
			continue
		}
		if want := jsonValue(t, ex.want, account); !reflect.DeepEqual(stmt, want) {
			b, _ := json.Marshal(stmt)
			t.Errorf("%s: get-policy's statement %q is\n%s\nthe lesson shows\n%s", where, sid, b, ex.want)
		}
	}
}
