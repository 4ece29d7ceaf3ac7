package ui

// CLISetup is the AWS CLI setup of the account page, secret included.
type CLISetup struct {
	Profile   string // the named profile the lines write
	Configure string // `aws configure set` lines, one per setting
	// Example is a first command with the endpoint given on the command
	// line, as CLIs older than v2.13 need on every call.
	Example string
}

// BillingView is the account page's billing totals, every value ready to
// print: the handler computes and formats them.
type BillingView struct {
	Month string // "March 2026": the calendar month (UTC) of ThisMonth
	ThisMonth,
	AllTime BillingTotals
	// AnyThrottled says some invocation was ever throttled: the totals then
	// show how many (free, as on Lambda).
	AnyThrottled bool
	FreeTier     FreeTierUse
	// Provisioned lists the provisioned concurrency configured now, with
	// what each has cost; empty when there is none.
	Provisioned []ProvisionedCharge
	PricesAsOf  string // when the prices were read
	PricingURL  string
	// The prices the page names, as written: "$0.20 per million".
	RequestPrice, ProvisionedPrice string
}

// BillingTotals is one column of the totals.
type BillingTotals struct {
	Requests    string // invocations that ran
	Throttled   string // refused invocations, free
	GBSeconds   string
	Compute     string // duration cost, on-demand and on provisioned instances
	RequestCost string
	Provisioned string // the charge for configured provisioned concurrency; "" when none
	Total       string // before the free tier
}

// FreeTierUse is how much of a month's free tier the account used.
type FreeTierUse struct {
	Requests, RequestsLimit   string // "3", "1,000,000"
	RequestsShare             string // "0.0003%"
	GBSeconds, GBSecondsLimit string
	GBSecondsShare            string
	Covered                   string // what the free tier pays of the month's total
	ToPay                     string // what is left above it, provisioned concurrency included
}

// ProvisionedCharge is one provisioned concurrency configuration and what
// keeping it has cost.
type ProvisionedCharge struct {
	Function, Qualifier string
	Instances           int
	MemoryMB            int
	Since               string // when it was last set, UTC
	MonthGBSeconds      string
	MonthCost           string
	AllGBSeconds        string
	AllCost             string
}
