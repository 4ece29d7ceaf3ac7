package web

// The workspace's console and the Test panel's Invoke (WORKSPACE.md, "Server-
// sent events"). The console is a live view of the learner's invocations of
// the lab's functions, as the Lambda console's log shows them: a block per
// request id with START, the function's lines, END and REPORT, the cost of
// the invoke beside it, and the outcomes that are not the function's own
// (throttles, a full machine) worded apart.
//
// Two sources feed it. cloud/lambda's WatchInvocations reports every
// finished invocation of the account (sync, each async try, S3-triggered)
// with its whole log; an invoke started from the Test panel also streams its
// log as it is written (lambda.InvokeInput.Output), so a slow function's
// lines appear while it runs. console.js keeps one block per request id: the
// finished record replaces the streamed lines, so an invoke seen both ways
// is shown once, and one seen only by the watcher is still whole.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /labs/{lab}/console", s.consoleStream)
	mux.HandleFunc("POST /labs/{lab}/invoke", s.invoke)
	mux.HandleFunc("GET /labs/{lab}/events/{id}", s.loadTestEvent)
	mux.HandleFunc("POST /labs/{lab}/events", s.saveTestEvent)
	mux.HandleFunc("POST /labs/{lab}/events/{id}/delete", s.deleteTestEvent)
	mux.HandleFunc("POST /labs/{lab}/tune", s.tune)
}

// Console bounds.
const (
	// consoleHistory is how many invocations the console shows from the
	// store when the page is made.
	consoleHistory = 20
	// consoleMaxBlocks is how many blocks console.js keeps.
	consoleMaxBlocks = 200
	// consoleHeartbeat keeps proxies from closing a quiet stream.
	consoleHeartbeat = 15 * time.Second
	// consoleLogMax caps the log one console event carries; the Test
	// panel's result has the whole log.
	consoleLogMax = 64 << 10
	// subscriberBuffer is how many events wait for a slow tab before it
	// misses some; feedBuffer is how many reports wait for the account's
	// fan-out goroutine.
	subscriberBuffer = 256
	feedBuffer       = 1024
)

// consoleState is what the console and the Test panel keep per Server: the
// fan-out hub and the power-tuning slots. It lives beside the Server
// (consoleStates) rather than in it, and goes when the Server closes.
type consoleState struct {
	hub *consoleHub
	// tuning holds the user ids with a power-tuning run going: one at a
	// time per learner.
	tuning sync.Map
	// tuneSlots bounds power-tuning runs on the whole machine.
	tuneSlots chan struct{}
}

var consoleStates sync.Map // *Server → *consoleState

// console is the Server's console state, made on first use.
func (s *Server) console() *consoleState {
	if v, ok := consoleStates.Load(s); ok {
		return v.(*consoleState)
	}
	st := &consoleState{tuneSlots: make(chan struct{}, maxTunings)}
	if s.cloud != nil {
		st.hub = newConsoleHub(s.cloud.Lambda)
	}
	v, loaded := consoleStates.LoadOrStore(s, st)
	if !loaded {
		go func() {
			<-s.events.done
			consoleStates.Delete(s)
		}()
	}
	return v.(*consoleState)
}

// sseMessage is one server-sent event, encoded once for every subscriber.
type sseMessage struct {
	event    string
	function string // whose invocation; subscribers filter on it
	data     []byte // one line of JSON
}

// consoleHub fans an account's invocations out to that account's open
// consoles. While an account has a console open, one watcher of its
// invocations feeds one goroutine, which encodes each event once.
type consoleHub struct {
	lambda *lambda.Service

	mu    sync.Mutex
	feeds map[string]*consoleFeed // by account
}

func newConsoleHub(svc *lambda.Service) *consoleHub {
	return &consoleHub{lambda: svc, feeds: map[string]*consoleFeed{}}
}

// consoleFeed is one account's open consoles.
type consoleFeed struct {
	account string
	logs    chan lambda.InvocationLog
	quit    chan struct{}
	stop    func()

	mu   sync.Mutex
	subs map[*consoleSub]struct{}
	// tokens maps the request ids of invokes started from a page to the
	// page's token for them, learned from their streamed START line.
	tokens map[string]string
	// failures counts the failed tries of asynchronous events by request
	// id, to say which try a retry is and when the event has failed for
	// good.
	failures map[string]int
}

// consoleSub is one open console.
type consoleSub struct {
	functions map[string]bool
	ch        chan sseMessage
	dropped   atomic.Int64
}

// subscribe opens a console of account showing the invocations of
// functions. build turns a report into its event (run on the feed's
// goroutine). The returned func closes it.
func (h *consoleHub) subscribe(ctx context.Context, account string, functions []string, build func(context.Context, *consoleFeed, lambda.InvocationLog) (sseMessage, bool)) (*consoleSub, func()) {
	sub := &consoleSub{functions: map[string]bool{}, ch: make(chan sseMessage, subscriberBuffer)}
	for _, f := range functions {
		sub.functions[f] = true
	}
	h.mu.Lock()
	f := h.feeds[account]
	if f == nil {
		f = &consoleFeed{account: account, logs: make(chan lambda.InvocationLog, feedBuffer), quit: make(chan struct{}),
			subs: map[*consoleSub]struct{}{}, tokens: map[string]string{}, failures: map[string]int{}}
		// The watcher runs on the invocation's path: it only hands the
		// report over, and drops it rather than wait.
		f.stop = h.lambda.WatchInvocations(account, func(l lambda.InvocationLog) {
			select {
			case f.logs <- l:
			default:
			}
		})
		h.feeds[account] = f
		go f.run(context.WithoutCancel(ctx), build)
	}
	f.mu.Lock()
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	h.mu.Unlock()
	var once sync.Once
	return sub, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			f.mu.Lock()
			delete(f.subs, sub)
			empty := len(f.subs) == 0
			f.mu.Unlock()
			if empty && h.feeds[account] == f {
				delete(h.feeds, account)
				f.stop()
				close(f.quit)
			}
		})
	}
}

// run turns the account's reports into events until the last console of
// the account closes.
func (f *consoleFeed) run(ctx context.Context, build func(context.Context, *consoleFeed, lambda.InvocationLog) (sseMessage, bool)) {
	for {
		select {
		case <-f.quit:
			return
		case l := <-f.logs:
			if !f.wanted(l.Record.Function) {
				continue
			}
			if m, ok := build(ctx, f, l); ok {
				f.broadcast(m)
			}
		}
	}
}

// wanted reports whether any open console shows function.
func (f *consoleFeed) wanted(function string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		if sub.functions[function] {
			return true
		}
	}
	return false
}

// broadcast hands m to every console showing its function. A console that
// has fallen behind misses it (and is told how many it missed) instead of
// holding up the others or the invocation.
func (f *consoleFeed) broadcast(m sseMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		if m.function != "" && !sub.functions[m.function] {
			continue
		}
		select {
		case sub.ch <- m:
		default:
			sub.dropped.Add(1)
		}
	}
}

// publish broadcasts m to account's open consoles, if any.
func (h *consoleHub) publish(account string, m sseMessage) {
	h.mu.Lock()
	f := h.feeds[account]
	h.mu.Unlock()
	if f != nil {
		f.broadcast(m)
	}
}

// tokenOf returns (and forgets) the page token of an invoke by request id.
func (f *consoleFeed) tokenOf(reqID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tokens[reqID]
	delete(f.tokens, reqID)
	return t
}

// consoleOutput is one streamed piece of a running invoke's log.
type consoleOutput struct {
	Token     string `json:"token"`
	RequestID string `json:"requestId,omitempty"`
	Function  string `json:"function"`
	Text      string `json:"text"`
}

var startLineRE = regexp.MustCompile(`(?m)^START RequestId: ([0-9a-f-]+) `)

// output is the lambda.InvokeInput.Output tap of an invoke started from a
// page: each chunk goes to the account's consoles tagged with the page's
// token and, once the START line has gone by, the request id. It never
// blocks: with no console open it does nothing, and a slow one misses lines.
func (h *consoleHub) output(account, function, token string) func([]byte) {
	var reqID string
	var head []byte // the log up to its START line, to read the request id from
	var pend []byte // held back by readableChunk
	return func(chunk []byte) {
		h.mu.Lock()
		f := h.feeds[account]
		h.mu.Unlock()
		if f == nil {
			return
		}
		if reqID == "" && len(head) < 16<<10 {
			head = append(head, chunk...)
			m := startLineRE.FindSubmatch(head)
			if m == nil && token == "" {
				// Nothing to file these lines under yet (a form sent
				// without console.js has no token): they go out with
				// the START line.
				return
			}
			if m != nil {
				reqID = string(m[1])
				if token != "" {
					f.mu.Lock()
					if len(f.tokens) > 1000 {
						clear(f.tokens)
					}
					f.tokens[reqID] = token
					f.mu.Unlock()
				} else {
					chunk = head
				}
				head = nil
			}
		}
		var text string
		text, pend = readableChunk(pend, chunk)
		data, _ := json.Marshal(consoleOutput{Token: token, RequestID: reqID, Function: function, Text: text})
		f.broadcast(sseMessage{event: "output", function: function, data: data})
	}
}

// readableChunk is the next piece of a streamed log for the console, made
// readable (sandbox.ReadableLog) and with what may belong to the next chunk
// held back: a CR whose LF may follow, an unfinished UTF-8 sequence. The
// log's last chunk ends with REPORT's newline, so nothing is held at the end.
func readableChunk(pend, chunk []byte) (text string, rest []byte) {
	b := append(pend, chunk...)
	n := len(b)
	for i := 1; i <= utf8.UTFMax-1 && i <= n; i++ {
		c := b[n-i]
		if c < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[n-i:]) {
				n -= i
			}
			break
		}
	}
	if n > 0 && b[n-1] == '\r' {
		n--
	}
	return sandbox.ReadableLog(string(b[:n])), append([]byte(nil), b[n:]...)
}

// consoleInvoke is an invoke event's data: the block to show, and what
// console.js needs to place it.
type consoleInvoke struct {
	RequestID string  `json:"requestId"`
	Token     string  `json:"token,omitempty"`
	Function  string  `json:"function"`
	Version   string  `json:"version"`
	Async     bool    `json:"async"`
	Attempt   int     `json:"attempt"`
	Try       string  `json:"try,omitempty"`
	Kind      string  `json:"kind"`
	Cold      bool    `json:"cold"`
	Report    string  `json:"report,omitempty"`
	Cost      string  `json:"cost,omitempty"`
	CostUSD   float64 `json:"costUSD"`
	Outcome   string  `json:"outcome,omitempty"`
	HTML      string  `json:"html"`
}

// invokeEvent builds the console's event for one reported invocation.
func (s *Server) invokeEvent(ctx context.Context, f *consoleFeed, l lambda.InvocationLog) (sseMessage, bool) {
	b := consoleBlock(l.Record, l.Log, l.Payload)
	b.Qualifier, b.Async = l.Qualifier, l.Async
	if l.Async {
		s.asyncOutcome(ctx, f, l, &b)
	}
	d := consoleInvoke{RequestID: l.RequestID, Token: f.tokenOf(l.RequestID), Function: l.Record.Function,
		Version: l.Record.Version, Async: l.Async, Attempt: l.Attempt, Try: b.Try, Kind: b.Kind, Cold: l.Record.Cold,
		Cost: b.Cost, CostUSD: l.Record.CostUSD, Outcome: b.Outcome}
	if reportOf(b.Log) != "" || b.Report != "" {
		// From the record: the log's text is the function's to fake.
		d.Report = reportLine(l.Record)
	}
	var err error
	if d.HTML, err = renderString(ctx, ui.ConsoleEntry(b)); err != nil {
		s.logger.ErrorContext(ctx, "render console block", "request_id", l.RequestID, "err", err)
		return sseMessage{}, false
	}
	data, err := json.Marshal(d)
	if err != nil {
		return sseMessage{}, false
	}
	return sseMessage{event: "invoke", function: l.Record.Function, data: data}, true
}

// reportOf is the REPORT line among a block's lines.
func reportOf(lines []ui.LogLine) string {
	for _, l := range lines {
		if l.Class == "report" {
			return l.Text
		}
	}
	return ""
}

// asyncOutcome says which try of an asynchronous event this was and what
// Lambda does next with the event, by its rules (reference/lambda-
// behaviour.md §9): a failed run is retried up to MaximumRetryAttempts
// times (2 by default), a throttle is retried without using a retry, and
// the final outcome's record goes to the configured destination.
func (s *Server) asyncOutcome(ctx context.Context, f *consoleFeed, l lambda.InvocationLog, b *ui.ConsoleBlock) {
	retries := 2
	var onSuccess, onFailure string
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	cfg, err := s.cloud.Lambda.GetFunctionEventInvokeConfig(cctx, l.Record.AccountID, l.Record.Function, l.Qualifier)
	cancel()
	if err == nil {
		if cfg.MaximumRetryAttempts != nil {
			retries = *cfg.MaximumRetryAttempts
		}
		onSuccess, onFailure = cfg.DestinationConfig.OnSuccess.Destination, cfg.DestinationConfig.OnFailure.Destination
	}
	f.mu.Lock()
	before, seen := f.failures[l.RequestID]
	if !seen {
		// The console opened after the event's earlier tries: count them
		// all as failed runs, which they most often were.
		before = l.Attempt - 1
	}
	f.mu.Unlock()
	settle := func(n int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if n < 0 {
			delete(f.failures, l.RequestID)
			return
		}
		if len(f.failures) > 1000 {
			clear(f.failures)
		}
		f.failures[l.RequestID] = n
	}
	dest := func(arn string) string {
		switch {
		case arn == "":
			return ""
		case strings.HasPrefix(arn, "arn:aws:s3:::"):
			return " Its record went to the bucket " + strings.TrimPrefix(arn, "arn:aws:s3:::") + "."
		default:
			return " Its record went to " + arn + "."
		}
	}
	switch b.Kind {
	case ui.KindThrottled:
		b.Try = fmt.Sprintf("try %d, throttled", l.Attempt)
		if e := s.engine(); e != nil {
			if n, ok := e.ReservedConcurrency(l.Record.AccountID, l.Record.Function); ok && n == 0 {
				settle(-1)
				b.Outcome = "Final outcome: not run. The function's reserved concurrency is 0, so Lambda gives up on the event at once (ZeroReservedConcurrency)." + dest(onFailure)
				return
			}
		}
		b.Outcome = "Lambda keeps the event and tries again shortly; throttles do not use up its retries."
	case ui.KindOK:
		settle(-1)
		b.Try = fmt.Sprintf("try %d of %d", before+1, retries+1)
		b.Outcome = "Final outcome: succeeded." + dest(onSuccess)
	default:
		n := before + 1
		b.Try = fmt.Sprintf("try %d of %d", n, retries+1)
		if n > retries {
			settle(-1)
			b.Outcome = fmt.Sprintf("Final outcome: failed after %s (RetriesExhausted).", plural(n, "try", "tries")) + dest(onFailure)
			if onFailure == "" {
				b.Outcome += " No on-failure destination is configured, so the event is gone."
			}
			return
		}
		settle(n)
		b.Outcome = fmt.Sprintf("Lambda retries it in about %s (try %d of %d next).", plural(n, "minute", "minutes"), n+1, retries+1)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// consoleBlock describes one invocation from its record, its log (nil when
// read back from the store) and its response or error document.
func consoleBlock(rec store.Invocation, log, payload []byte) ui.ConsoleBlock {
	b := ui.ConsoleBlock{RequestID: rec.RequestID, Function: rec.Function, Version: rec.Version,
		When: rec.Start.UTC().Format("15:04:05"), Cold: rec.Cold}
	o := outcomeOf(rec, payload)
	b.Kind, b.Headline, b.Detail, b.Error = o.kind, o.headline, o.detail, o.err
	if rec.Outcome != "throttled" && rec.Outcome != "recursion-stopped" {
		b.Cost = formatUSD(rec.CostUSD)
	}
	if len(log) > 0 {
		b.Log = logLines(capLog(log, consoleLogMax), rec)
	} else if b.Cost != "" {
		b.Report = reportLine(rec)
	}
	return b
}

// outcome is how an invocation ended, in words.
type outcome struct {
	kind, headline, detail string
	err                    *ui.FunctionError
}

// outcomeOf words how an invocation ended, telling apart the endings that
// look alike in a log: a timeout, an out-of-memory kill, a throttle and a
// stopped loop (reference/lambda-behaviour.md §5.2, §8, §13.3).
func outcomeOf(rec store.Invocation, payload []byte) outcome {
	fe := functionError(payload)
	switch {
	case rec.Outcome == "throttled":
		msg := "Rate Exceeded."
		var body struct {
			Message string `json:"message"`
			Reason  string `json:"Reason"`
		}
		if json.Unmarshal(payload, &body) == nil && body.Message != "" {
			msg = body.Message
		}
		d := "Lambda refused to run the function: TooManyRequestsException: " + msg
		if body.Reason != "" {
			d += " (" + body.Reason + ")"
		}
		d += " Every instance its concurrency allows is busy; with reserved concurrency 0 nothing runs at all."
		return outcome{kind: ui.KindThrottled, headline: "Throttled", detail: d}
	case rec.Outcome == "recursion-stopped":
		return outcome{kind: ui.KindRecursion, headline: "Recursive loop stopped",
			detail: "Lambda dropped this event: the function kept invoking itself through its own events (recursive loop detection). Set reserved concurrency to 0 or fix the loop; PutFunctionRecursionConfig can allow it."}
	case rec.ErrorType == "Sandbox.Timedout" || rec.Outcome == "timeout":
		h := "Timed out"
		if fe != nil {
			if _, after, ok := strings.Cut(fe.Message, "Error: "); ok {
				h = after
			}
		}
		return outcome{kind: ui.KindTimeout, headline: h, err: fe,
			detail: "The function was still running when its timeout ran out, so Lambda stopped it (Sandbox.Timedout). Raise the timeout, or find what it waits for."}
	case rec.ErrorType == "Runtime.OutOfMemory":
		return outcome{kind: ui.KindOOM, headline: "Out of memory", err: fe,
			detail: fmt.Sprintf("The function used all of its %d MB and was killed (Runtime.OutOfMemory). Give it more memory, or make it hold less at once.", rec.MemoryMB)}
	case rec.Outcome == "success":
		return outcome{kind: ui.KindOK, headline: "Succeeded"}
	}
	h := "Failed"
	if rec.ErrorType != "" {
		h = "Failed: " + rec.ErrorType
	}
	return outcome{kind: ui.KindError, headline: h, err: fe}
}

// functionError reads Lambda's error document (errorType, errorMessage,
// stackTrace); nil when payload is not one.
func functionError(payload []byte) *ui.FunctionError {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
		StackTrace   []any  `json:"stackTrace"`
	}
	if json.Unmarshal(payload, &doc) != nil || doc.ErrorType == "" && doc.ErrorMessage == "" {
		return nil
	}
	fe := &ui.FunctionError{Type: doc.ErrorType, Message: doc.ErrorMessage}
	for _, f := range doc.StackTrace {
		switch v := f.(type) {
		case string:
			fe.Stack = append(fe.Stack, strings.TrimRight(v, "\n"))
		default:
			b, _ := json.Marshal(v)
			fe.Stack = append(fe.Stack, string(b))
		}
	}
	return fe
}

// logLines splits a log into lines for a person to read, marking Lambda's
// own. The platform's lines are found by where the sandbox writes them, for
// the invocation in rec, not by what they look like: a function may print
// "REPORT RequestId: …" itself, and that line stays its output. The
// platform's START is the first one with the invocation's request id
// (nothing the function prints comes before it but init output, written
// before the id existed), with a truncation line just above it, and
// INIT_REPORT too when init failed (then nothing is between START and
// END); its END, REPORT and XRAY lines are the last ones, with the
// timeout or exit lines just above END only when the record says the
// invocation ended that way. Each line's text goes through
// sandbox.ReadableLog.
func logLines(log []byte, rec store.Invocation) []ui.LogLine {
	text := strings.TrimRight(string(log), "\n")
	if text == "" {
		return nil
	}
	raw := strings.Split(text, "\n")
	class := make([]string, len(raw))
	id := rec.RequestID

	start := -1
	for i, l := range raw {
		if strings.HasPrefix(l, "START RequestId: "+id+" ") {
			start = i
			break
		}
	}
	if start >= 0 {
		class[start] = "start"
	}

	end := len(raw)
	if end-1 > start && strings.HasPrefix(raw[end-1], "XRAY TraceId: ") {
		end--
	}
	if end-1 > start && strings.HasPrefix(raw[end-1], "REPORT RequestId: "+id+"\t") &&
		end-2 > start && raw[end-2] == "END RequestId: "+id {
		for i := end; i < len(raw); i++ {
			class[i] = "platform"
		}
		class[end-1], class[end-2] = "report", "end"
		i := end - 3
		switch {
		case rec.Outcome == string(sandbox.StatusTimeout) && i > start && strings.Contains(raw[i], " "+id+" Task timed out after "):
			class[i] = "platform"
			i--
		case rec.Outcome != "success" && (rec.ErrorType == "Runtime.ExitError" || rec.ErrorType == "Runtime.OutOfMemory") &&
			i-1 > start && raw[i] == "Runtime.ExitError" && strings.HasPrefix(raw[i-1], "RequestId: "+id+" Error: "):
			class[i], class[i-1] = "platform", "platform"
			i -= 2
		}
		if i > start && strings.HasPrefix(raw[i], "[lambdalab] Output truncated after ") {
			class[i] = "platform"
		}
	}

	if start >= 0 {
		i := start - 1
		// A failed init is reported with nothing between START and END.
		if i >= 0 && rec.Outcome != "success" && start+1 < len(raw) && class[start+1] == "end" &&
			strings.HasPrefix(raw[i], "INIT_REPORT Init Duration: ") {
			class[i] = "platform"
			i--
		}
		if i >= 0 && strings.HasPrefix(raw[i], "[lambdalab] Output truncated after ") {
			class[i] = "platform"
		}
	}

	out := make([]ui.LogLine, len(raw))
	for i, l := range raw {
		if cls := class[i]; cls == "" && strings.HasPrefix(l, "[lambdalab] ") && strings.HasSuffix(l, consoleCutNote) {
			// capLog's note.
			class[i] = "platform"
		}
		out[i] = ui.LogLine{Text: sandbox.ReadableLog(strings.TrimSuffix(l, "\r")), Class: class[i]}
	}
	return out
}

// consoleCutNote ends the line capLog writes where it cut.
const consoleCutNote = " of output are not shown in the console; the Test panel's result has the whole log"

// capLog keeps the start and, above all, the end of a long log (the END
// and REPORT lines are last), marking what it left out.
func capLog(log []byte, max int) []byte {
	if len(log) <= max {
		return log
	}
	head, tail := max/4, max-max/4
	cut := len(log) - head - tail
	var b bytes.Buffer
	b.Write(log[:head])
	fmt.Fprintf(&b, "\n[lambdalab] %d bytes%s\n", cut, consoleCutNote)
	b.Write(log[len(log)-tail:])
	return b.Bytes()
}

// reportLine writes a record's REPORT line as the sandbox does
// (reference/lambda-behaviour.md §4.1), for an invocation read back from
// the store, whose log is not kept.
func reportLine(rec store.Invocation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		rec.RequestID, rec.DurationMS, rec.BilledMS, rec.MemoryMB, rec.MaxMemoryMB)
	if rec.Cold {
		fmt.Fprintf(&b, "Init Duration: %.2f ms\t", rec.InitMS)
	}
	switch rec.Outcome {
	case "success":
	case "timeout":
		b.WriteString("Status: timeout\t")
	default:
		b.WriteString("Status: error\t")
		if rec.ErrorType != "" {
			fmt.Fprintf(&b, "Error Type: %s\t", rec.ErrorType)
		}
	}
	return b.String()
}

// reportFields is a REPORT line's fields for reading: "Duration: 1.20 ms ·
// Billed Duration: 2 ms · …".
func reportFields(line string) string {
	_, rest, ok := strings.Cut(line, "\t")
	if !ok {
		return ""
	}
	var parts []string
	for p := range strings.SplitSeq(rest, "\t") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " · ")
}

func renderString(ctx context.Context, c templ.Component) (string, error) {
	var b strings.Builder
	if err := c.Render(ctx, &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// consoleStream is the console's server-sent event stream
// (GET /labs/{lab}/console): "invoke" for each finished invocation of the
// lab's functions in the learner's account, "output" for the lines of an
// invoke started from the page as they are printed, "busy" for an invoke
// the machine had no room for, "tune" for a power-tuning run's progress,
// and "dropped" when this tab fell behind and missed some.
func (s *Server) consoleStream(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	var names []string
	for _, f := range lc.Lab.Functions {
		names = append(names, f.Name)
	}
	sub, stop := s.console().hub.subscribe(r.Context(), lc.Account, names, s.invokeEvent)
	defer stop()
	rc, ok := startEventStream(w, 3*time.Second, "connected")
	if !ok {
		return
	}
	beat := time.NewTicker(consoleHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.events.done:
			return
		case <-beat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case m := <-sub.ch:
			writeSSE(w, m)
			// Whatever else is waiting goes out in the same flush.
			for more := true; more; {
				select {
				case m := <-sub.ch:
					writeSSE(w, m)
				default:
					more = false
				}
			}
		}
		if n := sub.dropped.Swap(0); n > 0 {
			fmt.Fprintf(w, "event: dropped\ndata: {\"count\":%d}\n\n", n)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func writeSSE(w http.ResponseWriter, m sseMessage) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.event, m.data)
}

// consoleView is the workspace's persistent console, below the panel: the
// latest invocations of the lab's functions from the store (all a reader
// without JavaScript gets), which console.js then keeps up to date.
func (s *Server) consoleView(r *http.Request, lc *labCtx) (templ.Component, error) {
	v := ui.ConsoleView{Lab: lc.Lab.ID, StreamURL: "/labs/" + url.PathEscape(lc.Lab.ID) + "/console", MaxBlocks: consoleMaxBlocks}
	var all []store.Invocation
	for _, f := range lc.Lab.Functions {
		v.Functions = append(v.Functions, f.Name)
		invs, err := s.db.LatestInvocations(r.Context(), lc.Account, f.Name, consoleHistory)
		if err != nil {
			return nil, err
		}
		all = append(all, invs...)
	}
	// Newest first across the functions, then the newest few oldest first,
	// as the console reads top to bottom.
	slices.SortFunc(all, func(a, b store.Invocation) int { return b.Start.Compare(a.Start) })
	if len(all) > consoleHistory {
		all = all[:consoleHistory]
	}
	for i := len(all) - 1; i >= 0; i-- {
		v.Blocks = append(v.Blocks, consoleBlock(all[i], nil, nil))
	}
	return ui.ConsolePane(v), nil
}

// invokeForm is what the Test panel's form sends.
type invokeForm struct {
	event, typ, qualifier, token string
}

func readInvokeForm(r *http.Request) invokeForm {
	f := invokeForm{event: r.PostFormValue("event"), typ: r.PostFormValue("type"), qualifier: r.PostFormValue("qualifier"), token: r.PostFormValue("token")}
	if f.typ != lambda.Event {
		f.typ = lambda.RequestResponse
	}
	if f.qualifier == "$LATEST" {
		f.qualifier = ""
	}
	if !tokenRE.MatchString(f.token) {
		f.token = ""
	}
	return f
}

// tokenRE is the shape of console.js's id for an invoke it sends.
var tokenRE = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

// maxInvokeForm caps an invoke's form: Lambda's 6 MB synchronous payload,
// form-encoded (which can triple it), with room for the other fields.
const maxInvokeForm = 3*6<<20 + 64<<10

// invoke runs the chosen function with the event box's event (POST
// /labs/{lab}/invoke). Without JavaScript it answers with the lab page, the
// result in the Test panel; console.js sends X-Console: 1 and gets a small
// JSON answer instead, the lines having gone to the console as printed.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.functionForm(w, r, maxInvokeForm)
	if !ok {
		return
	}
	lc.Tab = "test"
	if !s.allow(w, r, lc.User, actInvoke) {
		return
	}
	f := readInvokeForm(r)
	payload, problem := eventJSON(f.event, 0)
	if problem != "" {
		s.invokeAnswer(w, r, lc, f, http.StatusUnprocessableEntity, &ui.InvokeResult{Kind: ui.KindRefused, Headline: "Not invoked", Detail: problem})
		return
	}
	// A synchronous invoke lasts as long as the function may run (up to
	// 900 s), longer than the server's usual write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(16 * time.Minute))
	hub := s.console().hub
	in := lambda.InvokeInput{FunctionName: lc.Fn.Name, Qualifier: f.qualifier, InvocationType: f.typ, Payload: payload}
	if f.typ == lambda.RequestResponse {
		in.Output = hub.output(lc.Account, lc.Fn.Name, f.token)
	}
	out, err := s.cloud.Lambda.Invoke(r.Context(), lc.Account, in)
	var res *ui.InvokeResult
	switch {
	case errors.Is(err, lambda.ErrCapacity):
		res = busyResult()
		s.publishBusy(r.Context(), lc, f.token, res)
	case err != nil:
		reason, ok := refusal(err)
		if !ok {
			s.serverError(w, r, fmt.Errorf("invoke %s: %w", lc.Fn.Name, err))
			return
		}
		res = &ui.InvokeResult{Kind: ui.KindRefused, Headline: "Refused", Detail: reason}
		if le, _ := lambda.AsError(err); le.Type == "TooManyRequestsException" {
			res.Kind, res.Headline = ui.KindThrottled, "Throttled"
			res.Detail = reason + " Every instance the function's concurrency allows is busy; with reserved concurrency 0 nothing runs at all."
		}
	case out.StatusCode == http.StatusAccepted:
		res = &ui.InvokeResult{Kind: ui.KindAccepted, Async: true, StatusCode: out.StatusCode, RequestID: out.RequestID,
			Headline: "Accepted: the event is queued",
			Detail:   "Lambda answered 202 and runs the event on its own; each try shows in the console below as it happens."}
	default:
		res = invokeResult(out)
	}
	s.invokeAnswer(w, r, lc, f, http.StatusOK, res)
}

// busyResult is the answer to an invoke this machine had no room for: not
// a Lambda limit of the learner's account, and said so.
func busyResult() *ui.InvokeResult {
	return &ui.InvokeResult{Kind: ui.KindBusy, Headline: "Machine busy: not invoked",
		Detail: "This lambdalab machine is running as many function instances as it can hold, so the invoke did not start. This is not a Lambda limit of your account and nothing was billed; try again in a moment."}
}

// consoleBusy is a busy event's data.
type consoleBusy struct {
	Token    string `json:"token,omitempty"`
	Function string `json:"function"`
	Kind     string `json:"kind"`
	HTML     string `json:"html"`
}

// publishBusy tells the learner's consoles about an invoke the machine
// refused: no invocation happened, so no watcher reports it.
func (s *Server) publishBusy(ctx context.Context, lc *labCtx, token string, res *ui.InvokeResult) {
	b := ui.ConsoleBlock{Function: lc.Fn.Name, When: time.Now().UTC().Format("15:04:05"), Kind: res.Kind, Headline: res.Headline, Detail: res.Detail}
	html, err := renderString(ctx, ui.ConsoleEntry(b))
	if err != nil {
		return
	}
	data, _ := json.Marshal(consoleBusy{Token: token, Function: lc.Fn.Name, Kind: res.Kind, HTML: html})
	s.console().hub.publish(lc.Account, sseMessage{event: "busy", function: lc.Fn.Name, data: data})
}

// invokeResult describes a finished synchronous invoke for the Test panel.
func invokeResult(out *lambda.InvokeOutput) *ui.InvokeResult {
	o := outcomeOf(out.Record, out.Payload)
	res := &ui.InvokeResult{Kind: o.kind, Headline: o.headline, Detail: o.detail, Error: o.err,
		StatusCode: out.StatusCode, RequestID: out.RequestID, ExecutedVersion: out.ExecutedVersion,
		FunctionError: out.FunctionError, Payload: prettyJSON(out.Payload), Log: logLines(out.Log, out.Record),
		Cost: formatUSD(out.Record.CostUSD), Cold: out.Record.Cold}
	// The numbers come from the record, never from the log's text, where
	// the function may have printed a REPORT line of its own.
	if out.Record.RequestID != "" {
		res.Report = reportFields(reportLine(out.Record))
	}
	if o.kind == ui.KindOK {
		res.Detail = ""
	}
	return res
}

// prettyJSON indents a JSON document as the Lambda console shows a
// response; anything else is shown as it is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// invokeAnswer ends an invoke: JSON for console.js, else the lab page with
// the result in the Test panel and the form as it was sent.
func (s *Server) invokeAnswer(w http.ResponseWriter, r *http.Request, lc *labCtx, f invokeForm, status int, res *ui.InvokeResult) {
	if r.Header.Get("X-Console") == "1" {
		html, err := renderString(r.Context(), ui.InvokeResultBox(res))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		body, _ := json.Marshal(struct {
			Token      string `json:"token,omitempty"`
			RequestID  string `json:"requestId,omitempty"`
			Kind       string `json:"kind"`
			StatusCode int    `json:"statusCode,omitempty"`
			HTML       string `json:"html"`
		}{f.token, res.RequestID, res.Kind, res.StatusCode, html})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	ctx := context.WithValue(r.Context(), testPanelKey{}, testPanelExtra{result: res})
	s.renderLab(w, r.WithContext(ctx), lc, status, panelState{Form: r.PostForm})
}
