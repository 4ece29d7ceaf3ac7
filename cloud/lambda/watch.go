package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/sandbox"
	"lambdalab/store"
)

// InvocationLog is one invocation as a watcher sees it (WatchInvocations):
// a synchronous invoke, or one try of an asynchronous event.
type InvocationLog struct {
	// Record is the sandbox's invocation record; Outcome "throttled" for a
	// try that Lambda refused for concurrency.
	Record store.Invocation
	// Log is the invocation's log as Lambda writes it: the init output on a
	// cold start, then START, the function's output, END and REPORT (and
	// the XRAY line when traced). Empty for a throttle.
	Log []byte
	// Async is set for a try of an asynchronous event (Invoke with
	// InvocationType Event, S3 notifications, destinations).
	Async bool
	// Attempt numbers the tries of an asynchronous event from 1, counting
	// every try it had: throttled ones, and ones this machine had no room
	// for, which are not invocations and not reported. A synchronous invoke
	// is attempt 1.
	Attempt   int
	RequestID string
	// Qualifier is the version or alias the caller named; "" for none.
	Qualifier string
	// Payload is the function's response or error document, or for a
	// throttle the error body the caller got; at most 64 KB of it.
	Payload []byte
}

// watchPayloadMax caps InvocationLog.Payload: a watcher wants an excerpt,
// not a 6 MB response for every invocation.
const watchPayloadMax = 64 << 10

type watcher struct{ fn func(InvocationLog) }

type watchKey struct {
	s       *Service
	account string
}

// watches holds the watchers of every service and account. A list is
// never changed in place: watchMu serialises the writers, which store a
// new list, so that an invocation reads its account's list with one
// lock-free lookup; and while nobody watches anything, watching counts
// zero and spares even that.
var (
	watchMu  sync.Mutex
	watches  sync.Map // watchKey → []*watcher
	watching atomic.Int64
)

// WatchInvocations calls fn after every invocation in account: each
// synchronous invoke, and each try of each asynchronous event (S3
// notifications included), throttled ones too. fn runs synchronously on
// the invocation's path, after the function has answered and before the
// caller (or the async queue) gets the outcome, so it must be quick and
// must not block: hand the log to a buffered channel or copy what it needs.
// It must not change Log or Payload, which every watcher of the account
// shares. An account may have any number of watchers; stop removes this
// one and may be called more than once.
func (s *Service) WatchInvocations(account string, fn func(InvocationLog)) (stop func()) {
	w := &watcher{fn: fn}
	k := watchKey{s, account}
	watchMu.Lock()
	cur, _ := watches.Load(k)
	list, _ := cur.([]*watcher)
	watches.Store(k, append(slices.Clip(list), w))
	watching.Add(1)
	watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			watchMu.Lock()
			defer watchMu.Unlock()
			cur, _ := watches.Load(k)
			list, _ := cur.([]*watcher)
			i := slices.Index(list, w)
			if i < 0 {
				return
			}
			watching.Add(-1)
			if len(list) == 1 {
				watches.Delete(k)
				return
			}
			watches.Store(k, slices.Delete(slices.Clone(list), i, i+1))
		})
	}
}

// watched reports whether account has watchers, cheaply.
func (s *Service) watched(account string) []*watcher {
	if watching.Load() == 0 {
		return nil
	}
	cur, ok := watches.Load(watchKey{s, account})
	if !ok {
		return nil
	}
	return cur.([]*watcher)
}

// reportInvocation hands the watchers of the function's account what one
// try of it did: res when it ran, or err when the sandbox refused it. It
// reports throttles and every run, and nothing for other failures (a full
// machine, a platform error), which are not invocations.
func (s *Service) reportInvocation(fn sandbox.Function, qualifier string, async bool, attempt int, reqID string, res *sandbox.Result, err error) {
	ws := s.watched(fn.AccountID)
	if len(ws) == 0 {
		return
	}
	var l InvocationLog
	switch {
	case res != nil:
		l = InvocationLog{Record: res.Record, Log: bytes.Clone(res.Log), RequestID: res.RequestID,
			Payload: bytes.Clone(res.Payload[:min(len(res.Payload), watchPayloadMax)])}
	case errors.Is(err, sandbox.ErrThrottled):
		// The sandbox stored this record itself; this is the same one.
		now := time.Now()
		l = InvocationLog{RequestID: reqID, Record: store.Invocation{RequestID: reqID, AccountID: fn.AccountID,
			Function: fn.Name, Version: fn.Version, Start: now, End: now, MemoryMB: fn.MemoryMB,
			Outcome: "throttled", ErrorType: "TooManyRequestsException"}}
		body := map[string]string{"Type": "User", "message": "Rate Exceeded."}
		if le, ok := AsError(err); ok {
			body["message"] = le.Message
			if le.Reason != "" {
				body["Reason"] = le.Reason
			}
		}
		l.Payload, _ = json.Marshal(body)
	default:
		return
	}
	l.Async, l.Attempt, l.Qualifier = async, attempt, qualifier
	for _, w := range ws {
		w.fn(l)
	}
}
