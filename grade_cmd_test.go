package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lambdalab/grader"
	"lambdalab/labs"
)

// TestCheckEmbeddedCourse is `lambdalab check` on the embedded course, as
// an instructor runs it: every lab's solution passes, its starter fails and
// each wrong variant fails exactly the checks its expect.yaml names.
//
// It runs a built binary, not run() inside this race-instrumented test
// process: some checks judge behaviour against a rate (the concurrency
// lab's backoff check counts throttles of a caller that retries in a tight
// loop), and under the race detector, beside the package's other tests,
// the endpoint answered each throttle so slowly that the tight loop met
// fewer than the lab's 100 throttles and passed (CI, December 2026). The
// grader's own code keeps its race coverage in grader's tests.
func TestCheckEmbeddedCourse(t *testing.T) {
	requireDocker(t)
	var out, errOut bytes.Buffer
	cmd := exec.Command(buildLambdalab(t), "check")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	t.Logf("lambdalab check:\n%s", out.String())
	if err != nil {
		t.Fatalf("lambdalab check: %v\n%s", err, errOut.String())
	}
	all, err := labs.Load(labs.Embedded(), labs.Options{Kinds: grader.LabKinds()})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s3-transform", "xray-layer", "versions-aliases", "concurrency"} {
		found := false
		for _, l := range all {
			if l.ID != id {
				continue
			}
			found = true
			if len(l.Wrong) < 2 {
				t.Errorf("lab %s has %d wrong variants; the course promises at least two", id, len(l.Wrong))
			}
			for _, v := range l.Wrong {
				if !strings.Contains(out.String(), "wrong/"+v.Name) {
					t.Errorf("the table has no row for %s wrong/%s", id, v.Name)
				}
			}
		}
		if !found {
			t.Errorf("the embedded course has no lab %s", id)
		}
	}
}

// TestGradeCommand grades folders as a student's checkout would be: the
// solution passes with status 0, a wrong variant fails with status 1 and a
// JSON report naming the failed checks, and code that does not import is
// an error (status 2) that says so in Lambda's words.
func TestGradeCommand(t *testing.T) {
	requireDocker(t)
	ctx := context.Background()
	labDir := filepath.Join("labs", "s3-transform")

	var out, errOut bytes.Buffer
	err := run(ctx, []string{"grade", "--lab", "s3-transform", "--dir", filepath.Join(labDir, "solution")}, os.Getenv, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("grade solution: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "pass: ") || !strings.Contains(out.String(), "✓") {
		t.Errorf("grade solution printed:\n%s", out.String())
	}

	out.Reset()
	err = run(ctx, []string{"grade", "--lab", "s3-transform", "--json", "--dir", filepath.Join(labDir, "wrong", "no-url-decode")}, os.Getenv, nil, &out, &errOut)
	var code exitCode
	if !errors.As(err, &code) || code != 1 {
		t.Fatalf("grade wrong variant: %v, want exit status 1\n%s", err, out.String())
	}
	var rep grader.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed no report: %v\n%s", err, out.String())
	}
	if rep.Version != grader.ReportVersion || rep.Status != grader.Fail || rep.Score <= 0 || rep.Score >= 1 {
		t.Errorf("report: version %d status %s score %.2f", rep.Version, rep.Status, rep.Score)
	}

	// A submission whose module has a syntax error: nothing can be judged.
	broken := t.TempDir()
	copyDir(t, filepath.Join(labDir, "solution"), broken)
	if err := os.WriteFile(filepath.Join(broken, "app.py"), []byte("def handler(event, context)\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(ctx, []string{"grade", "--lab", "s3-transform", "--dir", broken}, os.Getenv, nil, &out, &errOut)
	if !errors.As(err, &code) || code != 2 {
		t.Fatalf("grade broken code: %v, want exit status 2\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Runtime.UserCodeSyntaxError") {
		t.Errorf("grade broken code does not say why in Lambda's words:\n%s", out.String())
	}
}

// copyDir copies a folder tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
