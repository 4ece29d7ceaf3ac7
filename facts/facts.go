// Package facts is the one table of figures about real AWS Lambda that both
// the course and the emulator use: limits, defaults and prices. The sandbox
// and the services take their constants from here, and lessons quote them
// as {{fact ID}} (content resolves the placeholder from Table at load
// time), so a lesson cannot state a limit the emulator does not enforce.
//
// Figures that AWS changes over time carry AsOf (when they were read) and
// Source (the AWS page that owns them). The package imports nothing from
// lambdalab, so every other package may use it.
package facts

import (
	"sort"
	"strconv"
	"time"
)

// Configuration limits (reference/lambda-behaviour.md §0 and §7).
const (
	MinMemoryMB     = 128
	MaxMemoryMB     = 10240
	DefaultMemoryMB = 128
	// MBPerVCPU is the memory size at which a function gets one full vCPU.
	MBPerVCPU = 1769
	MaxVCPUs  = 6

	MinTimeout     = time.Second
	MaxTimeout     = 900 * time.Second
	DefaultTimeout = 3 * time.Second
	// InitTimeout is how long an on-demand environment's init may take.
	InitTimeout = 10 * time.Second

	MinEphemeralMB     = 512
	MaxEphemeralMB     = 10240
	DefaultEphemeralMB = 512

	MaxEnvBytes = 4096
	MaxLayers   = 5

	// MaxSyncPayload is the largest synchronous request or response: 6 MB.
	MaxSyncPayload = 6291456
	// MaxAsyncPayload is the largest asynchronous event: 1 MB since
	// October 2025 (256 KB before).
	MaxAsyncPayload = 1 << 20

	// MaxZipped is the largest zip uploaded directly: 50 MB.
	MaxZipped = 50 << 20
	// MaxUnzipped is a function with all its layers, unzipped: 250 MB
	// (262,144,000 bytes).
	MaxUnzipped = 250 << 20
	// MaxImageBytes is the largest container image: 10 GB.
	MaxImageBytes = 10 << 30
	// MaxConsoleEditor is the largest package the console's editor opens.
	MaxConsoleEditor = 3 << 20
	// MaxCodeStorage is what all of an account's function and layer code
	// may take per Region: 75 GB (a soft limit).
	MaxCodeStorage = 75 << 30
	// MaxPolicyBytes is the largest resource-based policy of a function.
	MaxPolicyBytes = 20 << 10

	// AWSAccountConcurrency is a real account's default concurrency per
	// Region (lambdalab gives each learner a much smaller one).
	AWSAccountConcurrency = 1000
	// ScalingStep instances per function every ScalingInterval (since
	// November 2023).
	ScalingStep     = 1000
	ScalingInterval = 10 * time.Second
	// UnreservedMinimum is how much of the account's concurrency
	// reservations must leave to the functions without one.
	UnreservedMinimum = 100

	// MaxAsyncRetries after a function error (configurable 0 to 2), and
	// the longest an asynchronous event is kept and retried.
	MaxAsyncRetries = 2
	MaxEventAge     = 6 * time.Hour
)

// Prices in USD, us-east-1, first tier (reference/lambda-behaviour.md §15).
const (
	PricePerRequest     = 0.0000002
	PricePerGBSecondX86 = 0.0000166667
	PricePerGBSecondARM = 0.0000133334
	FreeTierRequests    = 1_000_000
	FreeTierGBSeconds   = 400_000
	// FirstTierGBSeconds* are the monthly GB-seconds the prices above hold
	// for; duration beyond them is billed 10 % and then 20 % cheaper.
	FirstTierGBSecondsX86 = 6_000_000_000
	FirstTierGBSecondsARM = 7_500_000_000

	// Provisioned concurrency: configured GB-seconds while a configuration
	// exists, used or not, and a lower duration price for the invocations
	// it serves. The arm64 prices are unconfirmed (§17.7).
	PricePerGBSecondProvisionedX86   = 0.0000041667
	PricePerGBSecondProvisionedARM   = 0.0000033334
	PricePerGBSecondOnProvisionedX86 = 0.0000097222
	PricePerGBSecondOnProvisionedARM = 0.0000077778
	// ProvisionedRounding is the unit Lambda rounds configured time up to.
	ProvisionedRounding = 5 * time.Minute

	// OldBillingUnit is what durations were rounded up to before
	// December 2020; since then Lambda meters by the millisecond.
	OldBillingUnit = 100 * time.Millisecond
)

// PricesAsOf is when the prices above were read: the month
// reference/lambda-behaviour.md §15 was compiled (its newest dated source
// is of 24 February 2026). Change it with the prices.
const PricesAsOf = "February 2026"

// AWS pages that own the figures above.
const (
	PricingURL = "https://aws.amazon.com/lambda/pricing/"
	QuotasURL  = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
	ScalingURL = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
	AsyncURL   = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html"
)

// Fact is one figure as a lesson quotes it.
type Fact struct {
	ID   string // what a lesson writes: {{fact ID}}
	Text string // what the reader sees, units included: "15 minutes"
	// AsOf and Source are set for figures AWS changes over time.
	AsOf, Source string
}

// Table is every fact, sorted by ID. Texts are written from the constants
// above wherever the constant is the figure, so the two cannot disagree.
func Table() []Fact {
	t := []Fact{
		{ID: "memory-min", Text: mb(MinMemoryMB)},
		{ID: "memory-max", Text: mb(MaxMemoryMB), AsOf: "December 2020", Source: QuotasURL},
		{ID: "memory-default", Text: mb(DefaultMemoryMB)},
		{ID: "memory-one-vcpu", Text: mb(MBPerVCPU)},
		{ID: "vcpus-max", Text: itoa(MaxVCPUs) + " vCPUs"},
		{ID: "timeout-min", Text: seconds(MinTimeout)},
		{ID: "timeout-default", Text: seconds(DefaultTimeout)},
		{ID: "timeout-max", Text: minutes(MaxTimeout)},
		{ID: "timeout-max-seconds", Text: Group(int64(MaxTimeout/time.Second)) + " seconds"},
		{ID: "init-limit", Text: seconds(InitTimeout)},
		{ID: "tmp-default", Text: mb(DefaultEphemeralMB)},
		{ID: "tmp-max", Text: mb(MaxEphemeralMB)},
		{ID: "env-max", Text: itoa(MaxEnvBytes/1024) + " KB"},
		{ID: "layers-max", Text: itoa(MaxLayers)},
		{ID: "payload-sync", Text: itoa(MaxSyncPayload>>20) + " MB"},
		{ID: "payload-async", Text: itoa(MaxAsyncPayload>>20) + " MB", AsOf: "October 2025", Source: QuotasURL},
		{ID: "package-zipped", Text: itoa(MaxZipped>>20) + " MB"},
		{ID: "package-unzipped", Text: itoa(MaxUnzipped>>20) + " MB"},
		{ID: "package-image", Text: itoa(MaxImageBytes>>30) + " GB"},
		{ID: "package-editor", Text: itoa(MaxConsoleEditor>>20) + " MB"},
		{ID: "code-storage", Text: itoa(MaxCodeStorage>>30) + " GB", AsOf: "February 2026", Source: QuotasURL},
		{ID: "policy-max", Text: itoa(MaxPolicyBytes>>10) + " KB"},
		{ID: "provisioned-rounding", Text: minutes(ProvisionedRounding)},
		{ID: "account-concurrency", Text: Group(AWSAccountConcurrency), AsOf: "February 2026", Source: QuotasURL},
		{ID: "unreserved-minimum", Text: Group(UnreservedMinimum)},
		{ID: "scaling-rate", Text: Group(ScalingStep) + " instances every " + seconds(ScalingInterval), AsOf: "November 2023", Source: ScalingURL},
		{ID: "async-retries", Text: itoa(MaxAsyncRetries)},
		{ID: "async-max-age", Text: itoa(int(MaxEventAge/time.Hour)) + " hours", Source: AsyncURL},
		{ID: "price-requests", Text: usd(PricePerRequest*1e6, 2) + " per million requests", AsOf: PricesAsOf, Source: PricingURL},
		{ID: "price-gb-second-x86", Text: perGBSecond(PricePerGBSecondX86), AsOf: PricesAsOf, Source: PricingURL},
		{ID: "price-gb-second-arm", Text: perGBSecond(PricePerGBSecondARM), AsOf: PricesAsOf, Source: PricingURL},
		{ID: "price-provisioned-x86", Text: perGBSecond(PricePerGBSecondProvisionedX86), AsOf: PricesAsOf, Source: PricingURL},
		{ID: "price-on-provisioned-x86", Text: perGBSecond(PricePerGBSecondOnProvisionedX86), AsOf: PricesAsOf, Source: PricingURL},
		{ID: "free-requests", Text: millions(FreeTierRequests) + " requests", AsOf: PricesAsOf, Source: PricingURL},
		{ID: "free-gb-seconds", Text: Group(FreeTierGBSeconds) + " GB-seconds", AsOf: PricesAsOf, Source: PricingURL},
		{ID: "prices-as-of", Text: PricesAsOf},
		{ID: "old-billing-unit", Text: itoa(int(OldBillingUnit/time.Millisecond)) + " ms"},
	}
	sort.Slice(t, func(i, j int) bool { return t[i].ID < t[j].ID })
	return t
}

// Lookup returns the fact with this ID.
func Lookup(id string) (Fact, bool) {
	for _, f := range Table() {
		if f.ID == id {
			return f, true
		}
	}
	return Fact{}, false
}

// usd writes a price with exactly places decimals, or, with places < 0,
// with as many as the constant has: 0.0000166667 stays 0.0000166667, not
// 1.66667e-05.
func usd(p float64, places int) string {
	return "$" + strconv.FormatFloat(p, 'f', places, 64)
}

func perGBSecond(p float64) string { return usd(p, -1) + " per GB-second" }

// millions writes a whole number of millions as words: 1000000 → "1 million".
// Anything else is written out in digits, so a change to a constant that is
// not a round million still reads correctly.
func millions(n int) string {
	if n%1_000_000 == 0 {
		return itoa(n/1_000_000) + " million"
	}
	return itoa(n)
}

func mb(n int) string { return Group(int64(n)) + " MB" }

func seconds(d time.Duration) string {
	n := int(d / time.Second)
	if n == 1 {
		return "1 second"
	}
	return itoa(n) + " seconds"
}

func minutes(d time.Duration) string { return itoa(int(d/time.Minute)) + " minutes" }

func itoa(n int) string { return Group(int64(n)) }

// Group writes n with thousands separators, as the course writes numbers:
// 10240 → "10,240". The calculators and the account page use it too.
func Group(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for i := 0; ; i++ {
		if i > 0 && i%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, byte('0'+n%10))
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		b = append(b, '-')
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
