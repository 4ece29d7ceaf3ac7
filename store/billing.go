package store

import (
	"context"
	"fmt"
	"time"
)

// UsageTotals sums an account's invocation records over a span of time: what
// the account page's billing totals are made of.
type UsageTotals struct {
	// Requests counts the invocations that ran: Lambda charges a request for
	// each. A throttle or an event stopped before it ran (BilledMS zero) is
	// not one.
	Requests  int64
	Throttled int64 // refused with TooManyRequestsException, free
	BilledMS  int64
	GBSeconds float64
	// CostUSD is the sum of the records' costs: compute and the request
	// charge, before the free tier (see sandbox.InvocationCost).
	CostUSD float64
}

// usageTotalsQuery sums the billable records in a span; account_id leads
// the index invocations_account_function_start.
const usageTotalsQuery = `SELECT
	COALESCE(SUM(CASE WHEN billed_ms > 0 THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN outcome = 'throttled' THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN billed_ms > 0 THEN billed_ms ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN billed_ms > 0 THEN gb_seconds ELSE 0 END), 0),
	COALESCE(SUM(CASE WHEN billed_ms > 0 THEN cost_usd ELSE 0 END), 0)
	FROM invocations
	WHERE account_id = $1 AND started_at >= $2 AND started_at < $3`

// UsageTotals sums the invocation records of accountID that started in
// [from, to). A zero from means from the first record; a zero to, up to the
// last one.
func (db *DB) UsageTotals(ctx context.Context, accountID string, from, to time.Time) (UsageTotals, error) {
	if accountID == "" {
		return UsageTotals{}, fmt.Errorf("usage totals: %w: empty account id", ErrInvalid)
	}
	if err := checkText("account id", accountID); err != nil {
		return UsageTotals{}, fmt.Errorf("usage totals: %w", err)
	}
	lo, hi := int64(0), int64(1<<63-1)
	if !from.IsZero() {
		lo = toNanos(from)
	}
	if !to.IsZero() {
		hi = toNanos(to)
	}
	var u UsageTotals
	err := db.conn.QueryRowContext(ctx, usageTotalsQuery, accountID, lo, hi).
		Scan(&u.Requests, &u.Throttled, &u.BilledMS, &u.GBSeconds, &u.CostUSD)
	if err != nil {
		return UsageTotals{}, fmt.Errorf("usage totals of %s: %w", accountID, err)
	}
	return u, nil
}
