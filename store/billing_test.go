package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestUsageTotals(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := func(acct string, at time.Time, billed int64, mb int, outcome string) Invocation {
		inv := sampleInvocation(acct, "fn", at)
		inv.RequestID = fmt.Sprintf("%s-%d-%d", acct, at.UnixNano(), billed)
		inv.BilledMS, inv.MemoryMB, inv.Outcome = billed, mb, outcome
		inv.GBSeconds = float64(billed) / 1000 * float64(mb) / 1024
		inv.CostUSD = inv.GBSeconds*0.0000166667 + 0.0000002
		if outcome == "throttled" {
			inv.GBSeconds, inv.CostUSD = 0, 0
		}
		return inv
	}
	for _, inv := range []Invocation{
		rec("111111111111", month.Add(time.Hour), 100, 1024, "success"),
		rec("111111111111", month.Add(2*time.Hour), 100, 1024, "error"),
		rec("111111111111", month.Add(3*time.Hour), 100, 1024, "success"),
		rec("111111111111", month.Add(4*time.Hour), 0, 1024, "throttled"),
		rec("111111111111", month.Add(-time.Nanosecond), 2000, 512, "success"), // last month
		rec("222222222222", month.Add(time.Hour), 5000, 2048, "success"),       // someone else
	} {
		if err := db.InsertInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	tests := []struct {
		name      string
		from, to  time.Time
		requests  int64
		throttled int64
		billed    int64
		gbs       float64
	}{
		// 3 × 100 ms at 1,024 MB is 0.3 GB-s.
		{"this month", month, time.Time{}, 3, 1, 300, 0.3},
		{"all time", time.Time{}, time.Time{}, 4, 1, 2300, 1.3},
		{"last month", month.AddDate(0, -1, 0), month, 1, 0, 2000, 1},
		{"none yet", month.AddDate(0, 1, 0), time.Time{}, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := db.UsageTotals(ctx, "111111111111", tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			wantCost := tt.gbs*0.0000166667 + float64(tt.requests)*0.0000002
			if u.Requests != tt.requests || u.Throttled != tt.throttled || u.BilledMS != tt.billed || !near(u.GBSeconds, tt.gbs) || !near(u.CostUSD, wantCost) {
				t.Errorf("UsageTotals = %+v, want %d requests, %d throttled, %d ms, %v GB-s, $%v", u, tt.requests, tt.throttled, tt.billed, tt.gbs, wantCost)
			}
		})
	}
	for _, acct := range []string{"", "11111111111\xff", "11111111111\x00"} {
		if _, err := db.UsageTotals(ctx, acct, time.Time{}, time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("totals of account %q: %v, want ErrInvalid", acct, err)
		}
	}
}
