package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"lambdalab/store/storetest"
)

// The transfer tests copy a SQLite file into PostgreSQL, so they need both
// engines whatever LAMBDALAB_TEST_DATABASE says: storetest.PostgresURL skips
// them without PostgreSQL (fails with LAMBDALAB_REQUIRE_POSTGRES=1).

// transferSource is a SQLite database with rows in every table, made through
// the store's API.
type transferSource struct {
	db      *DB
	student User
	token   string // the student's session
	scratch string // an account filled by copyFixture
	queueID string
	graded  int64 // a submission with its report
}

func newTransferSource(t *testing.T) transferSource {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "source.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := transferSource{db: db}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	teacher, err := db.CreateUser(ctx, "teacher@example.edu", "teacher-hash", true)
	must(err)
	must(db.SetController(ctx, Controller{Replica: "host:1", WebURL: "http://127.0.0.1:8080", Token: "t", Since: time.Unix(1, 0)}))
	_, code, err := db.CreateInvite(ctx, NewInvite{Note: "section A", MaxUses: 3, CreatedBy: teacher.ID})
	must(err)
	src.student, err = db.CreateInvitedUser(ctx, "Student@Example.edu", "student-hash", code)
	must(err)
	_, err = db.RotateAccessKey(ctx, src.student.AccountID)
	must(err)
	src.token, err = db.CreateSession(ctx, src.student.ID, time.Hour)
	must(err)

	must(db.MarkLessonComplete(ctx, src.student.ID, "intro"))
	must(db.SaveQuizResult(ctx, QuizResult{UserID: src.student.ID, Lesson: "intro", Quiz: "q1", Score: 2, Total: 3, Answers: `{"a":"b"}`}))
	must(db.RecordVisit(ctx, src.student.ID, "intro"))
	must(db.RecordLabVisit(ctx, src.student.ID, "hello"))
	k := DraftKey{UserID: src.student.ID, Lab: "hello", Function: "fn"}
	_, err = db.StartDraft(ctx, k, func() ([]DraftFile, error) {
		return []DraftFile{{Path: "app.py", Body: []byte("def handler(e, c):\n    return 1\n")}, {Path: "empty.txt", Body: []byte{}}}, nil
	})
	must(err)
	_, err = db.CreateTestEvent(ctx, TestEvent{UserID: src.student.ID, Lab: "hello", Function: "fn", Name: "ev1", Body: `{"x": 1}`})
	must(err)
	_, err = db.InsertPowerTuning(ctx, PowerTuning{UserID: src.student.ID, Lab: "hello", Function: "fn", EventName: "ev1",
		Sizes: []PowerTuningSize{{MemoryMB: 128, Runs: 3, ColdMS: 210.5, WarmMS: 12.25}}})
	must(err)

	sub, err := db.CreateSubmission(ctx, Submission{UserID: src.student.ID, Lab: "hello", Source: SourceDir,
		Files: []byte("PK\x03\x04zip"), Answers: map[string]string{"q": "a"}})
	must(err)
	src.graded = sub.ID
	must(db.SaveReport(ctx, sub.ID, GradeReport{Status: GradePass, Score: 1, Report: []byte(`{"ok":true}`), PassedChecks: []string{"deployed"}}))
	sub2, err := db.CreateSubmission(ctx, Submission{UserID: src.student.ID, Lab: "hello", Source: SourceDir})
	must(err)
	_, _, err = db.EnqueueGrading(ctx, sub2.ID, src.student.ID, "hello", 0)
	must(err)

	a, _, err := db.CreateScratchAccount(ctx)
	must(err)
	src.scratch = a.ID
	copyFixture(t, db, a.ID) // functions, versions, aliases, layers, S3, invocations, X-Ray
	// More objects than one INSERT takes, and bodies big enough that the
	// byte bound cuts batches too.
	for i := range 1200 {
		o := inlineObject(a.ID, "photos", fmt.Sprintf("many/%04d", i), fmt.Sprintf("body %d", i))
		if i%300 == 0 {
			o.Data = []byte(strings.Repeat("z", 2<<20))
			o.Size = int64(len(o.Data))
		}
		_, _, err := db.PutS3Object(ctx, o, S3Limits{})
		must(err)
	}
	src.queueID, err = db.Queue("async", time.Minute).Send(ctx, []byte("an event"), 0)
	must(err)
	return src
}

// transferTarget is a new, migrated PostgreSQL database.
func transferTarget(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tableCounts is every table's row count, for "nothing changed" checks.
func tableCounts(t *testing.T, db *DB, rep TransferReport) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tt := range rep.Tables {
		var n int64
		if err := db.conn.QueryRowContext(context.Background(), "SELECT count(*) FROM "+quoteIdent(tt.Name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tt.Name] = n
	}
	return out
}

func TestTransfer(t *testing.T) {
	ctx := context.Background()
	src := newTransferSource(t)
	dst := transferTarget(t)

	rep, err := Transfer(ctx, src.db, dst)
	if err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	// Every table has rows in the fixture, so every table's copy is
	// checked: a table added by a migration fails here until the fixture
	// fills it.
	srcTables, err := queryStrings(ctx, src.db.conn, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != len(srcTables) {
		t.Errorf("report has %d tables, the source %d", len(rep.Tables), len(srcTables))
	}
	want := tableCounts(t, src.db, rep)
	got := tableCounts(t, dst, rep)
	for _, tt := range rep.Tables {
		if tt.Rows == 0 {
			t.Errorf("table %s is empty in the fixture: give it a row so its copy is tested", tt.Name)
		}
		if tt.Rows != want[tt.Name] || got[tt.Name] != want[tt.Name] {
			t.Errorf("%s: report %d rows, source %d, target %d", tt.Name, tt.Rows, want[tt.Name], got[tt.Name])
		}
	}
	if rep.Rows() < 1200 {
		t.Errorf("report counts %d rows in all, want more than the 1200 objects", rep.Rows())
	}

	// Through the store's API on PostgreSQL.
	u, err := dst.SessionUser(ctx, src.token)
	if err != nil || u.ID != src.student.ID || u.Email != src.student.Email {
		t.Errorf("SessionUser on the copy = %+v, %v; want %+v", u, err, src.student)
	}
	same := func(what string, read func(db *DB) (any, error)) {
		t.Helper()
		a, err := read(src.db)
		if err != nil {
			t.Errorf("%s on the source: %v", what, err)
			return
		}
		b, err := read(dst)
		if err != nil {
			t.Errorf("%s on the copy: %v", what, err)
			return
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\nsource %#v\ncopy   %#v", what, a, b)
		}
	}
	same("FunctionVersion", func(db *DB) (any, error) { return db.FunctionVersion(ctx, src.scratch, "fn", latestVersion) })
	same("ListFunctionVersions", func(db *DB) (any, error) {
		return db.ListFunctionVersions(ctx, src.scratch, "fn", "", 50)
	})
	same("ListAliases", func(db *DB) (any, error) { return db.ListAliases(ctx, src.scratch, "fn", "") })
	same("AccountKeys", func(db *DB) (any, error) { return db.AccountKeys(ctx, src.student.AccountID) })
	same("ListS3Objects", func(db *DB) (any, error) {
		return db.ListS3Objects(ctx, src.scratch, "photos", "", "", false, 2000)
	})
	// An empty body reads back as nil from SQLite and empty from
	// PostgreSQL; either way it is an inline body of no bytes (the row's
	// data is not NULL, or its CHECK would have refused it).
	same("S3Object", func(db *DB) (any, error) {
		o, err := db.S3Object(ctx, src.scratch, "photos", "zero", true)
		if o.Data == nil {
			o.Data = []byte{}
		}
		return o, err
	})
	// The usage rows were copied, not counted again by the target's triggers.
	same("S3Usage", func(db *DB) (any, error) { return db.S3Usage(ctx, src.scratch) })
	same("XRayUsage", func(db *DB) (any, error) {
		n, b, err := db.XRayUsage(ctx, src.scratch)
		return [2]int64{int64(n), b}, err
	})
	same("Progress", func(db *DB) (any, error) {
		p, err := db.Progress(ctx, src.student.ID)
		return fmt.Sprint(p), err
	})
	same("Invites", func(db *DB) (any, error) { return db.Invites(ctx) })
	same("Submission", func(db *DB) (any, error) { return db.Submission(ctx, src.graded) })
	same("Report", func(db *DB) (any, error) { return db.Report(ctx, src.graded) })
	same("QueuedGradingJobs", func(db *DB) (any, error) { return db.QueuedGradingJobs(ctx) })
	same("Draft", func(db *DB) (any, error) {
		return db.Draft(ctx, DraftKey{UserID: src.student.ID, Lab: "hello", Function: "fn"})
	})

	m, ok, err := dst.Queue("async", time.Minute).Receive(ctx)
	if err != nil || !ok || m.ID != src.queueID || string(m.Body) != "an event" || m.Received != 1 {
		t.Errorf("Receive on the copy = %+v, %v, %v; want message %s, received once", m, ok, err, src.queueID)
	}

	// New rows draw ids past the copied ones.
	nu, err := dst.CreateUser(ctx, "new@example.edu", "h", false)
	if err != nil {
		t.Fatalf("CreateUser after the transfer: %v", err)
	}
	if nu.ID <= src.student.ID {
		t.Errorf("new user id %d, want past the copied %d", nu.ID, src.student.ID)
	}
	if _, err := dst.CreateSubmission(ctx, Submission{UserID: nu.ID, Lab: "hello", Source: SourceDir}); err != nil {
		t.Errorf("CreateSubmission after the transfer: %v", err)
	}
	if _, _, err := dst.CreateInvite(ctx, NewInvite{}); err != nil {
		t.Errorf("CreateInvite after the transfer: %v", err)
	}
	if err := dst.InsertInvocation(ctx, sampleInvocation(src.scratch, "fn", time.Now())); err != nil {
		t.Errorf("InsertInvocation after the transfer: %v", err)
	}
	if _, err := dst.PutXRaySegments(ctx, []XRaySegment{xraySeg(src.scratch, traceID(2), "00000000000000b1", time.Now(), `{"b":2}`)}, XRayLimits{}); err != nil {
		t.Errorf("PutXRaySegments after the transfer: %v", err)
	}
	if _, _, err := dst.PutS3Object(ctx, inlineObject(src.scratch, "photos", "after", "x"), S3Limits{}); err != nil {
		t.Errorf("PutS3Object after the transfer: %v", err)
	}
	a, b := mustS3Usage(t, src.db, src.scratch), mustS3Usage(t, dst, src.scratch)
	if b.Objects != a.Objects+1 || b.Bytes != a.Bytes+1 {
		t.Errorf("S3Usage after one more object = %+v, want %+v plus one object of 1 byte (the triggers are back on)", b, a)
	}

	// A second transfer into the now non-empty database is refused and
	// changes nothing.
	before := tableCounts(t, dst, rep)
	if _, err := Transfer(ctx, src.db, dst); !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "users") {
		t.Errorf("second Transfer = %v, want ErrNotEmpty naming users", err)
	}
	if after := tableCounts(t, dst, rep); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused transfer changed the target:\nbefore %v\nafter  %v", before, after)
	}

	checkChecksumSeesChanges(t, src.db, dst)
}

// TestTransfer's last check: the verification's checksum sees a change of
// any one value, on the PostgreSQL side, in each kind of column.
func checkChecksumSeesChanges(t *testing.T, src, dst *DB) {
	t.Helper()
	ctx := context.Background()
	stx, err := src.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stx.Rollback()
	tables, err := sqliteTables(ctx, stx)
	if err != nil {
		t.Fatal(err)
	}
	dtx, err := dst.begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dtx.Rollback()
	pg, err := postgresColumns(ctx, dtx)
	if err != nil {
		t.Fatal(err)
	}
	if err := matchColumns(tables, pg); err != nil {
		t.Fatal(err)
	}
	byName := map[string]transferTable{}
	for _, tt := range tables {
		byName[tt.name] = tt
	}
	for _, c := range []struct{ table, change string }{
		{"users", "UPDATE users SET email = email || 'x' WHERE id = 1"},
		{"sessions", "UPDATE sessions SET token_hash = sha256(token_hash)"},
		{"invocations", "UPDATE invocations SET duration_ms = duration_ms + 0.001"},
		{"goqite", "UPDATE goqite SET created = created + interval '1 millisecond'"},
		{"s3_objects", "UPDATE s3_objects SET data = '\\x00' WHERE key = 'zero'"},
		{"s3_buckets", "UPDATE s3_buckets SET notification = NULL WHERE notification IS NOT NULL"},
		{"lambda_functions", "UPDATE lambda_functions SET reserved_concurrency = NULL WHERE reserved_concurrency IS NOT NULL"},
	} {
		tt := byName[c.table]
		n0, sum0, err := checksum(ctx, dtx, tt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dtx.ExecContext(ctx, "SAVEPOINT change"); err != nil {
			t.Fatal(err)
		}
		if _, err := dtx.ExecContext(ctx, c.change); err != nil {
			t.Fatalf("%s: %v", c.change, err)
		}
		n1, sum1, err := checksum(ctx, dtx, tt)
		if err != nil {
			t.Fatal(err)
		}
		if n0 != n1 || sum0 == sum1 {
			t.Errorf("%s: rows %d → %d, checksum %016x → %016x; want the same rows and another checksum", c.change, n0, n1, sum0, sum1)
		}
		if _, err := dtx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT change"); err != nil {
			t.Fatal(err)
		}
	}
}

func mustS3Usage(t *testing.T, db *DB, acct string) S3Usage {
	t.Helper()
	u, err := db.S3Usage(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTransferRefusesMismatch: a target whose schema differs from the
// source's gets nothing, with an error naming what differs.
func TestTransferRefusesMismatch(t *testing.T) {
	ctx := context.Background()
	src := newTransferSource(t)
	tests := []struct {
		name  string
		alter string
		want  string
	}{
		{"extra column", "ALTER TABLE users ADD COLUMN nickname TEXT", "users.nickname is in the target but not in the source"},
		{"missing column", "ALTER TABLE invites DROP COLUMN note", "invites.note is in the source but not in the target"},
		{"missing table", "DROP TABLE power_tunings", "power_tunings is in the source but not in the target"},
		{"extra table", "CREATE TABLE notes (id BIGINT)", "notes is in the target but not in the source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := transferTarget(t)
			if _, err := dst.conn.ExecContext(ctx, tt.alter); err != nil {
				t.Fatal(err)
			}
			_, err := Transfer(ctx, src.db, dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Transfer = %v, want an error containing %q", err, tt.want)
			}
			var n int
			if err := dst.conn.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 0 {
				t.Errorf("users on the refused target: %d rows, %v; want 0", n, err)
			}
		})
	}

	t.Run("schema version", func(t *testing.T) {
		dst, err := open(ctx, storetest.PostgresURL(t), SchemaVersion()-1, false)
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		_, err = Transfer(ctx, src.db, dst)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d and the target %d", SchemaVersion(), SchemaVersion()-1)) {
			t.Errorf("Transfer to an older schema = %v, want a schema version error", err)
		}
	})

	t.Run("engines", func(t *testing.T) {
		if _, err := Transfer(ctx, src.db, src.db); !errors.Is(err, ErrInvalid) {
			t.Errorf("Transfer from SQLite to SQLite = %v, want ErrInvalid", err)
		}
	})
}

func TestTransferParentsFirst(t *testing.T) {
	tbl := func(name string, parents ...string) transferTable { return transferTable{name: name, parents: parents} }
	got, err := parentsFirst([]transferTable{tbl("c", "b", "a"), tbl("b", "a"), tbl("a"), tbl("z"), tbl("d", "a")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, t := range got {
		names = append(names, t.name)
	}
	if want := "a b c d z"; strings.Join(names, " ") != want {
		t.Errorf("order = %v, want %s", names, want)
	}
	for _, tables := range [][]transferTable{
		{tbl("a", "b"), tbl("b", "a"), tbl("c")},
		{tbl("self", "self")},
	} {
		if _, err := parentsFirst(tables); err == nil || !strings.Contains(err.Error(), "cycle") {
			t.Errorf("parentsFirst(%v) = %v, want a cycle error", tables, err)
		}
	}
	if _, err := parentsFirst([]transferTable{tbl("a", "gone")}); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("parentsFirst with an unknown parent = %v, want an error naming it", err)
	}
}

// TestTransferCanonical: values the two engines return for the same datum
// encode alike, and different data differently.
func TestTransferCanonical(t *testing.T) {
	ts := time.Date(2025, 3, 1, 12, 0, 0, 123e6, time.UTC)
	enc := func(v any, isTime bool) string {
		t.Helper()
		b, err := appendCanonical(nil, v, isTime)
		if err != nil {
			t.Fatalf("appendCanonical(%#v): %v", v, err)
		}
		return string(b)
	}
	alike := [][2]any{
		{int64(1), true},
		{int64(0), false},
		{[]byte(nil), []byte{}},
		{"2025-03-01T12:00:00.123Z", ts.In(time.FixedZone("CET", 3600))},
	}
	for _, p := range alike {
		if enc(p[0], true) != enc(p[1], true) {
			t.Errorf("%#v and %#v encode differently", p[0], p[1])
		}
	}
	differ := [][2]any{
		{nil, []byte{}},
		{nil, ""},
		{"", []byte{}},
		{int64(1), float64(1)},
		{"ab", []byte("ab")},
	}
	for _, p := range differ {
		if enc(p[0], false) == enc(p[1], false) {
			t.Errorf("%#v and %#v encode alike", p[0], p[1])
		}
	}
	// Lengths come first: moving a byte between neighbours changes the row.
	a, _ := appendCanonical(nil, "ab", false)
	a, _ = appendCanonical(a, "c", false)
	b, _ := appendCanonical(nil, "a", false)
	b, _ = appendCanonical(b, "bc", false)
	if string(a) == string(b) {
		t.Error(`("ab", "c") and ("a", "bc") encode alike`)
	}
}

func TestTransferRedactTarget(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/lambdalab/lambdalab.db", "/var/lib/lambdalab/lambdalab.db"},
		{"postgres://app:s3cret@db.example.org:5432/lambdalab?sslmode=require", "postgres://app:xxxxx@db.example.org:5432/lambdalab?sslmode=require"},
		{"postgresql:///lambdalab?host=/run/pg&password=s3cret&user=app", "postgresql:///lambdalab?host=%2Frun%2Fpg&password=xxxxx&user=app"},
		{"postgres://app@db/x", "postgres://app@db/x"},
	}
	for _, tt := range tests {
		got := RedactTarget(tt.in)
		if got != tt.want {
			t.Errorf("RedactTarget(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("RedactTarget(%q) shows the password", tt.in)
		}
	}
}
