package chart

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// niceTicks returns round tick values covering [lo, hi], about n of them:
// steps of 1, 2 or 5 times a power of ten. When whole is set the step is
// at least 1 (counts have no half invocations).
func niceTicks(lo, hi float64, n int, whole bool) (ticks []float64, step float64) {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = mag * 10
	for _, m := range []float64{1, 2, 5, 10} {
		if mag*m >= raw {
			step = mag * m
			break
		}
	}
	if whole && step < 1 {
		step = 1
	}
	first := math.Floor(lo/step) * step
	last := math.Ceil(hi/step) * step
	for i := 0; ; i++ {
		v := first + float64(i)*step
		if v > last+step/2 {
			break
		}
		// Multiplying, not adding, keeps 0.1+0.2 errors out of labels.
		ticks = append(ticks, roundTo(v, step))
	}
	return ticks, step
}

// roundTo drops the float noise below a tenth of step.
func roundTo(v, step float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(step))-1)
	return math.Round(v/p) * p
}

// decimalsFor is how many decimals show a step: 0.25 needs 2, 5 needs 0.
func decimalsFor(step float64) int {
	for d := 0; d < 12; d++ {
		p := math.Pow(10, float64(d))
		if math.Abs(step*p-math.Round(step*p)) < 1e-9*p {
			return d
		}
	}
	return 12
}

// fmtInt writes n with thousands separators: 1,000.
func fmtInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtFixed writes v with d decimals and thousands separators.
func fmtFixed(v float64, d int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', d, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.Atoi(whole)
	out := fmtInt(n)
	if frac != "" {
		out += "." + frac
	}
	if v < 0 && strings.Trim(s, "0.") != "" {
		out = "-" + out
	}
	return out
}

// fmtNum writes a value for people: whole numbers as such (1,204), others
// with three significant digits (12.5, 0.25), from 100 up rounded to
// whole ones (412).
func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmtInt(int(v))
	}
	a := math.Abs(v)
	d := 0
	if a < 100 {
		d = 2 - int(math.Floor(math.Log10(a)))
	}
	d = max(0, min(d, 10))
	s := fmtFixed(v, d)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtUSD writes a price with two significant digits however small it is:
// a Lambda invocation costs about $0.0000021, which "$0.00" would hide.
func fmtUSD(v float64) string {
	if v == 0 {
		return "$0"
	}
	d := 2
	if a := math.Abs(v); a < 0.1 {
		d = 1 - int(math.Floor(math.Log10(a)))
	}
	return "$" + fmtFixed(v, min(d, 12))
}

// fmtDur writes a duration as a learner reads a REPORT line: 2.4 ms,
// 412 ms, 1.41 s, 2 min 5 s, 1 h 20 min.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d == 0:
		return "0 ms"
	case ms < 10:
		return trimZeros(strconv.FormatFloat(ms, 'f', 1, 64)) + " ms"
	case ms < 1000:
		return strconv.Itoa(int(math.Round(ms))) + " ms"
	case d < 10*time.Second:
		return trimZeros(strconv.FormatFloat(ms/1000, 'f', 2, 64)) + " s"
	case d < time.Minute:
		return trimZeros(strconv.FormatFloat(ms/1000, 'f', 1, 64)) + " s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + " min"
		}
		return strconv.Itoa(m) + " min " + strconv.Itoa(s) + " s"
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + " h"
		}
		return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtMS is fmtDur for a float number of milliseconds.
func fmtMS(ms float64) string {
	return fmtDur(time.Duration(ms * float64(time.Millisecond)))
}

// clock writes a wall-clock time precise enough for the span it is part
// of: 14:03 over hours, 14:03:05 over minutes, 14:03:05.120 below.
func clock(t time.Time, span time.Duration) string {
	switch {
	case span >= 2*time.Hour:
		return t.Format("15:04")
	case span >= 10*time.Second:
		return t.Format("15:04:05")
	default:
		return t.Format("15:04:05.000")
	}
}

// exact writes a time to the millisecond, for hovers: a bar's own times.
func exact(t time.Time) string { return t.Format("15:04:05.000") }

// timeTick is one labelled mark on a time axis.
type timeTick struct {
	t     time.Time
	label string
}

var timeSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
	2 * 24 * time.Hour, 7 * 24 * time.Hour,
}

// Time axes: wall-clock ticks on round times of the zone of from (every
// 5 s: :00, :05, …), the largest number whose labels all fit. Below a
// second, ticks on a whole second read 14:03:05 and the others .250, so
// the axis stays short but every label can be read back to a time.
func stepTicks(from, to time.Time, step time.Duration) []timeTick {
	y, m, d := from.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, from.Location())
	k := (from.Sub(midnight) + step - 1) / step
	var ticks []timeTick
	for t := midnight.Add(k * step); !t.After(to); t = t.Add(step) {
		ticks = append(ticks, timeTick{t, tickLabel(t, step)})
		if len(ticks) > 400 {
			break
		}
	}
	// A short axis inside one second would read .100 .200 … with no
	// clock time at all: the first tick then says which second it is.
	if step < time.Second && len(ticks) > 0 {
		whole := false
		for _, tk := range ticks {
			whole = whole || strings.Contains(tk.label, ":")
		}
		if !whole {
			ticks[0].label = ticks[0].t.Format("15:04:05.000")
		}
	}
	return ticks
}

func tickLabel(t time.Time, step time.Duration) string {
	midnight := t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
	switch {
	case step >= 24*time.Hour || (midnight && step >= time.Minute):
		return t.Format("Jan 2")
	case step >= time.Minute:
		return t.Format("15:04")
	case step >= time.Second:
		return t.Format("15:04:05")
	case t.Nanosecond() == 0:
		return t.Format("15:04:05")
	default:
		return t.Format(".000")
	}
}

// zone names the time zone of t for the axis ("UTC").
func zone(t time.Time) string {
	name, _ := t.Zone()
	if name == "" || strings.ContainsAny(name, "+-0123456789") {
		return t.Format("UTC-07:00")
	}
	return name
}
