package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Recursive loop detection settings of a function (LambdaFunction's
// RecursionConfig in Lambda's API).
const (
	RecursiveLoopTerminate = "Terminate"
	RecursiveLoopAllow     = "Allow"
)

// SetRecursiveLoop sets a function's recursive loop detection to
// RecursiveLoopTerminate or RecursiveLoopAllow. ErrNotFound if there is no
// such function, ErrInvalid for another value.
func (db *DB) SetRecursiveLoop(ctx context.Context, accountID, function, mode string) error {
	if mode != RecursiveLoopTerminate && mode != RecursiveLoopAllow {
		return fmt.Errorf("set recursive loop of %s: %w: %q is neither Terminate nor Allow", function, ErrInvalid, mode)
	}
	if !allFit(accountID, function) {
		return fmt.Errorf("set recursive loop of %q: %w", function, ErrNotFound)
	}
	rows, err := lambdaAffected(db.conn.ExecContext(ctx,
		"UPDATE lambda_functions SET recursive_loop = $3 WHERE account_id = $1 AND name = $2",
		accountID, function, mode))
	if err != nil {
		return fmt.Errorf("set recursive loop of %s: %w", function, err)
	}
	if rows == 0 {
		return fmt.Errorf("set recursive loop of %s: %w", function, ErrNotFound)
	}
	return nil
}

// RecursiveLoop returns a function's recursive loop detection setting,
// RecursiveLoopTerminate unless it was set otherwise. ErrNotFound if there
// is no such function.
func (db *DB) RecursiveLoop(ctx context.Context, accountID, function string) (string, error) {
	if !allFit(accountID, function) {
		return "", fmt.Errorf("recursive loop of %q: %w", function, ErrNotFound)
	}
	var mode string
	err := db.conn.QueryRowContext(ctx,
		"SELECT recursive_loop FROM lambda_functions WHERE account_id = $1 AND name = $2",
		accountID, function).Scan(&mode)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("recursive loop of %s: %w", function, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("recursive loop of %s: %w", function, err)
	}
	return mode, nil
}
