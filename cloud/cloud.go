// Package cloud holds what every service of the emulated AWS account shares:
// who is calling. The services themselves live in its subpackages
// (cloud/lambda, cloud/s3, cloud/xray) and the HTTP front door in
// cloud/endpoint. It imports no other lambdalab package.
package cloud

import "context"

// Region is the one region every emulated account lives in.
const Region = "us-east-1"

// Principal is the verified caller of an AWS request: an account, and how
// it proved who it is.
type Principal struct {
	// AccountID is the 12-digit account the request acts in.
	AccountID string
	// AccessKeyID is the key that signed the request; empty for calls from
	// inside a function instance, which are known by their socket.
	AccessKeyID string
	// Function and Version name the function instance the call came from,
	// when it came from one (an execution role, in Lambda's terms).
	Function, Version string
	// RequestID is the invocation that instance was running when it made
	// the call; empty for a call from outside, or from a thread that
	// outlived its invocation. Lambda follows chains of invocations with it
	// (recursive loop detection).
	RequestID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. Only the endpoint, after verifying a
// signature or trusting an instance's socket, calls it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller that ctx carries, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
