package grader

// The invoke step: one invocation, a series, or a parallel burst of a
// function (or a version or alias of it) through Lambda's Go API, judged
// against what the lab expects of the answers: success, an error type, the
// payload, the version that ran, the split of an alias's traffic, and
// throttles. It is registered in actionKinds (steps_actions.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
)

// invokeArgs: invoke.
type invokeArgs struct {
	Function  string `yaml:"function" lab:"function"`
	Qualifier string `yaml:"qualifier"`
	// Payload is any YAML value, sent as JSON; PayloadText is sent as it
	// is. With neither, the event is {}.
	Payload     any    `yaml:"payload"`
	PayloadText string `yaml:"payload_text"`
	// Async sends Event invocations: the step then expects only that
	// Lambda accepted each (202).
	Async bool `yaml:"async"`
	// Count invocations (default 1), Parallel of them at a time (default
	// 1); a burst is Parallel = Count.
	Count    int `yaml:"count"`
	Parallel int `yaml:"parallel"`
	// Save keeps the []InvokeResult under this name for later steps.
	Save   string       `yaml:"save"`
	Expect invokeExpect `yaml:"expect"`
}

// invokeExpect is what invoke checks of the answers. Unless OK is false,
// ErrorType is set or MinThrottled is set, every invocation must succeed:
// a function error or a throttle fails the step in Lambda's words.
type invokeExpect struct {
	// OK true: no function error and no throttle (the default); false:
	// every invocation failed or was throttled.
	OK *bool `yaml:"ok"`
	// ErrorType is the errorType every invocation must fail with
	// (TooManyRequestsException for a throttle). It matches Lambda's
	// reported type (Runtime.OutOfMemory) or the error document's.
	ErrorType string `yaml:"error_type"`
	// PayloadEquals is JSON-equal to each answer (numbers as numbers).
	PayloadEquals any `yaml:"payload_equals"`
	// PayloadMatches is a regular expression each raw answer must match.
	PayloadMatches string `yaml:"payload_matches" lab:"regexp"`
	// PayloadFields are fields (dotted paths, list indexes as numbers:
	// "items.0.id") each answer must have, JSON-equal to the value.
	PayloadFields map[string]any `yaml:"payload_fields"`
	// ExecutedVersion is the version each invocation must run ("$LATEST").
	ExecutedVersion string `yaml:"executed_version"`
	// Versions is the expected split {VERSION: share} of the invocations
	// over versions, judged with a binomial bound (invBounds).
	Versions map[string]float64 `yaml:"versions"`
	// AllOK says every invocation must succeed (for a burst; the default).
	AllOK bool `yaml:"all_ok"`
	// MinThrottled is how many of the invocations at least must be
	// throttled; it lets the others be throttled too.
	MinThrottled int `yaml:"min_throttled"`
}

// InvokeResult is one invocation as an invoke step saves it for later
// steps.
type InvokeResult struct {
	// Status is 200 when the function ran, 202 when Lambda accepted an
	// asynchronous event, 429 when the invocation was throttled.
	Status          int
	Payload         []byte // the function's answer, or its error document
	FunctionError   string // "Unhandled" when the function failed
	ErrorType       string // Lambda's type: "Runtime.OutOfMemory", "KeyError", "TooManyRequestsException"
	ErrorMessage    string // the error document's errorMessage, or the throttle's message
	ExecutedVersion string // "$LATEST" or a version number; empty when throttled or async
	RequestID       string
	Throttled       bool
	Reason          string // why it was throttled (ReservedFunctionConcurrentInvocationLimitExceeded)

	docType string // the error document's errorType, when it differs from ErrorType
	frame   string // the innermost frame of a Python traceback
}

// invMaxCount bounds one step's invocations (the ceiling of a lab's
// invokes limit).
const invMaxCount = 2000

func (a *invokeArgs) Validate() error {
	if err := actMissing("function", a.Function); err != nil {
		return err
	}
	if a.Payload != nil && a.PayloadText != "" {
		return errors.New("give payload or payload_text, not both")
	}
	if a.Payload != nil {
		if _, err := invCanonical(a.Payload); err != nil {
			return fmt.Errorf("payload: %w", err)
		}
	}
	if a.Count < 0 || a.Count > invMaxCount {
		return fmt.Errorf("count is %d; it lies between 1 and %d", a.Count, invMaxCount)
	}
	if a.Parallel < 0 || a.Parallel > max(a.Count, 1) {
		return fmt.Errorf("parallel is %d; it lies between 1 and count (%d)", a.Parallel, max(a.Count, 1))
	}
	e := &a.Expect
	if a.Async && (e.OK != nil && !*e.OK || e.ErrorType != "" || e.PayloadEquals != nil || e.PayloadMatches != "" ||
		e.PayloadFields != nil || e.ExecutedVersion != "" || e.Versions != nil || e.MinThrottled > 0) {
		return errors.New("an async invoke is only accepted (202) or refused; judge what the function did with later steps")
	}
	failing := e.OK != nil && !*e.OK || e.ErrorType != "" || e.MinThrottled > 0
	if failing && (e.OK != nil && *e.OK || e.AllOK) {
		return errors.New("expect: ok: true and all_ok say every invoke succeeds; they cannot go with ok: false, error_type or min_throttled")
	}
	if e.OK != nil && !*e.OK && e.ErrorType != "" {
		return errors.New("expect: error_type already says the invokes fail; drop ok: false")
	}
	if e.MinThrottled < 0 || e.MinThrottled > max(a.Count, 1) {
		return fmt.Errorf("expect: min_throttled is %d; it lies between 1 and count", e.MinThrottled)
	}
	if e.PayloadEquals != nil {
		if _, err := invCanonical(e.PayloadEquals); err != nil {
			return fmt.Errorf("expect: payload_equals: %w", err)
		}
	}
	for k, v := range e.PayloadFields {
		if k == "" {
			return errors.New("expect: payload_fields: a field name is empty")
		}
		if _, err := invCanonical(v); err != nil {
			return fmt.Errorf("expect: payload_fields: %s: %w", k, err)
		}
	}
	if e.PayloadMatches != "" {
		if _, err := regexp.Compile(e.PayloadMatches); err != nil {
			return fmt.Errorf("expect: payload_matches: %w", err)
		}
	}
	if e.Versions != nil {
		sum := 0.0
		for v, p := range e.Versions {
			if p < 0 || p > 1 {
				return fmt.Errorf("expect: versions: version %s has share %v; a share lies between 0 and 1", v, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > 0.001 {
			return fmt.Errorf("expect: versions: the shares add up to %v, not 1", sum)
		}
	}
	return nil
}

// payload is the event to send.
func (a *invokeArgs) payload() ([]byte, error) {
	if a.PayloadText != "" {
		return []byte(a.PayloadText), nil
	}
	if a.Payload == nil {
		return []byte("{}"), nil
	}
	v, err := invJSONable(a.Payload)
	if err != nil {
		return nil, err
	}
	return invMarshal(v)
}

func runInvoke(ctx context.Context, env *Env, a *invokeArgs) error {
	count, parallel := max(a.Count, 1), max(a.Parallel, 1)
	payload, err := a.payload()
	if err != nil {
		return fmt.Errorf("payload of invoke %s: %w", a.Function, err)
	}
	if err := env.CountInvokes(count); err != nil {
		return err
	}
	target := actTarget(a.Function, a.Qualifier)
	outs := invRunAll(ctx, env, a, payload, count, parallel)

	done := 0
	for _, o := range outs {
		if o.ran {
			done++
		}
	}
	for _, o := range outs {
		if o.capacity {
			return &Unrunnable{Msg: "invoking " + target + " could not start: " + o.err.Error()}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("invoke %s: %d of %d invokes done when the check's time ran out: %w", target, done, count, err)
	}
	for _, o := range outs {
		if o.err != nil {
			return fmt.Errorf("invoke %s: %w", target, o.err)
		}
	}
	for _, o := range outs {
		if o.refusal != nil {
			return Failf("invoking %s was refused: %s: %s", target, o.refusal.Type, o.refusal.Message)
		}
	}
	results := make([]InvokeResult, len(outs))
	for i, o := range outs {
		results[i] = o.InvokeResult
	}
	if a.Save != "" {
		env.Save(a.Save, results)
	}
	return invJudge(a, target, results)
}

// invOutcome is one invocation as the burst saw it.
type invOutcome struct {
	InvokeResult
	ran      bool          // the invocation was made (not cut short by ctx)
	refusal  *lambda.Error // Lambda refused the request (not a throttle)
	capacity bool          // the machine is full
	err      error         // the platform failed (or ctx ended mid-call)
}

// invRunAll makes count invocations, parallel at a time. The workers start
// together, so that a burst reaches Lambda as one.
func invRunAll(ctx context.Context, env *Env, a *invokeArgs, payload []byte, count, parallel int) []invOutcome {
	outs := make([]invOutcome, count)
	var next atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			<-start
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				outs[i] = invOnce(ctx, env, a, payload)
			}
		})
	}
	close(start)
	wg.Wait()
	return outs
}

func invOnce(ctx context.Context, env *Env, a *invokeArgs, payload []byte) invOutcome {
	in := lambda.InvokeInput{FunctionName: a.Function, Qualifier: a.Qualifier, Payload: payload}
	if a.Async {
		in.InvocationType = lambda.Event
	}
	out, err := env.Lambda.Invoke(ctx, env.Account, in)
	o := invOutcome{ran: true}
	if err != nil {
		le, isLambda := lambda.AsError(err)
		switch {
		case errors.Is(err, sandbox.ErrCapacity) || le == lambda.ErrCapacity:
			o.capacity, o.err = true, err
			if le != nil {
				o.err = errors.New(le.Message)
			}
		case isLambda && le.Type == "TooManyRequestsException":
			o.Status, o.Throttled = le.Status, true
			o.ErrorType, o.ErrorMessage, o.Reason = le.Type, le.Message, le.Reason
		case isLambda && le.Status < 500:
			o.refusal = le
		default:
			o.err = err
		}
		return o
	}
	o.Status, o.Payload, o.FunctionError = out.StatusCode, out.Payload, out.FunctionError
	o.ExecutedVersion, o.RequestID = out.ExecutedVersion, out.RequestID
	if out.FunctionError != "" {
		var doc struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
			StackTrace   []any  `json:"stackTrace"`
		}
		json.Unmarshal(out.Payload, &doc)
		o.ErrorType, o.ErrorMessage = out.Record.ErrorType, doc.ErrorMessage
		if o.ErrorType == "" {
			o.ErrorType = doc.ErrorType
		}
		if doc.ErrorType != o.ErrorType {
			o.docType = doc.ErrorType
		}
		o.frame = invFrame(doc.StackTrace)
	}
	return o
}

// invFrame is the innermost frame of a Python traceback ('File
// "/var/task/app.py", line 7, in handler'), the line a student looks for.
func invFrame(trace []any) string {
	for i := len(trace) - 1; i >= 0; i-- {
		s, _ := trace[i].(string)
		first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
		if strings.HasPrefix(first, `File "`) {
			return first
		}
	}
	return ""
}

// invStartupErrors are the errors of code that cannot run at all: it does
// not import or parse, or names no handler it has. They make the check an
// error (Unrunnable), not a failed attempt.
var invStartupErrors = []string{"Runtime.ImportModuleError", "Runtime.UserCodeSyntaxError", "Runtime.HandlerNotFound", "Runtime.InvalidEntrypoint"}

func (r InvokeResult) failed() bool { return r.FunctionError != "" }

// hasType reports whether r failed with errorType t, by Lambda's report or
// the error document.
func (r InvokeResult) hasType(t string) bool {
	return (r.failed() || r.Throttled) && (r.ErrorType == t || r.docType == t)
}

// errorText is a failure in Lambda's words: "KeyError: 'Records' (File
// "/var/task/app.py", line 7, in handler)" or, for a throttle,
// "TooManyRequestsException (ReservedFunctionConcurrentInvocationLimitExceeded): Rate Exceeded.".
func (r InvokeResult) errorText() string {
	if r.Throttled {
		if r.Reason != "" {
			return fmt.Sprintf("%s (%s): %s", r.ErrorType, r.Reason, r.ErrorMessage)
		}
		return r.ErrorType + ": " + r.ErrorMessage
	}
	s := r.ErrorType
	if r.ErrorMessage != "" {
		if s != "" {
			s += ": "
		}
		s += r.ErrorMessage
	}
	if s == "" {
		s = invExcerpt(r.Payload)
	}
	s = invClip(s)
	if r.frame != "" {
		s += " (" + r.frame + ")"
	}
	return s
}

// outcomeText says what one invocation did, after "it": "answered {…}",
// "failed with KeyError: …", "was throttled: …".
func (r InvokeResult) outcomeText() string {
	switch {
	case r.Throttled:
		return "was throttled: " + r.errorText()
	case r.failed():
		return "failed with " + r.errorText()
	}
	return "answered " + invExcerpt(r.Payload)
}

// invJudge checks the results of an invoke step against its expectations.
func invJudge(a *invokeArgs, target string, results []InvokeResult) error {
	e := &a.Expect
	n := len(results)
	// which names one invocation of several in a message.
	which := func(i int) string {
		if n == 1 {
			return ""
		}
		return fmt.Sprintf("invoke %d of %d: ", i+1, n)
	}
	for _, r := range results {
		if r.failed() && slices.Contains(invStartupErrors, r.ErrorType) && (e.ErrorType == "" || !r.hasType(e.ErrorType)) {
			// Lambda's message already says where (a syntax error's line).
			r.frame = ""
			return &Unrunnable{Msg: target + " could not run: " + r.errorText()}
		}
	}
	if a.Async {
		return nil
	}

	var errs, throttles []InvokeResult
	for _, r := range results {
		switch {
		case r.Throttled:
			throttles = append(throttles, r)
		case r.failed():
			errs = append(errs, r)
		}
	}
	switch {
	case e.OK != nil && !*e.OK:
		for i, r := range results {
			if !r.failed() && !r.Throttled {
				if n == 1 {
					return Failf("expected invoking %s to fail, but it %s", target, r.outcomeText())
				}
				return Failf("expected every invoke of %s to fail, but %d of %d succeeded; invoke %d %s",
					target, n-len(errs)-len(throttles), n, i+1, r.outcomeText())
			}
		}
	case e.ErrorType != "":
		for i, r := range results {
			if !r.hasType(e.ErrorType) {
				if n == 1 {
					return Failf("expected invoking %s to fail with %s, but it %s", target, e.ErrorType, r.outcomeText())
				}
				return Failf("expected every invoke of %s to fail with %s, but invoke %d of %d %s", target, e.ErrorType, i+1, n, r.outcomeText())
			}
		}
	default:
		if len(errs) > 0 {
			if n == 1 {
				return Failf("invoking %s returned a function error: %s", target, errs[0].errorText())
			}
			return Failf("%d of %d invokes of %s returned a function error; the first: %s", len(errs), n, target, errs[0].errorText())
		}
		if len(throttles) > 0 && e.MinThrottled == 0 {
			if n == 1 {
				return Failf("invoking %s was throttled: %s", target, throttles[0].errorText())
			}
			return Failf("%d of %d invokes of %s were throttled: %s", len(throttles), n, target, throttles[0].errorText())
		}
	}
	if e.MinThrottled > 0 && len(throttles) < e.MinThrottled {
		how := "parallel invokes"
		if p := max(a.Parallel, 1); p < n {
			how = fmt.Sprintf("invokes (%d at a time)", p)
		}
		were := "were"
		if len(throttles) == 1 {
			were = "was"
		}
		return Failf("expected at least %d of %d %s of %s to be throttled; %d %s", e.MinThrottled, n, how, target, len(throttles), were)
	}

	var wantAnswer any
	var fields map[string]any
	if e.PayloadEquals != nil {
		v, err := invCanonical(e.PayloadEquals)
		if err != nil {
			return fmt.Errorf("expected payload: %w", err)
		}
		wantAnswer = v
	}
	if e.PayloadFields != nil {
		fields = map[string]any{}
		for k, v := range e.PayloadFields {
			c, err := invCanonical(v)
			if err != nil {
				return fmt.Errorf("expected field %s: %w", k, err)
			}
			fields[k] = c
		}
	}
	var re *regexp.Regexp
	if e.PayloadMatches != "" {
		var err error
		if re, err = regexp.Compile(e.PayloadMatches); err != nil {
			return fmt.Errorf("payload_matches: %w", err)
		}
	}
	for i, r := range results {
		if r.Throttled {
			continue
		}
		if e.ExecutedVersion != "" && r.ExecutedVersion != e.ExecutedVersion {
			return Failf("%sinvoking %s ran %s, expected %s", which(i), target, invVersionText(r.ExecutedVersion), invVersionText(e.ExecutedVersion))
		}
		if e.PayloadEquals != nil {
			got, err := invDecode(r.Payload)
			if err != nil || !invSame(got, wantAnswer) {
				return Failf("%sexpected the answer %s, got %s", which(i), invClip(invRender(wantAnswer)), invExcerpt(r.Payload))
			}
		}
		if re != nil && !re.Match(r.Payload) {
			return Failf("%sexpected the answer to match the pattern %s, got %s", which(i), e.PayloadMatches, invExcerpt(r.Payload))
		}
		if fields != nil {
			if err := invCheckFields(r.Payload, fields); err != nil {
				return Failf("%s%s", which(i), err.Error())
			}
		}
	}
	if e.Versions != nil {
		return invCheckVersions(target, results, e.Versions)
	}
	return nil
}

// invCheckFields checks that the JSON answer has every field of want.
func invCheckFields(payload []byte, want map[string]any) error {
	got, err := invDecode(payload)
	if err != nil {
		return fmt.Errorf("expected a JSON answer, got %s", invExcerpt(payload))
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		v, ok := invField(got, p)
		if !ok {
			return fmt.Errorf("expected the answer to have the field %q, got %s", p, invExcerpt(payload))
		}
		if !invSame(v, want[p]) {
			return fmt.Errorf("expected the answer's %q to be %s, got %s", p, invClip(invRender(want[p])), invClip(invRender(v)))
		}
	}
	return nil
}

// invField follows a dotted path ("order.items.0.id") into a decoded JSON
// value. A key with a dot in it is found whole first.
func invField(v any, path string) (any, bool) {
	if m, ok := v.(map[string]any); ok {
		if x, ok := m[path]; ok {
			return x, true
		}
	}
	head, rest, more := strings.Cut(path, ".")
	var next any
	switch t := v.(type) {
	case map[string]any:
		x, ok := t[head]
		if !ok {
			return nil, false
		}
		next = x
	case []any:
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(t) {
			return nil, false
		}
		next = t[i]
	default:
		return nil, false
	}
	if !more {
		return next, true
	}
	return invField(next, rest)
}

// invVersionText says "version 3" or "$LATEST".
func invVersionText(v string) string {
	if v == "" {
		return "no version"
	}
	if _, err := strconv.Atoi(v); err == nil {
		return "version " + v
	}
	return v
}

// invZ and invAlpha set the bounds a version's count must lie within; see
// invBounds.
const (
	invZ     = 4.5
	invAlpha = 1e-6
)

// invBounds is the range of counts that versions accepts for a version
// with share p of n invocations. Lambda draws each invocation's version
// independently, so the count is Binomial(n, p). The range is the mean
// ± 4.5 standard deviations, widened by 1 for the discreteness of counts,
// and widened further wherever the binomial's exact tail beyond it is
// above 1e-6: the normal approximation understates the tails of a skewed
// binomial (at n = 2, p = 0.02 the 4.5σ range alone fails a correct split
// 4 times in 10 000; at n = 200, p = 0.1 its upper end, 40, has a tail of
// 3e-6, so the range becomes 1 to 43). A version that should see traffic
// must be seen at least once only when missing it entirely has
// probability at most 1e-6 ((1-p)^n ≤ 1e-6, about n·p ≥ 14): demanding a
// sighting whenever p ≥ 1/n would fail a correct split about a third of
// the time at p = 1/n.
//
// So a correct split fails with probability at most 1e-6 on each side of
// each version, at most 2e-6 per version named (the test scans n up to
// 2000 for this). The price is resolution: at n = 200 a version claimed
// at 10 % that really gets 30 % still passes 4 times in 1000, at 35 % 2
// times in 100 000, and one at 20 % passes mostly; a lab that claims a
// finer split needs a larger count.
func invBounds(n int, p float64) (lo, hi int) {
	switch {
	case n <= 0:
		return 0, 0
	case p <= 0:
		return 0, 0
	case p >= 1:
		return n, n
	}
	mean := float64(n) * p
	sd := math.Sqrt(mean * (1 - p))
	lo = max(0, int(math.Ceil(mean-invZ*sd-1)))
	hi = min(n, int(math.Floor(mean+invZ*sd+1)))
	// Exact tails: widen lo down to the largest L with P(X < L) ≤ alpha,
	// and hi up to the smallest H with P(X > H) ≤ alpha.
	pmf := invBinomial(n, p)
	below := 0.0
	exactLo := 0
	for k := 0; k <= n; k++ {
		if below+pmf[k] > invAlpha {
			exactLo = k
			break
		}
		below += pmf[k]
	}
	above := 0.0
	exactHi := n
	for k := n; k >= 0; k-- {
		if above+pmf[k] > invAlpha {
			exactHi = k
			break
		}
		above += pmf[k]
	}
	lo, hi = min(lo, exactLo), max(hi, exactHi)
	if lo == 0 && pmf[0] <= invAlpha {
		lo = 1
	}
	return lo, hi
}

// invBinomial is the probability mass function of Binomial(n, p), for
// 0 < p < 1, computed in logs so that large n does not overflow.
func invBinomial(n int, p float64) []float64 {
	out := make([]float64, n+1)
	lgN, _ := math.Lgamma(float64(n + 1))
	lp, lq := math.Log(p), math.Log1p(-p)
	for k := range out {
		a, _ := math.Lgamma(float64(k + 1))
		b, _ := math.Lgamma(float64(n - k + 1))
		out[k] = math.Exp(lgN - a - b + float64(k)*lp + float64(n-k)*lq)
	}
	return out
}

// invCheckVersions judges the observed split of the invocations that ran.
func invCheckVersions(target string, results []InvokeResult, shares map[string]float64) error {
	seen := map[string]int{}
	n := 0
	for _, r := range results {
		if r.Throttled || r.ExecutedVersion == "" {
			continue
		}
		seen[r.ExecutedVersion]++
		n++
	}
	versions := make([]string, 0, len(shares)+len(seen))
	for v := range shares {
		versions = append(versions, v)
	}
	for v := range seen {
		if _, ok := shares[v]; !ok {
			versions = append(versions, v)
		}
	}
	slices.SortFunc(versions, invVersionOrder)
	for _, v := range versions {
		p, k := shares[v], seen[v]
		lo, hi := invBounds(n, p)
		if k >= lo && k <= hi {
			continue
		}
		observed := fmt.Sprintf("%s ran %s in %d of %d invokes (%s %%)", target, invVersionText(v), k, n, invPercent(float64(k)/float64(n)))
		switch {
		case p <= 0:
			return Failf("%s; with no traffic routed to it, expected none", observed)
		case p >= 1:
			return Failf("%s; with all traffic routed to it, expected all %d", observed, n)
		}
		return Failf("%s; with %s %% routed to it, expected between %d and %d", observed, invPercent(p), lo, hi)
	}
	return nil
}

// invVersionOrder sorts versions by number, $LATEST last.
func invVersionOrder(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return x - y
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// invPercent writes a share as a percentage: "10", "12.5", "1.5".
func invPercent(share float64) string {
	return strconv.FormatFloat(math.Round(share*1000)/10, 'f', -1, 64)
}

// invMaxQuote bounds what a message quotes of a payload.
const invMaxQuote = 300

// invExcerpt quotes a payload for a message, cut to about 300 bytes.
func invExcerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "an empty answer"
	}
	return invClip(s)
}

// invClip cuts s to about invMaxQuote bytes on a rune boundary.
func invClip(s string) string {
	if len(s) <= invMaxQuote {
		return s
	}
	cut := invMaxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// invJSONable turns a YAML value into one encoding/json takes: mappings
// with non-string keys get their keys as text, and timestamps (which YAML
// decodes unquoted dates into) their text again.
func invJSONable(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := invJSONable(x)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := invJSONable(x)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			c, err := invJSONable(x)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case time.Time:
		if t.Equal(t.Truncate(24*time.Hour)) && t.Location() == time.UTC {
			return t.Format(time.DateOnly), nil
		}
		return t.Format(time.RFC3339Nano), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", t)
		}
	}
	return v, nil
}

// invMarshal is json.Marshal without HTML escaping, so that an event
// carries "<" as the author wrote it.
func invMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// invCanonical is a YAML value as decoded JSON (maps, lists, json.Number,
// strings, bools, nil), the form invSame compares.
func invCanonical(v any) (any, error) {
	j, err := invJSONable(v)
	if err != nil {
		return nil, err
	}
	b, err := invMarshal(j)
	if err != nil {
		return nil, err
	}
	return invDecode(b)
}

// invDecode decodes one JSON value, keeping numbers as written.
func invDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// invSame is JSON equality with numbers compared by value (1 = 1.0 = 1e0).
func invSame(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !invSame(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !invSame(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		p, okP := new(big.Rat).SetString(x.String())
		q, okQ := new(big.Rat).SetString(y.String())
		if !okP || !okQ {
			return x == y
		}
		return p.Cmp(q) == 0
	}
	return a == b
}

// invRender writes a decoded JSON value as Python's json.dumps does
// ({"placed": 20, "ok": true}), keys sorted, so that what a message
// expects reads like what a Python handler answers.
func invRender(v any) string {
	var b strings.Builder
	invRenderTo(&b, v)
	return b.String()
}

func invRenderTo(b *strings.Builder, v any) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			invRenderTo(b, k)
			b.WriteString(": ")
			invRenderTo(b, t[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			invRenderTo(b, x)
		}
		b.WriteByte(']')
	default:
		j, err := invMarshal(t)
		if err != nil {
			fmt.Fprint(b, t)
			return
		}
		b.Write(j)
	}
}
