package facts

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	monthRE = regexp.MustCompile(`^(January|February|March|April|May|June|July|August|September|October|November|December) [0-9]{4}$`)
)

func TestTableShape(t *testing.T) {
	table := Table()
	if len(table) < 20 {
		t.Fatalf("Table() has %d facts; the course quotes more than that", len(table))
	}
	seen := map[string]bool{}
	for i, f := range table {
		if !slugRE.MatchString(f.ID) {
			t.Errorf("fact %q: ID must be lower-case words joined by hyphens", f.ID)
		}
		if seen[f.ID] {
			t.Errorf("fact %q appears twice", f.ID)
		}
		seen[f.ID] = true
		if strings.TrimSpace(f.Text) == "" {
			t.Errorf("fact %q has no text", f.ID)
		}
		if i > 0 && table[i-1].ID >= f.ID {
			t.Errorf("Table() not sorted: %q before %q", table[i-1].ID, f.ID)
		}
		if f.Source != "" && !strings.HasPrefix(f.Source, "https://") {
			t.Errorf("fact %q: source %q is not an https address", f.ID, f.Source)
		}
		if f.AsOf != "" && !monthRE.MatchString(f.AsOf) {
			t.Errorf("fact %q: AsOf %q is not a month and a year", f.ID, f.AsOf)
		}
	}
}

// TestTexts pins what a reader sees for the figures lessons lean on most.
// The wants are typed from the AWS quotas page, not from the constants, so
// a slip in a constant or in its formatting shows here.
func TestTexts(t *testing.T) {
	tests := []struct{ id, want string }{
		{"package-zipped", "50 MB"},
		{"package-unzipped", "250 MB"},
		{"payload-sync", "6 MB"},
		{"payload-async", "1 MB"},
		{"timeout-max", "15 minutes"},
		{"code-storage", "75 GB"},
		{"policy-max", "20 KB"},
		{"provisioned-rounding", "5 minutes"},
		{"timeout-max-seconds", "900 seconds"},
		{"timeout-default", "3 seconds"},
		{"timeout-min", "1 second"},
		{"memory-min", "128 MB"},
		{"memory-max", "10,240 MB"},
		{"env-max", "4 KB"},
		{"account-concurrency", "1,000"},
		{"scaling-rate", "1,000 instances every 10 seconds"},
		{"price-requests", "$0.20 per million requests"},
		{"price-gb-second-x86", "$0.0000166667 per GB-second"},
		{"price-gb-second-arm", "$0.0000133334 per GB-second"},
		{"free-requests", "1 million requests"},
		{"free-gb-seconds", "400,000 GB-seconds"},
		{"old-billing-unit", "100 ms"},
		{"prices-as-of", PricesAsOf},
	}
	for _, tt := range tests {
		f, ok := Lookup(tt.id)
		if !ok {
			t.Errorf("Lookup(%q): no such fact", tt.id)
			continue
		}
		if f.Text != tt.want {
			t.Errorf("Lookup(%q).Text = %q, want %q", tt.id, f.Text, tt.want)
		}
	}
	if _, ok := Lookup("no-such-fact"); ok {
		t.Error(`Lookup("no-such-fact") found something`)
	}
}

// TestPriceTextsAreTheConstants reads each price back out of its text, so
// editing a constant without the table (or the reverse) cannot pass.
func TestPriceTextsAreTheConstants(t *testing.T) {
	tests := []struct {
		id     string
		scale  float64 // the text quotes constant × scale
		suffix string
		want   float64
	}{
		{"price-requests", 1e6, " per million requests", PricePerRequest},
		{"price-gb-second-x86", 1, " per GB-second", PricePerGBSecondX86},
		{"price-gb-second-arm", 1, " per GB-second", PricePerGBSecondARM},
		{"price-provisioned-x86", 1, " per GB-second", PricePerGBSecondProvisionedX86},
		{"price-on-provisioned-x86", 1, " per GB-second", PricePerGBSecondOnProvisionedX86},
	}
	for _, tt := range tests {
		f, _ := Lookup(tt.id)
		num, ok := strings.CutSuffix(strings.TrimPrefix(f.Text, "$"), tt.suffix)
		if !ok || !strings.HasPrefix(f.Text, "$") {
			t.Errorf("%s: text %q is not $N%s", tt.id, f.Text, tt.suffix)
			continue
		}
		got, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Errorf("%s: text %q: %v", tt.id, f.Text, err)
			continue
		}
		// A relative tolerance: 0.2 read back and divided by 1e6 is not
		// bit-for-bit 0.0000002.
		if d := got/tt.scale - tt.want; d > tt.want*1e-9 || d < -tt.want*1e-9 {
			t.Errorf("%s: text %q says %v, constant is %v", tt.id, f.Text, got/tt.scale, tt.want)
		}
		if f.AsOf != PricesAsOf || f.Source != PricingURL {
			t.Errorf("%s: AsOf %q Source %q, want %q and the pricing page", tt.id, f.AsOf, f.Source, PricesAsOf)
		}
	}
}

func TestUnits(t *testing.T) {
	if MaxUnzipped != 262_144_000 {
		t.Errorf("MaxUnzipped = %d, want Lambda's 262,144,000 bytes", MaxUnzipped)
	}
	if MaxZipped != 52_428_800 {
		t.Errorf("MaxZipped = %d, want 52,428,800 bytes", MaxZipped)
	}
	if MaxTimeout != 15*time.Minute {
		t.Errorf("MaxTimeout = %v, want 15m", MaxTimeout)
	}
	if MaxSyncPayload != 6<<20 {
		t.Errorf("MaxSyncPayload = %d, want 6 MB", MaxSyncPayload)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Group(0), "0"},
		{Group(999), "999"},
		{Group(1000), "1,000"},
		{Group(262144000), "262,144,000"},
		{Group(-1234), "-1,234"},
		{millions(3_000_000), "3 million"},
		{millions(1_500_000), "1,500,000"},
		{usd(0.0000166667, -1), "$0.0000166667"},
		{usd(0.2, 2), "$0.20"},
		{seconds(time.Second), "1 second"},
		{minutes(15 * time.Minute), "15 minutes"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
