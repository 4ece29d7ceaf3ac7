// Package calculator is the arithmetic the course's calculators show: what
// a month of invocations costs, what a chain of synchronous calls bills, and
// how many requests a second a number of instances sustains. It is pure
// math over lambdalab/facts (prices and limits) and imports nothing else of
// lambdalab, so the site renders it and tests pin it without a server.
//
// Prices are the first tier of us-east-1 (facts.PricesAsOf); the emulator
// bills its invocations at the same figures.
package calculator

import (
	"math"
	"strconv"
	"strings"

	"lambdalab/facts"
)

// Architectures a function can run on.
const (
	X86   = "x86_64"
	ARM64 = "arm64"
)

// Limits on the inputs beyond Lambda's own (memory and duration come from
// facts). They keep a typo from producing a figure nobody could read.
const (
	// MaxRequestsPerMonth is a trillion: about 380,000 requests a second
	// for a whole month, far beyond a default account.
	MaxRequestsPerMonth = 1_000_000_000_000
	// MaxInstances is far beyond any account's concurrency quota.
	MaxInstances = 1_000_000
	// MaxTargetRPS is a billion requests a second.
	MaxTargetRPS = 1_000_000_000
)

// maxDurationMS is the longest a function can run: its timeout limit.
const maxDurationMS = float64(facts.MaxTimeout / 1e6)

// FieldError is one wrong input, worded for the person who typed it. Field
// is the input's name in the calculator's form ("memory", "duration", …).
type FieldError struct {
	Field   string
	Message string
}

// Errors is every wrong input of one calculation. A calculation with
// Errors computes nothing: a bill from half its inputs would mislead.
type Errors []FieldError

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, f := range e {
		msgs[i] = f.Field + ": " + f.Message
	}
	return strings.Join(msgs, "; ")
}

// For returns the message for field, or "" when that input is fine.
func (e Errors) For(field string) string {
	for _, f := range e {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

func (e *Errors) add(field, msg string) { *e = append(*e, FieldError{field, msg}) }

// checkDuration holds a duration to what a function can run: at least a
// millisecond (Lambda never bills less) and at most the longest timeout.
func (e *Errors) checkDuration(field string, ms float64) {
	switch {
	case math.IsNaN(ms) || math.IsInf(ms, 0):
		e.add(field, "Enter a duration in milliseconds.")
	case ms < 1:
		e.add(field, "A duration is at least 1 ms: Lambda bills no less.")
	case ms > maxDurationMS:
		e.add(field, "A function runs at most "+facts.Group(int64(maxDurationMS))+" ms ("+
			strconv.Itoa(int(facts.MaxTimeout.Minutes()))+" minutes), its longest timeout.")
	}
}

// BillingInput is one function's month: every request the same memory and
// average duration.
type BillingInput struct {
	MemoryMB         int     // 128 to 10,240
	DurationMS       float64 // average handler duration (init included), 1 ms to 15 minutes
	RequestsPerMonth int64   // 0 to MaxRequestsPerMonth
	Arch             string  // X86 (also when empty) or ARM64
	// FreeTier takes the monthly free requests and GB-seconds off the bill,
	// as if this function were the account's only one.
	FreeTier bool
}

// Bill is a month's cost under one way of rounding durations.
type Bill struct {
	// BilledMS is what one request is billed for.
	BilledMS int64
	// GBSeconds is the month's compute, before the free tier.
	GBSeconds float64
	// ChargedGBSeconds and ChargedRequests are what is left to pay for
	// after the free tier (the same as the totals without it).
	ChargedGBSeconds float64
	ChargedRequests  int64
	ComputeUSD       float64
	RequestsUSD      float64
	TotalUSD         float64
}

// BillingResult is a month's bill today (per millisecond) and as it would
// have been under the 100 ms rounding Lambda used until December 2020.
type BillingResult struct {
	Input            BillingInput // Arch filled in
	PricePerGBSecond float64
	Today, Old       Bill
	// ExtraUSD is what the old rounding would add to today's total.
	ExtraUSD float64
	// BeyondFirstTier says the month's GB-seconds pass the first price
	// tier, so AWS would charge somewhat less than this for the excess.
	BeyondFirstTier bool
}

// Billing works out a month of one function's invocations. Compute is
// memory (GB) × billed duration (s) per request, priced per GB-second for
// the architecture; requests are priced per request. The free tier, when
// asked for, is 1 million requests and 400,000 GB-seconds a month (shared
// by both architectures).
func Billing(in BillingInput) (BillingResult, error) {
	var errs Errors
	if in.MemoryMB < facts.MinMemoryMB || in.MemoryMB > facts.MaxMemoryMB {
		errs.add("memory", "Memory is between "+facts.Group(facts.MinMemoryMB)+" and "+facts.Group(facts.MaxMemoryMB)+" MB.")
	}
	errs.checkDuration("duration", in.DurationMS)
	if in.RequestsPerMonth < 0 || in.RequestsPerMonth > MaxRequestsPerMonth {
		errs.add("requests", "Requests a month are between 0 and "+facts.Group(MaxRequestsPerMonth)+".")
	}
	switch in.Arch {
	case "":
		in.Arch = X86
	case X86, ARM64:
	default:
		errs.add("arch", "The architecture is x86_64 or arm64.")
	}
	if len(errs) > 0 {
		return BillingResult{}, errs
	}

	price := facts.PricePerGBSecondX86
	tier := float64(facts.FirstTierGBSecondsX86)
	if in.Arch == ARM64 {
		price = facts.PricePerGBSecondARM
		tier = facts.FirstTierGBSecondsARM
	}
	r := BillingResult{Input: in, PricePerGBSecond: price}
	r.Today = bill(in, BilledMS(in.DurationMS), price)
	r.Old = bill(in, BilledMSOld(in.DurationMS), price)
	r.ExtraUSD = r.Old.TotalUSD - r.Today.TotalUSD
	r.BeyondFirstTier = r.Today.ChargedGBSeconds > tier
	return r, nil
}

func bill(in BillingInput, billedMS int64, price float64) Bill {
	b := Bill{BilledMS: billedMS, GBSeconds: GBSeconds(billedMS, in.MemoryMB) * float64(in.RequestsPerMonth)}
	b.ChargedGBSeconds, b.ChargedRequests = b.GBSeconds, in.RequestsPerMonth
	if in.FreeTier {
		b.ChargedGBSeconds = math.Max(0, b.GBSeconds-facts.FreeTierGBSeconds)
		b.ChargedRequests = max(0, in.RequestsPerMonth-facts.FreeTierRequests)
	}
	b.ComputeUSD = b.ChargedGBSeconds * price
	b.RequestsUSD = float64(b.ChargedRequests) * facts.PricePerRequest
	b.TotalUSD = b.ComputeUSD + b.RequestsUSD
	return b
}

// BilledMS is what Lambda bills a run of ms for today: rounded up to the
// next millisecond (reference/lambda-behaviour.md §4.2), never below 1.
func BilledMS(ms float64) int64 {
	// Durations are read to the microsecond first, so that 130.2 parsed
	// as 130.19999… still bills 131 and 130 bills 130, never 131.
	us := math.Round(ms * 1000)
	return max(1, int64(math.Ceil(us/1000)))
}

// BilledMSOld is what a run of ms was billed for before December 2020:
// rounded up to the next 100 ms.
func BilledMSOld(ms float64) int64 {
	unit := facts.OldBillingUnit.Milliseconds()
	b := BilledMS(ms)
	return (b + unit - 1) / unit * unit
}

// GBSeconds is the compute of one request billed for billedMS at memMB.
func GBSeconds(billedMS int64, memMB int) float64 {
	return float64(billedMS) / 1000 * float64(memMB) / 1024
}

// ChainResult is what a chain of synchronous calls bills.
type ChainResult struct {
	// BilledMS is what each function of the chain is billed for, in the
	// order given: its own work plus the wait for everything after it.
	BilledMS []int64
	// TotalMS is the chain's billed milliseconds, all functions together.
	TotalMS int64
	// WaitMS is the part of TotalMS spent waiting for another function:
	// billed, and no work done.
	WaitMS int64
}

// Chain bills functions that call each other synchronously: the first
// calls the second and waits for its answer, the second the third, and so
// on. ownMS[i] is function i's own work (before and after its call added
// together). A function that waits pays for the wait, so function i is
// billed for its own work plus all of the chain after it. A runs 100 ms in
// all and waits for B, which runs 500 ms: A bills 600, B 500, 1,100 ms in
// total for 600 ms of work.
func Chain(ownMS ...float64) (ChainResult, error) {
	var errs Errors
	if len(ownMS) == 0 {
		errs.add("chain", "A chain has at least one function.")
	}
	for i, ms := range ownMS {
		errs.checkDuration("step"+strconv.Itoa(i+1), ms)
	}
	if len(errs) > 0 {
		return ChainResult{}, errs
	}
	r := ChainResult{BilledMS: make([]int64, len(ownMS))}
	var after float64 // what the functions after i run, waits included
	for i := len(ownMS) - 1; i >= 0; i-- {
		own := ownMS[i]
		r.BilledMS[i] = BilledMS(own + after)
		r.TotalMS += r.BilledMS[i]
		r.WaitMS += BilledMS(own+after) - BilledMS(own)
		after += own
	}
	if after > maxDurationMS {
		return ChainResult{}, Errors{{"chain", "The first function would wait longer than its longest timeout, " +
			strconv.Itoa(int(facts.MaxTimeout.Minutes())) + " minutes: Lambda would stop it."}}
	}
	return r, nil
}

// RPSInput is a steady load on one function.
type RPSInput struct {
	DurationMS float64 // average duration of a request, 1 ms to 15 minutes
	Instances  int     // instances (concurrency) available, 1 to MaxInstances
	// TargetRPS, when above zero, asks how many instances that rate needs.
	TargetRPS float64
}

// RPSResult is the arithmetic of concurrency: an instance handles one
// request at a time, so it serves 1000/duration requests a second.
type RPSResult struct {
	Input          RPSInput
	PerInstanceRPS float64
	SustainedRPS   float64 // Instances × PerInstanceRPS
	// InstancesNeeded is how many instances TargetRPS takes (0 when no
	// target was given): target × duration in seconds, rounded up.
	InstancesNeeded int64
	// OverAccountDefault says InstancesNeeded (or Instances) passes a real
	// account's default concurrency, so the quota would have to be raised.
	OverAccountDefault bool
}

// RPS works out the rate a number of instances sustains, and the
// instances a target rate needs (Little's law: concurrency = rate ×
// duration).
func RPS(in RPSInput) (RPSResult, error) {
	var errs Errors
	errs.checkDuration("duration", in.DurationMS)
	if in.Instances < 1 || in.Instances > MaxInstances {
		errs.add("instances", "Instances are between 1 and "+facts.Group(MaxInstances)+".")
	}
	if math.IsNaN(in.TargetRPS) || in.TargetRPS < 0 || in.TargetRPS > MaxTargetRPS {
		errs.add("target", "A target rate is between 0 (none) and "+facts.Group(MaxTargetRPS)+" requests a second.")
	}
	if len(errs) > 0 {
		return RPSResult{}, errs
	}
	r := RPSResult{Input: in, PerInstanceRPS: 1000 / in.DurationMS}
	r.SustainedRPS = float64(in.Instances) * r.PerInstanceRPS
	if in.TargetRPS > 0 {
		// Rounded to a millionth first so 1,000 rps at 300 ms is 300
		// instances, not 301 from float noise.
		need := math.Round(in.TargetRPS*in.DurationMS/1000*1e6) / 1e6
		r.InstancesNeeded = int64(math.Ceil(need))
	}
	r.OverAccountDefault = max(r.InstancesNeeded, int64(in.Instances)) > facts.AWSAccountConcurrency
	return r, nil
}
