package xray

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// Documents with text the store cannot keep as text (PostgreSQL holds no
// NUL, nor invalid UTF-8) are refused where they arrive, with a reason,
// instead of being left out of the store's batch unseen.

// nulDoc is a document whose field (a JSON fragment) holds a NUL, spelled
// as JSON spells it.
func nulDoc(trace, fragment string) string {
	return `{"trace_id":"` + trace + `","id":"defdfd9912dc5a56","start_time":1717000000,"end_time":1717000001,` + fragment + `}`
}

func TestParseDocumentRefusesText(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"NUL in name", nulDoc(fxTrace, `"name":"a\u0000b"`), "name contains a NUL"},
		{"NUL in origin", nulDoc(fxTrace, `"name":"n","origin":"AWS::\u0000"`), "origin contains a NUL"},
		{"NUL in http method", nulDoc(fxTrace, `"name":"n","http":{"request":{"method":"G\u0000T"}}`), "http.request.method contains a NUL"},
		{"NUL in http url", nulDoc(fxTrace, `"name":"n","http":{"request":{"url":"https://x/\u0000"}}`), "http.request.url contains a NUL"},
		{"NUL in user agent", nulDoc(fxTrace, `"name":"n","http":{"request":{"user_agent":"\u0000"}}`), "http.request.user_agent contains a NUL"},
		{"NUL in an embedded name", nulDoc(fxTrace, `"name":"n","subsegments":[{"id":"defdfd9912dc5a57","name":"\u0000","start_time":1717000000,"end_time":1717000001}]`), "entity defdfd9912dc5a57: name contains a NUL"},
		{"invalid UTF-8 in name", nulDoc(fxTrace, `"name":"b`+"\xff"+`"`), "not valid UTF-8 (at byte"},
		{"invalid UTF-8 in metadata", nulDoc(fxTrace, `"name":"n","metadata":{"default":{"k":"`+"\xc3("+`"}}`), "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDocument([]byte(tt.doc))
			if !errors.Is(err, ErrInvalidDocument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseDocument(%q) = %v, want an ErrInvalidDocument mentioning %q", tt.doc, err, tt.want)
			}
			if _, err := ParseDatagram([]byte(header + tt.doc)); !errors.Is(err, ErrInvalidDocument) {
				t.Errorf("ParseDatagram of it = %v, want ErrInvalidDocument", err)
			}
		})
	}

	// Fields kept only in the document (any JSON) may hold a NUL.
	ok := nulDoc(fxTrace, `"name":"n","user":"\u0000","metadata":{"default":{"k":"\u0000"}},"annotations":{"a":"\u0000"}`)
	if _, err := ParseDocument([]byte(ok)); err != nil {
		t.Errorf("ParseDocument(%q) = %v, want it taken", ok, err)
	}
}

// TestPutTraceSegmentsRefusesText: a document the store could not keep is
// in UnprocessedTraceSegments with its id, code and reason, and the rest of
// the request is stored.
func TestPutTraceSegmentsRefusesText(t *testing.T) {
	s, db := newService(t, Config{})
	acct := newAccount(t, db)
	const (
		badName = "1-66581a80-000000000000000000000001"
		badURL  = "1-66581a80-000000000000000000000002"
		good    = "1-66581a80-000000000000000000000003"
	)
	docs := []string{
		nulDoc(badName, `"name":"a\u0000b"`),
		nulDoc(badURL, `"name":"n","http":{"request":{"method":"GET","url":"https://x/\u0000"}}`),
		nulDoc(good, `"name":"fine"`),
	}
	code, out := call(t, s.Handler(), acct, "/TraceSegments", map[string]any{"TraceSegmentDocuments": docs})
	un, _ := out["UnprocessedTraceSegments"].([]any)
	if code != 200 || len(un) != 2 {
		t.Fatalf("PutTraceSegments = %d %v, want two unprocessed", code, out)
	}
	for i, field := range []string{"name", "http.request.url"} {
		u := un[i].(map[string]any)
		msg, _ := u["Message"].(string)
		if u["Id"] != "defdfd9912dc5a56" || u["ErrorCode"] != "InvalidSegment" || !strings.Contains(msg, field+" contains a NUL") {
			t.Errorf("unprocessed %d = %v, want InvalidSegment naming %s", i, u, field)
		}
	}
	flush(t, s)
	sums, err := s.Traces(context.Background(), acct, always, farFuture(), "")
	if err != nil || len(sums) != 1 || sums[0].ID != good {
		t.Errorf("traces stored = %v, %v; want only %s", sums, err, good)
	}
	if st := s.Stats(); st.Refused != 2 || st.Stored != 1 {
		t.Errorf("stats %+v, want 2 refused and 1 stored", st)
	}
}

// logBuffer is a debug-level logger whose lines a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestDaemonRefusesText: on the daemon paths, an instance's socket and the
// host's UDP port, such a document is dropped, counted and logged, and the
// datagrams around it are stored.
func TestDaemonRefusesText(t *testing.T) {
	var logs logBuffer
	s, db := newService(t, Config{Logger: logs.logger()})
	acct := newAccount(t, db)
	const (
		nul     = "1-66581a80-000000000000000000000011"
		invalid = "1-66581a80-000000000000000000000012"
		good    = "1-66581a80-000000000000000000000013"
	)
	caller := sandbox.Caller{AccountID: acct, Function: "f", InstanceID: "i-1"}
	s.InstanceSink(caller, []byte(header+nulDoc(nul, `"name":"a\u0000b"`)))
	s.InstanceSink(caller, []byte(header+nulDoc(invalid, `"name":"b`+"\xff"+`"`)))
	s.InstanceSink(caller, []byte(header+nulDoc(good, `"name":"fine"`)))
	flush(t, s)
	sums, err := s.Traces(context.Background(), acct, always, farFuture(), "")
	if err != nil || len(sums) != 1 || sums[0].ID != good {
		t.Errorf("instance datagrams stored = %v, %v; want only %s", sums, err, good)
	}
	if st := s.Stats(); st.Refused != 2 || st.Stored != 1 {
		t.Errorf("stats %+v, want 2 refused and 1 stored", st)
	}
	got := logs.String()
	for _, want := range []string{"name contains a NUL", "not valid UTF-8"} {
		if !strings.Contains(got, `msg="x-ray datagram refused"`) || !strings.Contains(got, want) || !strings.Contains(got, "function=f") {
			t.Errorf("log lacks a refusal line mentioning %q:\n%s", want, got)
		}
	}

	// The host's UDP port: the document names its account.
	c := hostUDP(t, s)
	const hostNul, hostGood = "1-66581a80-000000000000000000000021", "1-66581a80-000000000000000000000022"
	aws := `"aws":{"account_id":"` + acct + `"},`
	c.Write([]byte(header + nulDoc(hostNul, aws+`"name":"n","origin":"AWS::EC2::\u0000"`)))
	c.Write([]byte(header + nulDoc(hostGood, aws+`"name":"n"`)))
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Received < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	flush(t, s)
	sums, err = s.Traces(context.Background(), acct, always, farFuture(), "")
	if err != nil || len(sums) != 2 || sums[0].ID != hostGood && sums[1].ID != hostGood {
		t.Errorf("traces after the host datagrams = %v, %v; want %s and %s", sums, err, good, hostGood)
	}
	if st := s.Stats(); st.Refused != 3 || st.Stored != 2 {
		t.Errorf("stats %+v, want 3 refused and 2 stored", st)
	}
	if got := logs.String(); !strings.Contains(got, `msg="x-ray host datagram refused"`) || !strings.Contains(got, "origin contains a NUL") {
		t.Errorf("log lacks the host refusal:\n%s", got)
	}
}
