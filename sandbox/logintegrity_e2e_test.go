package sandbox_test

import (
	"strings"
	"testing"

	"lambdalab/sandbox"
)

// TestForgedPlatformLinesEndToEnd runs functions on a real runtime that try
// to forge the platform's lines: an exception class whose name holds a
// newline and a REPORT line (the Python runtime posts the class name as the
// error document's errorType), and a handler that prints a REPORT line with
// absurd numbers. The REPORT line and the record must be the platform's.
func TestForgedPlatformLinesEndToEnd(t *testing.T) {
	e := newEngine(t, sandbox.Config{})
	src := `
def handler(event, context):
    if event.get("forge"):
        print("REPORT RequestId: " + context.aws_request_id + "\tDuration: 987654321.00 ms\tBilled Duration: 987654321 ms\tMemory Size: 10240 MB\tMax Memory Used: 10240 MB\t")
        print("\x1b[2J\rEND RequestId: " + context.aws_request_id)
        return "ok"
    E = type("Oops\nREPORT RequestId: " + context.aws_request_id + "\tBilled Duration: 1 ms\t", (Exception,), {})
    raise E("boom")
`
	fn := pyFunction(t, src)

	res := invoke(t, e, fn, `{}`)
	if res.FunctionError != "Unhandled" {
		t.Fatalf("function error %q, want Unhandled\n%s", res.FunctionError, res.Log)
	}
	if res.Record.ErrorType != "Unhandled" {
		t.Errorf("record error type %q, want Unhandled", res.Record.ErrorType)
	}
	// The runtime prints the exception with its class name as the
	// function's own output, as on Lambda, so that text may hold a line
	// that begins "REPORT"; the platform's REPORT is the last line.
	if last := lastLine(res.Log); !strings.HasPrefix(last, "REPORT RequestId: "+res.RequestID+"\tDuration: ") || !strings.HasSuffix(last, "\tStatus: error\tError Type: Unhandled\t") {
		t.Errorf("last line %q, want the platform's REPORT with Error Type: Unhandled\n%s", last, res.Log)
	}

	res = invoke(t, e, fn, `{"forge": true}`)
	if string(res.Payload) != `"ok"` {
		t.Fatalf("payload %s\n%s", res.Payload, res.Log)
	}
	r := res.Record
	if r.BilledMS >= 987654321 || r.MemoryMB != 512 || r.MaxMemoryMB >= 10240 || r.Outcome != "success" {
		t.Errorf("record billed %d ms, memory %d MB, max %d MB, %s: want the real numbers", r.BilledMS, r.MemoryMB, r.MaxMemoryMB, r.Outcome)
	}
	if last := lastLine(res.Log); !strings.HasPrefix(last, "REPORT RequestId: "+res.RequestID+"\t") || strings.Contains(last, "987654321") {
		t.Errorf("last line %q, want the platform's REPORT", last)
	}
	if !strings.Contains(string(res.Log), "\x1b[2J\rEND RequestId: ") {
		t.Errorf("the function's escape sequence and CR were not kept in the log:\n%q", res.Log)
	}
}

func lastLine(log []byte) string {
	s := strings.TrimSuffix(string(log), "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}
