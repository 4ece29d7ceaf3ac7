package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"maragu.dev/goqite"
)

// Queue is a named durable queue of messages (asynchronous invocations) in
// the goqite table, a thin wrapper on maragu.dev/goqite. Delivery is at least
// once: a received message becomes visible again after the queue's
// visibility timeout unless it is deleted or replaced first. Retries and
// giving up are the caller's: there is no receive limit.
//
// goqite stamps messages with time.Now, not the DB's clock: on SQLite as
// text at millisecond precision, on PostgreSQL as timestamptz (microseconds).
// The statements here that write or compare times (Receive, Requeue) pass
// them the same way, through stamp, so that the two agree.
type Queue struct {
	db         *DB
	name       string
	visibility time.Duration
	q          *goqite.Queue

	prepare sync.Once
	receive *sql.Stmt
	prepErr error
}

// QueueMessage is one received message.
type QueueMessage struct {
	ID   string
	Body []byte
	// Received is how many times the message has been received, 1 on its
	// first delivery.
	Received int
}

// goqiteTime is goqite's timestamp layout on SQLite: UTC, milliseconds,
// trailing zeros kept, so that the stored strings sort as the times do.
const goqiteTime = "2006-01-02T15:04:05.000Z07:00"

// stamp is t as goqite stores it: text on SQLite, a time on PostgreSQL. Text
// would be cast to timestamptz there, but at milliseconds it would compare
// wrongly with goqite's microseconds (a message sent in the same millisecond
// as "now" would seem not yet due).
func (q *Queue) stamp(t time.Time) any {
	if q.db.dialect == postgresDialect {
		return t.UTC()
	}
	return t.UTC().Format(goqiteTime)
}

// Queue returns the named durable queue. A received message becomes visible
// again after visibility unless deleted or replaced. It panics on an empty
// name or a visibility that is not positive, as goqite does: both are
// constants in the caller.
func (db *DB) Queue(name string, visibility time.Duration) *Queue {
	if name == "" {
		panic("store: queue name is empty")
	}
	if visibility <= 0 {
		panic(fmt.Sprintf("store: queue %s: visibility %v is not positive", name, visibility))
	}
	flavor := goqite.SQLFlavorSQLite
	if db.dialect == postgresDialect {
		flavor = goqite.SQLFlavorPostgreSQL
	}
	return &Queue{
		db:         db,
		name:       name,
		visibility: visibility,
		q: goqite.New(goqite.NewOpts{
			DB:        db.conn,
			Name:      name,
			SQLFlavor: flavor,
			// goqite stops delivering a message after MaxReceive receives
			// (default 3), leaving it in the table for ever. Retries and
			// their limit are the caller's, so that must never happen.
			MaxReceive: math.MaxInt32,
			Timeout:    visibility,
		}),
	}
}

// Send adds a message that becomes visible after delay (0 = now) and returns
// its id.
func (q *Queue) Send(ctx context.Context, body []byte, delay time.Duration) (string, error) {
	if delay < 0 {
		return "", fmt.Errorf("send to queue %s: %w: negative delay %v", q.name, ErrInvalid, delay)
	}
	if body == nil {
		body = []byte{} // the body column is NOT NULL
	}
	id, err := q.q.SendAndGetID(ctx, goqite.Message{Body: body, Delay: delay})
	if err != nil {
		return "", fmt.Errorf("send to queue %s: %w", q.name, err)
	}
	return string(id), nil
}

// Receive takes the next visible message, oldest first, hiding it for the
// queue's visibility timeout; ok=false when none is due.
func (q *Queue) Receive(ctx context.Context) (m QueueMessage, ok bool, err error) {
	// One statement, so no transaction: goqite's ReceiveTx needs a BEGIN,
	// its UPDATE, a second read for the receive count and a COMMIT, and its
	// SQL is parsed anew on every call, which cost a quarter of the async
	// path's CPU. This is the same UPDATE, prepared once, returning the count.
	st, err := q.receiveStmt(ctx)
	if err != nil {
		return QueueMessage{}, false, fmt.Errorf("receive from queue %s: %w", q.name, err)
	}
	now := time.Now()
	err = st.QueryRowContext(ctx, q.stamp(now.Add(q.visibility)), q.name, q.stamp(now)).Scan(&m.ID, &m.Body, &m.Received)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return QueueMessage{}, false, nil
	case err != nil:
		return QueueMessage{}, false, fmt.Errorf("receive from queue %s: %w", q.name, err)
	}
	return m, true, nil
}

// receiveQuery is goqite's receive (same table, order and visibility rule)
// without its receive limit, returning the receive count too.
const receiveQuery = `UPDATE goqite SET timeout = $1, received = received + 1
	WHERE id = (SELECT id FROM goqite WHERE queue = $2 AND $3 >= timeout ORDER BY priority DESC, created LIMIT 1)
	RETURNING id, body, received`

// receiveQueryPostgres is receiveQuery for PostgreSQL, where two receivers'
// subqueries could pick the same row (SQLite runs one writer at a time):
// SKIP LOCKED makes the second take the next message instead.
const receiveQueryPostgres = `UPDATE goqite SET timeout = $1, received = received + 1
	WHERE id = (SELECT id FROM goqite WHERE queue = $2 AND $3 >= timeout ORDER BY priority DESC, created LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING id, body, received`

func (q *Queue) receiveStmt(ctx context.Context) (*sql.Stmt, error) {
	query := receiveQuery
	if q.db.dialect == postgresDialect {
		query = receiveQueryPostgres
	}
	q.prepare.Do(func() { q.receive, q.prepErr = q.db.conn.PrepareContext(ctx, query) })
	return q.receive, q.prepErr
}

// Delete removes a message. An absent id is not an error: after a
// visibility timeout another receiver may have handled and deleted it.
func (q *Queue) Delete(ctx context.Context, id string) error {
	if err := q.q.Delete(ctx, goqite.ID(id)); err != nil {
		return fmt.Errorf("delete message %s from queue %s: %w", id, q.name, err)
	}
	return nil
}

// Replace deletes message id and sends body with delay in one transaction,
// returning the new message's id: a crash leaves either the old message or
// the new one, never both or neither. ErrNotFound, sending nothing, if id is
// no longer in the queue (another receiver handled it after a visibility
// timeout): sending anyway would run the work twice.
func (q *Queue) Replace(ctx context.Context, id string, body []byte, delay time.Duration) (string, error) {
	if delay < 0 {
		return "", fmt.Errorf("replace message %s in queue %s: %w: negative delay %v", id, q.name, ErrInvalid, delay)
	}
	if body == nil {
		body = []byte{}
	}
	tx, err := q.db.begin(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("replace message %s in queue %s: %w", id, q.name, err)
	}
	defer tx.Rollback()
	// goqite's DeleteTx does not say whether it deleted anything, so the
	// delete is done here, on the same table and key.
	n, err := lambdaAffected(tx.ExecContext(ctx, "DELETE FROM goqite WHERE queue = $1 AND id = $2", q.name, id))
	if err != nil {
		return "", fmt.Errorf("replace message %s in queue %s: %w", id, q.name, err)
	}
	if n == 0 {
		return "", fmt.Errorf("replace message %s in queue %s: %w", id, q.name, ErrNotFound)
	}
	newID, err := q.q.SendAndGetIDTx(ctx, tx, goqite.Message{Body: body, Delay: delay})
	if err != nil {
		return "", fmt.Errorf("replace message %s in queue %s: %w", id, q.name, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("replace message %s in queue %s: commit: %w", id, q.name, err)
	}
	return string(newID), nil
}

// Requeue makes every received but not deleted message of the queue visible
// now and returns how many it changed. Call it once at start-up: only one
// lambdalab process serves a data directory, so whatever was in flight when
// the last one died is redelivered at once instead of after the visibility
// timeout. Messages never received keep their delay.
func (q *Queue) Requeue(ctx context.Context) (int, error) {
	// goqite has no statement for this. received > 0 with a timeout still in
	// the future is exactly "received and hidden"; Send's delay leaves
	// received at 0.
	now := q.stamp(time.Now())
	n, err := lambdaAffected(q.db.conn.ExecContext(ctx,
		"UPDATE goqite SET timeout = $1 WHERE queue = $2 AND received > 0 AND timeout > $1", now, q.name))
	if err != nil {
		return 0, fmt.Errorf("requeue queue %s: %w", q.name, err)
	}
	return int(n), nil
}

// NextDue says when the earliest message of the queue becomes (or became)
// visible, delayed and in-flight ones included; ok=false when the queue is
// empty. A worker can sleep until then instead of polling.
func (q *Queue) NextDue(ctx context.Context) (t time.Time, ok bool, err error) {
	// A time on PostgreSQL, goqite's text on SQLite.
	var due any
	if err := q.db.conn.QueryRowContext(ctx, "SELECT min(timeout) FROM goqite WHERE queue = $1", q.name).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("next due in queue %s: %w", q.name, err)
	}
	switch d := due.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return d.UTC(), true, nil
	case string:
		t, err = time.Parse(time.RFC3339Nano, d)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("next due in queue %s: %w", q.name, err)
		}
		return t, true, nil
	default:
		return time.Time{}, false, fmt.Errorf("next due in queue %s: timeout is a %T", q.name, due)
	}
}

// Len returns how many messages the queue holds: visible, delayed and in
// flight.
func (q *Queue) Len(ctx context.Context) (int, error) {
	var n int
	if err := q.db.conn.QueryRowContext(ctx, "SELECT count(*) FROM goqite WHERE queue = $1", q.name).Scan(&n); err != nil {
		return 0, fmt.Errorf("length of queue %s: %w", q.name, err)
	}
	return n, nil
}
