package sandbox

import (
	"math"
	"time"

	"lambdalab/facts"
)

// Prices in USD, us-east-1 (reference/lambda-behaviour.md §15.1), first tier.
// They live in facts, beside the lessons' figures; the invocation records'
// cost and the account page's totals both come from these names.
const (
	PricePerRequest     = facts.PricePerRequest
	PricePerGBSecondX86 = facts.PricePerGBSecondX86
	PricePerGBSecondARM = facts.PricePerGBSecondARM
	FreeTierRequests    = facts.FreeTierRequests
	FreeTierGBSeconds   = facts.FreeTierGBSeconds

	// Provisioned concurrency: configured GB-seconds while a configuration
	// exists, used or not, and a lower duration price for the invocations
	// it serves. The arm64 prices are unconfirmed (§17.7).
	PricePerGBSecondProvisionedX86   = facts.PricePerGBSecondProvisionedX86
	PricePerGBSecondProvisionedARM   = facts.PricePerGBSecondProvisionedARM
	PricePerGBSecondOnProvisionedX86 = facts.PricePerGBSecondOnProvisionedX86
	PricePerGBSecondOnProvisionedARM = facts.PricePerGBSecondOnProvisionedARM
	// ProvisionedRounding is the unit Lambda rounds the configured time up to.
	ProvisionedRounding = facts.ProvisionedRounding
)

// PricesAsOf is when the prices above were read (see facts.PricesAsOf).
const PricesAsOf = facts.PricesAsOf

// PricingURL is AWS's own page of Lambda prices.
const PricingURL = facts.PricingURL

// BilledMS is Lambda's billed duration: the handler's duration plus, on a
// cold start, the init duration (billed for every configuration since
// 1 August 2025), rounded up to the next millisecond.
func BilledMS(duration, init time.Duration) int64 {
	ns := duration + init
	if ns <= 0 {
		return 1
	}
	return int64(math.Ceil(float64(ns) / float64(time.Millisecond)))
}

// GBSeconds is the compute a billed duration costs at memMB.
func GBSeconds(billedMS int64, memMB int) float64 {
	return float64(billedMS) / 1000 * float64(memMB) / 1024
}

// DurationPrice is the price of one GB-second of an invocation on arch
// ("arm64"; anything else is x86_64), on an instance kept by provisioned
// concurrency or not.
func DurationPrice(arch string, provisioned bool) float64 {
	switch {
	case arch == "arm64" && provisioned:
		return PricePerGBSecondOnProvisionedARM
	case arch == "arm64":
		return PricePerGBSecondARM
	case provisioned:
		return PricePerGBSecondOnProvisionedX86
	}
	return PricePerGBSecondX86
}

// Cost is the on-demand price of one invocation, request charge included,
// before the free tier.
func Cost(billedMS int64, memMB int, arch string) float64 {
	return InvocationCost(billedMS, memMB, arch, false)
}

// InvocationCost is the price of one invocation, request charge included,
// before the free tier; provisioned says a provisioned instance served it.
func InvocationCost(billedMS int64, memMB int, arch string, provisioned bool) float64 {
	return GBSeconds(billedMS, memMB)*DurationPrice(arch, provisioned) + PricePerRequest
}

// ProvisionedGBSeconds is what keeping n instances of memMB configured for
// d comes to: Lambda bills the time rounded up to ProvisionedRounding.
func ProvisionedGBSeconds(n, memMB int, d time.Duration) float64 {
	if n <= 0 || d <= 0 {
		return 0
	}
	units := (d + ProvisionedRounding - 1) / ProvisionedRounding
	return float64(n) * float64(memMB) / 1024 * (units * ProvisionedRounding).Seconds()
}

// ProvisionedPrice is the price of one configured GB-second on arch.
func ProvisionedPrice(arch string) float64 {
	if arch == "arm64" {
		return PricePerGBSecondProvisionedARM
	}
	return PricePerGBSecondProvisionedX86
}
