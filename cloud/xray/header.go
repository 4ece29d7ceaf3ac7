package xray

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// TraceHeader is the content of X-Amzn-Trace-Id, which a function receives
// as Lambda-Runtime-Trace-Id and _X_AMZN_TRACE_ID
// (reference/lambda-behaviour.md §14.3).
type TraceHeader struct {
	Root   string // the trace id
	Parent string // the id of the entity the receiver hangs under
	// Sampled is "1", "0", "?" (the receiver decides) or "" when absent.
	Sampled string
}

// ParseTraceHeader reads a trace header. Keys other than Root, Parent and
// Sampled (Lineage, Self, …) are ignored, as are spaces around parts and a
// trailing ";". Values are taken as they are; check Root with Valid.
func ParseTraceHeader(s string) TraceHeader {
	var h TraceHeader
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Root":
			h.Root = strings.TrimSpace(v)
		case "Parent":
			h.Parent = strings.TrimSpace(v)
		case "Sampled":
			h.Sampled = strings.TrimSpace(v)
		}
	}
	return h
}

// Valid reports whether the header names a well-formed trace id.
func (h TraceHeader) Valid() bool { return validTraceID(h.Root) }

// NewTraceHeader writes the header a traced function receives:
// exactly "Root=<trace id>;Parent=<16 hex>;Sampled=1" (or Sampled=0),
// with nothing after it. The Python SDK 0.95 reuses the previous
// invocation's trace when the header ends in ";" and drops subsegments when
// any of the three keys is missing (reference/aws-clients.md, X-Ray).
func NewTraceHeader(root, parent string, sampled bool) string {
	s := "0"
	if sampled {
		s = "1"
	}
	return "Root=" + root + ";Parent=" + parent + ";Sampled=" + s
}

// NewTraceID makes a trace id for a request that started at t:
// "1-" + 8 hex digits of its epoch seconds + "-" + 24 random hex digits.
func NewTraceID(t time.Time) string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("1-%08x-%s", uint32(t.Unix()), hex.EncodeToString(b[:]))
}

// NewID makes an entity id: 16 random hex digits, never all zeros.
func NewID() string {
	var b [8]byte
	for {
		rand.Read(b[:])
		if binary.BigEndian.Uint64(b[:]) != 0 {
			return hex.EncodeToString(b[:])
		}
	}
}
