package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Bounds of saved test events, the Lambda console's own: an event's JSON is
// at most 256 KB, a function keeps at most 10, and a name is 1 to 25
// letters, digits, dots, hyphens and underscores.
const (
	MaxTestEventBody = 256 << 10
	MaxTestEvents    = 10
	MaxTestEventName = 25
)

// ErrTestEventLimit means a function already has MaxTestEvents saved test
// events; nothing was saved.
var ErrTestEventLimit = errors.New("test event limit reached")

// TestEvent is one saved test event of a learner for a function of a lab.
type TestEvent struct {
	ID       int64
	UserID   int64
	Lab      string
	Function string
	Name     string
	// Body is the event's JSON, as the learner wrote it.
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ValidTestEventName reports whether name is a name the Lambda console
// accepts for a test event.
func ValidTestEventName(name string) bool {
	if name == "" || len(name) > MaxTestEventName {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// checkTestEvent is the store's own guard; the web layer says precisely
// what is wrong (where the JSON breaks) before it gets here.
func checkTestEvent(name, body string) error {
	if !ValidTestEventName(name) {
		return fmt.Errorf("%w: test event name %q", ErrInvalid, name)
	}
	if len(body) > MaxTestEventBody {
		return fmt.Errorf("%w: test event %s is %d bytes, over %d", ErrInvalid, name, len(body), MaxTestEventBody)
	}
	if !json.Valid([]byte(body)) {
		return fmt.Errorf("%w: test event %s is not JSON", ErrInvalid, name)
	}
	// json.Valid lets invalid UTF-8 through inside strings.
	if !fitsText(body) {
		return fmt.Errorf("%w: test event %s is not valid UTF-8", ErrInvalid, name)
	}
	return nil
}

const testEventColumns = "id, user_id, lab, function, name, body, created_at, updated_at"

func scanTestEvent(row interface{ Scan(...any) error }) (TestEvent, error) {
	var (
		ev               TestEvent
		created, updated int64
	)
	if err := row.Scan(&ev.ID, &ev.UserID, &ev.Lab, &ev.Function, &ev.Name, &ev.Body, &created, &updated); err != nil {
		return TestEvent{}, err
	}
	ev.CreatedAt, ev.UpdatedAt = fromNanos(created), fromNanos(updated)
	return ev, nil
}

// CreateTestEvent saves a new test event for ev's user, lab and function
// and returns it with its id. ErrExists if the function has an event of
// that name, ErrTestEventLimit if it has MaxTestEvents already, ErrInvalid
// for a bad name or body, ErrNotFound if there is no such user.
func (db *DB) CreateTestEvent(ctx context.Context, ev TestEvent) (TestEvent, error) {
	if err := checkSlug("lab", ev.Lab); err != nil {
		return TestEvent{}, fmt.Errorf("create test event: %w", err)
	}
	if err := checkSlug("function", ev.Function); err != nil {
		return TestEvent{}, fmt.Errorf("create test event: %w", err)
	}
	if err := checkTestEvent(ev.Name, ev.Body); err != nil {
		return TestEvent{}, fmt.Errorf("create test event: %w", err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return TestEvent{}, fmt.Errorf("create test event %s: %w", ev.Name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx,
		"SELECT count(*) FROM test_events WHERE user_id = $1 AND lab = $2 AND function = $3",
		ev.UserID, ev.Lab, ev.Function).Scan(&n); err != nil {
		return TestEvent{}, fmt.Errorf("create test event %s: %w", ev.Name, err)
	}
	if n >= MaxTestEvents {
		return TestEvent{}, fmt.Errorf("create test event %s: %w (%d)", ev.Name, ErrTestEventLimit, MaxTestEvents)
	}
	now := db.now()
	// RETURNING rather than LastInsertId, which pgx does not implement.
	err = tx.QueryRowContext(ctx,
		`INSERT INTO test_events (user_id, lab, function, name, body, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		ev.UserID, ev.Lab, ev.Function, ev.Name, ev.Body, toNanos(now)).Scan(&ev.ID)
	switch {
	case isUniqueViolation(err):
		return TestEvent{}, fmt.Errorf("create test event %s: %w", ev.Name, ErrExists)
	case isForeignKeyViolation(err):
		return TestEvent{}, fmt.Errorf("create test event %s: user %w", ev.Name, ErrNotFound)
	case err != nil:
		return TestEvent{}, fmt.Errorf("create test event %s: %w", ev.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return TestEvent{}, fmt.Errorf("create test event %s: %w", ev.Name, err)
	}
	ev.CreatedAt, ev.UpdatedAt = fromNanos(toNanos(now)), fromNanos(toNanos(now))
	return ev, nil
}

// UpdateTestEvent renames and rewrites the user's test event id and returns
// it. ErrNotFound if the user has no such event (another user's id is not
// found either), ErrExists if another event of the function has that name,
// ErrInvalid for a bad name or body.
func (db *DB) UpdateTestEvent(ctx context.Context, userID, id int64, name, body string) (TestEvent, error) {
	if err := checkTestEvent(name, body); err != nil {
		return TestEvent{}, fmt.Errorf("update test event %d: %w", id, err)
	}
	res, err := db.conn.ExecContext(ctx,
		"UPDATE test_events SET name = $3, body = $4, updated_at = $5 WHERE user_id = $1 AND id = $2",
		userID, id, name, body, toNanos(db.now()))
	if isUniqueViolation(err) {
		return TestEvent{}, fmt.Errorf("update test event %d: %s %w", id, name, ErrExists)
	}
	if err != nil {
		return TestEvent{}, fmt.Errorf("update test event %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return TestEvent{}, fmt.Errorf("update test event %d: %w", id, ErrNotFound)
	}
	return db.TestEvent(ctx, userID, id)
}

// DeleteTestEvent deletes the user's test event id. ErrNotFound if the user
// has no such event.
func (db *DB) DeleteTestEvent(ctx context.Context, userID, id int64) error {
	res, err := db.conn.ExecContext(ctx, "DELETE FROM test_events WHERE user_id = $1 AND id = $2", userID, id)
	if err != nil {
		return fmt.Errorf("delete test event %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete test event %d: %w", id, ErrNotFound)
	}
	return nil
}

// TestEvent returns the user's test event id. ErrNotFound if the user has
// no such event.
func (db *DB) TestEvent(ctx context.Context, userID, id int64) (TestEvent, error) {
	ev, err := scanTestEvent(db.conn.QueryRowContext(ctx,
		"SELECT "+testEventColumns+" FROM test_events WHERE user_id = $1 AND id = $2", userID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return TestEvent{}, fmt.Errorf("test event %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return TestEvent{}, fmt.Errorf("test event %d: %w", id, err)
	}
	return ev, nil
}

// TestEvents lists the user's saved events for a function of a lab by name.
func (db *DB) TestEvents(ctx context.Context, userID int64, lab, function string) ([]TestEvent, error) {
	rows, err := db.conn.QueryContext(ctx,
		"SELECT "+testEventColumns+" FROM test_events WHERE user_id = $1 AND lab = $2 AND function = $3 ORDER BY name",
		userID, lab, function)
	if err != nil {
		return nil, fmt.Errorf("list test events of %s: %w", function, err)
	}
	defer rows.Close()
	var out []TestEvent
	for rows.Next() {
		ev, err := scanTestEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list test events of %s: %w", function, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list test events of %s: %w", function, err)
	}
	return out, nil
}

// PowerTuning is one power-tuning run: the same event at several memory
// sizes on a temporary copy of a function.
type PowerTuning struct {
	ID       int64
	UserID   int64
	Lab      string
	Function string
	// EventName says which event ran: a saved event's name, or a short
	// description ("the event box").
	EventName string
	// Note says anything the numbers need beside them (stopped early, and
	// why).
	Note      string
	Sizes     []PowerTuningSize
	CreatedAt time.Time
}

// PowerTuningSize is what one memory size measured.
type PowerTuningSize struct {
	MemoryMB int `json:"memory_mb"`
	// Runs is how many invocations ran at this size, the cold first one
	// included.
	Runs int `json:"runs"`
	// ColdMS and InitMS are the first run's duration and init duration.
	ColdMS float64 `json:"cold_ms"`
	InitMS float64 `json:"init_ms"`
	// WarmMS and WarmBilledMS average the warm runs' durations and billed
	// durations; zero when none ran.
	WarmMS       float64 `json:"warm_ms"`
	WarmBilledMS float64 `json:"warm_billed_ms"`
	// CostUSD is the average cost of one warm invocation (of the cold one
	// when no warm one ran).
	CostUSD float64 `json:"cost_usd"`
	// MaxMemoryMB is the most memory any run used.
	MaxMemoryMB int `json:"max_memory_mb"`
	// Failed is empty when the runs succeeded, else how they failed: the
	// Lambda errorType of a function error ("Sandbox.Timedout",
	// "Runtime.OutOfMemory"), or "busy" or "skipped" for a size that could
	// not run.
	Failed string `json:"failed,omitempty"`
}

// keptPowerTunings is how many runs are kept per learner and function:
// the page shows the latest, and older ones only take room.
const keptPowerTunings = 5

// InsertPowerTuning stores a finished run and forgets all but the newest
// few of the user's runs for that function. ErrNotFound if there is no
// such user.
func (db *DB) InsertPowerTuning(ctx context.Context, p PowerTuning) (PowerTuning, error) {
	if err := checkSlug("lab", p.Lab); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning: %w", err)
	}
	if err := checkSlug("function", p.Function); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning: %w", err)
	}
	if err := checkText("event name", p.EventName); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	if err := checkText("note", p.Note); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	sizes, err := json.Marshal(p.Sizes)
	if err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = db.now()
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx,
		`INSERT INTO power_tunings (user_id, lab, function, event_name, note, sizes, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		p.UserID, p.Lab, p.Function, p.EventName, p.Note, string(sizes), toNanos(p.CreatedAt)).Scan(&p.ID)
	if isForeignKeyViolation(err) {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: user %w", p.Function, ErrNotFound)
	}
	if err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM power_tunings WHERE user_id = $1 AND lab = $2 AND function = $3 AND id NOT IN (
			SELECT id FROM power_tunings WHERE user_id = $1 AND lab = $2 AND function = $3
			ORDER BY created_at DESC, id DESC LIMIT $4)`,
		p.UserID, p.Lab, p.Function, keptPowerTunings); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: prune: %w", p.Function, err)
	}
	if err := tx.Commit(); err != nil {
		return PowerTuning{}, fmt.Errorf("insert power tuning of %s: %w", p.Function, err)
	}
	p.CreatedAt = fromNanos(toNanos(p.CreatedAt))
	return p, nil
}

// LatestPowerTuning returns the user's newest run for a function of a lab.
// ErrNotFound if there is none.
func (db *DB) LatestPowerTuning(ctx context.Context, userID int64, lab, function string) (PowerTuning, error) {
	var (
		p       PowerTuning
		sizes   string
		created int64
	)
	err := db.conn.QueryRowContext(ctx,
		`SELECT id, user_id, lab, function, event_name, note, sizes, created_at FROM power_tunings
		 WHERE user_id = $1 AND lab = $2 AND function = $3 ORDER BY created_at DESC, id DESC LIMIT 1`,
		userID, lab, function).Scan(&p.ID, &p.UserID, &p.Lab, &p.Function, &p.EventName, &p.Note, &sizes, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return PowerTuning{}, fmt.Errorf("power tuning of %s: %w", function, ErrNotFound)
	}
	if err != nil {
		return PowerTuning{}, fmt.Errorf("power tuning of %s: %w", function, err)
	}
	if err := json.Unmarshal([]byte(sizes), &p.Sizes); err != nil {
		return PowerTuning{}, fmt.Errorf("power tuning of %s: decode sizes: %w", function, err)
	}
	p.CreatedAt = fromNanos(created)
	return p, nil
}
