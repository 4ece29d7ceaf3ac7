package web

// The Traces panel (WORKSPACE.md): the learner's X-Ray traces — a list
// filtered with X-Ray's filter expressions, and one trace's waterfall of
// segments and subsegments with their annotations, metadata and errors.
// The X-Ray service keeps traces per account: a trace id is read in the
// learner's own account only, so another account's id is a 404.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"lambdalab/chart"
	"lambdalab/cloud/xray"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// maxTraceRows is how many traces the list shows.
const maxTraceRows = 100

// defaultTraceWindow is an hour: a lab session's traces.
const defaultTraceWindow = 2

func (s *Server) traceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /labs/{lab}/traces/{trace}", s.tracePage)
}

// traceURL is one trace's page.
func traceURL(lc *labCtx, id string) string {
	u := "/labs/" + url.PathEscape(lc.Lab.ID) + "/traces/" + url.PathEscape(id)
	if lc.Fn != nil {
		u += "?" + url.Values{"fn": {lc.Fn.Name}}.Encode()
	}
	return u
}

// tracesURL is the trace list for window w with filter.
func tracesURL(lc *labCtx, w, filter string) string {
	q := url.Values{"tab": {"traces"}, "window": {w}}
	if lc.Fn != nil {
		q.Set("fn", lc.Fn.Name)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	return "/labs/" + url.PathEscape(lc.Lab.ID) + "?" + q.Encode()
}

// tracePage is the lab page on the Traces tab showing one trace; an id the
// learner's account has no trace of is a 404.
func (s *Server) tracePage(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	lc.Tab = "traces"
	status := http.StatusOK
	_, err := s.cloud.XRay.Trace(r.Context(), lc.Account, r.PathValue("trace"))
	if errors.Is(err, store.ErrNotFound) {
		status = http.StatusNotFound
	} else if err != nil {
		s.serverError(w, r, fmt.Errorf("trace page: %w", err))
		return
	}
	s.renderLab(w, r, lc, status, panelState{})
}

func (s *Server) tracesPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	v, err := s.tracesView(r.Context(), r, lc, time.Now())
	if err != nil {
		return nil, err
	}
	return ui.TracesPanel(v), nil
}

func (s *Server) tracesView(ctx context.Context, r *http.Request, lc *labCtx, now time.Time) (ui.TracesView, error) {
	q := r.URL.Query()
	win := monitorWindows[defaultTraceWindow]
	for _, w := range monitorWindows {
		if w.Value == q.Get("window") {
			win = w
		}
	}
	filter := strings.TrimSpace(q.Get("filter"))
	v := ui.TracesView{
		FilterAction: "/labs/" + url.PathEscape(lc.Lab.ID),
		Filter:       filter,
		Hidden:       []ui.BucketField{{Name: "tab", Value: "traces"}, {Name: "window", Value: win.Value}},
		BackURL:      tracesURL(lc, win.Value, ""),
	}
	if lc.Fn != nil {
		v.Hidden = append(v.Hidden, ui.BucketField{Name: "fn", Value: lc.Fn.Name})
	}
	for _, w := range monitorWindows {
		v.Windows = append(v.Windows, ui.MonitorLink{Label: w.Label, URL: tracesURL(lc, w.Value, filter), Current: w == win})
	}
	id, routed := r.PathValue("trace"), true
	if id == "" {
		id, routed = q.Get("trace"), false
	}
	if id != "" {
		t, err := s.cloud.XRay.Trace(ctx, lc.Account, id)
		if errors.Is(err, store.ErrNotFound) && !routed {
			// The lab page makes this a 404 (renderLab).
			return v, fmt.Errorf("trace %s: %w", id, err)
		}
		if errors.Is(err, store.ErrNotFound) {
			v.Missing = "There is no trace " + id + " in your account."
			return v, nil
		}
		if err != nil {
			return v, fmt.Errorf("trace %s: %w", id, err)
		}
		v.Trace = traceDetail(t)
		return v, nil
	}
	list, err := s.cloud.XRay.Traces(ctx, lc.Account, now.Add(-win.Span), now, filter)
	if errors.Is(err, xray.ErrInvalidFilter) {
		msg := err.Error()
		v.FilterErr = strings.ToUpper(msg[:1]) + msg[1:] + "."
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("traces: %w", err)
	}
	dates := win.Span >= longWindow
	for i, t := range list {
		if i == maxTraceRows {
			v.Note = fmt.Sprintf("The newest %d of %d traces. Narrow the window or the filter to see others.", maxTraceRows, len(list))
			break
		}
		v.Traces = append(v.Traces, traceRow(lc, t, dates))
	}
	if len(list) == 0 {
		v.Note = "No traces in the last " + win.Label + "."
		if filter != "" {
			v.Note = "No traces in the last " + win.Label + " match the filter."
		}
		v.Note += " A function sends traces when its tracing mode is Active (Configuration tab) or when the X-Ray SDK in it records segments."
	}
	return v, nil
}

// traceStatus is a trace's or entity's outcome as the X-Ray console names
// it: a fault (5xx) before a throttle (429) before an error (other 4xx).
func traceStatus(errored, fault, throttle bool) string {
	switch {
	case fault:
		return "fault"
	case throttle:
		return "throttle"
	case errored:
		return "error"
	}
	return "ok"
}

func traceRow(lc *labCtx, t xray.TraceSummary, dates bool) ui.TraceRow {
	row := ui.TraceRow{
		ID:       t.ID,
		URL:      traceURL(lc, t.ID),
		Time:     traceClock(t.Start, dates),
		Duration: durationText(t.Duration),
		Status:   traceStatus(t.HasError, t.HasFault, t.HasThrottle),
	}
	if t.EntryPoint != nil {
		row.Name = t.EntryPoint.Name
	}
	if t.IsPartial {
		row.Status += " (in progress)"
	}
	keys := make([]string, 0, len(t.Annotations))
	for k := range t.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := make([]string, len(t.Annotations[k]))
		for i, val := range t.Annotations[k] {
			vals[i] = annotationText(val)
		}
		parts = append(parts, k+"="+strings.Join(vals, "|"))
	}
	row.Annotations = strings.Join(parts, ", ")
	return row
}

func traceClock(t time.Time, dates bool) string {
	if dates {
		return t.UTC().Format("Jan 2 15:04:05")
	}
	return t.UTC().Format("15:04:05.000")
}

// durationText is a duration in ms, or seconds from 10 s on.
func durationText(d time.Duration) string {
	if d >= 10*time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// annotationText is an annotation value as written: a string, number or
// boolean.
func annotationText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// traceDetail is one trace's waterfall and its entities' details, in the
// waterfall's order: each segment, then its subsegments depth first.
func traceDetail(t *xray.Trace) *ui.TraceDetail {
	d := &ui.TraceDetail{
		ID:       t.ID,
		Start:    t.Start.UTC().Format("2006-01-02 15:04:05.000 UTC"),
		Duration: durationText(t.Duration),
		Status:   traceStatus(t.HasError, t.HasFault, t.HasThrottle),
	}
	if t.IsPartial {
		d.Status += " (in progress)"
	}
	wf := chart.Waterfall{Title: "Trace " + t.ID, Start: t.Start}
	var rows [][]string
	var walk func(n *xray.Node, depth int)
	walk = func(n *xray.Node, depth int) {
		seg := chart.Segment{
			Name: n.Name, Depth: depth, Start: n.Start, End: n.End,
			Origin: n.Origin, Error: n.Error, Fault: n.Fault, Throttle: n.Throttle,
		}
		e := ui.TraceEntity{Name: n.Name, Depth: depth, Origin: n.Origin, Kind: "subsegment"}
		if n.Segment {
			e.Kind = "segment"
		}
		if n.Namespace != "" && !n.Segment {
			e.Origin = n.Namespace
		}
		if n.Orphan {
			e.Flags = append(e.Flags, "parent not received")
		}
		if n.End.IsZero() {
			e.Duration = "in progress"
			e.Flags = append(e.Flags, "in progress")
		} else {
			e.Duration = durationText(n.Duration)
		}
		for _, f := range []struct {
			on   bool
			name string
		}{{n.Error, "error"}, {n.Fault, "fault"}, {n.Throttle, "throttle"}} {
			if f.on {
				e.Flags = append(e.Flags, f.name)
			}
		}
		if h := n.HTTP; h != nil {
			var parts []string
			if h.Request != nil {
				parts = append(parts, strings.TrimSpace(h.Request.Method+" "+h.Request.URL))
			}
			if h.Response != nil && h.Response.Status != 0 {
				parts = append(parts, "status "+strconv.FormatInt(int64(h.Response.Status), 10))
			}
			e.HTTP = strings.Join(parts, " → ")
		}
		keys := make([]string, 0, len(n.Annotations))
		for k := range n.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := annotationText(n.Annotations[k])
			e.Annotations = append(e.Annotations, ui.TraceAnnotation{Key: k, Value: val})
			seg.Annotations = append(seg.Annotations, k+"="+val)
		}
		for ns, val := range n.Metadata {
			if m, ok := val.(map[string]any); ok && len(m) > 0 {
				for k := range m {
					e.Metadata = append(e.Metadata, ns+"."+k)
				}
				continue
			}
			e.Metadata = append(e.Metadata, ns)
		}
		sort.Strings(e.Metadata)
		if c := n.Cause; c != nil {
			for _, x := range c.Exceptions {
				text := x.Message
				if x.Type != "" {
					text = x.Type + ": " + x.Message
				}
				if x.Remote {
					text += " (remote)"
				}
				e.Exceptions = append(e.Exceptions, text)
			}
			if c.ExceptionID != "" {
				e.Exceptions = append(e.Exceptions, "exception "+c.ExceptionID+", recorded in another segment")
			}
		}
		wf.Segments = append(wf.Segments, seg)
		offset := "–"
		if !n.Start.IsZero() {
			offset = durationText(n.Start.Sub(t.Start))
		}
		rows = append(rows, []string{strings.Repeat("· ", depth) + n.Name, offset, e.Duration, strings.Join(append([]string{traceStatus(n.Error, n.Fault, n.Throttle)}, flagsBut(e.Flags)...), ", ")})
		d.Entities = append(d.Entities, e)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	for _, n := range t.Segments {
		walk(n, 0)
	}
	d.SVG = wf.SVG()
	d.Table = ui.MonitorTable{
		Summary:   "Segments as numbers",
		Head:      []string{"Segment", "Starts at", "Duration", "Status"},
		Rows:      rows,
		RowTestID: "traces-segment",
	}
	return d
}

// flagsBut are the flags that traceStatus does not already say.
func flagsBut(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f == "in progress" || f == "parent not received" {
			out = append(out, f)
		}
	}
	return out
}
