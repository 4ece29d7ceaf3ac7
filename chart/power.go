package chart

import (
	"math"
	"strconv"
	"strings"
)

type ptFacts struct {
	cheapest, fastest int // index into Points; -1 when every size failed
	failed            []int
	maxDur, maxCost   float64
}

func (p PowerTuning) facts() ptFacts {
	f := ptFacts{cheapest: -1, fastest: -1}
	for i, pt := range p.Points {
		f.maxDur = max(f.maxDur, pt.DurationMS)
		if pt.Failed {
			f.failed = append(f.failed, i)
			continue
		}
		f.maxCost = max(f.maxCost, pt.CostUSD)
		// Ties go to the smaller size: as cheap or as fast for less memory.
		if f.cheapest < 0 || pt.CostUSD < p.Points[f.cheapest].CostUSD ||
			pt.CostUSD == p.Points[f.cheapest].CostUSD && pt.MemoryMB < p.Points[f.cheapest].MemoryMB {
			f.cheapest = i
		}
		if f.fastest < 0 || pt.DurationMS < p.Points[f.fastest].DurationMS ||
			pt.DurationMS == p.Points[f.fastest].DurationMS && pt.MemoryMB < p.Points[f.fastest].MemoryMB {
			f.fastest = i
		}
	}
	return f
}

// clean is p with a copy of its points in which a duration or cost that
// is not a measurement (NaN, infinite, negative) makes the size failed.
func (p PowerTuning) clean() PowerTuning {
	pts := append([]PowerPoint(nil), p.Points...)
	for i, pt := range pts {
		if bad(pt.DurationMS) || bad(pt.CostUSD) {
			pts[i].Failed, pts[i].DurationMS, pts[i].CostUSD = true, 0, 0
		}
	}
	p.Points = pts
	return p
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }

func mb(n int) string { return fmtInt(n) + " MB" }

// Summary says in words which memory size was cheapest and which fastest,
// with their duration and cost, and which sizes failed. It is the
// drawing's <desc>.
func (p PowerTuning) Summary() string {
	p = p.clean()
	return p.summary(p.facts())
}

func (p PowerTuning) summary(f ptFacts) string {
	if len(p.Points) == 0 {
		return emptyWords(p.Empty, "No power-tuning results yet")
	}
	var parts []string
	first, last := p.Points[0].MemoryMB, p.Points[len(p.Points)-1].MemoryMB
	if len(p.Points) == 1 {
		parts = append(parts, "1 memory size, "+mb(first))
	} else {
		parts = append(parts, fmtInt(len(p.Points))+" memory sizes from "+mb(first)+" to "+mb(last))
	}
	if f.cheapest >= 0 {
		c, s := p.Points[f.cheapest], p.Points[f.fastest]
		parts = append(parts, "Cheapest: "+mb(c.MemoryMB)+" at "+fmtUSD(c.CostUSD)+" per invocation ("+fmtMS(c.DurationMS)+")")
		parts = append(parts, "Fastest: "+mb(s.MemoryMB)+" at "+fmtMS(s.DurationMS)+" ("+fmtUSD(s.CostUSD)+" per invocation)")
	} else {
		parts = append(parts, "Every size failed")
	}
	if len(f.failed) > 0 && f.cheapest >= 0 {
		var names []string
		for _, i := range f.failed {
			s := mb(p.Points[i].MemoryMB)
			if p.Points[i].Reason != "" {
				s += " (" + p.Points[i].Reason + ")"
			}
			names = append(names, s)
		}
		parts = append(parts, "Failed: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, ". ") + "."
}

// SVG draws duration as bars against the left axis (ms) and cost per
// invocation as a line against the right axis (USD), one slot per size,
// with a table of the values under the axis. Hooks: ch-pt (a slot, with
// data-mb), ch-dur (a bar), ch-cost (a point), ch-best-cheapest and
// ch-best-fastest (the words over the winning slots), ch-failed.
func (p PowerTuning) SVG() string {
	p = p.clean()
	f := p.facts()
	title := p.Title
	if title == "" {
		title = "Power tuning"
	}
	desc := p.summary(f)
	if len(p.Points) == 0 {
		return emptyFrame(p.ID, "power", title, desc)
	}

	var d doc
	d.open("defs")
	d.open("pattern", "id", ref("hatch-fail"), "width", "6", "height", "6", "patternUnits", "userSpaceOnUse", "patternTransform", "rotate(45)")
	d.el("rect", "class", "ch-fail-bg", "width", "6", "height", "6")
	d.el("line", "class", "ch-fail-line", "x1", "0", "y1", "0", "x2", "0", "y2", "6")
	d.close("pattern")
	d.close("defs")

	items := []legendItem{{"pdur", "duration (ms, left axis)"}, {"pcost", "cost per invocation (USD, right axis)"}}
	if len(f.failed) > 0 {
		items = append(items, legendItem{"failed", "failed"})
	}
	top := drawLegend(&d, items, 8, 8) + 6

	dTicks, dStep := niceTicks(0, max(f.maxDur, 1), 4, true)
	dDec := decimalsFor(dStep)
	maxCost := f.maxCost
	if maxCost <= 0 {
		maxCost = 0.000001
	}
	cTicks, cStep := niceTicks(0, maxCost, 4, false)
	cDec := decimalsFor(cStep)
	leftW, rightW := textWidth("ms", smallSize), textWidth("USD", smallSize)
	for _, v := range dTicks {
		leftW = max(leftW, textWidth(fmtFixed(v, dDec), smallSize))
	}
	for _, v := range cTicks {
		rightW = max(rightW, textWidth("$"+fmtFixed(v, cDec), smallSize))
	}
	plotL := 8 + leftW + 8
	plotR := width - 8 - rightW - 8
	plotTop := top + 44 // room for the units and for "cheapest"/"fastest" on two lines
	plotH := 160.0
	plotB := plotTop + plotH
	dTop, cTop := dTicks[len(dTicks)-1], cTicks[len(cTicks)-1]
	yd := func(v float64) float64 { return plotB - plotH*v/dTop }
	yc := func(v float64) float64 { return plotB - plotH*v/cTop }

	d.text(8, plotTop-34, "ch-small ch-muted", "start", "ms")
	if f.cheapest >= 0 {
		d.text(width-8, plotTop-34, "ch-small ch-muted", "end", "USD")
		d.el("line", "class", "ch-axis", "x1", num(plotR), "y1", num(plotTop), "x2", num(plotR), "y2", num(plotB))
	}
	for _, v := range dTicks {
		ty := yd(v)
		d.el("line", "class", "ch-grid", "x1", num(plotL), "y1", num(ty), "x2", num(plotR), "y2", num(ty))
		d.open("text", "x", num(plotL-6), "y", num(ty+3.5), "class", "ch-small ch-ytick", "text-anchor", "end", "data-value", strconv.FormatFloat(v, 'g', -1, 64))
		d.b.WriteString(esc(fmtFixed(v, dDec)))
		d.close("text")
	}
	for _, v := range cTicks {
		if f.cheapest < 0 {
			break // no size ran: no cost to read off
		}
		ty := yc(v)
		l := "$" + fmtFixed(v, cDec)
		if v == 0 {
			l = "$0"
		}
		d.el("line", "class", "ch-axis", "x1", num(plotR), "y1", num(ty), "x2", num(plotR+4), "y2", num(ty))
		d.open("text", "x", num(plotR+6), "y", num(ty+3.5), "class", "ch-small ch-ytick-right", "data-value", strconv.FormatFloat(v, 'g', -1, 64))
		d.b.WriteString(esc(l))
		d.close("text")
	}

	n := len(p.Points)
	slot := (plotR - plotL) / float64(n)
	barW := min(slot*0.55, 56)
	cx := func(i int) float64 { return plotL + slot*(float64(i)+0.5) }
	// The table under the axis shrinks its type when the slots are narrow.
	tSize, tClass := fontSize, ""
	widest := 0.0
	for _, pt := range p.Points {
		widest = max(widest, textWidth(fmtUSD(pt.CostUSD), fontSize), textWidth(mb(pt.MemoryMB), fontSize))
	}
	if widest+6 > slot {
		tSize, tClass = smallSize, "ch-small "
	}

	var line [][]string // the cost line, broken at failed sizes
	var cur []string
	for i, pt := range p.Points {
		x := cx(i)
		d.open("g", "class", "ch-pt", "data-mb", fmtInt(pt.MemoryMB))
		var what string
		if pt.Failed {
			what = mb(pt.MemoryMB) + ": failed"
			if pt.Reason != "" {
				what += " (" + pt.Reason + ")"
			}
			if pt.DurationMS > 0 {
				what += " after " + fmtMS(pt.DurationMS)
			}
		} else {
			what = mb(pt.MemoryMB) + ": " + fmtMS(pt.DurationMS) + ", " + fmtUSD(pt.CostUSD) + " per invocation"
		}
		d.title(what)
		if pt.Failed {
			h := plotH * 0.12
			if pt.DurationMS > 0 {
				h = max(plotB-yd(pt.DurationMS), 6)
			}
			d.el("rect", "class", "ch-dur ch-failed", "fill", url("hatch-fail"), "x", num(x-barW/2), "y", num(plotB-h), "width", num(barW), "height", num(h))
			d.text(x, plotB-h-6, "ch-failed-label ch-halo", "middle", "failed")
			if len(cur) > 0 {
				line = append(line, cur)
				cur = nil
			}
		} else {
			ty := yd(pt.DurationMS)
			cls := "ch-dur"
			if i == f.fastest {
				cls += " ch-best"
			}
			d.el("rect", "class", cls, "x", num(x-barW/2), "y", num(ty), "width", num(barW), "height", num(plotB-ty))
			cur = append(cur, num(x)+","+num(yc(pt.CostUSD)))
		}
		// The words over the winners, in the band above the plot.
		wy := plotTop - 8
		if i == f.fastest {
			d.text(x, wy, "ch-best-fastest ch-strong", "middle", "fastest")
			wy -= 14
		}
		if i == f.cheapest {
			d.text(x, wy, "ch-best-cheapest ch-strong", "middle", "cheapest")
		}
		if i == f.fastest || i == f.cheapest {
			d.el("line", "class", "ch-pointer", "x1", num(x), "y1", num(plotTop-4), "x2", num(x), "y2", num(plotTop+2))
		}
		// The table: size, duration, cost.
		ty := plotB + 16
		d.text(x, ty, tClass+"ch-strong", "middle", fit(mb(pt.MemoryMB), tSize, slot-2))
		dur, cost := "failed", "–"
		if !pt.Failed {
			dur, cost = fmtMS(pt.DurationMS), fmtUSD(pt.CostUSD)
		}
		dc, cc := tClass+"ch-muted", tClass+"ch-muted"
		if i == f.fastest {
			dc = tClass + "ch-strong"
		}
		if i == f.cheapest {
			cc = tClass + "ch-strong"
		}
		if pt.Failed {
			dc = tClass + "ch-failed-label"
		}
		d.text(x, ty+15, dc, "middle", fit(dur, tSize, slot-2))
		d.text(x, ty+30, cc, "middle", fit(cost, tSize, slot-2))
		d.close("g")
	}
	if len(cur) > 0 {
		line = append(line, cur)
	}
	for _, pts := range line {
		d.el("polyline", "class", "ch-line ch-s-cost", "points", strings.Join(pts, " "))
	}
	for i, pt := range p.Points {
		if pt.Failed {
			continue
		}
		cls := "ch-cost"
		r := "3.5"
		if i == f.cheapest {
			cls += " ch-best"
			r = "5"
		}
		d.titled("circle", mb(pt.MemoryMB)+": "+fmtUSD(pt.CostUSD)+" per invocation", "class", cls, "cx", num(cx(i)), "cy", num(yc(pt.CostUSD)), "r", r)
	}
	d.el("line", "class", "ch-axis", "x1", num(plotL), "y1", num(plotB), "x2", num(plotR), "y2", num(plotB))
	// The table's row names, left of the first column.
	d.text(8, plotB+31, "ch-small ch-muted", "start", "time")
	d.text(8, plotB+46, "ch-small ch-muted", "start", "cost")
	return finish(p.ID, "power", title, desc, plotB+56, d.b.String())
}
