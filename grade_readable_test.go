package main

import (
	"bytes"
	"strings"
	"testing"

	"lambdalab/grader"
)

// lambdalab grade prints a failed check's message and log excerpt to a
// terminal: the function's escape sequences and bare CRs must not act.
func TestPrintCheckReadable(t *testing.T) {
	var b bytes.Buffer
	printCheck(&b, grader.CheckResult{ID: "c1", Title: "Returns 3", Status: grader.Fail,
		Message: "expected 3, got \"\x1b[32mPASS\x1b[0m\"",
		Log:     "START RequestId: r\nnoise\r\x1b[1A✓ c1 — Returns 3\nEND RequestId: r\n"})
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("printed check holds ESC or CR: %q", out)
	}
	for _, want := range []string{`got "␛[32mPASS␛[0m"`, "        noise\n        ␍␛[1A✓ c1 — Returns 3\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed check %q lacks %q", out, want)
		}
	}
}
