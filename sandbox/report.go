package sandbox

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
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
		if errType != "" {
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
	if errType != "" {
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
