package sandbox

import (
	"math"
	"testing"
	"time"
)

func TestProvisionedBilling(t *testing.T) {
	tests := []struct {
		name  string
		n, mb int
		d     time.Duration
		gbs   float64
	}{
		{"a second bills five minutes", 1, 1024, time.Second, 300},
		{"exactly five minutes", 2, 512, 5 * time.Minute, 300},
		{"a moment over bills ten", 1, 128, 5*time.Minute + time.Millisecond, 75},
		{"never configured", 1, 1024, 0, 0},
		// Worked example 3 of reference §15.2: 10 × 1 GB for 30 days.
		{"ten for a month", 10, 1024, 30 * 24 * time.Hour, 25_920_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProvisionedGBSeconds(tt.n, tt.mb, tt.d); got != tt.gbs {
				t.Errorf("ProvisionedGBSeconds(%d, %d MB, %v) = %v, want %v", tt.n, tt.mb, tt.d, got, tt.gbs)
			}
		})
	}
	if cost := ProvisionedGBSeconds(10, 1024, 30*24*time.Hour) * ProvisionedPrice("x86_64"); math.Abs(cost-108) > 0.01 {
		t.Errorf("10 × 1 GB provisioned for 30 days = $%.2f, want $108.00", cost)
	}
	// The same example's 20M invocations of 120 ms on it: $23.33 of duration.
	if cost := GBSeconds(120, 1024) * 20e6 * DurationPrice("x86_64", true); math.Abs(cost-23.33) > 0.01 {
		t.Errorf("20M × 120 ms at 1 GB on provisioned concurrency = $%.2f, want $23.33", cost)
	}
	for _, arch := range []string{"x86_64", "arm64"} {
		if DurationPrice(arch, true) >= DurationPrice(arch, false) {
			t.Errorf("%s: provisioned duration price %v not below on-demand %v", arch, DurationPrice(arch, true), DurationPrice(arch, false))
		}
	}
}
