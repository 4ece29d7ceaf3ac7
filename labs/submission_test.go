package labs_test

import (
	"testing"
	"testing/fstest"

	"golang.org/x/tools/txtar"

	"lambdalab/labs"
)

// A student's folder is read as the lab's variants are: its actions may
// name what the lab's own actions make (made-bucket), and its mistakes
// come back with the folder's file names and lines.
func TestLoadSubmission(t *testing.T) {
	fsys, _ := overlay(readArchive(t, "testdata/good.txtar"), &txtar.Archive{})
	all, err := labs.Load(fsys, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	lab := all[0]
	good := fstest.MapFS{
		"app.py": {Data: []byte("def handler(e, c):\n    pass\n")},
		"actions.yaml": {Data: []byte("actions:\n  - put_object: {bucket: made-bucket, key: k, body: x}\n" +
			"  - add_permission: {function: copier, statement_id: s3, principal: s3.amazonaws.com}\n")},
		"answers.yaml": {Data: []byte("answers:\n  peak-rps: 16.7\n")},
	}
	v, err := labs.LoadSubmission(lab, good, testOptions)
	if err != nil {
		t.Fatalf("LoadSubmission: %v", err)
	}
	if len(v.Actions) != 2 || v.Actions[0].Kind != "put_object" || v.Answers["peak-rps"] != "16.7" {
		t.Errorf("submission = %+v", v)
	}

	bad := fstest.MapFS{
		"actions.yaml": {Data: []byte("actions:\n  - put_object: {bucket: nowhere, key: k, body: x}\n  - invoke: {function: copier, colour: red}\n")},
		"answers.yaml": {Data: []byte("answers:\n  peak-rsp: 16.7\n")},
	}
	_, err = labs.LoadSubmission(lab, bad, testOptions)
	got := problems(t, err)
	want := []string{"actions.yaml:2:", "actions.yaml:3:", "answers.yaml:2:"}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%v\nwant one at each of %v", got, want)
	}
	for i, w := range want {
		if len(got[i]) < len(w) || got[i][:len(w)] != w {
			t.Errorf("problem %d = %q; want it at %s", i, got[i], w)
		}
	}
}
