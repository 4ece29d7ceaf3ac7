package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Account is an emulated AWS account: a user's own, or a scratch account
// the grader makes for one run of a lab and deletes afterwards.
type Account struct {
	// ID is 12 random digits, the first not 0; for a user's account it is
	// User.AccountID.
	ID string
	// UserID is the owner; 0 for a scratch account.
	UserID    int64
	CreatedAt time.Time
}

// AccessKey is a long-term key pair that signs AWS requests (SigV4) for an
// account. The secret is stored in clear because verifying a signature needs
// the key itself. Never log it or show it to anyone but the account's owner:
// String and LogValue leave it out, so a stray %v or slog attribute does not
// leak it.
type AccessKey struct {
	// ID is "AKIA" and 16 characters of [A-Z2-7], the shape of AWS's own
	// long-term access key ids.
	ID        string
	AccountID string
	// Secret is 40 characters of [A-Za-z0-9], as long as AWS's, and safe to
	// paste into any shell.
	Secret    string
	CreatedAt time.Time
}

// String names the key without its secret.
func (k AccessKey) String() string {
	return fmt.Sprintf("access key %s of account %s", k.ID, k.AccountID)
}

// GoString keeps the secret out of %#v too.
func (k AccessKey) GoString() string {
	return fmt.Sprintf("store.AccessKey{ID:%q, AccountID:%q, Secret:\"<redacted>\", CreatedAt:%v}", k.ID, k.AccountID, k.CreatedAt)
}

// LogValue keeps the secret out of logs.
func (k AccessKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("account", k.AccountID))
}

const (
	accessKeyIDPrefix = "AKIA"
	accessKeyIDLen    = 20
	secretLen         = 40
	secretAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// NewAccessKey returns a random key pair, with no account and not stored.
// It cannot fail: crypto/rand.Read never returns an error (Go 1.24 and later
// crash the program instead if the kernel cannot supply randomness).
func NewAccessKey() AccessKey {
	// rand.Text is 26 characters of the standard base32 alphabet, [A-Z2-7].
	id := accessKeyIDPrefix + rand.Text()[:accessKeyIDLen-len(accessKeyIDPrefix)]
	secret := make([]byte, 0, secretLen)
	buf := make([]byte, 2*secretLen)
	for len(secret) < secretLen {
		rand.Read(buf)
		for _, b := range buf {
			// Rejecting bytes of 248 and above (62*4) keeps the choice uniform.
			if b < 248 && len(secret) < secretLen {
				secret = append(secret, secretAlphabet[b%62])
			}
		}
	}
	return AccessKey{ID: id, Secret: string(secret)}
}

// freeAccountID returns a random account id that neither an account nor a
// user has. tx holds the write lock from BEGIN (see db.begin), so the id
// stays free until tx commits.
func freeAccountID(ctx context.Context, tx *sql.Tx) (string, error) {
	// A collision among 9e11 ids is rare; a few tries make it vanishingly so.
	for range 5 {
		id, err := newAccountID()
		if err != nil {
			return "", err
		}
		var taken bool
		if err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)
			     OR EXISTS (SELECT 1 FROM users WHERE account_id = $1)`, id,
		).Scan(&taken); err != nil {
			return "", fmt.Errorf("check account id: %w", err)
		}
		if !taken {
			return id, nil
		}
	}
	return "", errors.New("no free account id after 5 tries")
}

// insertAccount stores an account with its first key pair, inside tx.
// userID 0 makes a scratch account.
func insertAccount(ctx context.Context, tx *sql.Tx, a Account) (AccessKey, error) {
	var owner any // NULL for a scratch account
	if a.UserID != 0 {
		owner = a.UserID
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO accounts (account_id, user_id, created_at) VALUES ($1, $2, $3)",
		a.ID, owner, toNanos(a.CreatedAt)); err != nil {
		return AccessKey{}, fmt.Errorf("insert account %s: %w", a.ID, err)
	}
	return insertAccessKey(ctx, tx, a.ID, a.CreatedAt)
}

// insertAccessKey stores a new random key pair for accountID, inside tx.
func insertAccessKey(ctx context.Context, tx *sql.Tx, accountID string, now time.Time) (AccessKey, error) {
	k := NewAccessKey()
	k.AccountID = accountID
	k.CreatedAt = now
	// 80 random bits in the id: a collision is not worth a retry.
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO access_keys (access_key_id, account_id, secret, created_at) VALUES ($1, $2, $3, $4)",
		k.ID, k.AccountID, k.Secret, toNanos(k.CreatedAt)); err != nil {
		return AccessKey{}, fmt.Errorf("insert access key for account %s: %w", accountID, err)
	}
	return k, nil
}

const accessKeyColumns = "access_key_id, account_id, secret, created_at"

func scanAccessKey(row rowScanner) (AccessKey, error) {
	var (
		k       AccessKey
		created int64
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Secret, &created); err != nil {
		return AccessKey{}, err
	}
	k.CreatedAt = fromNanos(created)
	return k, nil
}

const accessKeyQuery = "SELECT " + accessKeyColumns + " FROM access_keys WHERE access_key_id = $1"

// AccessKey returns the key pair with this access key id, or ErrNotFound.
// The endpoint calls it on every signed AWS request. The error names the key
// id, never a secret.
func (db *DB) AccessKey(ctx context.Context, id string) (AccessKey, error) {
	// The id comes straight from a request's Authorization header. Ids are
	// minted as ASCII, so one PostgreSQL's text cannot hold is unknown,
	// as it is on SQLite, not a query error.
	if !fitsText(id) {
		return AccessKey{}, fmt.Errorf("access key %q: %w", id, ErrNotFound)
	}
	k, err := scanAccessKey(db.queryRow(ctx, db.accessKeyStmt, accessKeyQuery, id))
	if errors.Is(err, sql.ErrNoRows) {
		return AccessKey{}, fmt.Errorf("access key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AccessKey{}, fmt.Errorf("access key %s: %w", id, err)
	}
	return k, nil
}

// AccountKeys returns the account's key pairs, oldest first: one, unless
// someone added more. ErrNotFound if there is no such account.
func (db *DB) AccountKeys(ctx context.Context, accountID string) ([]AccessKey, error) {
	if !fitsText(accountID) {
		return nil, fmt.Errorf("keys of account %q: %w", accountID, ErrNotFound)
	}
	rows, err := db.conn.QueryContext(ctx,
		"SELECT "+accessKeyColumns+" FROM access_keys WHERE account_id = $1 ORDER BY created_at, access_key_id", accountID)
	if err != nil {
		return nil, fmt.Errorf("keys of account %s: %w", accountID, err)
	}
	defer rows.Close()
	var keys []AccessKey
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, fmt.Errorf("keys of account %s: %w", accountID, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys of account %s: %w", accountID, err)
	}
	if len(keys) == 0 {
		// No keys is a real state; no account is ErrNotFound.
		if _, err := db.Account(ctx, accountID); err != nil {
			return nil, fmt.Errorf("keys of %w", err)
		}
	}
	return keys, nil
}

// RotateAccessKey replaces every key pair of the account by one new pair and
// returns it, in one transaction: from its commit the old keys fail to sign.
// ErrNotFound if there is no such account.
func (db *DB) RotateAccessKey(ctx context.Context, accountID string) (AccessKey, error) {
	if !fitsText(accountID) {
		return AccessKey{}, fmt.Errorf("rotate key of account %q: %w", accountID, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return AccessKey{}, fmt.Errorf("rotate key of account %s: %w", accountID, err)
	}
	defer tx.Rollback()
	var exists bool
	if err := tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)", accountID).Scan(&exists); err != nil {
		return AccessKey{}, fmt.Errorf("rotate key of account %s: %w", accountID, err)
	}
	if !exists {
		return AccessKey{}, fmt.Errorf("rotate key of account %s: %w", accountID, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM access_keys WHERE account_id = $1", accountID); err != nil {
		return AccessKey{}, fmt.Errorf("rotate key of account %s: delete old keys: %w", accountID, err)
	}
	k, err := insertAccessKey(ctx, tx, accountID, db.now().UTC())
	if err != nil {
		return AccessKey{}, fmt.Errorf("rotate key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return AccessKey{}, fmt.Errorf("rotate key of account %s: commit: %w", accountID, err)
	}
	return k, nil
}

// CreateScratchAccount makes an account with no user and one key pair, for
// the grader to run a lab in isolation. Its id is fresh: no account or user
// has it. Delete it with DeleteAccount when done.
func (db *DB) CreateScratchAccount(ctx context.Context) (Account, AccessKey, error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return Account{}, AccessKey{}, fmt.Errorf("create scratch account: %w", err)
	}
	defer tx.Rollback()
	a := Account{CreatedAt: db.now().UTC()}
	if a.ID, err = freeAccountID(ctx, tx); err != nil {
		return Account{}, AccessKey{}, fmt.Errorf("create scratch account: %w", err)
	}
	k, err := insertAccount(ctx, tx, a)
	if err != nil {
		return Account{}, AccessKey{}, fmt.Errorf("create scratch account: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Account{}, AccessKey{}, fmt.Errorf("create scratch account %s: commit: %w", a.ID, err)
	}
	return a, k, nil
}

// Account returns the account with this id or ErrNotFound.
func (db *DB) Account(ctx context.Context, id string) (Account, error) {
	if !fitsText(id) {
		return Account{}, fmt.Errorf("account %q: %w", id, ErrNotFound)
	}
	var (
		a       Account
		created int64
	)
	err := db.conn.QueryRowContext(ctx,
		"SELECT account_id, COALESCE(user_id, 0), created_at FROM accounts WHERE account_id = $1", id,
	).Scan(&a.ID, &a.UserID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	a.CreatedAt = fromNanos(created)
	return a, nil
}

// DeleteAccount deletes a scratch account with everything in it: its keys
// and Lambda resources (by foreign key cascade) and its invocation records
// (which have no foreign key). ErrNotFound if there is no such account;
// ErrInvalid for a user's account, which goes only with its user.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	if !fitsText(id) {
		return fmt.Errorf("delete account %q: %w", id, ErrNotFound)
	}
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	defer tx.Rollback()
	var owner sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT user_id FROM accounts WHERE account_id = $1", id).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("delete account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	if owner.Valid {
		return fmt.Errorf("delete account %s: %w: it belongs to user %d", id, ErrInvalid, owner.Int64)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM accounts WHERE account_id = $1", id); err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM invocations WHERE account_id = $1", id); err != nil {
		return fmt.Errorf("delete account %s: invocations: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete account %s: commit: %w", id, err)
	}
	return nil
}
