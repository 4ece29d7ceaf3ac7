package sandbox_test

import (
	"sync/atomic"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// TestFairnessShort is the fairness load in small, for `make test`: a
// 4-instance machine, three well-behaved accounts calling a 10 ms handler
// with a learner's pause between calls, and then a hog whose 10 callers
// (its whole concurrency) burst into 60 s sleeps that its 8 s timeout cuts
// short. It checks the structural outcome only, never a duration: while the
// hog's burst holds, every well-behaved account is still served (three
// invokes or more that started after the burst had two seconds to land),
// and nothing failed but honest capacity refusals and the hog's own
// timeouts and throttles. First come, first served fails it: the hog's
// cold starts evict the neighbours' idle instances and then hold every
// slot until they time out.
func TestFairnessShort(t *testing.T) {
	const (
		hogTimeout = 8 * time.Second
		settle     = 2 * time.Second
		want       = 3
	)
	e := newEngine(t, sandbox.Config{MaxInstances: 4, AccountConcurrency: 10})
	var fast []loadAccount
	for i := range 3 {
		fn := loadFunction(t, 50+i, "fast", fastPython)
		fast = append(fast, loadAccount{label: fn.Name, kind: "fast", fn: fn, callers: 1, think: 50 * time.Millisecond})
	}
	hogFn := loadFunction(t, 59, "hog", hogPython)
	hogFn.Timeout = hogTimeout
	hog := []loadAccount{{label: hogFn.Name, kind: "hog", fn: hogFn, callers: 10}}

	var stop atomic.Bool
	over := func() bool { return stop.Load() }
	payload := func(a loadAccount) string {
		if a.kind == "hog" {
			return `{"left": 60}`
		}
		return `{}`
	}
	fastStats, hogStats := newStats(len(fast)), newStats(len(hog))
	fastDone, hogDone := make(chan struct{}), make(chan struct{})
	go func() {
		runLoad(e, fast, fastStats, over, payload)
		close(fastDone)
	}()

	// Every well-behaved account warms up before the hog arrives, so that
	// what the hog takes it takes from neighbours with instances.
	warmBy := time.Now().Add(60 * time.Second)
	for !allServed(fastStats, time.Time{}, 1) {
		if time.Now().After(warmBy) {
			stop.Store(true)
			<-fastDone
			t.Fatal("the well-behaved accounts were not all served within 60 s on an idle machine")
		}
		time.Sleep(20 * time.Millisecond)
	}
	burst := time.Now()
	go func() {
		runLoad(e, hog, hogStats, over, payload)
		close(hogDone)
	}()
	// The hog's first sleeps end at its timeout; until then it holds
	// whatever the engine let it take.
	for time.Since(burst) < hogTimeout && !allServed(fastStats, burst.Add(settle), want) {
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	<-fastDone
	<-hogDone

	all := append(append([]loadAccount(nil), fast...), hog...)
	for i, s := range append(fastStats, hogStats...) {
		a := all[i]
		t.Logf("%s: %d ran (%d cold), %d capacity refusals, %d throttled, %d timed out, %.1f instance-s",
			a.label, s.ok, s.cold, s.capacity, s.throttled, s.timedOut, s.held.Seconds())
		for _, ex := range s.examples {
			t.Errorf("%s: platform error: %s", a.label, ex)
		}
		if a.kind == "hog" {
			continue
		}
		if n := s.okSince(burst.Add(settle)); n < want {
			t.Errorf("%s: %d invokes ran while the hog's burst held (from %v after it until its %v timeout), want %d or more (%d capacity refusals)",
				a.label, n, settle, hogTimeout, want, s.capacity)
		}
	}
}

// allServed says whether every account had at least n invokes run that
// started after since.
func allServed(stats []*loadStats, since time.Time, n int) bool {
	for _, s := range stats {
		if s.okSince(since) < n {
			return false
		}
	}
	return true
}
