package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// A draft's bounds. MaxDraftBytes is Lambda's own limit on a zipped
// package, which a draft's files must fit in once zipped; keeping the
// unzipped files under it keeps every draft deployable and each learner's
// share of the database small.
const (
	MaxDraftFiles = 200
	MaxDraftBytes = 50 << 20
	MaxDraftPath  = 255
)

// ErrDraftFull means a write would take a draft over MaxDraftFiles files or
// MaxDraftBytes bytes; nothing was changed.
var ErrDraftFull = errors.New("draft full")

// DraftKey names one draft: a learner's code of one function of one lab.
type DraftKey struct {
	UserID   int64
	Lab      string
	Function string
}

func (k DraftKey) String() string {
	return fmt.Sprintf("draft of %s/%s for user %d", k.Lab, k.Function, k.UserID)
}

// DraftFile is one file of a draft.
type DraftFile struct {
	// Path is slash-separated and relative to the function's code folder
	// ("app.py", "lib/util.py").
	Path string
	// Body is the file's bytes; nil when listed by DraftFiles.
	Body      []byte
	Size      int64
	UpdatedAt time.Time
}

func checkDraftKey(k DraftKey) error {
	if err := checkSlug("lab", k.Lab); err != nil {
		return err
	}
	return checkSlug("function", k.Function)
}

// checkDraftPath is the store's own guard on a path; the web layer says
// more precisely what is wrong before it gets here. fs.ValidPath takes
// only UTF-8 but lets a NUL through, which PostgreSQL's text refuses.
func checkDraftPath(p string) error {
	if p == "" || len(p) > MaxDraftPath || !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`) {
		return fmt.Errorf("%w: draft path %q", ErrInvalid, p)
	}
	return checkText("draft path", p)
}

// StartDraft seeds the draft with the files seed returns, once: the first
// call for a key seeds it, every later one (even after the learner deleted
// every file) leaves it as it is. seed runs only when the draft has not
// started. started reports whether this call seeded it.
func (db *DB) StartDraft(ctx context.Context, k DraftKey, seed func() ([]DraftFile, error)) (started bool, err error) {
	if err := checkDraftKey(k); err != nil {
		return false, fmt.Errorf("start %s: %w", k, err)
	}
	var n int
	err = db.conn.QueryRowContext(ctx,
		"SELECT count(*) FROM draft_starts WHERE user_id = $1 AND lab = $2 AND function = $3",
		k.UserID, k.Lab, k.Function).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("start %s: %w", k, err)
	}
	if n > 0 {
		return false, nil
	}
	files, err := seed()
	if err != nil {
		return false, fmt.Errorf("start %s: seed: %w", k, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("start %s: %w", k, err)
	}
	defer tx.Rollback()
	now := toNanos(db.now())
	res, err := tx.ExecContext(ctx,
		`INSERT INTO draft_starts (user_id, lab, function, started_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (user_id, lab, function) DO NOTHING`,
		k.UserID, k.Lab, k.Function, now)
	if isForeignKeyViolation(err) {
		return false, fmt.Errorf("start %s: user %w", k, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("start %s: %w", k, err)
	}
	if rows, _ := res.RowsAffected(); rows == 0 {
		return false, nil // another request started it first
	}
	for _, f := range files {
		if err := checkDraftPath(f.Path); err != nil {
			return false, fmt.Errorf("start %s: %w", k, err)
		}
		// A file saved before the draft was started wins over the seed.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO drafts (user_id, lab, function, path, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			 ON CONFLICT (user_id, lab, function, path) DO NOTHING`,
			k.UserID, k.Lab, k.Function, f.Path, nonNil(f.Body), now); err != nil {
			return false, fmt.Errorf("start %s: %s: %w", k, f.Path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("start %s: %w", k, err)
	}
	return true, nil
}

// nonNil keeps an empty file from being stored as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DraftFiles lists the draft's files by path, without their bodies.
func (db *DB) DraftFiles(ctx context.Context, k DraftKey) ([]DraftFile, error) {
	return db.draftFiles(ctx, k, false)
}

// Draft returns the draft's files by path, with their bodies.
func (db *DB) Draft(ctx context.Context, k DraftKey) ([]DraftFile, error) {
	return db.draftFiles(ctx, k, true)
}

func (db *DB) draftFiles(ctx context.Context, k DraftKey, bodies bool) ([]DraftFile, error) {
	if !allFit(k.Lab, k.Function) {
		return nil, nil // no draft has that key
	}
	body := "NULL"
	if bodies {
		body = "body"
	}
	rows, err := db.conn.QueryContext(ctx,
		"SELECT path, "+body+", length(body), updated_at FROM drafts WHERE user_id = $1 AND lab = $2 AND function = $3 ORDER BY path",
		k.UserID, k.Lab, k.Function)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	defer rows.Close()
	var out []DraftFile
	for rows.Next() {
		var (
			f       DraftFile
			b       []byte
			updated int64
		)
		if err := rows.Scan(&f.Path, &b, &f.Size, &updated); err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		if bodies {
			f.Body = nonNil(b)
		}
		f.UpdatedAt = fromNanos(updated)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	return out, nil
}

// DraftFile returns one file of the draft with its body, or ErrNotFound.
func (db *DB) DraftFile(ctx context.Context, k DraftKey, path string) (DraftFile, error) {
	if !allFit(k.Lab, k.Function, path) {
		return DraftFile{}, fmt.Errorf("%s: file %q: %w", k, path, ErrNotFound)
	}
	f := DraftFile{Path: path}
	var updated int64
	err := db.conn.QueryRowContext(ctx,
		"SELECT body, length(body), updated_at FROM drafts WHERE user_id = $1 AND lab = $2 AND function = $3 AND path = $4",
		k.UserID, k.Lab, k.Function, path).Scan(&f.Body, &f.Size, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return DraftFile{}, fmt.Errorf("%s: file %s: %w", k, path, ErrNotFound)
	}
	if err != nil {
		return DraftFile{}, fmt.Errorf("%s: file %s: %w", k, path, err)
	}
	f.Body = nonNil(f.Body)
	f.UpdatedAt = fromNanos(updated)
	return f, nil
}

// draftUse is how many files and bytes the draft holds, leaving out the
// file at except (the one being replaced).
func draftUse(ctx context.Context, tx *sql.Tx, k DraftKey, except string) (files int, bytes int64, err error) {
	err = tx.QueryRowContext(ctx,
		"SELECT count(*), coalesce(sum(length(body)), 0) FROM drafts WHERE user_id = $1 AND lab = $2 AND function = $3 AND path <> $4",
		k.UserID, k.Lab, k.Function, except).Scan(&files, &bytes)
	return files, bytes, err
}

// SaveDraftFile writes a file of the draft, creating it or replacing its
// body. With create set, a file already at the path is ErrExists instead.
// ErrDraftFull when the draft would go over its bounds.
func (db *DB) SaveDraftFile(ctx context.Context, k DraftKey, path string, body []byte, create bool) error {
	if err := checkDraftKey(k); err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	if err := checkDraftPath(path); err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	defer tx.Rollback()
	files, size, err := draftUse(ctx, tx, k, path)
	if err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	if files+1 > MaxDraftFiles || size+int64(len(body)) > MaxDraftBytes {
		return fmt.Errorf("save %s: file %s: %w", k, path, ErrDraftFull)
	}
	q := `INSERT INTO drafts (user_id, lab, function, path, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (user_id, lab, function, path) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`
	if create {
		q = `INSERT INTO drafts (user_id, lab, function, path, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`
	}
	_, err = tx.ExecContext(ctx, q, k.UserID, k.Lab, k.Function, path, nonNil(body), toNanos(db.now()))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("save %s: file %s: %w", k, path, ErrExists)
	case isForeignKeyViolation(err):
		return fmt.Errorf("save %s: user %w", k, ErrNotFound)
	case err != nil:
		return fmt.Errorf("save %s: file %s: %w", k, path, err)
	}
	return tx.Commit()
}

// RenameDraftFile moves a file of the draft to another path: ErrNotFound
// when there is no file at from, ErrExists when one is at to already.
func (db *DB) RenameDraftFile(ctx context.Context, k DraftKey, from, to string) error {
	if err := checkDraftPath(to); err != nil {
		return fmt.Errorf("rename in %s: %w", k, err)
	}
	if !allFit(k.Lab, k.Function, from) {
		return fmt.Errorf("rename %q in %s: %w", from, k, ErrNotFound)
	}
	res, err := db.conn.ExecContext(ctx,
		"UPDATE drafts SET path = $5, updated_at = $6 WHERE user_id = $1 AND lab = $2 AND function = $3 AND path = $4",
		k.UserID, k.Lab, k.Function, from, to, toNanos(db.now()))
	if isUniqueViolation(err) {
		return fmt.Errorf("rename %s to %s in %s: %w", from, to, k, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("rename %s to %s in %s: %w", from, to, k, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("rename %s in %s: %w", from, k, ErrNotFound)
	}
	return nil
}

// DeleteDraftFile removes a file of the draft, or says ErrNotFound.
func (db *DB) DeleteDraftFile(ctx context.Context, k DraftKey, path string) error {
	if !allFit(k.Lab, k.Function, path) {
		return fmt.Errorf("delete %q from %s: %w", path, k, ErrNotFound)
	}
	res, err := db.conn.ExecContext(ctx,
		"DELETE FROM drafts WHERE user_id = $1 AND lab = $2 AND function = $3 AND path = $4",
		k.UserID, k.Lab, k.Function, path)
	if err != nil {
		return fmt.Errorf("delete %s from %s: %w", path, k, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete %s from %s: %w", path, k, ErrNotFound)
	}
	return nil
}

// ReplaceDraft makes files the whole draft (an upload, a reset to the
// starter) in one transaction: on any error the draft is as it was.
func (db *DB) ReplaceDraft(ctx context.Context, k DraftKey, files []DraftFile) error {
	if err := checkDraftKey(k); err != nil {
		return fmt.Errorf("replace %s: %w", k, err)
	}
	var total int64
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := checkDraftPath(f.Path); err != nil {
			return fmt.Errorf("replace %s: %w", k, err)
		}
		if seen[f.Path] {
			return fmt.Errorf("replace %s: %w: %s twice", k, ErrInvalid, f.Path)
		}
		seen[f.Path] = true
		total += int64(len(f.Body))
	}
	if len(files) > MaxDraftFiles || total > MaxDraftBytes {
		return fmt.Errorf("replace %s: %w", k, ErrDraftFull)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("replace %s: %w", k, err)
	}
	defer tx.Rollback()
	now := toNanos(db.now())
	if _, err := tx.ExecContext(ctx,
		"DELETE FROM drafts WHERE user_id = $1 AND lab = $2 AND function = $3",
		k.UserID, k.Lab, k.Function); err != nil {
		return fmt.Errorf("replace %s: %w", k, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO draft_starts (user_id, lab, function, started_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (user_id, lab, function) DO NOTHING`,
		k.UserID, k.Lab, k.Function, now)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("replace %s: user %w", k, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("replace %s: %w", k, err)
	}
	for _, f := range files {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO drafts (user_id, lab, function, path, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
			k.UserID, k.Lab, k.Function, f.Path, nonNil(f.Body), now); err != nil {
			return fmt.Errorf("replace %s: %s: %w", k, f.Path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace %s: %w", k, err)
	}
	return nil
}

// RecordLabVisit notes that the user opened the lab's page now.
// ErrNotFound if there is no such user.
func (db *DB) RecordLabVisit(ctx context.Context, userID int64, lab string) error {
	if err := checkSlug("lab", lab); err != nil {
		return fmt.Errorf("record visit of lab for user %d: %w", userID, err)
	}
	now := toNanos(db.now())
	_, err := db.conn.ExecContext(ctx,
		`INSERT INTO lab_visits (user_id, lab, first_at, last_at) VALUES ($1, $2, $3, $3)
		 ON CONFLICT (user_id, lab) DO UPDATE SET last_at = excluded.last_at`,
		userID, lab, now)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("record visit of lab %s: user %d %w", lab, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("record visit of lab %s for user %d: %w", lab, userID, err)
	}
	return nil
}

// LabVisits returns when the user first opened each lab they have opened,
// by lab id; the map is never nil.
func (db *DB) LabVisits(ctx context.Context, userID int64) (map[string]time.Time, error) {
	rows, err := db.conn.QueryContext(ctx,
		"SELECT lab, first_at FROM lab_visits WHERE user_id = $1", userID)
	if err != nil {
		return nil, fmt.Errorf("lab visits of user %d: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			lab   string
			first int64
		)
		if err := rows.Scan(&lab, &first); err != nil {
			return nil, fmt.Errorf("lab visits of user %d: %w", userID, err)
		}
		out[lab] = fromNanos(first)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lab visits of user %d: %w", userID, err)
	}
	return out, nil
}
