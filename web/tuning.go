package web

// Power tuning: "try memory sizes" runs the event box's event at each of
// Lambda's telling memory sizes and shows what each costs and how fast it
// is. Memory buys CPU in proportion (one full vCPU at 1,769 MB), so a
// CPU-bound handler can be both faster and cheaper with more memory.
//
// The learner's function is never changed and nothing is published in
// their account: the grader reads their versions and configuration. Each
// run makes a temporary copy of the function (same code and configuration),
// moves it through the sizes, and deletes it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lambdalab/chart"
	"lambdalab/cloud/lambda"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// tuningSizes are the memory sizes tried, in MB: the smallest, doublings,
// one full vCPU (1,769 MB) and the largest that still runs on most
// machines' budgets.
var tuningSizes = []int{128, 256, 512, 1024, 1769, 3008}

const (
	// tuneWarmRuns is how many warm invocations follow the cold one at
	// each size; their average is the size's duration.
	tuneWarmRuns = 3
	// tuneBudget bounds a whole run: no invocation starts after it.
	tuneBudget = 60 * time.Second
	// maxTunings is how many runs the machine takes at once; each holds an
	// instance of up to 3 GB while it runs.
	maxTunings = 2
)

// tune runs power tuning for the chosen function (POST /labs/{lab}/tune).
// Every invocation counts against the learner's invoke budget.
func (s *Server) tune(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.functionForm(w, r, maxInvokeForm)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actInvoke) {
		return
	}
	f := readInvokeForm(r)
	payload, problem := eventJSON(f.event, 0)
	if problem != "" {
		s.actionRefused(w, r, lc, "test", http.StatusUnprocessableEntity, problem)
		return
	}
	cs := s.console()
	if _, running := cs.tuning.LoadOrStore(lc.User.ID, true); running {
		s.actionRefused(w, r, lc, "test", http.StatusConflict,
			"You are already trying memory sizes; wait for that run to finish (it takes up to a minute), then try again.")
		return
	}
	defer cs.tuning.Delete(lc.User.ID)
	select {
	case cs.tuneSlots <- struct{}{}:
		defer func() { <-cs.tuneSlots }()
	default:
		s.actionRefused(w, r, lc, "test", http.StatusServiceUnavailable,
			"The lambdalab machine is busy: other learners are trying memory sizes right now. Try again in a minute.")
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(tuneBudget + 16*time.Minute))
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !store.ValidTestEventName(name) {
		name = "the event box"
	}
	p, refused, err := s.powerTune(r.Context(), lc, f.qualifier, payload)
	switch {
	case err != nil:
		s.serverError(w, r, err)
		return
	case refused != "":
		s.actionRefused(w, r, lc, "test", http.StatusUnprocessableEntity, refused)
		return
	}
	p.EventName = name
	if _, err := s.db.InsertPowerTuning(r.Context(), p); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.actionDone(w, r, lc, "test", "Tried "+plural(measuredSizes(p), "memory size", "memory sizes")+". "+tuningSummary(p.Sizes))
}

// takeInvoke counts one more invocation against the learner's budget, or
// reports that it is spent.
func (s *Server) takeInvoke(u *store.User) bool {
	key := "user:" + itoa(int(u.ID))
	return s.actions.invoke.take(key) == 0
}

// powerTune measures the function at every size on a temporary copy.
// refused is the learner's reason when it could not start.
func (s *Server) powerTune(ctx context.Context, lc *labCtx, qualifier string, payload []byte) (p store.PowerTuning, refused string, err error) {
	svc := s.cloud.Lambda
	fn := lc.Fn.Name
	got, err := svc.GetFunction(ctx, lc.Account, fn, qualifier, func(string) string { return "" })
	if err != nil {
		if why, ok := refusal(err); ok {
			return p, why, nil
		}
		return p, "", fmt.Errorf("power tuning %s: %w", fn, err)
	}
	c := got.Configuration
	code, err := svc.OpenCode(ctx, c.CodeSha256)
	if err != nil {
		return p, "", fmt.Errorf("power tuning %s: open code: %w", fn, err)
	}
	zip, err := io.ReadAll(code)
	code.Close()
	if err != nil {
		return p, "", fmt.Errorf("power tuning %s: read code: %w", fn, err)
	}
	tmp := tuningCopyName(fn)
	in := lambda.CreateFunctionInput{FunctionName: tmp, Code: lambda.FunctionCode{ZipFile: zip}}
	desc := "lambdalab's temporary copy of " + fn + " for power tuning; deleted when the run ends"
	in.Runtime, in.Handler, in.Role, in.Description = &c.Runtime, &c.Handler, &c.Role, &desc
	in.MemorySize, in.Timeout = &tuningSizes[0], &c.Timeout
	in.Environment, in.Architectures = c.Environment, c.Architectures
	in.EphemeralStorage = &c.EphemeralStorage
	if len(c.Layers) > 0 {
		arns := make([]string, len(c.Layers))
		for i, l := range c.Layers {
			arns[i] = l.Arn
		}
		in.Layers = &arns
	}
	// No X-Ray traces of the copy: they would sit among the learner's own
	// in their account.
	in.TracingConfig = &lambda.TracingConfig{Mode: "PassThrough"}
	if _, err := svc.CreateFunction(ctx, lc.Account, in); err != nil {
		if why, ok := refusal(err); ok {
			return p, "Could not make the temporary copy of " + fn + ": " + why, nil
		}
		return p, "", fmt.Errorf("power tuning %s: create copy: %w", fn, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := svc.DeleteFunction(cctx, lc.Account, tmp, ""); err != nil {
			s.logger.WarnContext(ctx, "delete power tuning copy", "account", lc.Account, "function", tmp, "err", err)
		}
	}()

	p = store.PowerTuning{UserID: lc.User.ID, Lab: lc.Lab.ID, Function: fn}
	start := time.Now()
	first := true // the handler's allow counted the first invocation
	var stopped string
	for i, mb := range tuningSizes {
		size := store.PowerTuningSize{MemoryMB: mb}
		if stopped != "" {
			size.Failed = "skipped"
			p.Sizes = append(p.Sizes, size)
			continue
		}
		if i > 0 {
			m := mb
			if _, err := svc.UpdateFunctionConfiguration(ctx, lc.Account, tmp, lambda.ConfigInput{MemorySize: &m}); err != nil {
				return p, "", fmt.Errorf("power tuning %s: set %d MB: %w", fn, mb, err)
			}
		}
		var warmMS, warmBilled, warmCost float64
		warm := 0
		for run := 0; run <= tuneWarmRuns; run++ {
			if time.Since(start) > tuneBudget {
				stopped = fmt.Sprintf("Stopped after %d seconds, the most one run may take; the sizes not reached are marked.", int(tuneBudget.Seconds()))
				break
			}
			if !first && !s.takeInvoke(lc.User) {
				stopped = "Stopped: you have made the most invokes allowed in a minute; the sizes not reached are marked."
				break
			}
			first = false
			out, err := svc.Invoke(ctx, lc.Account, lambda.InvokeInput{FunctionName: tmp, Payload: payload})
			if errors.Is(err, lambda.ErrCapacity) {
				if i == 0 && run == 0 {
					return p, "The lambdalab machine is running as many function instances as it can hold, so memory sizes cannot be tried now. This is not a Lambda limit of your account; try again in a minute.", nil
				}
				size.Failed = "busy"
				break
			}
			if err != nil {
				le, ok := lambda.AsError(err)
				if !ok {
					return p, "", fmt.Errorf("power tuning %s at %d MB: %w", fn, mb, err)
				}
				size.Failed = le.Type
				break
			}
			rec := out.Record
			size.Runs++
			size.MaxMemoryMB = max(size.MaxMemoryMB, rec.MaxMemoryMB)
			if run == 0 {
				size.ColdMS, size.InitMS, size.CostUSD = rec.DurationMS, rec.InitMS, rec.CostUSD
			} else {
				warm++
				warmMS += rec.DurationMS
				warmBilled += float64(rec.BilledMS)
				warmCost += rec.CostUSD
			}
			s.publishTune(ctx, lc, fmt.Sprintf("%s, run %d of %d (%s): %.2f ms, %s",
				formatMB(mb), run+1, tuneWarmRuns+1, coldWord(rec.Cold), rec.DurationMS, formatUSD(rec.CostUSD)))
			if out.FunctionError != "" {
				size.Failed = rec.ErrorType
				if size.Failed == "" {
					size.Failed = "Unhandled"
				}
				break
			}
		}
		if warm > 0 {
			size.WarmMS, size.WarmBilledMS, size.CostUSD = warmMS/float64(warm), warmBilled/float64(warm), warmCost/float64(warm)
		}
		if size.Runs == 0 && size.Failed == "" {
			size.Failed = "skipped"
		}
		p.Sizes = append(p.Sizes, size)
	}
	p.Note = "Each size ran once cold, then " + strconv.Itoa(tuneWarmRuns) + " times warm; the duration and cost shown are the warm runs' average. "
	p.Note += "Measured on a temporary copy of " + fn + " with the same code and configuration, deleted afterwards; your function was not changed."
	if stopped != "" {
		p.Note += " " + stopped
	}
	return p, "", nil
}

func coldWord(cold bool) string {
	if cold {
		return "cold"
	}
	return "warm"
}

// tuningCopyName names the temporary copy: the function's name and a
// random suffix, within Lambda's 64 characters.
func tuningCopyName(fn string) string {
	suffix := "-tuning-" + randomHex(3)
	if len(fn)+len(suffix) > 64 {
		fn = fn[:64-len(suffix)]
	}
	return fn + suffix
}

// consoleTune is a tune event's data.
type consoleTune struct {
	Function string `json:"function"`
	Text     string `json:"text"`
}

// publishTune shows a power-tuning run's progress in the learner's
// consoles.
func (s *Server) publishTune(_ context.Context, lc *labCtx, text string) {
	data, _ := json.Marshal(consoleTune{Function: lc.Fn.Name, Text: text})
	s.console().hub.publish(lc.Account, sseMessage{event: "tune", function: lc.Fn.Name, data: data})
}

// sizeDuration is the duration a size is judged by: the warm average, or
// the cold run when no warm one ran.
func sizeDuration(z store.PowerTuningSize) float64 {
	if z.WarmMS > 0 {
		return z.WarmMS
	}
	return z.ColdMS
}

// measured reports whether a size has numbers to compare.
func measured(z store.PowerTuningSize) bool { return z.Failed == "" && z.Runs > 0 }

func measuredSizes(p store.PowerTuning) int {
	n := 0
	for _, z := range p.Sizes {
		if measured(z) {
			n++
		}
	}
	return n
}

// cheapestFastest are the indexes of the cheapest and the fastest measured
// sizes; -1 when none was measured.
func cheapestFastest(sizes []store.PowerTuningSize) (cheap, fast int) {
	cheap, fast = -1, -1
	for i, z := range sizes {
		if !measured(z) {
			continue
		}
		if cheap < 0 || z.CostUSD < sizes[cheap].CostUSD {
			cheap = i
		}
		if fast < 0 || sizeDuration(z) < sizeDuration(sizes[fast]) {
			fast = i
		}
	}
	return cheap, fast
}

// tuningSummary names the cheapest and the fastest size in a sentence.
func tuningSummary(sizes []store.PowerTuningSize) string {
	cheap, fast := cheapestFastest(sizes)
	if cheap < 0 {
		return "No size ran successfully."
	}
	c, f := sizes[cheap], sizes[fast]
	if cheap == fast {
		return fmt.Sprintf("%s is both the cheapest (%s per invoke) and the fastest (%.2f ms).", formatMB(c.MemoryMB), formatUSD(c.CostUSD), sizeDuration(c))
	}
	return fmt.Sprintf("Cheapest: %s at %s per invoke. Fastest: %s at %.2f ms.", formatMB(c.MemoryMB), formatUSD(c.CostUSD), formatMB(f.MemoryMB), sizeDuration(f))
}

// formatMB is a memory size with a thousands separator: "1,769 MB".
func formatMB(mb int) string {
	s := strconv.Itoa(mb)
	if len(s) > 3 {
		s = s[:len(s)-3] + "," + s[len(s)-3:]
	}
	return s + " MB"
}

// failedWords says why a size has no numbers.
func failedWords(f string) string {
	switch f {
	case "":
		return ""
	case "busy":
		return "machine busy: no room for an instance this large now"
	case "skipped":
		return "not run"
	case "Sandbox.Timedout":
		return "timed out (Sandbox.Timedout)"
	case "Runtime.OutOfMemory":
		return "out of memory (Runtime.OutOfMemory)"
	case "TooManyRequestsException":
		return "throttled (TooManyRequestsException)"
	}
	return "failed (" + f + ")"
}

// tuningView shows a stored run: the chart, a table of the same numbers,
// the cheapest and the fastest marked.
func tuningView(p store.PowerTuning) *ui.TuningView {
	v := &ui.TuningView{When: formatTime(p.CreatedAt), EventName: p.EventName, Note: p.Note, Summary: tuningSummary(p.Sizes)}
	cheap, fast := cheapestFastest(p.Sizes)
	c := chart.PowerTuning{Title: "Duration and cost of " + p.Function + " by memory size"}
	for i, z := range p.Sizes {
		row := ui.TuningRow{Memory: formatMB(z.MemoryMB), Runs: strconv.Itoa(z.Runs), Failed: failedWords(z.Failed),
			Cheapest: i == cheap, Fastest: i == fast}
		if z.Runs > 0 {
			row.Cold = fmt.Sprintf("%.2f ms", z.ColdMS)
			if z.InitMS > 0 {
				row.Cold += fmt.Sprintf(" (+ %.2f ms init)", z.InitMS)
			}
			row.MaxMemory = formatMB(z.MaxMemoryMB)
			row.Cost = formatUSD(z.CostUSD)
		}
		if z.WarmMS > 0 {
			row.Warm = fmt.Sprintf("%.2f ms", z.WarmMS)
			row.Billed = fmt.Sprintf("%.0f ms", z.WarmBilledMS)
		}
		v.Rows = append(v.Rows, row)
		c.Points = append(c.Points, chart.PowerPoint{MemoryMB: z.MemoryMB, DurationMS: sizeDuration(z), CostUSD: z.CostUSD, Failed: !measured(z)})
	}
	v.SVG = c.SVG()
	return v
}
