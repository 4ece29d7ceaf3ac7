package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

// addLambdaAccount inserts an accounts row with plain SQL, so these tests do
// not depend on accounts.go.
func addLambdaAccount(t testing.TB, db *DB, id string) {
	t.Helper()
	if _, err := db.conn.ExecContext(context.Background(),
		"INSERT INTO accounts (account_id, user_id, created_at) VALUES ($1, NULL, $2)", id, time.Now().UnixNano()); err != nil {
		t.Fatalf("insert account %s: %v", id, err)
	}
}

// newLambdaDB is a database with accounts A and B and a fixed clock.
func newLambdaDB(t testing.TB) (*DB, *fakeClock) {
	t.Helper()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	addLambdaAccount(t, db, acctA)
	addLambdaAccount(t, db, acctB)
	return db, clock
}

func latestOf(acct, fn string) LambdaVersion {
	return LambdaVersion{
		AccountID:  acct,
		Function:   fn,
		Version:    latestVersion,
		Config:     []byte(`{"Runtime":"python3.12","MemorySize":128}`),
		CodeSha256: "sha-" + fn,
		CodeSize:   100,
		RevisionID: "rev-0",
	}
}

func mustCreateFunction(t testing.TB, db *DB, acct, fn string) {
	t.Helper()
	if err := db.CreateFunction(context.Background(), latestOf(acct, fn)); err != nil {
		t.Fatalf("CreateFunction(%s, %s): %v", acct, fn, err)
	}
}

// publishCopy is a build callback that always publishes a copy of $LATEST.
func publishCopy(latest LambdaVersion, _ *LambdaVersion, next int) (LambdaVersion, bool, error) {
	v := latest
	v.Version = strconv.Itoa(next)
	v.RevisionID = fmt.Sprintf("rev-v%d", next)
	return v, true, nil
}

func mustPublish(t testing.TB, db *DB, acct, fn string) LambdaVersion {
	t.Helper()
	v, published, err := db.PublishVersion(context.Background(), acct, fn, publishCopy)
	if err != nil || !published {
		t.Fatalf("PublishVersion(%s, %s) = %v, %v, want published", acct, fn, published, err)
	}
	return v
}

func versionNames(vs []LambdaVersion) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Function+":"+v.Version)
	}
	return out
}

// countRows counts rows of table belonging to one function.
func countRows(t *testing.T, db *DB, table, acct, fn string) int {
	t.Helper()
	col := "function"
	if table == "lambda_functions" {
		col = "name"
	}
	var n int
	if err := db.conn.QueryRowContext(context.Background(),
		"SELECT count(*) FROM "+table+" WHERE account_id = $1 AND "+col+" = $2", acct, fn).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestLambdaCreateFunction(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "taken")

	tests := []struct {
		name    string
		v       LambdaVersion
		wantErr error
	}{
		{"ok", latestOf(acctA, "fresh"), nil},
		{"same name in another account", latestOf(acctB, "taken"), nil},
		{"name taken", latestOf(acctA, "taken"), ErrExists},
		{"no such account", latestOf("999999999999", "f"), ErrNotFound},
		{"empty name", latestOf(acctA, ""), ErrInvalid},
		{"empty account", latestOf("", "f"), ErrInvalid},
		{"not $LATEST", func() LambdaVersion { v := latestOf(acctA, "f"); v.Version = "1"; return v }(), ErrInvalid},
		{"config not JSON", func() LambdaVersion { v := latestOf(acctA, "f"); v.Config = []byte("{"); return v }(), ErrInvalid},
		{"no config", func() LambdaVersion { v := latestOf(acctA, "f"); v.Config = nil; return v }(), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.CreateFunction(ctx, tt.v)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("CreateFunction(%s, %q) = %v, want %v", tt.v.AccountID, tt.v.Function, err, tt.wantErr)
			}
		})
	}

	f, err := db.LambdaFunction(ctx, acctA, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	want := LambdaFunction{AccountID: acctA, Name: "fresh", CreatedAt: clock.Now()}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("LambdaFunction = %+v, want %+v", f, want)
	}
	v, err := db.FunctionVersion(ctx, acctA, "fresh", "$LATEST")
	if err != nil {
		t.Fatal(err)
	}
	wantV := latestOf(acctA, "fresh")
	wantV.LastModified = clock.Now() // zero LastModified means now
	if !reflect.DeepEqual(v, wantV) {
		t.Errorf("FunctionVersion = %+v, want %+v", v, wantV)
	}
	// A given LastModified is kept.
	lv := latestOf(acctA, "dated")
	lv.LastModified = time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := db.CreateFunction(ctx, lv); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FunctionVersion(ctx, acctA, "dated", "$LATEST"); !got.LastModified.Equal(lv.LastModified) {
		t.Errorf("LastModified = %v, want %v", got.LastModified, lv.LastModified)
	}
	// A failed create leaves nothing behind.
	if n := countRows(t, db, "lambda_versions", "999999999999", "f"); n != 0 {
		t.Errorf("failed create left %d version rows", n)
	}
}

func TestLambdaGetNotFound(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	tests := []struct {
		name string
		call func() error
	}{
		{"function", func() error { _, err := db.LambdaFunction(ctx, acctA, "nope"); return err }},
		{"version of missing function", func() error { _, err := db.FunctionVersion(ctx, acctA, "nope", "$LATEST"); return err }},
		{"missing version", func() error { _, err := db.FunctionVersion(ctx, acctA, "f", "1"); return err }},
		{"alias", func() error { _, err := db.Alias(ctx, acctA, "f", "prod"); return err }},
		{"layer version", func() error { _, err := db.LayerVersion(ctx, acctA, "l", 1); return err }},
		{"provisioned", func() error { _, err := db.ProvisionedConcurrency(ctx, acctA, "f", "1"); return err }},
		{"event invoke config", func() error { _, err := db.EventInvokeConfig(ctx, acctA, "f", ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

type revisionError struct{ have, want string }

func (e *revisionError) Error() string { return "revision " + e.have + " is not " + e.want }

func TestLambdaUpdateLatest(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")

	clock.Advance(time.Minute)
	got, err := db.UpdateLatest(ctx, acctA, "f", func(v *LambdaVersion) error {
		if v.RevisionID != "rev-0" {
			return &revisionError{v.RevisionID, "rev-0"}
		}
		v.Config = []byte(`{"Runtime":"nodejs22.x"}`)
		v.CodeSha256, v.CodeSize = "sha-new", 200
		v.RevisionID = "rev-1"
		v.LastModified = clock.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.FunctionVersion(ctx, acctA, "f", "$LATEST")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, stored) || stored.RevisionID != "rev-1" || stored.CodeSha256 != "sha-new" ||
		stored.CodeSize != 200 || string(stored.Config) != `{"Runtime":"nodejs22.x"}` || !stored.LastModified.Equal(clock.Now()) {
		t.Errorf("UpdateLatest returned %+v, stored %+v", got, stored)
	}

	// Error cases leave $LATEST as it was.
	tests := []struct {
		name   string
		fn     string
		update func(v *LambdaVersion) error
		check  func(err error) bool
	}{
		{"callback error comes back as is", "f", func(v *LambdaVersion) error {
			v.RevisionID = "half-done"
			return &revisionError{v.RevisionID, "rev-0"}
		}, func(err error) bool {
			var re *revisionError
			return errors.As(err, &re) && err.Error() == "revision half-done is not rev-0"
		}},
		{"precondition sentinel", "f", func(v *LambdaVersion) error {
			return ErrPrecondition
		}, func(err error) bool { return errors.Is(err, ErrPrecondition) }},
		{"key changed", "f", func(v *LambdaVersion) error {
			v.Version = "1"
			return nil
		}, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"config not JSON", "f", func(v *LambdaVersion) error {
			v.Config = []byte("nope")
			return nil
		}, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"missing function", "nope", func(v *LambdaVersion) error {
			t.Error("update called for a missing function")
			return nil
		}, func(err error) bool { return errors.Is(err, ErrNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.UpdateLatest(ctx, acctA, tt.fn, tt.update)
			if !tt.check(err) {
				t.Errorf("UpdateLatest: unexpected error %v", err)
			}
			after, err := db.FunctionVersion(ctx, acctA, "f", "$LATEST")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, stored) {
				t.Errorf("after a failed update $LATEST = %+v, want %+v", after, stored)
			}
		})
	}
}

func TestLambdaListFunctions(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	for _, fn := range []string{"delta", "alpha", "charlie", "bravo"} {
		mustCreateFunction(t, db, acctA, fn)
	}
	mustCreateFunction(t, db, acctB, "echo")
	mustPublish(t, db, acctA, "alpha") // versions are not listed as functions

	tests := []struct {
		acct, after string
		limit       int
		want        []string
		wantErr     error
	}{
		{acctA, "", 10, []string{"alpha:$LATEST", "bravo:$LATEST", "charlie:$LATEST", "delta:$LATEST"}, nil},
		{acctA, "", 2, []string{"alpha:$LATEST", "bravo:$LATEST"}, nil},
		{acctA, "bravo", 2, []string{"charlie:$LATEST", "delta:$LATEST"}, nil},
		{acctA, "b", 1, []string{"bravo:$LATEST"}, nil},
		{acctA, "delta", 5, []string{}, nil},
		{acctB, "", 10, []string{"echo:$LATEST"}, nil},
		{"333333333333", "", 10, []string{}, nil},
		{acctA, "", 0, nil, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := db.ListFunctions(ctx, tt.acct, tt.after, tt.limit)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("ListFunctions(%s, %q, %d) error = %v, want %v", tt.acct, tt.after, tt.limit, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(versionNames(got), tt.want) {
			t.Errorf("ListFunctions(%s, %q, %d) = %v, want %v", tt.acct, tt.after, tt.limit, versionNames(got), tt.want)
		}
	}
}

func TestLambdaPublishVersion(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")

	// The first publish sees no newest version and number 1.
	var sawNewest *LambdaVersion
	var sawNext int
	v1, published, err := db.PublishVersion(ctx, acctA, "f", func(latest LambdaVersion, newest *LambdaVersion, next int) (LambdaVersion, bool, error) {
		sawNewest, sawNext = newest, next
		v := latest
		v.Version = "" // filled in by the store
		v.LastModified = time.Time{}
		return v, true, nil
	})
	if err != nil || !published {
		t.Fatalf("first PublishVersion = %v, %v", published, err)
	}
	if sawNewest != nil || sawNext != 1 {
		t.Errorf("first publish saw newest %v, next %d; want nil, 1", sawNewest, sawNext)
	}
	if v1.Version != "1" || v1.AccountID != acctA || v1.Function != "f" || !v1.LastModified.Equal(clock.Now()) {
		t.Errorf("published %+v", v1)
	}
	if stored, err := db.FunctionVersion(ctx, acctA, "f", "1"); err != nil || !reflect.DeepEqual(stored, v1) {
		t.Errorf("FunctionVersion(1) = %+v, %v; want %+v", stored, err, v1)
	}

	// A no-op publish writes nothing and returns what build returned.
	got, published, err := db.PublishVersion(ctx, acctA, "f", func(latest LambdaVersion, newest *LambdaVersion, next int) (LambdaVersion, bool, error) {
		if newest == nil || newest.Version != "1" || next != 2 {
			t.Errorf("second publish saw newest %v, next %d; want version 1, 2", newest, next)
			return LambdaVersion{}, false, errors.New("unexpected")
		}
		return *newest, false, nil
	})
	if err != nil || published || !reflect.DeepEqual(got, v1) {
		t.Errorf("no-op PublishVersion = %+v, %v, %v; want version 1, false, nil", got, published, err)
	}
	if f, _ := db.LambdaFunction(ctx, acctA, "f"); f.LastVersion != 1 {
		t.Errorf("after a no-op publish LastVersion = %d, want 1", f.LastVersion)
	}
	if n := countRows(t, db, "lambda_versions", acctA, "f"); n != 2 {
		t.Errorf("after a no-op publish %d version rows, want 2", n)
	}

	// Numbers are never reused after a delete, and newest is the newest
	// existing version.
	mustPublish(t, db, acctA, "f") // 2
	if err := db.DeleteFunctionVersion(ctx, acctA, "f", "2"); err != nil {
		t.Fatal(err)
	}
	_, _, err = db.PublishVersion(ctx, acctA, "f", func(latest LambdaVersion, newest *LambdaVersion, next int) (LambdaVersion, bool, error) {
		if newest == nil || newest.Version != "1" || next != 3 {
			t.Errorf("after deleting 2, publish saw newest %v, next %d; want version 1, 3", newest, next)
		}
		return publishCopy(latest, newest, next)
	})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := db.LambdaFunction(ctx, acctA, "f"); f.LastVersion != 3 {
		t.Errorf("LastVersion = %d, want 3", f.LastVersion)
	}
	// Numeric, not lexical: version 10 is newer than version 9.
	for i := 4; i <= 10; i++ {
		mustPublish(t, db, acctA, "f")
	}
	db.PublishVersion(ctx, acctA, "f", func(_ LambdaVersion, newest *LambdaVersion, next int) (LambdaVersion, bool, error) {
		if newest == nil || newest.Version != "10" || next != 11 {
			t.Errorf("newest = %v, next %d; want version 10, 11", newest, next)
		}
		return LambdaVersion{}, false, nil
	})

	tests := []struct {
		name  string
		fn    string
		build func(LambdaVersion, *LambdaVersion, int) (LambdaVersion, bool, error)
		check func(error) bool
	}{
		{"build error comes back as is", "f", func(LambdaVersion, *LambdaVersion, int) (LambdaVersion, bool, error) {
			return LambdaVersion{}, false, &revisionError{"a", "b"}
		}, func(err error) bool {
			var re *revisionError
			return errors.As(err, &re) && err.Error() == "revision a is not b"
		}},
		{"wrong number", "f", func(latest LambdaVersion, _ *LambdaVersion, next int) (LambdaVersion, bool, error) {
			v := latest
			v.Version = strconv.Itoa(next + 1)
			return v, true, nil
		}, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"$LATEST again", "f", func(latest LambdaVersion, _ *LambdaVersion, _ int) (LambdaVersion, bool, error) {
			return latest, true, nil
		}, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"other function", "f", func(latest LambdaVersion, _ *LambdaVersion, next int) (LambdaVersion, bool, error) {
			v, _, _ := publishCopy(latest, nil, next)
			v.Function = "g"
			return v, true, nil
		}, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"missing function", "nope", publishCopy, func(err error) bool { return errors.Is(err, ErrNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, published, err := db.PublishVersion(ctx, acctA, tt.fn, tt.build)
			if published || !tt.check(err) {
				t.Errorf("PublishVersion = %v, %v", published, err)
			}
			if f, _ := db.LambdaFunction(ctx, acctA, "f"); f.LastVersion != 10 {
				t.Errorf("after a failed publish LastVersion = %d, want 10", f.LastVersion)
			}
		})
	}
}

func TestLambdaPublishVersionConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions []int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, published, err := db.PublishVersion(ctx, acctA, "f", publishCopy)
			if err != nil || !published {
				t.Errorf("PublishVersion = %v, %v", published, err)
				return
			}
			num, _ := strconv.Atoi(v.Version)
			mu.Lock()
			versions = append(versions, num)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Ints(versions)
	want := []int{1, 2, 3, 4, 5, 6, 7, 8}
	if !reflect.DeepEqual(versions, want) {
		t.Errorf("concurrent publishes got versions %v, want %v", versions, want)
	}
	if f, _ := db.LambdaFunction(ctx, acctA, "f"); f.LastVersion != n {
		t.Errorf("LastVersion = %d, want %d", f.LastVersion, n)
	}
}

func TestLambdaListFunctionVersions(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	mustCreateFunction(t, db, acctA, "g")
	for i := 0; i < 11; i++ {
		mustPublish(t, db, acctA, "f")
	}
	mustPublish(t, db, acctA, "g")
	if err := db.DeleteFunctionVersion(ctx, acctA, "f", "5"); err != nil {
		t.Fatal(err)
	}
	names := func(vs ...string) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, "f:"+v)
		}
		return out
	}
	tests := []struct {
		after   string
		limit   int
		want    []string
		wantErr error
	}{
		{"", 100, names("$LATEST", "1", "2", "3", "4", "6", "7", "8", "9", "10", "11"), nil},
		{"", 3, names("$LATEST", "1", "2"), nil},
		{"$LATEST", 2, names("1", "2"), nil},
		{"2", 3, names("3", "4", "6"), nil},
		{"4", 1, names("6"), nil},
		{"5", 1, names("6"), nil}, // a deleted marker still works
		{"9", 10, names("10", "11"), nil},
		{"11", 10, names(), nil},
		{"x", 10, nil, ErrInvalid},
		{"01", 10, nil, ErrInvalid},
		{"", 0, nil, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := db.ListFunctionVersions(ctx, acctA, "f", tt.after, tt.limit)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("ListFunctionVersions(%q, %d) error = %v, want %v", tt.after, tt.limit, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(versionNames(got), tt.want) {
			t.Errorf("ListFunctionVersions(%q, %d) = %v, want %v", tt.after, tt.limit, versionNames(got), tt.want)
		}
	}
	if _, err := db.ListFunctionVersions(ctx, acctA, "nope", "", 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListFunctionVersions of a missing function: %v, want ErrNotFound", err)
	}
}

func TestLambdaDeleteFunctionVersion(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	for i := 0; i < 4; i++ {
		mustPublish(t, db, acctA, "f")
	}
	for _, a := range []LambdaAlias{
		{AccountID: acctA, Function: "f", Name: "prod", Version: "2"},
		{AccountID: acctA, Function: "f", Name: "live", Version: "1", AdditionalVersion: "2", AdditionalWeight: 0.1},
		{AccountID: acctA, Function: "f", Name: "beta", Version: "3"},
	} {
		if err := db.CreateAlias(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Things qualified by version 4 go with it.
	if err := db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: "f", Qualifier: "4", StatementID: "s", Statement: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acctA, Function: "f", Qualifier: "4", Requested: 2}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Qualifier: "4", Config: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Config: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, fn, version string
		wantErr           error
		wantMsg           string
	}{
		{"routed to by two aliases", "f", "2", ErrInUse, "version 2 is in use by aliases [live prod]"},
		{"routed to by one", "f", "3", ErrInUse, "version 3 is in use by aliases [beta]"},
		{"routed to as main of a weighted alias", "f", "1", ErrInUse, "version 1 is in use by aliases [live]"},
		{"$LATEST", "f", "$LATEST", ErrInvalid, ""},
		{"not a number", "f", "one", ErrInvalid, ""},
		{"missing version", "f", "9", ErrNotFound, ""},
		{"missing function", "nope", "1", ErrNotFound, ""},
		{"ok", "f", "4", nil, ""},
		{"again", "f", "4", ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.DeleteFunctionVersion(ctx, acctA, tt.fn, tt.version)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("DeleteFunctionVersion(%s, %s) = %v, want %v", tt.fn, tt.version, err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
	for _, v := range []string{"1", "2", "3"} {
		if _, err := db.FunctionVersion(ctx, acctA, "f", v); err != nil {
			t.Errorf("version %s in use was deleted: %v", v, err)
		}
	}
	if _, err := db.FunctionVersion(ctx, acctA, "f", "4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted version 4: %v, want ErrNotFound", err)
	}
	if s, _ := db.PolicyStatements(ctx, acctA, "f", "4"); len(s) != 0 {
		t.Errorf("version 4's policy survived: %v", s)
	}
	if _, err := db.ProvisionedConcurrency(ctx, acctA, "f", "4"); err != nil {
		t.Errorf("version 4's provisioned concurrency, left for the caller to release: %v", err)
	}
	if _, err := db.EventInvokeConfig(ctx, acctA, "f", "4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("version 4's event invoke config: %v, want ErrNotFound", err)
	}
	if _, err := db.EventInvokeConfig(ctx, acctA, "f", ""); err != nil {
		t.Errorf("the function's own event invoke config went with version 4: %v", err)
	}
}

func TestLambdaDeleteFunctionCascades(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	for _, fn := range []string{"doomed", "kept"} {
		mustCreateFunction(t, db, acctA, fn)
		mustPublish(t, db, acctA, fn)
		if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: fn, Name: "prod", Version: "1"}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: fn, StatementID: "s", Statement: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acctA, Function: fn, Qualifier: "prod", Requested: 1}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: fn, Config: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		five := 5
		if err := db.SetReservedConcurrency(ctx, acctA, fn, &five); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateFunction(t, db, acctB, "doomed")

	if err := db.DeleteFunction(ctx, acctA, "doomed"); err != nil {
		t.Fatal(err)
	}
	tables := []string{"lambda_functions", "lambda_versions", "lambda_aliases", "lambda_policy_statements",
		"lambda_provisioned_concurrency", "lambda_event_invoke_configs"}
	for _, table := range tables {
		if n := countRows(t, db, table, acctA, "doomed"); n != 0 {
			t.Errorf("%s: %d rows of the deleted function remain", table, n)
		}
		if n := countRows(t, db, table, acctA, "kept"); n == 0 {
			t.Errorf("%s: the other function's rows went too", table)
		}
	}
	if _, err := db.LambdaFunction(ctx, acctB, "doomed"); err != nil {
		t.Errorf("account B's function of the same name went too: %v", err)
	}
	if err := db.DeleteFunction(ctx, acctA, "doomed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteFunction = %v, want ErrNotFound", err)
	}
	// The name is free again, and numbering starts over with the new function.
	mustCreateFunction(t, db, acctA, "doomed")
	if v := mustPublish(t, db, acctA, "doomed"); v.Version != "1" {
		t.Errorf("recreated function published %s, want 1", v.Version)
	}
}

func TestLambdaAliases(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	mustPublish(t, db, acctA, "f")
	mustPublish(t, db, acctA, "f")

	prod := LambdaAlias{AccountID: acctA, Function: "f", Name: "prod", Version: "1", AdditionalVersion: "2",
		AdditionalWeight: 0.25, Description: "production", RevisionID: "r1"}
	createTests := []struct {
		name    string
		a       LambdaAlias
		wantErr error
	}{
		{"ok", prod, nil},
		{"to $LATEST", LambdaAlias{AccountID: acctA, Function: "f", Name: "dev", Version: "$LATEST"}, nil},
		{"to 2", LambdaAlias{AccountID: acctA, Function: "f", Name: "canary", Version: "2"}, nil},
		{"exists", prod, ErrExists},
		{"missing function", LambdaAlias{AccountID: acctA, Function: "nope", Name: "a", Version: "1"}, ErrNotFound},
		{"missing version", LambdaAlias{AccountID: acctA, Function: "f", Name: "a", Version: "3"}, ErrNotFound},
		{"missing additional version", LambdaAlias{AccountID: acctA, Function: "f", Name: "a", Version: "1", AdditionalVersion: "7"}, ErrNotFound},
		{"no version", LambdaAlias{AccountID: acctA, Function: "f", Name: "a"}, ErrInvalid},
		{"no name", LambdaAlias{AccountID: acctA, Function: "f", Version: "1"}, ErrInvalid},
		{"other account's function", LambdaAlias{AccountID: acctB, Function: "f", Name: "a", Version: "1"}, ErrNotFound},
	}
	for _, tt := range createTests {
		t.Run("create "+tt.name, func(t *testing.T) {
			err := db.CreateAlias(ctx, tt.a)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("CreateAlias(%+v) = %v, want %v", tt.a, err, tt.wantErr)
			}
		})
	}
	if got, err := db.Alias(ctx, acctA, "f", "prod"); err != nil || !reflect.DeepEqual(got, prod) {
		t.Errorf("Alias(prod) = %+v, %v; want %+v", got, err, prod)
	}

	listTests := []struct {
		version string
		want    []string
	}{
		{"", []string{"canary", "dev", "prod"}},
		{"1", []string{"prod"}},
		{"2", []string{"canary", "prod"}}, // prod routes a share to 2
		{"$LATEST", []string{"dev"}},
		{"9", []string{}},
	}
	for _, tt := range listTests {
		got, err := db.ListAliases(ctx, acctA, "f", tt.version)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, a := range got {
			names = append(names, a.Name)
		}
		if !reflect.DeepEqual(names, tt.want) {
			t.Errorf("ListAliases(%q) = %v, want %v", tt.version, names, tt.want)
		}
	}
	if _, err := db.ListAliases(ctx, acctA, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListAliases of a missing function: %v, want ErrNotFound", err)
	}

	updated, err := db.UpdateAlias(ctx, acctA, "f", "prod", func(a *LambdaAlias) error {
		a.Version, a.AdditionalVersion, a.AdditionalWeight = "2", "", 0
		a.Description, a.RevisionID = "all in", "r2"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := LambdaAlias{AccountID: acctA, Function: "f", Name: "prod", Version: "2", Description: "all in", RevisionID: "r2"}
	if got, _ := db.Alias(ctx, acctA, "f", "prod"); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(updated, want) {
		t.Errorf("after UpdateAlias: returned %+v, stored %+v, want %+v", updated, got, want)
	}

	updateTests := []struct {
		name, alias string
		update      func(a *LambdaAlias) error
		check       func(error) bool
	}{
		{"to a missing version", "prod", func(a *LambdaAlias) error { a.Version = "3"; return nil },
			func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"to a missing additional version", "prod", func(a *LambdaAlias) error { a.AdditionalVersion = "3"; return nil },
			func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"callback error", "prod", func(a *LambdaAlias) error { a.Version = "1"; return &revisionError{"r2", "r1"} },
			func(err error) bool { var re *revisionError; return errors.As(err, &re) }},
		{"rename", "prod", func(a *LambdaAlias) error { a.Name = "other"; return nil },
			func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"no version", "prod", func(a *LambdaAlias) error { a.Version = ""; return nil },
			func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"missing alias", "nope", func(a *LambdaAlias) error { return nil },
			func(err error) bool { return errors.Is(err, ErrNotFound) }},
	}
	for _, tt := range updateTests {
		t.Run("update "+tt.name, func(t *testing.T) {
			if _, err := db.UpdateAlias(ctx, acctA, "f", tt.alias, tt.update); !tt.check(err) {
				t.Errorf("UpdateAlias: unexpected error %v", err)
			}
			if got, _ := db.Alias(ctx, acctA, "f", "prod"); !reflect.DeepEqual(got, want) {
				t.Errorf("after a failed update alias = %+v, want %+v", got, want)
			}
		})
	}

	// Deleting an alias takes its policy and event invoke config with it.
	if err := db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: "f", Qualifier: "prod", StatementID: "s", Statement: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acctA, Function: "f", Qualifier: "prod", Requested: 3}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Qualifier: "prod", Config: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	deleteTests := []struct {
		fn, alias string
		wantErr   error
	}{
		{"f", "prod", nil},
		{"f", "prod", ErrNotFound},
		{"nope", "dev", ErrNotFound},
	}
	for _, tt := range deleteTests {
		if err := db.DeleteAlias(ctx, acctA, tt.fn, tt.alias); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("DeleteAlias(%s, %s) = %v, want %v", tt.fn, tt.alias, err, tt.wantErr)
		}
	}
	if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "f", Name: "prod", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.PolicyStatements(ctx, acctA, "f", "prod"); len(s) != 0 {
		t.Errorf("a new alias prod inherited the deleted one's policy: %v", s)
	}
	if _, err := db.ProvisionedConcurrency(ctx, acctA, "f", "prod"); err != nil {
		t.Errorf("the deleted alias's provisioned concurrency, left for the caller to release: %v", err)
	}
	if _, err := db.EventInvokeConfig(ctx, acctA, "f", "prod"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a new alias prod inherited an event invoke config: %v", err)
	}
}

func TestLambdaLayers(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	publish := func(acct, layer, sha string) LambdaLayerVersion {
		t.Helper()
		lv, err := db.PublishLayerVersion(ctx, LambdaLayerVersion{AccountID: acct, Layer: layer, Version: 99,
			CodeSha256: sha, CodeSize: 10, UnzippedSize: 30, Config: []byte(`{"Description":"` + sha + `"}`)})
		if err != nil {
			t.Fatalf("PublishLayerVersion(%s, %s): %v", acct, layer, err)
		}
		return lv
	}
	lv1 := publish(acctA, "numpy", "n1")
	want1 := LambdaLayerVersion{AccountID: acctA, Layer: "numpy", Version: 1, CodeSha256: "n1", CodeSize: 10,
		UnzippedSize: 30, Config: []byte(`{"Description":"n1"}`), CreatedAt: clock.Now()}
	if !reflect.DeepEqual(lv1, want1) {
		t.Errorf("PublishLayerVersion = %+v, want %+v", lv1, want1)
	}
	if got, err := db.LayerVersion(ctx, acctA, "numpy", 1); err != nil || !reflect.DeepEqual(got, want1) {
		t.Errorf("LayerVersion(numpy, 1) = %+v, %v; want %+v", got, err, want1)
	}
	publish(acctA, "numpy", "n2")
	publish(acctA, "numpy", "n3")
	publish(acctA, "arrow", "a1")
	publish(acctA, "zlib", "z1")
	if got := publish(acctB, "numpy", "b1"); got.Version != 1 {
		t.Errorf("account B's first numpy is version %d, want 1", got.Version)
	}

	if err := db.DeleteLayerVersion(ctx, acctA, "numpy", 3); err != nil {
		t.Fatal(err)
	}
	if got := publish(acctA, "numpy", "n4"); got.Version != 4 {
		t.Errorf("publish after deleting 3 gave version %d, want 4", got.Version)
	}
	for _, tt := range []struct {
		layer   string
		version int
	}{{"numpy", 3}, {"numpy", 40}, {"nope", 1}} {
		if err := db.DeleteLayerVersion(ctx, acctA, tt.layer, tt.version); err != nil {
			t.Errorf("DeleteLayerVersion(%s, %d) of an absent version = %v, want nil", tt.layer, tt.version, err)
		}
	}
	// zlib loses its only version: the layer is no longer listed, but its
	// numbers carry on.
	if err := db.DeleteLayerVersion(ctx, acctA, "zlib", 1); err != nil {
		t.Fatal(err)
	}

	layerNames := func(lvs []LambdaLayerVersion) []string {
		out := []string{}
		for _, lv := range lvs {
			out = append(out, fmt.Sprintf("%s:%d", lv.Layer, lv.Version))
		}
		return out
	}
	listTests := []struct {
		name string
		got  func() ([]LambdaLayerVersion, error)
		want []string
	}{
		{"versions of numpy", func() ([]LambdaLayerVersion, error) { return db.ListLayerVersions(ctx, acctA, "numpy") },
			[]string{"numpy:4", "numpy:2", "numpy:1"}},
		{"versions of a missing layer", func() ([]LambdaLayerVersion, error) { return db.ListLayerVersions(ctx, acctA, "nope") },
			[]string{}},
		{"versions of an emptied layer", func() ([]LambdaLayerVersion, error) { return db.ListLayerVersions(ctx, acctA, "zlib") },
			[]string{}},
		{"layers", func() ([]LambdaLayerVersion, error) { return db.ListLayers(ctx, acctA) },
			[]string{"arrow:1", "numpy:4"}},
		{"layers of B", func() ([]LambdaLayerVersion, error) { return db.ListLayers(ctx, acctB) },
			[]string{"numpy:1"}},
	}
	for _, tt := range listTests {
		got, err := tt.got()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(layerNames(got), tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, layerNames(got), tt.want)
		}
	}
	if got := publish(acctA, "zlib", "z2"); got.Version != 2 {
		t.Errorf("zlib after deleting its only version published %d, want 2", got.Version)
	}

	errTests := []struct {
		name    string
		lv      LambdaLayerVersion
		wantErr error
	}{
		{"no such account", LambdaLayerVersion{AccountID: "999999999999", Layer: "l", Config: []byte(`{}`)}, ErrNotFound},
		{"no layer name", LambdaLayerVersion{AccountID: acctA, Config: []byte(`{}`)}, ErrInvalid},
		{"config not JSON", LambdaLayerVersion{AccountID: acctA, Layer: "l", Config: []byte(`x`)}, ErrInvalid},
	}
	for _, tt := range errTests {
		if _, err := db.PublishLayerVersion(ctx, tt.lv); !errors.Is(err, tt.wantErr) {
			t.Errorf("PublishLayerVersion %s = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	if _, err := db.LayerVersion(ctx, acctA, "numpy", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("LayerVersion of a deleted version = %v, want ErrNotFound", err)
	}
}

func TestLambdaPolicyStatements(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	mustPublish(t, db, acctA, "f")
	if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "f", Name: "prod", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	stmt := func(qualifier, sid string) LambdaPolicyStatement {
		return LambdaPolicyStatement{AccountID: acctA, Function: "f", Qualifier: qualifier, StatementID: sid,
			Statement: []byte(`{"Sid":"` + sid + `"}`)}
	}
	// The clock does not move, and steps back once: the order must still be
	// the order of the adds, not of the sids.
	addTests := []struct {
		name    string
		s       LambdaPolicyStatement
		wantErr error
	}{
		{"zeta", stmt("", "zeta"), nil},
		{"alpha", stmt("", "alpha"), nil},
		{"mid, clock stepped back", func() LambdaPolicyStatement {
			s := stmt("", "mid")
			s.CreatedAt = clock.Now().Add(-time.Hour)
			return s
		}(), nil},
		{"same sid on a version", stmt("1", "zeta"), nil},
		{"same sid on an alias", stmt("prod", "zeta"), nil},
		{"same sid on $LATEST", stmt("$LATEST", "zeta"), nil},
		{"duplicate sid", stmt("", "alpha"), ErrExists},
		{"missing version", stmt("2", "x"), ErrNotFound},
		{"missing alias", stmt("staging", "x"), ErrNotFound},
		{"missing function", LambdaPolicyStatement{AccountID: acctA, Function: "nope", StatementID: "x", Statement: []byte(`{}`)}, ErrNotFound},
		{"other account", LambdaPolicyStatement{AccountID: acctB, Function: "f", StatementID: "x", Statement: []byte(`{}`)}, ErrNotFound},
		{"no sid", stmt("", ""), ErrInvalid},
		{"not JSON", LambdaPolicyStatement{AccountID: acctA, Function: "f", StatementID: "x", Statement: []byte(`{`)}, ErrInvalid},
	}
	for _, tt := range addTests {
		t.Run("add "+tt.name, func(t *testing.T) {
			err := db.AddPolicyStatement(ctx, tt.s)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("AddPolicyStatement(%s:%s) = %v, want %v", tt.s.Qualifier, tt.s.StatementID, err, tt.wantErr)
			}
		})
	}
	sids := func(qualifier string) []string {
		t.Helper()
		got, err := db.PolicyStatements(ctx, acctA, "f", qualifier)
		if err != nil {
			t.Fatalf("PolicyStatements(%q): %v", qualifier, err)
		}
		out := []string{}
		for i, s := range got {
			if string(s.Statement) != `{"Sid":"`+s.StatementID+`"}` || s.Qualifier != qualifier {
				t.Errorf("statement %+v", s)
			}
			if i > 0 && !s.CreatedAt.After(got[i-1].CreatedAt) {
				t.Errorf("CreatedAt not increasing: %v then %v", got[i-1].CreatedAt, s.CreatedAt)
			}
			out = append(out, s.StatementID)
		}
		return out
	}
	if got, want := sids(""), []string{"zeta", "alpha", "mid"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PolicyStatements() = %v, want creation order %v", got, want)
	}
	if got, want := sids("1"), []string{"zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PolicyStatements(1) = %v, want %v", got, want)
	}
	if got := sids("staging"); len(got) != 0 {
		t.Errorf("PolicyStatements(staging) = %v, want none", got)
	}
	if _, err := db.PolicyStatements(ctx, acctA, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("PolicyStatements of a missing function = %v, want ErrNotFound", err)
	}

	removeTests := []struct {
		qualifier, sid string
		wantErr        error
	}{
		{"", "alpha", nil},
		{"", "alpha", ErrNotFound},
		{"1", "alpha", ErrNotFound},
		{"1", "zeta", nil},
	}
	for _, tt := range removeTests {
		if err := db.RemovePolicyStatement(ctx, acctA, "f", tt.qualifier, tt.sid); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("RemovePolicyStatement(%q, %s) = %v, want %v", tt.qualifier, tt.sid, err, tt.wantErr)
		}
	}
	if got, want := sids(""), []string{"zeta", "mid"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after removes PolicyStatements() = %v, want %v", got, want)
	}
	if got := sids("prod"); !reflect.DeepEqual(got, []string{"zeta"}) {
		t.Errorf("removing version 1's zeta touched alias prod's: %v", got)
	}
}

func TestLambdaReservedConcurrency(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	for _, fn := range []string{"a", "b", "c"} {
		mustCreateFunction(t, db, acctA, fn)
	}
	mustCreateFunction(t, db, acctB, "a")
	n := func(i int) *int { return &i }

	tests := []struct {
		acct, fn string
		n        *int
		wantErr  error
	}{
		{acctA, "a", n(5), nil},
		{acctA, "b", n(0), nil}, // 0 throttles everything; still a reservation
		{acctA, "c", n(3), nil},
		{acctA, "c", nil, nil}, // cleared
		{acctB, "a", n(7), nil},
		{acctA, "a", n(-1), ErrInvalid},
		{acctA, "nope", n(1), ErrNotFound},
		{acctA, "nope", nil, ErrNotFound},
	}
	for _, tt := range tests {
		if err := db.SetReservedConcurrency(ctx, tt.acct, tt.fn, tt.n); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("SetReservedConcurrency(%s, %s, %v) = %v, want %v", tt.acct, tt.fn, tt.n, err, tt.wantErr)
		}
	}
	if f, _ := db.LambdaFunction(ctx, acctA, "a"); f.ReservedConcurrency == nil || *f.ReservedConcurrency != 5 {
		t.Errorf("reserved concurrency of a = %v, want 5 (the rejected -1 must not stick)", f.ReservedConcurrency)
	}
	if f, _ := db.LambdaFunction(ctx, acctA, "c"); f.ReservedConcurrency != nil {
		t.Errorf("reserved concurrency of c = %v, want nil", *f.ReservedConcurrency)
	}
	all, err := db.ReservedConcurrencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range all {
		got = append(got, fmt.Sprintf("%s/%s=%d", f.AccountID, f.Name, *f.ReservedConcurrency))
	}
	want := []string{acctA + "/a=5", acctA + "/b=0", acctB + "/a=7"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReservedConcurrencies = %v, want %v", got, want)
	}
}

func TestLambdaProvisionedConcurrency(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	for _, acct := range []string{acctA, acctB} {
		for _, fn := range []string{"f", "g"} {
			mustCreateFunction(t, db, acct, fn)
			mustPublish(t, db, acct, fn)
			if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acct, Function: fn, Name: "prod", Version: "1"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := func(acct, fn, q string, n int) LambdaProvisioned {
		return LambdaProvisioned{AccountID: acct, Function: fn, Qualifier: q, Requested: n}
	}
	putTests := []struct {
		name    string
		p       LambdaProvisioned
		wantErr error
	}{
		{"version", p(acctA, "f", "1", 2), nil},
		{"alias", p(acctA, "f", "prod", 3), nil},
		{"upsert", p(acctA, "f", "1", 4), nil},
		{"other function", p(acctA, "g", "prod", 1), nil},
		{"other account", p(acctB, "f", "prod", 9), nil},
		{"zero", p(acctA, "f", "1", 0), ErrInvalid},
		{"no qualifier", p(acctA, "f", "", 1), ErrInvalid},
		{"missing qualifier", p(acctA, "f", "2", 1), ErrNotFound},
		{"missing function", p(acctA, "nope", "1", 1), ErrNotFound},
	}
	for _, tt := range putTests {
		if err := db.PutProvisionedConcurrency(ctx, tt.p); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("PutProvisionedConcurrency %s = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	got, err := db.ProvisionedConcurrency(ctx, acctA, "f", "1")
	want := LambdaProvisioned{AccountID: acctA, Function: "f", Qualifier: "1", Requested: 4, LastModified: clock.Now()}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ProvisionedConcurrency(f, 1) = %+v, %v; want %+v", got, err, want)
	}

	keys := func(ps []LambdaProvisioned) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s/%s:%s=%d", p.AccountID[:1], p.Function, p.Qualifier, p.Requested))
		}
		return out
	}
	listTests := []struct {
		acct, fn string
		want     []string
		wantErr  error
	}{
		{acctA, "f", []string{"1/f:1=4", "1/f:prod=3"}, nil},
		{acctA, "", []string{"1/f:1=4", "1/f:prod=3", "1/g:prod=1"}, nil},
		{"", "", []string{"1/f:1=4", "1/f:prod=3", "1/g:prod=1", "2/f:prod=9"}, nil},
		{acctB, "g", []string{}, nil},
		{acctA, "nope", nil, ErrNotFound},
		{"", "f", nil, ErrInvalid},
	}
	for _, tt := range listTests {
		got, err := db.ListProvisionedConcurrency(ctx, tt.acct, tt.fn)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("ListProvisionedConcurrency(%q, %q) error = %v, want %v", tt.acct, tt.fn, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(keys(got), tt.want) {
			t.Errorf("ListProvisionedConcurrency(%q, %q) = %v, want %v", tt.acct, tt.fn, keys(got), tt.want)
		}
	}

	deleteTests := []struct {
		acct, fn, q string
		wantErr     error
	}{
		{acctA, "f", "prod", nil},
		{acctA, "f", "prod", ErrNotFound},
		{acctA, "g", "1", ErrNotFound},
		{acctA, "nope", "1", ErrNotFound},
	}
	for _, tt := range deleteTests {
		if err := db.DeleteProvisionedConcurrency(ctx, tt.acct, tt.fn, tt.q); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("DeleteProvisionedConcurrency(%s, %s) = %v, want %v", tt.fn, tt.q, err, tt.wantErr)
		}
	}
	if got, _ := db.ListProvisionedConcurrency(ctx, acctA, "f"); !reflect.DeepEqual(keys(got), []string{"1/f:1=4"}) {
		t.Errorf("after delete: %v", keys(got))
	}
}

func TestLambdaEventInvokeConfig(t *testing.T) {
	ctx := context.Background()
	db, clock := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	mustPublish(t, db, acctA, "f")
	cfg := func(q, doc string) LambdaEventInvokeConfig {
		return LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Qualifier: q, Config: []byte(doc)}
	}
	putTests := []struct {
		name    string
		c       LambdaEventInvokeConfig
		wantErr error
	}{
		{"unqualified", cfg("", `{"MaximumRetryAttempts":2}`), nil},
		{"version", cfg("1", `{"MaximumRetryAttempts":0}`), nil},
		{"$LATEST", cfg("$LATEST", `{}`), nil},
		{"upsert", cfg("", `{"MaximumRetryAttempts":1}`), nil},
		{"not JSON", cfg("", `{`), ErrInvalid},
		{"missing version", cfg("2", `{}`), ErrNotFound},
		{"missing function", LambdaEventInvokeConfig{AccountID: acctA, Function: "nope", Config: []byte(`{}`)}, ErrNotFound},
		{"other account", LambdaEventInvokeConfig{AccountID: acctB, Function: "f", Config: []byte(`{}`)}, ErrNotFound},
	}
	for _, tt := range putTests {
		if err := db.PutEventInvokeConfig(ctx, tt.c); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("PutEventInvokeConfig %s = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	got, err := db.EventInvokeConfig(ctx, acctA, "f", "")
	want := LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Config: []byte(`{"MaximumRetryAttempts":1}`), LastModified: clock.Now()}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("EventInvokeConfig() = %+v, %v; want %+v", got, err, want)
	}
	list, err := db.ListEventInvokeConfigs(ctx, acctA, "f")
	if err != nil {
		t.Fatal(err)
	}
	var qs []string
	for _, c := range list {
		qs = append(qs, c.Qualifier+"="+string(c.Config))
	}
	if want := []string{`={"MaximumRetryAttempts":1}`, `$LATEST={}`, `1={"MaximumRetryAttempts":0}`}; !reflect.DeepEqual(qs, want) {
		t.Errorf("ListEventInvokeConfigs = %v, want %v", qs, want)
	}
	if _, err := db.ListEventInvokeConfigs(ctx, acctA, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListEventInvokeConfigs of a missing function = %v, want ErrNotFound", err)
	}
	deleteTests := []struct {
		q       string
		wantErr error
	}{{"1", nil}, {"1", ErrNotFound}, {"prod", ErrNotFound}}
	for _, tt := range deleteTests {
		if err := db.DeleteEventInvokeConfig(ctx, acctA, "f", tt.q); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("DeleteEventInvokeConfig(%q) = %v, want %v", tt.q, err, tt.wantErr)
		}
	}
}

func TestLambdaReferencedPackages(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f") // sha-f
	mustPublish(t, db, acctA, "f")        // sha-f again
	if _, err := db.UpdateLatest(ctx, acctA, "f", func(v *LambdaVersion) error { v.CodeSha256 = "sha-f2"; return nil }); err != nil {
		t.Fatal(err)
	}
	mustCreateFunction(t, db, acctB, "g") // sha-g
	for _, lv := range []LambdaLayerVersion{
		{AccountID: acctA, Layer: "l", CodeSha256: "sha-l1", Config: []byte(`{}`)},
		{AccountID: acctB, Layer: "l", CodeSha256: "sha-f", Config: []byte(`{}`)}, // shared with a function
		{AccountID: acctB, Layer: "m", CodeSha256: "sha-m", Config: []byte(`{}`)},
	} {
		if _, err := db.PublishLayerVersion(ctx, lv); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want ...string) {
		t.Helper()
		got, err := db.ReferencedPackages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantSet := map[string]bool{}
		for _, w := range want {
			wantSet[w] = true
		}
		if !reflect.DeepEqual(got, wantSet) {
			t.Errorf("ReferencedPackages = %v, want %v", got, wantSet)
		}
	}
	check("sha-f", "sha-f2", "sha-g", "sha-l1", "sha-m")
	if err := db.DeleteFunction(ctx, acctA, "f"); err != nil {
		t.Fatal(err)
	}
	check("sha-f", "sha-g", "sha-l1", "sha-m") // sha-f still held by B's layer
	if err := db.DeleteLayerVersion(ctx, acctB, "l", 1); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteLayerVersion(ctx, acctB, "m", 1); err != nil {
		t.Fatal(err)
	}
	check("sha-g", "sha-l1")
}

// TestLambdaAccountIsolation builds a full function in account A and checks
// that account B sees none of it through any method, and cannot change it.
func TestLambdaAccountIsolation(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "f")
	mustPublish(t, db, acctA, "f")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "f", Name: "prod", Version: "1"}))
	must(db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: "f", StatementID: "s", Statement: []byte(`{}`)}))
	must(db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acctA, Function: "f", Qualifier: "prod", Requested: 1}))
	must(db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: "f", Config: []byte(`{}`)}))
	one := 1
	must(db.SetReservedConcurrency(ctx, acctA, "f", &one))
	_, err := db.PublishLayerVersion(ctx, LambdaLayerVersion{AccountID: acctA, Layer: "l", Config: []byte(`{}`)})
	must(err)

	b := acctB
	notFound := []struct {
		name string
		call func() error
	}{
		{"LambdaFunction", func() error { _, err := db.LambdaFunction(ctx, b, "f"); return err }},
		{"FunctionVersion", func() error { _, err := db.FunctionVersion(ctx, b, "f", "1"); return err }},
		{"UpdateLatest", func() error {
			_, err := db.UpdateLatest(ctx, b, "f", func(*LambdaVersion) error { return nil })
			return err
		}},
		{"ListFunctionVersions", func() error { _, err := db.ListFunctionVersions(ctx, b, "f", "", 10); return err }},
		{"PublishVersion", func() error { _, _, err := db.PublishVersion(ctx, b, "f", publishCopy); return err }},
		{"DeleteFunctionVersion", func() error { return db.DeleteFunctionVersion(ctx, b, "f", "1") }},
		{"CreateAlias", func() error {
			return db.CreateAlias(ctx, LambdaAlias{AccountID: b, Function: "f", Name: "x", Version: "1"})
		}},
		{"Alias", func() error { _, err := db.Alias(ctx, b, "f", "prod"); return err }},
		{"UpdateAlias", func() error {
			_, err := db.UpdateAlias(ctx, b, "f", "prod", func(*LambdaAlias) error { return nil })
			return err
		}},
		{"ListAliases", func() error { _, err := db.ListAliases(ctx, b, "f", ""); return err }},
		{"DeleteAlias", func() error { return db.DeleteAlias(ctx, b, "f", "prod") }},
		{"LayerVersion", func() error { _, err := db.LayerVersion(ctx, b, "l", 1); return err }},
		{"AddPolicyStatement", func() error {
			return db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: b, Function: "f", StatementID: "t", Statement: []byte(`{}`)})
		}},
		{"RemovePolicyStatement", func() error { return db.RemovePolicyStatement(ctx, b, "f", "", "s") }},
		{"PolicyStatements", func() error { _, err := db.PolicyStatements(ctx, b, "f", ""); return err }},
		{"SetReservedConcurrency", func() error { return db.SetReservedConcurrency(ctx, b, "f", nil) }},
		{"PutProvisionedConcurrency", func() error {
			return db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: b, Function: "f", Qualifier: "prod", Requested: 5})
		}},
		{"ProvisionedConcurrency", func() error { _, err := db.ProvisionedConcurrency(ctx, b, "f", "prod"); return err }},
		{"ListProvisionedConcurrency", func() error { _, err := db.ListProvisionedConcurrency(ctx, b, "f"); return err }},
		{"DeleteProvisionedConcurrency", func() error { return db.DeleteProvisionedConcurrency(ctx, b, "f", "prod") }},
		{"PutEventInvokeConfig", func() error {
			return db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: b, Function: "f", Config: []byte(`{"x":1}`)})
		}},
		{"EventInvokeConfig", func() error { _, err := db.EventInvokeConfig(ctx, b, "f", ""); return err }},
		{"ListEventInvokeConfigs", func() error { _, err := db.ListEventInvokeConfigs(ctx, b, "f"); return err }},
		{"DeleteEventInvokeConfig", func() error { return db.DeleteEventInvokeConfig(ctx, b, "f", "") }},
		{"DeleteFunction", func() error { return db.DeleteFunction(ctx, b, "f") }},
	}
	for _, tt := range notFound {
		if err := tt.call(); !errors.Is(err, ErrNotFound) {
			t.Errorf("account B %s: %v, want ErrNotFound", tt.name, err)
		}
	}
	empty := []struct {
		name string
		n    func() (int, error)
	}{
		{"ListFunctions", func() (int, error) { l, err := db.ListFunctions(ctx, b, "", 100); return len(l), err }},
		{"ListLayers", func() (int, error) { l, err := db.ListLayers(ctx, b); return len(l), err }},
		{"ListLayerVersions", func() (int, error) { l, err := db.ListLayerVersions(ctx, b, "l"); return len(l), err }},
		{"ListProvisionedConcurrency of the account", func() (int, error) {
			l, err := db.ListProvisionedConcurrency(ctx, b, "")
			return len(l), err
		}},
	}
	for _, tt := range empty {
		if n, err := tt.n(); err != nil || n != 0 {
			t.Errorf("account B %s = %d rows, %v; want none", tt.name, n, err)
		}
	}
	must(db.DeleteLayerVersion(ctx, b, "l", 1))
	if _, err := db.LayerVersion(ctx, acctA, "l", 1); err != nil {
		t.Errorf("B's DeleteLayerVersion removed A's layer: %v", err)
	}
	// A's state is intact after all of B's attempts.
	if f, err := db.LambdaFunction(ctx, acctA, "f"); err != nil || f.LastVersion != 1 || f.ReservedConcurrency == nil {
		t.Errorf("A's function after B's attempts: %+v, %v", f, err)
	}
	if s, err := db.PolicyStatements(ctx, acctA, "f", ""); err != nil || len(s) != 1 {
		t.Errorf("A's policy after B's attempts: %v, %v", s, err)
	}
	if p, err := db.ProvisionedConcurrency(ctx, acctA, "f", "prod"); err != nil || p.Requested != 1 {
		t.Errorf("A's provisioned concurrency after B's attempts: %+v, %v", p, err)
	}
	if c, err := db.EventInvokeConfig(ctx, acctA, "f", ""); err != nil || string(c.Config) != `{}` {
		t.Errorf("A's event invoke config after B's attempts: %+v, %v", c, err)
	}
	if _, err := db.Alias(ctx, acctA, "f", "prod"); err != nil {
		t.Errorf("A's alias after B's attempts: %v", err)
	}
}

// TestLambdaTextThatCannotBeStored: PostgreSQL's text holds no invalid
// UTF-8 and no NUL, and the store answers alike on both engines: a name
// looked up that no row can hold is not found, new text is ErrInvalid.
func TestLambdaTextThatCannotBeStored(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "fn")
	mustPublish(t, db, acctA, "fn")
	if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "fn", Name: "live", Version: "1", RevisionID: "r"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x\xff", "x\x00"} {
		notFound := map[string]error{}
		_, notFound["LambdaFunction"] = db.LambdaFunction(ctx, acctA, bad)
		_, notFound["FunctionVersion"] = db.FunctionVersion(ctx, acctA, "fn", bad)
		_, notFound["UpdateLatest"] = db.UpdateLatest(ctx, acctA, bad, func(*LambdaVersion) error { return nil })
		_, notFound["ListFunctionVersions"] = db.ListFunctionVersions(ctx, acctA, bad, "", 10)
		_, _, notFound["PublishVersion"] = db.PublishVersion(ctx, acctA, bad, publishCopy)
		notFound["DeleteFunction"] = db.DeleteFunction(ctx, acctA, bad)
		notFound["DeleteFunctionVersion"] = db.DeleteFunctionVersion(ctx, bad, "fn", "1")
		notFound["CreateAlias to a version"] = db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "fn", Name: "a", Version: bad})
		_, notFound["Alias"] = db.Alias(ctx, acctA, "fn", bad)
		_, notFound["UpdateAlias"] = db.UpdateAlias(ctx, acctA, "fn", bad, func(*LambdaAlias) error { return nil })
		_, notFound["UpdateAlias to a version"] = db.UpdateAlias(ctx, acctA, "fn", "live", func(a *LambdaAlias) error { a.AdditionalVersion = bad; return nil })
		_, notFound["ListAliases"] = db.ListAliases(ctx, acctA, bad, "")
		notFound["DeleteAlias"] = db.DeleteAlias(ctx, acctA, "fn", bad)
		_, notFound["LayerVersion"] = db.LayerVersion(ctx, acctA, bad, 1)
		notFound["AddPolicyStatement"] = db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: "fn", Qualifier: bad, StatementID: "s", Statement: []byte("{}")})
		notFound["RemovePolicyStatement"] = db.RemovePolicyStatement(ctx, acctA, "fn", "", bad)
		_, notFound["PolicyStatements"] = db.PolicyStatements(ctx, acctA, bad, "")
		notFound["SetReservedConcurrency"] = db.SetReservedConcurrency(ctx, acctA, bad, nil)
		notFound["PutProvisionedConcurrency"] = db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acctA, Function: "fn", Qualifier: bad, Requested: 1})
		_, notFound["ProvisionedConcurrency"] = db.ProvisionedConcurrency(ctx, acctA, "fn", bad)
		_, notFound["ListProvisionedConcurrency"] = db.ListProvisionedConcurrency(ctx, acctA, bad)
		notFound["DeleteProvisionedConcurrency"] = db.DeleteProvisionedConcurrency(ctx, acctA, "fn", bad)
		notFound["PutEventInvokeConfig"] = db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: "fn", Qualifier: bad, Config: []byte("{}")})
		_, notFound["EventInvokeConfig"] = db.EventInvokeConfig(ctx, acctA, "fn", bad)
		_, notFound["ListEventInvokeConfigs"] = db.ListEventInvokeConfigs(ctx, acctA, bad)
		notFound["DeleteEventInvokeConfig"] = db.DeleteEventInvokeConfig(ctx, acctA, "fn", bad)
		notFound["SetRecursiveLoop"] = db.SetRecursiveLoop(ctx, acctA, bad, RecursiveLoopAllow)
		_, notFound["RecursiveLoop"] = db.RecursiveLoop(ctx, acctA, bad)
		for op, err := range notFound {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s with %q = %v, want ErrNotFound", op, bad, err)
			}
		}

		invalid := map[string]error{}
		invalid["CreateFunction"] = db.CreateFunction(ctx, latestOf(acctA, bad))
		v := latestOf(acctA, "other")
		v.Config = []byte(`{"Description":"` + bad + `"}`)
		if !strings.Contains(bad, "\x00") { // a raw NUL is not JSON at all
			invalid["CreateFunction with a config"] = db.CreateFunction(ctx, v)
		}
		_, invalid["UpdateLatest with a revision"] = db.UpdateLatest(ctx, acctA, "fn", func(v *LambdaVersion) error { v.RevisionID = bad; return nil })
		invalid["CreateAlias named"] = db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "fn", Name: bad, Version: "1"})
		invalid["CreateAlias described"] = db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: "fn", Name: "b", Version: "1", Description: bad})
		_, invalid["UpdateAlias described"] = db.UpdateAlias(ctx, acctA, "fn", "live", func(a *LambdaAlias) error { a.Description = bad; return nil })
		_, invalid["PublishLayerVersion"] = db.PublishLayerVersion(ctx, LambdaLayerVersion{AccountID: acctA, Layer: bad, Config: []byte("{}")})
		invalid["AddPolicyStatement"] = db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: "fn", StatementID: bad, Statement: []byte("{}")})
		for op, err := range invalid {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s with %q = %v, want ErrInvalid", op, bad, err)
			}
		}

		if got, err := db.ListLayerVersions(ctx, acctA, bad); err != nil || len(got) != 0 {
			t.Errorf("ListLayerVersions(%q) = %v, %v", bad, got, err)
		}
		if err := db.DeleteLayerVersion(ctx, acctA, bad, 1); err != nil {
			t.Errorf("DeleteLayerVersion(%q) = %v", bad, err)
		}
		if got, err := db.ListAliases(ctx, acctA, "fn", bad); err != nil || len(got) != 0 {
			t.Errorf("ListAliases(fn, version %q) = %v, %v", bad, got, err)
		}
		if got, err := db.PolicyStatements(ctx, acctA, "fn", bad); err != nil || len(got) != 0 {
			t.Errorf("PolicyStatements(fn, %q) = %v, %v", bad, got, err)
		}
		if got, err := db.ListFunctions(ctx, acctA, "e"+bad[1:], 10); err != nil || len(versionNames(got)) != 1 {
			t.Errorf("ListFunctions after %q = %v, %v; want fn", "e"+bad[1:], got, err)
		}
	}
	if a, err := db.Alias(ctx, acctA, "fn", "live"); err != nil || a.Description != "" || a.AdditionalVersion != "" {
		t.Errorf("alias live after refused updates = %+v, %v", a, err)
	}
}

// TestLambdaDeleteFunctionRacesWriters: a writer that finds the function
// and then adds to it, racing DeleteFunction, either adds before the
// delete (which then takes it along) or finds no function; never a
// foreign-key failure in between, on any engine.
func TestLambdaDeleteFunctionRacesWriters(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	for i := range 40 {
		fn := fmt.Sprint("fn", i)
		mustCreateFunction(t, db, acctA, fn)
		mustPublish(t, db, acctA, fn)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		wg.Add(4)
		go func() {
			defer wg.Done()
			errs[0] = db.DeleteFunction(ctx, acctA, fn)
		}()
		go func() {
			defer wg.Done()
			errs[1] = db.CreateAlias(ctx, LambdaAlias{AccountID: acctA, Function: fn, Name: "live", Version: "1", RevisionID: "r"})
		}()
		go func() {
			defer wg.Done()
			errs[2] = db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acctA, Function: fn, StatementID: "s", Statement: []byte("{}")})
		}()
		go func() {
			defer wg.Done()
			errs[3] = db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acctA, Function: fn, Config: []byte("{}")})
		}()
		wg.Wait()
		if errs[0] != nil {
			t.Fatalf("DeleteFunction(%s): %v", fn, errs[0])
		}
		for _, err := range errs[1:] {
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Errorf("a write racing DeleteFunction(%s) = %v, want nil or ErrNotFound", fn, err)
			}
		}
		if n := countRows(t, db, "lambda_aliases", acctA, fn) + countRows(t, db, "lambda_policy_statements", acctA, fn); n != 0 {
			t.Errorf("%d rows of %s left after its delete", n, fn)
		}
	}
}
