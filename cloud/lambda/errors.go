package lambda

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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

// validation refuses a request parameter outside the length or pattern of
// Lambda's API model, as Lambda's request validation does: with a
// ValidationException, before the operation looks anything up. (Older
// checks here answer InvalidParameterValueException with the same words.)
func validation(format string, args ...any) error {
	return &Error{Type: "ValidationException", Status: 400, Message: fmt.Sprintf(format, args...)}
}

// constraint is the message of a refused parameter, in Lambda's words:
// "1 validation error detected: Value 'v' at 'field' failed to satisfy
// constraint: Member must …", each failed constraint its own error.
func constraint(field, value string, failed ...string) string {
	errs := make([]string, len(failed))
	for i, f := range failed {
		errs[i] = fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, field, f)
	}
	n := "1 validation error"
	if len(failed) > 1 {
		n = fmt.Sprintf("%d validation errors", len(failed))
	}
	return n + " detected: " + strings.Join(errs, "; ")
}

// checkDescription refuses a description of a function, version, alias or
// layer that Lambda's 256 characters do not hold, or that is not text the
// store keeps: PostgreSQL's text takes neither a NUL nor invalid UTF-8
// (store.checkText), and a description is refused alike wherever it goes,
// in a column or inside a JSON document.
func checkDescription(d string) error {
	switch {
	case !utf8.ValidString(d):
		return invalid("Description must be valid UTF-8")
	case strings.IndexByte(d, 0) >= 0:
		return invalid("Description must not contain a NUL character (\\u0000)")
	case utf8.RuneCountInString(d) > 256:
		return invalid("Description must be at most 256 characters")
	}
	return nil
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
