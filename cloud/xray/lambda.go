package xray

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"lambdalab/cloud"
)

// LambdaTrace is the ids of one actively traced invocation. They are drawn
// before the function runs, because the function's trace header must name
// the Invocation subsegment that is only written after it returns.
type LambdaTrace struct {
	// TraceID is the trace the invocation belongs to: the caller's when its
	// request carried a valid trace header, else a new one.
	TraceID string
	// Upstream is the caller's Parent, which the AWS::Lambda segment hangs
	// under; "" when Lambda started the trace.
	Upstream string
	// ServiceID is the AWS::Lambda segment, FunctionID the
	// AWS::Lambda::Function segment, InvocationID its Invocation
	// subsegment: the Parent the function receives, so the subsegments its
	// SDK sends hang under Invocation.
	ServiceID, FunctionID, InvocationID string
}

// NewLambdaTrace draws the ids of a traced invocation that arrived at now
// with the trace header incoming ("" when it had none). Whether to trace at
// all is the caller's decision (Active tracing: an incoming Sampled=1 or
// 0 is honoured, otherwise Lambda samples 1 request per second plus 5 % of
// the rest; PassThrough: never call this, pass the header on, or
// NewTraceHeader(NewTraceID(now), NewID(), false) when there is none).
func NewLambdaTrace(now time.Time, incoming string) LambdaTrace {
	t := LambdaTrace{ServiceID: NewID(), FunctionID: NewID(), InvocationID: NewID()}
	if h := ParseTraceHeader(incoming); h.Valid() {
		t.TraceID = h.Root
		if validID(h.Parent) {
			t.Upstream = h.Parent
		}
	} else {
		t.TraceID = NewTraceID(now)
	}
	return t
}

// Header is the trace header the function receives (Lambda-Runtime-Trace-Id
// and _X_AMZN_TRACE_ID): Root=<TraceID>;Parent=<InvocationID>;Sampled=1.
func (t LambdaTrace) Header() string { return NewTraceHeader(t.TraceID, t.InvocationID, true) }

// LambdaInvocation is what the Lambda service knows of one traced
// invocation once it has ended.
type LambdaInvocation struct {
	AccountID, Function, Version string
	Region                       string // zero means cloud.Region
	Trace                        LambdaTrace
	RequestID                    string
	// Start and End bound the whole request as the service saw it: from its
	// arrival to the response (the AWS::Lambda segment).
	Start, End time.Time
	// InitStart and InitDuration describe a cold start's init (the
	// Initialization subsegment); zero on a warm start.
	InitStart    time.Time
	InitDuration time.Duration
	// InvokeStart and InvokeEnd bound the handler's run (sandbox.Outcome's
	// Start and Done): the Invocation subsegment. Zero when no function ran
	// (a throttle): then only the AWS::Lambda segment is written.
	InvokeStart, InvokeEnd time.Time
	// StatusCode is the Invoke API's status; zero means 200 (a function
	// error is a 200 too).
	StatusCode int
	// Error marks a 4xx refusal, Throttle a 429; Fault marks a function
	// error or a platform failure, recorded on the function segment and its
	// Invocation subsegment with ErrorType and ErrorMessage as the cause.
	Error, Throttle, Fault  bool
	ErrorType, ErrorMessage string
}

// LambdaSegments writes the two segments Lambda sends for an actively
// traced invocation in the old layout (reference/lambda-behaviour.md
// §14.4): AWS::Lambda, the service segment (origin AWS::Lambda, under the
// caller's Parent if any), and AWS::Lambda::Function (origin
// AWS::Lambda::Function, under the service segment) with the subsegments
// Initialization (cold starts only), Invocation (id Trace.InvocationID) and
// Overhead (from the handler's end to the response). Both are named after
// the function. The documents carry no daemon header.
func LambdaSegments(inv LambdaInvocation) [][]byte {
	region := inv.Region
	if region == "" {
		region = cloud.Region
	}
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, inv.AccountID, inv.Function)
	status := inv.StatusCode
	if status == 0 {
		status = 200
	}
	end := inv.End
	if end.Before(inv.InvokeEnd) {
		end = inv.InvokeEnd
	}
	service := &Entity{
		ID: inv.Trace.ServiceID, TraceID: inv.Trace.TraceID, ParentID: inv.Trace.Upstream,
		Name: inv.Function, Origin: "AWS::Lambda", ResourceARN: arn,
		StartTime: epoch(inv.Start), EndTime: epoch(end),
		HTTP:  &HTTP{Response: &HTTPResponse{Status: flexInt(status)}},
		AWS:   map[string]any{"request_id": inv.RequestID},
		Error: inv.Error || inv.Throttle, Throttle: inv.Throttle,
	}
	docs := [][]byte{mustJSON(service)}
	if inv.InvokeStart.IsZero() {
		return docs
	}
	fnARN := arn
	if inv.Version != "" && inv.Version != "$LATEST" {
		fnARN += ":" + inv.Version
	}
	start := inv.InvokeStart
	if !inv.InitStart.IsZero() {
		start = inv.InitStart
	}
	fn := &Entity{
		ID: inv.Trace.FunctionID, TraceID: inv.Trace.TraceID, ParentID: inv.Trace.ServiceID,
		Name: inv.Function, Origin: "AWS::Lambda::Function", ResourceARN: fnARN,
		StartTime: epoch(start), EndTime: epoch(end),
		AWS:   map[string]any{"account_id": inv.AccountID, "function_arn": fnARN, "resource_names": []string{inv.Function}},
		Fault: inv.Fault,
	}
	if !inv.InitStart.IsZero() {
		fn.Subsegments = append(fn.Subsegments, &Entity{
			ID: NewID(), Name: "Initialization",
			StartTime: epoch(inv.InitStart), EndTime: epoch(inv.InitStart.Add(inv.InitDuration)),
			AWS: map[string]any{"function_arn": fnARN},
		})
	}
	invocation := &Entity{
		ID: inv.Trace.InvocationID, Name: "Invocation",
		StartTime: epoch(inv.InvokeStart), EndTime: epoch(inv.InvokeEnd),
		AWS:   map[string]any{"function_arn": fnARN},
		Fault: inv.Fault,
	}
	if inv.Fault {
		ex := Exception{ID: NewID(), Type: inv.ErrorType, Message: inv.ErrorMessage}
		invocation.Cause = &Cause{Exceptions: []Exception{ex}}
		fn.Cause = &Cause{ExceptionID: ex.ID}
	}
	fn.Subsegments = append(fn.Subsegments, invocation, &Entity{
		ID: NewID(), Name: "Overhead",
		StartTime: epoch(inv.InvokeEnd), EndTime: epoch(end),
		AWS: map[string]any{"function_arn": fnARN},
	})
	return append(docs, mustJSON(fn))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types, which always marshal
	}
	return b
}

// RecordLambda stores Lambda's own segments of one traced invocation
// (LambdaSegments) like any other documents of the account.
func (s *Service) RecordLambda(ctx context.Context, inv LambdaInvocation) error {
	for _, doc := range LambdaSegments(inv) {
		if err := s.PutDocument(ctx, inv.AccountID, doc); err != nil {
			return fmt.Errorf("record lambda segments of %s: %w", inv.RequestID, err)
		}
	}
	return nil
}
