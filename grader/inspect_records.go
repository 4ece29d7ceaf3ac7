package grader

// Inspections of what happened when the learner's functions ran: the
// invocation records Lambda keeps (concurrency, throttles, cold starts,
// outcomes, versions) and the X-Ray traces of a function.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"lambdalab/cloud/xray"
	"lambdalab/labs"
	"lambdalab/store"
)

// settledRecords reads fn's invocation records since a time. The sandbox
// stores a record off the invoke path a moment after the invoke returns:
// the records are flushed first, or, without a flush, read until two reads
// a little apart agree (about a second at most).
func settledRecords(ctx context.Context, env *Env, fn string, since time.Time) ([]store.Invocation, error) {
	if env.flush != nil {
		if err := env.flush(ctx); err != nil {
			return nil, fmt.Errorf("flush invocation records: %w", err)
		}
		return env.DB.Invocations(ctx, env.Account, fn, since)
	}
	prev := -1
	for range 20 {
		recs, err := env.DB.Invocations(ctx, env.Account, fn, since)
		if err != nil {
			return nil, fmt.Errorf("records of %s: %w", fn, err)
		}
		if len(recs) == prev {
			return recs, nil
		}
		prev = len(recs)
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	return env.DB.Invocations(ctx, env.Account, fn, since)
}

// A recursive loop runs one hop at a time (an S3 write, its event, the
// next run), and Lambda stops it only at about the 16th: a judgement of
// whether it was stopped made while the chain still runs would be early.
// A hop's event is in Lambda's queue of asynchronous events from before
// the write that causes it returns until its run has finished, so the
// chain has ended once that queue holds no event. The queue is shared by
// every account, though, and in a busy classroom rarely empty; so the
// function also counts as settled once it has been quiet for loopQuiet
// (no record ended since). A hop takes about a second here (delivery,
// often a cold start because the writing run is still busy, the run):
// loopQuiet leaves room for a loaded machine. At most loopWait is spent.
const (
	loopQuiet = 3 * time.Second
	loopWait  = 20 * time.Second
)

// quietRecords returns fn's records since a time once no asynchronous
// event is pending, fn has been quiet for loopQuiet (with no record yet,
// since the check began), Lambda stopped a loop of it, or loopWait passed
// (leaving a second of ctx's deadline for the rest of the step).
func quietRecords(ctx context.Context, env *Env, fn string, since time.Time) ([]store.Invocation, error) {
	limit := time.Now().Add(loopWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-time.Second).Before(limit) {
		limit = d.Add(-time.Second)
	}
	for {
		recs, err := settledRecords(ctx, env, fn, since)
		if err != nil {
			return nil, err
		}
		last := env.CheckStart
		stopped := false
		for i, r := range recs {
			stopped = stopped || r.Outcome == "recursion-stopped"
			if i == 0 || r.End.After(last) {
				last = r.End
			}
		}
		pending, err := env.Lambda.PendingEvents(ctx)
		if err != nil {
			return nil, err
		}
		if stopped || pending == 0 || time.Since(last) >= loopQuiet || !time.Now().Before(limit) {
			return recs, nil
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// ran reports whether an instance ran the invocation: neither a throttle
// nor an event Lambda stopped.
func ran(r store.Invocation) bool { return r.InstanceID != "" }

// peakConcurrency is the largest number of [Start, End) intervals of the
// records that ran that overlap at one instant.
func peakConcurrency(recs []store.Invocation) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, r := range recs {
		if !ran(r) {
			continue
		}
		end := r.End
		if !end.After(r.Start) {
			end = r.Start.Add(time.Nanosecond) // an instant still counts once
		}
		edges = append(edges, edge{r.Start, 1}, edge{end, -1})
	}
	// An end at the instant of a start frees the slot first.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta)
	})
	peak, n := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

// expectRecordsArgs are expect_records's fields; each one given must hold
// for the function's records since the check (or the grading) began.
type expectRecordsArgs struct {
	Function         string             `yaml:"function" lab:"function"`
	Since            string             `yaml:"since"`
	Count            *int               `yaml:"count"`
	MinCount         *int               `yaml:"min_count"`
	MaxConcurrency   *int               `yaml:"max_concurrency"`
	MinConcurrency   *int               `yaml:"min_concurrency"`
	MinThrottles     *int               `yaml:"min_throttles"`
	MaxThrottles     *int               `yaml:"max_throttles"`
	MinCold          *int               `yaml:"min_cold"`
	MaxCold          *int               `yaml:"max_cold"`
	MinRetries       *int               `yaml:"min_retries"`
	MaxRetries       *int               `yaml:"max_retries"`
	Outcomes         map[string]int     `yaml:"outcomes"`
	MinSuccess       *int               `yaml:"min_success"`
	MaxErrors        *int               `yaml:"max_errors"`
	Versions         map[string]float64 `yaml:"versions"`
	RecursionStopped *bool              `yaml:"recursion_stopped"`
}

// outcomeNames are the outcomes an invocation record may have.
var outcomeNames = []string{"success", "error", "timeout", "exit", "too-large", "throttled", "recursion-stopped"}

// Validate checks the fields the loader can.
func (a *expectRecordsArgs) Validate() error {
	if a.Function == "" {
		return errors.New("function is required")
	}
	if err := validSince(a.Since); err != nil {
		return err
	}
	for o := range a.Outcomes {
		if !slices.Contains(outcomeNames, o) {
			return fmt.Errorf("outcomes: %q is not an outcome (%s)", o, strings.Join(outcomeNames, ", "))
		}
	}
	sum := 0.0
	for v, w := range a.Versions {
		if !isVersion(v) && v != "$LATEST" {
			return fmt.Errorf("versions: %q is not a version number or $LATEST", v)
		}
		if w < 0 || w > 1 {
			return fmt.Errorf("versions: share %v of %s is not between 0 and 1", w, v)
		}
		sum += w
	}
	if sum > 1.0001 {
		return fmt.Errorf("versions: the shares add up to %v, more than 1", sum)
	}
	return nil
}

func runExpectRecords(ctx context.Context, env *Env, a *expectRecordsArgs) error {
	since, when := sinceTime(env, a.Since, "check")
	read := settledRecords
	if a.RecursionStopped != nil {
		read = quietRecords
	}
	recs, err := read(ctx, env, a.Function, since)
	if err != nil {
		return err
	}
	fn := a.Function
	var invokes, throttles, cold, success, stopped int
	var runs []store.Invocation
	outcomes := map[string]int{}
	errorTypes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
		switch {
		case r.Outcome == "recursion-stopped":
			stopped++
			continue
		case r.Outcome == "throttled":
			throttles++
		case r.Outcome == "success":
			success++
		default:
			errorTypes[cmp.Or(r.ErrorType, r.Outcome)]++
		}
		invokes++
		if ran(r) {
			runs = append(runs, r)
			if r.Cold {
				cold++
			}
		}
	}
	failed := len(runs) - success
	// An asynchronous event keeps its request id across Lambda's tries, so
	// every record of an id after its first is a retry.
	tries := map[string]int{}
	for _, r := range recs {
		tries[r.RequestID]++
	}
	retries := 0
	for _, n := range tries {
		retries += n - 1
	}
	times := func(n int) string { return countOf(n, "time", "times") }
	switch {
	case a.Count != nil && invokes != *a.Count:
		return Failf("%s was invoked %s %s; the lab expects %d", fn, times(invokes), when, *a.Count)
	case a.MinCount != nil && invokes < *a.MinCount:
		return Failf("%s was invoked %s %s; the lab expects at least %d", fn, times(invokes), when, *a.MinCount)
	}
	for _, o := range slices.Sorted(maps.Keys(a.Outcomes)) {
		if got, want := outcomes[o], a.Outcomes[o]; got != want {
			return Failf("%s of %s %s ended with outcome %s; the lab expects %d (outcomes seen: %s)",
				countOf(got, "invoke", "invokes"), fn, when, o, want, countsText(outcomes))
		}
	}
	if a.MinSuccess != nil && success < *a.MinSuccess {
		msg := fmt.Sprintf("%s of %s %s succeeded; the lab expects at least %d", countOf(success, "invoke", "invokes"), fn, when, *a.MinSuccess)
		if failed > 0 || throttles > 0 {
			msg += fmt.Sprintf(" (%s failed%s, %d throttled)", countOf(failed, "invoke", "invokes"), errorsText(errorTypes), throttles)
		}
		return Failf("%s", msg)
	}
	if a.MaxErrors != nil && failed > *a.MaxErrors {
		return Failf("%s of %s failed %s%s; the lab allows at most %d", countOf(failed, "invoke", "invokes"), fn, when, errorsText(errorTypes), *a.MaxErrors)
	}
	if a.MinThrottles != nil && throttles < *a.MinThrottles {
		reserved := "no reserved concurrency (so it may use all of the account's)"
		if c, err := env.Lambda.GetFunctionConcurrency(ctx, env.Account, fn); err == nil && c.ReservedConcurrentExecutions != nil {
			reserved = fmt.Sprintf("a reserved concurrency of %d", *c.ReservedConcurrentExecutions)
		}
		if throttles == 0 {
			return Failf("no invoke of %s was throttled %s: with %s and %s, at least %d should have been",
				fn, when, countOf(invokes, "invoke", "invokes"), reserved, *a.MinThrottles)
		}
		return Failf("only %s of %s %s throttled %s: with %s and %s, at least %d should have been",
			countOf(throttles, "invoke", "invokes"), fn, wasWere(throttles), when, countOf(invokes, "invoke", "invokes"), reserved, *a.MinThrottles)
	}
	if a.MaxThrottles != nil && throttles > *a.MaxThrottles {
		return Failf("%s of %s %s %s throttled (TooManyRequestsException); the lab allows at most %d",
			countOf(throttles, "invoke", "invokes"), fn, when, wasWere(throttles), *a.MaxThrottles)
	}
	if a.MinCold != nil && cold < *a.MinCold {
		return Failf("%s of %s %s had a cold start; the lab expects at least %d", countOf(cold, "invoke", "invokes"), fn, when, *a.MinCold)
	}
	if a.MaxCold != nil && cold > *a.MaxCold {
		return Failf("%s of %s %s had a cold start; the lab allows at most %d", countOf(cold, "invoke", "invokes"), fn, when, *a.MaxCold)
	}
	if a.MinRetries != nil && retries < *a.MinRetries {
		return Failf("Lambda retried events of %s %s %s; the lab expects at least %d retries", fn, times(retries), when, *a.MinRetries)
	}
	if a.MaxRetries != nil && retries > *a.MaxRetries {
		return Failf("Lambda retried events of %s %s %s; the lab allows at most %d retries", fn, times(retries), when, *a.MaxRetries)
	}
	if a.MaxConcurrency != nil || a.MinConcurrency != nil {
		peak := peakConcurrency(runs)
		if a.MaxConcurrency != nil && peak > *a.MaxConcurrency {
			return Failf("%s ran up to %d at once %s (the lab allows at most %d)", fn, peak, when, *a.MaxConcurrency)
		}
		if a.MinConcurrency != nil && peak < *a.MinConcurrency {
			return Failf("%s ran at most %d at once %s; the lab expects at least %d at once", fn, peak, when, *a.MinConcurrency)
		}
	}
	if len(a.Versions) > 0 {
		n := len(runs)
		if n == 0 {
			return Failf("%s did not run %s, so its split between versions cannot be judged", fn, when)
		}
		byVersion := map[string]int{}
		for _, r := range runs {
			byVersion[r.Version]++
		}
		for _, v := range slices.Sorted(maps.Keys(a.Versions)) {
			p := a.Versions[v]
			got := byVersion[v]
			// The bound of invoke's versions expectation (invBounds), so that a
			// split judged either way fails a correct weighting as rarely.
			if lo, hi := invBounds(n, p); got < lo || got > hi {
				return Failf("of the %s of %s that ran %s, %d ran %s (%s); the lab expects about %s (%d to %d of %d)",
					countOf(n, "invoke", "invokes"), fn, when, got, versionName(v), shareText(float64(got)/float64(n)), shareText(p), lo, hi, n)
			}
		}
	}
	if a.RecursionStopped != nil {
		if *a.RecursionStopped && stopped == 0 {
			return Failf("Lambda did not stop a recursive loop of %s %s", fn, when)
		}
		if !*a.RecursionStopped && stopped > 0 {
			return Failf("Lambda detected a recursive loop (S3 → function %s → the same bucket) %s and stopped it, as its recursive loop detection does", fn, when)
		}
	}
	return nil
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// countsText shows counts by name: "success 3, error 1".
func countsText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// errorsText shows the error types of failed invokes: " (Runtime.ExitError ×2)".
func errorsText(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// expectTraceArgs are expect_trace's fields: one trace of the function
// since the check began must have all of them.
type expectTraceArgs struct {
	Function    string         `yaml:"function" lab:"function"`
	Within      labs.Duration  `yaml:"within"`
	Subsegments []string       `yaml:"subsegments"`
	Annotations map[string]any `yaml:"annotations"`
	Metadata    []string       `yaml:"metadata"`
}

// Validate checks the fields the loader can.
func (a *expectTraceArgs) Validate() error {
	if a.Function == "" {
		return errors.New("function is required")
	}
	for k, v := range a.Annotations {
		switch v.(type) {
		case string, bool, int, int64, float64, uint64:
		default:
			return fmt.Errorf("annotations: %s is %v; X-Ray annotations are strings, numbers or booleans", k, v)
		}
	}
	return nil
}

// traceFindings is what one trace has of what expect_trace wants.
type traceFindings struct {
	id          string
	start       time.Time
	names       []string       // subsegment names, in tree order
	annotations map[string]any // every annotation of every entity
	metadata    map[string]bool
	missing     string // the first thing wanted that it lacks; "" when none
	score       int    // how many wanted things it has
}

func findings(t *xray.Trace, a *expectTraceArgs) traceFindings {
	f := traceFindings{id: t.ID, start: t.Start, annotations: map[string]any{}, metadata: map[string]bool{}}
	var walk func(n *xray.Node)
	walk = func(n *xray.Node) {
		if !n.Segment && !slices.Contains(f.names, n.Name) {
			f.names = append(f.names, n.Name)
		}
		for k, v := range n.Annotations {
			f.annotations[k] = v
		}
		for ns, v := range n.Metadata {
			f.metadata[ns] = true
			if m, ok := v.(map[string]any); ok {
				for k := range m {
					f.metadata[k] = true
					f.metadata[ns+"."+k] = true
				}
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	for _, s := range t.Segments {
		walk(s)
	}
	for _, name := range a.Subsegments {
		if slices.Contains(f.names, name) {
			f.score++
		} else if f.missing == "" {
			f.missing = fmt.Sprintf("no subsegment named %s (its subsegments: %s)", name, listing(f.names, 12))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.Annotations)) {
		want := a.Annotations[k]
		got, ok := f.annotations[k]
		switch {
		case !ok:
			if f.missing == "" {
				f.missing = fmt.Sprintf("no annotation %s (annotations: %s)", k, listing(slices.Sorted(maps.Keys(f.annotations)), 8))
			}
		case !sameAnnotation(got, want):
			if f.missing == "" {
				f.missing = fmt.Sprintf("the annotation %s = %s where the lab wants %s", k, jsonText(got), jsonText(want))
			}
		default:
			f.score++
		}
	}
	for _, k := range a.Metadata {
		if f.metadata[k] {
			f.score++
		} else if f.missing == "" {
			var keys []string
			for m := range f.metadata {
				if !strings.Contains(m, ".") {
					keys = append(keys, m)
				}
			}
			slices.Sort(keys)
			f.missing = fmt.Sprintf("no metadata %s (metadata: %s)", k, listing(keys, 8))
		}
	}
	return f
}

// sameAnnotation compares an annotation as X-Ray's filters do: numbers as
// numbers, whatever their Go type.
func sameAnnotation(got, want any) bool {
	g, gok := number(got)
	w, wok := number(want)
	if gok || wok {
		return gok && wok && g == w
	}
	return got == want
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

func runExpectTrace(ctx context.Context, env *Env, a *expectTraceArgs) error {
	within := a.Within.D()
	if within == 0 {
		within = 5 * time.Second
	}
	deadline := time.Now().Add(within)
	filter := fmt.Sprintf("service(%q)", a.Function)
	var best *traceFindings
	seen := map[string]traceFindings{}
	for {
		if err := env.XRay.Flush(ctx); err != nil {
			return fmt.Errorf("flush traces: %w", err)
		}
		sums, err := env.XRay.Traces(ctx, env.Account, env.CheckStart, time.Now().Add(time.Second), filter)
		if err != nil {
			return fmt.Errorf("traces of %s: %w", a.Function, err)
		}
		for _, s := range sums {
			t, err := env.XRay.Trace(ctx, env.Account, s.ID)
			if err != nil {
				return fmt.Errorf("trace %s: %w", s.ID, err)
			}
			f := findings(t, a)
			if f.missing == "" {
				return nil
			}
			seen[s.ID] = f
		}
		if !time.Now().Before(deadline) {
			break
		}
		if err := pause(ctx, min(100*time.Millisecond, time.Until(deadline))); err != nil {
			return err
		}
	}
	for _, f := range seen {
		if best == nil || f.score > best.score || f.score == best.score && f.start.After(best.start) {
			best = &f
		}
	}
	if best != nil {
		which := "the latest trace"
		if len(seen) > 1 {
			which = fmt.Sprintf("the closest of its %d traces", len(seen))
		}
		if len(seen) == 1 {
			which = "its trace"
		}
		return Failf("no trace of %s since the check began has all the lab wants: %s (%s) has %s", a.Function, which, best.id, best.missing)
	}
	return noTrace(ctx, env, a.Function, within)
}

// noTrace explains why a function has no trace: usually tracing is
// PassThrough, so Lambda records nothing.
func noTrace(ctx context.Context, env *Env, fn string, within time.Duration) error {
	cfg, err := env.Lambda.GetFunctionConfiguration(ctx, env.Account, fn, "")
	if err != nil {
		return inspectRefusal(err, "function "+fn)
	}
	if cfg.TracingConfig.Mode != "Active" {
		return Failf("no trace of %s was recorded within %s: its tracing mode is %s, so Lambda records no trace of it (set it to Active)",
			fn, within, cfg.TracingConfig.Mode)
	}
	recs, err := settledRecords(ctx, env, fn, env.CheckStart)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(recs, ran) {
		return Failf("no trace of %s was recorded within %s: it did not run since the check began", fn, within)
	}
	return Failf("no trace of %s was recorded within %s, though its tracing is Active and it ran %s since the check began",
		fn, within, countOf(len(recs), "time", "times"))
}
