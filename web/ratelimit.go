package web

import (
	"container/list"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// maxLimiterKeys bounds each limiter's table. Past it the key used least
// recently is forgotten, so an attacker who invents keys (addresses, e-mails)
// costs a bounded amount of memory: a key is at most a /64 and a 254-byte
// e-mail, so a full table is a few MB.
const maxLimiterKeys = 10000

// lru is a map with a bound: get and put are O(1), and putting a new key
// into a full table evicts the least recently used one. Callers hold the
// owning limiter's lock.
type lru[V any] struct {
	max   int
	items map[string]*list.Element
	order *list.List // of *lruEntry[V], most recently used first
}

type lruEntry[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, items: map[string]*list.Element{}, order: list.New()}
}

// get returns key's value, or nil, and marks it used.
func (t *lru[V]) get(key string) *V {
	el, ok := t.items[key]
	if !ok {
		return nil
	}
	t.order.MoveToFront(el)
	return &el.Value.(*lruEntry[V]).val
}

// put returns key's value, adding a zero one (and evicting the oldest key
// when full) if there is none.
func (t *lru[V]) put(key string) *V {
	if v := t.get(key); v != nil {
		return v
	}
	if t.order.Len() >= t.max {
		oldest := t.order.Back()
		t.order.Remove(oldest)
		delete(t.items, oldest.Value.(*lruEntry[V]).key)
	}
	e := &lruEntry[V]{key: key}
	t.items[key] = t.order.PushFront(e)
	return &e.val
}

func (t *lru[V]) delete(key string) {
	if el, ok := t.items[key]; ok {
		t.order.Remove(el)
		delete(t.items, key)
	}
}

func (t *lru[V]) len() int { return t.order.Len() }

// limiter allows at most max events per key in any sliding window, in
// memory. It guards sign-up attempts and the workspace's actions.
//
// take decides and records in one step under the lock, so however many
// requests arrive at once no more than max pass in a window; that is also
// why a key needs at most max stamps. (wait followed by add is two steps:
// two requests can both pass wait; use take where that matters.)
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	keys   *lru[[]time.Time] // each key's stamps in the window, oldest first
	now    func() time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, keys: newLRU[[]time.Time](maxLimiterKeys), now: time.Now}
}

// take records one event for key and returns zero, or returns how long
// until key may try again and records nothing.
func (l *limiter) take(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if d := l.waitLocked(key, now); d > 0 {
		return d
	}
	l.addLocked(key, now)
	return 0
}

func (l *limiter) waitLocked(key string, now time.Time) time.Duration {
	hs := l.recent(key, now)
	if len(hs) < l.max {
		return 0
	}
	return hs[len(hs)-l.max].Add(l.window).Sub(now)
}

func (l *limiter) addLocked(key string, now time.Time) {
	kept := l.recent(key, now) // may forget key, so before put
	hs := l.keys.put(key)
	*hs = append(kept, now)
	if len(*hs) > l.max {
		// Only an add without take gets here; the newest max stamps decide.
		*hs = append((*hs)[:0:0], (*hs)[len(*hs)-l.max:]...)
	}
}

// recent drops key's expired stamps and returns the rest; a key left with
// none is forgotten.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	p := l.keys.get(key)
	if p == nil {
		return nil
	}
	hs := *p
	i := 0
	for i < len(hs) && now.Sub(hs[i]) >= l.window {
		i++
	}
	if i == len(hs) {
		l.keys.delete(key)
		return nil
	}
	if i > 0 {
		hs = append(hs[:0:0], hs[i:]...)
		*p = hs
	}
	return hs
}

// backoffRule is how one kind of sign-in key is slowed: free failures pass
// at once, each further one must wait base, then twice that, and so on up
// to ceiling after the last failure. One failure is forgiven every forgive,
// so a key that stops failing returns to its free tries.
type backoffRule struct {
	free        int
	base        time.Duration
	ceiling     time.Duration
	forgive     time.Duration
	underAttack int // for accounts only: at this many failures, pairs lose all but one free try
}

// delay is how long after the last failure the next attempt must wait,
// given n failures and free free ones.
func (r backoffRule) delay(n, free int) time.Duration {
	if n < free {
		return 0
	}
	shift := n - free
	if shift >= 30 || r.base<<shift >= r.ceiling {
		return r.ceiling
	}
	return r.base << shift
}

// failures is a key's count. last is the latest failure (or reservation),
// from which the delay runs; since is when forgiveness was last applied.
type failures struct {
	n     int
	last  time.Time
	since time.Time
}

// signinLimiter slows password guessing without letting anyone lock an
// owner out. Failures are counted on three keys:
//
//   - the account and the client together: the attacker's own back-off,
//     which the owner at another address never shares;
//   - the client alone, across accounts: one address spraying a common
//     password over many accounts; generous, for a classroom behind one NAT;
//   - the account alone, across clients: it only decides whether the account
//     is under attack, and then each client gets one free try for it instead
//     of several, which slows guessing spread over many addresses while a
//     client with no failures for the account (the owner) still gets in.
//
// A failed e-mail that has no account is counted exactly like one that has,
// so the limits tell nothing about which e-mails are registered.
type signinLimiter struct {
	mu                       sync.Mutex
	pair, client, account    backoffRule
	pairs, clients, accounts *lru[failures]
	now                      func() time.Time
}

func newSigninLimiter(freePerPair int, ceiling time.Duration) *signinLimiter {
	return &signinLimiter{
		pair:     backoffRule{free: freePerPair, base: time.Second, ceiling: ceiling, forgive: 15 * time.Minute},
		client:   backoffRule{free: 30, base: time.Second, ceiling: ceiling, forgive: 2 * time.Minute},
		account:  backoffRule{forgive: 5 * time.Minute, underAttack: 20},
		pairs:    newLRU[failures](maxLimiterKeys),
		clients:  newLRU[failures](maxLimiterKeys),
		accounts: newLRU[failures](maxLimiterKeys),
		now:      time.Now,
	}
}

// signinTicket is one reserved attempt: counted as a failure until success
// gives it back.
type signinTicket struct {
	l               *signinLimiter
	account, client string
	at              time.Time
	prevLast        [2]time.Time // the client's and account's last before this reservation
}

// reserve decides, before the password is checked, whether this client may
// try this account now. If so the attempt is counted as a failure at once,
// so requests arriving together cannot all pass, and the ticket is returned;
// otherwise it returns how long to wait.
func (l *signinLimiter) reserve(account, client string) (*signinTicket, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	pairKey := account + "\x00" + client
	p, c, a := l.peek(l.pairs, l.pair, pairKey, now), l.peek(l.clients, l.client, client, now), l.peek(l.accounts, l.account, account, now)

	freePair := l.pair.free
	if a.n >= l.account.underAttack {
		freePair = min(freePair, 1)
	}
	wait := max(until(p, l.pair.delay(p.n, freePair), now), until(c, l.client.delay(c.n, l.client.free), now))
	if wait > 0 {
		return nil, wait
	}
	t := &signinTicket{l: l, account: account, client: client, at: now}
	for i, k := range []struct {
		t   *lru[failures]
		key string
	}{{l.pairs, pairKey}, {l.clients, client}, {l.accounts, account}} {
		f := k.t.put(k.key)
		if i > 0 {
			t.prevLast[i-1] = f.last
		}
		if f.n == 0 {
			f.since = now
		}
		f.n++
		f.last = now
	}
	return t, 0
}

// succeeded gives the reservation back: the pair is forgotten (the owner is
// back), and the client and account counts drop by the one reserved.
func (t *signinTicket) succeeded() {
	l := t.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs.delete(t.account + "\x00" + t.client)
	for i, k := range []struct {
		t   *lru[failures]
		key string
	}{{l.clients, t.client}, {l.accounts, t.account}} {
		f := k.t.get(k.key)
		if f == nil {
			continue
		}
		if f.n > 0 {
			f.n--
		}
		// Unless another attempt has reserved since, the delay runs from
		// the failure before ours again.
		if f.last.Equal(t.at) {
			f.last = t.prevLast[i]
		}
		if f.n == 0 {
			k.t.delete(k.key)
		}
	}
}

// peek returns key's failures after forgiveness, without adding the key.
func (l *signinLimiter) peek(t *lru[failures], r backoffRule, key string, now time.Time) failures {
	f := t.get(key)
	if f == nil {
		return failures{}
	}
	if r.forgive > 0 && f.n > 0 {
		if k := int(now.Sub(f.since) / r.forgive); k > 0 {
			f.n = max(0, f.n-k)
			f.since = f.since.Add(time.Duration(k) * r.forgive)
		}
	}
	if f.n == 0 {
		t.delete(key)
		return failures{}
	}
	return *f
}

func until(f failures, delay time.Duration, now time.Time) time.Duration {
	if delay == 0 {
		return 0
	}
	return max(0, f.last.Add(delay).Sub(now))
}

// clientKey names where a request came from for the limiters: the address
// for IPv4, the /64 for IPv6, since one host or home is normally given a
// whole /64 and could otherwise start afresh from each of its addresses.
func clientKey(r *http.Request) string {
	ip := clientIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		// Not an address (a test's or a Unix socket's RemoteAddr): bounded,
		// so an odd peer cannot make a large key.
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "peer:" + ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
