package ui

// MonitorView is the Monitor panel: numbers and pictures of one function's
// invocations over a window of time.
type MonitorView struct {
	Function string
	Windows  []MonitorLink
	// Live: the panel refreshes itself (with JavaScript) from RefreshURL
	// every few seconds; ToggleURL turns that off or on.
	Live                  bool
	RefreshURL, ToggleURL string
	// Note says why there is nothing to show (no function in the lab, or
	// not in the account yet).
	Note string
	// Window says which window the numbers cover ("last 15 minutes").
	Window  string
	Updated string // when the numbers were read
	Stats   []MonitorStat
	Charts  []MonitorChart
}

// MonitorLink is a choice of window.
type MonitorLink struct {
	Label, URL string
	Current    bool
}

// MonitorStat is one number above the charts.
type MonitorStat struct {
	Label, Value, TestID string
	// Hint explains the number in a few words.
	Hint string
}

// MonitorChart is one picture with its text alternative.
type MonitorChart struct {
	Heading, TestID string
	// SVG is the drawing's markup, made by package chart.
	SVG string
	// About says in a sentence how to read it.
	About string
	Table MonitorTable
}

// MonitorTable is the numbers behind a chart.
type MonitorTable struct {
	Summary string // the <details> summary
	Head    []string
	Rows    [][]string
	// RowTestID tags each row.
	RowTestID string
	// Note is said under the table (rows left out, for one).
	Note string
}
