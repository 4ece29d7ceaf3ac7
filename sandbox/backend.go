package sandbox

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrInstanceGone says an idle instance died before it was given an event
// (a background thread called exit, say). Lambda would not blame the next
// request for that: the engine starts another instance instead.
var ErrInstanceGone = errors.New("instance exited while idle")

// Backend starts execution environments. sandbox/docker implements it with
// one container per instance; a Kubernetes backend could implement it with a
// Pod per instance. The sandbox package never knows which.
type Backend interface {
	// Start creates and starts an unbound instance: the init process runs and
	// waits to be told which runtime to start (see Instance.Bind). Instances
	// started ahead of time are how cold starts stay short.
	Start(ctx context.Context, spec InstanceSpec) (Instance, error)
	// Sweep removes every instance a previous run of lambdalab left behind
	// (crashed or orphaned containers, their mounts and sockets).
	Sweep(ctx context.Context) error
}

// InstanceSpec is what must be fixed when an instance is created, before it
// belongs to any function.
type InstanceSpec struct {
	// EphemeralMB is the size of the instance's private /tmp (512 to 10,240).
	EphemeralMB int
	// AWS serves every request that reaches the instance's endpoint and is not
	// a Runtime API path: the emulated AWS services. Nil answers 404.
	AWS http.Handler
	// XRay receives each datagram the instance sends to the X-Ray daemon
	// address (UDP 127.0.0.1:2000 inside), at most 64 KB, rate-limited by
	// the backend; it may keep the slice. It must not block. Nil drops them.
	XRay func(datagram []byte)
}

// Binding gives an unbound instance its function.
type Binding struct {
	// Owner identifies the learner account and function version the instance
	// now serves, for labels and for the AWS endpoint's identity.
	AccountID string
	Function  string
	Version   string

	// CodeDir is a host directory holding the extracted deployment package; it
	// appears read-only at /var/task. LayerDirs are extracted layers merged in
	// order into /opt (a later layer's file wins).
	CodeDir   string
	LayerDirs []string

	// MemoryMB is the memory limit (swap included). NanoCPUs is the CPU share
	// applied after init; init runs without the quota (see the cold-start lesson).
	MemoryMB int
	NanoCPUs int64

	// Cmd and Env start the runtime inside the instance, with /var/task as
	// working directory.
	Cmd []string
	Env []string

	// InitTimeout bounds the runtime's init: from its start to its first
	// /next, an /init/error or its exit.
	InitTimeout time.Duration
}

// Instance is one execution environment. It serves at most one invocation
// at a time; the sandbox guarantees that and the Runtime API enforces it.
type Instance interface {
	ID() string
	// Bind mounts the code and layers, sets the memory limit, starts the
	// runtime and waits for its init to end.
	Bind(ctx context.Context, b Binding) (InitResult, error)
	// Invoke hands one event to the runtime and waits for its response or
	// error, its exit, or ctx's end (a timeout: the caller then closes the
	// instance). It returns ErrInstanceGone when the runtime had already
	// died while idle: the event was not handed over.
	Invoke(ctx context.Context, inv Invocation) (Outcome, error)
	// MaxMemoryUsed is the peak memory of the whole instance so far, in bytes.
	MaxMemoryUsed(ctx context.Context) (int64, error)
	// Close kills the instance at once (SIGKILL) and frees everything it held.
	// Close reports whether the kernel's OOM killer had struck it.
	Close(ctx context.Context) (CloseInfo, error)
}

// InitResult describes the runtime's init phase.
type InitResult struct {
	// Duration runs from the runtime's start to its first /next (or its
	// failure): what Lambda reports as Init Duration.
	Duration time.Duration
	// Log is what the runtime wrote to stdout and stderr during init.
	Log       []byte
	Truncated int64 // bytes of output dropped over the cap
	// Err is set when init failed: the runtime posted /init/error, exited, or
	// ran past InitTimeout. Status says which.
	Status    Status
	ErrorBody []byte // the body posted to /init/error, if any
	ErrorType string // Lambda-Runtime-Function-Error-Type header, if any
	Exit      string // "exit status 1", "signal: killed" when the runtime exited
}

// Invocation is one event delivered through the Runtime API.
type Invocation struct {
	RequestID          string
	Payload            []byte
	Deadline           time.Time
	InvokedFunctionARN string
	TraceID            string
	ClientContext      string
	CognitoIdentity    string
	// Output, if set, is handed the bytes of Outcome.Log as the runtime
	// writes them, in order, the first call (possibly empty) as soon as the
	// event is on its way to the runtime, the last before Invoke returns;
	// no call is made when Invoke returns ErrInstanceGone. Calls come one at
	// a time on the goroutine collecting the output and must not block. The
	// chunk is the callee's. A backend that cannot stream may leave it
	// unused: the engine then hands over Outcome.Log when Invoke returns.
	Output func(chunk []byte)
}

// Status classifies how an init phase or an invocation ended.
type Status string

const (
	StatusSuccess  Status = "success"   // a response was posted (or init reached /next)
	StatusError    Status = "error"     // the runtime posted an error
	StatusExit     Status = "exit"      // the runtime process exited without answering
	StatusTimeout  Status = "timeout"   // the deadline passed
	StatusTooLarge Status = "too-large" // the response exceeded 6,291,556 bytes
)

// Outcome is what the runtime did with one invocation.
type Outcome struct {
	Status Status
	// Payload is the response body (success), the posted error document
	// (error), or empty.
	Payload     []byte
	ContentType string
	// ErrorType is the Lambda-Runtime-Function-Error-Type header, if sent.
	ErrorType string
	// Exit is the runtime's exit status in Go's wording ("exit status 1",
	// "signal: killed") when Status is StatusExit.
	Exit string
	// Start is when the event was handed to the runtime; Done when the
	// response or error was posted (or the process exited).
	Start, Done time.Time
	// Log is the function's output attributed to this invocation, capped.
	Log       []byte
	Truncated int64
	// ResponseSize is the size the runtime tried to post, for the
	// Function.ResponseSizeTooLarge message.
	ResponseSize int64
}

// CloseInfo is what is learnt when an instance is torn down.
type CloseInfo struct {
	OOMKilled bool
	ExitCode  int
}
