package sandbox

import (
	"errors"
	"fmt"
)

// ErrThrottled matches (errors.Is) every TooManyRequestsException.
var ErrThrottled = errors.New("throttled")

// ErrCapacity is returned when this machine cannot start another instance:
// a limit of lambdalab's host, not a Lambda throttle, and said so plainly.
// Errors that wrap it add which budget or share refused the instance.
var ErrCapacity = errors.New("this lambdalab machine is busy: it is running as many function instances as it can hold for the learners using it; try again in a moment")

// Throttle reasons Lambda sends with a 429 (reference/lambda-behaviour.md §6.3).
const (
	ReasonConcurrentLimit         = "ConcurrentInvocationLimitExceeded"
	ReasonReservedConcurrentLimit = "ReservedFunctionConcurrentInvocationLimitExceeded"
)

// APIError is an invocation error in Lambda's sense: the request was refused
// before the function ran. Type is the exception name, Status the HTTP
// status the AWS-compatible API answers with.
type APIError struct {
	Type    string
	Status  int
	Message string
	Reason  string // TooManyRequestsException only
}

func (e *APIError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", e.Type, e.Reason, e.Message)
	}
	return e.Type + ": " + e.Message
}

// Is lets callers test errors.Is(err, ErrThrottled).
func (e *APIError) Is(target error) bool {
	return target == ErrThrottled && e.Type == "TooManyRequestsException"
}

func throttled(reason string) *APIError {
	return &APIError{Type: "TooManyRequestsException", Status: 429, Message: "Rate Exceeded.", Reason: reason}
}
