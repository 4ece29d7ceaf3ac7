package instdir

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestXRayRelayBounds writes to the socket directly, as init does, so that
// nothing is lost on the way: what the sink misses was dropped here.
func TestXRayRelayBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), XRaySocketName)
	var (
		mu    sync.Mutex
		first []byte
	)
	var protected string
	r, err := ListenXRay(path, func(d []byte) {
		mu.Lock()
		if first == nil {
			first = d
		}
		mu.Unlock()
	}, func(p string) error { protected = p; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if protected != path {
		t.Errorf("protect called on %q, want %q", protected, path)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
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
		passed, dropped := r.Stats()
		if passed+dropped == flood+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay accounted for %d+%d datagrams, want %d", passed, dropped, flood+2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	if len(first) != MaxXRayDatagram {
		t.Errorf("first datagram through is %d bytes, want the %d-byte one (the larger one dropped)", len(first), MaxXRayDatagram)
	}
	mu.Unlock()
	passed, dropped := r.Stats()
	passed-- // the 64 KB one
	dropped--
	allowed := int64(XRayBurst + XRayRate*(elapsed+time.Since(t0)).Seconds() + 1)
	if passed < XRayBurst-1 || passed > allowed || dropped == 0 {
		t.Errorf("flood of %d in %v: passed %d, dropped %d; want at least the burst %d, at most %d, some dropped",
			flood, elapsed, passed, dropped, XRayBurst, allowed)
	}
}

// TestXRayRelayClose checks that nothing reaches the sink once Close has
// returned: the sink may belong to an account that is gone. The sink is
// slow, so Close comes while it is handling a datagram.
func TestXRayRelayClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), XRaySocketName)
	var mu sync.Mutex
	closed, late := false, 0
	entered := make(chan struct{}, 10)
	r, err := ListenXRay(path, func([]byte) {
		entered <- struct{}{}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		if closed {
			late++
		}
		mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 5; i++ {
		if _, err := c.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
	}
	<-entered
	r.Close()
	mu.Lock()
	closed = true
	mu.Unlock()
	time.Sleep(200 * time.Millisecond) // time for a sink Close did not wait for
	mu.Lock()
	defer mu.Unlock()
	if late != 0 {
		t.Errorf("sink finished %d datagrams after Close returned, want 0", late)
	}
}

func TestListenXRayProtectFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), XRaySocketName)
	refused := errors.New("chown refused")
	r, err := ListenXRay(path, func([]byte) {}, func(string) error { return refused })
	if !errors.Is(err, refused) || r != nil {
		t.Fatalf("ListenXRay with a failing protect = %v, %v; want nil, the protect error", r, err)
	}
	// The unprotected socket was closed: nobody reads what is sent to it.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		c.Close()
		t.Errorf("dial %s succeeded, want the socket closed", path)
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
