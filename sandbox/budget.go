package sandbox

import (
	"context"
	"fmt"
	"math"
	"sort"
	"syscall"
	"time"
)

// This file holds the machine's books: what every instance takes from the
// budgets (instances, memory, CPU, disk), what each account holds, and the
// queue of cold starts waiting for room. doc.go explains the policy.

// DiskReserveMB is how much free disk the data folder keeps beyond every
// instance's /tmp: the database, uploaded code and logs live there too, and
// SQLite fails badly on a full disk.
const DiskReserveMB = 1024

// FreeDiskMB is the space an unprivileged writer may still use on the file
// system holding dir, in MB.
func FreeDiskMB(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free disk of %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize) >> 20, nil
}

// Budgets are the machine-wide limits an engine admits instances under, as
// in force (defaults applied).
type Budgets struct {
	MaxInstances int
	// HostMemoryMB caps the memory limits of all instances together; zero
	// means no cap.
	HostMemoryMB int
	// HostCPUs caps their CPU quotas together, in vCPUs; zero means no cap.
	HostCPUs float64
	// DiskBudgetMB caps their /tmp sizes together; zero means no cap.
	DiskBudgetMB int
	// MaxProvisioned caps the provisioned concurrency of all accounts
	// together; zero means none may be configured.
	MaxProvisioned int
}

// Budgets reports the limits in force.
func (e *Engine) Budgets() Budgets {
	return Budgets{MaxInstances: e.cfg.MaxInstances, HostMemoryMB: e.cfg.HostMemoryMB, HostCPUs: e.cfg.HostCPUs,
		DiskBudgetMB: e.cfg.DiskBudgetMB, MaxProvisioned: e.cfg.MaxProvisioned}
}

// room is what one instance takes from the machine's budgets.
type room struct {
	memMB  int
	nano   int64 // CPU quota, in billionths of a vCPU
	diskMB int   // its /tmp
}

func (r room) plus(o room) room { return room{r.memMB + o.memMB, r.nano + o.nano, r.diskMB + o.diskMB} }
func (r room) minus(o room) room {
	return room{r.memMB - o.memMB, r.nano - o.nano, r.diskMB - o.diskMB}
}

// roomFor is what an instance of memMB with a /tmp of ephemeralMB takes. Its
// CPU is charged at most the whole CPU budget: a 10,240 MB function's 5.8
// vCPUs must still run alone on a smaller machine, as a quota above the
// cores only means "no limit".
func (e *Engine) roomFor(memMB, ephemeralMB int) room {
	nano := NanoCPUs(memMB)
	if b := e.cpuBudget(); b > 0 && nano > b {
		nano = b
	}
	return room{memMB: memMB, nano: nano, diskMB: ephemeralMB}
}

func (e *Engine) cpuBudget() int64 { return int64(e.cfg.HostCPUs * 1e9) }

// holding is what the instances an account holds take: busy, idle, or
// being started and bound for it.
type holding struct {
	instances int
	memMB     int
}

// waiter is one cold start waiting for room on a full machine.
type waiter struct {
	account string
	need    room
	seq     uint64        // arrival order, for ties
	ready   chan struct{} // closed when granted, or when the engine closes
	granted bool
	got     *instance // a prestarted instance handed over whole; nil: room was taken
}

// fitsLocked says whether alive instances taking used stay within budget.
func (e *Engine) fitsLocked(used room, alive int) bool {
	c := e.cfg
	return alive <= c.MaxInstances &&
		(c.HostMemoryMB == 0 || used.memMB <= c.HostMemoryMB) &&
		(e.cpuBudget() == 0 || used.nano <= e.cpuBudget()) &&
		(c.DiskBudgetMB == 0 || used.diskMB <= c.DiskBudgetMB)
}

func (e *Engine) hasRoomLocked(need room) bool {
	return e.fitsLocked(e.used.plus(need), e.alive+1)
}

// tooBig refuses at once an instance that would not fit an empty machine,
// rather than making it wait for room that can never come.
func (e *Engine) tooBig(need room) error {
	c := e.cfg
	switch {
	case c.HostMemoryMB > 0 && need.memMB > c.HostMemoryMB:
		return fmt.Errorf("%w (an instance of %d MB is more than the %d MB all instances on it may use together)", ErrCapacity, need.memMB, c.HostMemoryMB)
	case c.DiskBudgetMB > 0 && need.diskMB > c.DiskBudgetMB:
		return fmt.Errorf("%w (a /tmp of %d MB is more than the %d MB of disk all instances on it may use together)", ErrCapacity, need.diskMB, c.DiskBudgetMB)
	}
	return nil
}

// takeRoomLocked books need for a new instance of account ("" for a
// prestarted one, which belongs to nobody).
func (e *Engine) takeRoomLocked(account string, need room) {
	e.alive++
	e.used = e.used.plus(need)
	e.holdLocked(account, need.memMB, 1)
}

func (e *Engine) holdLocked(account string, memMB, n int) {
	if account == "" {
		return
	}
	h := e.holds[account]
	if h == nil {
		h = &holding{}
		e.holds[account] = h
	}
	h.instances += n
	h.memMB += memMB * n
	if h.instances <= 0 {
		delete(e.holds, account)
	}
}

// releaseLocked takes an instance off the books, once. A victim of eviction
// is released when it is chosen, so that its room goes to the waiter it
// was chosen for while the container is still being torn down.
func (e *Engine) releaseLocked(in *instance) {
	if in.released {
		return
	}
	in.released = true
	e.alive--
	e.used = e.used.minus(in.took)
	e.holdLocked(in.acct, in.took.memMB, -1)
}

// prestartedForLocked takes a prestarted instance with the right /tmp whose
// place on the books can grow to need, and hands it to account.
func (e *Engine) prestartedForLocked(account string, need room) *instance {
	for i, in := range e.prestarted {
		if in.took.diskMB != need.diskMB || !e.fitsLocked(e.used.minus(in.took).plus(need), e.alive) {
			continue
		}
		e.prestarted = append(e.prestarted[:i], e.prestarted[i+1:]...)
		e.used = e.used.minus(in.took).plus(need)
		in.took, in.acct = need, account
		e.holdLocked(account, need.memMB, 1)
		return in
	}
	return nil
}

// recentIdle is how long an idle instance still counts as its account's
// demand: a learner between two invokes, editing or reading the last
// result, will want it again. Accounts below their share may still evict
// it; an account that already has its share may not, so a burst does not
// strip its neighbours of their warm instances. Older idle instances are
// anyone's to evict. Bounded by Config.IdleTimeout.
const recentIdle = 30 * time.Second

// minResidency is how long an instance stays with the account it was bound
// for before fairness may move its room to an account that would then hold
// the same share (a lateral move: one instance from X to Y, both at one).
// Moves that make the shares more equal happen at once. Without it, on a
// machine shared by more accounts than it has instances, every warm
// instance went to the next waiting account at its first idle moment, so
// nearly every invoke was a cold start and the machine did little else
// (BenchmarkFairness: 208 invokes in a minute); with it, each account in
// turn runs warm for a while and the turns still rotate.
const minResidency = time.Second

// usage is what one account holds and asks for at one moment, and the
// max-min share of instances and of memory it is entitled to.
type usage struct {
	held, heldMB   int // busy, provisioned and recently idle instances
	want, wantMB   int // waiting cold starts
	share, shareMB float64
}

// usages are every account's usage at one moment.
type usages struct {
	of     map[string]*usage
	memory bool      // memory is budgeted, so it is shared too
	stale  time.Time // idle instances last used before it are not demand
}

// stale says whether an idle instance is room rather than its account's
// demand: evictable and unused for recentIdle.
func (us usages) staleIdle(in *instance) bool {
	return evictable(in) && in.lastUsed.Before(us.stale)
}

// evictable says whether an idle instance may be destroyed to make room:
// provisioned instances are what their account pays to keep.
func evictable(in *instance) bool { return !in.provisioned }

// usageLocked works out every account's usage and max-min shares.
func (e *Engine) usageLocked() usages {
	us := usages{of: map[string]*usage{}, memory: e.cfg.HostMemoryMB > 0,
		stale: e.cfg.Now().Add(-min(recentIdle, e.cfg.IdleTimeout))}
	u := us.of
	get := func(a string) *usage {
		x := u[a]
		if x == nil {
			x = &usage{}
			u[a] = x
		}
		return x
	}
	for a, h := range e.holds {
		x := get(a)
		x.held, x.heldMB = h.instances, h.memMB
	}
	for _, p := range e.pools {
		for _, in := range p.idle {
			if us.staleIdle(in) && in.acct != "" {
				x := get(in.acct)
				x.held--
				x.heldMB -= in.took.memMB
			}
		}
	}
	for _, w := range e.waiters {
		x := get(w.account)
		x.want++
		x.wantMB += w.need.memMB
	}
	waterFill(u, float64(e.cfg.MaxInstances), func(x *usage) float64 { return float64(x.held + x.want) },
		func(x *usage, s float64) { x.share = s })
	if us.memory {
		waterFill(u, float64(e.cfg.HostMemoryMB), func(x *usage) float64 { return float64(x.heldMB + x.wantMB) },
			func(x *usage, s float64) { x.shareMB = s })
	}
	return us
}

// waterFill shares capacity max-min fairly: every account gets its demand
// or the common level, whichever is less, the level chosen so that the
// shares add up to capacity (or to all demand, if less).
func waterFill(u map[string]*usage, capacity float64, demand func(*usage) float64, set func(*usage, float64)) {
	xs := make([]*usage, 0, len(u))
	for _, x := range u {
		xs = append(xs, x)
	}
	sort.Slice(xs, func(i, j int) bool { return demand(xs[i]) < demand(xs[j]) })
	left := capacity
	for i, x := range xs {
		level := left / float64(len(xs)-i)
		s := min(max(demand(x), 0), level)
		set(x, s)
		left -= s
	}
}

// lateral says whether moving one instance from account from to account to
// would only swap their holdings (from holds at most one more than to): a
// move that makes no one better off than before, only churns instances.
func (us usages) lateral(from, to string) bool {
	held := func(a string) int {
		if x := us.of[a]; x != nil {
			return x.held
		}
		return 0
	}
	return held(from) <= held(to)+1
}

// ratio is how much of its share an account holds, with n more instances
// of memMB: below 1 it is owed room, at 1 or more it has its share. The
// larger of the instance and memory ratios counts, so neither can be
// hogged.
func (us usages) ratio(account string, n, memMB int) float64 {
	x := us.of[account]
	if x == nil {
		x = &usage{}
	}
	r := part(float64(x.held+n), x.share)
	if us.memory {
		r = max(r, part(float64(x.heldMB+memMB), x.shareMB))
	}
	return r
}

func part(used, share float64) float64 {
	switch {
	case used <= 0:
		return 0
	case share <= 0:
		return math.Inf(1)
	}
	return used / share
}

// neediestLocked is the waiter whose account is furthest below its share;
// among equals, the one whose account was granted room longest ago, then
// the earliest. Going by the account's last grant rather than by the
// waiter's place in line matters when many accounts wait with nothing: a
// cold start that gave up after CapacityWait and asks again would
// otherwise go to the back, and whoever happened to be first would keep
// winning the turns.
func (e *Engine) neediestLocked(us usages) *waiter {
	var best *waiter
	var bestR float64
	for _, w := range e.waiters {
		r := us.ratio(w.account, 0, 0)
		switch {
		case best == nil || r < bestR:
		case r > bestR:
			continue
		case e.lastGrant[w.account].Before(e.lastGrant[best.account]):
		case e.lastGrant[w.account].After(e.lastGrant[best.account]) || w.seq > best.seq:
			continue
		}
		best, bestR = w, r
	}
	return best
}

// outrankedLocked says whether w's account already has its share while
// another account's cold start, below its share, waits: w is then refused
// at once instead of queueing for room it would not get.
func (e *Engine) outrankedLocked(us usages, w *waiter) bool {
	if us.ratio(w.account, 0, 0) < 1 {
		return false
	}
	for _, o := range e.waiters {
		if o.account != w.account && us.ratio(o.account, 0, 0) < 1 {
			return true
		}
	}
	return false
}

// couldFitLocked says whether need would fit once every evictable instance
// were gone: if not, evicting any is pointless.
func (e *Engine) couldFitLocked(need room) bool {
	used, alive := e.used, e.alive
	for _, in := range e.prestarted {
		used, alive = used.minus(in.took), alive-1
	}
	for _, p := range e.pools {
		for _, in := range p.idle {
			if evictable(in) {
				used, alive = used.minus(in.took), alive-1
			}
		}
	}
	return e.fitsLocked(used.plus(need), alive+1)
}

// victimLocked picks the instance to evict for w: a prestarted one first
// (it belongs to nobody), then the least recently used idle instance that
// is nobody's demand (unused for recentIdle), then one of an account above
// its share, then any other it may take. An idle instance that is still
// its account's demand may be taken for w's own account, or when its
// account holds at least as much of its share as w's would with it: room
// moves from the richer to the poorer, never back. It takes the victim off
// the lists; the caller releases and destroys it.
func (e *Engine) victimLocked(us usages, w *waiter) *instance {
	if n := len(e.prestarted); n > 0 {
		v := e.prestarted[n-1]
		e.prestarted = e.prestarted[:n-1]
		return v
	}
	after := us.ratio(w.account, 1, w.need.memMB)
	now := e.cfg.Now()
	var victim *instance
	var victimPool *pool
	victimTier := 0
	for _, p := range e.pools {
		for _, in := range p.idle {
			if !evictable(in) {
				continue
			}
			tier := 0
			switch r := us.ratio(in.acct, 0, 0); {
			case us.staleIdle(in):
				tier = 3
			case in.acct != w.account && r < after*(1-1e-9):
				continue
			case in.acct != w.account && us.lateral(in.acct, w.account) && now.Sub(in.since) < minResidency:
				// A lateral move only churns: wait for its turn to end.
				e.redispatchAtLocked(in.since.Add(minResidency))
				continue
			case r > 1:
				tier = 2
			default:
				tier = 1
			}
			if victim == nil || tier > victimTier || tier == victimTier && in.lastUsed.Before(victim.lastUsed) {
				victim, victimPool, victimTier = in, p, tier
			}
		}
	}
	if victim != nil {
		victimPool.remove(victim)
	}
	return victim
}

// dispatchLocked hands room to waiting cold starts, neediest first,
// evicting idle instances for them where that helps. It returns the
// evicted instances, already off the books, for the caller to destroy once
// it has unlocked. The neediest waiter is served strictly first: a later,
// smaller one does not slip past it into room it is waiting to fill.
func (e *Engine) dispatchLocked() (victims []*instance) {
	for len(e.waiters) > 0 && !e.closed {
		u := e.usageLocked()
		w := e.neediestLocked(u)
		if in := e.prestartedForLocked(w.account, w.need); in != nil {
			e.grantLocked(w, in)
			continue
		}
		if e.hasRoomLocked(w.need) {
			e.takeRoomLocked(w.account, w.need)
			e.grantLocked(w, nil)
			continue
		}
		if !e.couldFitLocked(w.need) {
			return victims
		}
		v := e.victimLocked(u, w)
		if v == nil {
			return victims
		}
		e.releaseLocked(v)
		victims = append(victims, v)
	}
	return victims
}

func (e *Engine) grantLocked(w *waiter, in *instance) {
	e.removeWaiterLocked(w)
	e.lastGrant[w.account] = e.cfg.Now()
	w.granted, w.got = true, in
	close(w.ready)
}

func (e *Engine) removeWaiterLocked(w *waiter) {
	for i, x := range e.waiters {
		if x == w {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			return
		}
	}
}

// provisionedAllowedLocked checks a provisioned concurrency of n for fn
// (pool key) against the function's reservation, the account's unreserved
// floor (reference/lambda-behaviour.md §8.1: provisioned concurrency
// counts against both, and Lambda refuses with these messages) and the
// machine's provisioned budget, which has no Lambda equivalent and is
// refused as the machine being busy.
func (e *Engine) provisionedAllowedLocked(fn Function, key string, n int) error {
	a := e.account(fn.AccountID)
	sameFn, unreserved, machine := 0, 0, 0
	for k, p := range e.pools {
		if k == key || p.provisioned == 0 {
			continue
		}
		machine += p.provisioned
		if p.fn.AccountID != fn.AccountID {
			continue
		}
		if p.fn.Name == fn.Name {
			sameFn += p.provisioned
		}
		if _, ok := a.reserved[p.fn.Name]; !ok {
			unreserved += p.provisioned
		}
	}
	if r, ok := a.reserved[fn.Name]; ok {
		if sameFn+n > r {
			return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(
				"Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function (%d).", r)}
		}
	} else if sumReserved(a)+unreserved+n > e.cfg.AccountConcurrency-e.cfg.UnreservedFloor {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(
			"Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", e.cfg.UnreservedFloor)}
	}
	if n > 0 && machine+n > e.cfg.MaxProvisioned {
		return fmt.Errorf("%w (provisioned concurrency on this machine is limited to %d instances for all learners together and %d are configured; ask for %d or fewer)",
			ErrCapacity, e.cfg.MaxProvisioned, machine, max(0, e.cfg.MaxProvisioned-machine))
	}
	return nil
}

// redispatchAtLocked makes sure dispatch runs again at t, when an instance
// that was kept for its residency may move: nothing else may happen then
// (no invoke ending, no instance dying) to wake the waiters.
func (e *Engine) redispatchAtLocked(t time.Time) {
	if e.redispatch != nil && !e.redispatchAt.After(t) {
		return
	}
	if e.redispatch != nil {
		e.redispatch.Stop()
	}
	e.redispatchAt = t
	e.redispatch = time.AfterFunc(max(t.Sub(e.cfg.Now()), time.Millisecond), func() {
		e.mu.Lock()
		e.redispatch = nil
		victims := e.dispatchLocked()
		e.mu.Unlock()
		e.destroyAll(context.Background(), victims)
	})
}
