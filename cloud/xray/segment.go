package xray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDocument is the largest segment document X-Ray takes: 64 KB
// (reference/lambda-behaviour.md §14.1), which is also the daemon's receive
// buffer, so a datagram's header and document together fit in it.
const MaxDocument = 64 << 10

// maxDepth bounds how deeply subsegments may nest inside one document.
const maxDepth = 64

// ErrInvalidDocument is wrapped by every refusal of a datagram or document;
// the wrapping error says what is wrong, in words fit for a learner.
var ErrInvalidDocument = errors.New("invalid segment document")

// Entity is a segment or subsegment document (reference/lambda-behaviour.md
// §14.2). Fields lambdalab does not know are dropped; fields whose shape
// varies between SDKs are kept as JSON values (AWS, Metadata, SQL, Service).
type Entity struct {
	ID       string `json:"id"`
	TraceID  string `json:"trace_id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
	// Type is "subsegment" for a subsegment sent on its own, else empty.
	Type string `json:"type,omitempty"`
	Name string `json:"name"`
	// StartTime and EndTime are epoch seconds with a fraction. EndTime is
	// zero while InProgress.
	StartTime  float64 `json:"start_time"`
	EndTime    float64 `json:"end_time,omitempty"`
	InProgress bool    `json:"in_progress,omitempty"`

	Origin      string `json:"origin,omitempty"`
	Namespace   string `json:"namespace,omitempty"` // "aws", "remote", "local"
	User        string `json:"user,omitempty"`
	ResourceARN string `json:"resource_arn,omitempty"`

	Error    bool   `json:"error,omitempty"`    // a 4xx
	Throttle bool   `json:"throttle,omitempty"` // a 429
	Fault    bool   `json:"fault,omitempty"`    // a 5xx
	Cause    *Cause `json:"cause,omitempty"`

	HTTP    *HTTP          `json:"http,omitempty"`
	AWS     map[string]any `json:"aws,omitempty"`
	Service map[string]any `json:"service,omitempty"`
	SQL     map[string]any `json:"sql,omitempty"`
	// Annotations hold strings, numbers and booleans, indexed for filters.
	Annotations map[string]any `json:"annotations,omitempty"`
	// Metadata holds any JSON under a namespace key ("default").
	Metadata     map[string]any `json:"metadata,omitempty"`
	PrecursorIDs []string       `json:"precursor_ids,omitempty"`

	Subsegments []*Entity `json:"subsegments,omitempty"`
}

// Cause is why an entity failed: an exception id (a string in the
// document) or the exceptions themselves (an object).
type Cause struct {
	// ExceptionID is set when the document's cause is a string: the id of
	// an exception recorded in another entity.
	ExceptionID      string
	WorkingDirectory string
	Paths            []string
	Exceptions       []Exception
}

type causeObject struct {
	WorkingDirectory string      `json:"working_directory,omitempty"`
	Paths            []string    `json:"paths,omitempty"`
	Exceptions       []Exception `json:"exceptions,omitempty"`
}

// UnmarshalJSON takes the string and the object form.
func (c *Cause) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.ExceptionID)
	}
	var o causeObject
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	c.WorkingDirectory, c.Paths, c.Exceptions = o.WorkingDirectory, o.Paths, o.Exceptions
	return nil
}

// MarshalJSON writes the form the cause arrived in.
func (c Cause) MarshalJSON() ([]byte, error) {
	if c.ExceptionID != "" && len(c.Exceptions) == 0 {
		return json.Marshal(c.ExceptionID)
	}
	return json.Marshal(causeObject{c.WorkingDirectory, c.Paths, c.Exceptions})
}

// Exception is one recorded exception.
type Exception struct {
	ID        string       `json:"id,omitempty"`
	Message   string       `json:"message,omitempty"`
	Type      string       `json:"type,omitempty"`
	Remote    bool         `json:"remote,omitempty"`
	Truncated flexInt      `json:"truncated,omitempty"`
	Skipped   flexInt      `json:"skipped,omitempty"`
	Cause     string       `json:"cause,omitempty"`
	Stack     []StackFrame `json:"stack,omitempty"`
}

// StackFrame is one line of an exception's stack.
type StackFrame struct {
	Path  string  `json:"path,omitempty"`
	Line  flexInt `json:"line,omitempty"`
	Label string  `json:"label,omitempty"`
}

// HTTP is an entity's http object.
type HTTP struct {
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

type HTTPRequest struct {
	Method        string `json:"method,omitempty"`
	URL           string `json:"url,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	ClientIP      string `json:"client_ip,omitempty"`
	XForwardedFor bool   `json:"x_forwarded_for,omitempty"`
	Traced        bool   `json:"traced,omitempty"`
}

type HTTPResponse struct {
	Status flexInt `json:"status,omitempty"`
	// ContentLength arrives as a string from the Python SDK's requests
	// patch (it copies the header): both forms are read.
	ContentLength flexInt `json:"content_length,omitempty"`
}

// flexInt reads a JSON number or a string holding one; anything else is 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		*n = flexInt(f)
	} else {
		*n = 0
	}
	return nil
}

// ParseDatagram reads one daemon-protocol datagram: the header line
// {"format":"json","version":1} (any spacing, format in any case), a
// newline, and one segment document. It refuses what the daemon refuses.
func ParseDatagram(d []byte) (*Entity, error) {
	head, body, ok := bytes.Cut(d, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no header line (want {\"format\":\"json\",\"version\":1} and a newline first)", ErrInvalidDocument)
	}
	var h struct {
		Format  string `json:"format"`
		Version any    `json:"version"`
	}
	if err := json.Unmarshal(head, &h); err != nil || !strings.EqualFold(h.Format, "json") || h.Version != 1.0 {
		return nil, fmt.Errorf("%w: header %.80q is not {\"format\":\"json\",\"version\":1}", ErrInvalidDocument, head)
	}
	return ParseDocument(body)
}

// ParseDocument reads and checks one segment document: a segment (with any
// subsegments embedded) or a subsegment sent on its own.
func ParseDocument(doc []byte) (*Entity, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrInvalidDocument)
	}
	if len(doc) > MaxDocument {
		return nil, fmt.Errorf("%w: %d bytes is over the 64 KB limit", ErrInvalidDocument, len(doc))
	}
	// JSON is UTF-8 (RFC 8259 §8.1) and every SDK sends it so. encoding/json
	// would quietly turn stray bytes into U+FFFD; refusing them instead
	// tells the sender, and keeps the stored document the one it parsed.
	if !utf8.Valid(doc) {
		return nil, fmt.Errorf("%w: the document is not valid UTF-8 (at byte %d)", ErrInvalidDocument, invalidUTF8At(doc))
	}
	var e Entity
	if err := json.Unmarshal(doc, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDocument, err)
	}
	if !validTraceID(e.TraceID) {
		return nil, fmt.Errorf("%w: trace_id %.60q is not 1-<8 hex digits>-<24 hex digits>", ErrInvalidDocument, e.TraceID)
	}
	if e.Type != "" && e.Type != "subsegment" {
		return nil, fmt.Errorf("%w: type %.40q (only \"subsegment\" is known)", ErrInvalidDocument, e.Type)
	}
	if e.Type == "subsegment" && !validID(e.ParentID) {
		return nil, fmt.Errorf("%w: subsegment %s sent on its own needs parent_id (16 hex digits), got %.40q", ErrInvalidDocument, e.ID, e.ParentID)
	}
	if e.Type == "" && e.ParentID != "" && !validID(e.ParentID) {
		return nil, fmt.Errorf("%w: parent_id %.40q is not 16 hex digits", ErrInvalidDocument, e.ParentID)
	}
	if err := e.check(0); err != nil {
		return nil, err
	}
	return &e, nil
}

// check validates the fields every entity needs, recursively.
func (e *Entity) check(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: subsegments nested deeper than %d", ErrInvalidDocument, maxDepth)
	}
	if !validID(e.ID) {
		return fmt.Errorf("%w: id %.40q is not 16 hex digits", ErrInvalidDocument, e.ID)
	}
	if e.Name == "" || utf8.RuneCountInString(e.Name) > 200 {
		return fmt.Errorf("%w: entity %s: name must be 1 to 200 characters", ErrInvalidDocument, e.ID)
	}
	if err := e.checkText(); err != nil {
		return err
	}
	if !(e.StartTime > 0) || math.IsInf(e.StartTime, 0) {
		return fmt.Errorf("%w: entity %s: start_time must be epoch seconds", ErrInvalidDocument, e.ID)
	}
	if !e.InProgress && (!(e.EndTime > 0) || math.IsInf(e.EndTime, 0)) {
		return fmt.Errorf("%w: entity %s: needs end_time or \"in_progress\": true", ErrInvalidDocument, e.ID)
	}
	if e.InProgress {
		e.EndTime = 0
	}
	for k, v := range e.Annotations {
		switch v.(type) {
		case string, float64, bool:
			if validAnnotationKey(k) {
				continue
			}
		}
		// X-Ray indexes only flat values under simple keys; others are
		// dropped rather than refusing the whole document.
		delete(e.Annotations, k)
	}
	for _, s := range e.Subsegments {
		if s == nil {
			return fmt.Errorf("%w: entity %s: null subsegment", ErrInvalidDocument, e.ID)
		}
		if err := s.check(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses a NUL in the entity's name, origin or http request
// fields: they are what the store keeps as text, beside the document, and
// PostgreSQL's text holds no NUL; the store would leave such a document
// out of its batch without a word. (X-Ray's names allow no control
// character either: reference/lambda-behaviour.md §14.2.) Only NUL is
// looked for: a JSON string can spell it, \u0000, while invalid UTF-8 is
// refused in the whole document before it is decoded.
func (e *Entity) checkText() error {
	fields := [][2]string{{"name", e.Name}, {"origin", e.Origin}}
	if e.HTTP != nil && e.HTTP.Request != nil {
		r := e.HTTP.Request
		fields = append(fields, [2]string{"http.request.method", r.Method}, [2]string{"http.request.url", r.URL},
			[2]string{"http.request.user_agent", r.UserAgent}, [2]string{"http.request.client_ip", r.ClientIP})
	}
	for _, f := range fields {
		if strings.IndexByte(f[1], 0) >= 0 {
			return fmt.Errorf("%w: entity %s: %s contains a NUL character (\\u0000), which X-Ray does not keep", ErrInvalidDocument, e.ID, f[0])
		}
	}
	return nil
}

// invalidUTF8At is the offset of the first byte of b that does not begin
// a valid UTF-8 encoding.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func validAnnotationKey(k string) bool {
	if k == "" || len(k) > 500 {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// validID reports whether s is an entity id: 16 hex digits.
func validID(s string) bool { return len(s) == 16 && isHex(s) }

// validTraceID reports whether s is 1-<8 hex>-<24 hex>.
func validTraceID(s string) bool {
	return len(s) == 35 && s[:2] == "1-" && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
}

// seconds converts X-Ray's float epoch seconds to a time, to the
// microsecond the SDKs write.
func seconds(f float64) time.Time {
	if f <= 0 {
		return time.Time{}
	}
	sec := math.Floor(f)
	us := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(us)*1000).UTC()
}

// epoch converts a time to X-Ray's float epoch seconds.
func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix()) + float64(t.Nanosecond()/1000)/1e6
}

// walk calls f for e and every subsegment embedded in it.
func (e *Entity) walk(f func(*Entity)) {
	f(e)
	for _, s := range e.Subsegments {
		s.walk(f)
	}
}
