package web

// The Monitor panel (WORKSPACE.md): one function's invocations over a
// window of time as numbers and pictures — the instance timeline (one row
// per execution environment: its init, its invocations, idle time and
// reclaim; throttles on a row of their own), invocations, errors and
// throttles per time bucket, duration, and concurrent executions with the
// reserved limit. Everything comes from the invocation records the
// sandbox writes (store.Invocation) and the live instances it keeps.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"lambdalab/chart"
	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// The monitor is drawn on the lab page itself (?tab=monitor&window=…), so
// it has no routes of its own.
func (s *Server) monitorRoutes(mux *http.ServeMux) {}

// monitorWindow is a choice of how far back the monitor looks, and the
// width of the buckets its bar charts count in.
type monitorWindow struct {
	Value, Label string
	Span, Bucket time.Duration
}

var monitorWindows = []monitorWindow{
	{"5m", "5 min", 5 * time.Minute, 10 * time.Second},
	{"15m", "15 min", 15 * time.Minute, 30 * time.Second},
	{"1h", "1 hour", time.Hour, 2 * time.Minute},
	{"1d", "1 day", 24 * time.Hour, time.Hour},
}

// defaultMonitorWindow is 15 minutes: a lab session's recent work.
const defaultMonitorWindow = 1

// maxInvocationSpan is the longest an invocation runs (Lambda's 900 s
// timeout): records that started this long before a window may reach
// into it.
const maxInvocationSpan = 15 * time.Minute

// longWindow is the window at and above which times show their date.
const longWindow = 2 * time.Hour

func (s *Server) monitorPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	v, err := s.monitorView(r.Context(), lc, r.URL.Query(), time.Now())
	if err != nil {
		return nil, err
	}
	return ui.MonitorPanel(v), nil
}

// monitorURL is the lab page on the monitor for window w, live or not.
func monitorURL(lc *labCtx, w string, live bool) string {
	q := url.Values{"tab": {"monitor"}, "window": {w}}
	if lc.Fn != nil {
		q.Set("fn", lc.Fn.Name)
	}
	if !live {
		q.Set("live", "0")
	}
	return "/labs/" + url.PathEscape(lc.Lab.ID) + "?" + q.Encode()
}

// monitorView reads the chosen function's records and instances and
// builds the panel, as of now.
func (s *Server) monitorView(ctx context.Context, lc *labCtx, q url.Values, now time.Time) (ui.MonitorView, error) {
	win := monitorWindows[defaultMonitorWindow]
	for _, w := range monitorWindows {
		if w.Value == q.Get("window") {
			win = w
		}
	}
	live := q.Get("live") != "0"
	v := ui.MonitorView{
		Live:       live,
		RefreshURL: monitorURL(lc, win.Value, live),
		ToggleURL:  monitorURL(lc, win.Value, !live),
		Window:     "last " + win.Label,
		Updated:    now.UTC().Format("15:04:05 UTC"),
	}
	for _, w := range monitorWindows {
		v.Windows = append(v.Windows, ui.MonitorLink{Label: w.Label, URL: monitorURL(lc, w.Value, live), Current: w == win})
	}
	if lc.Fn == nil {
		v.Note = "This lab has no function to monitor."
		return v, nil
	}
	name := lc.Fn.Name
	v.Function = name
	reserved := -1
	c, err := s.cloud.Lambda.GetFunctionConcurrency(ctx, lc.Account, name)
	if _, ok := lambda.AsError(err); ok {
		v.Note = name + " is not in your account yet: deploy it, invoke it, and its invocations show here."
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("monitor: concurrency of %s: %w", name, err)
	}
	if c.ReservedConcurrentExecutions != nil {
		reserved = *c.ReservedConcurrentExecutions
	}
	settings, err := s.cloud.Lambda.GetAccountSettings(ctx, lc.Account)
	if err != nil {
		return v, fmt.Errorf("monitor: account settings: %w", err)
	}
	from := now.Add(-win.Span)
	recs, err := s.db.Invocations(ctx, lc.Account, name, from.Add(-maxInvocationSpan))
	if err != nil {
		return v, fmt.Errorf("monitor: %w", err)
	}
	var liveInst []sandbox.InstanceInfo
	busy := 0
	if e := s.engine(); e != nil {
		for _, in := range e.Instances(lc.Account) {
			if in.Function == name {
				liveInst = append(liveInst, in)
			}
		}
		busy = e.ConcurrencyInUse(lc.Account)
	}
	m := buildMonitor(monitorInput{
		Function: name, Records: recs, Live: liveInst, Busy: busy,
		From: from, To: now, Bucket: win.Bucket,
		Reserved: reserved, AccountLimit: settings.AccountLimit.ConcurrentExecutions,
		Dates: win.Span >= longWindow,
	})
	v.Stats, v.Charts = m.Stats, m.Charts
	return v, nil
}

// monitorInput is what the monitor is built from.
type monitorInput struct {
	Function string
	// Records are the function's invocation records, oldest first; those
	// that ended before From are ignored.
	Records []store.Invocation
	// Live are the function's idle instances now; Busy how many of the
	// account's instances are running an invocation (the engine does not
	// say which).
	Live         []sandbox.InstanceInfo
	Busy         int
	From, To     time.Time
	Bucket       time.Duration
	Reserved     int // <0: none set
	AccountLimit int
	Dates        bool // times show their date
}

// monitorData is the panel's numbers and pictures.
type monitorData struct {
	Stats  []ui.MonitorStat
	Charts []ui.MonitorChart
	// Peak is the most invocations running at once in the window.
	Peak int
}

// ran reports whether a record is an invocation that ran on an instance
// (not a throttle, nor an event stopped before it ran).
func ran(r store.Invocation) bool { return r.InstanceID != "" }

// busyFrom is when a record's instance became busy for it: its init on a
// cold start, else the invocation's start. Lambda counts an environment
// toward concurrency while it initializes.
func busyFrom(r store.Invocation) time.Time {
	if r.Cold {
		return r.Start.Add(-msDuration(r.InitMS))
	}
	return r.Start
}

func msDuration(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}

// buildMonitor works out the panel from the records: pure, so tests can
// give it any history.
func buildMonitor(in monitorInput) monitorData {
	var recs []store.Invocation
	for _, r := range in.Records {
		end := r.End
		if end.IsZero() {
			end = r.Start
		}
		if !end.Before(in.From) && !r.Start.After(in.To) {
			recs = append(recs, r)
		}
	}
	clock := func(t time.Time) string {
		if in.Dates {
			return t.UTC().Format("Jan 2 15:04:05")
		}
		return t.UTC().Format("15:04:05.000")
	}

	// Numbers: only invocations that started in the window count, as
	// CloudWatch counts them; concurrency counts everything running in it.
	var invocations, errs, throttles, colds, stopped int
	var durations []float64
	for _, r := range recs {
		if r.Start.Before(in.From) {
			continue
		}
		switch {
		case r.Outcome == "throttled":
			throttles++
		case !ran(r):
			stopped++
		default:
			invocations++
			durations = append(durations, r.DurationMS)
			if r.Outcome != "success" {
				errs++
			}
			if r.Cold {
				colds++
			}
		}
	}
	sort.Float64s(durations)
	steps, peak := concurrencySteps(recs, in.From, in.To)
	d := monitorData{Peak: peak}
	d.Stats = []ui.MonitorStat{
		{Label: "Invocations", Value: strconv.Itoa(invocations), TestID: "monitor-invocations"},
		{Label: "Errors", Value: strconv.Itoa(errs), TestID: "monitor-errors", Hint: "failed, timed out or crashed"},
		{Label: "Throttles", Value: strconv.Itoa(throttles), TestID: "monitor-throttles", Hint: "refused: no concurrency left"},
		{Label: "Cold starts", Value: strconv.Itoa(colds), TestID: "monitor-cold", Hint: "invocations that paid for an init"},
		{Label: "p50 duration", Value: msText(percentile(durations, 50)), TestID: "monitor-p50"},
		{Label: "p99 duration", Value: msText(percentile(durations, 99)), TestID: "monitor-p99"},
		{Label: "Peak concurrency", Value: strconv.Itoa(peak), TestID: "monitor-peak", Hint: "most environments busy at once"},
	}
	if stopped > 0 {
		d.Stats = append(d.Stats, ui.MonitorStat{Label: "Stopped loops", Value: strconv.Itoa(stopped), TestID: "monitor-stopped",
			Hint: "events Lambda dropped as a recursive loop"})
	}
	limit, limitLabel := float64(in.Reserved), "reserved concurrency "+strconv.Itoa(in.Reserved)
	if in.Reserved < 0 {
		limit, limitLabel = float64(in.AccountLimit), "account limit "+strconv.Itoa(in.AccountLimit)
	}

	d.Charts = append(d.Charts, timelineChart(in, recs, clock))
	d.Charts = append(d.Charts, activityCharts(in, recs, clock)...)

	var pts []chart.Point
	var rows [][]string
	for _, st := range steps {
		pts = append(pts, chart.Point{T: st.T, V: float64(st.N)})
		rows = append(rows, []string{clock(st.T), strconv.Itoa(st.N)})
	}
	note := ""
	if len(rows) > 200 {
		note = fmt.Sprintf("The first 200 of %d changes.", len(rows))
		rows = rows[:200]
	}
	tc := chart.TimeChart{
		Title: "Concurrent executions of " + in.Function, From: in.From, To: in.To, Kind: "step",
		Series: []chart.Series{{Name: "concurrent executions", Class: "concurrency", Points: pts}},
		Limit:  limit, LimitLabel: limitLabel,
	}
	if invocationsIn(recs) == 0 {
		tc.Series = nil
	}
	d.Charts = append(d.Charts, ui.MonitorChart{
		Heading: "Concurrent executions", TestID: "monitor-concurrency", SVG: tc.SVG(),
		About: "How many environments were busy at once, counted from the start of each init to the end of each invocation; the dashed line is " + limitLabel + ". A request above it is throttled.",
		Table: ui.MonitorTable{Summary: "Concurrency as numbers", Head: []string{"Time (UTC)", "Concurrent"}, Rows: rows, Note: note},
	})
	return d
}

func invocationsIn(recs []store.Invocation) int {
	n := 0
	for _, r := range recs {
		if ran(r) {
			n++
		}
	}
	return n
}

// concurrencyStep is the number of busy environments from T on.
type concurrencyStep struct {
	T time.Time
	N int
}

// concurrencySteps sweeps over the records' busy spans (init included)
// and returns the level at from, each change within [from, to] and the
// level at to, with the window's peak. An end and a start at the same
// instant do not overlap: the end is taken first.
func concurrencySteps(recs []store.Invocation, from, to time.Time) ([]concurrencyStep, int) {
	type edge struct {
		t time.Time
		d int
	}
	var edges []edge
	for _, r := range recs {
		if !ran(r) {
			continue
		}
		edges = append(edges, edge{busyFrom(r), 1}, edge{r.End, -1})
	}
	sort.SliceStable(edges, func(i, j int) bool {
		if edges[i].t.Equal(edges[j].t) {
			return edges[i].d < edges[j].d
		}
		return edges[i].t.Before(edges[j].t)
	})
	level, i := 0, 0
	for ; i < len(edges) && edges[i].t.Before(from); i++ {
		level += edges[i].d
	}
	steps := []concurrencyStep{{from, level}}
	for ; i < len(edges) && !edges[i].t.After(to); i++ {
		level += edges[i].d
		if last := &steps[len(steps)-1]; last.T.Equal(edges[i].t) {
			last.N = level
		} else {
			steps = append(steps, concurrencyStep{edges[i].t, level})
		}
	}
	// Steps at one instant are merged, so an end and a start at the same
	// time leave no spike: the peak is read from the steps.
	peak := 0
	for _, st := range steps {
		peak = max(peak, st.N)
	}
	steps = append(steps, concurrencyStep{to, level})
	return steps, peak
}

// percentile is the nearest-rank percentile p of sorted values; NaN for
// none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func msText(ms float64) string {
	if math.IsNaN(ms) {
		return "–"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

// timelineChart is the instance timeline and its table: a row per
// instance that ran in the window (and per live one of the function),
// throttles on their own row.
func timelineChart(in monitorInput, recs []store.Invocation, clock func(time.Time) string) ui.MonitorChart {
	type row struct {
		chart.InstanceRow
		runs    int
		lastEnd time.Time
		initMS  float64
		state   string
	}
	var order []string
	rows := map[string]*row{}
	var throttles []time.Time
	for _, r := range recs {
		if r.Outcome == "throttled" {
			if !r.Start.Before(in.From) {
				throttles = append(throttles, r.Start)
			}
			continue
		}
		if !ran(r) {
			continue
		}
		x := rows[r.InstanceID]
		if x == nil {
			x = &row{InstanceRow: chart.InstanceRow{ID: r.InstanceID}}
			rows[r.InstanceID] = x
			order = append(order, r.InstanceID)
		}
		if r.Cold && x.Init == nil {
			x.Init = &chart.Span{Start: clampTime(busyFrom(r), in.From), End: r.Start,
				Label: "init " + msText(r.InitMS)}
			x.initMS = r.InitMS
		}
		x.Invocations = append(x.Invocations, chart.Span{
			Start: clampTime(r.Start, in.From), End: r.End,
			Label: r.RequestID + " · " + msText(r.DurationMS) + " · " + r.Outcome,
			Class: spanClass(r),
		})
		x.runs++
		if r.End.After(x.lastEnd) {
			x.lastEnd = r.End
		}
	}
	liveByID := map[string]sandbox.InstanceInfo{}
	for _, l := range in.Live {
		liveByID[l.ID] = l
		if rows[l.ID] == nil {
			// Idle since before the window, or provisioned and never used.
			rows[l.ID] = &row{InstanceRow: chart.InstanceRow{ID: l.ID}}
			order = append(order, l.ID)
		}
	}
	// The engine lists idle instances only: one running an invocation now
	// is missing from it, and its last record looks like its last. Up to
	// Busy of the most recently used unlisted instances may be such; the
	// rest have been reclaimed. When is not recorded, so a reclaimed row
	// ends at its last invocation.
	var unlisted []*row
	for _, id := range order {
		x := rows[id]
		if l, ok := liveByID[id]; ok {
			x.Provisioned = l.State == "provisioned"
			x.state = "idle since " + clock(l.LastUsed)
			if x.Provisioned {
				x.state = "provisioned, idle"
			}
			continue
		}
		unlisted = append(unlisted, x)
	}
	sort.SliceStable(unlisted, func(i, j int) bool { return unlisted[i].lastEnd.After(unlisted[j].lastEnd) })
	for i, x := range unlisted {
		if i < in.Busy {
			x.state = "busy now (or reclaimed)"
			continue
		}
		x.Reclaimed = x.lastEnd
		x.state = "reclaimed after " + clock(x.lastEnd)
	}

	// The timeline spans the activity, not the whole window: a burst of a
	// second and a half would be a sliver of a 15-minute axis. While an
	// environment lives it runs to now.
	tl := chart.Timeline{
		Title:     "Instances of " + in.Function,
		Throttles: throttles, Reserved: in.Reserved,
	}
	for _, id := range order {
		if rows[id].Reclaimed.IsZero() {
			tl.To = in.To
			break
		}
	}
	var table [][]string
	for _, id := range order {
		x := rows[id]
		tl.Instances = append(tl.Instances, x.InstanceRow)
		initText := "–"
		if x.Init != nil {
			initText = msText(x.initMS)
		}
		last := "–"
		if !x.lastEnd.IsZero() {
			last = clock(x.lastEnd)
		}
		table = append(table, []string{shortID(id), initText, strconv.Itoa(x.runs), last, x.state})
	}
	note := ""
	if len(throttles) > 0 {
		times := ""
		for i, t := range throttles {
			if i == 20 {
				times += ", …"
				break
			}
			if i > 0 {
				times += ", "
			}
			times += clock(t)
		}
		note = fmt.Sprintf("%d throttled request(s), at %s.", len(throttles), times)
	}
	reserved := "no reserved concurrency"
	if in.Reserved >= 0 {
		reserved = "reserved concurrency " + strconv.Itoa(in.Reserved)
	}
	return ui.MonitorChart{
		Heading: "Instance timeline", TestID: "monitor-timeline", SVG: tl.SVG(),
		About: "One row per execution environment: its init (the cold start), each invocation, the idle time between, and when it was reclaimed; throttled requests on the last row; " + reserved + ".",
		Table: ui.MonitorTable{
			Summary:   "Instances as numbers",
			Head:      []string{"Instance", "Init", "Invocations", "Last ended (UTC)", "State"},
			Rows:      table,
			RowTestID: "monitor-instance",
			Note:      note,
		},
	}
}

func clampTime(t, from time.Time) time.Time {
	if t.Before(from) {
		return from
	}
	return t
}

// spanClass is how an invocation ended, as the timeline colours it.
func spanClass(r store.Invocation) string {
	switch {
	case r.Outcome == "success":
		return ""
	case r.Outcome == "timeout" || r.ErrorType == "Sandbox.Timedout":
		return "timeout"
	case r.ErrorType == "Runtime.OutOfMemory":
		return "oom"
	}
	return "error"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// activityCharts count invocations, errors and throttles per bucket and
// the average and longest duration per bucket.
func activityCharts(in monitorInput, recs []store.Invocation, clock func(time.Time) string) []ui.MonitorChart {
	start := in.From.Truncate(in.Bucket)
	n := int(in.To.Sub(start)/in.Bucket) + 1
	type bucket struct {
		inv, errs, thr int
		sum, max       float64
	}
	bs := make([]bucket, n)
	for _, r := range recs {
		if r.Start.Before(in.From) {
			continue
		}
		i := int(r.Start.Sub(start) / in.Bucket)
		if i < 0 || i >= n {
			continue
		}
		b := &bs[i]
		switch {
		case r.Outcome == "throttled":
			b.thr++
		case ran(r):
			b.inv++
			if r.Outcome != "success" {
				b.errs++
			}
			b.sum += r.DurationMS
			b.max = max(b.max, r.DurationMS)
		}
	}
	var inv, errs, thr, avg, longest []chart.Point
	var counts, durs [][]string
	for i, b := range bs {
		t := start.Add(time.Duration(i) * in.Bucket)
		inv = append(inv, chart.Point{T: t, V: float64(b.inv)})
		errs = append(errs, chart.Point{T: t, V: float64(b.errs)})
		thr = append(thr, chart.Point{T: t, V: float64(b.thr)})
		if b.inv+b.thr > 0 {
			counts = append(counts, []string{clock(t), strconv.Itoa(b.inv), strconv.Itoa(b.errs), strconv.Itoa(b.thr)})
		}
		if b.inv > 0 {
			a := b.sum / float64(b.inv)
			avg = append(avg, chart.Point{T: t, V: a})
			longest = append(longest, chart.Point{T: t, V: b.max})
			durs = append(durs, []string{clock(t), msText(a), msText(b.max)})
		}
	}
	width := in.Bucket.String()
	activity := chart.TimeChart{
		Title: "Invocations, errors and throttles of " + in.Function + " per " + width, From: start, To: start.Add(time.Duration(n) * in.Bucket),
		Kind: "bars", Bucket: in.Bucket,
		Series: []chart.Series{
			{Name: "invocations", Class: "invocations", Points: inv},
			{Name: "errors", Class: "errors", Points: errs},
			{Name: "throttles", Class: "throttles", Points: thr},
		},
	}
	if len(counts) == 0 {
		activity.Series = nil
	}
	duration := chart.TimeChart{
		Title: "Duration of " + in.Function + " per " + width, Unit: "ms", From: start, To: start.Add(time.Duration(n) * in.Bucket),
		Bucket: in.Bucket,
		Series: []chart.Series{
			{Name: "average", Class: "duration", Points: avg},
			{Name: "longest", Class: "errors", Points: longest},
		},
	}
	if len(durs) == 0 {
		duration.Series = nil
	}
	return []ui.MonitorChart{
		{
			Heading: "Invocations, errors and throttles", TestID: "monitor-activity", SVG: activity.SVG(),
			About: "Counted per " + width + " by when each request arrived.",
			Table: ui.MonitorTable{Summary: "Counts as numbers", Head: []string{"From (UTC)", "Invocations", "Errors", "Throttles"}, Rows: counts},
		},
		{
			Heading: "Duration", TestID: "monitor-duration", SVG: duration.SVG(),
			About: "The handler's run time per " + width + ": the average and the longest (init not included).",
			Table: ui.MonitorTable{Summary: "Durations as numbers", Head: []string{"From (UTC)", "Average", "Longest"}, Rows: durs},
		},
	}
}
