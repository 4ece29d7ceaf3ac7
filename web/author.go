package web

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// broadcaster wakes every open author-mode event stream when the course
// changes. A slow tab misses nothing that matters: one pending wake-up is as
// good as many, since each just means "reload".
type broadcaster struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	done   chan struct{}
	closed bool
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: map[chan struct{}]struct{}{}, done: make(chan struct{})}
}

func (b *broadcaster) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) broadcast() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

// authorEvents streams server-sent events to author-mode tabs: a "reload"
// event each time the course folder is loaded again (or fails to load).
func (s *Server) authorEvents(w http.ResponseWriter, r *http.Request) {
	changed, unsubscribe := s.events.subscribe()
	defer unsubscribe()
	rc, ok := startEventStream(w, time.Second, "connected")
	if !ok {
		return
	}
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.events.done:
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-changed:
			fmt.Fprint(w, "event: reload\ndata: course changed\n\n")
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
