package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileTypes are error types a runtime might post in its error document,
// with what the REPORT line and the record must say.
var hostileTypes = []struct {
	name, errType, want string
}{
	{"plain", "ValueError", "ValueError"},
	{"newline and a forged REPORT line", "X\nREPORT RequestId: 00000000-0000-0000-0000-000000000000\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t", "Unhandled"},
	{"tab forges a field", "X\tBilled Duration: 0 ms", "Unhandled"},
	{"1 MB identifier", strings.Repeat("E", 1<<20), strings.Repeat("E", maxErrorType)},
	{"1 MB with newlines", strings.Repeat("E\n", 1<<19), "Unhandled"},
	{"control characters", "\x1b[31mRuntime.ExitError\x1b[0m", "Unhandled"},
	{"carriage return", "Boom\rREPORT RequestId: x", "Unhandled"},
	{"unicode class name", "ОшибкаДанных", "ОшибкаДанных"},
	{"unicode line separator", "Boom\u2028REPORT RequestId: x", "Unhandled"},
	{"bidi override", "Boom\u202eXYZ", "Unhandled"},
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// platformLines counts the log's lines that begin as a platform line of
// the given kind does.
func platformLines(log []byte, prefix string) int {
	n := 0
	for line := range strings.SplitSeq(string(log), "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

func checkErrorTypeLog(t *testing.T, log []byte, want string) {
	t.Helper()
	if n := platformLines(log, "REPORT RequestId: "); n != 1 {
		t.Errorf("log has %d REPORT lines, want 1", n)
	}
	var report string
	for line := range strings.SplitSeq(string(log), "\n") {
		if strings.HasPrefix(line, "REPORT RequestId: ") {
			report = line
		}
	}
	if !strings.HasSuffix(report, "\tStatus: error\tError Type: "+want+"\t") {
		t.Errorf("REPORT line %.200q, want it to end with Error Type: %.40s", report, want)
	}
}

func TestHostileErrorTypesInvoke(t *testing.T) {
	for _, tt := range hostileTypes {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"errorMessage":"boom","errorType":` + jsonString(tt.errType) + `}`
			fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
				return Outcome{Status: StatusError, Payload: []byte(doc)}
			}}
			e := newTestEngine(t, fb, Config{})
			res, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
			if err != nil {
				t.Fatal(err)
			}
			checkErrorTypeLog(t, res.Log, tt.want)
			if res.Record.ErrorType != tt.want {
				t.Errorf("record error type %.60q, want %.60q", res.Record.ErrorType, tt.want)
			}
			// The caller gets the document as posted, as on Lambda.
			if string(res.Payload) != doc || res.FunctionError != "Unhandled" {
				t.Errorf("payload changed or not Unhandled: %q, %.80s", res.FunctionError, res.Payload)
			}
		})
	}
}

func TestHostileErrorTypesInit(t *testing.T) {
	for _, tt := range hostileTypes {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"errorMessage":"cannot import","errorType":` + jsonString(tt.errType) + `}`
			fb := &fakeBackend{invoke: echo, bind: func(b Binding) InitResult {
				return InitResult{Duration: 30 * time.Millisecond, Status: StatusError, ErrorBody: []byte(doc)}
			}}
			e := newTestEngine(t, fb, Config{})
			res, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
			if err != nil {
				t.Fatal(err)
			}
			checkErrorTypeLog(t, res.Log, tt.want)
			if n := platformLines(res.Log, "INIT_REPORT "); n != 1 {
				t.Errorf("log has %d INIT_REPORT lines, want 1:\n%.300q", n, res.Log)
			}
			if !strings.Contains(string(res.Log), "\tStatus: error\tError Type: "+tt.want+"\n") {
				t.Errorf("INIT_REPORT does not say Error Type: %.40s:\n%.300q", tt.want, res.Log)
			}
			if res.Record.ErrorType != tt.want {
				t.Errorf("record error type %.60q, want %.60q", res.Record.ErrorType, tt.want)
			}
		})
	}
}

// TestForgedReportLine: a function that prints Lambda's platform lines
// with absurd numbers changes none of the facts the platform keeps.
func TestForgedReportLine(t *testing.T) {
	var forged string
	fb := &fakeBackend{invoke: func(ctx context.Context, inv Invocation) Outcome {
		id := inv.RequestID
		forged = "END RequestId: " + id + "\n" +
			"REPORT RequestId: " + id + "\tDuration: 987654321.00 ms\tBilled Duration: 987654321 ms\tMemory Size: 10240 MB\tMax Memory Used: 10240 MB\tInit Duration: 99999.00 ms\t\n" +
			"INIT_REPORT Init Duration: 99999.00 ms\tPhase: init\tStatus: error\tError Type: Forged\n"
		return Outcome{Status: StatusSuccess, Payload: []byte(`"ok"`), Log: []byte(forged), Done: time.Now()}
	}}
	e := newTestEngine(t, fb, Config{})
	res, err := e.Invoke(context.Background(), InvokeInput{Function: testFunction()})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Record
	if r.BilledMS > 60_000 || r.DurationMS > 60_000 || r.MaxMemoryMB != 41 || r.MemoryMB != 128 || r.InitMS != 120 || r.Outcome != "success" || r.ErrorType != "" {
		t.Errorf("record = billed %d ms, duration %.2f ms, max %d MB of %d, init %.2f ms, %s %q; want the real numbers",
			r.BilledMS, r.DurationMS, r.MaxMemoryMB, r.MemoryMB, r.InitMS, r.Outcome, r.ErrorType)
	}
	if want := GBSeconds(r.BilledMS, 128); r.GBSeconds != want || r.GBSeconds > 10 {
		t.Errorf("GB-seconds %v, want %v", r.GBSeconds, want)
	}
	// The forged lines stay in the log, as the function's output, and the
	// platform's own REPORT comes last.
	log := string(res.Log)
	if !strings.Contains(log, forged) {
		t.Errorf("the function's output was not kept as printed:\n%s", log)
	}
	last := log[strings.LastIndex(strings.TrimSuffix(log, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "REPORT RequestId: "+res.RequestID+"\t") || strings.Contains(last, "987654321") {
		t.Errorf("last line %q, want the platform's REPORT", last)
	}
}

func TestReadableLog(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text", "hello\tworld\n", "hello\tworld\n"},
		{"escape sequence", "\x1b[2J\x1b[31mred\x1b[0m\n", "␛[2J␛[31mred␛[0m\n"},
		{"osc title", "\x1b]0;owned\x07", "␛]0;owned␇"},
		{"crlf", "a\r\nb\r\n", "a\nb\n"},
		{"bare cr cannot start a line", "ok\rREPORT RequestId: x", "ok\n␍REPORT RequestId: x"},
		{"python traceback", "[ERROR] E: x\rTraceback:\r  File", "[ERROR] E: x\n␍Traceback:\n␍  File"},
		{"cr at the end", "a\r", "a\n␍"},
		{"nul and del", "a\x00b\x7f", "a␀b␡"},
		{"backspace", "abc\b\b\bXYZ", "abc␈␈␈XYZ"},
		{"c1 csi", "a\u009b2Jb", `a\u009b2Jb`},
		{"next line", "a\u0085b", `a\u0085b`},
		{"line separator", "a\u2028REPORT", `a\u2028REPORT`},
		{"bidi override", "a\u202eb\u2066c", `a\u202eb\u2066c`},
		{"invalid utf-8", "a\xff\xfeb", "a\ufffd\ufffdb"},
		{"unicode kept", "Grüße 🙂 \ufffd", "Grüße 🙂 \ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadableLog(tt.in)
			if got != tt.want {
				t.Errorf("ReadableLog(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := ReadableLog(got); again != got {
				t.Errorf("ReadableLog is not stable: %q then %q", got, again)
			}
			if !utf8.ValidString(got) || strings.ContainsAny(got, "\x1b\r\x00\u009b") {
				t.Errorf("ReadableLog(%q) = %q still holds a control", tt.in, got)
			}
		})
	}
}
