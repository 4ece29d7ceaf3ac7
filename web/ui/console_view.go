package ui

// The view values of the Test panel (test.templ) and of the workspace's
// console (console.templ). web/console.go, web/testevents.go and
// web/tuning.go fill them with words and numbers ready to show: the
// components format nothing.

// Kinds of an invocation's outcome, each drawn and worded differently in the
// Test panel and the console.
const (
	KindOK        = "ok"
	KindError     = "error"     // the function failed (an exception, an exit)
	KindTimeout   = "timeout"   // Sandbox.Timedout
	KindOOM       = "oom"       // Runtime.OutOfMemory
	KindThrottled = "throttled" // TooManyRequestsException
	KindRecursion = "recursion" // recursive loop detection dropped the event
	KindBusy      = "busy"      // the lambdalab machine had no room: not Lambda's answer
	KindRefused   = "refused"   // Lambda refused the request (bad input, no such function)
	KindAccepted  = "accepted"  // an asynchronous invoke queued (202)
)

// TestPanelView is the Test panel of one function of a lab.
type TestPanelView struct {
	Lab, Function string
	// Missing says why nothing can be invoked yet (the function is not in
	// the learner's account); the event box still works for saving.
	Missing string
	Flash   string
	Err     string

	InvokeURL, SaveURL, TuneURL string
	// The form's values: the event box, the name it is saved under, the
	// saved event it was loaded from (0 for none), the invocation type and
	// the version or alias.
	Event          string
	EventName      string
	EventID        int64
	InvocationType string
	Qualifier      string
	Qualifiers     []TestOption
	// Templates are the ready events; TemplateURL loads one ("…&template=").
	Templates   []TestTemplate
	Saved       []SavedEvent
	SavedLimit  int
	Result      *InvokeResult
	Tuning      *TuningView
	TuningSizes string // "128, 256, 512, 1,024, 1,769 and 3,008 MB"
}

// TestOption is one option of a select.
type TestOption struct {
	Value, Label string
}

// TestTemplate is one ready event to start from.
type TestTemplate struct {
	ID, Label, URL string
	Current        bool
}

// SavedEvent is one of the learner's saved test events.
type SavedEvent struct {
	ID        int64
	Name      string
	Size      string // "1.2 KB"
	LoadURL   string
	DeleteURL string
	Current   bool
}

// InvokeResult is what the last invoke from the Test panel did.
type InvokeResult struct {
	Kind     string
	Headline string // "Succeeded", "Timed out after 3.00 seconds", …
	// Detail explains a kind that is not the function's own doing
	// (throttled, machine busy, refused).
	Detail          string
	StatusCode      int
	RequestID       string
	ExecutedVersion string
	Async           bool
	FunctionError   string
	// Payload is the response, pretty-printed when it is JSON.
	Payload string
	Error   *FunctionError
	Log     []LogLine
	Report  string // the REPORT line's fields, e.g. "Duration: 1.20 ms · Billed Duration: 2 ms · …"
	Cost    string // "$0.0000021"
	Cold    bool
}

// FunctionError is a function's error document as Lambda shows it.
type FunctionError struct {
	Type, Message string
	Stack         []string
}

// LogLine is one line of an invocation's log. Class marks Lambda's own
// lines: "start", "end", "report", "platform" (INIT_REPORT, XRAY, the
// timeout line) or "" for the function's output.
type LogLine struct {
	Text, Class string
}

// TuningView is the latest power-tuning run of the function.
type TuningView struct {
	When      string
	EventName string
	Note      string
	// SVG is the chart, drawn by package chart; Rows say the same in a
	// table.
	SVG     string
	Rows    []TuningRow
	Summary string
}

// TuningRow is one memory size of a power-tuning run.
type TuningRow struct {
	Memory, Runs, Cold, Warm, Billed, Cost, MaxMemory string
	Failed                                            string // why this size has no numbers, "" when it has
	Cheapest, Fastest                                 bool
}

// ConsoleView is the workspace's persistent console below the panels.
type ConsoleView struct {
	Lab       string
	StreamURL string
	// Functions are the lab's functions whose invocations it shows.
	Functions []string
	// Blocks are the latest invocations from the store, oldest first: what
	// the console shows before (or without) its live stream.
	Blocks []ConsoleBlock
	// MaxBlocks is how many blocks console.js keeps.
	MaxBlocks int
}

// ConsoleBlock is one invocation in the console: a synchronous invoke or
// one try of an asynchronous event.
type ConsoleBlock struct {
	RequestID string
	Function  string
	Version   string // the executed version
	Qualifier string // as the caller named it; "" for none
	When      string // "14:03:22"
	Async     bool
	Try       string // "try 2 of 3" for an asynchronous event
	Cold      bool
	Kind      string
	Headline  string
	Detail    string
	Log       []LogLine
	// Report is the REPORT line, shown on its own when there is no log
	// (a block read back from the store); with a log it is among Log.
	Report string
	Cost   string
	Error  *FunctionError
	// Outcome says what became of an asynchronous event after this try:
	// retried, or its final outcome and where its record went.
	Outcome string
	// Destination says that this invocation delivers another's record.
	Destination string
}
