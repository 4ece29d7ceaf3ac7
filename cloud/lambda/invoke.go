package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"lambdalab/facts"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// Invocation types.
const (
	RequestResponse = "RequestResponse"
	Event           = "Event"
	DryRun          = "DryRun"
)

// Lambda's payload limits (reference/lambda-behaviour.md §7).
const (
	maxClientContext = 3583
	MaxAsyncPayload  = facts.MaxAsyncPayload
)

// InvokeInput is one Invoke request.
type InvokeInput struct {
	FunctionName   string
	Qualifier      string
	InvocationType string // RequestResponse (zero), Event or DryRun
	LogType        string // "Tail" returns the end of the log
	ClientContext  string // base64 JSON, synchronous calls only
	Payload        []byte
	TraceID        string
	// Output, if set, sees a synchronous invocation's log as it is written:
	// every byte of InvokeOutput.Log, in order (a cold start's init output,
	// START, the function's output as it prints it, END and REPORT), the
	// last call before Invoke returns. Asynchronous and DryRun invocations
	// and refused ones (a throttle) make no call. Calls come one at a time,
	// on the goroutine that collects the function's output: Output must not
	// block, or the function stalls behind it (hand the chunk to a buffered
	// channel and drop when it is full). The chunk is the callee's to keep.
	// The whole log is still in InvokeOutput.Log.
	Output func(chunk []byte)
}

// InvokeOutput is what Invoke answers.
type InvokeOutput struct {
	StatusCode      int // 200, 202 or 204
	RequestID       string
	Payload         []byte
	FunctionError   string // "Unhandled" when the function failed
	ExecutedVersion string
	LogResult       string // base64 of the log's last 4 KB, with LogType Tail
	// Log is the whole log of a synchronous invocation (START to REPORT).
	Log []byte
	// Record is the sandbox's invocation record.
	Record store.Invocation
}

// resolved is a function reference made concrete for one invocation.
type resolved struct {
	fn          sandbox.Function
	tracingMode string // "Active" or "PassThrough", as the version froze it
	invokedARN  string
	qualifier   string // as the caller named it: "", a version or an alias
}

// resolve finds what ref names and draws an alias's version.
func (s *Service) resolve(ctx context.Context, account string, ref functionRef) (resolved, error) {
	q := ref.Qualifier
	version := q
	switch {
	case q == "" || q == "$LATEST":
		version = "$LATEST"
	case !isVersionNumber(q):
		a, err := s.db.Alias(ctx, account, ref.Name, q)
		if err != nil {
			return resolved{}, storeErr(err, "Function not found: "+ref.arn(account))
		}
		version = pickVersion(a, randFloat)
	}
	v, err := s.db.FunctionVersion(ctx, account, ref.Name, version)
	if err != nil {
		return resolved{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	c, err := parseConfig(v.Config)
	if err != nil {
		return resolved{}, err
	}
	fn, err := s.sandboxFunction(v, c)
	if err != nil {
		return resolved{}, err
	}
	return resolved{fn: fn, tracingMode: c.TracingMode, invokedARN: ref.arn(account), qualifier: q}, nil
}

// sandboxFunction builds what the sandbox runs from one stored version.
func (s *Service) sandboxFunction(v store.LambdaVersion, c versionConfig) (sandbox.Function, error) {
	dir, err := s.pkgs.Dir(v.CodeSha256)
	if err != nil {
		return sandbox.Function{}, fmt.Errorf("code of %s:%s: %w", v.Function, v.Version, err)
	}
	fn := sandbox.Function{AccountID: v.AccountID, Name: v.Function, Version: v.Version,
		Runtime: c.Runtime, Handler: c.Handler, MemoryMB: c.MemoryMB, Timeout: time.Duration(c.TimeoutSec) * time.Second,
		EphemeralMB: c.EphemeralMB, Architecture: c.Architecture, Env: c.Env, CodeDir: dir, CodeSha256: v.CodeSha256}
	for _, l := range c.Layers {
		d, err := s.pkgs.Dir(l.CodeSha256)
		if err != nil {
			return sandbox.Function{}, fmt.Errorf("layer %s of %s:%s: %w", l.ARN, v.Function, v.Version, err)
		}
		fn.LayerDirs = append(fn.LayerDirs, d)
	}
	return fn, nil
}

// Invoke runs a function synchronously, queues an asynchronous event, or
// (DryRun) only checks the request.
func (s *Service) Invoke(ctx context.Context, account string, in InvokeInput) (*InvokeOutput, error) {
	ref, err := s.ownRef(account, in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	typ := in.InvocationType
	if typ == "" {
		typ = RequestResponse
	}
	switch typ {
	case RequestResponse, Event, DryRun:
	default:
		return nil, invalid("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", typ)
	}
	if in.LogType != "" && in.LogType != "None" && in.LogType != "Tail" {
		return nil, invalid("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]", in.LogType)
	}
	payload := in.Payload
	limit := sandbox.MaxSyncPayload
	if typ == Event {
		limit = MaxAsyncPayload
	}
	if len(payload) > limit {
		return nil, &Error{Type: "RequestTooLargeException", Status: 413,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit)}
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return nil, &Error{Type: "InvalidRequestContentException", Status: 400,
			Message: "Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value"}
	}
	var clientContext string
	if in.ClientContext != "" {
		raw, err := base64.StdEncoding.DecodeString(in.ClientContext)
		if err != nil || len(in.ClientContext) > maxClientContext || !json.Valid(raw) {
			return nil, &Error{Type: "InvalidRequestContentException", Status: 400, Message: "Client context must be a valid Base64-encoded JSON object."}
		}
		clientContext = string(raw)
	}
	r, err := s.resolve(ctx, account, ref)
	if err != nil {
		return nil, err
	}
	switch typ {
	case DryRun:
		return &InvokeOutput{StatusCode: 204, ExecutedVersion: r.fn.Version}, nil
	case Event:
		id, err := s.enqueue(ctx, asyncEvent{Account: account, Function: ref.Name, Qualifier: ref.Qualifier,
			InvokedARN: r.invokedARN, Payload: payload, TraceID: in.TraceID, Lineage: s.lineageOf(ctx)})
		if err != nil {
			return nil, err
		}
		return &InvokeOutput{StatusCode: 202, RequestID: id}, nil
	}
	e, err := s.eng()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tr := s.traceFor(account, r.tracingMode, in.TraceID)
	// The id is chosen here so that a throttle, which returns no result,
	// is reported to watchers under the id of the sandbox's record.
	reqID := sandbox.NewRequestID()
	res, err := e.Invoke(ctx, sandbox.InvokeInput{Function: r.fn, Payload: payload, InvokedARN: r.invokedARN,
		TraceID: tr.header, ClientContext: clientContext, XRaySegmentID: tr.segmentID(), RequestID: reqID, Output: in.Output})
	if err != nil {
		s.reportInvocation(r.fn, r.qualifier, false, 1, reqID, nil, err)
		err = invokeErr(err)
		s.recordTrace(ctx, tr, r.fn, start, nil, err)
		return nil, err
	}
	s.recordTrace(ctx, tr, r.fn, start, res, nil)
	s.reportInvocation(r.fn, r.qualifier, false, 1, reqID, res, nil)
	out := &InvokeOutput{StatusCode: 200, RequestID: res.RequestID, Payload: res.Payload, FunctionError: res.FunctionError,
		ExecutedVersion: res.ExecutedVersion, Log: res.Log, Record: res.Record}
	if in.LogType == "Tail" {
		out.LogResult = sandbox.LogTail(res.Log)
	}
	return out, nil
}

// ErrCapacity is the sandbox's honest "this machine is full" answer, as the
// service reports it: a 503 that names lambdalab, never a Lambda throttle.
var ErrCapacity = &Error{Type: "ServiceUnavailableException", Status: 503, Message: "lambdalab: " + sandbox.ErrCapacity.Error() +
	" (this is the lambdalab machine being full, not a Lambda limit of your account)"}

func invokeErr(err error) error {
	if errors.Is(err, sandbox.ErrCapacity) {
		return ErrCapacity
	}
	return fromSandbox(err)
}
