package chart

import (
	"strings"
	"time"
)

type wfFacts struct {
	start, end time.Time
	total      time.Duration
	segs, subs int
}

func (w Waterfall) facts() wfFacts {
	var f wfFacts
	f.start = w.Start
	for _, s := range w.Segments {
		if f.start.IsZero() || (w.Start.IsZero() && s.Start.Before(f.start)) {
			f.start = s.Start
		}
		if s.End.After(f.end) {
			f.end = s.End
		}
		if s.Depth == 0 {
			f.segs++
		} else {
			f.subs++
		}
	}
	if !f.end.After(f.start) {
		f.end = f.start.Add(time.Millisecond)
	}
	f.total = f.end.Sub(f.start)
	return f
}

// end is where a segment stops on the axis: still in progress (End zero)
// means the end of the trace.
func (f wfFacts) endOf(s Segment) time.Time {
	if s.End.IsZero() {
		return f.end
	}
	return s.End
}

// flags are the words for what went wrong in s, X-Ray's three kinds.
func flags(s Segment) []string {
	var w []string
	if s.Fault {
		w = append(w, "fault")
	}
	if s.Error {
		w = append(w, "error")
	}
	if s.Throttle {
		w = append(w, "throttled")
	}
	return w
}

// Summary says in words how long the trace took, how many segments and
// subsegments it has, the longest subsegment, which failed, and (for up to
// 12 rows) each row's duration. It is the drawing's <desc>.
func (w Waterfall) Summary() string { return w.summary(w.facts()) }

func (w Waterfall) summary(f wfFacts) string {
	if len(w.Segments) == 0 {
		return emptyWords(w.Empty, "No segments in this trace")
	}
	parts := []string{"Trace of " + fmtDur(f.total) + ": " + plural(f.segs, "segment", "segments") + ", " +
		plural(f.subs, "subsegment", "subsegments")}
	long := -1
	for i, s := range w.Segments {
		if s.Depth > 0 && (long < 0 || f.endOf(s).Sub(s.Start) > f.endOf(w.Segments[long]).Sub(w.Segments[long].Start)) {
			long = i
		}
	}
	if long >= 0 {
		s := w.Segments[long]
		parts = append(parts, "Longest subsegment: "+s.Name+" ("+fmtDur(f.endOf(s).Sub(s.Start))+")")
	}
	for _, kind := range []string{"fault", "error", "throttled"} {
		var names []string
		for _, s := range w.Segments {
			for _, k := range flags(s) {
				if k == kind {
					names = append(names, s.Name)
				}
			}
		}
		if len(names) > 0 {
			word := map[string]string{"fault": "Faults", "error": "Errors", "throttled": "Throttled"}[kind]
			parts = append(parts, word+": "+strings.Join(names, ", "))
		}
	}
	var rows []string
	for i, s := range w.Segments {
		if i == 12 {
			rows = append(rows, "and "+fmtInt(len(w.Segments)-12)+" more")
			break
		}
		r := s.Name + " " + fmtDur(f.endOf(s).Sub(s.Start))
		if s.End.IsZero() {
			r += " (in progress)"
		}
		rows = append(rows, r)
	}
	parts = append(parts, "Rows: "+strings.Join(rows, "; "))
	return strings.Join(parts, ". ") + "."
}

// SVG draws the waterfall. Hooks: ch-row (one per segment, data-depth),
// ch-seg / ch-sub (its bar, with ch-fault, ch-error or ch-throttle),
// ch-sym-fault, ch-sym-error, ch-sym-throttle (the marks), ch-annot.
func (w Waterfall) SVG() string {
	f := w.facts()
	title := w.Title
	if title == "" {
		title = "Trace waterfall"
	}
	desc := w.summary(f)
	if len(w.Segments) == 0 {
		return emptyFrame(w.ID, "waterfall", title, desc)
	}

	const indent = 12.0
	depth := func(s Segment) float64 { return float64(min(max(s.Depth, 0), 8)) * indent }
	labelW := 90.0
	for _, s := range w.Segments {
		labelW = max(labelW, depth(s)+textWidth(s.Name, fontSize))
		if s.Depth == 0 && s.Origin != "" {
			labelW = max(labelW, depth(s)+textWidth(s.Origin, smallSize))
		}
	}
	labelW = min(labelW, 210)
	plotL := 8 + labelW + 10
	// The axis leaves room on the right for the words beside any bar that
	// has room neither right nor left of it: found in a few rounds, since
	// narrowing the axis moves every bar.
	plotR := width - 8 - textWidth(fmtDur(f.total), fontSize) - 8
	for round := 0; round < 4; round++ {
		need := 0.0
		for _, s := range w.Segments {
			frac0 := clamp(float64(s.Start.Sub(f.start))/float64(f.total), 0, 1)
			frac1 := clamp(float64(f.endOf(s).Sub(f.start))/float64(f.total), 0, 1)
			x0, x1 := plotL+(plotR-plotL)*frac0, plotL+(plotR-plotL)*frac1
			bw := blockWidth(s, f)
			if x1+6+bw > width-6 && x0-6-bw < plotL {
				need = max(need, bw)
			}
		}
		if need == 0 {
			break
		}
		plotR = min(plotR, width-6-need-6)
	}
	totalMS := float64(f.total) / float64(time.Millisecond)
	x := func(t time.Time) float64 {
		return plotL + (plotR-plotL)*clamp(float64(t.Sub(f.start))/float64(f.total), 0, 1)
	}

	var d doc
	axisY := 26.0
	// Ticks: round offsets (1, 2, 5 × 10ⁿ ms up to a second, then whole
	// seconds and minutes), as many as fit their labels.
	var ticks []float64
	steps := append([]time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond}, timeSteps...)
	for _, st := range steps {
		n := int(f.total / st)
		if n > 40 {
			continue
		}
		widest := textWidth(fmtDur(st*time.Duration(n)), smallSize)
		gap := (plotR - plotL) * float64(st) / float64(f.total)
		if gap >= widest+24 || st == steps[len(steps)-1] {
			for k := 0; k <= n; k++ {
				ticks = append(ticks, float64(st*time.Duration(k))/float64(time.Millisecond))
			}
			break
		}
	}
	d.text(8, axisY-8, "ch-small ch-muted", "start", "from the trace's start")
	rows := 0.0
	for _, s := range w.Segments {
		rows += rowHeight(s)
	}
	bottom := axisY + 4 + rows
	left := 8 + textWidth("from the trace's start", smallSize) + 8
	for _, v := range ticks {
		if v > totalMS*1.0001 {
			break
		}
		tx := plotL + (plotR-plotL)*v/totalMS
		d.el("line", "class", "ch-grid", "x1", num(tx), "y1", num(axisY), "x2", num(tx), "y2", num(bottom))
		l := fmtMS(v)
		lw := textWidth(l, smallSize)
		if tx-lw/2 < left {
			continue
		}
		d.text(tx, axisY-8, "ch-small", "middle", l)
		left = tx + lw/2 + 6
	}
	d.el("line", "class", "ch-axis", "x1", num(plotL), "y1", num(axisY), "x2", num(plotR), "y2", num(axisY))

	y := axisY + 4
	for i, s := range w.Segments {
		h := rowHeight(s)
		if i%2 == 1 {
			d.el("rect", "class", "ch-stripe", "x", "4", "y", num(y), "width", num(width-8), "height", num(h))
		}
		w.drawSegment(&d, f, s, y, plotL, plotR, labelW, depth(s), x)
		y += h
	}
	return finish(w.ID, "waterfall", title, desc, bottom+8, d.b.String())
}

// rowHeight is taller for a row with a second line (origin, annotations).
func rowHeight(s Segment) float64 {
	if (s.Depth == 0 && s.Origin != "") || len(s.Annotations) > 0 {
		return 34
	}
	return 22
}

func (w Waterfall) drawSegment(d *doc, f wfFacts, s Segment, y, plotL, plotR, labelW, ind float64, x func(time.Time) float64) {
	end := f.endOf(s)
	dur := end.Sub(s.Start)
	words := flags(s)
	what := s.Name
	if s.Origin != "" {
		what += " (" + s.Origin + ")"
	}
	what += ": " + fmtDur(dur) + ", from +" + fmtDur(s.Start.Sub(f.start)) + " to +" + fmtDur(end.Sub(f.start))
	if s.End.IsZero() {
		what += " (in progress)"
	}
	if len(words) > 0 {
		what += "; " + strings.Join(words, ", ")
	}
	if len(s.Annotations) > 0 {
		what += "; " + strings.Join(s.Annotations, ", ")
	}
	d.open("g", "class", "ch-row", "data-depth", fmtInt(s.Depth))
	d.title(what)

	cy := y + 11
	nameClass := ""
	if s.Depth == 0 {
		nameClass = "ch-strong"
	}
	d.text(8+ind, cy+4, nameClass, "start", fit(s.Name, fontSize, labelW-ind))
	if s.Depth == 0 && s.Origin != "" {
		d.text(8+ind, cy+17, "ch-small ch-muted", "start", fit(s.Origin, smallSize, labelW-ind))
	}

	x0, x1 := x(s.Start), x(end)
	if x1-x0 < 1.5 {
		x1 = x0 + 1.5
	}
	cls := "ch-seg"
	if s.Depth > 0 {
		cls = "ch-sub"
	}
	switch {
	case s.Fault:
		cls += " ch-fault"
	case s.Error:
		cls += " ch-error"
	case s.Throttle:
		cls += " ch-throttle-seg"
	}
	bh := 12.0
	d.el("rect", "class", cls, "x", num(x0), "y", num(cy-bh/2), "width", num(x1-x0), "height", num(bh), "rx", "2")

	// Duration and the words for what went wrong, each with its mark,
	// beside the bar: right of it, else left of it, else inside.
	label := fmtDur(dur)
	blockW := blockWidth(s, f)
	var bx float64
	switch {
	case x1+6+blockW <= width-6:
		bx = x1 + 6
	case x0-6-blockW >= plotL:
		bx = x0 - 6 - blockW
	default:
		bx = max(plotL, width-6-blockW)
	}
	d.text(bx, cy+4, "ch-halo", "start", label)
	bx += textWidth(label, fontSize)
	for _, wd := range words {
		bx += 6
		symbol(d, wd, bx+5, cy)
		bx += 12
		d.text(bx, cy+4, "ch-small ch-halo ch-word-"+strings.TrimSuffix(wd, "d"), "start", wd)
		bx += boldWidth(wd, smallSize)
	}

	if len(s.Annotations) > 0 {
		a := strings.Join(s.Annotations, " · ")
		ax := clamp(x0, plotL, width-8-textWidth(a, smallSize))
		if ax < plotL {
			ax = plotL
		}
		d.text(ax, cy+17, "ch-small ch-muted ch-annot", "start", fit(a, smallSize, width-8-ax))
	}
	d.close("g")
}

// blockWidth is how wide the words beside a bar are: its duration, then a
// mark and a word for each thing that went wrong.
func blockWidth(s Segment, f wfFacts) float64 {
	w := textWidth(fmtDur(f.endOf(s).Sub(s.Start)), fontSize)
	for _, wd := range flags(s) {
		w += 6 + 12 + boldWidth(wd, smallSize)
	}
	return w
}

// boldWidth is textWidth for the semi-bold words.
func boldWidth(s string, size float64) float64 { return textWidth(s, size) * 1.08 }

// symbol draws X-Ray's marks: a fault a circle, an error a triangle, a
// throttle a diamond, centred on x, cy.
func symbol(d *doc, word string, x, cy float64) {
	switch word {
	case "fault":
		d.el("circle", "class", "ch-sym-fault", "cx", num(x), "cy", num(cy), "r", "4.5")
	case "error":
		d.el("path", "class", "ch-sym-error", "d", "M"+num(x)+" "+num(cy-5)+"L"+num(x+5)+" "+num(cy+4)+"L"+num(x-5)+" "+num(cy+4)+"Z")
	case "throttled":
		d.el("path", "class", "ch-sym-throttle", "d", "M"+num(x)+" "+num(cy-5)+"L"+num(x+5)+" "+num(cy)+"L"+num(x)+" "+num(cy+5)+"L"+num(x-5)+" "+num(cy)+"Z")
	}
}
