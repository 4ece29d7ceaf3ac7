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
		"INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
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

const sessionUserQuery = `SELECT u.id, u.email, u.password_hash, u.role, u.account_id, u.created_at
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.token_hash = ? AND s.expires_at > ?`

// SessionUser returns the user whose live session token this is, or
// ErrNotFound when the token is unknown or expired. The error never contains
// the token.
func (db *DB) SessionUser(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	u, err := scanUser(db.queryRow(ctx, db.sessionUserStmt, sessionUserQuery, hashToken(token), toNanos(db.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("session: %w", err)
	}
	return u, nil
}

// DeleteSession ends the session with this token. Ending an unknown or
// already-ended session is not an error, so logging out twice is harmless.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	if _, err := db.conn.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = ?", hashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and returns how
// many it removed. SessionUser already ignores them; this only reclaims space.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := db.conn.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= ?", toNanos(db.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}
