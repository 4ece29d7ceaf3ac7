package xray

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDatagramShapes(t *testing.T) {
	tests := []struct {
		name  string
		d     string
		check func(t *testing.T, e *Entity)
	}{
		{"python innermost aws call", pythonDatagrams[0], func(t *testing.T, e *Entity) {
			if e.Type != "subsegment" || e.ParentID != "8b1c2d3e4f5a6b7c" || e.Namespace != "aws" || e.AWS["operation"] != "PutObject" {
				t.Errorf("got %+v", e)
			}
			if e.HTTP.Response.Status != 200 || e.HTTP.Response.ContentLength != 0 {
				t.Errorf("http response %+v", e.HTTP.Response)
			}
		}},
		{"python annotations and metadata", pythonDatagrams[1], func(t *testing.T, e *Entity) {
			if e.Annotations["bucket"] != "in" || e.Annotations["size"] != 42.0 || e.Annotations["ok"] != true {
				t.Errorf("annotations %v", e.Annotations)
			}
			if m, _ := e.Metadata["default"].(map[string]any); m["nested"] == nil {
				t.Errorf("metadata %v", e.Metadata)
			}
		}},
		{"python cause object", pythonDatagrams[2], func(t *testing.T, e *Entity) {
			if !e.Fault || e.Cause == nil || len(e.Cause.Exceptions) != 1 || e.Cause.Exceptions[0].Type != "ValueError" ||
				e.Cause.Exceptions[0].Stack[0].Line != 12 || e.Cause.WorkingDirectory != "/var/task" {
				t.Errorf("cause %+v", e.Cause)
			}
		}},
		{"go embedded children, Dummy, cause string", goDatagram, func(t *testing.T, e *Entity) {
			if len(e.Subsegments) != 2 || e.Subsegments[0].Cause.ExceptionID != "0123456789abcdef" ||
				!e.Subsegments[0].Error || e.Subsegments[0].HTTP.Response.ContentLength != 27 || !e.Subsegments[1].InProgress {
				t.Errorf("got %+v", e.Subsegments)
			}
		}},
		{"host segment, content_length string", hostSegment, func(t *testing.T, e *Entity) {
			if e.Type != "" || e.Origin != "AWS::EC2::Instance" || e.HTTP.Response.ContentLength != 12 || e.HTTP.Request.Method != "GET" ||
				len(e.Subsegments) != 1 || e.SQL != nil || e.Subsegments[0].SQL["url"] != "db:5432" {
				t.Errorf("got %+v", e)
			}
		}},
		{"header with spaces and upper case", `{"format": "JSON", "version": 1}` + "\n" + strings.TrimPrefix(hostSegment, header), nil},
		{"invalid annotation dropped, not the document", header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1,"end_time":2,"name":"n","annotations":{"ok_key":1,"bad-key":2,"nested":{"a":1}}}`, func(t *testing.T, e *Entity) {
			if len(e.Annotations) != 1 || e.Annotations["ok_key"] != 1.0 {
				t.Errorf("annotations %v, want only ok_key", e.Annotations)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseDatagram([]byte(tt.d))
			if err != nil {
				t.Fatalf("ParseDatagram(%.100q…): %v", tt.d, err)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestParseDatagramRefuses(t *testing.T) {
	ok := `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1461096053.37,"end_time":1461096053.40,"name":"n"`
	tests := []struct {
		name, d, want string
	}{
		{"no newline", ok + "}", "no header line"},
		{"version 2", `{"format":"json","version":2}` + "\n" + ok + "}", "header"},
		{"format xml", `{"format":"xml","version":1}` + "\n" + ok + "}", "header"},
		{"empty body", header, "empty document"},
		{"not json", header + "{oops", "invalid"},
		{"short id", header + strings.Replace(ok, "defdfd9912dc5a56", "defdfd99", 1) + "}", "id"},
		{"bad trace id", header + strings.Replace(ok, fxTrace, "1-xyz-abc", 1) + "}", "trace_id"},
		{"no trace id", header + `{"id":"defdfd9912dc5a56","start_time":1,"end_time":2,"name":"n"}`, "trace_id"},
		{"no end", header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1,"name":"n"}`, "end_time"},
		{"no start", header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","end_time":1,"name":"n"}`, "start_time"},
		{"no name", header + `{"trace_id":"` + fxTrace + `","id":"defdfd9912dc5a56","start_time":1,"end_time":2}`, "name"},
		{"long name", header + ok + `,"name":"` + strings.Repeat("n", 201) + `"}`, "name"},
		{"subsegment without parent", header + ok + `,"type":"subsegment"}`, "parent_id"},
		{"unknown type", header + ok + `,"type":"span"}`, "type"},
		{"bad embedded id", header + ok + `,"subsegments":[{"id":"x","name":"c","start_time":1,"end_time":2}]}`, "id"},
		{"null embedded", header + ok + `,"subsegments":[null]}`, "null"},
		{"too deep", header + ok + `,"subsegments":` + strings.Repeat(`[{"id":"defdfd9912dc5a57","name":"c","start_time":1,"end_time":2,"subsegments":`, 70) + "[]" + strings.Repeat("}]", 70) + "}", "deeper"},
		{"over 64 KB", header + ok + `,"metadata":{"default":{"x":"` + strings.Repeat("x", MaxDocument) + `"}}}`, "64 KB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDatagram([]byte(tt.d))
			if err == nil || !errors.Is(err, ErrInvalidDocument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseDatagram(%.120q…) = %v, want an ErrInvalidDocument mentioning %q", tt.d, err, tt.want)
			}
		})
	}
}

func TestSecondsRoundTrip(t *testing.T) {
	for _, f := range []float64{1461096053.37518, 1717000000.123456, 1717000000.5} {
		if got := epoch(seconds(f)); got != f {
			t.Errorf("epoch(seconds(%v)) = %v", f, got)
		}
	}
}
