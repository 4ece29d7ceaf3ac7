package grader

import (
	"strings"
	"testing"

	"lambdalab/cloud/lambda"
)

// A report's log excerpt is read by a person in a page and a terminal: the
// function's escape sequences and bare CRs are shown, not obeyed.
func TestExcerptReadable(t *testing.T) {
	log := "START RequestId: req-00\n\x1b[2J\x1b]0;owned\x07wiped\rREPORT RequestId: req-00\tBilled Duration: 1 ms\nEND RequestId: req-00\n"
	got := excerpt([]lambda.InvocationLog{invocation(0, "error", log)})
	if strings.ContainsAny(got, "\x1b\x07\r") {
		t.Errorf("excerpt still holds control characters: %q", got)
	}
	if want := "␛[2J␛]0;owned␇wiped\n␍REPORT RequestId: req-00"; !strings.Contains(got, want) {
		t.Errorf("excerpt %q, want it to show %q", got, want)
	}
}
