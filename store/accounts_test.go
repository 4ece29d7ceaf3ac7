package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	accessKeyIDPattern = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretPattern      = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
)

// checkKeyShape fails t unless k looks like a key pair NewAccessKey makes.
func checkKeyShape(t *testing.T, k AccessKey) {
	t.Helper()
	if !accessKeyIDPattern.MatchString(k.ID) {
		t.Errorf("access key id %q: want AKIA and 16 of [A-Z2-7]", k.ID)
	}
	if !secretPattern.MatchString(k.Secret) {
		t.Errorf("secret of %s is %d characters not all of [A-Za-z0-9]; want 40", k.ID, len(k.Secret))
	}
}

func TestNewAccessKey(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	const n = 2000
	for range n {
		k := NewAccessKey()
		checkKeyShape(t, k)
		if seen[k.ID] || seen[k.Secret] {
			t.Fatalf("NewAccessKey repeated a value after %d pairs", len(seen)/2)
		}
		seen[k.ID], seen[k.Secret] = true, true
		for i := range len(k.Secret) {
			counts[k.Secret[i]]++
		}
	}
	// Every character of the alphabet turns up: 80000 draws from 62, about
	// 1290 each; missing one means the alphabet or the sampling is wrong.
	for i := range len(secretAlphabet) {
		if c := counts[secretAlphabet[i]]; c < 1000 {
			t.Errorf("secret character %q drawn %d times in %d secrets; want about %d", secretAlphabet[i], c, n, n*secretLen/62)
		}
	}
}

func TestAccessKeyKeepsSecretOutOfFormatting(t *testing.T) {
	k := NewAccessKey()
	k.AccountID = "123456789012"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("key used", "key", k)
	logger.Info("key used", slog.Any("key", k))
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint([]AccessKey{k}), logs.String()} {
		if strings.Contains(s, k.Secret) {
			t.Errorf("formatted key shows the secret: %s", s)
		}
		if !strings.Contains(s, k.ID) {
			t.Errorf("formatted key lost its id: %s", s)
		}
	}
}

func TestCreateUserMakesAccountAndOneKey(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.Account(ctx, u.AccountID)
	if err != nil {
		t.Fatalf("Account(%s) of a new user: %v", u.AccountID, err)
	}
	if want := (Account{ID: u.AccountID, UserID: u.ID, CreatedAt: clock.Now()}); a != want {
		t.Errorf("Account = %+v, want %+v", a, want)
	}
	keys, err := db.AccountKeys(ctx, u.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("new user has %d keys, want 1: %v", len(keys), keys)
	}
	checkKeyShape(t, keys[0])
	got, err := db.AccessKey(ctx, keys[0].ID)
	if err != nil {
		t.Fatalf("AccessKey(%s): %v", keys[0].ID, err)
	}
	if got != keys[0] || got.AccountID != u.AccountID || !got.CreatedAt.Equal(clock.Now()) {
		t.Errorf("AccessKey = %#v, want %#v in account %s created %v", got, keys[0], u.AccountID, clock.Now())
	}

	// A refused sign-up leaves no account or key behind.
	var accounts, allKeys int
	if _, err := db.CreateUser(ctx, "ANN@example.com", "h", false); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("duplicate CreateUser = %v", err)
	}
	db.conn.QueryRowContext(ctx, "SELECT count(*) FROM accounts").Scan(&accounts)
	db.conn.QueryRowContext(ctx, "SELECT count(*) FROM access_keys").Scan(&allKeys)
	if accounts != 1 || allKeys != 1 {
		t.Errorf("after a refused sign-up: %d accounts, %d keys; want 1, 1", accounts, allKeys)
	}
}

func TestCreateUserRollsBackWhenAccountFails(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	// Make the accounts insert fail: the user must not be left without one.
	// Each engine spells a refusing trigger its own way.
	trigger := []string{"CREATE TRIGGER no_accounts BEFORE INSERT ON accounts BEGIN SELECT RAISE(ABORT, 'no accounts today'); END"}
	if db.dialect == postgresDialect {
		trigger = []string{
			"CREATE FUNCTION no_accounts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no accounts today'; END $$",
			"CREATE TRIGGER no_accounts BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION no_accounts()",
		}
	}
	for _, q := range trigger {
		if _, err := db.conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateUser(ctx, "ann@example.com", "h", false); err == nil || !strings.Contains(err.Error(), "no accounts today") {
		t.Fatalf("CreateUser = %v, want the trigger's refusal", err)
	}
	if _, err := db.UserByEmail(ctx, "ann@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user stored without an account: %v", err)
	}
}

func TestRotateAccessKey(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateUser(ctx, "bo@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	old, err := db.AccountKeys(ctx, u.AccountID)
	if err != nil || len(old) != 1 {
		t.Fatalf("AccountKeys = %v, %v", old, err)
	}
	otherKeys, _ := db.AccountKeys(ctx, other.AccountID)

	k, err := db.RotateAccessKey(ctx, u.AccountID)
	if err != nil {
		t.Fatalf("RotateAccessKey: %v", err)
	}
	checkKeyShape(t, k)
	if k.ID == old[0].ID || k.Secret == old[0].Secret || k.AccountID != u.AccountID {
		t.Errorf("rotated key %#v; want a new id and secret in account %s (old %#v)", k, u.AccountID, old[0])
	}
	if _, err := db.AccessKey(ctx, old[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old key after rotation: AccessKey = %v, want ErrNotFound", err)
	}
	if got, err := db.AccessKey(ctx, k.ID); err != nil || got != k {
		t.Errorf("AccessKey(new) = %#v, %v; want %#v", got, err, k)
	}
	if keys, err := db.AccountKeys(ctx, u.AccountID); err != nil || len(keys) != 1 || keys[0] != k {
		t.Errorf("AccountKeys after rotation = %v, %v; want just %v", keys, err, k)
	}
	// The neighbour's key is untouched.
	if got, err := db.AccountKeys(ctx, other.AccountID); err != nil || len(got) != 1 || got[0] != otherKeys[0] {
		t.Errorf("other account's keys after rotation = %v, %v; want %v", got, err, otherKeys)
	}

	// Rotation replaces every key, however many there were.
	extra := NewAccessKey()
	if _, err := db.conn.ExecContext(ctx, "INSERT INTO access_keys (access_key_id, account_id, secret, created_at) VALUES ($1, $2, $3, 0)",
		extra.ID, u.AccountID, extra.Secret); err != nil {
		t.Fatal(err)
	}
	k2, err := db.RotateAccessKey(ctx, u.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := db.AccountKeys(ctx, u.AccountID); len(keys) != 1 || keys[0] != k2 {
		t.Errorf("after rotating two keys: %v; want just %v", keys, k2)
	}

	if _, err := db.RotateAccessKey(ctx, "999999999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RotateAccessKey(unknown) = %v, want ErrNotFound", err)
	}
}

func TestAccessKeyUnknown(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	// A key id arrives in a request's Authorization header, any bytes at
	// all: those PostgreSQL's text refuses are unknown too, not an error.
	for _, id := range []string{"", "AKIAAAAAAAAAAAAAAAAA", "not a key", "AKIA\xffAAAAAAAAAAAAAA", "AKIA\x00AAAAAAAAAAAAAA"} {
		if _, err := db.AccessKey(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("AccessKey(%q) = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"999999999999", "99999999999\xff", "99999999999\x00"} {
		if keys, err := db.AccountKeys(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("AccountKeys(%q) = %v, %v; want ErrNotFound", id, keys, err)
		}
		if a, err := db.Account(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Account(%q) = %+v, %v; want ErrNotFound", id, a, err)
		}
		if _, err := db.RotateAccessKey(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("RotateAccessKey(%q) = %v, want ErrNotFound", id, err)
		}
		if err := db.DeleteAccount(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteAccount(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestScratchAccounts(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	accts := make([]Account, n)
	keys := make([]AccessKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			accts[i], keys[i], errs[i] = db.CreateScratchAccount(ctx)
		}()
	}
	wg.Wait()
	ids := map[string]bool{u.AccountID: true}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("CreateScratchAccount %d: %v", i, errs[i])
		}
		a, k := accts[i], keys[i]
		if !accountIDPattern.MatchString(a.ID) {
			t.Errorf("scratch account id %q is not 12 digits without a leading 0", a.ID)
		}
		if ids[a.ID] {
			t.Errorf("scratch account id %s repeats another account's", a.ID)
		}
		ids[a.ID] = true
		if a.UserID != 0 || k.AccountID != a.ID {
			t.Errorf("scratch account %+v with key in %s; want no user and the key in the account", a, k.AccountID)
		}
		checkKeyShape(t, k)
		if got, err := db.Account(ctx, a.ID); err != nil || got != a {
			t.Errorf("Account(%s) = %+v, %v; want %+v", a.ID, got, err, a)
		}
		if got, err := db.AccessKey(ctx, k.ID); err != nil || got != k {
			t.Errorf("AccessKey(%s) = %v, %v; want %v", k.ID, got, err, k)
		}
	}
}

func TestDeleteAccount(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	a, k, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep, keepKey, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{a.ID, keep.ID} {
		if err := db.InsertInvocation(ctx, sampleInvocation(acct, "f", db.now())); err != nil {
			t.Fatal(err)
		}
	}

	if err := db.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if _, err := db.Account(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Account after delete = %v, want ErrNotFound", err)
	}
	if _, err := db.AccessKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("key of a deleted account: AccessKey = %v, want ErrNotFound", err)
	}
	if invs, err := db.Invocations(ctx, a.ID, "f", a.CreatedAt.AddDate(-1, 0, 0)); err != nil || len(invs) != 0 {
		t.Errorf("invocations of a deleted account: %d, %v; want none", len(invs), err)
	}
	if err := db.DeleteAccount(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteAccount = %v, want ErrNotFound", err)
	}

	// Neighbours are untouched.
	if _, err := db.AccessKey(ctx, keepKey.ID); err != nil {
		t.Errorf("other scratch account's key after a delete: %v", err)
	}
	if invs, err := db.Invocations(ctx, keep.ID, "f", keep.CreatedAt.AddDate(-1, 0, 0)); err != nil || len(invs) != 1 {
		t.Errorf("other scratch account's invocations after a delete: %d, %v; want 1", len(invs), err)
	}

	// A user's account goes only with the user.
	if err := db.DeleteAccount(ctx, u.AccountID); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeleteAccount of a user's account = %v, want ErrInvalid", err)
	}
	if keys, err := db.AccountKeys(ctx, u.AccountID); err != nil || len(keys) != 1 {
		t.Errorf("user's keys after a refused delete: %v, %v", keys, err)
	}
}
