package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// sessionTokenBytes is the entropy of a session token: 256 bits.
const sessionTokenBytes = 32

// CreateSession starts a session for userID lasting ttl and returns the token
// for the cookie. Only the token's SHA-256 is stored, so the database alone
// cannot be used to log in. ErrNotFound if there is no such user.
func (db *DB) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("create session for user %d: %w: ttl %v is not positive", userID, ErrInvalid, ttl)
	}
	raw := make([]byte, sessionTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("create session for user %d: %w", userID, err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := db.now()
	_, err := db.conn.ExecContext(ctx,
		"INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
		hashToken(token), userID, toNanos(now), toNanos(now.Add(ttl)))
	if isForeignKeyViolation(err) {
		return "", fmt.Errorf("create session for user %d: user %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("create session for user %d: %w", userID, err)
	}
	return token, nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// sessionUserQuery finds a live session's user, then the session's own
// times (see UseSession). It is prepared once (store.go): every request runs it.
const sessionUserQuery = `SELECT u.id, u.email, u.password_hash, u.role, u.account_id, u.created_at, s.created_at, s.expires_at
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.token_hash = $1 AND s.expires_at > $2`

// SessionUser returns the user whose live session token this is, or
// ErrNotFound when the token is unknown or expired. The error never contains
// the token. It only reads: UseSession also counts the request as activity.
func (db *DB) SessionUser(ctx context.Context, token string) (User, error) {
	u, _, err := db.lookupSession(ctx, token)
	return u, err
}

// sessionTimes are a live session's start and current end.
type sessionTimes struct{ created, expires time.Time }

func (db *DB) lookupSession(ctx context.Context, token string) (User, sessionTimes, error) {
	if token == "" {
		return User{}, sessionTimes{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	var created, expires int64
	row := withExtra{db.queryRow(ctx, db.sessionUserStmt, sessionUserQuery, hashToken(token), toNanos(db.now())), []any{&created, &expires}}
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, sessionTimes{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, sessionTimes{}, fmt.Errorf("session: %w", err)
	}
	return u, sessionTimes{created: fromNanos(created), expires: fromNanos(expires)}, nil
}

// withExtra lets scanUser read a row that carries more columns after the
// user's, so the session query need not repeat the user scan.
type withExtra struct {
	row   rowScanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// touchEvery is how stale a session's idle deadline may get before a use
// moves it: at most one write per session a minute keeps every request a
// read, at the cost of an idle timeout up to a minute early.
const touchEvery = time.Minute

// UseSession is SessionUser for a request made with the session: it also
// moves the session's end to idle from now, but never past lifetime after
// sign-in. A session therefore ends at whichever comes first, idle without
// use or lifetime in all. Zero idle means no idle limit (nothing is written).
// Start such a session with CreateSession(ctx, id, min(lifetime, idle)).
func (db *DB) UseSession(ctx context.Context, token string, lifetime, idle time.Duration) (User, error) {
	u, st, err := db.lookupSession(ctx, token)
	if err != nil || idle <= 0 {
		return u, err
	}
	end := db.now().Add(idle)
	if last := st.created.Add(lifetime); lifetime > 0 && last.Before(end) {
		end = last
	}
	if end.Sub(st.expires) < touchEvery {
		return u, nil
	}
	// The condition keeps a concurrent request's later deadline, and a
	// session deleted meanwhile stays deleted.
	if _, err := db.conn.ExecContext(ctx,
		"UPDATE sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at < $1",
		toNanos(end), hashToken(token)); err != nil {
		return User{}, fmt.Errorf("session: extend idle deadline: %w", err)
	}
	return u, nil
}

// DeleteSession ends the session with this token. Ending an unknown or
// already-ended session is not an error, so logging out twice is harmless.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	if _, err := db.conn.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = $1", hashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and returns how
// many it removed. SessionUser already ignores them; this only reclaims space.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := db.conn.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= $1", toNanos(db.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// DeleteUserSessions ends every session of userID except the one whose
// token is keep ("" keeps none), and returns how many it ended: "sign out
// everywhere", or a password change that keeps the browser that made it.
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64, keep string) (int64, error) {
	res, err := deleteUserSessions(ctx, db.conn, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	return n, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func deleteUserSessions(ctx context.Context, ex execer, userID int64, keep string) (sql.Result, error) {
	if keep == "" {
		return ex.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
	}
	return ex.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2", userID, hashToken(keep))
}

// ChangePassword replaces a user's password hash and, in the same
// transaction, ends every one of their sessions but keep's, returning how
// many it ended: whoever else held one (perhaps the reason for the change)
// is signed out, while the browser that made the change stays signed in.
// ErrNotFound if there is no such user. SetPasswordHash keeps none.
func (db *DB) ChangePassword(ctx context.Context, userID int64, hash, keep string) (int64, error) {
	if err := checkPasswordHash(hash); err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1 WHERE id = $2", hash, userID)
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, fmt.Errorf("change password of user %d: %w", userID, err)
	} else if n == 0 {
		return 0, fmt.Errorf("change password of user %d: %w", userID, ErrNotFound)
	}
	res, err = deleteUserSessions(ctx, tx, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: end sessions: %w", userID, err)
	}
	ended, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("change password of user %d: end sessions: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("change password of user %d: commit: %w", userID, err)
	}
	return ended, nil
}
