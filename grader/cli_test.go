package grader

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI is Debian's AWS CLI v2 (a pip-installed v1 may come first on PATH).
const awsCLI = "/usr/bin/aws"

func requireAWSCLI(t *testing.T) {
	t.Helper()
	out, err := exec.Command(awsCLI, "--version").CombinedOutput()
	if err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
		return
	}
	msg := fmt.Sprintf("the AWS CLI v2 is needed at %s (make deps installs it): %v %s", awsCLI, err, out)
	if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestGradeAccountBuiltWithAWSCLI is the S3 transform lab done as a student
// does it: every resource made with the real AWS CLI against the endpoint,
// following the lab's instructions, then the learner's account graded. It
// fails while the trigger is missing (and says which check), and passes
// once the student adds it.
func TestGradeAccountBuiltWithAWSCLI(t *testing.T) {
	requireAWSCLI(t)
	st := newStack(t)
	ctx := context.Background()
	srv := httptest.NewServer(st.endpoint)
	t.Cleanup(srv.Close)
	lab := embeddedLab(t, "s3-transform")
	user, err := st.db.CreateUser(ctx, "cli@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.db.AccountKeys(ctx, user.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app, err := fs.ReadFile(lab.FS, "solution/app.py")
	if err != nil {
		t.Fatal(err)
	}
	writeZip(t, filepath.Join(dir, "function.zip"), "app.py", app)
	acct := user.AccountID
	notification := `{"LambdaFunctionConfigurations": [{"Id": "mask-uploads",
	  "LambdaFunctionArn": "arn:aws:lambda:us-east-1:` + acct + `:function:mask-logs", "Events": ["s3:ObjectCreated:*"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "notification.json"), []byte(notification), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.log"), []byte("login ann@example.com card 4111 1111 1111 1111\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aws := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", srv.URL}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+keys[0].ID, "AWS_SECRET_ACCESS_KEY="+keys[0].Secret,
			"AWS_SESSION_TOKEN=", "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	aws("s3", "mb", "s3://raw-logs")
	aws("s3", "mb", "s3://masked-logs")
	aws("lambda", "create-function", "--function-name", "mask-logs", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", "arn:aws:iam::"+acct+":role/mask-logs", "--memory-size", "256", "--timeout", "30",
		"--environment", "Variables={DEST_BUCKET=masked-logs}", "--zip-file", "fileb://function.zip")
	aws("lambda", "add-permission", "--function-name", "mask-logs", "--statement-id", "s3-raw-logs",
		"--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
		"--source-arn", "arn:aws:s3:::raw-logs", "--source-account", acct)

	rep, err := st.grader.Grade(ctx, lab, Submission{Account: acct}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Fail || statusOf(rep, "trigger") != Fail || statusOf(rep, "permission") != Pass {
		t.Fatalf("without the trigger: %s", describe(rep))
	}

	aws("s3api", "put-bucket-notification-configuration", "--bucket", "raw-logs", "--notification-configuration", "file://notification.json")
	aws("s3", "cp", "test.log", "s3://raw-logs/test/test.log")
	rep, err = st.grader.Grade(ctx, lab, Submission{Account: acct}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != Pass {
		t.Fatalf("with the trigger: %s", describe(rep))
	}
	// The student's own upload was masked in their own account, and
	// grading wrote nothing there: only that one copy is in masked-logs.
	if got := aws("s3", "ls", "s3://masked-logs", "--recursive"); strings.Count(strings.TrimSpace(got), "\n") != 0 || !strings.Contains(got, "test/test.log") {
		t.Errorf("masked-logs of the learner after grading:\n%s", got)
	}
}

func statusOf(rep *Report, id string) Status {
	for _, c := range rep.Checks {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

func writeZip(t *testing.T, path, name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
