package docker

import (
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// sinkRecorder collects what an instance's X-Ray sink receives.
type sinkRecorder struct {
	mu   sync.Mutex
	got  [][]byte
	more chan struct{}
}

func newSinkRecorder() *sinkRecorder { return &sinkRecorder{more: make(chan struct{}, 1)} }

func (s *sinkRecorder) sink(d []byte) {
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
}

// wait returns once n datagrams arrived, or fails after a while.
func (s *sinkRecorder) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([][]byte(nil), s.got...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("sink got %d datagrams, want %d", len(got), n)
		}
	}
}

func TestXRayRelay(t *testing.T) {
	b := newBackend(t)
	rec := newSinkRecorder()
	in := startBound(t, b, sandbox.InstanceSpec{XRay: rec.sink}, binding(t, 256))
	seg := `{"format":"json","version":1}` + "\n" + `{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"defdfd9912dc5a56","start_time":1461096053.37518,"end_time":1461096053.4042,"name":"t"}`
	out := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "udp", "datagrams": []string{seg, "second"}}))
	if out["sent"] != 2.0 {
		t.Fatalf("function sent %v datagrams, want 2", out["sent"])
	}
	got := rec.wait(t, 2)
	if string(got[0]) != seg || string(got[1]) != "second" {
		t.Errorf("sink got %q, want %q then %q", got, seg, "second")
	}
}

func TestXRayNoSink(t *testing.T) {
	b := newBackend(t)
	in := startBound(t, b, sandbox.InstanceSpec{}, binding(t, 256))
	// With nobody listening the function still sends and runs on.
	out := result(t, invoke(t, in, 10*time.Second, map[string]any{"op": "udp", "datagrams": []string{"a"}}))
	if out["sent"] != 1.0 {
		t.Errorf("sent %v, want 1", out["sent"])
	}
}
