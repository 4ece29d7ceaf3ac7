package content

import (
	"bytes"
	"cmp"
	"regexp"
	"slices"
	"strings"

	"lambdalab/facts"
)

// factPlaceholder is {{fact ID}}. It also matches a placeholder with no ID
// or with several words, so that those are reported instead of being left
// in the page as braces.
var factPlaceholder = regexp.MustCompile(`\{\{\s*fact(?:\s+([^{}]*?))?\s*\}\}`)

// expandFacts replaces every {{fact ID}} in a lesson file with the fact's
// text from lambdalab/facts, so that a lesson quotes the figure the
// emulator enforces rather than a copy typed by hand. It runs on the whole
// file before anything is parsed, so facts work in frontmatter, prose,
// code blocks and quiz YAML alike. Fact texts hold no newline, so every
// line keeps its number.
func expandFacts(file string, src []byte, probs *problems) []byte {
	if !bytes.Contains(src, []byte("{{")) {
		return src
	}
	var out bytes.Buffer
	last := 0
	for _, m := range factPlaceholder.FindAllSubmatchIndex(src, -1) {
		out.Write(src[last:m[0]])
		last = m[1]
		line := bytes.Count(src[:m[0]], []byte("\n")) + 1
		id := ""
		if m[2] >= 0 {
			id = string(src[m[2]:m[3]])
		}
		if id == "" || strings.ContainsAny(id, " \t\n") {
			probs.add(file, line, "fact placeholder %q needs exactly one ID, like {{fact timeout-max}}", src[m[0]:m[1]])
			out.Write(src[m[0]:m[1]])
			continue
		}
		f, ok := facts.Lookup(id)
		if !ok {
			probs.add(file, line, "unknown fact %q (known: %s)", id, closestFacts(id, 3))
			out.WriteString(id)
			continue
		}
		out.WriteString(f.Text)
	}
	out.Write(src[last:])
	return out.Bytes()
}

// closestFacts names the n fact IDs nearest to id, nearest first, and
// ends with "…" when the table has more.
func closestFacts(id string, n int) string {
	type scored struct {
		id string
		d  int
	}
	var all []scored
	for _, f := range facts.Table() {
		all = append(all, scored{f.ID, distance(id, f.ID)})
	}
	slices.SortFunc(all, func(a, b scored) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.id, b.id)) })
	var names []string
	for _, s := range all[:min(n, len(all))] {
		names = append(names, s.id)
	}
	if len(all) > n {
		names = append(names, "…")
	}
	return strings.Join(names, ", ")
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
