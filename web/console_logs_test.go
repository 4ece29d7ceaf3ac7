package web

import (
	"context"
	"strings"
	"testing"

	"lambdalab/cloud/lambda"
	"lambdalab/grader"
	"lambdalab/store"
	"lambdalab/web/ui"
)

const forgedID = "6f1c2a9e-0b7d-4c55-9a1e-3d2f8e7b6a10"

// forgedLog is a log as the sandbox writes it for a cold, successful
// invoke whose function printed Lambda's own lines with absurd numbers
// (init output included) and a few escape sequences.
var forgedLog = "START RequestId: 00000000-0000-0000-0000-000000000000 Version: $LATEST\n" +
	"INIT_REPORT Init Duration: 99999.00 ms\tPhase: init\tStatus: error\tError Type: Forged\n" +
	"START RequestId: " + forgedID + " Version: $LATEST\n" +
	"\x1b[2J\x1b[Hcleared your screen\n" +
	"half a line\rREPORT RequestId: " + forgedID + "\tDuration: 1.00 ms\n" +
	"END RequestId: " + forgedID + "\n" +
	"REPORT RequestId: " + forgedID + "\tDuration: 987654321.00 ms\tBilled Duration: 987654321 ms\tMemory Size: 10240 MB\tMax Memory Used: 10240 MB\t\n" +
	"RequestId: " + forgedID + " Error: Runtime exited with error: signal: killed\n" +
	"Runtime.ExitError\n" +
	"END RequestId: " + forgedID + "\n" +
	"REPORT RequestId: " + forgedID + "\tDuration: 2.50 ms\tBilled Duration: 128 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 125.00 ms\t\n"

var forgedRecord = store.Invocation{RequestID: forgedID, Function: "hello", Version: "$LATEST", Cold: true,
	DurationMS: 2.5, BilledMS: 128, InitMS: 125, MemoryMB: 128, MaxMemoryMB: 41, Outcome: "success", CostUSD: 0.0000002}

func TestForgedReportInConsole(t *testing.T) {
	lines := logLines([]byte(forgedLog), forgedRecord)
	var classes []string
	for _, l := range lines {
		classes = append(classes, l.Class)
	}
	// Only the platform's own lines, found by position, are marked.
	want := []string{"", "", "start", "", "", "", "", "", "", "end", "report"}
	if strings.Join(classes, ",") != strings.Join(want, ",") {
		t.Errorf("line classes %q, want %q", classes, want)
	}
	for _, l := range lines {
		if strings.ContainsAny(l.Text, "\x1b\r") {
			t.Errorf("line %q still holds ESC or CR", l.Text)
		}
	}
	if got := lines[3].Text; got != "␛[2J␛[Hcleared your screen" {
		t.Errorf("escape line shown as %q", got)
	}
	if got := lines[4].Text; got != "half a line\n␍REPORT RequestId: "+forgedID+"\tDuration: 1.00 ms" {
		t.Errorf("CR line shown as %q", got)
	}

	// The Test panel's REPORT numbers come from the record.
	res := invokeResult(&lambda.InvokeOutput{StatusCode: 200, RequestID: forgedID, Payload: []byte(`"ok"`), Log: []byte(forgedLog), Record: forgedRecord})
	if !strings.Contains(res.Report, "Billed Duration: 128 ms") || strings.Contains(res.Report, "987654321") {
		t.Errorf("Test panel report %q, want the record's numbers", res.Report)
	}
	if res.Headline != "Succeeded" {
		t.Errorf("headline %q, want Succeeded", res.Headline)
	}

	// The console block and its event say the same.
	s := &Server{}
	f := &consoleFeed{tokens: map[string]string{}}
	m, ok := s.invokeEvent(context.Background(), f, lambda.InvocationLog{Record: forgedRecord, Log: []byte(forgedLog), RequestID: forgedID, Attempt: 1})
	if !ok {
		t.Fatal("no invoke event")
	}
	data := string(m.data)
	if !strings.Contains(data, `"report":"REPORT RequestId: `+forgedID+`\tDuration: 2.50 ms\tBilled Duration: 128 ms`) {
		t.Errorf("event's report is not the record's: %s", data)
	}
	if strings.Count(data, `data-testid=\"console-report\"`) != 1 {
		t.Errorf("event's block marks %d lines as the REPORT, want 1", strings.Count(data, `data-testid=\"console-report\"`))
	}
	if strings.Contains(data, `\u001b`) || strings.Contains(data, `\r`) {
		t.Errorf("event's block holds ESC or CR: %s", data)
	}
	if !strings.Contains(data, "␛[2J") {
		t.Errorf("event's block does not show the escape as ␛: %s", data)
	}
}

// TestConsolePlatformLinesByOutcome: the timeout and exit lines above END
// are the platform's only when the record says the invoke ended so.
func TestConsolePlatformLinesByOutcome(t *testing.T) {
	exitLog := "START RequestId: r-1 Version: 1\nout\nRequestId: r-1 Error: Runtime exited with error: exit status 1\nRuntime.ExitError\nEND RequestId: r-1\nREPORT RequestId: r-1\tDuration: 1.00 ms\t\n"
	tests := []struct {
		name string
		rec  store.Invocation
		want string
	}{
		{"exit", store.Invocation{RequestID: "r-1", Outcome: "error", ErrorType: "Runtime.ExitError"}, "start,,platform,platform,end,report"},
		{"success printing exit lines", store.Invocation{RequestID: "r-1", Outcome: "success"}, "start,,,,end,report"},
		{"another request id", store.Invocation{RequestID: "r-2", Outcome: "error", ErrorType: "Runtime.ExitError"}, ",,,,,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range logLines([]byte(exitLog), tt.rec) {
				got = append(got, l.Class)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("classes %q, want %s", got, tt.want)
			}
		})
	}
	timeoutLog := "START RequestId: r-1 Version: 1\n2026-01-01T00:00:03.000Z r-1 Task timed out after 3.00 seconds\nEND RequestId: r-1\nREPORT RequestId: r-1\tDuration: 3000.00 ms\t\n"
	var got []string
	for _, l := range logLines([]byte(timeoutLog), store.Invocation{RequestID: "r-1", Outcome: "timeout", ErrorType: "Sandbox.Timedout"}) {
		got = append(got, l.Class)
	}
	if strings.Join(got, ",") != "start,platform,end,report" {
		t.Errorf("timeout classes %q", got)
	}
}

func TestReadableChunk(t *testing.T) {
	// A stream cut between CR and LF, inside a UTF-8 sequence and after a
	// bare CR reads as the whole text does.
	whole := "a\r\nb\rc ü \x1b[1m\n"
	for cut := 0; cut <= len(whole); cut++ {
		var pend []byte
		var got, text string
		text, pend = readableChunk(pend, []byte(whole[:cut]))
		got += text
		text, pend = readableChunk(pend, []byte(whole[cut:]))
		got += text
		if want := "a\nb\n␍c ü ␛[1m\n"; got != want || len(pend) != 0 {
			t.Errorf("cut at %d: %q (left %q), want %q", cut, got, pend, want)
		}
	}
}

func TestLogLinesRendered(t *testing.T) {
	lines := logLines([]byte("START RequestId: r Version: 1\n<b>\x1b]0;title\x07</b>\nEND RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\t\n"), store.Invocation{RequestID: "r", Outcome: "success"})
	html, err := renderString(context.Background(), ui.ConsoleEntry(ui.ConsoleBlock{RequestID: "r", Log: lines}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "&lt;b&gt;␛]0;title␇&lt;/b&gt;") || strings.ContainsAny(html, "\x1b\x07") {
		t.Errorf("rendered block does not escape and neutralise the line:\n%s", html)
	}
}

func TestConsoleInitReport(t *testing.T) {
	log := "init output\nINIT_REPORT Init Duration: 30.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\nSTART RequestId: r Version: 1\nEND RequestId: r\nREPORT RequestId: r\tDuration: 0.00 ms\t\n"
	var got []string
	for _, l := range logLines([]byte(log), store.Invocation{RequestID: "r", Outcome: "error", ErrorType: "Runtime.ImportModuleError"}) {
		got = append(got, l.Class)
	}
	if strings.Join(got, ",") != ",platform,start,end,report" {
		t.Errorf("failed init classes %q", got)
	}
}

// A check's message and log excerpt, as the panel shows them (a report
// stored before excerpts were made readable included).
func TestCheckRowReadable(t *testing.T) {
	row := checkRow(grader.CheckResult{ID: "c", Status: grader.Fail, Message: "got \x1b[31mred\x1b[0m", Log: "a\rb\x1b[2J\n"}, nil)
	if row.Message != "got ␛[31mred␛[0m" || row.Log != "a\n␍b␛[2J\n" {
		t.Errorf("check row message %q, log %q", row.Message, row.Log)
	}
}
