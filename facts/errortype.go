package facts

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxErrorTypeBytes is the longest error type lambdalab keeps: room for a
// long Java class name, too short to hide a log in.
const MaxErrorTypeBytes = 128

// One rule for an error type, whether a runtime sent it in the
// Lambda-Runtime-Function-Error-Type header (sandbox/runtimeapi) or in the
// error document's body (sandbox), since both end up in REPORT lines.
// ErrorTypeName makes an error type from a runtime's error document (or
// header) safe for a REPORT or INIT_REPORT line and the invocation record:
// one line, of bounded length. Lambda's error types are identifiers
// (Runtime.ExitError, ValueError, java.lang.RuntimeException, Outer$Inner,
// Function<NameError>; reference/lambda-behaviour.md §1.4 and §2.3), so a
// name of letters, digits and _ . $ : < > + - is kept, cut to MaxErrorTypeBytes
// bytes when longer; any other character (tab, newline, space, a control or
// format character) makes the whole name "Unhandled", Lambda's word for a
// failure the function did not describe, since cutting at it would leave
// the function choosing what the platform prints. The document itself goes
// to the caller untouched, as on Lambda.
func ErrorTypeName(t string) string {
	t = strings.TrimSpace(t)
	for _, r := range t {
		if !errorTypeRune(r) {
			return "Unhandled"
		}
	}
	if len(t) > MaxErrorTypeBytes {
		t = t[:MaxErrorTypeBytes]
		for !utf8.ValidString(t) {
			t = t[:len(t)-1]
		}
	}
	return t
}

func errorTypeRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_.$:<>+-", r)
	case r == utf8.RuneError:
		return false
	}
	// Python 3 and Java allow letters of any script in class names.
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
