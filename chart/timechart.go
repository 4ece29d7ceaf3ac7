package chart

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// seriesClasses are the colours ws-chart.css defines for series.
var seriesClasses = map[string]bool{
	"invocations": true, "errors": true, "throttles": true, "duration": true, "concurrency": true,
}

// lineDashes tell lines apart without colour: the first solid, then
// dashed, then dotted.
var lineDashes = []string{"", "6 3", "2 3"}

type tcFacts struct {
	from, to time.Time
	bucket   time.Duration
	points   int
	yMax     float64
	whole    bool // every value a whole number: the axis counts in ones
	series   []Series
}

func (c TimeChart) facts() tcFacts {
	f := tcFacts{whole: true, bucket: c.Bucket}
	var ts []time.Time
	for _, s := range c.Series {
		// A value that is not a number has no place on an axis.
		var ps []Point
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				ps = append(ps, p)
			}
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].T.Before(ps[j].T) })
		s.Points = ps
		f.series = append(f.series, s)
		for _, p := range ps {
			f.points++
			ts = append(ts, p.T)
			f.yMax = max(f.yMax, p.V)
			f.whole = f.whole && p.V == math.Trunc(p.V)
		}
	}
	if c.LimitLabel != "" {
		f.yMax = max(f.yMax, c.Limit)
		f.whole = f.whole && c.Limit == math.Trunc(c.Limit)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	if f.bucket <= 0 {
		for i := 1; i < len(ts); i++ {
			if g := ts[i].Sub(ts[i-1]); g > 0 && (f.bucket == 0 || g < f.bucket) {
				f.bucket = g
			}
		}
	}
	f.from, f.to = c.From, c.To
	if len(ts) > 0 {
		if f.from.IsZero() {
			f.from = ts[0]
		}
		if f.to.IsZero() {
			f.to = ts[len(ts)-1]
			if c.Kind == "bars" || c.Bucket > 0 {
				f.to = f.to.Add(f.bucket)
			}
		}
	}
	if !f.to.After(f.from) {
		// One point and no window: a minute around it.
		if f.from.IsZero() {
			f.from = f.to.Add(-time.Minute)
		}
		f.from, f.to = f.from.Add(-30*time.Second), f.from.Add(30*time.Second)
	}
	if f.bucket <= 0 {
		f.bucket = f.to.Sub(f.from) / 20
	}
	return f
}

// seriesClass is the colour class of a series; unknown names draw in the
// neutral colour.
func seriesClass(s Series) string {
	if seriesClasses[s.Class] {
		return s.Class
	}
	return "other"
}

func withUnit(v float64, unit string) string {
	switch unit {
	case "":
		return fmtNum(v)
	case "%":
		return fmtNum(v) + "%"
	}
	return fmtNum(v) + " " + unit
}

// Summary says in words what the chart shows: per series its total (bars),
// range and average (lines) or peak (steps) and when, the limit and
// whether it was reached, and the window. It is the drawing's <desc>.
func (c TimeChart) Summary() string { return c.summary(c.facts()) }

func (c TimeChart) summary(f tcFacts) string {
	if f.points == 0 {
		return emptyWords(c.Empty, "No invocations in this window")
	}
	span := f.to.Sub(f.from)
	at := func(x time.Time) string { return clock(x, span) }
	var parts []string
	reached := time.Time{}
	for _, s := range f.series {
		name := s.Name
		if name == "" {
			name = "Values"
		}
		if len(s.Points) == 0 {
			parts = append(parts, name+": none")
			continue
		}
		sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		var hiAt time.Time
		for _, p := range s.Points {
			sum += p.V
			lo = min(lo, p.V)
			if p.V > hi {
				hi, hiAt = p.V, p.T
			}
			if c.LimitLabel != "" && p.V >= c.Limit && (reached.IsZero() || p.T.Before(reached)) {
				reached = p.T
			}
		}
		switch c.Kind {
		case "bars":
			parts = append(parts, name+": "+withUnit(sum, c.Unit)+" in all, at most "+withUnit(hi, c.Unit)+
				" in "+fmtDur(f.bucket)+" (at "+at(hiAt)+")")
		case "step":
			parts = append(parts, name+": at most "+withUnit(hi, c.Unit)+" (at "+at(hiAt)+")")
		default:
			if len(s.Points) == 1 {
				parts = append(parts, name+": "+withUnit(hi, c.Unit)+" at "+at(hiAt))
				break
			}
			parts = append(parts, name+": "+withUnit(lo, c.Unit)+" to "+withUnit(hi, c.Unit)+
				", average "+withUnit(sum/float64(len(s.Points)), c.Unit)+", highest at "+at(hiAt))
		}
	}
	if c.LimitLabel != "" {
		l := c.LimitLabel
		if !strings.Contains(l, fmtNum(c.Limit)) {
			l += " (" + fmtNum(c.Limit) + ")"
		}
		if reached.IsZero() {
			parts = append(parts, l+": not reached")
		} else {
			parts = append(parts, l+": reached at "+at(reached))
		}
	}
	return strings.Join(parts, ". ") + ". From " + at(f.from) + " to " + at(f.to) + " " + zone(f.from) + "."
}

// SVG draws the chart. Hooks for tests: ch-bar and ch-line (with ch-s-<class>)
// for the series, each bar and marker with a <title>; ch-limit for the
// limit line, ch-ytick for the y axis's labels (data-value holds the value).
func (c TimeChart) SVG() string {
	f := c.facts()
	title := c.Title
	if title == "" {
		var names []string
		for _, s := range c.Series {
			names = append(names, s.Name)
		}
		title = strings.Join(names, ", ")
		if title == "" {
			title = "Chart"
		}
	}
	desc := c.summary(f)
	if f.points == 0 {
		return emptyFrame(c.ID, "time", title, emptyWords(c.Empty, "No invocations in this window"))
	}
	span := f.to.Sub(f.from)

	var d doc
	d.open("defs")
	d.open("pattern", "id", ref("hatch-errors"), "width", "5", "height", "5", "patternUnits", "userSpaceOnUse", "patternTransform", "rotate(45)")
	d.el("rect", "class", "ch-s-errors ch-hatch-bg", "width", "5", "height", "5")
	d.el("line", "class", "ch-s-errors ch-hatch-line", "x1", "0", "y1", "0", "x2", "0", "y2", "5")
	d.close("pattern")
	d.close("defs")

	top := 8.0
	var items []legendItem
	nBars, nLines := 0, 0
	for _, s := range f.series {
		cls := seriesClass(s)
		name := s.Name
		if name == "" {
			name = "Values"
		}
		if c.Kind == "bars" {
			fill := ""
			if cls == "errors" {
				fill = ":hatch-errors"
			}
			items = append(items, legendItem{"bar:" + cls + fill, name})
			nBars++
		} else {
			items = append(items, legendItem{"line:" + cls + ":" + lineDashes[nLines%len(lineDashes)], name})
			nLines++
		}
	}
	if len(items) >= 2 {
		top = drawLegend(&d, items, 8, top) + 4
	}

	// Milliseconds in the hundred thousands read better as seconds; the
	// ticks' data-value stays in the data's unit.
	unit, scale := c.Unit, 1.0
	if unit == "ms" && f.yMax >= 10000 {
		unit, scale = "s", 1000
	}
	ticks, step := niceTicks(0, f.yMax/scale, 4, f.whole)
	dec := decimalsFor(step)
	tickW := 0.0
	for _, v := range ticks {
		tickW = max(tickW, textWidth(fmtFixed(v, dec), smallSize))
	}
	plotL := 8 + max(tickW, textWidth(unit, smallSize)) + 8
	plotR := float64(width - 14)
	plotTop := top + 18
	plotH := 170.0
	plotB := plotTop + plotH
	yTop := ticks[len(ticks)-1] * scale
	y := func(v float64) float64 { return plotB - plotH*v/yTop }
	x := func(at time.Time) float64 { return plotL + (plotR-plotL)*float64(at.Sub(f.from))/float64(span) }
	xc := func(at time.Time) float64 { return clamp(x(at), plotL, plotR) }

	if unit != "" {
		d.text(8, plotTop-8, "ch-small ch-muted", "start", unit)
	}
	for _, v := range ticks {
		ty := y(v * scale)
		d.el("line", "class", "ch-grid", "x1", num(plotL), "y1", num(ty), "x2", num(plotR), "y2", num(ty))
		d.open("text", "x", num(plotL-6), "y", num(ty+3.5), "class", "ch-small ch-ytick", "text-anchor", "end", "data-value", strconv.FormatFloat(v*scale, 'g', -1, 64))
		d.b.WriteString(esc(fmtFixed(v, dec)))
		d.close("text")
	}
	drawTimeAxis(&d, f.from, f.to, plotL, plotR, plotB)

	bucketPx := (plotR - plotL) * float64(f.bucket) / float64(span)
	bi, li := 0, 0
	for _, s := range f.series {
		cls := seriesClass(s)
		name := s.Name
		if name == "" {
			name = "Values"
		}
		switch {
		case c.Kind == "bars":
			group := max(bucketPx*0.8, 1)
			bw := max(group/float64(nBars), 1)
			fill := ""
			if cls == "errors" {
				fill = url("hatch-errors")
			}
			for _, p := range s.Points {
				x0 := x(p.T) + (bucketPx-group)/2 + float64(bi)*bw
				if x0 < plotL-0.5 || x0 > plotR {
					continue
				}
				h := "At " + clock(p.T, span) + "–" + clock(p.T.Add(f.bucket), span) + ": " + name + " " + withUnit(p.V, c.Unit)
				top := y(max(p.V, 0))
				d.titled("rect", h, "class", "ch-bar ch-s-"+cls, "fill", fill, "x", num(x0), "y", num(top),
					"width", num(min(bw-0.5, plotR-x0)), "height", num(plotB-top))
			}
			bi++
		default:
			dash := lineDashes[li%len(lineDashes)]
			li++
			mid := time.Duration(0)
			if c.Bucket > 0 && c.Kind != "step" {
				mid = f.bucket / 2
			}
			var pts []string
			for i, p := range s.Points {
				px, py := xc(p.T.Add(mid)), y(p.V)
				if c.Kind == "step" && i > 0 {
					pts = append(pts, num(px)+","+num(y(s.Points[i-1].V)))
				}
				pts = append(pts, num(px)+","+num(py))
			}
			if c.Kind == "step" && len(s.Points) > 0 {
				// The last value holds for its bucket, or, for points that
				// are changes (no Bucket), to the end of the window.
				last := s.Points[len(s.Points)-1]
				end := f.to
				if c.Bucket > 0 && last.T.Add(c.Bucket).Before(end) {
					end = last.T.Add(c.Bucket)
				}
				pts = append(pts, num(xc(end))+","+num(y(last.V)))
			}
			d.el("polyline", "class", "ch-line ch-s-"+cls, "points", strings.Join(pts, " "), "stroke-dasharray", dash)
			r := "2.5"
			if len(s.Points) > 60 {
				r = "1.2"
			}
			if len(s.Points) == 1 {
				r = "3.5"
			}
			for _, p := range s.Points {
				h := clock(p.T, span) + ": " + name + " " + withUnit(p.V, c.Unit)
				d.titled("circle", h, "class", "ch-dot ch-s-"+cls, "cx", num(xc(p.T.Add(mid))), "cy", num(y(p.V)), "r", r)
			}
			if f.points == 1 {
				// A lone point says its value: there is no line to read it by.
				p := s.Points[0]
				d.text(xc(p.T.Add(mid))+7, y(p.V)+4, "ch-halo", "start", withUnit(p.V, c.Unit))
			}
		}
	}
	d.el("line", "class", "ch-axis", "x1", num(plotL), "y1", num(plotB), "x2", num(plotR), "y2", num(plotB))

	if c.LimitLabel != "" {
		ly := y(c.Limit)
		d.titled("line", c.LimitLabel, "class", "ch-limit", "x1", num(plotL), "y1", num(ly), "x2", num(plotR), "y2", num(ly),
			"stroke-dasharray", "6 4", "data-value", strconv.FormatFloat(c.Limit, 'g', -1, 64))
		d.text(plotR-2, ly-4, "ch-small ch-halo ch-limit-label", "end", fit(c.LimitLabel, smallSize, plotR-plotL-8))
	}
	return finish(c.ID, "time", title, desc, plotB+30, d.b.String())
}

// drawTimeAxis writes a time axis's tick marks from y to y+4 and its
// wall-clock labels under them (baseline y+16).
func drawTimeAxis(d *doc, from, to time.Time, plotL, plotR, y float64) {
	for _, tx := range timeLabels(d, from, to, plotL, plotR, y+16) {
		d.el("line", "class", "ch-axis", "x1", num(tx), "y1", num(y), "x2", num(tx), "y2", num(y+4))
	}
}

// timeLabels writes the labels of a time axis at baseline y and returns
// where its ticks go: the finest round step whose labels all fit side by
// side, the first carrying the zone ("14:03 UTC").
func timeLabels(d *doc, from, to time.Time, plotL, plotR, y float64) []float64 {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	z := " " + zone(from)
	type placed struct {
		a, w float64
		s    string
	}
	var xs []float64
	var ls []placed
	for si, step := range timeSteps {
		ticks := stepTicks(from, to, step)
		if len(ticks) > 60 && si < len(timeSteps)-1 {
			continue
		}
		xs, ls = xs[:0], ls[:0]
		left, ok := 4.0, true
		for i, tk := range ticks {
			tx := plotL + (plotR-plotL)*float64(tk.t.Sub(from))/float64(span)
			l := tk.label
			if i == 0 {
				l += z
			}
			w := textWidth(l, smallSize)
			a := clamp(tx-w/2, 4, width-4-w)
			if a < left {
				ok = false
				break
			}
			xs = append(xs, tx)
			ls = append(ls, placed{a, w, l})
			left = a + w + 10
		}
		if ok || si == len(timeSteps)-1 {
			break
		}
	}
	for i, l := range ls {
		if math.Abs(l.a+l.w/2-xs[i]) < 0.05 {
			d.text(xs[i], y, "ch-small", "middle", l.s)
		} else {
			d.text(l.a, y, "ch-small", "start", l.s)
		}
	}
	return xs
}
