package labs

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// addYAML records a YAML syntax error. yaml.v3 numbers lines from the start
// of the text it was given; base is the file line just before that text, so
// base+n is where the author must look.
func (p *problems) addYAML(file string, base int, err error) {
	m := err.Error()
	line := base + 1
	if sub := yamlLinePrefix.FindStringSubmatch(m); sub != nil {
		n, _ := strconv.Atoi(sub[1])
		line = base + n
		m = m[len(sub[0]):]
		if yamlParserError.MatchString(m) {
			line++
		}
	}
	m = strings.TrimPrefix(m, "yaml: ")
	p.add(file, line, "YAML syntax: %s", m)
}
