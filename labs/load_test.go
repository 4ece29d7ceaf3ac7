package labs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/tools/txtar"

	"lambdalab/labs"
)

// The fake step kinds: a few argument structs with the tags the real
// ones (package grader) use, enough to exercise every rule of the loader.

type createBucket struct {
	Bucket string `yaml:"bucket" lab:"bucket"`
}

type putObject struct {
	Bucket      string `yaml:"bucket" lab:"bucket"`
	Key         string `yaml:"key"`
	labs.Body   `yaml:",inline"`
	ContentType string `yaml:"content_type"`
}

func (a *putObject) Validate() error {
	if a.Key == "" {
		return errors.New("missing key")
	}
	return nil
}

type invokeExpect struct {
	OK             bool   `yaml:"ok"`
	ErrorType      string `yaml:"error_type"`
	PayloadMatches string `yaml:"payload_matches" lab:"regexp"`
}

type invoke struct {
	Function  string        `yaml:"function" lab:"function"`
	Qualifier string        `yaml:"qualifier"`
	Payload   any           `yaml:"payload"`
	Count     int           `yaml:"count"`
	Expect    *invokeExpect `yaml:"expect"`
}

type addPermission struct {
	Function      string `yaml:"function" lab:"function"`
	StatementID   string `yaml:"statement_id"`
	Principal     string `yaml:"principal"`
	SourceARN     string `yaml:"source_arn"`
	SourceAccount string `yaml:"source_account"`
}

type notification struct {
	Bucket    string `yaml:"bucket" lab:"bucket"`
	Functions []struct {
		Function string   `yaml:"function" lab:"function"`
		Events   []string `yaml:"events"`
		Prefix   string   `yaml:"prefix"`
		Suffix   string   `yaml:"suffix"`
	} `yaml:"functions"`
}

type publishLayer struct {
	Layer string `yaml:"layer"`
	Dir   string `yaml:"dir" lab:"dir"`
	Ready string `yaml:"ready" lab:"layer"`
}

type updateConfig struct {
	Function    string            `yaml:"function" lab:"function"`
	Memory      int               `yaml:"memory"`
	Layers      []string          `yaml:"layers" lab:"layer"`
	Environment map[string]string `yaml:"environment"`
}

type updateCode struct {
	Function string `yaml:"function" lab:"function"`
	Dir      string `yaml:"dir" lab:"dir"`
}

type sleep struct {
	Duration labs.Duration `yaml:"duration"`
}

func (a *sleep) Validate() error {
	if a.Duration <= 0 {
		return errors.New("missing duration, like 500ms")
	}
	return nil
}

type expectObject struct {
	Bucket   string        `yaml:"bucket" lab:"bucket"`
	Key      string        `yaml:"key"`
	Within   labs.Duration `yaml:"within"`
	Contains []string      `yaml:"contains"`
	Matches  []string      `yaml:"matches" lab:"regexp"`
}

type answer struct {
	Question  string   `yaml:"question" lab:"question"`
	Number    *float64 `yaml:"number"`
	Tolerance float64  `yaml:"tolerance"`
}

func kind[T any](where labs.Where) labs.StepKind {
	return labs.StepKind{Args: func() any { return new(T) }, Where: where}
}

var fakeKinds = map[string]labs.StepKind{
	"create_bucket":           kind[createBucket](labs.InBoth),
	"put_object":              kind[putObject](labs.InBoth),
	"invoke":                  kind[invoke](labs.InBoth),
	"add_permission":          kind[addPermission](labs.InBoth),
	"put_bucket_notification": kind[notification](labs.InBoth),
	"publish_layer":           kind[publishLayer](labs.InBoth),
	"update_config":           kind[updateConfig](labs.InBoth),
	"update_code":             kind[updateCode](labs.InActions), // InActions only to test the rule
	"sleep":                   kind[sleep](labs.InBoth),
	"expect_object":           kind[expectObject](labs.InChecks),
	"answer":                  kind[answer](labs.InChecks),
}

var testOptions = labs.Options{
	Kinds:       fakeKinds,
	Lesson:      func(slug string) bool { return slug == "events/s3-triggers" },
	ReadyLayers: func(name string) bool { return name == "xray-sdk" },
}

func readArchive(t *testing.T, file string) *txtar.Archive {
	t.Helper()
	a, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// overlay returns base's files with over's laid on top. Lines of over's
// comment "rm: PATH" remove PATH (or everything under it) first; the lines
// after "want:" are the problems Load must report, in order.
func overlay(base, over *txtar.Archive) (fstest.MapFS, []string) {
	fsys := fstest.MapFS{}
	for _, f := range base.Files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Data}
	}
	var want []string
	inWant := false
	for line := range strings.SplitSeq(string(over.Comment), "\n") {
		switch {
		case inWant:
			if line = strings.TrimSpace(line); line != "" {
				want = append(want, line)
			}
		case line == "want:":
			inWant = true
		case strings.HasPrefix(line, "rm: "):
			p := strings.TrimPrefix(line, "rm: ")
			for name := range fsys {
				if name == p || strings.HasPrefix(name, p+"/") {
					delete(fsys, name)
				}
			}
		}
	}
	for _, f := range over.Files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Data}
	}
	return fsys, want
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var le *labs.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error %v is not a *LoadError", err)
	}
	var got []string
	for _, p := range le.Problems {
		got = append(got, p.Error())
	}
	return got
}

func TestLoadGood(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	got, err := labs.Load(fsys, testOptions)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Load returned %d labs, want 1", len(got))
	}
	lab := got[0]
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v\nwant %#v", what, got, want)
		}
	}
	check("ID, Title, Lesson, Minutes", []any{lab.ID, lab.Title, lab.Lesson, lab.Minutes}, []any{"hello-s3", "Copy uploads", "events/s3-triggers", 20})
	check("Functions", lab.Functions, []labs.Function{
		{Name: "copier", Runtime: "python3.13", Handler: "app.handler", MemoryMB: 256, TimeoutS: 10, Code: ".",
			Environment: map[string]string{"DEST": "out-bucket", "SELF": "${arn:lambda:copier}"}},
		{Name: "greeter", Runtime: "nodejs20.x", Handler: "index.handler", MemoryMB: 128, TimeoutS: 3, Code: "web"},
	})
	check("Resources", lab.Resources, labs.Resources{
		Buckets: []labs.Bucket{
			{Name: "in-bucket", Objects: []labs.Object{
				{Key: "samples/a.txt", Body: labs.Body{Text: "hello\n"}},
				{Key: "samples/big.txt", Body: labs.Body{File: "seeds/big.txt"}},
				{Key: "samples/gen.txt", Body: labs.Body{Generate: &labs.Generate{Line: "x\n", Bytes: 100}}},
			}},
			{Name: "out-bucket"},
		},
		Layers: []string{"xray-sdk"},
	})
	check("Questions", lab.Questions, []labs.Question{{ID: "peak-rps", Text: "How many requests per second can it take?", Kind: "number", Unit: "requests per second"}})
	check("Limits", lab.Limits, labs.Limits{GradingTime: 120 * time.Second, Invokes: 500})
	check("Intro", lab.Intro, "Welcome to the lab.\n")
	check("Tasks", lab.Tasks, []labs.Task{
		{ID: "handler", Title: "Write the handler", Markdown: "Write it.\n\n```python\n## not a heading: inside a fence\n```\n"},
		{ID: "trigger", Title: "Wire the trigger", Markdown: "Add the trigger.\n"},
	})

	num := 16.7
	check("Checks", lab.Checks, []labs.Check{
		{
			ID: "deployed", Title: "The function is deployed", Task: "handler", At: "end", Timeout: 30 * time.Second,
			File: "hello-s3/checks.yaml", Line: 2,
			Steps: []labs.Step{{Kind: "invoke", File: "hello-s3/checks.yaml", Line: 6, Args: &invoke{
				Function: "copier",
				Payload:  map[string]any{"ping": true, "me": "${arn:lambda:copier:live}"},
				Expect:   &invokeExpect{OK: true},
			}}},
		},
		{
			ID: "copies", Title: "Uploads are copied", Task: "trigger", DependsOn: []string{"deployed"},
			Hidden: true, Message: "Upload a file; the copy must appear.", At: "canary", Timeout: 20 * time.Second,
			Hints: []labs.Hint{{After: 1, Text: "Use boto3."}, {After: 3, Text: "Read the event's key."}},
			File:  "hello-s3/checks.yaml", Line: 7,
			Steps: []labs.Step{
				{Kind: "put_object", File: "hello-s3/checks.yaml", Line: 20, Args: &putObject{Bucket: "in-bucket", Key: "in/a.txt", Body: labs.Body{Text: "hi\n"}}},
				{Kind: "put_object", File: "hello-s3/checks.yaml", Line: 21, Args: &putObject{Bucket: "made-bucket", Key: "in/b.txt", Body: labs.Body{File: "seeds/big.txt"}}},
				{Kind: "expect_object", File: "hello-s3/checks.yaml", Line: 22, Args: &expectObject{Bucket: "out-bucket", Key: "in/a.txt", Within: labs.Duration(5 * time.Second), Matches: []string{"^hi"}}},
				{Kind: "answer", File: "hello-s3/checks.yaml", Line: 23, Args: &answer{Question: "peak-rps", Number: &num, Tolerance: 0.5}},
			},
		},
	})

	check("Starter", lab.Starter, &labs.Variant{Name: "starter", Dir: "starter"})
	sol := lab.Solution
	check("Solution name, dir, answers", []any{sol.Name, sol.Dir, sol.Answers}, []any{"solution", "solution", map[string]string{"peak-rps": "16.7"}})
	var kinds []string
	for _, s := range sol.Actions {
		kinds = append(kinds, fmt.Sprintf("%d %s", s.Line, s.Kind))
		if s.File != "hello-s3/solution/actions.yaml" {
			t.Errorf("action %s: File = %q, want hello-s3/solution/actions.yaml", s.Kind, s.File)
		}
	}
	check("solution actions", kinds, []string{"2 create_bucket", "3 add_permission", "5 put_bucket_notification", "8 checkpoint", "9 publish_layer", "10 update_config", "11 sleep"})
	check("checkpoint args", sol.Actions[3].Args, "canary")
	n := sol.Actions[2].Args.(*notification)
	if len(n.Functions) != 1 || n.Functions[0].Function != "copier" || n.Functions[0].Suffix != ".txt" || !slices.Equal(n.Functions[0].Events, []string{"s3:ObjectCreated:*"}) {
		t.Errorf("put_bucket_notification args = %+v", n)
	}
	check("sleep args", sol.Actions[6].Args, &sleep{Duration: labs.Duration(500 * time.Millisecond)})
	check("Wrong", lab.Wrong, []*labs.Variant{{Name: "no-trigger", Dir: "wrong/no-trigger", Fails: []string{"copies"}, Note: "Never adds the trigger."}})

	// The lab's FS is its folder, without the junk tools leave behind.
	if b, err := fs.ReadFile(lab.FS, "seeds/big.txt"); err != nil || string(b) != "big\n" {
		t.Errorf("ReadFile(lab.FS, seeds/big.txt) = %q, %v", b, err)
	}
	var files []string
	fs.WalkDir(lab.FS, "solution", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	check("solution files", files, []string{"solution/actions.yaml", "solution/answers.yaml", "solution/app.py", "solution/layer/python/lib.py", "solution/web/index.js"})
	if _, err := fs.Stat(lab.FS, "wrong/no-trigger/.DS_Store"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(.DS_Store) = %v, want not found", err)
	}
	if err := fstest.TestFS(lab.FS, "lab.md", "solution/app.py", "wrong/no-trigger/expect.yaml"); err != nil {
		t.Error(err)
	}
}

func TestLoadBroken(t *testing.T) {
	base := readArchive(t, "testdata/good.txtar")
	files, err := filepath.Glob("testdata/broken/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			fsys, want := overlay(base, readArchive(t, file))
			if len(want) == 0 {
				t.Fatalf("%s has no want: lines", file)
			}
			got, err := labs.Load(fsys, testOptions)
			if err == nil {
				t.Fatalf("Load succeeded with %d labs, want:\n%s", len(got), strings.Join(want, "\n"))
			}
			if p := problems(t, err); !slices.Equal(p, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(p, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestLoadManyProblems proves that mistakes in every file of a lab are
// reported together, sorted by file and line, in one error.
func TestLoadManyProblems(t *testing.T) {
	fsys, want := overlay(readArchive(t, "testdata/good.txtar"), readArchive(t, "testdata/many.txtar"))
	_, err := labs.Load(fsys, testOptions)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if p := problems(t, err); !slices.Equal(p, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(p, "\n"), strings.Join(want, "\n"))
	}
	wantText := fmt.Sprintf("load labs: %d problems in the labs:\n%s", len(want), strings.Join(want, "\n"))
	if err.Error() != wantText {
		t.Errorf("error text:\n%s\nwant:\n%s", err, wantText)
	}
	var one *labs.Error
	if !errors.As(err, &one) || one.File != "hello-s3/checks.yaml" {
		t.Errorf("errors.As(*labs.Error) = %v, want the first problem", one)
	}
}

// TestLoadCapsProblems: a folder of garbage gives a readable error.
func TestLoadCapsProblems(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	var b strings.Builder
	b.WriteString("checks:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "  - {id: c%d, title: T, task: nope, steps: [{sleep: {duration: 1s}}]}\n", i)
	}
	fsys["hello-s3/checks.yaml"] = &fstest.MapFile{Data: []byte(b.String())}
	fsys["hello-s3/wrong/no-trigger/expect.yaml"] = &fstest.MapFile{Data: []byte("fails: [c0]\nnote: N\n")}
	_, err := labs.Load(fsys, testOptions)
	var le *labs.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error = %v, want a *LoadError", err)
	}
	if len(le.Problems) != 50 || le.More != 10 {
		t.Errorf("%d problems and %d more, want 50 and 10", len(le.Problems), le.More)
	}
	if !strings.HasPrefix(err.Error(), "load labs: 60 problems in the labs:\n") || !strings.HasSuffix(err.Error(), "\n… and 10 more") {
		t.Errorf("error text = %s", err)
	}
	if le.Problems[0].Line != 2 || le.Problems[49].Line != 51 {
		t.Errorf("problems run from line %d to %d, want 2 to 51 (sorted, first kept)", le.Problems[0].Line, le.Problems[49].Line)
	}
}

func TestLoadOptions(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	// Without Lesson and ReadyLayers nothing is asked; lower ceilings
	// catch the lab's limits.
	_, err := labs.Load(fsys, labs.Options{Kinds: fakeKinds, Ceilings: labs.Limits{GradingTime: 100 * time.Second, Invokes: 400}})
	want := []string{
		"hello-s3/lab.md:32: limits: grading_seconds 120 is over the server's ceiling of 100",
		"hello-s3/lab.md:33: limits: invokes 500 is over the server's ceiling of 400",
	}
	if p := problems(t, err); !slices.Equal(p, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(p, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadSortsLabs(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	for name, f := range fsys {
		if rest, ok := strings.CutPrefix(name, "hello-s3/"); ok {
			data := f.Data
			if rest == "lab.md" {
				data = []byte(strings.Replace(string(data), "id: hello-s3", "id: a-first", 1))
			}
			fsys["a-first/"+rest] = &fstest.MapFile{Data: data}
		}
	}
	got, err := labs.Load(fsys, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a-first" || got[1].ID != "hello-s3" {
		t.Errorf("Load returned %v, want a-first then hello-s3", got)
	}
}

func TestExpand(t *testing.T) {
	lookup := func(kind, name, qualifier string) (string, error) {
		switch kind {
		case "account":
			return "123456789012", nil
		case "region":
			return "us-east-1", nil
		case "lambda":
			arn := "arn:aws:lambda:us-east-1:123456789012:function:" + name
			if qualifier != "" {
				arn += ":" + qualifier
			}
			return arn, nil
		case "s3":
			return "arn:aws:s3:::" + name, nil
		case "layer":
			if name == "gone" {
				return "", errors.New("no such layer")
			}
			return "arn:aws:lambda:us-east-1:123456789012:layer:" + name + ":3", nil
		}
		return "", fmt.Errorf("kind %q", kind)
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "plain $5 text", want: "plain $5 text"},
		{in: "${account}", want: "123456789012"},
		{in: "${region}/${account}", want: "us-east-1/123456789012"},
		{in: "${arn:lambda:fn}", want: "arn:aws:lambda:us-east-1:123456789012:function:fn"},
		{in: "x ${arn:lambda:fn:live} y", want: "x arn:aws:lambda:us-east-1:123456789012:function:fn:live y"},
		{in: "${arn:lambda:fn:$LATEST}", want: "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"},
		{in: "${arn:lambda:fn:7}", want: "arn:aws:lambda:us-east-1:123456789012:function:fn:7"},
		{in: "${arn:s3:my-bucket}", want: "arn:aws:s3:::my-bucket"},
		{in: "${arn:layer:xray-sdk}", want: "arn:aws:lambda:us-east-1:123456789012:layer:xray-sdk:3"},
		{in: "${acount}", err: "unknown value ${acount} (did you mean ${account}?)"},
		{in: "${arn:lamda:fn}", err: "unknown value ${arn:lamda:fn} (did you mean arn:lambda?)"},
		{in: "${arn:dynamodb:t}", err: "unknown value ${arn:dynamodb:t}: write ${account}, ${region}, ${arn:lambda:NAME}, ${arn:lambda:NAME:QUALIFIER}, ${arn:s3:BUCKET} or ${arn:layer:NAME}"},
		{in: "${HOME}", err: "unknown value ${HOME}: write ${account}, ${region}, ${arn:lambda:NAME}, ${arn:lambda:NAME:QUALIFIER}, ${arn:s3:BUCKET} or ${arn:layer:NAME}"},
		{in: "a ${account", err: `"a ${account" opens ${ without a closing }`},
		{in: "${arn:lambda:}", err: "${arn:lambda:}: write ${arn:lambda:NAME} or ${arn:lambda:NAME:QUALIFIER}"},
		{in: "${arn:lambda:a:b:c}", err: "${arn:lambda:a:b:c}: write ${arn:lambda:NAME} or ${arn:lambda:NAME:QUALIFIER}"},
		{in: "${arn:lambda:my fn}", err: `${arn:lambda:my fn}: "my fn" is not a function name (letters, digits, - and _)`},
		{in: "${arn:s3:Bad_Bucket}", err: `${arn:s3:Bad_Bucket}: "Bad_Bucket" is not a bucket name`},
		{in: "${arn:layer:gone}", err: "expand ${arn:layer:gone}: no such layer"},
	}
	for _, tt := range tests {
		got, err := labs.Expand(tt.in, lookup)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("Expand(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestEmbedded: the binary carries every file of every lab folder in the
// source tree, byte for byte (embed.go uses all: so that a future
// __init__.py is not dropped). The labs themselves are loaded with the
// real step kinds and proven by the grader's tests and lambdalab check.
func TestEmbedded(t *testing.T) {
	emb := labs.Embedded()
	src := os.DirFS(".")
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		t.Fatal(err)
	}
	labDirs := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "testdata" {
			continue
		}
		if _, err := fs.Stat(src, path.Join(e.Name(), "lab.md")); err != nil {
			continue
		}
		labDirs++
		err := fs.WalkDir(src, e.Name(), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() == "__pycache__" {
				return fs.SkipDir
			}
			if d.IsDir() || strings.HasSuffix(p, ".pyc") {
				return nil
			}
			want, _ := fs.ReadFile(src, p)
			got, err := fs.ReadFile(emb, p)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s is not embedded as it is in the tree (%v)", p, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if labDirs < 4 {
		t.Errorf("%d lab folders in labs/; the course has four required labs", labDirs)
	}
}

// TestLoadCRLF: a lab written on Windows loads the same.
func TestLoadCRLF(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	for name, f := range fsys {
		if strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".yaml") {
			f.Data = []byte(strings.ReplaceAll(string(f.Data), "\n", "\r\n"))
		}
	}
	got, err := labs.Load(fsys, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if tasks := got[0].Tasks; len(tasks) != 2 || tasks[1].ID != "trigger" || tasks[1].Markdown != "Add the trigger.\n" {
		t.Errorf("Tasks = %q", tasks)
	}
}
