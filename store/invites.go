package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Who may join: invitations for a class served with --signup invite, the
// first-user rule for a closed one, and removing a student.

var (
	// ErrInviteUnusable means a sign-up's invite code is unknown, expired,
	// used up or revoked. Which one is not said, so that answers to guesses
	// tell nothing about which codes exist.
	ErrInviteUnusable = errors.New("invite code is not valid")
	// ErrSignupClosed means only the first user of an install may create an
	// account without an instructor, and there already is one.
	ErrSignupClosed = errors.New("sign-up is closed")
)

const (
	// maxInviteNote bounds the instructor's note on an invite.
	maxInviteNote = 200
	// MaxInviteUses is the largest use count an invite may have.
	MaxInviteUses = 10000
	// maxInviteCode bounds what is hashed when a code is checked: a real
	// code is 26 characters (rand.Text).
	maxInviteCode = 64
)

// Invite is an invitation to sign up. Its code is not kept (only a hash):
// CreateInvite returns it once.
type Invite struct {
	ID   int64
	Note string // the instructor's reminder of whom it is for; may be empty
	// MaxUses is how many sign-ups it allows; 0 means no limit.
	MaxUses int
	Uses    int
	// ExpiresAt is when it stops working; zero means never.
	ExpiresAt time.Time
	// RevokedAt is when the instructor revoked it; zero while it is not.
	RevokedAt time.Time
	CreatedAt time.Time
	// UsedBy is the e-mail of each current user who joined with it, in the
	// order they joined. A removed user is no longer listed but still counted
	// in Uses.
	UsedBy []string
}

// UsesLeft is how many more sign-ups the invite allows, or -1 for no limit.
func (i Invite) UsesLeft() int {
	if i.MaxUses == 0 {
		return -1
	}
	return max(i.MaxUses-i.Uses, 0)
}

// Usable says whether a sign-up with the invite would be accepted at now.
func (i Invite) Usable(now time.Time) bool {
	return i.RevokedAt.IsZero() && (i.ExpiresAt.IsZero() || now.Before(i.ExpiresAt)) && i.UsesLeft() != 0
}

// NewInvite is what an instructor asks for; zero fields mean no limit.
type NewInvite struct {
	Note      string
	MaxUses   int       // 0 or 1..MaxInviteUses
	ExpiresAt time.Time // zero or in the future
	CreatedBy int64     // the instructor's user id; 0 for none
}

// CreateInvite stores an invite and returns it with its code: 26 characters
// of [A-Z2-7] carrying 130 random bits. Only the code's SHA-256 is stored,
// so the code cannot be shown again. ErrInvalid for a note over 200 bytes
// or not valid UTF-8, a use count outside 0..MaxInviteUses or an expiry
// not in the future.
func (db *DB) CreateInvite(ctx context.Context, n NewInvite) (Invite, string, error) {
	now := db.now()
	n.Note = strings.TrimSpace(n.Note)
	switch {
	case len(n.Note) > maxInviteNote:
		return Invite{}, "", fmt.Errorf("create invite: %w: note longer than %d bytes", ErrInvalid, maxInviteNote)
	case n.MaxUses < 0 || n.MaxUses > MaxInviteUses:
		return Invite{}, "", fmt.Errorf("create invite: %w: use count %d outside 0..%d", ErrInvalid, n.MaxUses, MaxInviteUses)
	case !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(now):
		return Invite{}, "", fmt.Errorf("create invite: %w: expiry %v is not in the future", ErrInvalid, n.ExpiresAt)
	}
	if err := checkText("note", n.Note); err != nil {
		return Invite{}, "", fmt.Errorf("create invite: %w", err)
	}
	code := rand.Text()
	inv := Invite{Note: n.Note, MaxUses: n.MaxUses, ExpiresAt: n.ExpiresAt, CreatedAt: now}
	var maxUses, expires, by any // NULL when not set
	if n.MaxUses > 0 {
		maxUses = n.MaxUses
	}
	if !n.ExpiresAt.IsZero() {
		expires = toNanos(n.ExpiresAt)
	}
	if n.CreatedBy != 0 {
		by = n.CreatedBy
	}
	err := db.conn.QueryRowContext(ctx,
		`INSERT INTO invites (code_hash, note, max_uses, expires_at, created_by, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		hashToken(code), inv.Note, maxUses, expires, by, toNanos(now)).Scan(&inv.ID)
	if isForeignKeyViolation(err) {
		return Invite{}, "", fmt.Errorf("create invite: creator user %d: %w", n.CreatedBy, ErrNotFound)
	}
	if err != nil {
		return Invite{}, "", fmt.Errorf("create invite: %w", err)
	}
	return inv, code, nil
}

// Invites returns every invite, newest first, with who used each.
func (db *DB) Invites(ctx context.Context) ([]Invite, error) {
	rows, err := db.conn.QueryContext(ctx,
		`SELECT id, note, COALESCE(max_uses, 0), uses, COALESCE(expires_at, 0), COALESCE(revoked_at, 0), created_at
		 FROM invites ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	var out []Invite
	byID := map[int64]int{}
	for rows.Next() {
		var (
			inv                       Invite
			expires, revoked, created int64
		)
		if err := rows.Scan(&inv.ID, &inv.Note, &inv.MaxUses, &inv.Uses, &expires, &revoked, &created); err != nil {
			return nil, fmt.Errorf("list invites: %w", err)
		}
		if expires != 0 {
			inv.ExpiresAt = fromNanos(expires)
		}
		if revoked != 0 {
			inv.RevokedAt = fromNanos(revoked)
		}
		inv.CreatedAt = fromNanos(created)
		byID[inv.ID] = len(out)
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	rows.Close()

	rows, err = db.conn.QueryContext(ctx,
		`SELECT iu.invite_id, u.email FROM invite_uses iu JOIN users u ON u.id = iu.user_id
		 ORDER BY iu.at, u.id`)
	if err != nil {
		return nil, fmt.Errorf("list invite uses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			email string
		)
		if err := rows.Scan(&id, &email); err != nil {
			return nil, fmt.Errorf("list invite uses: %w", err)
		}
		if i, ok := byID[id]; ok {
			out[i].UsedBy = append(out[i].UsedBy, email)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invite uses: %w", err)
	}
	return out, nil
}

// RevokeInvite stops an invite from admitting anyone more; the users who
// joined with it stay. Revoking it again keeps the first time. ErrNotFound
// if there is no such invite.
func (db *DB) RevokeInvite(ctx context.Context, id int64) error {
	res, err := db.conn.ExecContext(ctx,
		"UPDATE invites SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2", toNanos(db.now()), id)
	if err != nil {
		return fmt.Errorf("revoke invite %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke invite %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("revoke invite %d: %w", id, ErrNotFound)
	}
	return nil
}

// inviteCodeKey is the stored hash of a code as typed: codes are base32,
// so case and surrounding space do not matter.
func inviteCodeKey(code string) []byte {
	return hashToken(strings.ToUpper(strings.TrimSpace(code)))
}

// InviteUsable says whether a sign-up with this code would be accepted
// now. It only reads: CreateInvitedUser decides again as it takes the use.
func (db *DB) InviteUsable(ctx context.Context, code string) (bool, error) {
	if code == "" || len(code) > maxInviteCode {
		return false, nil
	}
	var ok bool
	err := db.conn.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM invites
		   WHERE code_hash = $1 AND revoked_at IS NULL
		     AND (expires_at IS NULL OR expires_at > $2)
		     AND (max_uses IS NULL OR uses < max_uses))`, inviteCodeKey(code), toNanos(db.now())).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check invite: %w", err)
	}
	return ok, nil
}

// CreateInvitedUser is CreateUser for a sign-up with an invite code: in the
// transaction that creates the user it takes one use of the invite, so two
// sign-ups racing for an invite's last use cannot both succeed. The first
// user of an install needs no invite (and becomes the instructor, as with
// CreateUser). ErrInviteUnusable if the code is unknown, expired, used up or
// revoked; nothing is created then.
func (db *DB) CreateInvitedUser(ctx context.Context, email, passwordHash, code string) (User, error) {
	now := db.now()
	return db.createUser(ctx, email, passwordHash, false, func(tx *sql.Tx, u User, first bool) error {
		if first {
			return nil
		}
		if code == "" || len(code) > maxInviteCode {
			return ErrInviteUnusable
		}
		// One statement checks and counts, under the write lock the
		// transaction took at BEGIN.
		var id int64
		err := tx.QueryRowContext(ctx,
			`UPDATE invites SET uses = uses + 1
			 WHERE code_hash = $1 AND revoked_at IS NULL
			   AND (expires_at IS NULL OR expires_at > $2)
			   AND (max_uses IS NULL OR uses < max_uses)
			 RETURNING id`, inviteCodeKey(code), toNanos(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInviteUnusable
		}
		if err != nil {
			return fmt.Errorf("use invite: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO invite_uses (invite_id, user_id, at) VALUES ($1, $2, $3)", id, u.ID, toNanos(now)); err != nil {
			return fmt.Errorf("record invite use: %w", err)
		}
		return nil
	})
}

// CreateFirstUser is CreateUser for a closed install: it succeeds only for
// the very first user, who becomes the instructor. ErrSignupClosed once
// anyone exists, decided in the transaction that would create the user, so
// two people racing to be first cannot both get in.
func (db *DB) CreateFirstUser(ctx context.Context, email, passwordHash string) (User, error) {
	return db.createUser(ctx, email, passwordHash, false, func(_ *sql.Tx, _ User, first bool) error {
		if !first {
			return ErrSignupClosed
		}
		return nil
	})
}

// HasUsers says whether anyone has an account yet.
func (db *DB) HasUsers(ctx context.Context) (bool, error) {
	var some bool
	if err := db.conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&some); err != nil {
		return false, fmt.Errorf("any users: %w", err)
	}
	return some, nil
}

// DeleteStudent removes a student and everything that is theirs, in one
// transaction: the user row, and with it by foreign key cascade their
// sessions, lesson progress, quiz results, submissions and reports,
// grading jobs, drafts, test events, invite use, and their emulated
// account with its keys, Lambda, S3 and X-Ray rows; then their invocation
// records, which have no foreign key. It returns the user as they were.
// ErrNotFound if there is no such user; ErrInvalid for an instructor,
// who is not removed this way.
//
// The engine may still hold the account's instances and reservations:
// the caller lets go of them afterwards (lambda.Service.ForgetAccount). S3
// bodies kept in files are named by no row afterwards and go at the next
// sweep.
func (db *DB) DeleteStudent(ctx context.Context, userID int64) (User, error) {
	tx, err := db.begin(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("delete student %d: %w", userID, err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", userID))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("delete student %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("delete student %d: %w", userID, err)
	}
	if u.Role != RoleStudent {
		return User{}, fmt.Errorf("delete student %d: %w: user is an %s", userID, ErrInvalid, u.Role)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM invocations WHERE account_id = $1", u.AccountID); err != nil {
		return User{}, fmt.Errorf("delete student %d: invocations: %w", userID, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = $1", userID); err != nil {
		return User{}, fmt.Errorf("delete student %d: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("delete student %d: commit: %w", userID, err)
	}
	return u, nil
}
