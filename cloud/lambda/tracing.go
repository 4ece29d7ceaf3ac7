package lambda

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"lambdalab/cloud/xray"
	"lambdalab/sandbox"
)

// sampler is Lambda's fixed sampling rule for active tracing: the first
// request in each second, then 5 % of the rest (reference §14.4). Each
// account has its own, as each AWS account's functions do: one learner's
// traffic (or a grading run in a scratch account) cannot use up another's
// sampled request of the second.
type sampler struct {
	mu     sync.Mutex
	second int64
}

func (s *sampler) sample(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := now.Unix(); sec != s.second {
		s.second = sec
		return true
	}
	return rand.Float64() < 0.05
}

// tracing is what one invocation carries for X-Ray.
type tracing struct {
	header string            // the trace header the function receives
	trace  *xray.LambdaTrace // non-nil when Lambda records segments for it
}

// traceFor decides an invocation's trace header. PassThrough only
// propagates a caller's header (or starts an unsampled one); Active honours
// a caller's decision and samples otherwise, and when sampled the function
// hangs its subsegments under Lambda's Invocation subsegment.
func (s *Service) traceFor(account, mode, incoming string) tracing {
	now := time.Now()
	h := xray.ParseTraceHeader(incoming)
	if mode != "Active" || s.xray == nil {
		if h.Valid() {
			return tracing{header: incoming}
		}
		return tracing{header: xray.NewTraceHeader(xray.NewTraceID(now), xray.NewID(), false)}
	}
	sampled := h.Sampled == "1"
	if h.Sampled != "1" && h.Sampled != "0" {
		v, _ := s.samplers.LoadOrStore(account, &sampler{})
		sampled = v.(*sampler).sample(now)
	}
	if !sampled {
		root := h.Root
		if !h.Valid() {
			root = xray.NewTraceID(now)
		}
		return tracing{header: xray.NewTraceHeader(root, xray.NewID(), false)}
	}
	lt := xray.NewLambdaTrace(now, incoming)
	return tracing{header: lt.Header(), trace: &lt}
}

// segmentID is the id the REPORT line's XRAY suffix names: the function
// segment's.
func (t tracing) segmentID() string {
	if t.trace == nil {
		return ""
	}
	return t.trace.FunctionID
}

// recordTrace writes Lambda's own segments for a traced invocation that
// began at start; res is nil when none ran (a throttle, say).
func (s *Service) recordTrace(ctx context.Context, t tracing, fn sandbox.Function, start time.Time, res *sandbox.Result, refused error) {
	if t.trace == nil {
		return
	}
	inv := xray.LambdaInvocation{AccountID: fn.AccountID, Function: fn.Name, Version: fn.Version, Trace: *t.trace,
		Start: start, End: time.Now()}
	if res != nil {
		r := res.Record
		inv.RequestID = res.RequestID
		inv.InvokeStart, inv.InvokeEnd = r.Start, r.End
		if res.Cold && r.InitMS > 0 {
			inv.InitDuration = time.Duration(r.InitMS * float64(time.Millisecond))
			inv.InitStart = r.Start.Add(-inv.InitDuration)
		}
		if res.FunctionError != "" {
			inv.Fault = true
			var doc struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			}
			json.Unmarshal(res.Payload, &doc)
			inv.ErrorType, inv.ErrorMessage = doc.ErrorType, doc.ErrorMessage
		}
	}
	if refused != nil {
		if le, ok := AsError(refused); ok {
			inv.StatusCode = le.Status
			inv.Throttle = le.Status == 429
			inv.Error = le.Status >= 400 && le.Status < 500
			inv.Fault = le.Status >= 500
			inv.ErrorType, inv.ErrorMessage = le.Type, le.Message
		} else {
			inv.StatusCode, inv.Fault = 500, true
		}
	}
	if err := s.xray.RecordLambda(ctx, inv); err != nil {
		s.logger.WarnContext(ctx, "record lambda trace", "function", fn.Name, "err", err)
	}
}
