package calculator

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

func TestBilledMS(t *testing.T) {
	tests := []struct {
		ms       float64
		today    int64
		old      int64
		describe string
	}{
		{130, 130, 200, "the course's example"},
		{130.2, 131, 200, "a fraction rounds up"},
		{15.74, 16, 100, "reference §15.2 example 4"},
		{2.75, 3, 100, "reference §15.2 example 4"},
		{100, 100, 100, "exactly a unit"},
		{100.01, 101, 200, "just over a unit"},
		{1, 1, 100, "the shortest"},
		{900_000, 900_000, 900_000, "the longest"},
	}
	for _, tt := range tests {
		if got := BilledMS(tt.ms); got != tt.today {
			t.Errorf("BilledMS(%v) = %d, want %d (%s)", tt.ms, got, tt.today, tt.describe)
		}
		if got := BilledMSOld(tt.ms); got != tt.old {
			t.Errorf("BilledMSOld(%v) = %d, want %d (%s)", tt.ms, got, tt.old, tt.describe)
		}
	}
}

// TestBilling checks monthly bills worked by hand.
//
// 512 MB, 120 ms, 3 million requests, x86_64:
//
//	per request  0.120 s × 0.5 GB            = 0.06 GB-s
//	compute      3,000,000 × 0.06 = 180,000 GB-s × $0.0000166667 = $3.000006
//	requests     3,000,000 × $0.0000002                           = $0.60
//	total                                                         = $3.600006
//	100 ms rule  120 ms bills 200: 0.1 GB-s × 3 M = 300,000 GB-s  = $5.00001
//	             + $0.60 = $5.60001, $2.000004 more than today
//
// With the free tier the 180,000 (or 300,000) GB-s fit in the 400,000 free,
// and 2 of the 3 million requests are paid: $0.40 either way, no difference.
//
// 1,024 MB, 120 ms, 30 million, free tier (reference §15.2 example 2):
//
//	3,600,000 GB-s − 400,000 free = 3,200,000 × $0.0000166667 = $53.33344
//	29,000,000 requests × $0.0000002                          = $5.80
//	total $59.13344; on arm64 3,200,000 × $0.0000133334 = $42.66688, $48.46688
//	100 ms rule: 6,000,000 − 400,000 = 5,600,000 GB-s = $93.33352, $99.13352
func TestBilling(t *testing.T) {
	tests := []struct {
		name                   string
		in                     BillingInput
		gbs, compute, requests float64
		total, oldTotal        float64
		billed, oldBilled      int64
	}{
		{"512 MB 120 ms 3M x86", BillingInput{MemoryMB: 512, DurationMS: 120, RequestsPerMonth: 3_000_000, Arch: X86},
			180_000, 3.000006, 0.60, 3.600006, 5.60001, 120, 200},
		{"the same with the free tier", BillingInput{MemoryMB: 512, DurationMS: 120, RequestsPerMonth: 3_000_000, FreeTier: true},
			180_000, 0, 0.40, 0.40, 0.40, 120, 200},
		{"API backend, free tier", BillingInput{MemoryMB: 1024, DurationMS: 120, RequestsPerMonth: 30_000_000, Arch: X86, FreeTier: true},
			3_600_000, 53.33344, 5.80, 59.13344, 99.13352, 120, 200},
		{"API backend on arm64", BillingInput{MemoryMB: 1024, DurationMS: 120, RequestsPerMonth: 30_000_000, Arch: ARM64, FreeTier: true},
			3_600_000, 42.66688, 5.80, 48.46688, 5_600_000*0.0000133334 + 5.80, 120, 200},
		// reference §15.2 example 1: inside the free compute.
		{"lab-sized", BillingInput{MemoryMB: 128, DurationMS: 250, RequestsPerMonth: 5_000_000, FreeTier: true},
			156_250, 0, 0.80, 0.80, 0.80, 250, 300},
		{"no requests", BillingInput{MemoryMB: 128, DurationMS: 1, RequestsPerMonth: 0},
			0, 0, 0, 0, 0, 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Billing(tt.in)
			if err != nil {
				t.Fatalf("Billing(%+v): %v", tt.in, err)
			}
			if r.Today.BilledMS != tt.billed || r.Old.BilledMS != tt.oldBilled {
				t.Errorf("billed %d ms (old %d), want %d (old %d)", r.Today.BilledMS, r.Old.BilledMS, tt.billed, tt.oldBilled)
			}
			if !near(r.Today.GBSeconds, tt.gbs) {
				t.Errorf("GB-s = %v, want %v", r.Today.GBSeconds, tt.gbs)
			}
			if !near(r.Today.ComputeUSD, tt.compute) || !near(r.Today.RequestsUSD, tt.requests) {
				t.Errorf("compute $%v requests $%v, want $%v and $%v", r.Today.ComputeUSD, r.Today.RequestsUSD, tt.compute, tt.requests)
			}
			if !near(r.Today.TotalUSD, tt.total) || !near(r.Old.TotalUSD, tt.oldTotal) {
				t.Errorf("total $%v (old $%v), want $%v (old $%v)", r.Today.TotalUSD, r.Old.TotalUSD, tt.total, tt.oldTotal)
			}
			if !near(r.ExtraUSD, tt.oldTotal-tt.total) {
				t.Errorf("ExtraUSD = %v, want %v", r.ExtraUSD, tt.oldTotal-tt.total)
			}
			if r.Input.Arch == "" || r.BeyondFirstTier {
				t.Errorf("Input.Arch %q, BeyondFirstTier %v; want it filled and false", r.Input.Arch, r.BeyondFirstTier)
			}
		})
	}

	r, err := Billing(BillingInput{MemoryMB: 10240, DurationMS: 900_000, RequestsPerMonth: 10_000_000})
	if err != nil || !r.BeyondFirstTier {
		t.Errorf("10 GB × 15 min × 10M: BeyondFirstTier %v, err %v; want true (900 billion GB-s)", r.BeyondFirstTier, err)
	}
}

func TestBillingErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     BillingInput
		fields []string
	}{
		{"memory low", BillingInput{MemoryMB: 64, DurationMS: 100, RequestsPerMonth: 1}, []string{"memory"}},
		{"memory high", BillingInput{MemoryMB: 10241, DurationMS: 100, RequestsPerMonth: 1}, []string{"memory"}},
		{"duration zero", BillingInput{MemoryMB: 128, DurationMS: 0, RequestsPerMonth: 1}, []string{"duration"}},
		{"over the timeout", BillingInput{MemoryMB: 128, DurationMS: 900_001, RequestsPerMonth: 1}, []string{"duration"}},
		{"not a number", BillingInput{MemoryMB: 128, DurationMS: math.NaN(), RequestsPerMonth: 1}, []string{"duration"}},
		{"negative requests", BillingInput{MemoryMB: 128, DurationMS: 100, RequestsPerMonth: -1}, []string{"requests"}},
		{"too many requests", BillingInput{MemoryMB: 128, DurationMS: 100, RequestsPerMonth: MaxRequestsPerMonth + 1}, []string{"requests"}},
		{"architecture", BillingInput{MemoryMB: 128, DurationMS: 100, Arch: "sparc"}, []string{"arch"}},
		{"everything", BillingInput{MemoryMB: 1, DurationMS: -5, RequestsPerMonth: -1, Arch: "x"}, []string{"memory", "duration", "requests", "arch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Billing(tt.in)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Billing(%+v) = %v, want Errors", tt.in, err)
			}
			var got []string
			for _, f := range errs {
				got = append(got, f.Field)
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields %v, want %v (%v)", got, tt.fields, err)
			}
		})
	}
	_, err := Billing(BillingInput{MemoryMB: 64, DurationMS: 100})
	if msg := err.(Errors).For("memory"); msg != "Memory is between 128 and 10,240 MB." {
		t.Errorf("memory message %q", msg)
	}
}

func TestChain(t *testing.T) {
	tests := []struct {
		name   string
		own    []float64
		billed []int64
		total  int64
		wait   int64
	}{
		// A waits 500 ms for B and runs 100 ms more; B runs 500 ms.
		{"A waits for B", []float64{100, 500}, []int64{600, 500}, 1100, 500},
		{"alone", []float64{130}, []int64{130}, 130, 0},
		// A (50) → B (100) → C (200): A waits 300, B waits 200.
		{"three deep", []float64{50, 100, 200}, []int64{350, 300, 200}, 850, 500},
		{"fractions round once per function", []float64{0.5 + 99.5, 10.2}, []int64{111, 11}, 122, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Chain(tt.own...)
			if err != nil {
				t.Fatalf("Chain(%v): %v", tt.own, err)
			}
			if !slices.Equal(r.BilledMS, tt.billed) || r.TotalMS != tt.total || r.WaitMS != tt.wait {
				t.Errorf("Chain(%v) = %v total %d wait %d, want %v total %d wait %d", tt.own, r.BilledMS, r.TotalMS, r.WaitMS, tt.billed, tt.total, tt.wait)
			}
		})
	}
	for _, own := range [][]float64{nil, {0, 100}, {600_000, 400_000}} {
		if _, err := Chain(own...); err == nil {
			t.Errorf("Chain(%v) = nil error, want one", own)
		}
	}
}

func TestRPS(t *testing.T) {
	tests := []struct {
		name               string
		in                 RPSInput
		perInstance, rate  float64
		needed             int64
		overAccountDefault bool
	}{
		// 1000/300 = 3.33… each; the course's rounder 3.3 × 500 gives 1,650.
		{"300 ms × 500", RPSInput{DurationMS: 300, Instances: 500}, 10.0 / 3, 5000.0 / 3, 0, false},
		{"1,000 rps at 300 ms", RPSInput{DurationMS: 300, Instances: 500, TargetRPS: 1000}, 10.0 / 3, 5000.0 / 3, 300, false},
		{"a little over", RPSInput{DurationMS: 300, Instances: 1, TargetRPS: 1666.7}, 10.0 / 3, 10.0 / 3, 501, false},
		{"10,000 rps at 120 ms", RPSInput{DurationMS: 120, Instances: 10, TargetRPS: 10_000}, 1000.0 / 120, 10000.0 / 120, 1200, true},
		{"a millisecond each", RPSInput{DurationMS: 1, Instances: 1}, 1000, 1000, 0, false},
		{"more than the account default", RPSInput{DurationMS: 100, Instances: 1001}, 10, 10010, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := RPS(tt.in)
			if err != nil {
				t.Fatalf("RPS(%+v): %v", tt.in, err)
			}
			if !near(r.PerInstanceRPS, tt.perInstance) || !near(r.SustainedRPS, tt.rate) {
				t.Errorf("RPS(%+v) = %v each, %v in all; want %v, %v", tt.in, r.PerInstanceRPS, r.SustainedRPS, tt.perInstance, tt.rate)
			}
			if r.InstancesNeeded != tt.needed || r.OverAccountDefault != tt.overAccountDefault {
				t.Errorf("RPS(%+v) needs %d (over default %v), want %d (%v)", tt.in, r.InstancesNeeded, r.OverAccountDefault, tt.needed, tt.overAccountDefault)
			}
		})
	}
	r, _ := RPS(RPSInput{DurationMS: 300, Instances: 500})
	if got := math.Round(r.SustainedRPS*10) / 10; got != 1666.7 {
		t.Errorf("300 ms × 500 rounds to %v rps, want 1,666.7", got)
	}

	bad := []struct {
		in    RPSInput
		field string
	}{
		{RPSInput{DurationMS: 0, Instances: 1}, "duration"},
		{RPSInput{DurationMS: 100, Instances: 0}, "instances"},
		{RPSInput{DurationMS: 100, Instances: MaxInstances + 1}, "instances"},
		{RPSInput{DurationMS: 100, Instances: 1, TargetRPS: -1}, "target"},
	}
	for _, tt := range bad {
		_, err := RPS(tt.in)
		if errs, ok := err.(Errors); !ok || errs.For(tt.field) == "" {
			t.Errorf("RPS(%+v) = %v, want an error on %s", tt.in, err, tt.field)
		}
	}
}
