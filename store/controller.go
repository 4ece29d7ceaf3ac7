package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Controller is where the cluster's controller replica can be reached.
type Controller struct {
	// Replica names the process, for people: host and process id.
	Replica string
	// WebURL and AWSURL are the controller's web site and AWS endpoint as
	// the other replicas reach them; AWSURL is empty when it serves none.
	WebURL, AWSURL string
	// Token is the secret of this controller's term (see the migration).
	Token string
	Since time.Time
}

// SetController records c as the controller. Only the holder of the
// controller lock calls it.
func (db *DB) SetController(ctx context.Context, c Controller) error {
	if !allFit(c.Replica, c.WebURL, c.AWSURL, c.Token) {
		return fmt.Errorf("set controller: %w: not storable text", ErrInvalid)
	}
	_, err := db.conn.ExecContext(ctx, `INSERT INTO controller (id, replica, web_url, aws_url, token, since)
		VALUES (1, $1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, web_url = excluded.web_url,
			aws_url = excluded.aws_url, token = excluded.token, since = excluded.since`,
		c.Replica, c.WebURL, c.AWSURL, c.Token, toNanos(c.Since))
	if err != nil {
		return fmt.Errorf("set controller: %w", err)
	}
	return nil
}

// Controller is the last controller recorded; ErrNotFound before the first.
// It may have died since: the lock, not this row, says who is in charge.
func (db *DB) Controller(ctx context.Context) (Controller, error) {
	var c Controller
	var since int64
	err := db.conn.QueryRowContext(ctx, `SELECT replica, web_url, aws_url, token, since FROM controller WHERE id = 1`).
		Scan(&c.Replica, &c.WebURL, &c.AWSURL, &c.Token, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return Controller{}, fmt.Errorf("controller: %w", ErrNotFound)
	}
	if err != nil {
		return Controller{}, fmt.Errorf("controller: %w", err)
	}
	c.Since = fromNanos(since)
	return c, nil
}
