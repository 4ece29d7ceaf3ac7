package web

import (
	"sync"
	"time"

	"lambdalab/store"
)

// progressCache keeps each user's progress between requests: reading it
// costs several queries and every lesson page needs it, while it changes only
// through this server's own handlers (complete, quiz, visit), which call
// invalidate after writing. A version per user stops a read that raced a
// write from caching the old value. Entries also expire after ttl, which
// bounds staleness should anything else ever write progress.
type progressCache struct {
	mu       sync.Mutex
	ttl      time.Duration
	max      int
	entries  map[int64]progressEntry
	versions map[int64]uint64
}

type progressEntry struct {
	p       store.Progress
	version uint64
	at      time.Time
}

func newProgressCache(ttl time.Duration, max int) *progressCache {
	return &progressCache{ttl: ttl, max: max, entries: map[int64]progressEntry{}, versions: map[int64]uint64{}}
}

// get returns the cached progress and true, or the version to pass to put
// after reading the database.
func (c *progressCache) get(userID int64) (store.Progress, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.versions[userID]
	e, ok := c.entries[userID]
	if ok && e.version == v && time.Since(e.at) < c.ttl {
		return e.p, v, true
	}
	return store.Progress{}, v, false
}

// put caches p, read at version, unless a write has happened since.
func (c *progressCache) put(userID int64, version uint64, p store.Progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions[userID] != version {
		return
	}
	if len(c.entries) >= c.max {
		// Crude but bounded: a full cache starts over.
		clear(c.entries)
	}
	c.entries[userID] = progressEntry{p: p, version: version, at: time.Now()}
}

// invalidate drops the user's entry; call it after every progress write.
func (c *progressCache) invalidate(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.versions[userID]++
	delete(c.entries, userID)
}
