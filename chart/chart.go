// Package chart draws the workspace's pictures as SVG on the server: an
// instance timeline, values over time, the power-tuning chart and an X-Ray
// waterfall. It takes plain data (no lambdalab types) and returns markup
// meant to be inlined in a page (templ.Raw): every string in it is escaped,
// learner-controlled ones (function, segment and annotation names) too.
//
// Colours come from CSS classes (static/ws-chart.css, with the site's
// variables) and currentColor, so each drawing reads in light and dark
// mode; no inline style attributes and no <style> (the site's CSP forbids
// them). Each drawing has role="img", a <title> and a <desc> that says its
// data in words (the same text as the type's Summary method, which a page
// may print beside it), ids of its own (ID, or a hash of the drawing), a
// viewBox 640 units wide and width="100%", so it scales to its container.
// A page may wrap it in <div class="ws-chart-scroll"> to keep its text
// readable on a phone.
//
// The classes named in each SVG method's doc are stable hooks for tests.
package chart

import "time"

// Span is one stretch of time on a row.
type Span struct {
	// End zero means it is still running: it is drawn to the right edge.
	Start, End time.Time
	Label      string // shown on hover (<title>), e.g. the request id
	// Class marks how it ended: "" ok, "error", "timeout", "oom". Any other
	// word is drawn as an error and named as given.
	Class string
}

// InstanceRow is one execution environment.
type InstanceRow struct {
	// ID is the environment's id; the row shows its first 8 characters
	// (more when two rows would read the same).
	ID   string
	Init *Span // the cold start's init; nil for a prestarted or provisioned one
	// Invocations in time order. An environment runs one at a time.
	Invocations []Span
	// Reclaimed is when the environment went away; zero while it lives
	// (its row then runs to the right edge).
	Reclaimed time.Time
	// Provisioned instances are drawn marked as such.
	Provisioned bool
}

// Timeline is the instance timeline: one row per environment, its init,
// each invocation, idle time between and its reclaim; throttled requests on
// a row of their own; the reserved limit noted.
type Timeline struct {
	// ID prefixes the ids inside the drawing; empty means one derived from
	// its content. Set it when the same drawing may appear twice on a page.
	ID    string
	Title string // the <title>; empty means "Instance timeline"
	// From and To bound the time axis; zero means the data's own extent.
	From, To  time.Time
	Instances []InstanceRow
	Throttles []time.Time
	// Reserved is the function's reserved concurrency; <0 means none set.
	// Environments count as busy during their init and their invocations,
	// as they do toward Lambda's concurrency.
	Reserved int
	// Empty is what the drawing says when there is nothing on it; empty
	// means "No invocations in this window".
	Empty string
}

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// Series is one named line or set of bars.
type Series struct {
	Name string // in the legend (shown for two series or more) and on hover
	// Class picks its colour: "invocations", "errors", "throttles",
	// "duration", "concurrency" (static/ws-chart.css).
	Class  string
	Points []Point
}

// TimeChart is values over time (invocations, errors, throttles and
// duration per bucket; concurrent executions), with an optional limit line.
//
// With Bucket set, a point's T is the start of its bucket: bars fill the
// bucket, a line marks its middle, a step holds from T to the next point
// (the last for one bucket). Without it a step's points are changes: each
// value holds until the next, the last to To.
type TimeChart struct {
	ID    string // as Timeline.ID
	Title string // the <title>; empty means the series' names
	// Unit is written above the y axis and after values ("ms"); empty for
	// plain counts.
	Unit     string
	From, To time.Time // the x axis; zero means the points' own extent
	// Kind is "line" (default), "bars" (several series side by side in each
	// bucket) or "step" (concurrency).
	Kind   string
	Series []Series
	// Bucket is the width of one bucket; zero means the smallest gap
	// between two points.
	Bucket time.Duration
	// Limit draws a horizontal line (the reserved or account limit) when
	// LimitLabel is not empty; the y axis always reaches it.
	Limit      float64
	LimitLabel string
	// Empty is what the frame says when no series has a point; empty means
	// "No invocations in this window".
	Empty string
}

// PowerPoint is one memory size of a power-tuning run.
type PowerPoint struct {
	MemoryMB   int
	DurationMS float64 // average over the runs at this size
	CostUSD    float64 // per invocation
	// Failed: the runs at this size failed (timeout, out of memory). Its
	// DurationMS, when set, is drawn as how long it ran before failing.
	Failed bool
	// Reason says why it failed ("timeout"); shown on hover and in words.
	Reason string
}

// PowerTuning is duration and cost per memory size, the cheapest and the
// fastest marked: the sizes are drawn in the order given, evenly spaced.
type PowerTuning struct {
	ID     string // as Timeline.ID
	Title  string // the <title>; empty means "Power tuning"
	Points []PowerPoint
	// Empty is what the frame says with no points; empty means
	// "No power-tuning results yet".
	Empty string
}

// Segment is one row of a trace waterfall.
type Segment struct {
	Name  string
	Depth int // 0 for a segment, 1+ for nested subsegments
	// End zero means still in progress: drawn to the end of the trace.
	Start, End time.Time
	Origin     string // "AWS::Lambda::Function", "remote", …; shown for segments
	Error      bool   // 4xx
	Fault      bool   // 5xx or an exception
	Throttle   bool
	// Annotations are shown as "key=value" beside the bar.
	Annotations []string
}

// Waterfall is one X-Ray trace: its segments and subsegments on one time
// axis, in the order given (a parent before its children).
type Waterfall struct {
	ID    string // as Timeline.ID
	Title string // the <title>; empty means "Trace waterfall"
	// Start is where the axis's 0 is; zero means the earliest segment.
	Start    time.Time
	Segments []Segment
	// Empty is what the frame says with no segments; empty means
	// "No segments in this trace".
	Empty string
}
