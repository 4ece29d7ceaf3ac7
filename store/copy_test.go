package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// schemaTables lists the store's tables: SQLite's own (sqlite_*) left out,
// and on PostgreSQL those of the schema the store uses. PostgreSQL has one
// table SQLite does not, schema_version (SQLite keeps the version in its
// header); it belongs to no account.
func schemaTables(t *testing.T, db *DB) []string {
	t.Helper()
	query := "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if db.dialect == postgresDialect {
		query = `SELECT table_name::text FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	}
	names, err := queryStrings(context.Background(), db.conn, query)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func schemaColumns(t *testing.T, db *DB, table string) []string {
	t.Helper()
	cols, err := tableColumns(context.Background(), db.dialect, db.conn, table)
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// foreignKeyParents lists the tables that table's foreign keys refer to.
func foreignKeyParents(t *testing.T, db *DB, table string) []string {
	t.Helper()
	query := `SELECT "table" FROM pragma_foreign_key_list($1)`
	if db.dialect == postgresDialect {
		query = `SELECT p.relname::text FROM pg_constraint c
			JOIN pg_class r ON r.oid = c.conrelid
			JOIN pg_class p ON p.oid = c.confrelid
			WHERE c.contype = 'f' AND r.relnamespace = current_schema()::regnamespace AND r.relname = $1`
	}
	parents, err := queryStrings(context.Background(), db.conn, query, table)
	if err != nil {
		t.Fatal(err)
	}
	return parents
}

// accountScoped finds the tables whose rows belong to an account: those
// with an account_id column, and those whose foreign keys lead to one.
// users is not among them: a user owns an account, not the other way round.
func accountScoped(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	tables := schemaTables(t, db)
	scoped := map[string]bool{}
	for _, name := range tables {
		if name != "users" && slices.Contains(schemaColumns(t, db, name), "account_id") {
			scoped[name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, name := range tables {
			if scoped[name] || name == "users" {
				continue
			}
			for _, p := range foreignKeyParents(t, db, name) {
				if scoped[p] {
					scoped[name], changed = true, true
					break
				}
			}
		}
	}
	return scoped
}

// TestCopyClassifiesEveryTable makes a migration that adds an
// account-scoped table decide whether CopyAccount copies it: each one is
// in copyTables or in copySkipped with a reason, and AccountDigest reads
// every one.
func TestCopyClassifiesEveryTable(t *testing.T) {
	db := newTestDB(t)
	scoped := accountScoped(t, db)
	copied := map[string]bool{}
	for _, ct := range copyTables {
		copied[ct.name] = true
	}
	digested := map[string]bool{}
	for _, dt := range digestTables {
		if digested[dt.name] {
			t.Errorf("digestTables lists %s twice", dt.name)
		}
		digested[dt.name] = true
	}
	for _, name := range schemaTables(t, db) {
		_, skipped := copySkipped[name]
		switch {
		case !scoped[name] && (copied[name] || skipped || digested[name]):
			t.Errorf("table %s belongs to no account, yet copy.go lists it", name)
		case scoped[name] && copied[name] == skipped:
			t.Errorf("table %s: copied %v, skipped %v; want exactly one (add it to copyTables or copySkipped in copy.go)", name, copied[name], skipped)
		case scoped[name] && !digested[name]:
			t.Errorf("table %s is account-scoped but AccountDigest does not read it (add it to digestTables)", name)
		}
		delete(digested, name)
	}
	for name := range digested {
		t.Errorf("digestTables lists %s, which the schema does not have", name)
	}
	if len(scoped) < 10 {
		t.Errorf("found only %d account-scoped tables: %v", len(scoped), scoped)
	}
}

// TestCopyNamesEveryColumn fails when a migration adds a column to a copied
// table that copyTables does not name, which the copy would drop.
func TestCopyNamesEveryColumn(t *testing.T) {
	db := newTestDB(t)
	for _, ct := range copyTables {
		got := slices.Clone(ct.cols)
		want := schemaColumns(t, db, ct.name)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("copy of %s names columns %v; the schema has %v", ct.name, got, want)
		}
		for _, c := range append(slices.Clone(ct.text), ct.blob...) {
			if !slices.Contains(ct.cols, c) {
				t.Errorf("copy of %s rewrites column %s, which it does not name", ct.name, c)
			}
		}
	}
}

func TestCopyAccountRewriteRule(t *testing.T) {
	db := newTestDB(t)
	const from, to = "123456789012", "987654321098"
	tests := []struct{ name, in, want string }{
		{"function arn", "arn:aws:lambda:us-east-1:123456789012:function:f:live", "arn:aws:lambda:us-east-1:987654321098:function:f:live"},
		{"role arn", `{"role":"arn:aws:iam::123456789012:role/r"}`, `{"role":"arn:aws:iam::987654321098:role/r"}`},
		{"source account", `{"AWS:SourceAccount":"123456789012"}`, `{"AWS:SourceAccount":"987654321098"}`},
		{"twice", `"arn:aws:lambda:us-east-1:123456789012:layer:l:1","arn:aws:lambda:us-east-1:123456789012:function:g"`,
			`"arn:aws:lambda:us-east-1:987654321098:layer:l:1","arn:aws:lambda:us-east-1:987654321098:function:g"`},
		{"another account", "arn:aws:lambda:us-east-1:111111111111:layer:l:1", "arn:aws:lambda:us-east-1:111111111111:layer:l:1"},
		{"in a hash", `{"code_sha256":"ab123456789012cd"}`, `{"code_sha256":"ab123456789012cd"}`},
		{"in prose", `{"description":"my account 123456789012 is here"}`, `{"description":"my account 123456789012 is here"}`},
		{"longer number", `{"n":"1234567890123"}`, `{"n":"1234567890123"}`},
		{"as a number", `{"n":123456789012}`, `{"n":123456789012}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := db.conn.QueryRowContext(context.Background(), "SELECT "+accountText("$3"), from, to, tt.in).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("rewrite %s → %s of %s = %s, want %s", from, to, tt.in, got, tt.want)
			}
		})
	}
}

// copyFixture fills account acct with one of everything CopyAccount copies
// and everything it leaves out.
func copyFixture(t *testing.T, db *DB, acct string) {
	t.Helper()
	ctx := context.Background()
	arn := func(kind, name string) string { return "arn:aws:lambda:us-east-1:" + acct + ":" + kind + ":" + name }
	cfg := fmt.Sprintf(`{"runtime":"python3.13","role":"arn:aws:iam::%s:role/r","description":"notes for %s",`+
		`"env":{"ACCOUNT":"%s"},"layers":[{"arn":"%s:1","code_sha256":"layersha"},{"arn":"arn:aws:lambda:us-east-1:111111111111:layer:shared:3"}]}`,
		acct, acct, acct, arn("layer", "deps"))
	latest := LambdaVersion{AccountID: acct, Function: "fn", Version: latestVersion, Config: []byte(cfg),
		CodeSha256: "c0de" + acct + "5ha", CodeSize: 321, RevisionID: "rev-1"}
	if err := db.CreateFunction(ctx, latest); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, db, acct, "fn")
	mustPublish(t, db, acct, "fn")
	if err := db.CreateAlias(ctx, LambdaAlias{AccountID: acct, Function: "fn", Name: "live", Version: "1",
		AdditionalVersion: "2", AdditionalWeight: 0.25, Description: "canary", RevisionID: "alias-rev"}); err != nil {
		t.Fatal(err)
	}
	mustCreateFunction(t, db, acct, "other")
	n := 3
	if err := db.SetReservedConcurrency(ctx, acct, "fn", &n); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRecursiveLoop(ctx, acct, "fn", "Allow"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PublishLayerVersion(ctx, LambdaLayerVersion{AccountID: acct, Layer: "deps", CodeSha256: "layersha",
		CodeSize: 10, UnzippedSize: 20, Config: []byte(`{"description":"deps"}`)}); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf(`{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction",`+
		`"Resource":"%s","Condition":{"StringEquals":{"AWS:SourceAccount":"%s"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::photos"}}}`,
		arn("function", "fn:live"), acct)
	if err := db.AddPolicyStatement(ctx, LambdaPolicyStatement{AccountID: acct, Function: "fn", Qualifier: "live",
		StatementID: "s3", Statement: []byte(st)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutProvisionedConcurrency(ctx, LambdaProvisioned{AccountID: acct, Function: "fn", Qualifier: "1",
		Requested: 1, LastModified: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutEventInvokeConfig(ctx, LambdaEventInvokeConfig{AccountID: acct, Function: "fn", Qualifier: "",
		Config:       []byte(`{"MaximumRetryAttempts":1,"DestinationConfig":{"OnSuccess":{"Destination":"` + arn("function", "other") + `"},"OnFailure":{"Destination":"arn:aws:s3:::photos"}}}`),
		LastModified: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateS3Bucket(ctx, acct, "photos", 0); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateS3Bucket(ctx, acct, "empty", 0); err != nil {
		t.Fatal(err)
	}
	notif := `{"lambdas":[{"id":"n1","function":"` + arn("function", "fn:live") + `","events":["s3:ObjectCreated:*"]}]}`
	if err := db.SetS3Notification(ctx, acct, "photos", []byte(notif)); err != nil {
		t.Fatal(err)
	}
	for _, o := range []S3Object{
		{AccountID: acct, Bucket: "photos", Key: "in/a.txt", Size: 5, ETag: "e1", Metadata: map[string]string{"Content-Type": "text/plain"}, Data: []byte("hello")},
		{AccountID: acct, Bucket: "photos", Key: "in/big.bin", Size: 1 << 20, ETag: "e2", Metadata: map[string]string{}, File: "ab/file-" + acct, PartSizes: []int64{1 << 19, 1 << 19}},
		{AccountID: acct, Bucket: "photos", Key: "zero", Size: 0, ETag: "e3", Metadata: map[string]string{}, Data: []byte{}},
	} {
		o.ModifiedAt = time.Unix(1700000000, 0)
		if _, _, err := db.PutS3Object(ctx, o, S3Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	// What is not copied.
	if err := db.CreateS3Upload(ctx, S3Upload{ID: "up-" + acct, AccountID: acct, Bucket: "photos", Key: "part", Metadata: map[string]string{}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutS3Part(ctx, S3Part{UploadID: "up-" + acct, Number: 1, AccountID: acct, Size: 7, ETag: "p1", File: "cd/part-" + acct}, S3Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertInvocation(ctx, sampleInvocation(acct, "fn", time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutXRaySegments(ctx, []XRaySegment{xraySeg(acct, traceID(1), "00000000000000a1", time.Now(), `{"a":1}`)}, XRayLimits{}); err != nil {
		t.Fatal(err)
	}
}

func countAccountRows(t *testing.T, db *DB, table, acct string) int {
	t.Helper()
	var n int
	if err := db.conn.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table+" WHERE account_id = $1", acct).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func mustDigest(t *testing.T, db *DB, acct string) string {
	t.Helper()
	d, err := db.AccountDigest(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCopyAccount(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	src, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst, _, err := db.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from, to := src.ID, dst.ID
	copyFixture(t, db, from)
	before := mustDigest(t, db, from)
	emptyDst := mustDigest(t, db, to)

	var renamed []string
	err = db.CopyAccount(ctx, from, to, func(old string) (string, error) {
		renamed = append(renamed, old)
		return "copy/" + old, nil
	})
	if err != nil {
		t.Fatalf("CopyAccount: %v", err)
	}
	if after := mustDigest(t, db, from); after != before {
		t.Errorf("the copy changed the source account's digest")
	}
	if d := mustDigest(t, db, to); d == emptyDst || d == before {
		t.Errorf("the target's digest did not change into one of its own")
	}
	if want := []string{"ab/file-" + from}; !slices.Equal(renamed, want) {
		t.Errorf("renameFile was called for %v, want %v", renamed, want)
	}

	// Every copied table holds as many rows for to as for from.
	for _, ct := range copyTables {
		if a, b := countAccountRows(t, db, ct.name, from), countAccountRows(t, db, ct.name, to); a != b || a == 0 {
			t.Errorf("%s: %d rows in the source, %d in the copy; want the same, not zero", ct.name, a, b)
		}
	}
	for _, table := range []string{"access_keys", "invocations", "xray_traces", "xray_usage", "s3_uploads", "s3_parts"} {
		if n := countAccountRows(t, db, table, to); n != map[string]int{"access_keys": 1}[table] {
			t.Errorf("%s: the copy has %d rows of its own", table, n)
		}
	}

	// Documents name the copy's account; hashes and prose do not change.
	v, err := db.FunctionVersion(ctx, to, "fn", "2")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Role        string            `json:"role"`
		Description string            `json:"description"`
		Env         map[string]string `json:"env"`
		Layers      []struct {
			ARN string `json:"arn"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(v.Config, &c); err != nil {
		t.Fatalf("copied config %s: %v", v.Config, err)
	}
	if want := "arn:aws:iam::" + to + ":role/r"; c.Role != want {
		t.Errorf("role = %s, want %s", c.Role, want)
	}
	if want := "notes for " + from; c.Description != want {
		t.Errorf("description = %q, want %q unchanged", c.Description, want)
	}
	if c.Env["ACCOUNT"] != to {
		t.Errorf("env ACCOUNT = %q, want the copy's account %s", c.Env["ACCOUNT"], to)
	}
	if len(c.Layers) != 2 || c.Layers[0].ARN != "arn:aws:lambda:us-east-1:"+to+":layer:deps:1" ||
		c.Layers[1].ARN != "arn:aws:lambda:us-east-1:111111111111:layer:shared:3" {
		t.Errorf("layers = %+v, want the copy's own deps and the shared layer as it was", c.Layers)
	}
	if want := "c0de" + from + "5ha"; v.CodeSha256 != want {
		t.Errorf("code sha = %s, want %s unchanged", v.CodeSha256, want)
	}
	a, err := db.Alias(ctx, to, "fn", "live")
	if err != nil || a.Version != "1" || a.AdditionalVersion != "2" || a.AdditionalWeight != 0.25 || a.RevisionID != "alias-rev" {
		t.Errorf("copied alias = %+v, %v", a, err)
	}
	f, err := db.LambdaFunction(ctx, to, "fn")
	if err != nil || f.LastVersion != 2 || f.ReservedConcurrency == nil || *f.ReservedConcurrency != 3 {
		t.Errorf("copied function = %+v, %v; want last version 2 and 3 reserved", f, err)
	}
	if m, err := db.RecursiveLoop(ctx, to, "fn"); err != nil || m != "Allow" {
		t.Errorf("copied recursive loop = %q, %v; want Allow", m, err)
	}
	sts, err := db.PolicyStatements(ctx, to, "fn", "live")
	if err != nil || len(sts) != 1 {
		t.Fatalf("copied policy = %v, %v", sts, err)
	}
	if s := string(sts[0].Statement); strings.Contains(s, from) || !strings.Contains(s, `"AWS:SourceAccount":"`+to+`"`) ||
		!strings.Contains(s, ":"+to+":function:fn:live") {
		t.Errorf("copied statement %s still names %s or misses %s", s, from, to)
	}
	ec, err := db.EventInvokeConfig(ctx, to, "fn", "")
	if err != nil || !strings.Contains(string(ec.Config), ":"+to+":function:other") || strings.Contains(string(ec.Config), from) {
		t.Errorf("copied event invoke config = %s, %v", ec.Config, err)
	}
	b, err := db.S3Bucket(ctx, to, "photos")
	if err != nil || !strings.Contains(string(b.Notification), ":"+to+":function:fn:live") || strings.Contains(string(b.Notification), from) {
		t.Errorf("copied notification = %s, %v", b.Notification, err)
	}
	if b, err := db.S3Bucket(ctx, to, "empty"); err != nil || b.Notification != nil {
		t.Errorf("copied bucket without notification = %+v, %v", b, err)
	}
	big, err := db.S3Object(ctx, to, "photos", "in/big.bin", false)
	if err != nil || big.File != "copy/ab/file-"+from || big.Size != 1<<20 || !slices.Equal(big.PartSizes, []int64{1 << 19, 1 << 19}) {
		t.Errorf("copied file-backed object = %+v, %v", big, err)
	}
	small, err := db.S3Object(ctx, to, "photos", "in/a.txt", true)
	if err != nil || string(small.Data) != "hello" || small.File != "" || small.Metadata["Content-Type"] != "text/plain" {
		t.Errorf("copied inline object = %+v, %v", small, err)
	}
	for _, key := range []string{"in/a.txt", "in/big.bin", "zero"} {
		want, err := db.S3Object(ctx, from, "photos", key, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.S3Object(ctx, to, "photos", key, true)
		if err != nil {
			t.Fatal(err)
		}
		// The only differences: the account, and the file's new name.
		want.AccountID = to
		if want.File != "" {
			want.File = "copy/" + want.File
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("copied object %s = %+v, want %+v", key, got, want)
		}
	}
	// The usage triggers counted what was copied, and not the parts.
	if u, err := db.S3Usage(ctx, to); err != nil || u.Buckets != 2 || u.Objects != 3 || u.Bytes != 5+1<<20 {
		t.Errorf("copy's S3 usage = %+v, %v; want 2 buckets, 3 objects, %d bytes", u, err, 5+1<<20)
	}
}

func TestCopyAccountRefuses(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	src, _, _ := db.CreateScratchAccount(ctx)
	dst, _, _ := db.CreateScratchAccount(ctx)
	copyFixture(t, db, src.ID)
	same := func(old string) (string, error) { return old, nil }
	rename := func(old string) (string, error) { return "copy/" + old, nil }
	errDisk := errors.New("disk full")
	tests := []struct {
		name     string
		from, to string
		rename   func(string) (string, error)
		want     error
	}{
		{"into a user's account", src.ID, u.AccountID, rename, ErrInvalid},
		{"into itself", src.ID, src.ID, rename, ErrInvalid},
		{"from nowhere", "999999999999", dst.ID, rename, ErrNotFound},
		{"into nowhere", src.ID, "999999999999", rename, ErrNotFound},
		{"a shared file", src.ID, dst.ID, same, ErrInvalid},
		{"no rename", src.ID, dst.ID, nil, ErrInvalid},
		{"rename fails", src.ID, dst.ID, func(string) (string, error) { return "", errDisk }, errDisk},
	}
	emptyDst := mustDigest(t, db, dst.ID)
	userDigest := mustDigest(t, db, u.AccountID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.CopyAccount(ctx, tt.from, tt.to, tt.rename)
			if !errors.Is(err, tt.want) {
				t.Errorf("CopyAccount(%s, %s) = %v, want %v", tt.from, tt.to, err, tt.want)
			}
			// A refused copy leaves nothing behind: it is one transaction.
			if d := mustDigest(t, db, dst.ID); d != emptyDst {
				t.Errorf("a refused copy changed the target")
			}
			if d := mustDigest(t, db, u.AccountID); d != userDigest {
				t.Errorf("a refused copy changed the user's account")
			}
		})
	}
	if err := db.CopyAccount(ctx, src.ID, dst.ID, rename); err != nil {
		t.Fatal(err)
	}
	if err := db.CopyAccount(ctx, src.ID, dst.ID, rename); !errors.Is(err, ErrExists) {
		t.Errorf("a second copy into the same account = %v, want ErrExists", err)
	}
}

func TestScratchAccountsListsLeftovers(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	if _, err := db.CreateUser(ctx, "ann@example.com", "h", false); err != nil {
		t.Fatal(err)
	}
	var want []string
	for range 3 {
		a, _, err := db.CreateScratchAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID)
		clock.Advance(time.Second)
	}
	got, err := db.ScratchAccounts(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ScratchAccounts = %v, %v; want %v (oldest first, no user's account)", got, err, want)
	}
	if err := db.DeleteAccount(ctx, want[1]); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ScratchAccounts(ctx); err != nil || !slices.Equal(got, []string{want[0], want[2]}) {
		t.Errorf("after a delete ScratchAccounts = %v, %v; want %v", got, err, []string{want[0], want[2]})
	}
}

func TestAccountDigest(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	a, _, _ := db.CreateScratchAccount(ctx)
	other, _, _ := db.CreateScratchAccount(ctx)
	copyFixture(t, db, a.ID)
	copyFixture(t, db, other.ID)
	nothing := mustDigest(t, db, "999999999999")
	if d := mustDigest(t, db, "888888888888"); d != nothing {
		t.Errorf("two ids without rows have different digests")
	}
	d := mustDigest(t, db, a.ID)
	if d == nothing || len(d) != 64 {
		t.Fatalf("digest %q of a full account", d)
	}
	if again := mustDigest(t, db, a.ID); again != d {
		t.Errorf("digest of an unchanged account changed: %s then %s", d, again)
	}
	// Every kind of change shows, in the tables that are not copied too.
	changes := []struct {
		name   string
		change func() error
	}{
		{"an invocation", func() error { return db.InsertInvocation(ctx, sampleInvocation(a.ID, "fn", time.Now())) }},
		{"a trace", func() error {
			_, err := db.PutXRaySegments(ctx, []XRaySegment{xraySeg(a.ID, traceID(9), "00000000000000b9", time.Now(), `{"b":9}`)}, XRayLimits{})
			return err
		}},
		{"a key", func() error { _, err := db.RotateAccessKey(ctx, a.ID); return err }},
		{"an object's metadata", func() error {
			return db.SetS3ObjectMetadata(ctx, a.ID, "photos", "in/a.txt", map[string]string{"Content-Type": "text/csv"})
		}},
		{"a weight", func() error {
			_, err := db.UpdateAlias(ctx, a.ID, "fn", "live", func(al *LambdaAlias) error { al.AdditionalWeight = 0.5; return nil })
			return err
		}},
		{"a reservation", func() error { return db.SetReservedConcurrency(ctx, a.ID, "fn", nil) }},
	}
	for _, c := range changes {
		otherBefore := mustDigest(t, db, other.ID)
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		nd := mustDigest(t, db, a.ID)
		if nd == d {
			t.Errorf("digest did not change with %s", c.name)
		}
		if mustDigest(t, db, other.ID) != otherBefore {
			t.Errorf("%s in one account changed another's digest", c.name)
		}
		d = nd
	}
	if err := db.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if d := mustDigest(t, db, a.ID); d != nothing {
		t.Errorf("a deleted account left rows behind (its digest is not the digest of nothing)")
	}
}

// TestAccountDigestSameOnBothEngines digests an account on SQLite and again
// after Transfer copied the file into PostgreSQL: the same rows must give
// the same digest. Like the transfer tests it needs PostgreSQL whatever
// LAMBDALAB_TEST_DATABASE says.
func TestAccountDigestSameOnBothEngines(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, filepath.Join(t.TempDir(), "source.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	u, err := src.CreateUser(ctx, "ann@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	scratch, _, err := src.CreateScratchAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	copyFixture(t, src, scratch.ID)
	// Keys sort differently under a language collation than by bytes.
	for _, key := range []string{"B", "a", "_z", "Ä", "ä"} {
		if _, _, err := src.PutS3Object(ctx, inlineObject(scratch.ID, "photos", key, key), S3Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	dst := transferTarget(t)
	if _, err := Transfer(ctx, src, dst); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	for _, acct := range []string{scratch.ID, u.AccountID, "999999999999"} {
		a, b := mustDigest(t, src, acct), mustDigest(t, dst, acct)
		if a != b {
			t.Errorf("account %s: digest %s on SQLite, %s on PostgreSQL after Transfer; want the same", acct, a, b)
		}
	}
}
