package sandbox

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tapLog collects what an InvokeInput.Output was handed.
type tapLog struct {
	mu sync.Mutex
	b  []byte
	n  int
}

func (l *tapLog) write(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	l.n++
}

// streamed makes a fake runtime that hands its output to inv.Output in
// pieces, as the Docker backend does, before it returns out.
func streamed(out Outcome) func(ctx context.Context, inv Invocation) Outcome {
	return func(ctx context.Context, inv Invocation) Outcome {
		if inv.Output != nil {
			inv.Output(nil)
			for i := 0; i < len(out.Log); i += 5 {
				inv.Output(append([]byte(nil), out.Log[i:min(i+5, len(out.Log))]...))
			}
		}
		return out
	}
}

// Whatever way an invocation ends, the tap sees exactly the log, in order,
// whether or not the backend streams.
func TestOutputTapIsTheLog(t *testing.T) {
	flood := Outcome{Status: StatusSuccess, Payload: []byte(`1`), Log: []byte("no newline at the end"), Truncated: 4096}
	tests := []struct {
		name   string
		fb     func() *fakeBackend
		xray   bool
		warmup bool // invoke once first, so the tapped one is warm
		want   []string
	}{
		{name: "streamed, truncated", fb: func() *fakeBackend { return &fakeBackend{invoke: streamed(flood)} },
			want: []string{"init says hi\nSTART", "no newline at the end\n[lambdalab] Output truncated", "END", "REPORT"}},
		{name: "not streamed", fb: func() *fakeBackend { return &fakeBackend{invoke: echo} },
			want: []string{"init says hi\nSTART", "handling\nEND", "REPORT"}},
		{name: "timeout", fb: func() *fakeBackend {
			return &fakeBackend{invoke: streamed(Outcome{Status: StatusTimeout, Log: []byte("still going\n")})}
		}, want: []string{"START", "still going\n", "Task timed out after 3.00 seconds", "END", "REPORT"}},
		{name: "exit", fb: func() *fakeBackend {
			return &fakeBackend{invoke: streamed(Outcome{Status: StatusExit, Exit: "exit status 2", Log: []byte("bye")})}
		}, want: []string{"START", "bye\nRequestId:", "Runtime exited with error: exit status 2", "END", "REPORT"}},
		{name: "init error", fb: func() *fakeBackend {
			return &fakeBackend{invoke: echo, bind: func(b Binding) InitResult {
				return InitResult{Duration: time.Millisecond, Status: StatusError, Log: []byte("Traceback"), ErrorBody: []byte(`{}`)}
			}}
		}, want: []string{"Traceback\nINIT_REPORT", "START", "END", "REPORT"}},
		{name: "xray", fb: func() *fakeBackend {
			return &fakeBackend{invoke: streamed(Outcome{Status: StatusSuccess, Log: []byte("hi\n")})}
		},
			xray: true, want: []string{"START", "hi\nEND", "REPORT", "XRAY TraceId: "}},
		{name: "warm instance gone, retried cold", warmup: true, fb: func() *fakeBackend {
			return &fakeBackend{invoke: streamed(Outcome{Status: StatusSuccess, Log: []byte("fresh\n")})}
		}, want: []string{"init says hi\nSTART", "fresh\nEND", "REPORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := tt.fb()
			e := newTestEngine(t, fb, Config{})
			in := InvokeInput{Function: testFunction()}
			if tt.warmup {
				if _, err := e.Invoke(context.Background(), in); err != nil {
					t.Fatal(err)
				}
				var gone atomic.Bool
				gone.Store(true)
				fb.goneOnce = &gone
			}
			if tt.xray {
				in.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
				in.XRaySegmentID = "6a9fd0b2d4c1e7f3"
			}
			var tap tapLog
			in.Output = tap.write
			res, err := e.Invoke(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tap.b, res.Log) {
				t.Fatalf("the tap saw\n%q\nthe log is\n%q", tap.b, res.Log)
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(string(res.Log[at:]), w)
				if i < 0 {
					t.Fatalf("log lacks %q after byte %d:\n%s", w, at, res.Log)
				}
				at += i + len(w)
			}
			if n := strings.Count(string(res.Log), "START RequestId"); n != 1 {
				t.Errorf("%d START lines:\n%s", n, res.Log)
			}
		})
	}
}
