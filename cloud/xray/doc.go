// Package xray is the X-Ray service of every learner's emulated AWS account:
// a collector speaking the daemon protocol (one JSON header line and one
// segment document per datagram, reference/lambda-behaviour.md §14.1),
// reached from inside function instances through the sandbox's relay and
// from host tools over loopback UDP; Lambda's own AWS::Lambda and
// AWS::Lambda::Function segments for actively traced invocations; traces
// kept flat per account in SQLite (package store) and assembled into trees
// when read; and the X-Ray REST API the CLI and SDKs call (http.go).
//
// It knows nothing about Docker or signatures: the account of a datagram is
// the instance it came from (sandbox.Caller), of an API call the verified
// principal (cloud.PrincipalFrom).
package xray
