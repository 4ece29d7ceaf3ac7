package sandbox

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Caller is the function instance an AWS request came from. The host knows
// it by the socket the request arrived on, never by anything the request
// says, so code inside an instance cannot act for another account.
type Caller struct {
	AccountID  string
	Function   string
	Version    string
	InstanceID string
	// RequestID is the invocation the instance was running when the
	// request arrived; empty between invocations (a request from a thread
	// that outlived its invocation). An instance runs one invocation at a
	// time, so this is the one that made the call.
	RequestID string
}

type callerKey struct{}

// CallerFrom returns the instance that sent the request whose context is
// ctx, when the request reached the AWS endpoint from inside an instance.
// An instance that is not yet bound to a function has no caller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// callerID is an instance's identity as the AWS handler sees it: empty
// while the instance is prestarted, set once when it is bound.
type callerID struct {
	instanceID string
	bound      atomic.Pointer[Caller]
}

func (c *callerID) bind(fn Function) {
	c.bound.Store(&Caller{AccountID: fn.AccountID, Function: fn.Name, Version: fn.Version, InstanceID: c.instanceID})
}

// invoking marks requestID as the invocation in flight on the instance (""
// when it has ended). Requests read the identity once, when they arrive.
func (c *callerID) invoking(requestID string) {
	cur := c.bound.Load()
	if cur == nil {
		return
	}
	next := *cur
	next.RequestID = requestID
	c.bound.Store(&next)
}

// awsFor is the AWS handler of one instance: Config.AWS with the instance's
// identity in every request's context.
func (e *Engine) awsFor(who *callerID) http.Handler {
	if e.cfg.AWS == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := who.bound.Load(); c != nil {
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, *c))
		}
		e.cfg.AWS.ServeHTTP(w, r)
	})
}

// xrayFor is the X-Ray sink of one instance: Config.XRay with the
// instance's identity, read per datagram, so a prestarted instance's
// datagrams count for the function it is later bound to and none before.
func (e *Engine) xrayFor(who *callerID) func([]byte) {
	if e.cfg.XRay == nil {
		return nil
	}
	return func(datagram []byte) {
		if c := who.bound.Load(); c != nil {
			e.cfg.XRay(*c, datagram)
		}
	}
}
