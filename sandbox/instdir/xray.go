package instdir

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The host side of the X-Ray relay. Inside the container, init forwards
// every UDP datagram sent to 127.0.0.1:2000 unchanged to the unixgram socket
// XRaySocketName in the instance's SockDir (sandbox/initproc.startXRayRelay);
// here one goroutine per instance reads that socket and hands each datagram
// to the instance's sink. The sink knows the instance's account: the socket
// is the identity, never the datagram.
const (
	// XRaySocketName is the relay's socket in the instance's SockDir; init
	// sends to this name.
	XRaySocketName = "xray.sock"
	// MaxXRayDatagram is the largest datagram passed on: the daemon's
	// receive buffer and X-Ray's segment-document limit, 64 KB
	// (reference/lambda-behaviour.md §14.1). Longer ones are dropped.
	MaxXRayDatagram = 64 << 10
	// XRayRate and XRayBurst bound what one instance may send: a token
	// bucket of XRayBurst datagrams refilled at XRayRate per second. The
	// SDKs send one datagram per closed subsegment, so a busy handler stays
	// far below; a flood is dropped (and counted) here, before parsing.
	XRayRate  = 2000
	XRayBurst = 2000
)

// XRayRelay reads one instance's xray.sock and passes what fits the bounds
// above to its sink.
type XRayRelay struct {
	conn    *net.UnixConn
	sink    func([]byte)
	bucket  tokenBucket
	dropped atomic.Int64 // over the size or the rate
	passed  atomic.Int64
	done    chan struct{}
}

// ListenXRay binds a unixgram socket at path and starts passing datagrams
// to sink, which must not be nil (a caller with no sink binds nothing: init
// then drops what the function sends, as UDP to a port nobody listens on
// would). protect, when not nil, is called on the bound socket before any
// datagram is read, to keep other host users from sending as this instance;
// if it fails the socket is closed and its error returned.
func ListenXRay(path string, sink func([]byte), protect func(path string) error) (*XRayRelay, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if protect != nil {
		if err := protect(path); err != nil {
			conn.Close()
			return nil, err
		}
	}
	r := &XRayRelay{conn: conn, sink: sink, done: make(chan struct{})}
	r.bucket.init(XRayRate, XRayBurst, time.Now())
	go r.serve()
	return r, nil
}

func (r *XRayRelay) serve() {
	defer close(r.done)
	// One byte over the limit tells an oversized datagram from one that
	// fits exactly: a unixgram read truncates silently.
	buf := make([]byte, MaxXRayDatagram+1)
	for {
		n, _, err := r.conn.ReadFromUnix(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n == 0 || n > MaxXRayDatagram || !r.bucket.take(time.Now()) {
			r.dropped.Add(1)
			continue
		}
		r.passed.Add(1)
		// The sink may keep the bytes; buf is reused.
		r.sink(append([]byte(nil), buf[:n]...))
	}
}

// Stats reports how many datagrams the relay passed to the sink and how
// many it dropped (empty, too large or over the rate).
func (r *XRayRelay) Stats() (passed, dropped int64) {
	return r.passed.Load(), r.dropped.Load()
}

// Close stops the relay and waits for its reader, so no datagram reaches
// the sink after the instance is gone.
func (r *XRayRelay) Close() {
	r.conn.Close()
	<-r.done
}

// tokenBucket allows rate events per second with bursts of up to burst.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) init(rate, burst int, now time.Time) {
	b.rate, b.burst, b.tokens, b.last = float64(rate), float64(burst), float64(burst), now
}

// take spends one token if there is one.
func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
