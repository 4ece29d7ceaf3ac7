package chart

import (
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// node is a parsed SVG element.
type node struct {
	name   string
	attr   map[string]string
	kids   []*node
	text   string // its own character data
	parent *node
}

// parse reads s as XML, failing the test when it is not well-formed.
func parse(t *testing.T, s string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	var root, cur *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attr: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				name := a.Name.Local
				if a.Name.Space != "" && a.Name.Space != "http://www.w3.org/2000/svg" {
					name = a.Name.Space + ":" + name
				}
				if _, dup := n.attr[name]; dup {
					t.Errorf("<%s> has %s twice (not well-formed)", n.name, name)
				}
				n.attr[name] = a.Value
			}
			if cur == nil {
				if root != nil {
					t.Fatalf("more than one root element")
				}
				root = n
			} else {
				cur.kids = append(cur.kids, n)
			}
			cur = n
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		}
	}
	if root == nil {
		t.Fatalf("no element in %q", s)
	}
	return root
}

func (n *node) walk(f func(*node)) {
	f(n)
	for _, k := range n.kids {
		k.walk(f)
	}
}

// find is every element below n (n too) for which keep is true.
func (n *node) find(keep func(*node) bool) []*node {
	var out []*node
	n.walk(func(k *node) {
		if keep(k) {
			out = append(out, k)
		}
	})
	return out
}

func (n *node) has(class string) bool {
	for _, c := range strings.Fields(n.attr["class"]) {
		if c == class {
			return true
		}
	}
	return false
}

// classed is every element of class below n, outside the legend and the
// patterns.
func (n *node) classed(class string) []*node {
	return n.find(func(k *node) bool { return k.has(class) && !k.inLegend() })
}

func (n *node) inLegend() bool {
	for ; n != nil; n = n.parent {
		if n.has("ch-legend") || n.name == "defs" {
			return true
		}
	}
	return false
}

// allText is the text of n and its descendants, <title>s left out.
func (n *node) allText() string {
	var b strings.Builder
	var rec func(*node)
	rec = func(k *node) {
		if k.name == "title" || k.name == "desc" {
			return
		}
		b.WriteString(k.text)
		for _, c := range k.kids {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

// hover is the <title> child of n, the text shown on hover.
func (n *node) hover() string {
	for _, k := range n.kids {
		if k.name == "title" {
			return k.text
		}
	}
	return ""
}

func (n *node) f(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.name, name, n.attr[name], err)
	}
	return v
}

// TestGolden draws every fixture, checks what holds for every drawing, and
// compares it with testdata/<name>.svg (go test ./chart -update rewrites).
func TestGolden(t *testing.T) {
	css, err := os.ReadFile("../static/ws-chart.css")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // id → the fixture that has it
	names := sortedNames(allDrawings())
	for _, name := range names {
		dr := allDrawings()[name]
		t.Run(name, func(t *testing.T) {
			out := dr.SVG()
			if again := dr.SVG(); again != out {
				t.Fatal("two drawings of the same data differ")
			}
			root := parse(t, out)
			checkCommon(t, root, dr.Summary(), string(css))
			checkNoOverlap(t, root)
			root.walk(func(n *node) {
				if id := n.attr["id"]; id != "" {
					if other, ok := ids[id]; ok {
						t.Errorf("id %q is in both %s and %s", id, other, name)
					}
					ids[id] = name
				}
			})
			golden := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(golden, []byte(out+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./chart -update)", err)
			}
			if string(want) != out+"\n" {
				t.Errorf("%s differs from the drawing (go test ./chart -update rewrites it after a look)", golden)
			}
		})
	}
}

func sortedNames(m map[string]drawing) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// hooks are the classes that only name a part for pages and tests; every
// other class must have its look in ws-chart.css.
var hooks = map[string]bool{
	"ws-chart-timeline": true, "ws-chart-time": true, "ws-chart-power": true, "ws-chart-waterfall": true,
	"ch-env": true, "ch-row": true, "ch-pt": true, "ch-empty": true, "ch-legend": true,
	"ch-timeout": true, "ch-oom": true, "ch-annot": true,
}

var urlRef = regexp.MustCompile(`url\(#([^)]*)\)`)

// checkCommon asserts what every drawing promises: an accessible, scalable
// <svg> coloured only by classes that ws-chart.css defines.
func checkCommon(t *testing.T, root *node, summary, css string) {
	t.Helper()
	if root.name != "svg" || root.attr["role"] != "img" || root.attr["width"] != "100%" {
		t.Errorf("root <%s role=%q width=%q>, want <svg role=\"img\" width=\"100%%\">", root.name, root.attr["role"], root.attr["width"])
	}
	if _, ok := root.attr["height"]; ok {
		t.Errorf("root has a fixed height %q", root.attr["height"])
	}
	vb := strings.Fields(root.attr["viewBox"])
	if len(vb) != 4 || vb[0] != "0" || vb[1] != "0" || vb[2] != "640" {
		t.Errorf("viewBox %q, want 0 0 640 H", root.attr["viewBox"])
	}
	byID := map[string]*node{}
	root.walk(func(n *node) {
		if id := n.attr["id"]; id != "" {
			if byID[id] != nil {
				t.Errorf("id %q twice", id)
			}
			byID[id] = n
		}
	})
	labels := strings.Fields(root.attr["aria-labelledby"])
	if len(labels) != 2 {
		t.Fatalf("aria-labelledby %q, want a title and a desc", root.attr["aria-labelledby"])
	}
	title, desc := byID[labels[0]], byID[labels[1]]
	if title == nil || title.name != "title" || title.parent != root || title.text == "" {
		t.Errorf("aria-labelledby's first id %q is not the drawing's <title>", labels[0])
	}
	if desc == nil || desc.name != "desc" || desc.parent != root {
		t.Fatalf("aria-labelledby's second id %q is not the drawing's <desc>", labels[1])
	}
	if desc.text != summary {
		t.Errorf("<desc> %q, Summary() %q", desc.text, summary)
	}
	root.walk(func(n *node) {
		if n.name == "style" || n.name == "script" || n.name == "foreignObject" {
			t.Errorf("<%s> element", n.name)
		}
		for a, v := range n.attr {
			if a == "style" || strings.HasPrefix(a, "on") {
				t.Errorf("<%s %s=%q>", n.name, a, v)
			}
			if (a == "fill" || a == "stroke" || a == "color") && !urlRef.MatchString(v) {
				t.Errorf("<%s %s=%q>: colours belong in ws-chart.css", n.name, a, v)
			}
			for _, m := range urlRef.FindAllStringSubmatch(v, -1) {
				if byID[m[1]] == nil {
					t.Errorf("<%s %s=%q> refers to no element", n.name, a, v)
				}
			}
		}
		for _, c := range strings.Fields(n.attr["class"]) {
			if hooks[c] {
				continue
			}
			if !regexp.MustCompile(`\.` + regexp.QuoteMeta(c) + `\b`).MatchString(css) {
				t.Errorf("class %q (on <%s>) is not in ws-chart.css", c, n.name)
			}
		}
	})
}

// box is where a text is drawn, by the package's own estimate of widths.
type box struct {
	x0, x1, y0, y1 float64
	s              string
}

func textBox(t *testing.T, n *node) box {
	size := fontSize
	if n.has("ch-small") {
		size = smallSize
	}
	s := n.allText()
	w := textWidth(s, size)
	x, y := n.f(t, "x"), n.f(t, "y")
	switch n.attr["text-anchor"] {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	return box{x, x + w, y - 0.72*size, y + 0.22*size, s}
}

// checkNoOverlap asserts that no two labels of a drawing are drawn over
// each other, and that none leaves the drawing.
func checkNoOverlap(t *testing.T, root *node) {
	t.Helper()
	vb := strings.Fields(root.attr["viewBox"])
	h, _ := strconv.ParseFloat(vb[3], 64)
	var boxes []box
	for _, n := range root.find(func(n *node) bool { return n.name == "text" }) {
		b := textBox(t, n)
		if b.x0 < -0.5 || b.x1 > 640.5 || b.y0 < 0 || b.y1 > h {
			t.Errorf("label %q at %.1f–%.1f, %.1f–%.1f leaves the 640 × %.0f drawing", b.s, b.x0, b.x1, b.y0, b.y1, h)
		}
		boxes = append(boxes, b)
	}
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 && a.y0 < b.y1-0.5 && b.y0 < a.y1-0.5 {
				t.Errorf("labels %q and %q overlap", a.s, b.s)
			}
		}
	}
}

func draw(t *testing.T, d drawing) *node {
	t.Helper()
	return parse(t, d.SVG())
}

func wantIn(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not say %q", what, s, sub)
		}
	}
}

// timeScale reads a time axis back from its labelled grid: the x of two
// labels a second or more apart give where any time goes.
func timeScale(t *testing.T, root *node, day time.Time) func(time.Time) float64 {
	t.Helper()
	type tick struct {
		x  float64
		at time.Time
	}
	var ticks []tick
	for _, n := range root.find(func(n *node) bool { return n.name == "text" && n.attr["text-anchor"] == "middle" }) {
		c, err := time.Parse("15:04:05", n.allText())
		if err != nil {
			continue
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), c.Hour(), c.Minute(), c.Second(), 0, day.Location())
		ticks = append(ticks, tick{n.f(t, "x"), at})
	}
	if len(ticks) < 2 {
		t.Fatalf("fewer than two clock labels on the axis")
	}
	a, b := ticks[0], ticks[len(ticks)-1]
	perNS := (b.x - a.x) / float64(b.at.Sub(a.at))
	return func(x time.Time) float64 { return a.x + perNS*float64(x.Sub(a.at)) }
}

func TestTimelineColdStarts(t *testing.T) {
	tl := coldStarts()
	root := draw(t, tl)
	var inv, failed, inits, reclaimed int
	var labels []string
	for _, in := range tl.Instances {
		inv += len(in.Invocations)
		for _, s := range in.Invocations {
			labels = append(labels, s.Label)
			if s.Class != "" {
				failed++
			}
		}
		if in.Init != nil {
			inits++
		}
		if !in.Reclaimed.IsZero() {
			reclaimed++
		}
	}
	bars := root.classed("ch-inv")
	if len(bars) != inv {
		t.Errorf("%d invocation bars, want %d", len(bars), inv)
	}
	for i, b := range bars {
		wantIn(t, "bar's hover", b.hover(), labels[i])
	}
	if got := len(root.classed("ch-fail")); got != failed {
		t.Errorf("%d failed bars, want %d", got, failed)
	}
	if len(root.classed("ch-timeout")) != 1 || len(root.classed("ch-oom")) != 1 {
		t.Errorf("want one timeout and one oom bar")
	}
	// A failure is marked by more than colour: a cross on each.
	if got := len(root.classed("ch-failmark")); got != failed {
		t.Errorf("%d failure crosses, want %d", got, failed)
	}
	if got := len(root.classed("ch-init")); got != inits {
		t.Errorf("%d init bars, want %d", got, inits)
	}
	if got := len(root.classed("ch-cap")); got != reclaimed {
		t.Errorf("%d reclaim caps, want %d", got, reclaimed)
	}
	text := root.allText()
	wantIn(t, "the drawing", text, "Init 412 ms", "Init 380 ms", "provisioned", "throttled", "reclaimed", "Reserved concurrency 2")

	throttled := 0
	for _, m := range root.classed("ch-throttle") {
		if c := m.attr["data-count"]; c != "" {
			n, _ := strconv.Atoi(c)
			throttled += n
		}
	}
	if throttled != len(tl.Throttles) {
		t.Errorf("throttle marks count %d, want %d", throttled, len(tl.Throttles))
	}

	// Reserved 2 is reached when the second environment becomes busy while
	// the first is: found here by brute force, at every start.
	var reach time.Time
	var starts []time.Time
	type iv struct{ a, b time.Time }
	rows := make([][]iv, len(tl.Instances))
	for i, in := range tl.Instances {
		if in.Init != nil {
			rows[i] = append(rows[i], iv{in.Init.Start, in.Init.End})
			starts = append(starts, in.Init.Start)
		}
		for _, s := range in.Invocations {
			rows[i] = append(rows[i], iv{s.Start, s.End})
			starts = append(starts, s.Start)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	for _, c := range starts {
		busy := 0
		for _, r := range rows {
			for _, s := range r {
				if !c.Before(s.a) && c.Before(s.b) {
					busy++
					break
				}
			}
		}
		if busy >= tl.Reserved {
			reach = c
			break
		}
	}
	lines := root.classed("ch-reach")
	if reach.IsZero() || len(lines) != 1 {
		t.Fatalf("reach at %v, %d reach lines", reach, len(lines))
	}
	x := timeScale(t, root, base)
	if got, want := lines[0].f(t, "x1"), x(reach); math.Abs(got-want) > 0.6 {
		t.Errorf("reach line at x=%.1f, want %.1f (%s)", got, want, reach.Format("15:04:05.000"))
	}
	wantIn(t, "Summary", tl.Summary(), "3 environments (1 provisioned)", "2 cold starts, init 380–412 ms",
		"14 invocations (2 failed: 1 out of memory, 1 timeout)", "2 throttled",
		"reserved concurrency 2 reached at "+reach.Format("15:04:05"), "1 reclaimed")

	// A bar starts where its invocation starts.
	first := bars[0]
	if got, want := first.f(t, "x"), x(tl.Instances[0].Invocations[0].Start); math.Abs(got-want) > 0.6 {
		t.Errorf("first bar at x=%.1f, want %.1f", got, want)
	}
}

func TestTimelineHundredRows(t *testing.T) {
	tl := hundred()
	root := draw(t, tl)
	envs := root.classed("ch-env")
	if len(envs) != 100 {
		t.Fatalf("%d rows, want 100", len(envs))
	}
	// Each row's label sits at least a line below the one before: the rows
	// stop shrinking and the drawing grows instead.
	var ys []float64
	for _, e := range envs {
		for _, k := range e.kids {
			if k.name == "text" {
				ys = append(ys, k.f(t, "y"))
				break
			}
		}
	}
	for i := 1; i < len(ys); i++ {
		if ys[i]-ys[i-1] < smallSize+2 {
			t.Fatalf("row labels %d and %d only %.1f apart", i-1, i, ys[i]-ys[i-1])
		}
	}
	vb := strings.Fields(root.attr["viewBox"])
	if h, _ := strconv.ParseFloat(vb[3], 64); h < 100*(smallSize+2) {
		t.Errorf("100 rows in a drawing %.0f tall", h)
	}
	if got := len(root.classed("ch-inv")); got != 300 {
		t.Errorf("%d invocation bars, want 300", got)
	}
	n := 0
	for _, m := range root.classed("ch-throttle") {
		c, _ := strconv.Atoi(m.attr["data-count"])
		n += c
	}
	if n != len(tl.Throttles) {
		t.Errorf("throttle marks count %d, want %d", n, len(tl.Throttles))
	}
	wantIn(t, "Summary", tl.Summary(), "100 environments", "100 cold starts", "300 invocations", "302 throttled")
}

func TestTimelineEdges(t *testing.T) {
	for name, d := range timelines() {
		root := draw(t, d)
		switch name {
		case "timeline-empty":
			wantIn(t, name, root.allText(), "No invocations in this window")
			if len(root.classed("ch-inv")) != 0 {
				t.Errorf("%s: bars in an empty timeline", name)
			}
		case "timeline-long":
			// Six hours across midnight: hourly ticks and the date at midnight.
			wantIn(t, name, root.allText(), "Mar 15", "22:00")
			wantIn(t, name, root.classed("ch-timeout")[0].hover(), "timeout after 15 min")
			wantIn(t, name, d.Summary(), "3 invocations (1 failed: 1 timeout)", "1 cold start, init 9 s")
			// The running invocation reaches the right edge.
			bars := root.classed("ch-inv")
			last := bars[len(bars)-1]
			if r := last.f(t, "x") + last.f(t, "width"); math.Abs(r-628) > 0.6 {
				t.Errorf("running invocation ends at x=%.1f, want the edge 628", r)
			}
		case "timeline-subsecond":
			// Under a second: a full clock time first, then fractions.
			wantIn(t, name, root.allText(), "14:03:00.", ".100")
		case "timeline-zero":
			wantIn(t, name, root.allText(), "Reserved concurrency 0: every request is throttled")
			if len(root.classed("ch-throttle")) != 2 { // two are 1 ms apart
				t.Errorf("%s: throttles not drawn", name)
			}
		case "timeline-hostile":
			// Every learner string comes back as written (less the bytes XML
			// cannot hold), never as markup.
			if len(root.find(func(n *node) bool { return n.name == "script" || n.name == "b" })) > 0 {
				t.Errorf("%s: a learner string became markup", name)
			}
			bars := root.classed("ch-inv")
			wantIn(t, name, bars[0].hover(), hostile+"\uFFFD\uFFFD\uFFFD", "weird<\"class\"> after")
			if !bars[0].has("ch-error") {
				t.Errorf("an unknown failure class is drawn as %q, want ch-error", bars[0].attr["class"])
			}
			if root.kids[0].text != hostile {
				t.Errorf("title %q, want %q", root.kids[0].text, hostile)
			}
			wantIn(t, name, root.classed("ch-env")[0].hover(), "Environment "+hostile)
		}
	}
}

func TestTimeChart(t *testing.T) {
	charts := timeCharts()
	bars := charts["time-bars"].(TimeChart)
	root := draw(t, bars)
	for _, s := range bars.Series {
		got := len(root.classed("ch-s-" + s.Class))
		if got != len(s.Points) {
			t.Errorf("%s: %d bars, want %d", s.Name, got, len(s.Points))
		}
		sum := 0.0
		for _, p := range s.Points {
			sum += p.V
		}
		wantIn(t, "Summary", bars.Summary(), s.Name+": "+fmtNum(sum)+" in all")
	}
	// Bar heights follow the values: the tallest invocation bar is the peak.
	y := yScale(t, root)
	for _, b := range root.classed("ch-bar") {
		if !b.has("ch-s-invocations") || b.hover() == "" {
			continue
		}
		v, _ := strconv.ParseFloat(b.hover()[strings.LastIndexByte(b.hover(), ' ')+1:], 64)
		if top := b.f(t, "y"); math.Abs(top-y(v)) > 0.6 {
			t.Errorf("bar of %v has its top at %.1f, want %.1f", v, top, y(v))
		}
	}

	for _, name := range []string{"time-concurrency", "time-account-limit", "time-hostile"} {
		c := charts[name].(TimeChart)
		root := draw(t, c)
		lim := root.classed("ch-limit")
		if len(lim) != 1 {
			t.Fatalf("%s: %d limit lines", name, len(lim))
		}
		y := yScale(t, root)
		if got, want := lim[0].f(t, "y1"), y(c.Limit); math.Abs(got-want) > 0.6 {
			t.Errorf("%s: limit %v at y=%.1f, want %.1f", name, c.Limit, got, want)
		}
		wantIn(t, name, root.allText(), c.LimitLabel)
	}
	wantIn(t, "Summary", charts["time-concurrency"].Summary(), "Concurrent executions: at most 5", "reserved concurrency 5: reached at 14:05")
	wantIn(t, "Summary", charts["time-account-limit"].Summary(), "account limit 10: not reached")
	wantIn(t, "Summary", charts["time-duration"].Summary(), "Maximum: 310 ms to 900,000 ms", "Average: 295 ms to 1,204 ms")

	empty := draw(t, charts["time-empty"])
	wantIn(t, "empty chart", empty.allText(), "No invocations in this window")
	one := draw(t, charts["time-one-point"])
	if dots := one.classed("ch-dot"); len(dots) != 1 {
		t.Errorf("one point drawn as %d dots", len(dots))
	}
	wantIn(t, "Summary", charts["time-one-point"].Summary(), "Duration: 412 ms at 14:03")

	h := draw(t, charts["time-hostile"])
	for _, n := range h.find(func(n *node) bool { return n.attr["class"] != "" }) {
		if strings.Contains(n.attr["class"], "onload") || n.attr["onload"] != "" {
			t.Errorf("a series class reached the markup: %q", n.attr["class"])
		}
	}
	wantIn(t, "hostile chart", h.allText(), "<u>", hostile)
}

// yScale reads a y axis back from its labelled ticks.
func yScale(t *testing.T, root *node) func(float64) float64 {
	t.Helper()
	ticks := root.classed("ch-ytick")
	if len(ticks) < 2 {
		t.Fatalf("%d y ticks", len(ticks))
	}
	a, b := ticks[0], ticks[len(ticks)-1]
	va, _ := strconv.ParseFloat(a.attr["data-value"], 64)
	vb, _ := strconv.ParseFloat(b.attr["data-value"], 64)
	// The label's baseline sits 3.5 below its grid line.
	ya, yb := a.f(t, "y")-3.5, b.f(t, "y")-3.5
	return func(v float64) float64 { return ya + (yb-ya)*(v-va)/(vb-va) }
}

func TestPowerTuning(t *testing.T) {
	p := sixSizes()
	root := draw(t, p)
	cheap, fast := -1, -1
	for i, pt := range p.Points {
		if pt.Failed {
			continue
		}
		if cheap < 0 || pt.CostUSD < p.Points[cheap].CostUSD {
			cheap = i
		}
		if fast < 0 || pt.DurationMS < p.Points[fast].DurationMS {
			fast = i
		}
	}
	slotOf := func(class string) string {
		ws := root.classed(class)
		if len(ws) != 1 {
			t.Fatalf("%d words %q", len(ws), class)
		}
		for n := ws[0]; n != nil; n = n.parent {
			if n.has("ch-pt") {
				return n.attr["data-mb"]
			}
		}
		return ""
	}
	if got, want := slotOf("ch-best-cheapest"), strconv.Itoa(p.Points[cheap].MemoryMB); got != want {
		t.Errorf("cheapest marked at %s MB, want %s MB", got, want)
	}
	if got, want := slotOf("ch-best-fastest"), fmtInt(p.Points[fast].MemoryMB); got != want {
		t.Errorf("fastest marked at %s MB, want %s MB", got, want)
	}
	slots := root.classed("ch-pt")
	if len(slots) != len(p.Points) {
		t.Fatalf("%d slots, want %d", len(slots), len(p.Points))
	}
	for i, s := range slots {
		pt := p.Points[i]
		text := s.allText()
		if pt.Failed {
			wantIn(t, "failed slot", text, "failed")
			if len(s.classed("ch-failed")) != 1 {
				t.Errorf("%d MB failed but not drawn so", pt.MemoryMB)
			}
			continue
		}
		wantIn(t, "slot", text, fmtInt(pt.MemoryMB)+" MB", fmtMS(pt.DurationMS), fmtUSD(pt.CostUSD))
	}
	// One cost point per size that ran, the cheapest drawn largest.
	costs := root.classed("ch-cost")
	if len(costs) != len(p.Points)-1 { // less the failed
		t.Errorf("%d cost points", len(costs))
	}
	// Durations against the left axis.
	y := yScale(t, root)
	for i, s := range slots {
		if p.Points[i].Failed {
			continue
		}
		bar := s.classed("ch-dur")[0]
		if got, want := bar.f(t, "y"), y(p.Points[i].DurationMS); math.Abs(got-want) > 0.6 {
			t.Errorf("%d MB bar top at %.1f, want %.1f", p.Points[i].MemoryMB, got, want)
		}
	}
	wantIn(t, "Summary", p.Summary(), "6 memory sizes from 128 MB to 3,008 MB",
		"Cheapest: 512 MB at $0.0000067 per invocation (790 ms)", "Fastest: 3,008 MB at 231 ms", "Failed: 128 MB (timeout)")

	wantIn(t, "one size", draw(t, powers()["power-one"]).allText(), "$0.0000021", "cheapest", "fastest")
	wantIn(t, "no sizes", draw(t, powers()["power-empty"]).allText(), "No power-tuning results yet")
	allFailed := draw(t, powers()["power-all-failed"])
	if len(allFailed.classed("ch-best-cheapest")) != 0 {
		t.Errorf("a size marked cheapest when all failed")
	}
	wantIn(t, "Summary", powers()["power-all-failed"].Summary(), "Every size failed")
}

func TestWaterfall(t *testing.T) {
	w := xrayLab()
	root := draw(t, w)
	rows := root.classed("ch-row")
	if len(rows) != len(w.Segments) {
		t.Fatalf("%d rows, want %d", len(rows), len(w.Segments))
	}
	var prevX float64
	for i, r := range rows {
		s := w.Segments[i]
		var name *node
		for _, k := range r.kids {
			if k.name == "text" {
				name = k
				break
			}
		}
		x := name.f(t, "x")
		if i > 0 && s.Depth > w.Segments[i-1].Depth && x <= prevX {
			t.Errorf("%s (depth %d) not indented: x=%.1f after %.1f", s.Name, s.Depth, x, prevX)
		}
		prevX = x
		wantIn(t, "row", r.allText(), s.Name, fmtDur(s.End.Sub(s.Start)))
		if s.Depth == 0 {
			wantIn(t, "segment row", r.allText(), s.Origin)
		}
	}
	// Bars share one axis: their widths are in the ratio of the durations.
	bar := func(i int) *node {
		return rows[i].find(func(n *node) bool { return n.name == "rect" })[0]
	}
	get, put := bar(5), bar(6) // S3 GetObject, S3 PutObject
	ratio := get.f(t, "width") / put.f(t, "width")
	want := float64(w.Segments[5].End.Sub(w.Segments[5].Start)) / float64(w.Segments[6].End.Sub(w.Segments[6].Start))
	if math.Abs(ratio-want) > 0.02 {
		t.Errorf("GetObject/PutObject widths %.3f, durations %.3f", ratio, want)
	}
	if !put.has("ch-fault") || len(rows[6].classed("ch-sym-fault")) != 1 {
		t.Errorf("the fault is not marked with a class and a symbol")
	}
	wantIn(t, "faulted row", rows[6].allText(), "fault")
	wantIn(t, "annotated row", rows[4].allText(), "orders=2")
	wantIn(t, "Summary", w.Summary(), "Trace of 1.84 s: 2 segments, 5 subsegments", "Longest subsegment: Invocation (1.41 s)", "Faults: S3 PutObject")

	e := waterfalls()["waterfall-errors"]
	er := draw(t, e)
	rows = er.classed("ch-row")
	if len(rows[1].classed("ch-sym-error")) != 1 || len(rows[1].classed("ch-sym-throttle")) != 1 {
		t.Errorf("the throttled error lacks its two marks")
	}
	wantIn(t, "throttled row", rows[1].allText(), "error", "throttled", "order=7 · attempt=3")
	wantIn(t, "hostile row", rows[4].hover(), hostile+"="+hostile, "(in progress)")
	wantIn(t, "Summary", e.Summary(), "Errors: place-orders, Lambda Invoke checkout", "Throttled: Lambda Invoke checkout", hostile+" 10 ms (in progress)")
	if got := er.find(func(n *node) bool { return n.name == "script" }); len(got) != 0 {
		t.Errorf("a segment name became markup")
	}
	wantIn(t, "empty", draw(t, waterfalls()["waterfall-empty"]).allText(), "No segments in this trace")
	wantIn(t, "long", draw(t, waterfalls()["waterfall-long"]).allText(), "15 min", "200 ms")
}

// TestIDs: a given ID names every id inside; without one, two different
// drawings never share an id.
func TestIDs(t *testing.T) {
	tl := coldStarts()
	tl.ID = "monitor 1<>"
	root := draw(t, tl)
	root.walk(func(n *node) {
		if id := n.attr["id"]; id != "" && !strings.HasPrefix(id, "monitor1-") {
			t.Errorf("id %q does not start with the given ID", id)
		}
	})
	a, b := xrayLab(), xrayLab()
	b.Segments = b.Segments[:3]
	ida := parse(t, a.SVG()).kids[0].attr["id"]
	idb := parse(t, b.SVG()).kids[0].attr["id"]
	if ida == idb {
		t.Errorf("two different waterfalls share the id %q", ida)
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{fmtUSD(0.0000021), "$0.0000021"},
		{fmtUSD(0.00000208), "$0.0000021"},
		{fmtUSD(0.0123), "$0.012"},
		{fmtUSD(12.5), "$12.50"},
		{fmtDur(2400 * time.Microsecond), "2.4 ms"},
		{fmtDur(412 * time.Millisecond), "412 ms"},
		{fmtDur(1410 * time.Millisecond), "1.41 s"},
		{fmtDur(125 * time.Second), "2 min 5 s"},
		{fmtDur(900 * time.Second), "15 min"},
		{fmtDur(80 * time.Minute), "1 h 20 min"},
		{fmtNum(1204), "1,204"},
		{fmtNum(0.25), "0.25"},
		{fmtNum(1203.7), "1,204"},
		{fmtNum(12.345), "12.3"},
		{durRange(380*time.Millisecond, 412*time.Millisecond), "380–412 ms"},
		{durRange(980*time.Millisecond, 1200*time.Millisecond), "980 ms–1.2 s"},
		{esc("a\x00b\xffc<"), "a\uFFFDb\uFFFDc&lt;"},
		{cleanID("9 lives"), "ch-9lives"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	ticks, _ := niceTicks(0, 0.0000116, 4, false)
	if last := ticks[len(ticks)-1]; last < 0.0000116 || len(ticks) > 7 {
		t.Errorf("ticks %v do not cover 0.0000116 in a few steps", ticks)
	}
	ticks, _ = niceTicks(0, 3, 4, true)
	for _, v := range ticks {
		if v != math.Trunc(v) {
			t.Errorf("counting ticks %v have fractions", ticks)
		}
	}
}

// TestOddInput: numbers that are not numbers, spans outside the window or
// still running, and a window backwards still make a well-formed drawing
// that says what it can.
func TestOddInput(t *testing.T) {
	css, err := os.ReadFile("../static/ws-chart.css")
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	tc := TimeChart{Unit: "ms", Series: []Series{{Name: "d", Class: "duration",
		Points: []Point{{T: at(0), V: nan}, {T: at(60000), V: math.Inf(1)}, {T: at(120000), V: 300}, {T: at(180000), V: 200}}}}}
	p := PowerTuning{Points: []PowerPoint{{MemoryMB: 128, DurationMS: nan, CostUSD: 0.000001}, {MemoryMB: 256, DurationMS: 100, CostUSD: 0.000002}}}
	tl := Timeline{From: at(10000), To: at(20000), Reserved: -1, Instances: []InstanceRow{{
		ID:          "x",
		Init:        &Span{Start: at(12000)}, // still initializing
		Invocations: []Span{sp(1000, 100, "before", ""), sp(25000, 100, "after", ""), sp(15000, 100, "inside", "")},
	}}}
	backwards := TimeChart{From: at(5000), To: at(0), Series: []Series{{Name: "n", Points: []Point{{T: at(1000), V: 1}}}}}
	for name, d := range map[string]drawing{"chart": tc, "power": p, "timeline": tl, "backwards": backwards} {
		out := d.SVG()
		if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
			t.Errorf("%s: a coordinate is not a number:\n%s", name, out)
		}
		root := parse(t, out)
		checkCommon(t, root, d.Summary(), string(css))
		checkNoOverlap(t, root)
	}
	if !math.IsNaN(p.Points[0].DurationMS) || p.Points[0].Failed {
		t.Errorf("drawing changed the caller's points: %+v", p.Points[0])
	}
	wantIn(t, "Summary", p.Summary(), "Cheapest: 256 MB", "Failed: 128 MB")
	wantIn(t, "Summary", tc.Summary(), "d: 200 ms to 300 ms")
	root := parse(t, tl.SVG())
	bars := root.classed("ch-inv")
	if len(bars) != 1 || !strings.Contains(bars[0].hover(), "inside") {
		t.Errorf("want only the invocation inside the window drawn, got %d bars", len(bars))
	}
	if in := root.classed("ch-init"); len(in) != 1 || !strings.Contains(in[0].hover(), "still running") {
		t.Errorf("a running init is not drawn as such")
	}
}

// TestTimelineCounts: in every timeline, one bar per invocation in the
// window, one init bar per cold start, and throttle marks that add up to
// the throttles.
func TestTimelineCounts(t *testing.T) {
	for name, d := range timelines() {
		tl := d.(Timeline)
		root := draw(t, tl)
		inv, inits := 0, 0
		for _, in := range tl.Instances {
			inv += len(in.Invocations)
			if in.Init != nil {
				inits++
			}
		}
		if got := len(root.classed("ch-inv")); got != inv {
			t.Errorf("%s: %d invocation bars, want %d", name, got, inv)
		}
		if got := len(root.classed("ch-init")); got != inits {
			t.Errorf("%s: %d init bars, want %d", name, got, inits)
		}
		n := 0
		for _, m := range root.classed("ch-throttle") {
			c, _ := strconv.Atoi(m.attr["data-count"])
			n += c
		}
		if n != len(tl.Throttles) {
			t.Errorf("%s: throttle marks add up to %d, want %d", name, n, len(tl.Throttles))
		}
		if len(tl.Instances) > 0 {
			wantIn(t, name+" Summary", tl.Summary(), plural(inv, "invocation", "invocations"), fmtInt(len(tl.Throttles))+" throttled")
		}
	}
	wantIn(t, "Summary", concurrencyLab().Summary(), "5 environments; 5 cold starts, init 380–416 ms; 20 invocations; 42 throttled; reserved concurrency 5 reached at 14:03:00.012")
}
