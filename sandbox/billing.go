package sandbox

import (
	"math"
	"time"
)

// Prices in USD, us-east-1 (reference/lambda-behaviour.md §15.1), first tier.
const (
	PricePerRequest     = 0.0000002
	PricePerGBSecondX86 = 0.0000166667
	PricePerGBSecondARM = 0.0000133334
	FreeTierRequests    = 1_000_000
	FreeTierGBSeconds   = 400_000
)

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

// Cost is the on-demand price of one invocation, request charge included,
// before the free tier.
func Cost(billedMS int64, memMB int, arch string) float64 {
	price := PricePerGBSecondX86
	if arch == "arm64" {
		price = PricePerGBSecondARM
	}
	return GBSeconds(billedMS, memMB)*price + PricePerRequest
}
