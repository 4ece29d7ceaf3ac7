package labs

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one mistake in a lab, located at a line of a file so that an
// author can jump straight to it.
type Error struct {
	File string // path within the folder given to Load, e.g. "s3-transform/checks.yaml"
	Line int    // 1-based; 0 when the problem concerns the whole file or folder
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadError lists every problem found while loading the labs, sorted by
// file and line. Load returns it (wrapped) so that an author sees all
// mistakes at once instead of fixing them one reload at a time; find it
// with errors.As.
type LoadError struct {
	Problems []*Error // at most 50, the first by file and line
	More     int      // how many more problems were found but left out
}

func (e *LoadError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("1 problem in the labs:")
	} else {
		fmt.Fprintf(&b, "%d problems in the labs:", len(e.Problems)+e.More)
	}
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n… and %d more", e.More)
	}
	return b.String()
}

// Unwrap lets errors.As reach each *Error.
func (e *LoadError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// maxProblems bounds the list so that a folder of garbage cannot produce an
// unreadable error page.
const maxProblems = 50

// problems collects errors while loading.
type problems struct {
	list []*Error
}

func (p *problems) add(file string, line int, format string, args ...any) {
	p.list = append(p.list, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	le := &LoadError{}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b *Error) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	list = slices.CompactFunc(list, func(a, b *Error) bool { return *a == *b })
	if len(list) > maxProblems {
		le.More = len(list) - maxProblems
		list = list[:maxProblems]
	}
	le.Problems = list
	return le
}

var (
	yamlLinePrefix = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)
	// yaml.v3 numbers a parser error (as opposed to a scanner error) from
	// a 0-based mark at the start of the enclosing block; these are the
	// parser's messages, whose line needs one added.
	yamlParserError = regexp.MustCompile(`^did not find expected (key|'-' indicator|',' or '\]'|',' or '\}'|<document start>)$`)
	// yaml.v3 names the Go type it could not fill, which means nothing to
	// an author.
	yamlTypeSuffix = regexp.MustCompile(` into [\w.\[\]*]+$`)
)

// addYAML records a YAML syntax error in src, whose first line is file
// line base+1.
//
// yaml.v3 numbers a parser error (as opposed to a scanner error) from a
// 0-based mark at the start of the enclosing block, not at the line that
// is wrong: a misindented key is reported at the list item holding it. So
// the line is found by parsing ever longer beginnings of src: the first
// that fails with the same message ends at the line the author must fix.
// yaml.v3's own number, corrected, is the fallback.
func (p *problems) addYAML(file string, base int, src []byte, err error) {
	line, msg := yamlErrorLine(src, err)
	p.add(file, base+line, "YAML syntax: %s%s", msg, yamlHints[msg])
}

// yamlHints say what usually causes yaml.v3's terser messages.
var yamlHints = map[string]string{
	"did not find expected key":                      " (is this line indented like the keys above it?)",
	"did not find expected '-' indicator":            " (is this line indented like the list above it?)",
	"mapping values are not allowed in this context": " (quote a value that contains \": \")",
	"found character that cannot start any token":    " (YAML indents with spaces, not tabs; quote a value starting with @ or `)",
}

func yamlErrorLine(src []byte, err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if sub := yamlLinePrefix.FindStringSubmatch(msg); sub != nil {
		line, _ = strconv.Atoi(sub[1])
		msg = msg[len(sub[0]):]
		if yamlParserError.MatchString(msg) {
			line++
		}
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	for k := 1; k <= len(lines); k++ {
		var doc yaml.Node
		e := yaml.Unmarshal(bytes.Join(lines[:k], nil), &doc)
		if e == nil {
			continue
		}
		m := strings.TrimPrefix(e.Error(), "yaml: ")
		if sub := yamlLinePrefix.FindStringSubmatch(m); sub != nil {
			m = m[len(sub[0]):]
		}
		if m == msg {
			return k, msg
		}
	}
	return line, msg
}
