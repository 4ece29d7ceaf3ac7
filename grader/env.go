package grader

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud/lambda"
	"lambdalab/cloud/xray"
	"lambdalab/labs"
	"lambdalab/store"
)

// Env is one grading run's scratch account and what its steps may use.
// Steps run one at a time within a check, but a step may fan out (a
// burst); Env's own fields are read-only during a step except through its
// methods.
type Env struct {
	Account string // the scratch account's id
	Region  string

	DB     *store.DB
	Lambda *lambda.Service
	XRay   *xray.Service
	// S3 is an AWS SDK client signed with the scratch account's key and
	// served by the endpoint in process: the grader speaks to S3 exactly as
	// a learner's CLI does.
	S3 *s3sdk.Client

	Lab *labs.Lab
	// Files is the submission's folder (code, actions.yaml, answers.yaml)
	// for update_code and publish_layer; nil when grading a copy of a
	// learner's account.
	Files fs.FS
	// Answers are the student's answers to the lab's questions, by id.
	Answers map[string]string
	// ReadyLayer returns the zip of a ready layer ("xray-sdk") on the host.
	ReadyLayer func(ctx context.Context, name string) (string, error)

	GradingStart time.Time // when the grading run began (after provisioning)
	CheckStart   time.Time // when the current check began

	// flush stores the sandbox's pending invocation records; may be nil.
	flush func(ctx context.Context) error

	// MaxInvokes bounds the invocations of one grading run (lab limits).
	MaxInvokes int64
	invokes    atomic.Int64

	mu    sync.Mutex
	saved map[string]any
	wrote map[string]string // "bucket/key" the grader itself wrote → its MD5
}

// NoteWrite records that a step of the grader wrote body to bucket/key, so
// that expect_no_writes does not blame the learner's function for it. The
// body's MD5 (the object's ETag) is kept: if the learner's code later
// overwrites that key with anything else, it is a write of theirs.
func (e *Env) NoteWrite(bucket, key string, body []byte) {
	sum := md5.Sum(body)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wrote == nil {
		e.wrote = map[string]string{}
	}
	e.wrote[bucket+"/"+key] = hex.EncodeToString(sum[:])
}

// WroteItself reports whether the object now at bucket/key, with this
// ETag (quoted or not), is what the grader wrote there.
func (e *Env) WroteItself(bucket, key, etag string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	want, ok := e.wrote[bucket+"/"+key]
	return ok && want == strings.Trim(etag, `"`)
}

// Save keeps a step's result under name for later steps of the run.
func (e *Env) Save(name string, v any) {
	if name == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.saved == nil {
		e.saved = map[string]any{}
	}
	e.saved[name] = v
}

// Saved returns what a step saved under name.
func (e *Env) Saved(name string) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.saved[name]
	return v, ok
}

// CountInvokes reserves n invocations of the run's budget; it fails the
// check (as the learner's fault is unlikely, with a message naming the
// lab's limit) when the run would exceed it.
func (e *Env) CountInvokes(n int) error {
	if e.MaxInvokes > 0 && e.invokes.Add(int64(n)) > e.MaxInvokes {
		return Failf("this grading run reached the lab's limit of %d invocations", e.MaxInvokes)
	}
	return nil
}

// Failure is a step finding the learner's work wrong: the check fails
// with Msg, written for the student.
type Failure struct{ Msg string }

func (f *Failure) Error() string { return f.Msg }

// Failf makes a Failure.
func Failf(format string, args ...any) error {
	return &Failure{Msg: fmt.Sprintf(format, args...)}
}

// Unrunnable is a step that could not run the learner's code at all: it
// does not import, its handler is missing, or the machine is full. The
// check has status error, and so has the whole report, which does not
// count as an attempt.
type Unrunnable struct{ Msg string }

func (u *Unrunnable) Error() string { return u.Msg }

// Kind is one step kind: the labs loader decodes and validates its
// arguments (labs.StepKind), and Run performs it. Run returns nil when the
// step passed, a *Failure or *Unrunnable, or any other error for the
// platform failing.
type Kind struct {
	labs.StepKind
	Run func(ctx context.Context, env *Env, args any) error
}
