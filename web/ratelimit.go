package web

import (
	"sync"
	"time"
)

// limiter counts events per key in a sliding window, in memory. It guards
// sign-in (failures per client address and per email) and sign-up. Memory is
// bounded: expired keys are swept once the map grows past sweepAt.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	hits   map[string][]time.Time
	now    func() time.Time
}

const sweepAt = 10000

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, hits: map[string][]time.Time{}, now: time.Now}
}

// wait returns how long until key may try again; zero when it may now.
func (l *limiter) wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var longest time.Duration
	for _, k := range keys {
		hs := l.recent(k, now)
		if len(hs) >= l.max {
			if d := hs[len(hs)-l.max].Add(l.window).Sub(now); d > longest {
				longest = d
			}
		}
	}
	return longest
}

// add records one event for each key.
func (l *limiter) add(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.hits) > sweepAt {
		for k := range l.hits {
			if len(l.recent(k, now)) == 0 {
				delete(l.hits, k)
			}
		}
	}
	for _, k := range keys {
		hs := l.recent(k, now)
		if len(hs) >= l.max {
			hs = hs[1:] // keep at most max stamps per key
		}
		l.hits[k] = append(hs, now)
	}
}

// reset forgets key, after a success that proves the owner is back.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

// recent drops expired stamps of key and returns the rest. Callers hold mu.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	hs := l.hits[key]
	i := 0
	for i < len(hs) && now.Sub(hs[i]) >= l.window {
		i++
	}
	if i > 0 {
		hs = append(hs[:0:0], hs[i:]...)
		if len(hs) == 0 {
			delete(l.hits, key)
		} else {
			l.hits[key] = hs
		}
	}
	return hs
}
