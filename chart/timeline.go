package chart

import (
	"math"
	"sort"
	"strings"
	"time"
)

// tlFacts is what a Timeline says, worked out once for the drawing and its
// words.
type tlFacts struct {
	from, to          time.Time
	envs, provisioned int
	cold              int
	initMin, initMax  time.Duration
	invocations       int
	failed            map[string]int // by failWord
	failedN           int
	throttles         int
	reclaimed         int
	peak              int       // most environments busy at once
	peakAt            time.Time // when peak was first reached
	reached           bool      // Reserved > 0 and peak ≥ Reserved
	reachedAt         time.Time
	shortIDs          []string
	empty             bool
}

func (t Timeline) facts() tlFacts {
	f := tlFacts{failed: map[string]int{}, envs: len(t.Instances), throttles: len(t.Throttles)}
	f.from, f.to = t.From, t.To
	f.empty = len(t.Instances) == 0 && len(t.Throttles) == 0

	// The window: the data's extent where From or To is not given.
	var lo, hi time.Time
	see := func(x time.Time) {
		if x.IsZero() {
			return
		}
		if lo.IsZero() || x.Before(lo) {
			lo = x
		}
		if hi.IsZero() || x.After(hi) {
			hi = x
		}
	}
	for _, in := range t.Instances {
		if in.Init != nil {
			see(in.Init.Start)
			see(in.Init.End)
		}
		for _, s := range in.Invocations {
			see(s.Start)
			see(s.End)
		}
		see(in.Reclaimed)
	}
	for _, x := range t.Throttles {
		see(x)
	}
	if f.from.IsZero() {
		f.from = lo
		if !hi.IsZero() && !lo.IsZero() && t.To.IsZero() {
			// A little room on the left so the first bar is not on the edge.
			f.from = lo.Add(-hi.Sub(lo) / 50)
		}
	}
	if f.to.IsZero() {
		f.to = hi.Add(hi.Sub(lo) / 50)
	}
	if f.from.IsZero() {
		f.from = f.to.Add(-time.Minute)
	}
	if !f.to.After(f.from) {
		f.to = f.from.Add(time.Second)
	}

	for _, in := range t.Instances {
		if in.Provisioned {
			f.provisioned++
		}
		if in.Init != nil {
			f.cold++
			d := in.Init.endOr(f.to).Sub(in.Init.Start)
			if f.cold == 1 || d < f.initMin {
				f.initMin = d
			}
			if f.cold == 1 || d > f.initMax {
				f.initMax = d
			}
		}
		f.invocations += len(in.Invocations)
		for _, s := range in.Invocations {
			if s.Class != "" {
				f.failedN++
				f.failed[failWord(s.Class)]++
			}
		}
		if !in.Reclaimed.IsZero() {
			f.reclaimed++
		}
	}
	f.shortIDs = shortIDs(t.Instances)

	// How many environments were busy at once: each row's busy stretches
	// merged first, so an init running into its first invocation counts once.
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, in := range t.Instances {
		var busy []span
		add := func(s Span) {
			end := s.End
			if end.IsZero() {
				end = f.to
			}
			busy = append(busy, span{float64(s.Start.UnixNano()), float64(end.UnixNano())})
		}
		if in.Init != nil {
			add(*in.Init)
		}
		for _, s := range in.Invocations {
			add(s)
		}
		for _, b := range mergeSpans(busy) {
			edges = append(edges, edge{time.Unix(0, int64(b.a)), 1}, edge{time.Unix(0, int64(b.b)), -1})
		}
	}
	sort.SliceStable(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].d < edges[j].d // one ends before the next starts
		}
		return edges[i].at.Before(edges[j].at)
	})
	n := 0
	for _, e := range edges {
		n += e.d
		if n > f.peak {
			f.peak, f.peakAt = n, e.at.In(f.from.Location())
		}
		if t.Reserved > 0 && n >= t.Reserved && !f.reached {
			f.reached, f.reachedAt = true, e.at.In(f.from.Location())
		}
	}
	return f
}

// endOr is when s ends, or to while it is still running.
func (s Span) endOr(to time.Time) time.Time {
	if s.End.IsZero() {
		return to
	}
	return s.End
}

// mergeSpans joins overlapping or touching stretches.
func mergeSpans(s []span) []span {
	sort.Slice(s, func(i, j int) bool { return s[i].a < s[j].a })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && x.a <= out[n-1].b {
			out[n-1].b = max(out[n-1].b, x.b)
			continue
		}
		out = append(out, x)
	}
	return out
}

// failWord names how an invocation failed, for people.
func failWord(class string) string {
	switch class {
	case "timeout":
		return "timeout"
	case "oom":
		return "out of memory"
	case "error", "":
		return "error"
	}
	return class
}

// shortIDs is each row's label: the first 8 characters of its id, more
// where two would read the same.
func shortIDs(rows []InstanceRow) []string {
	out := make([]string, len(rows))
	for n := 8; ; n += 4 {
		seen := map[string]int{}
		longest := 0
		for i, r := range rows {
			id := []rune(r.ID)
			longest = max(longest, len(id))
			s := string(id[:min(n, len(id))])
			if s == "" {
				s = "env " + fmtInt(i+1)
			}
			out[i] = s
			seen[s]++
		}
		dup := false
		for _, c := range seen {
			dup = dup || c > 1
		}
		if !dup || n >= longest {
			return out
		}
	}
}

// Summary says in words what the timeline shows: environments, cold starts
// and their init, invocations and how many failed, throttles, the reserved
// limit and when it was reached, and the window. It is the drawing's
// <desc>; a page may print it beside the picture, e.g. in a <details>.
func (t Timeline) Summary() string {
	f := t.facts()
	return t.summary(f)
}

func (t Timeline) summary(f tlFacts) string {
	if f.empty {
		return emptyWords(t.Empty, "No invocations in this window")
	}
	span := f.to.Sub(f.from)
	at := func(x time.Time) string { return clock(x, span) }
	var parts []string
	if f.envs == 0 {
		parts = append(parts, "no environments")
	} else {
		s := plural(f.envs, "environment", "environments")
		if f.provisioned > 0 {
			s += " (" + fmtInt(f.provisioned) + " provisioned)"
		}
		parts = append(parts, s)
	}
	switch {
	case f.cold == 0:
		parts = append(parts, "no cold starts")
	case f.initMin == f.initMax:
		parts = append(parts, plural(f.cold, "cold start", "cold starts")+", init "+fmtDur(f.initMin))
	default:
		parts = append(parts, plural(f.cold, "cold start", "cold starts")+", init "+durRange(f.initMin, f.initMax))
	}
	inv := plural(f.invocations, "invocation", "invocations")
	if f.failedN > 0 {
		var kinds []string
		for _, w := range sortedKeys(f.failed) {
			kinds = append(kinds, fmtInt(f.failed[w])+" "+w)
		}
		inv += " (" + fmtInt(f.failedN) + " failed: " + strings.Join(kinds, ", ") + ")"
	}
	parts = append(parts, inv)
	parts = append(parts, fmtInt(f.throttles)+" throttled")
	switch {
	case t.Reserved == 0:
		parts = append(parts, "reserved concurrency 0: every request is throttled")
	case t.Reserved > 0 && f.reached:
		parts = append(parts, "reserved concurrency "+fmtInt(t.Reserved)+" reached at "+at(f.reachedAt))
	case t.Reserved > 0:
		parts = append(parts, "reserved concurrency "+fmtInt(t.Reserved)+", at most "+fmtInt(f.peak)+" busy at once")
	case f.peak > 0:
		parts = append(parts, "at most "+fmtInt(f.peak)+" busy at once")
	}
	if f.reclaimed > 0 {
		parts = append(parts, fmtInt(f.reclaimed)+" reclaimed")
	}
	s := strings.Join(parts, "; ")
	s = strings.ToUpper(s[:1]) + s[1:]
	return s + ". From " + at(f.from) + " to " + at(f.to) + " " + zone(f.from) + "."
}

func sortedKeys(m map[string]int) []string {
	var k []string
	for w := range m {
		k = append(k, w)
	}
	sort.Strings(k)
	return k
}

// SVG draws the timeline. Its parts carry classes a page's tests may look
// for: ch-env (a row), ch-init, ch-inv (an invocation; with ch-fail and
// ch-error, ch-timeout or ch-oom when it failed), ch-cap (a reclaim),
// ch-throttle (a mark standing for data-count throttled requests),
// ch-reach (where reserved concurrency was reached).
func (t Timeline) SVG() string {
	f := t.facts()
	title := t.Title
	if title == "" {
		title = "Instance timeline"
	}
	desc := t.summary(f)
	if f.empty {
		return emptyFrame(t.ID, "timeline", title, desc)
	}

	win := f.to.Sub(f.from)
	n := len(t.Instances)
	rowH := clamp(math.Floor(300/float64(max(n, 1))), 14, 36)
	twoLine := rowH >= 26
	labelSize := fontSize
	if rowH < 20 {
		labelSize = smallSize
	}

	// The label column is as wide as its longest label.
	labelW := textWidth("throttled", fontSize)
	for i, in := range t.Instances {
		w := textWidth(f.shortIDs[i], labelSize)
		if in.Provisioned {
			if twoLine {
				w = max(w, textWidth("provisioned", smallSize))
			} else {
				w += 4 + textWidth("provisioned", smallSize)
			}
		}
		labelW = max(labelW, w)
	}
	labelW = min(labelW, 190)
	plotL := 8 + labelW + 10
	plotR := float64(width - 12)
	x := func(at time.Time) float64 {
		return plotL + (plotR-plotL)*float64(at.Sub(f.from))/float64(win)
	}
	xc := func(at time.Time) float64 { return clamp(x(at), plotL, plotR) }

	var d doc
	d.open("defs")
	d.open("pattern", "id", ref("hatch"), "width", "6", "height", "6", "patternUnits", "userSpaceOnUse", "patternTransform", "rotate(45)")
	d.el("rect", "class", "ch-init-bg", "width", "6", "height", "6")
	d.el("line", "class", "ch-hatch", "x1", "0", "y1", "0", "x2", "0", "y2", "6")
	d.close("pattern")
	d.close("defs")

	top := 8.0
	if t.Reserved >= 0 {
		var note string
		switch {
		case t.Reserved == 0:
			note = "Reserved concurrency 0: every request is throttled"
		case f.reached:
			note = "Reserved concurrency " + fmtInt(t.Reserved) + ": all " + fmtInt(t.Reserved) + " busy at " + clock(f.reachedAt, win) + " (dashed line)"
		default:
			note = "Reserved concurrency " + fmtInt(t.Reserved) + ": at most " + fmtInt(f.peak) + " busy at once"
		}
		d.text(8, top+12, "ch-note", "start", fit(note, fontSize, width-16))
		top += 22
	}
	axisY := top + 18
	rowsTop := axisY + 4
	rowsBottom := rowsTop + float64(n)*rowH
	thrH := max(rowH, 22)
	bottom := rowsBottom + thrH

	// Stripes first, so that every other row reads as one line across.
	for i := range t.Instances {
		if i%2 == 1 {
			d.el("rect", "class", "ch-stripe", "x", "4", "y", num(rowsTop+float64(i)*rowH), "width", num(width-8), "height", num(rowH))
		}
	}
	d.el("line", "class", "ch-sep", "x1", "4", "y1", num(rowsBottom), "x2", num(width-4), "y2", num(rowsBottom))

	// The axis along the top, its ticks running down as a grid.
	for _, tx := range timeLabels(&d, f.from, f.to, plotL, plotR, axisY-6) {
		d.el("line", "class", "ch-grid", "x1", num(tx), "y1", num(axisY), "x2", num(tx), "y2", num(bottom))
	}
	d.el("line", "class", "ch-axis", "x1", num(plotL), "y1", num(axisY), "x2", num(plotR), "y2", num(axisY))

	// The reach line goes under the rows, so their labels stay readable.
	if f.reached {
		rx := xc(f.reachedAt)
		d.el("line", "class", "ch-reach", "x1", num(rx), "y1", num(axisY), "x2", num(rx), "y2", num(rowsBottom), "stroke-dasharray", "4 3")
	}
	barH := clamp(rowH*0.5, 8, 14)
	for i, in := range t.Instances {
		cy := rowsTop + float64(i)*rowH + rowH/2
		t.drawRow(&d, f, i, in, cy, barH, rowH, labelSize, twoLine, plotL, plotR, x, xc, win)
	}

	// Throttled requests: one mark per cluster too close to draw apart,
	// with its count.
	cy := rowsBottom + thrH/2
	d.text(8, cy+4, "", "start", "throttled")
	if len(t.Throttles) == 0 {
		d.text(plotL+4, cy+4, "ch-small ch-muted", "start", "none")
	}
	ths := append([]time.Time(nil), t.Throttles...)
	sort.Slice(ths, func(i, j int) bool { return ths[i].Before(ths[j]) })
	type cluster struct {
		first, last time.Time
		n           int
	}
	var cs []cluster
	// A storm of retries chains into one cluster: each joins the last
	// while it is within a mark's width of the one before it.
	for _, at := range ths {
		if k := len(cs); k > 0 && xc(at)-xc(cs[k-1].last) < 6 {
			cs[k-1].last = at
			cs[k-1].n++
			continue
		}
		cs = append(cs, cluster{at, at, 1})
	}
	for i, c := range cs {
		cx := xc(c.first) + (xc(c.last)-xc(c.first))/2
		what := "Throttled at " + exact(c.first)
		if c.n > 1 {
			what = fmtInt(c.n) + " throttled, " + exact(c.first) + "–" + exact(c.last)
		}
		s := 4.5
		x0, x1 := xc(c.first), xc(c.last)
		if x1-x0 > 2*s {
			// Spread over a while: a band from the first to the last.
			d.titled("path", what, "class", "ch-throttle", "data-count", fmtInt(c.n),
				"d", "M"+num(x0-s)+" "+num(cy)+"L"+num(x0)+" "+num(cy-s)+"H"+num(x1)+"L"+num(x1+s)+" "+num(cy)+"L"+num(x1)+" "+num(cy+s)+"H"+num(x0)+"Z")
		} else {
			d.titled("path", what, "class", "ch-throttle", "data-count", fmtInt(c.n),
				"d", "M"+num(cx)+" "+num(cy-s)+"L"+num(cx+s)+" "+num(cy)+"L"+num(cx)+" "+num(cy+s)+"L"+num(cx-s)+" "+num(cy)+"Z")
		}
		if c.n > 1 {
			label := fmtInt(c.n)
			w := textWidth(label, smallSize)
			next := plotR + 100
			if i+1 < len(cs) {
				next = xc(cs[i+1].first) - s - 2
			}
			if right := max(cx, x1) + s + 2; right+w <= min(next, width-4) {
				d.text(right, cy+4, "ch-small", "start", label)
			}
		}
	}

	if f.reached {
		rx := xc(f.reachedAt)
		d.titled("path", "Reserved concurrency "+fmtInt(t.Reserved)+" reached: "+fmtInt(t.Reserved)+" busy at "+exact(f.reachedAt),
			"class", "ch-reach-mark", "d", "M"+num(rx-5)+" "+num(axisY-1)+"L"+num(rx+5)+" "+num(axisY-1)+"L"+num(rx)+" "+num(axisY+6)+"Z")
	}

	// The legend names only what is on the picture.
	var items []legendItem
	hasInit, hasFail, hasCap, hasIdle := false, f.failedN > 0, f.reclaimed > 0, false
	for _, in := range t.Instances {
		hasInit = hasInit || in.Init != nil
		hasIdle = hasIdle || len(in.Invocations) > 0 || in.Init != nil
	}
	if hasInit {
		items = append(items, legendItem{"init", "init (cold start)"})
	}
	if f.invocations > 0 {
		items = append(items, legendItem{"inv", "invocation"})
	}
	if hasFail {
		items = append(items, legendItem{"fail", "failed (error, timeout, out of memory)"})
	}
	if hasIdle {
		items = append(items, legendItem{"idle", "idle"})
	}
	if hasCap {
		items = append(items, legendItem{"cap", "reclaimed"})
	}
	items = append(items, legendItem{"throttle", "throttled"})
	if f.reached {
		items = append(items, legendItem{"reach", "reserved concurrency reached"})
	}
	height := drawLegend(&d, items, 8, bottom+10)
	return finish(t.ID, "timeline", title, desc, height+6, d.b.String())
}

func (t Timeline) drawRow(d *doc, f tlFacts, i int, in InstanceRow, cy, barH, rowH, labelSize float64, twoLine bool,
	plotL, plotR float64, x, xc func(time.Time) float64, win time.Duration) {
	// The row's hover names the whole environment.
	var what []string
	what = append(what, "Environment "+in.ID)
	if in.Provisioned {
		what = append(what, "provisioned")
	}
	if in.Init != nil {
		what = append(what, "init "+fmtDur(in.Init.endOr(f.to).Sub(in.Init.Start))+" at "+clock(in.Init.Start, win))
	}
	what = append(what, plural(len(in.Invocations), "invocation", "invocations"))
	if in.Reclaimed.IsZero() {
		what = append(what, "still running")
	} else {
		what = append(what, "reclaimed at "+clock(in.Reclaimed, win))
	}
	d.open("g", "class", "ch-env")
	d.title(strings.Join(what, ", "))

	idLabel := f.shortIDs[i]
	labelClass := ""
	if labelSize < fontSize {
		labelClass = "ch-small"
	}
	switch {
	case in.Provisioned && twoLine:
		d.text(8, cy-2, labelClass, "start", idLabel)
		d.text(8, cy+10, "ch-small ch-muted", "start", "provisioned")
	case in.Provisioned:
		d.open("text", "x", "8", "y", num(cy+4), "class", labelClass)
		d.b.WriteString(esc(idLabel) + " ")
		d.open("tspan", "class", "ch-small ch-muted")
		d.b.WriteString("provisioned")
		d.close("tspan")
		d.close("text")
	default:
		d.text(8, cy+4, labelClass, "start", idLabel)
	}

	// Everything on the row is laid out first, so that a label placed on
	// the idle line can interrupt it instead of being struck through.
	type bar struct {
		x0, x1 float64
		class  string
		fill   string
		hover  string
		words  string // inside the bar
		cross  bool   // a failure's mark at its end
	}
	type label struct {
		x      float64
		y      float64
		class  string
		anchor string
		s      string
	}
	var bars []bar
	var labels []label
	var row taken   // x taken on the bars' line
	var gaps []span // where labels interrupt the idle line

	extent := func(s Span) (float64, float64) {
		e := s.End
		if e.IsZero() {
			e = f.to
		}
		x0, x1 := xc(s.Start), xc(e)
		if x1-x0 < 1.5 { // a 2 ms call in an hour is still there
			x1 = x0 + 1.5
		}
		return x0, x1
	}
	textSize, textClass := fontSize, ""
	if barH < 12 {
		textSize, textClass = smallSize, "ch-small "
	}
	// Only what falls in the window is drawn.
	inWindow := func(s Span) bool { return !s.endOr(f.to).Before(f.from) && !s.Start.After(f.to) }
	hasInit := in.Init != nil && inWindow(*in.Init)
	if hasInit {
		x0, x1 := extent(*in.Init)
		h := "Init " + fmtDur(in.Init.endOr(f.to).Sub(in.Init.Start)) + ", " + exact(in.Init.Start) + " to " + exact(in.Init.End)
		if in.Init.End.IsZero() {
			h = "Init since " + exact(in.Init.Start) + ", still running"
		}
		if in.Init.Label != "" {
			h = in.Init.Label + ": " + h
		}
		bars = append(bars, bar{x0: x0, x1: x1, class: "ch-init", fill: url("hatch"), hover: h})
		row = append(row, span{x0, x1})
	}
	k := barH / 2.6 // half the failure cross
	for _, s := range in.Invocations {
		if !inWindow(s) {
			continue
		}
		x0, x1 := extent(s)
		b := bar{x0: x0, x1: x1, class: "ch-inv"}
		if s.Class != "" {
			kind := s.Class
			if kind != "timeout" && kind != "oom" {
				kind = "error"
			}
			b.class += " ch-fail ch-" + kind
			b.cross = true
		}
		var dur string
		if s.End.IsZero() {
			dur = "running since " + exact(s.Start)
		} else {
			dur = fmtDur(s.End.Sub(s.Start)) + ", started " + exact(s.Start)
		}
		b.hover = dur
		if s.Class != "" {
			b.hover = failWord(s.Class) + " after " + dur
		}
		if s.Label != "" {
			b.hover = s.Label + ": " + b.hover
		}
		var words []string
		if s.Class != "" {
			words = append(words, failWord(s.Class)+" "+fmtDur(s.End.Sub(s.Start)), failWord(s.Class))
		} else if !s.End.IsZero() {
			words = append(words, fmtDur(s.End.Sub(s.Start)))
		}
		for _, w := range words {
			// Room for the words, and for the cross at the end.
			room := x1 - x0 - 8
			if b.cross {
				room -= k + 2
			}
			if textWidth(w, textSize) <= room {
				b.words = w
				break
			}
		}
		bars = append(bars, b)
		row = append(row, span{x0, x1})
		if b.cross {
			row = append(row, span{x1 - k - 1, x1 + k + 1})
		}
	}

	// "Init 412 ms": inside its bar; else over it when the row is tall
	// enough; else on the idle line to its left or after the bars that
	// follow it; nowhere when the row is too full (the hover and the
	// description still say it).
	if hasInit {
		b := bars[0]
		s := "Init " + fmtDur(in.Init.endOr(f.to).Sub(in.Init.Start))
		w := textWidth(s, textSize)
		ws := textWidth(s, smallSize)
		after := b.x1
		for _, r := range row {
			if r.a >= b.x1-0.5 && r.a <= after+0.5 {
				after = max(after, r.b)
			}
		}
		switch {
		case b.x1-b.x0 >= w+8:
			labels = append(labels, label{(b.x0 + b.x1) / 2, cy + textSize/3, textClass + "ch-halo", "middle", s})
		case rowH < 20:
			// Many rows: the staircase of inits is the picture; a label on
			// some rows and not others would only be noise.
		case rowH >= 30 && b.x0+ws <= plotR:
			labels = append(labels, label{b.x0, cy - barH/2 - 3, "ch-small ch-halo", "start", s})
		case b.x0-4-w >= plotL && row.free(b.x0-6-w, b.x0-2):
			labels = append(labels, label{b.x0 - 4, cy + textSize/3, textClass, "end", s})
			gaps = append(gaps, span{b.x0 - 6 - w, b.x0 - 2})
			row = append(row, span{b.x0 - 6 - w, b.x0 - 2})
		case after+4+w <= plotR && row.free(after+2, after+6+w):
			labels = append(labels, label{after + 4, cy + textSize/3, textClass, "start", s})
			gaps = append(gaps, span{after + 2, after + 6 + w})
			row = append(row, span{after + 2, after + 6 + w})
		}
	}

	capX := -1.0
	if !in.Reclaimed.IsZero() && !in.Reclaimed.After(f.to) {
		capX = x(in.Reclaimed)
		w := textWidth("reclaimed", smallSize)
		switch {
		case capX+4+w <= plotR && row.free(capX+2, capX+6+w):
			labels = append(labels, label{capX + 4, cy + 4, "ch-small ch-muted", "start", "reclaimed"})
		case capX-4-w >= plotL && row.free(capX-6-w, capX-2):
			labels = append(labels, label{capX - 4, cy + 4, "ch-small ch-muted", "end", "reclaimed"})
			gaps = append(gaps, span{capX - 6 - w, capX - 2})
		}
	}

	// Idle is the thin line under everything, from the environment's start
	// (its init, or the left edge when it was there before) to its reclaim
	// or the right edge while it lives, broken where a label stands on it.
	start := f.from
	if in.Init != nil {
		start = in.Init.Start
	}
	end := f.to
	if !in.Reclaimed.IsZero() {
		end = in.Reclaimed
	}
	a, z := xc(start), xc(end)
	for _, g := range mergeSpans(gaps) {
		if g.a > a {
			d.el("line", "class", "ch-idle", "x1", num(a), "y1", num(cy), "x2", num(min(g.a, z)), "y2", num(cy))
		}
		a = max(a, g.b)
	}
	if z > a {
		d.el("line", "class", "ch-idle", "x1", num(a), "y1", num(cy), "x2", num(z), "y2", num(cy))
	}

	for _, b := range bars {
		d.titled("rect", b.hover, "class", b.class, "fill", b.fill,
			"x", num(b.x0), "y", num(cy-barH/2), "width", num(b.x1-b.x0), "height", num(barH))
		if b.words != "" {
			mid := (b.x0 + b.x1) / 2
			if b.cross {
				mid -= (k + 2) / 2
			}
			d.text(mid, cy+textSize/3, textClass+"ch-onbar", "middle", b.words)
		}
		if b.cross {
			// A failure is marked by a cross at its end, not only its colour.
			p := "M" + num(b.x1-k) + " " + num(cy-k) + "L" + num(b.x1+k) + " " + num(cy+k) +
				"M" + num(b.x1-k) + " " + num(cy+k) + "L" + num(b.x1+k) + " " + num(cy-k)
			d.el("path", "class", "ch-failmark-halo", "d", p)
			d.el("path", "class", "ch-failmark", "d", p)
		}
	}
	if capX >= 0 {
		d.titled("line", "Reclaimed at "+exact(in.Reclaimed), "class", "ch-cap",
			"x1", num(capX), "y1", num(cy-barH/2-2), "x2", num(capX), "y2", num(cy+barH/2+2))
	}
	for _, l := range labels {
		d.text(l.x, l.y, l.class, l.anchor, l.s)
	}
	d.close("g")
}

// legendItem is one swatch and its words.
type legendItem struct{ kind, label string }

// drawLegend writes the items left to right from x, y, wrapping at the
// drawing's width, and returns the y below it.
func drawLegend(d *doc, items []legendItem, x0, y float64) float64 {
	if len(items) == 0 {
		return y
	}
	d.open("g", "class", "ch-legend")
	defer d.close("g")
	x := x0
	cy := y + 8
	for _, it := range items {
		w := 18 + textWidth(it.label, smallSize) + 14
		if x+w > width-8 && x > x0 {
			x = x0
			cy += 18
		}
		swatch(d, it.kind, x, cy)
		d.text(x+18, cy+3.5, "ch-small", "start", it.label)
		x += w
	}
	return cy + 10
}

// swatch draws a legend's sample of kind in a 14 × 10 box centred on cy.
func swatch(d *doc, kind string, x, cy float64) {
	box := func(class string, kv ...string) {
		d.el("rect", override([]string{"class", class, "x", num(x), "y", num(cy - 5), "width", "14", "height", "10"}, kv)...)
	}
	line := func(class string, kv ...string) {
		d.el("line", override([]string{"class", class, "x1", num(x), "y1", num(cy), "x2", num(x + 14), "y2", num(cy)}, kv)...)
	}
	switch kind {
	case "init":
		box("ch-init", "fill", url("hatch"))
	case "inv":
		box("ch-inv")
	case "fail":
		d.el("rect", "class", "ch-inv ch-fail", "x", num(x), "y", num(cy-5), "width", "10", "height", "10")
		p := "M" + num(x+6.5) + " " + num(cy-3.5) + "L" + num(x+13.5) + " " + num(cy+3.5) + "M" + num(x+6.5) + " " + num(cy+3.5) + "L" + num(x+13.5) + " " + num(cy-3.5)
		d.el("path", "class", "ch-failmark-halo", "d", p)
		d.el("path", "class", "ch-failmark", "d", p)
	case "idle":
		line("ch-idle")
	case "cap":
		line("ch-idle", "x2", num(x+7))
		d.el("line", "class", "ch-cap", "x1", num(x+7), "y1", num(cy-6), "x2", num(x+7), "y2", num(cy+6))
	case "throttle":
		d.el("path", "class", "ch-throttle", "d", "M"+num(x+7)+" "+num(cy-4.5)+"l4.5 4.5l-4.5 4.5l-4.5 -4.5Z")
	case "reach":
		d.el("line", "class", "ch-reach", "x1", num(x+7), "y1", num(cy-6), "x2", num(x+7), "y2", num(cy+6), "stroke-dasharray", "4 3")
	case "limit":
		line("ch-limit", "stroke-dasharray", "6 4")
	case "pdur":
		box("ch-dur")
	case "pcost":
		line("ch-line ch-s-cost")
		d.el("circle", "class", "ch-cost", "cx", num(x+7), "cy", num(cy), "r", "3")
	case "failed":
		box("ch-dur ch-failed", "fill", url("hatch-fail"))
	default:
		// A series: kind is "bar:<class>", "line:<class>:<dash>".
		parts := strings.Split(kind, ":")
		switch parts[0] {
		case "bar":
			fill := ""
			if len(parts) > 2 {
				fill = url(parts[2])
			}
			box("ch-bar ch-s-"+parts[1], "fill", fill)
		case "line":
			dash := ""
			if len(parts) > 2 {
				dash = parts[2]
			}
			line("ch-line ch-s-"+parts[1], "stroke-dasharray", dash)
		}
	}
}

// override is the attribute pairs kv with those of over put in: replaced
// where kv has the name, added where not.
func override(kv, over []string) []string {
	out := append([]string(nil), kv...)
next:
	for i := 0; i+1 < len(over); i += 2 {
		for j := 0; j+1 < len(out); j += 2 {
			if out[j] == over[i] {
				out[j+1] = over[i+1]
				continue next
			}
		}
		out = append(out, over[i], over[i+1])
	}
	return out
}

// emptyFrame is the drawing of nothing: a frame and the words why (the
// description, which says only that).
func emptyFrame(id, kind, title, msg string) string {
	var d doc
	d.el("rect", "class", "ch-frame ch-empty", "x", "8", "y", "8", "width", num(width-16), "height", "84", "rx", "4")
	d.text(width/2, 54, "ch-muted", "middle", fit(strings.TrimSuffix(msg, "."), fontSize, width-32))
	return finish(id, kind, title, msg, 100, d.b.String())
}

// emptyWords is the sentence an empty drawing says: the caller's, or def.
func emptyWords(msg, def string) string {
	if msg == "" {
		msg = def
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// durRange writes "380–412 ms", or "980 ms–1.2 s" when the units differ.
func durRange(lo, hi time.Duration) string {
	a, b := fmtDur(lo), fmtDur(hi)
	if i, j := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' '); i > 0 && j > 0 && a[i:] == b[j:] &&
		!strings.Contains(a[:i], " ") && !strings.Contains(b[:j], " ") {
		a = a[:i]
	}
	return a + "–" + b
}
