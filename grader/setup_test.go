package grader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/labs"
)

// starterSha is the CodeSha256 Lambda gives a function made from the
// starter's code folder for fn.
func starterSha(t *testing.T, lab *labs.Lab, fn labs.Function) string {
	t.Helper()
	sub, err := fs.Sub(lab.FS, lab.Starter.Dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := fn.Code
	if dir == "" {
		dir = "."
	}
	zip, err := zipPackage(zipTree{sub, dir})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// accountObjects is every object of the account's buckets: bucket/key → body.
func accountObjects(t *testing.T, c *s3sdk.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	buckets, err := c.ListBuckets(ctx, &s3sdk.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets.Buckets {
		out[aws.ToString(b.Name)+"/"] = ""
		list, err := c.ListObjectsV2(ctx, &s3sdk.ListObjectsV2Input{Bucket: b.Name})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Contents {
			got, err := c.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: b.Name, Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(got.Body)
			got.Body.Close()
			out[aws.ToString(b.Name)+"/"+aws.ToString(o.Key)] = string(body)
		}
	}
	return out
}

// TestSetUpGivesWhatIsMissing: SetUp makes the lab's buckets, seeds and
// functions (from the starter, with the lab's configuration) in a learner's
// account; what the learner made stays as they made it, and a second SetUp
// changes nothing.
func TestSetUpGivesWhatIsMissing(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	lab := embeddedLab(t, "s3-transform")
	u, err := st.db.CreateUser(ctx, "learner@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.db.AccountKeys(ctx, u.AccountID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of the learner: %v, %v", keys, err)
	}
	c := inproc.S3(st.endpoint, keys[len(keys)-1])
	// The learner made one of the lab's buckets already, and put their own
	// file where a seed object goes.
	if _, err := c.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String("raw-logs")}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"samples/hello.log": "mine\n", "notes/todo.txt": "also mine\n"} {
		if _, err := c.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("raw-logs"), Key: aws.String(key), Body: bytes.NewReader([]byte(body))}); err != nil {
			t.Fatal(err)
		}
	}

	if err := st.grader.SetUp(ctx, lab, u.AccountID); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	objects := accountObjects(t, c)
	if objects["raw-logs/samples/hello.log"] != "mine\n" || objects["raw-logs/notes/todo.txt"] != "also mine\n" {
		t.Errorf("the learner's objects changed: hello.log %q, todo.txt %q", objects["raw-logs/samples/hello.log"], objects["raw-logs/notes/todo.txt"])
	}
	for _, b := range lab.Resources.Buckets {
		if _, ok := objects[b.Name+"/"]; !ok {
			t.Errorf("bucket %s was not made", b.Name)
		}
		for _, o := range b.Objects {
			if _, ok := objects[b.Name+"/"+o.Key]; !ok {
				t.Errorf("seed object %s/%s was not put", b.Name, o.Key)
			}
		}
	}
	fn := lab.Functions[0]
	cfg, err := st.lambda.GetFunctionConfiguration(ctx, u.AccountID, fn.Name, "")
	if err != nil {
		t.Fatalf("the lab's function after SetUp: %v", err)
	}
	if cfg.Runtime != fn.Runtime || cfg.Handler != fn.Handler || cfg.MemorySize != fn.MemoryMB || cfg.Timeout != fn.TimeoutS {
		t.Errorf("function %s is %s %s %d MB %d s, want the lab's %s %s %d MB %d s", fn.Name,
			cfg.Runtime, cfg.Handler, cfg.MemorySize, cfg.Timeout, fn.Runtime, fn.Handler, fn.MemoryMB, fn.TimeoutS)
	}
	if want := starterSha(t, lab, fn); cfg.CodeSha256 != want {
		t.Errorf("function %s has code %s, want the starter's %s", fn.Name, cfg.CodeSha256, want)
	}
	if cfg.Environment == nil || cfg.Environment.Variables["DEST_BUCKET"] != fn.Environment["DEST_BUCKET"] {
		t.Errorf("function %s environment %+v, want the lab's %v", fn.Name, cfg.Environment, fn.Environment)
	}

	// The learner deploys their own code; setting up again keeps it and
	// every object as it is.
	mine, err := zipPackage(zipTree{files(map[string]string{"app.py": "def handler(e, c):\n    return 'mine'\n"}), "."})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := st.lambda.UpdateFunctionCode(ctx, u.AccountID, fn.Name, lambda.UpdateCodeInput{ZipFile: mine})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.grader.SetUp(ctx, lab, u.AccountID); err != nil {
		t.Fatalf("second SetUp: %v", err)
	}
	again, err := st.lambda.GetFunctionConfiguration(ctx, u.AccountID, fn.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.CodeSha256 != updated.CodeSha256 || again.RevisionID != updated.RevisionID {
		t.Errorf("second SetUp changed the learner's function: code %s rev %s, want %s rev %s", again.CodeSha256, again.RevisionID, updated.CodeSha256, updated.RevisionID)
	}
	after := accountObjects(t, c)
	if len(after) != len(objects) {
		t.Errorf("second SetUp changed the buckets: %d entries, then %d", len(objects), len(after))
	}
	for k, v := range objects {
		if after[k] != v {
			t.Errorf("second SetUp changed %s", k)
		}
	}
}

// TestSetUpCodeFolders: a lab whose functions keep their code in folders of
// the starter gets each function from its own folder.
func TestSetUpCodeFolders(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	lab := embeddedLab(t, "concurrency")
	u, err := st.db.CreateUser(ctx, "learner@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.grader.SetUp(ctx, lab, u.AccountID); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	var shas []string
	for _, fn := range lab.Functions {
		cfg, err := st.lambda.GetFunctionConfiguration(ctx, u.AccountID, fn.Name, "")
		if err != nil {
			t.Fatalf("function %s after SetUp: %v", fn.Name, err)
		}
		if want := starterSha(t, lab, fn); cfg.CodeSha256 != want {
			t.Errorf("function %s has code %s, want its starter folder %s's %s", fn.Name, cfg.CodeSha256, fn.Code, want)
		}
		shas = append(shas, cfg.CodeSha256)
	}
	if len(shas) != 2 || shas[0] == shas[1] {
		t.Errorf("the two functions' code: %v, want two different packages", shas)
	}
}
