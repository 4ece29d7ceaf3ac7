package ui

// TracesView is the Traces panel: the account's X-Ray traces in a window,
// filtered, or one trace's waterfall and its segments' details.
type TracesView struct {
	Windows []MonitorLink
	// The filter form: a GET of the lab page with these hidden fields.
	FilterAction string
	Hidden       []BucketField
	Filter       string
	// FilterErr is why the filter expression was refused.
	FilterErr string
	Traces    []TraceRow
	// Note says what the list leaves out, or that it is empty and why.
	Note string

	// Trace is the trace shown; nil lists traces.
	Trace   *TraceDetail
	BackURL string
	// Missing says that the trace asked for is not in the account.
	Missing string
}

// TraceRow is one trace of the list.
type TraceRow struct {
	ID, URL, Time, Duration, Name, Status, Annotations string
}

// TraceDetail is one trace: its waterfall and each entity's details.
type TraceDetail struct {
	ID, Start, Duration, Status string
	SVG                         string
	Entities                    []TraceEntity
	Table                       MonitorTable
}

// TraceEntity is one segment or subsegment.
type TraceEntity struct {
	Name, Kind, Origin, Duration string
	Depth                        int
	// Flags are "error", "fault", "throttle", "in progress".
	Flags       []string
	HTTP        string
	Annotations []TraceAnnotation
	Metadata    []string
	Exceptions  []string
}

// TraceAnnotation is one annotation's key and value.
type TraceAnnotation struct{ Key, Value string }
