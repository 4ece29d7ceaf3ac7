package lambda

import (
	"errors"
	"fmt"

	"lambdalab/sandbox"
)

// Error is a refusal in Lambda's terms: the exception name the API answers
// with (x-amzn-ErrorType), its HTTP status and message. Learner mistakes are
// Errors; anything else a method returns is the platform failing.
type Error struct {
	Type    string
	Status  int
	Message string
	Reason  string // TooManyRequestsException only
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Is lets callers match errors.Is(err, sandbox.ErrThrottled).
func (e *Error) Is(target error) bool {
	return target == sandbox.ErrThrottled && e.Type == "TooManyRequestsException"
}

func invalid(format string, args ...any) error {
	return &Error{Type: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &Error{Type: "ResourceNotFoundException", Status: 404, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &Error{Type: "ResourceConflictException", Status: 409, Message: fmt.Sprintf(format, args...)}
}

func preconditionFailed(format string, args ...any) error {
	return &Error{Type: "PreconditionFailedException", Status: 412, Message: fmt.Sprintf(format, args...)}
}

func accessDenied(format string, args ...any) error {
	return &Error{Type: "AccessDeniedException", Status: 403, Message: fmt.Sprintf(format, args...)}
}

// fromSandbox turns the sandbox's refusals into the service's.
func fromSandbox(err error) error {
	var ae *sandbox.APIError
	if errors.As(err, &ae) {
		return &Error{Type: ae.Type, Status: ae.Status, Message: ae.Message, Reason: ae.Reason}
	}
	return err
}

// AsError returns err as a Lambda refusal when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var ae *sandbox.APIError
	if errors.As(err, &ae) {
		return &Error{Type: ae.Type, Status: ae.Status, Message: ae.Message, Reason: ae.Reason}, true
	}
	return nil, false
}

// errStaleRevision refuses an update whose RevisionId is not the current
// one: someone else changed the function or alias since the caller read it.
func errStaleRevision() error {
	return preconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}
