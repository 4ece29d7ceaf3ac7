package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"lambdalab/calculator"
	"lambdalab/content"
	"lambdalab/facts"
	"lambdalab/static"
	"lambdalab/web/ui"
)

// The inputs a calculator starts with. Billing: a small shop's API, the
// worked example of the calculator package ($3.60 a month today, $5.60
// under the 100 ms rounding). Rates: the scaling lesson's 300 ms × 500.
var (
	billingDefaults = map[string]string{"memory": "512", "duration": "120", "requests": "3000000", "arch": calculator.X86}
	rpsDefaults     = map[string]string{"duration": "300", "instances": "500", "target": ""}
)

// calculatorFragment answers a calculator form's htmx request with the
// result alone (and each field's message): 400 when an input is wrong, so
// the status says what the body does.
func (s *Server) calculatorFragment(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.PathValue("name") {
	case "billing":
		c := billingCalc("", q, true)
		s.render(w, r, calcStatus(c.Result != nil), ui.BillingFragment(c))
	case "rps":
		c := rpsCalc("", q, true)
		s.render(w, r, calcStatus(c.Result != nil), ui.RPSFragment(c))
	default:
		s.notFoundPage(w, r)
	}
}

func calcStatus(ok bool) int {
	if ok {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// lessonCalculators builds the calculators a lesson places, from the query
// for the one whose form was submitted (its hidden calc field names it)
// and from the defaults for the others, and the scripts that let them
// update in place. A lesson without calculators gets no scripts.
func lessonCalculators(l *content.Lesson, q url.Values) (ui.CalculatorViews, []string) {
	var v ui.CalculatorViews
	var scripts []string
	for _, p := range l.Parts {
		switch p.Calculator {
		case "billing":
			v.Billing = billingCalc(l.Slug, q, q.Get("calc") == "billing")
		case "rps":
			v.RPS = rpsCalc(l.Slug, q, q.Get("calc") == "rps")
		default:
			continue
		}
		if scripts == nil {
			scripts = []string{static.URL("htmx.min.js"), static.URL("calculator.js")}
		}
	}
	return v, scripts
}

// calcInputs are a form's values and the messages for the ones that do not
// parse, before the calculator checks the ranges.
type calcInputs struct {
	values map[string]string
	errs   map[string]string
}

// readInputs takes each field from q when the form was submitted
// (fromQuery), the default otherwise.
func readInputs(q url.Values, fromQuery bool, defaults map[string]string) calcInputs {
	in := calcInputs{values: map[string]string{}, errs: map[string]string{}}
	for name, def := range defaults {
		if fromQuery {
			in.values[name] = strings.TrimSpace(q.Get(name))
		} else {
			in.values[name] = def
		}
	}
	return in
}

// number reads a field as a number, forgiving the thousands separators a
// person types ("3,000,000"). Empty is an error unless optional (then 0).
func (in calcInputs) number(name, what string, optional bool) float64 {
	s := strings.NewReplacer(",", "", "_", "", " ", "").Replace(in.values[name])
	if s == "" && optional {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if s == "" || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		in.errs[name] = "Enter " + what + "."
		return 0
	}
	return v
}

// whole reads a field as a whole number.
func (in calcInputs) whole(name, what string) int64 {
	v := in.number(name, what, false)
	if _, bad := in.errs[name]; bad {
		return 0
	}
	if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		in.errs[name] = "Enter " + what + " (a whole number)."
		return 0
	}
	return int64(v)
}

// merge adds the calculator's range errors for the fields that parsed; a
// field that did not parse keeps its own message.
func (in calcInputs) merge(err error) {
	var errs calculator.Errors
	if !errors.As(err, &errs) {
		return
	}
	for _, f := range errs {
		if _, ok := in.errs[f.Field]; !ok {
			in.errs[f.Field] = f.Message
		}
	}
}

func billingCalc(slug string, q url.Values, fromQuery bool) ui.BillingCalc {
	in := readInputs(q, fromQuery, billingDefaults)
	free := fromQuery && q.Get("free") != ""
	bi := calculator.BillingInput{
		MemoryMB:         int(in.whole("memory", "the memory in MB, for example 512")),
		DurationMS:       in.number("duration", "the average duration in milliseconds, for example 120", false),
		RequestsPerMonth: in.whole("requests", "the requests a month, for example 3000000"),
		Arch:             in.values["arch"],
		FreeTier:         free,
	}
	c := ui.BillingCalc{
		CalcForm:     ui.CalcForm{Lesson: slug, Values: in.values, Errors: in.errs},
		FreeTier:     free,
		FreeTierNote: factText("free-requests") + " and " + factText("free-gb-seconds") + " a month",
		PricesAsOf:   facts.PricesAsOf,
	}
	res, err := calculator.Billing(bi)
	in.merge(err)
	if err != nil || len(in.errs) > 0 {
		return c
	}
	c.Result = &ui.BillingTable{
		Today:            billColumn(res.Today),
		Old:              billColumn(res.Old),
		Extra:            formatUSD(res.ExtraUSD),
		Same:             math.Abs(res.ExtraUSD) < 1e-12,
		PricePerGBSecond: "$" + strconv.FormatFloat(res.PricePerGBSecond, 'f', -1, 64),
		FreeTier:         res.Input.FreeTier,
		BeyondFirstTier:  res.BeyondFirstTier,
	}
	return c
}

func billColumn(b calculator.Bill) ui.BillColumn {
	return ui.BillColumn{
		BilledMS:  facts.Group(b.BilledMS) + " ms",
		GBSeconds: billGBs(b.GBSeconds) + " GB-s",
		Compute:   formatUSD(b.ComputeUSD),
		Requests:  formatUSD(b.RequestsUSD),
		Total:     formatUSD(b.TotalUSD),
	}
}

func rpsCalc(slug string, q url.Values, fromQuery bool) ui.RPSCalc {
	in := readInputs(q, fromQuery, rpsDefaults)
	ri := calculator.RPSInput{
		DurationMS: in.number("duration", "the average duration in milliseconds, for example 300", false),
		Instances:  int(in.whole("instances", "the number of instances, for example 500")),
		TargetRPS:  in.number("target", "a target rate in requests a second, or leave it empty", true),
	}
	c := ui.RPSCalc{CalcForm: ui.CalcForm{Lesson: slug, Values: in.values, Errors: in.errs}}
	res, err := calculator.RPS(ri)
	in.merge(err)
	if err != nil || len(in.errs) > 0 {
		return c
	}
	t := &ui.RPSTable{
		PerInstance: billSig(res.PerInstanceRPS, 3, 1),
		Sustained:   billSig(res.SustainedRPS, 3, 1),
		Instances:   facts.Group(int64(ri.Instances)),
		Duration:    billSig(ri.DurationMS, 3, 2),
	}
	if ri.TargetRPS > 0 {
		t.Target = billSig(ri.TargetRPS, 3, 2)
		t.Needed = facts.Group(res.InstancesNeeded)
	}
	if res.OverAccountDefault {
		t.AccountDefault = facts.Group(facts.AWSAccountConcurrency)
	}
	c.Result = t
	return c
}

// factText is a fact as lessons quote it. The IDs are constants of this
// file, so a missing one is a programming error the tests catch.
func factText(id string) string {
	f, _ := facts.Lookup(id)
	return f.Text
}
