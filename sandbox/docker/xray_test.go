package docker

import (
	"context"
	"net"
	"path/filepath"
	"strings"
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

// TestXRayRelayBounds writes to the host socket directly, as init does, so
// that nothing is lost on the way: what the sink misses was dropped here.
func TestXRayRelayBounds(t *testing.T) {
	b := newBackend(t)
	rec := newSinkRecorder()
	si, err := b.Start(context.Background(), sandbox.InstanceSpec{XRay: rec.sink})
	if err != nil {
		t.Fatal(err)
	}
	in := si.(*Instance)
	defer in.Close(context.Background())
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(in.dir, "sock", xraySocketName), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	big := strings.Repeat("x", MaxXRayDatagram+1)
	exact := strings.Repeat("y", MaxXRayDatagram)
	for _, d := range []string{big, exact} {
		if _, err := c.Write([]byte(d)); err != nil {
			t.Fatalf("write %d bytes: %v", len(d), err)
		}
	}
	got := rec.wait(t, 1)
	if len(got[0]) != MaxXRayDatagram {
		t.Errorf("first datagram through is %d bytes, want the %d-byte one (the larger one dropped)", len(got[0]), MaxXRayDatagram)
	}

	// A flood: the bucket lets its burst through, then its rate.
	const flood = 3 * XRayBurst
	t0 := time.Now()
	for i := 0; i < flood; i++ {
		if _, err := c.Write([]byte("z")); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(t0)
	// Wait until every datagram is accounted for.
	deadline := time.Now().Add(10 * time.Second)
	for {
		passed, dropped := in.XRayStats()
		if passed+dropped == flood+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay accounted for %d+%d datagrams, want %d", passed, dropped, flood+2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	passed, dropped := in.XRayStats()
	passed-- // the 64 KB one
	dropped--
	allowed := int64(XRayBurst + XRayRate*(elapsed+time.Since(t0)).Seconds() + 1)
	if passed < XRayBurst-1 || passed > allowed || dropped == 0 {
		t.Errorf("flood of %d in %v: passed %d, dropped %d; want at least the burst %d, at most %d, some dropped",
			flood, elapsed, passed, dropped, XRayBurst, allowed)
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

func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	t0 := time.Unix(1000, 0)
	b.init(10, 5, t0)
	n := 0
	for i := 0; i < 20; i++ {
		if b.take(t0) {
			n++
		}
	}
	if n != 5 {
		t.Errorf("burst: %d taken at once, want 5", n)
	}
	if !b.take(t0.Add(100*time.Millisecond)) || b.take(t0.Add(100*time.Millisecond)) {
		t.Errorf("after 100 ms at 10/s exactly one more token should be there")
	}
	n = 0
	for i := 0; i < 20; i++ {
		if b.take(t0.Add(time.Hour)) {
			n++
		}
	}
	if n != 5 {
		t.Errorf("after an hour: %d taken, want the burst 5 (tokens do not pile up)", n)
	}
}
