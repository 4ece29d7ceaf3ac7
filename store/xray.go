package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// XRaySegment is one X-Ray document as cloud/xray received it: a segment,
// with any subsegments embedded in it, or one subsegment sent on its own.
// The fields beside Doc are what cloud/xray read from it, kept so that
// listings need not parse documents.
type XRaySegment struct {
	AccountID string
	TraceID   string // "1-5759e988-bd862e3fe1be46a994272793"
	ID        string // 16 hex digits
	// ParentID is the entity's parent_id; "" when the document has none.
	ParentID string
	// Subsegment says the document is a subsegment sent on its own
	// ("type": "subsegment"), to be hung under ParentID when read.
	Subsegment bool
	Name       string
	Origin     string // "AWS::Lambda::Function", …; "" when none
	Start, End time.Time
	InProgress bool
	// Error, Fault and Throttle are set when the entity or any subsegment
	// embedded in it has the flag.
	Error, Fault, Throttle bool
	HTTPMethod, HTTPURL    string
	HTTPStatus             int
	// Annotations is a JSON object of the document's annotations; "" when
	// there are none.
	Annotations string
	// Doc is the document as received. Listings leave it empty.
	Doc []byte
}

// XRayTrace is one trace's row: its extent and what it costs the account.
type XRayTrace struct {
	AccountID string
	TraceID   string
	// Start is the earliest start and End the latest end of its entities.
	Start, End time.Time
	Bytes      int64 // total size of its documents
	Segments   int   // documents stored
	Updated    time.Time
}

// XRayLimits bounds what one account keeps. When a write takes an account
// over either limit, its oldest traces (by first arrival) are dropped until
// it is under both. Zero means no limit.
type XRayLimits struct {
	MaxTraces int
	MaxBytes  int64
}

// The trace upsert is written for both engines: SQLite has no LEAST or
// GREATEST and PostgreSQL no two-argument min and max, so the extent is
// widened with CASE; and PostgreSQL takes an unqualified column in DO
// UPDATE SET as ambiguous between the row and excluded.
const (
	// bytes and segments are the batch's documents of the trace, counted
	// as stored; a replaced one is taken back out by a trigger, one not
	// stored at all by xrayTraceUncount.
	xrayTraceUpsert = `INSERT INTO xray_traces (account_id, trace_id, start_ns, end_ns, bytes, segments, updated_at)
	SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)
	ON CONFLICT (account_id, trace_id) DO UPDATE SET
		start_ns = CASE WHEN excluded.start_ns < xray_traces.start_ns THEN excluded.start_ns ELSE xray_traces.start_ns END,
		end_ns = CASE WHEN excluded.end_ns > xray_traces.end_ns THEN excluded.end_ns ELSE xray_traces.end_ns END,
		bytes = xray_traces.bytes + excluded.bytes,
		segments = xray_traces.segments + excluded.segments,
		updated_at = excluded.updated_at
	RETURNING seq`
	xrayTraceUncount = `UPDATE xray_traces SET bytes = bytes - $1, segments = segments - 1 WHERE seq = $2`
	// A complete entity is never replaced by an in-progress one sent late.
	xraySegmentUpsert = `INSERT INTO xray_segments (trace_seq, entity_id, parent_id, kind, name, origin,
		start_ns, end_ns, in_progress, error, fault, throttle, http_method, http_url, http_status, annotations, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	ON CONFLICT (trace_seq, entity_id) DO UPDATE SET
		parent_id = excluded.parent_id, kind = excluded.kind, name = excluded.name, origin = excluded.origin,
		start_ns = excluded.start_ns, end_ns = excluded.end_ns, in_progress = excluded.in_progress,
		error = excluded.error, fault = excluded.fault, throttle = excluded.throttle,
		http_method = excluded.http_method, http_url = excluded.http_url, http_status = excluded.http_status,
		annotations = excluded.annotations, doc = excluded.doc
	WHERE excluded.in_progress = 0 OR xray_segments.in_progress = 1`
)

// PutXRaySegments stores a batch of documents in one transaction and then
// applies lim to every account the batch touched. Documents of accounts
// that do not exist are skipped, and so are documents with a field that
// is not text a TEXT column keeps (invalid UTF-8 or a NUL, see fitsText):
// a batch holds many learners' documents, and one learner's name with a
// NUL in it must not cost the others theirs. It returns how many documents
// it stored. ErrInvalid, storing nothing, for a document without an
// account, trace or id.
func (db *DB) PutXRaySegments(ctx context.Context, segs []XRaySegment, lim XRayLimits) (int, error) {
	if len(segs) == 0 {
		return 0, nil
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("put x-ray segments: %w", err)
	}
	defer tx.Rollback()
	traceSt, err := tx.PrepareContext(ctx, xrayTraceUpsert)
	if err != nil {
		return 0, fmt.Errorf("put x-ray segments: %w", err)
	}
	defer traceSt.Close()
	segSt, err := tx.PrepareContext(ctx, xraySegmentUpsert)
	if err != nil {
		return 0, fmt.Errorf("put x-ray segments: %w", err)
	}
	defer segSt.Close()

	// One trace upsert per trace in the batch: its extent over the batch.
	type traceKey struct{ account, trace string }
	type extent struct {
		start, end  int64
		bytes, docs int64
		seq         int64
		missing     bool // no such account
	}
	traces := make(map[traceKey]*extent)
	var order []traceKey
	fits := make([]bool, len(segs))
	for i := range segs {
		s := &segs[i]
		if s.AccountID == "" || s.TraceID == "" || s.ID == "" {
			return 0, fmt.Errorf("put x-ray segment %q: %w: empty account, trace or id", s.ID, ErrInvalid)
		}
		if fits[i] = xraySegmentFits(s); !fits[i] {
			continue
		}
		k := traceKey{s.AccountID, s.TraceID}
		start, end := toNanos(s.Start), toNanos(s.End)
		end = max(end, start)
		e := traces[k]
		if e == nil {
			e = &extent{start: start, end: end}
			traces[k] = e
			order = append(order, k)
		}
		e.start, e.end = min(e.start, start), max(e.end, end)
		e.bytes += int64(len(s.Doc))
		e.docs++
	}
	now := toNanos(db.now())
	accounts := map[string]bool{}
	for _, k := range order {
		e := traces[k]
		err := traceSt.QueryRowContext(ctx, k.account, k.trace, e.start, e.end, e.bytes, e.docs, now).Scan(&e.seq)
		if errors.Is(err, sql.ErrNoRows) {
			e.missing = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("put x-ray trace %s: %w", k.trace, err)
		}
		accounts[k.account] = true
	}
	stored := 0
	for i := range segs {
		s := &segs[i]
		if !fits[i] {
			continue
		}
		e := traces[traceKey{s.AccountID, s.TraceID}]
		if e.missing {
			continue
		}
		kind := "segment"
		if s.Subsegment {
			kind = "subsegment"
		}
		doc := s.Doc
		if doc == nil {
			doc = []byte{}
		}
		res, err := segSt.ExecContext(ctx, e.seq, s.ID, s.ParentID, kind, s.Name, s.Origin,
			toNanos(s.Start), toNanos(s.End), flag(s.InProgress), flag(s.Error), flag(s.Fault), flag(s.Throttle),
			s.HTTPMethod, s.HTTPURL, s.HTTPStatus, s.Annotations, doc)
		if err != nil {
			return 0, fmt.Errorf("put x-ray segment %s of %s: %w", s.ID, s.TraceID, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			// An in-progress copy of an entity already complete: kept out,
			// so taken out of the trace's count again.
			if _, err := tx.ExecContext(ctx, xrayTraceUncount, len(doc), e.seq); err != nil {
				return 0, fmt.Errorf("put x-ray segment %s of %s: %w", s.ID, s.TraceID, err)
			}
			continue
		}
		stored++
	}
	for acct := range accounts {
		if err := trimXRay(ctx, tx, acct, lim); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("put x-ray segments: commit: %w", err)
	}
	return stored, nil
}

// xraySegmentFits reports whether every text field of s fits a TEXT
// column; the document itself is BYTEA and holds any bytes.
func xraySegmentFits(s *XRaySegment) bool {
	for _, f := range []string{s.AccountID, s.TraceID, s.ID, s.ParentID, s.Name, s.Origin, s.HTTPMethod, s.HTTPURL, s.Annotations} {
		if !fitsText(f) {
			return false
		}
	}
	return true
}

// trimXRay drops an account's oldest traces until it is within lim.
func trimXRay(ctx context.Context, tx *sql.Tx, acct string, lim XRayLimits) error {
	if lim.MaxTraces <= 0 && lim.MaxBytes <= 0 {
		return nil
	}
	var traces, bytes int64
	err := tx.QueryRowContext(ctx, "SELECT traces, bytes FROM xray_usage WHERE account_id = $1", acct).Scan(&traces, &bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("x-ray usage of %s: %w", acct, err)
	}
	var dropTraces, dropBytes int64
	if lim.MaxTraces > 0 {
		dropTraces = traces - int64(lim.MaxTraces)
	}
	if lim.MaxBytes > 0 {
		dropBytes = bytes - lim.MaxBytes
	}
	if dropTraces <= 0 && dropBytes <= 0 {
		return nil
	}
	// Walk the oldest traces until enough are counted, then delete up to
	// that one: seq only grows, so "oldest" is "seq at most the cutoff".
	rows, err := tx.QueryContext(ctx, "SELECT seq, bytes FROM xray_traces WHERE account_id = $1 ORDER BY seq", acct)
	if err != nil {
		return fmt.Errorf("trim x-ray traces of %s: %w", acct, err)
	}
	var cutoff int64 = -1
	for rows.Next() {
		var seq, b int64
		if err := rows.Scan(&seq, &b); err != nil {
			rows.Close()
			return fmt.Errorf("trim x-ray traces of %s: %w", acct, err)
		}
		cutoff = seq
		dropTraces--
		dropBytes -= b
		if dropTraces <= 0 && dropBytes <= 0 {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("trim x-ray traces of %s: %w", acct, err)
	}
	if cutoff < 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM xray_traces WHERE account_id = $1 AND seq <= $2", acct, cutoff); err != nil {
		return fmt.Errorf("trim x-ray traces of %s: %w", acct, err)
	}
	return nil
}

// XRayUsage reports how many traces and document bytes an account keeps.
func (db *DB) XRayUsage(ctx context.Context, accountID string) (traces int, bytes int64, err error) {
	err = db.conn.QueryRowContext(ctx, "SELECT traces, bytes FROM xray_usage WHERE account_id = $1", accountID).Scan(&traces, &bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("x-ray usage of %s: %w", accountID, err)
	}
	return traces, bytes, nil
}

// XRayTraces lists an account's traces that started in [from, to], newest
// first, at most limit of them (zero means 1,000).
func (db *DB) XRayTraces(ctx context.Context, accountID string, from, to time.Time, limit int) ([]XRayTrace, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.conn.QueryContext(ctx, `SELECT trace_id, start_ns, end_ns, bytes, segments, updated_at
		FROM xray_traces WHERE account_id = $1 AND start_ns >= $2 AND start_ns <= $3
		ORDER BY start_ns DESC, seq DESC LIMIT $4`, accountID, toNanos(from), toNanos(to), limit)
	if err != nil {
		return nil, fmt.Errorf("list x-ray traces of %s: %w", accountID, err)
	}
	defer rows.Close()
	var out []XRayTrace
	for rows.Next() {
		t := XRayTrace{AccountID: accountID}
		var start, end, updated int64
		if err := rows.Scan(&t.TraceID, &start, &end, &t.Bytes, &t.Segments, &updated); err != nil {
			return nil, fmt.Errorf("list x-ray traces of %s: %w", accountID, err)
		}
		t.Start, t.End, t.Updated = fromNanos(start), fromNanos(end), fromNanos(updated)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list x-ray traces of %s: %w", accountID, err)
	}
	return out, nil
}

// XRaySegments returns the stored documents of an account's traces, in
// arrival order within each trace; with docs false, Doc is left empty.
// Trace ids the account does not have are skipped.
func (db *DB) XRaySegments(ctx context.Context, accountID string, traceIDs []string, docs bool) ([]XRaySegment, error) {
	var out []XRaySegment
	// Without docs the column is NULL, which scans into a nil []byte on
	// both engines (x'' is a bit string on PostgreSQL, not a bytea).
	docCol := "NULL"
	if docs {
		docCol = "s.doc"
	}
	// An id that is not storable text is not one the account has (and
	// PostgreSQL would refuse the query).
	traceIDs = slices.DeleteFunc(slices.Clone(traceIDs), func(id string) bool { return !fitsText(id) })
	// SQLite allows 32,766 parameters; stay far below.
	for len(traceIDs) > 0 {
		chunk := traceIDs[:min(len(traceIDs), 500)]
		traceIDs = traceIDs[len(chunk):]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, accountID)
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		// The placeholders are numbered here; no caller text is in the SQL.
		q := `SELECT t.trace_id, s.entity_id, s.parent_id, s.kind, s.name, s.origin, s.start_ns, s.end_ns, s.in_progress,
			s.error, s.fault, s.throttle, s.http_method, s.http_url, s.http_status, s.annotations, ` + docCol + `
			FROM xray_traces t JOIN xray_segments s ON s.trace_seq = t.seq
			WHERE t.account_id = $1 AND t.trace_id IN (` + strings.Join(marks, ", ") + `)
			ORDER BY t.seq, s.id`
		rows, err := db.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read x-ray segments of %s: %w", accountID, err)
		}
		for rows.Next() {
			s := XRaySegment{AccountID: accountID}
			var kind string
			var start, end int64
			if err := rows.Scan(&s.TraceID, &s.ID, &s.ParentID, &kind, &s.Name, &s.Origin, &start, &end, &s.InProgress,
				&s.Error, &s.Fault, &s.Throttle, &s.HTTPMethod, &s.HTTPURL, &s.HTTPStatus, &s.Annotations, &s.Doc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read x-ray segments of %s: %w", accountID, err)
			}
			s.Subsegment = kind == "subsegment"
			s.Start, s.End = fromNanos(start), fromNanos(end)
			if !docs {
				s.Doc = nil
			}
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read x-ray segments of %s: %w", accountID, err)
		}
	}
	return out, nil
}
