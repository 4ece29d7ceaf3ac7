package store

import (
	"context"
	"fmt"
	"time"
)

// Invocation is the record of one invoke, written by the sandbox for every
// invocation (throttled ones included), and by cloud/lambda for an async
// event it stops before it runs (a recursive loop), and read by the charts,
// the billing totals and the grader.
type Invocation struct {
	RequestID  string
	AccountID  string
	Function   string
	Version    string // "$LATEST" or a published version number
	InstanceID string // empty when no instance ran (a throttle)
	Cold       bool   // the invoke paid for an instance's init
	Start, End time.Time
	DurationMS float64 // handler run time
	BilledMS   int64   // DurationMS rounded up to 1 ms (plus init where Lambda bills it)
	InitMS     float64 // init duration on a cold start, else 0
	MemoryMB   int     // configured memory
	// MaxMemoryMB is the peak memory the instance used.
	MaxMemoryMB int
	Outcome     string // "success", "error", "timeout", "exit", "throttled", "recursion-stopped", ...
	ErrorType   string // Lambda's errorType, e.g. "Runtime.ExitError"; empty on success
	GBSeconds   float64
	CostUSD     float64
}

const insertInvocationQuery = `INSERT INTO invocations (request_id, account_id, function, version, instance_id, cold,
	started_at, ended_at, duration_ms, billed_ms, init_ms, memory_mb, max_memory_mb,
	outcome, error_type, gb_seconds, cost_usd)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// InsertInvocation stores one invocation record.
func (db *DB) InsertInvocation(ctx context.Context, inv Invocation) error {
	switch {
	case inv.AccountID == "":
		return fmt.Errorf("insert invocation %s: %w: empty account id", inv.RequestID, ErrInvalid)
	case inv.Function == "":
		return fmt.Errorf("insert invocation %s: %w: empty function name", inv.RequestID, ErrInvalid)
	case inv.Outcome == "":
		return fmt.Errorf("insert invocation %s: %w: empty outcome", inv.RequestID, ErrInvalid)
	case inv.Start.IsZero():
		return fmt.Errorf("insert invocation %s: %w: zero start time", inv.RequestID, ErrInvalid)
	}
	for _, f := range [...]struct{ what, s string }{
		{"request id", inv.RequestID}, {"account id", inv.AccountID}, {"function", inv.Function}, {"version", inv.Version},
		{"instance id", inv.InstanceID}, {"outcome", inv.Outcome}, {"error type", inv.ErrorType},
	} {
		if err := checkText(f.what, f.s); err != nil {
			return fmt.Errorf("insert invocation %q: %w", inv.RequestID, err)
		}
	}
	_, err := db.exec(ctx, db.insertInvocationStmt, insertInvocationQuery,
		inv.RequestID, inv.AccountID, inv.Function, inv.Version, inv.InstanceID, flag(inv.Cold),
		toNanos(inv.Start), toNanos(inv.End), inv.DurationMS, inv.BilledMS, inv.InitMS, inv.MemoryMB, inv.MaxMemoryMB,
		inv.Outcome, inv.ErrorType, inv.GBSeconds, inv.CostUSD)
	if err != nil {
		return fmt.Errorf("insert invocation %s of %s: %w", inv.RequestID, inv.Function, err)
	}
	return nil
}

// invocationColumns are what queryInvocations scans, in its order.
const invocationColumns = `request_id, account_id, function, version, instance_id, cold,
	started_at, ended_at, duration_ms, billed_ms, init_ms, memory_mb, max_memory_mb,
	outcome, error_type, gb_seconds, cost_usd`

// invocationsQuery is served by the index invocations_account_function_start,
// ordering included (the index ends with the rowid, so "id" breaks ties
// without a sort).
const invocationsQuery = `SELECT ` + invocationColumns + `
	FROM invocations
	WHERE account_id = $1 AND function = $2 AND started_at >= $3
	ORDER BY started_at, id`

// Invocations lists an account's invocations of one function (all versions)
// that started at or after since, oldest first.
func (db *DB) Invocations(ctx context.Context, accountID, function string, since time.Time) ([]Invocation, error) {
	out, err := db.queryInvocations(ctx, invocationsQuery, accountID, function, toNanos(since))
	if err != nil {
		return nil, fmt.Errorf("list invocations of %s: %w", function, err)
	}
	return out, nil
}

// LatestInvocations are an account's newest limit invocations of one
// function, newest first: the console's history, which needs no time range.
func (db *DB) LatestInvocations(ctx context.Context, accountID, function string, limit int) ([]Invocation, error) {
	out, err := db.queryInvocations(ctx, `SELECT `+invocationColumns+`
		FROM invocations WHERE account_id = $1 AND function = $2
		ORDER BY started_at DESC, id DESC LIMIT $3`, accountID, function, limit)
	if err != nil {
		return nil, fmt.Errorf("latest invocations of %s: %w", function, err)
	}
	return out, nil
}

// queryInvocations runs a query selecting invocationColumns.
func (db *DB) queryInvocations(ctx context.Context, query string, args ...any) ([]Invocation, error) {
	rows, err := db.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Invocation
	for rows.Next() {
		var (
			inv        Invocation
			start, end int64
		)
		if err := rows.Scan(&inv.RequestID, &inv.AccountID, &inv.Function, &inv.Version, &inv.InstanceID, &inv.Cold,
			&start, &end, &inv.DurationMS, &inv.BilledMS, &inv.InitMS, &inv.MemoryMB, &inv.MaxMemoryMB,
			&inv.Outcome, &inv.ErrorType, &inv.GBSeconds, &inv.CostUSD); err != nil {
			return nil, err
		}
		inv.Start, inv.End = fromNanos(start), fromNanos(end)
		out = append(out, inv)
	}
	return out, rows.Err()
}
