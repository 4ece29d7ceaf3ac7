package codepkg

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ErrNotFound is returned by Dir, Open and Stat for a sha the store does
// not hold (or that is not a CodeSha256 at all).
var ErrNotFound = errors.New("package not found")

// ErrInUse means another process (a running lambdalab serve) has the store
// open: Open takes a lock on its folder.
var ErrInUse = errors.New("in use by another process")

// Error is an upload refused for what the learner sent, in Lambda's terms:
// Type is the exception name the AWS API returns ("x-amzn-ErrorType"),
// Status its HTTP status, Message the text the learner reads. Anything else
// Put returns is a platform failure.
type Error struct {
	Type    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Lambda's exception names used here.
const (
	InvalidParameterValue = "InvalidParameterValueException"
	RequestEntityTooLarge = "RequestEntityTooLargeException"
)

// msgUnzip is Lambda's answer to anything its unzip step cannot read: not a
// zip, truncated, a bad CRC, an unknown compression method, encryption.
const msgUnzip = "Could not unzip uploaded file. Please check your file, then try to upload again."

func invalid(format string, args ...any) *Error {
	return &Error{Type: InvalidParameterValue, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func errUnzip() *Error { return invalid("%s", msgUnzip) }

// errUnzippedSize is Lambda's wording. Lambda puts the room left after the
// function's layers in it, not the 250 MB quota (a function with layers was
// refused with "smaller than 255174947 bytes"), which is what budget is.
func errUnzippedSize(budget int64) *Error {
	return invalid("Unzipped size must be smaller than %d bytes", budget)
}

// errZippedSize refuses a zip over MaxZipped. The wording is lambdalab's:
// Lambda measures the request, not the zip (see RequestTooLarge), so it has
// no message about the zip itself.
func errZippedSize() *Error {
	return &Error{Type: RequestEntityTooLarge, Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Zipped size must be smaller than %d bytes", MaxZipped)}
}

// RequestTooLarge is Lambda's refusal of a CreateFunction,
// UpdateFunctionCode or PublishLayerVersion request whose body is over
// MaxRequest bytes, for the HTTP layer, which sees the body before any zip
// is decoded from it. op is the operation name, e.g. "CreateFunction".
func RequestTooLarge(op string) *Error {
	return &Error{Type: RequestEntityTooLarge, Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", MaxRequest, op)}
}

// The refusals below have no Lambda counterpart we could find (Lambda's
// unzip either rejects such archives with msgUnzip or is not known to
// meet them), so they say what is wrong in our own words.

func errTooManyEntries() *Error {
	return invalid("The archive has more than %d entries", MaxEntries)
}

func errNameTooLong(name string) *Error {
	return invalid("Archive entry %s has a name longer than %d bytes", quote(name), MaxNameLen)
}

func errElemTooLong(name string) *Error {
	return invalid("Archive entry %s has a path element longer than %d bytes", quote(name), maxElemLen)
}

func errTooDeep(name string) *Error {
	return invalid("Archive entry %s is nested more than %d levels deep", quote(name), maxDepth)
}

func errBadName(name string) *Error {
	return invalid("Archive entry %s has an invalid name", quote(name))
}

func errEscapes(name string) *Error {
	return invalid("Archive entry %s escapes the package", quote(name))
}

func errConflict(name string) *Error {
	return invalid("Archive entry %s clashes with an earlier entry of another type", quote(name))
}

func errInsideSymlink(name, link string) *Error {
	return invalid("Archive entry %s lies inside symlink %s", quote(name), quote(link))
}

func errSpecial(name string) *Error {
	return invalid("Archive entry %s is not a regular file, directory or symlink", quote(name))
}

func errBadTarget(name string) *Error {
	return invalid("Symlink %s has an empty, overlong or invalid target", quote(name))
}

func errLinkOutside(name string) *Error {
	return invalid("Symlink %s points outside the package", quote(name))
}

func errLinkLoop(name string) *Error {
	return invalid("Symlink %s goes through more than %d symlinks", quote(name), maxHops)
}

func errLinksTooTangled() *Error {
	return invalid("The archive's symlinks are too many or too deeply chained to check")
}

// quote shows an entry name safely (control characters escaped) and
// briefly (a name can be 64 KB long).
func quote(name string) string {
	const max = 200
	if len(name) > max {
		return strconv.Quote(name[:max]) + "..."
	}
	return strconv.Quote(name)
}
