// Package chart draws the workspace's pictures as SVG on the server: an
// instance timeline, values over time, the power-tuning chart and an X-Ray
// waterfall. It takes plain data (no lambdalab types) and returns markup
// meant to be inlined in a page: colours come from CSS classes and
// currentColor (static/ws-chart.css), so each reads in light and dark mode,
// and each carries role="img", a <title> and a <desc> as its text
// alternative. No inline style attributes: the site's CSP forbids them.
package chart

import "time"

// Span is one stretch of time on a row.
type Span struct {
	Start, End time.Time
	Label      string // shown on hover (<title>) and in the text alternative
	// Class marks how it ended: "" ok, "error", "timeout", "oom".
	Class string
}

// InstanceRow is one execution environment.
type InstanceRow struct {
	ID   string
	Init *Span // the cold start's init; nil for a prestarted or provisioned one
	// Invocations in time order.
	Invocations []Span
	// Reclaimed is when the environment went away; zero while it lives.
	Reclaimed time.Time
	// Provisioned instances are drawn marked as such.
	Provisioned bool
}

// Timeline is the instance timeline: one row per environment, its init,
// each invocation, idle time between and its reclaim; throttled requests on
// a row of their own; the reserved limit noted.
type Timeline struct {
	Title     string
	From, To  time.Time
	Instances []InstanceRow
	Throttles []time.Time
	// Reserved is the function's reserved concurrency; <0 means none set.
	Reserved int
}

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// Series is one named line, area or set of bars.
type Series struct {
	Name string
	// Class picks its colour: "invocations", "errors", "throttles",
	// "duration", "concurrency" (static/ws-chart.css).
	Class  string
	Points []Point
}

// TimeChart is values over time (invocations, errors, throttles and
// duration per bucket; concurrent executions), with an optional limit line.
type TimeChart struct {
	Title, Unit string
	From, To    time.Time
	// Kind is "line" (default), "bars" or "step" (concurrency).
	Kind   string
	Series []Series
	// Limit draws a horizontal line (the reserved or account limit) when
	// LimitLabel is not empty.
	Limit      float64
	LimitLabel string
}

// PowerPoint is one memory size of a power-tuning run.
type PowerPoint struct {
	MemoryMB   int
	DurationMS float64 // average over the runs at this size
	CostUSD    float64 // per invocation
	Failed     bool    // the runs at this size failed (timeout, out of memory)
}

// PowerTuning is duration and cost per memory size, the cheapest and the
// fastest marked.
type PowerTuning struct {
	Title  string
	Points []PowerPoint
}

// Segment is one row of a trace waterfall.
type Segment struct {
	Name       string
	Depth      int // 0 for a segment, 1+ for nested subsegments
	Start, End time.Time
	Origin     string // "AWS::Lambda::Function", "remote", …
	Error      bool   // 4xx
	Fault      bool   // 5xx or an exception
	Throttle   bool
	// Annotations are shown as "key=value" beside the bar.
	Annotations []string
}

// Waterfall is one X-Ray trace: its segments and subsegments on one time
// axis.
type Waterfall struct {
	Title    string
	Start    time.Time
	Segments []Segment
}
