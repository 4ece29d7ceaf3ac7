package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"
)

// Role is what a user may do on the site.
type Role string

const (
	RoleStudent    Role = "student"
	RoleInstructor Role = "instructor"
)

// User is a person with a login and an emulated AWS account.
type User struct {
	ID    int64
	Email string // as entered, trimmed; compared case-insensitively
	// PasswordHash is a bcrypt hash (see HashPassword); never the password.
	PasswordHash string
	Role         Role
	// AccountID is the user's emulated AWS account id: 12 random digits,
	// unique, never starting with 0.
	AccountID string
	CreatedAt time.Time
}

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// normalizeEmail trims email and checks that it is a bare address, returning
// it as entered and as the lower-cased key used for uniqueness.
func normalizeEmail(email string) (addr, key string, err error) {
	addr = strings.TrimSpace(email)
	if addr == "" {
		return "", "", fmt.Errorf("%w: email is empty", ErrInvalid)
	}
	if len(addr) > maxEmailLen {
		return "", "", fmt.Errorf("%w: email is longer than %d characters", ErrInvalid, maxEmailLen)
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Address != addr || parsed.Name != "" {
		return "", "", fmt.Errorf("%w: %q is not an email address like name@example.com", ErrInvalid, addr)
	}
	return addr, strings.ToLower(addr), nil
}

// checkPasswordHash refuses a hash the users table cannot hold on both
// engines. A bcrypt hash is plain ASCII; anything else is a caller's bug.
func checkPasswordHash(hash string) error {
	if hash == "" {
		return fmt.Errorf("%w: empty password hash", ErrInvalid)
	}
	// Not checkText: the message would quote the hash.
	if !fitsText(hash) {
		return fmt.Errorf("%w: password hash is not valid UTF-8 without NUL", ErrInvalid)
	}
	return nil
}

// CreateUser stores a new user. The first user ever created becomes an
// instructor whatever was asked, so a fresh install has someone who can see
// the class; instructor=true makes any user one. Emails are compared
// case-insensitively: a second "Alice@x" after "alice@x" gets ErrEmailTaken.
// The user's AWS account and its first access key (see AccountKeys) are
// made in the same transaction as the user, after the email check.
func (db *DB) CreateUser(ctx context.Context, email, passwordHash string, instructor bool) (User, error) {
	return db.createUser(ctx, email, passwordHash, instructor, nil)
}

// createUser is CreateUser with admit, when not nil, run inside the
// transaction once the user's row exists: first says no user existed
// before. An error from admit undoes everything (see invites.go).
func (db *DB) createUser(ctx context.Context, email, passwordHash string, instructor bool, admit func(tx *sql.Tx, u User, first bool) error) (User, error) {
	addr, key, err := normalizeEmail(email)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	if err := checkPasswordHash(passwordHash); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	defer tx.Rollback()

	var taken, anyUser bool
	if err := tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM users WHERE email_key = $1), EXISTS (SELECT 1 FROM users)", key,
	).Scan(&taken, &anyUser); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	if taken {
		return User{}, fmt.Errorf("create user %s: %w", addr, ErrEmailTaken)
	}
	u := User{
		Email:        addr,
		PasswordHash: passwordHash,
		Role:         RoleStudent,
		CreatedAt:    db.now().UTC(),
	}
	if instructor || !anyUser {
		u.Role = RoleInstructor
	}
	if u.AccountID, err = freeAccountID(ctx, tx); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	if err := tx.QueryRowContext(ctx,
		`INSERT INTO users (email, email_key, password_hash, role, account_id, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.Email, key, u.PasswordHash, string(u.Role), u.AccountID, toNanos(u.CreatedAt),
	).Scan(&u.ID); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	if _, err := insertAccount(ctx, tx, Account{ID: u.AccountID, UserID: u.ID, CreatedAt: u.CreatedAt}); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", addr, err)
	}
	if admit != nil {
		if err := admit(tx, u, !anyUser); err != nil {
			return User{}, fmt.Errorf("create user %s: %w", addr, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("create user %s: commit: %w", addr, err)
	}
	return u, nil
}

// newAccountID returns 12 random decimal digits, the first not 0, so that
// tools which treat the id as a number do not drop a leading zero.
func newAccountID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(900_000_000_000))
	if err != nil {
		return "", fmt.Errorf("generate account id: %w", err)
	}
	return fmt.Sprintf("%012d", n.Int64()+100_000_000_000), nil
}

const userColumns = "id, email, password_hash, role, account_id, created_at"

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(row rowScanner) (User, error) {
	var (
		u       User
		role    string
		created int64
	)
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &u.AccountID, &created); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	u.CreatedAt = fromNanos(created)
	return u, nil
}

// UserByEmail returns the user with this email, compared case-insensitively,
// or ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	// No stored email holds bytes PostgreSQL's text refuses (normalizeEmail
	// does not let them in), so such an email is simply unknown, on both
	// engines, rather than a query error on one. Checked before ToLower,
	// which would turn invalid bytes into U+FFFD.
	if !fitsText(email) {
		return User{}, fmt.Errorf("user %q: %w", email, ErrNotFound)
	}
	key := strings.ToLower(strings.TrimSpace(email))
	u, err := scanUser(db.conn.QueryRowContext(ctx,
		"SELECT "+userColumns+" FROM users WHERE email_key = $1", key))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", strings.TrimSpace(email), ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", strings.TrimSpace(email), err)
	}
	return u, nil
}

// UserByID returns the user with this id or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(db.conn.QueryRowContext(ctx,
		"SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// Users returns every user ordered by email (case-insensitively).
func (db *DB) Users(ctx context.Context) ([]User, error) {
	rows, err := db.conn.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY email_key")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// SetPasswordHash replaces a user's password hash and ends all their
// sessions, as a password change should. ErrNotFound if there is no such user.
func (db *DB) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	if err := checkPasswordHash(hash); err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1 WHERE id = $2", hash, userID)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	} else if n == 0 {
		return fmt.Errorf("set password of user %d: %w", userID, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("set password of user %d: end sessions: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password of user %d: commit: %w", userID, err)
	}
	return nil
}
