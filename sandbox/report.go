package sandbox

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"lambdalab/facts"
)

// The platform lines Lambda writes around a function's own output
// (reference/lambda-behaviour.md §4.1). They are produced here, on the host,
// never by the runtime, so a function cannot forge them: whatever it prints
// stays in its own part of the log.

func startLine(reqID, version string) string {
	return fmt.Sprintf("START RequestId: %s Version: %s\n", reqID, version)
}

func endLine(reqID string) string {
	return fmt.Sprintf("END RequestId: %s\n", reqID)
}

// maxErrorType is the longest error type kept, in bytes.
const maxErrorType = facts.MaxErrorTypeBytes

// errorTypeName makes an error type safe to print (facts.ErrorTypeName).
var errorTypeName = facts.ErrorTypeName

// reportLine is the REPORT line in the current text format: tab-separated
// fields with a trailing tab, Init Duration only on a cold start, and Status
// (with Error Type) only when the invocation failed.
func reportLine(reqID string, d time.Duration, billed int64, memMB, maxMB int, init time.Duration, cold bool, status Status, errType string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		reqID, ms(d), billed, memMB, maxMB)
	if cold {
		fmt.Fprintf(&b, "Init Duration: %.2f ms\t", ms(init))
	}
	switch status {
	case StatusSuccess:
	case StatusTimeout:
		b.WriteString("Status: timeout\t")
	default:
		b.WriteString("Status: error\t")
		if errType = errorTypeName(errType); errType != "" {
			fmt.Fprintf(&b, "Error Type: %s\t", errType)
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// xrayLine follows REPORT in the same log event when the invocation was
// traced and sampled (reference/lambda-behaviour.md §4.1).
func xrayLine(traceHeader, segmentID string) string {
	root := ""
	for _, part := range strings.Split(traceHeader, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "Root" {
			root = v
		}
	}
	return fmt.Sprintf("XRAY TraceId: %s\tSegmentId: %s\tSampled: true\n", root, segmentID)
}

// initReportLine is written when an environment's init fails.
func initReportLine(init time.Duration, status Status, errType string) string {
	s := fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\t", ms(init))
	if status == StatusTimeout {
		return s + "Status: timeout\n"
	}
	if errType = errorTypeName(errType); errType != "" {
		return s + fmt.Sprintf("Status: error\tError Type: %s\n", errType)
	}
	return s + "Status: error\n"
}

// timeoutLine is the log line Lambda writes when the timer fires.
func timeoutLine(at time.Time, reqID string, timeout time.Duration) string {
	return fmt.Sprintf("%s %s Task timed out after %.2f seconds\n", at.UTC().Format("2006-01-02T15:04:05.000Z"), reqID, timeout.Seconds())
}

// truncationLine marks output that was cut at the per-invocation cap.
func truncationLine(limit int, dropped int64) string {
	return fmt.Sprintf("[lambdalab] Output truncated after %d KiB (%d bytes discarded)\n", limit/1024, dropped)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// LogTail is what Invoke's X-Amz-Log-Result header carries: the base64 of the
// last 4 KB of the invocation's log.
func LogTail(log []byte) string {
	const tail = 4096
	if len(log) > tail {
		log = log[len(log)-tail:]
	}
	return base64.StdEncoding.EncodeToString(log)
}

// ReadableLog returns log text made safe to show a person: in a page, a
// terminal, a grading report. The stored log keeps the function's bytes as
// they were; this is only for the eye. A function's output must not be able
// to move the cursor, recolour or clear a terminal, retitle a window, or
// rewrite a line so that it reads as one of the platform's, so:
//
//   - ESC, the other C0 controls and DEL become their Unicode control
//     pictures (ESC is ␛, NUL is ␀); tab and newline stay.
//   - CR LF is a line end and becomes LF. A bare CR, which a terminal
//     would use to overwrite the line, becomes a line break with ␍ at the
//     start of what follows. The runtimes themselves join a multi-line
//     record (a Python traceback) with bare CRs (reference/lambda-
//     behaviour.md §2.3), so this keeps those readable while nothing
//     printed after a CR can start a line.
//   - C1 controls (a terminal may take U+009B as CSI), the line and
//     paragraph separators and the bidirectional overrides, which reorder
//     what is shown, become \u escapes; bytes that are not UTF-8 become
//     U+FFFD.
//
// ReadableLog of its own result is the same text.
func ReadableLog(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r != '\t' && r != '\n' && unreadable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// CR LF: the LF is written next.
		case r == '\r':
			b.WriteString("\n␍")
		case r == '\t' || r == '\n':
			b.WriteRune(r)
		case r == utf8.RuneError && n <= 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune('␡')
		case unreadable(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unreadable is a rune ReadableLog does not show as it is.
func unreadable(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029', r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}
