package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"lambdalab/cloud"
	"lambdalab/store"
)

// Recursive loop detection (reference/lambda-behaviour.md §13.3). Lambda
// tags each event with the chain of invocations that caused it (the Lineage
// in the X-Ray trace header) and counts, per function, how often the chain
// has invoked it; once a function has run about 16 times in one chain, the
// next event for it is dropped to the DLQ or on-failure destination, unless
// the function's RecursiveLoop is Allow.
//
// lambdalab follows the chain itself, with no SDK cooperation: an
// asynchronous event carries its lineage; while it runs, the lineage is
// kept by the invocation's request id; a write to S3 (or an Event invoke)
// made from inside that invocation, which the endpoint knows by the
// instance's socket (cloud.Principal.RequestID), gives its new event that
// lineage with the writer counted once more.

// recursionLimit is how many times a chain may invoke one function; the
// next event for it is stopped. Lambda's documents say "more than 16".
const recursionLimit = 16

// recursionCondition is the destination record's condition for an event
// stopped as part of a loop. Lambda documents Success, RetriesExhausted
// and EventAgeExceeded only; what it puts there for a dropped recursive
// event is not documented (reference §13.3), so this is lambdalab's name,
// chosen beside the exception Lambda returns to synchronous callers.
const recursionCondition = "RecursiveInvocationDetected"

// recursionError is the exception Lambda answers a stopped invocation with,
// and its message as the SDK models document it.
const (
	recursionErrorType    = "RecursiveInvocationException"
	recursionErrorMessage = "Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped your function's invocation."
)

// lineage counts, by function name, the invocations of the chain that led
// to an event. Events from outside any function have none.
type lineage map[string]int

// after is the lineage of an event caused by an invocation of fn that ran
// with l: l with fn counted once more. l is not changed.
func (l lineage) after(fn string) lineage {
	next := make(lineage, len(l)+1)
	for k, v := range l {
		next[k] = v
	}
	next[fn]++
	return next
}

// loops reports whether an event with lineage l may not run fn while
// recursive loop detection is on: the chain has run fn recursionLimit times.
func (l lineage) loops(fn string) bool { return l[fn] >= recursionLimit }

// chains keeps the lineage of each asynchronous event while it runs, by the
// invocation's request id. An event delivered twice at once (its visibility
// ran out) runs twice under one id, hence the count.
type chains struct {
	mu sync.Mutex
	m  map[string]*chain
}

type chain struct {
	lineage lineage
	runs    int
}

// begin records that the invocation requestID runs with l; the returned
// func, called when it has ended, forgets it.
func (c *chains) begin(requestID string, l lineage) (end func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*chain{}
	}
	ch := c.m[requestID]
	if ch == nil {
		ch = &chain{lineage: l}
		c.m[requestID] = ch
	}
	ch.runs++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if ch.runs--; ch.runs == 0 {
			delete(c.m, requestID)
		}
	}
}

// lineage is the lineage the invocation requestID runs with; nil for one
// that is not running or did not come from an asynchronous event.
func (c *chains) lineage(requestID string) lineage {
	if requestID == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.m[requestID]; ch != nil {
		return ch.lineage
	}
	return nil
}

// lineageOf is the lineage of an event that the caller in ctx causes: none
// from outside a function; from inside one, the lineage of the invocation
// that made the call with the calling function counted once more. A call
// from a synchronous invocation, or from a thread that outlived its
// invocation, counts the caller once: lambdalab does not follow those.
func (s *Service) lineageOf(ctx context.Context) lineage {
	p, ok := cloud.PrincipalFrom(ctx)
	if !ok || p.Function == "" {
		return nil
	}
	return s.chains.lineage(p.RequestID).after(p.Function)
}

// stopsLoops reports whether recursive loop detection is on for a function
// (RecursiveLoop Terminate, the default).
func (s *Service) stopsLoops(ctx context.Context, account, function string) (bool, error) {
	mode, err := s.db.RecursiveLoop(ctx, account, function)
	if err != nil {
		return false, fmt.Errorf("recursion config of %s: %w", function, err)
	}
	return mode != store.RecursiveLoopAllow, nil
}

// stopLoop settles an event that would run its function once more than
// recursive loop detection allows: it is not run, its invocation record
// says why, the log tells the learner, and its record goes to the
// on-failure destination.
func (a *asyncRunner) stopLoop(ctx context.Context, id string, ev asyncEvent, cfg eventConfig, r resolved) error {
	s := a.s
	at := now()
	rec := store.Invocation{RequestID: ev.RequestID, AccountID: ev.Account, Function: ev.Function,
		Version: r.fn.Version, Start: at, End: at, MemoryMB: r.fn.MemoryMB, Outcome: "recursion-stopped",
		ErrorType: recursionErrorType}
	if err := s.db.InsertInvocation(ctx, rec); err != nil {
		return err
	}
	n := ev.Lineage[ev.Function]
	msg := fmt.Sprintf("lambdalab stopped a recursive loop: function %s was invoked by its own asynchronous events %d times in one chain; see PutFunctionRecursionConfig", ev.Function, n)
	if bucket := eventBucket(ev.Payload); bucket != "" {
		msg = fmt.Sprintf("lambdalab stopped a recursive loop: function %s was invoked by its own writes to bucket %s %d times in one chain; see PutFunctionRecursionConfig", ev.Function, bucket, n)
	}
	s.logger.WarnContext(ctx, msg, "account", ev.Account, "function", ev.Function, "request_id", ev.RequestID, "invocations", n)
	// Watchers (the workspace's console, the grader) see the stop in place
	// of the try it replaced, with the reason as its log.
	for _, w := range s.watched(ev.Account) {
		w.fn(InvocationLog{Record: rec, RequestID: ev.RequestID, Async: true, Attempt: ev.Invokes + ev.Throttles + 1,
			Qualifier: r.qualifier, Log: []byte(msg + "\n")})
	}
	return a.finish(ctx, id, ev, cfg, recursionCondition, nil)
}

// eventBucket is the bucket an S3 event notification is about; "" for any
// other payload.
func eventBucket(payload []byte) string {
	var ev struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			S3          struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if json.Unmarshal(payload, &ev) != nil || len(ev.Records) == 0 || ev.Records[0].EventSource != "aws:s3" {
		return ""
	}
	return ev.Records[0].S3.Bucket.Name
}

// RecursionConfig is the body of PutFunctionRecursionConfig and
// GetFunctionRecursionConfig.
type RecursionConfig struct {
	// RecursiveLoop is Terminate (stop a detected loop; the default) or
	// Allow.
	RecursiveLoop string `json:"RecursiveLoop"`
}

// PutFunctionRecursionConfig sets a function's recursive loop detection.
func (s *Service) PutFunctionRecursionConfig(ctx context.Context, account, name string, in RecursionConfig) (RecursionConfig, error) {
	ref, err := s.recursionRef(account, name)
	if err != nil {
		return RecursionConfig{}, err
	}
	switch in.RecursiveLoop {
	case store.RecursiveLoopTerminate, store.RecursiveLoopAllow:
	case "":
		return RecursionConfig{}, invalid("1 validation error detected: Value null at 'recursiveLoop' failed to satisfy constraint: Member must not be null")
	default:
		return RecursionConfig{}, invalid("1 validation error detected: Value '%s' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]", in.RecursiveLoop)
	}
	if err := s.db.SetRecursiveLoop(ctx, account, ref.Name, in.RecursiveLoop); err != nil {
		return RecursionConfig{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	return in, nil
}

// GetFunctionRecursionConfig reports a function's recursive loop detection.
func (s *Service) GetFunctionRecursionConfig(ctx context.Context, account, name string) (RecursionConfig, error) {
	ref, err := s.recursionRef(account, name)
	if err != nil {
		return RecursionConfig{}, err
	}
	mode, err := s.db.RecursiveLoop(ctx, account, ref.Name)
	if err != nil {
		return RecursionConfig{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	return RecursionConfig{RecursiveLoop: mode}, nil
}

// recursionRef reads the function a recursion config call names: the
// setting belongs to the whole function, so no qualifier.
func (s *Service) recursionRef(account, name string) (functionRef, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return ref, err
	}
	if ref.Qualifier != "" {
		return ref, invalid("The recursion configuration applies to a whole function; name it without a qualifier")
	}
	return ref, nil
}
