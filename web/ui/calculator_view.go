package ui

// CalculatorViews are the calculators a lesson shows, ready to lay out;
// a lesson part names one of them ("billing", "rps").
type CalculatorViews struct {
	Billing BillingCalc
	RPS     RPSCalc
}

// CalcForm is what every calculator form shares: where it submits without
// JavaScript and what each field holds and says.
type CalcForm struct {
	// Lesson is the slug of the lesson the calculator sits in: without
	// htmx the form reloads that lesson with the inputs in the query.
	Lesson string
	// Values are the inputs as typed (or the defaults), by field name, to
	// refill the form.
	Values map[string]string
	// Errors are the messages for wrong inputs, by field name.
	Errors map[string]string
}

// BillingCalc is the monthly cost calculator.
type BillingCalc struct {
	CalcForm
	FreeTier bool
	// Result is nil when an input is wrong.
	Result *BillingTable
	// FreeTierNote says what the free tier takes off ("1 million requests
	// and 400,000 GB-seconds a month") and PricesAsOf when prices were read.
	FreeTierNote, PricesAsOf string
}

// BillingTable is a month's bill today and under the 100 ms rounding, all
// figures formatted.
type BillingTable struct {
	Today, Old BillColumn
	// Extra is what the old rounding adds ("$2.00"); Same says it adds
	// nothing (the durations were already whole 100 ms units, or the free
	// tier absorbs both).
	Extra            string
	Same             bool
	PricePerGBSecond string
	FreeTier         bool
	BeyondFirstTier  bool
}

// BillColumn is one way of rounding.
type BillColumn struct {
	BilledMS, GBSeconds, Compute, Requests, Total string
}

// RPSCalc is the requests-per-second calculator.
type RPSCalc struct {
	CalcForm
	Result *RPSTable // nil when an input is wrong
}

// RPSTable is the rate arithmetic, formatted.
type RPSTable struct {
	PerInstance, Sustained string
	// Instances and Duration repeat the inputs for the sentence under the
	// table.
	Instances, Duration string
	// Target and Needed are set when a target rate was asked for.
	Target, Needed string
	// AccountDefault is set when Needed (or Instances) passes a real
	// account's default concurrency, which it then names ("1,000").
	AccountDefault string
}
