package sandbox

import (
	"math"
	"strings"
	"testing"
	"time"

	"lambdalab/facts"
)

// TestEnforcesFacts holds the sandbox to the figures the course quotes: a
// lesson says {{fact timeout-max}}, so the sandbox must accept exactly that
// and refuse a second more, and bill at the price the lesson names.
func TestEnforcesFacts(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Function)
		ok   bool
	}{
		{"longest timeout", func(f *Function) { f.Timeout = facts.MaxTimeout }, true},
		{"a second over", func(f *Function) { f.Timeout = facts.MaxTimeout + time.Second }, false},
		{"shortest timeout", func(f *Function) { f.Timeout = facts.MinTimeout }, true},
		{"least memory", func(f *Function) { f.MemoryMB = facts.MinMemoryMB }, true},
		{"a MB under", func(f *Function) { f.MemoryMB = facts.MinMemoryMB - 1 }, false},
		{"most memory", func(f *Function) { f.MemoryMB = facts.MaxMemoryMB }, true},
		{"a MB over", func(f *Function) { f.MemoryMB = facts.MaxMemoryMB + 1 }, false},
		{"most /tmp", func(f *Function) { f.EphemeralMB = facts.MaxEphemeralMB }, true},
		{"/tmp over", func(f *Function) { f.EphemeralMB = facts.MaxEphemeralMB + 1 }, false},
		{"most layers", func(f *Function) { f.LayerDirs = make([]string, facts.MaxLayers) }, true},
		{"a layer over", func(f *Function) { f.LayerDirs = make([]string, facts.MaxLayers+1) }, false},
		// Lambda measures keys plus values: "BIG" and 4,093 bytes is 4 KB.
		{"env at the limit", func(f *Function) {
			f.Env = map[string]string{"BIG": strings.Repeat("x", facts.MaxEnvBytes-3)}
		}, true},
		{"env a byte over", func(f *Function) {
			f.Env = map[string]string{"BIG": strings.Repeat("x", facts.MaxEnvBytes-2)}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testFunction()
			tt.edit(&f)
			if err := f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}

	d := testFunction().withDefaults()
	if d.MemoryMB != facts.DefaultMemoryMB || d.Timeout != facts.DefaultTimeout || d.EphemeralMB != facts.DefaultEphemeralMB {
		t.Errorf("defaults = %d MB, %v, %d MB /tmp; facts say %d MB, %v, %d MB",
			d.MemoryMB, d.Timeout, d.EphemeralMB, facts.DefaultMemoryMB, facts.DefaultTimeout, facts.DefaultEphemeralMB)
	}

	// 130.2 ms at 512 MB on x86_64: billed 131 ms, 0.0655 GB-s.
	billed := BilledMS(130*time.Millisecond+200*time.Microsecond, 0)
	if billed != 131 {
		t.Fatalf("BilledMS(130.2ms) = %d, want 131", billed)
	}
	want := 0.131*0.5*facts.PricePerGBSecondX86 + facts.PricePerRequest
	if got := Cost(billed, 512, "x86_64"); math.Abs(got-want) > 1e-15 {
		t.Errorf("Cost(131 ms, 512 MB, x86_64) = %g, want %g (facts price × GB-s + request)", got, want)
	}
	want = 0.131*0.5*facts.PricePerGBSecondARM + facts.PricePerRequest
	if got := Cost(billed, 512, "arm64"); math.Abs(got-want) > 1e-15 {
		t.Errorf("Cost(131 ms, 512 MB, arm64) = %g, want %g", got, want)
	}
}
