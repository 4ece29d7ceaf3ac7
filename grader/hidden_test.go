package grader

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/tools/txtar"

	"lambdalab/labs"
)

// TestHiddenCheckShowsOnlyItsMessage: a hidden check that fails says only
// what its author wrote for students — never the key it looked for —
// while a plain check says what was expected. The function's environment
// value ${arn:lambda:quiet} reaches it expanded.
func TestHiddenCheckShowsOnlyItsMessage(t *testing.T) {
	st := newStack(t)
	ar, err := txtar.ParseFile("testdata/hidden.txtar")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, f := range ar.Files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Data, Mode: 0o644}
	}
	all, err := labs.Load(fsys, labs.Options{Kinds: LabKinds()})
	if err != nil {
		t.Fatal(err)
	}
	lab := all[0]
	sub, err := VariantSubmission(lab, lab.Solution)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := st.grader.Grade(context.Background(), lab, sub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Checks[0]; c.Status != Pass {
		t.Errorf("the function's ${arn:lambda:quiet} was not expanded: %s %s", c.Status, c.Message)
	}
	hidden, plain := rep.Checks[1], rep.Checks[2]
	if hidden.Status != Fail || hidden.Message != "Something the lab asked for is missing." {
		t.Errorf("hidden check: %s %q", hidden.Status, hidden.Message)
	}
	if plain.Status != Fail || !strings.Contains(plain.Message, "secret-key-1234.txt") {
		t.Errorf("plain check: %s %q", plain.Status, plain.Message)
	}
}
