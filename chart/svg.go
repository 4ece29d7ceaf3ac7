package chart

import (
	"crypto/sha256"
	"encoding/hex"
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// width is the width of every drawing in user units. The markup scales to
// its container (width="100%" and a viewBox), so this only sets how large
// text is next to the bars: 640 units read well in the workspace's column.
const width = 640

// Font sizes in user units, matched by static/ws-chart.css.
const (
	fontSize  = 12.0 // ordinary text (.ws-chart text)
	smallSize = 10.5 // .ch-small
)

// idToken stands for the drawing's id prefix while it is written. It holds
// a NUL, which esc never lets through, so no learner string can forge it.
const idToken = "\x00id\x00"

// doc is one SVG drawing being written.
type doc struct {
	b strings.Builder
}

// attrs writes name="value" pairs, escaping every value.
func (d *doc) attrs(kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" && kv[i] != "d" && kv[i] != "points" {
			continue
		}
		d.b.WriteByte(' ')
		d.b.WriteString(kv[i])
		d.b.WriteString(`="`)
		// The id token passes; esc turns any NUL of a learner's into U+FFFD,
		// so a value can hold the token only where this package put it.
		for j, part := range strings.Split(kv[i+1], idToken) {
			if j > 0 {
				d.b.WriteString(idToken)
			}
			d.b.WriteString(esc(part))
		}
		d.b.WriteByte('"')
	}
}

// el writes an empty element.
func (d *doc) el(tag string, kv ...string) {
	d.b.WriteByte('<')
	d.b.WriteString(tag)
	d.attrs(kv)
	d.b.WriteString("/>\n")
}

// open writes a start tag; close its end tag.
func (d *doc) open(tag string, kv ...string) {
	d.b.WriteByte('<')
	d.b.WriteString(tag)
	d.attrs(kv)
	d.b.WriteByte('>')
}

// close writes an end tag, and a line break after it (the golden files
// then diff line by line) unless it closes text inside a <text>.
func (d *doc) close(tag string) {
	d.b.WriteString("</")
	d.b.WriteString(tag)
	d.b.WriteByte('>')
	if tag != "tspan" {
		d.b.WriteByte('\n')
	}
}

// titled writes an element whose first child is a <title>, the text a
// browser shows on hover and a screen reader reads for it.
func (d *doc) titled(tag, title string, kv ...string) {
	d.open(tag, kv...)
	d.title(title)
	d.close(tag)
}

func (d *doc) title(s string) {
	if s == "" {
		return
	}
	d.b.WriteString("<title>")
	d.b.WriteString(esc(s))
	d.b.WriteString("</title>")
}

// text writes a <text> at x, y; anchor is "start", "middle" or "end".
func (d *doc) text(x, y float64, class, anchor, s string) {
	if anchor == "start" {
		anchor = ""
	}
	d.open("text", "x", num(x), "y", num(y), "class", class, "text-anchor", anchor)
	d.b.WriteString(esc(s))
	d.close("text")
}

// ref is the id of one part of the drawing (its title, a pattern).
func ref(name string) string { return idToken + "-" + name }

// url is a paint reference to a part of the drawing.
func url(name string) string { return "url(#" + ref(name) + ")" }

// finish wraps the body in the <svg> element with its <title> and <desc>
// and settles the ids: id when given (made a valid XML name), otherwise a
// hash of the drawing, so two different charts on one page never share an
// id while the same chart always gets the same ones (golden files).
func finish(id, kind, title, desc string, height float64, body string) string {
	var d doc
	d.open("svg", "xmlns", "http://www.w3.org/2000/svg",
		"class", "ws-chart ws-chart-"+kind,
		"viewBox", "0 0 "+num(width)+" "+num(height),
		"width", "100%",
		"role", "img",
		"aria-labelledby", ref("title")+" "+ref("desc"))
	d.open("title", "id", ref("title"))
	d.b.WriteString(esc(title))
	d.close("title")
	d.open("desc", "id", ref("desc"))
	d.b.WriteString(esc(desc))
	d.close("desc")
	d.el("rect", "class", "ch-bg", "width", num(width), "height", num(height), "rx", "6")
	d.b.WriteString(body)
	d.close("svg")
	out := d.b.String()
	prefix := cleanID(id)
	if prefix == "" {
		sum := sha256.Sum256([]byte(out))
		prefix = "ch-" + hex.EncodeToString(sum[:5])
	}
	return strings.ReplaceAll(out, idToken, prefix)
}

// cleanID keeps the letters, digits, '-' and '_' of an id and makes it
// start with a letter, so it is a valid XML name and needs no escaping in
// url(#…).
func cleanID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s != "" && !unicode.IsLetter(rune(s[0])) {
		s = "ch-" + s
	}
	return s
}

// esc makes any string safe as XML text or an attribute value: invalid
// UTF-8 and the characters XML 1.0 forbids (NUL and most controls) become
// U+FFFD, and the five markup characters become references.
func esc(s string) string {
	clean := true
	for _, r := range s {
		if !xmlChar(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if !xmlChar(r) {
				return utf8.RuneError
			}
			return r
		}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	}
	return html.EscapeString(s)
}

func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// num formats a coordinate with at most one decimal: finer steps are
// invisible at this size and only make the markup longer.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// textWidth estimates how wide s is at size, in user units. The fonts are
// the reader's (system-ui), so this errs on the wide side; every label
// that might collide with another is placed by it.
func textWidth(s string, size float64) float64 {
	// Widths in ems, close to DejaVu Sans (what system-ui falls back to on
	// Linux), which is wider than the Mac's and Windows' faces.
	w := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune("il.,:;|'!I[]()fj", r):
			w += 0.32
		case strings.ContainsRune("rt-‐ ", r):
			w += 0.4
		case strings.ContainsRune("mwMW@%…", r):
			w += 0.98
		case r >= '0' && r <= '9', r == '$':
			w += 0.64
		case unicode.IsUpper(r):
			w += 0.73
		case r >= 0x1100 && unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana):
			w += 1.0
		default:
			w += 0.62
		}
	}
	return w * size
}

// fit shortens s with an ellipsis until it is at most max wide.
func fit(s string, size, max float64) string {
	if textWidth(s, size) <= max {
		return s
	}
	r := []rune(s)
	// No rune is narrower than 0.32 em: anything past this many cannot fit.
	if n := int(max/(0.32*size)) + 1; len(r) > n {
		r = r[:n]
	}
	for len(r) > 0 {
		r = r[:len(r)-1]
		t := strings.TrimRightFunc(string(r), unicode.IsSpace) + "…"
		if textWidth(t, size) <= max {
			return t
		}
	}
	return ""
}

// plural is "1 environment" or "3 environments".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtInt(n) + " " + many
}

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// span is a stretch of x already taken on a row, for placing labels.
type span struct{ a, b float64 }

// taken is what a row holds so far.
type taken []span

// free reports whether [a, b] overlaps nothing on the row.
func (t taken) free(a, b float64) bool {
	for _, s := range t {
		if a < s.b && s.a < b {
			return false
		}
	}
	return true
}
