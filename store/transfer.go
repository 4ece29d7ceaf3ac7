package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Moving an installation from SQLite to PostgreSQL: Transfer copies every
// row of a SQLite database into an empty PostgreSQL one of the same schema
// version, then proves the copy by reading both sides again.

// ErrNotEmpty means Transfer refused a target database that already holds
// rows: it never writes where it could overwrite or mix in data.
var ErrNotEmpty = errors.New("target database is not empty")

// TransferReport is what Transfer copied and verified, one entry per table
// in the order the tables were copied (parents before children).
type TransferReport struct {
	Tables []TransferTable
}

// TransferTable is one table as verified: its row count and checksum, the
// same on both sides. Checksum is the sum, mod 2^64, of the first 8 bytes
// (big-endian) of each row's SHA-256 over a canonical encoding of its values,
// so it does not depend on the order rows are read in, and an integer, a
// real, a text, a blob or a timestamp encodes the same from either engine.
type TransferTable struct {
	Name     string
	Rows     int64
	Checksum uint64
}

// Rows is the number of rows copied, over all tables.
func (r TransferReport) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// transferBatchRows and transferBatchBytes bound one INSERT: PostgreSQL's
// protocol counts parameters in 16 bits (at most 65,535 a statement), and a
// few megabytes a statement keeps memory flat when rows carry S3 bodies.
const (
	transferMaxParams  = 65535
	transferBatchRows  = 1000
	transferBatchBytes = 4 << 20
)

// versionTable is the PostgreSQL schema version bookkeeping (see
// dialect.prepareMigrations): the target's own, never copied.
const versionTable = "schema_version"

// transferTable is one table to copy: its columns as the source has them,
// each with how the target stores it.
type transferTable struct {
	name    string
	parents []string
	cols    []string
	kinds   []valueKind
	// overriding is set when the target draws some column's values with
	// GENERATED ALWAYS AS IDENTITY: copying ids then needs OVERRIDING
	// SYSTEM VALUE.
	overriding bool
}

// valueKind is how a PostgreSQL column stores a value, and so what Go value
// a SQLite value becomes on the way in.
type valueKind int

const (
	kindOther valueKind = iota // passed through as read
	kindInt
	kindFloat
	kindText
	kindBytes
	kindBool
	kindTime // the goqite timestamps: text on SQLite, timestamptz here
)

func kindOf(pgType string) valueKind {
	switch pgType {
	case "bigint", "integer", "smallint":
		return kindInt
	case "double precision", "real", "numeric":
		return kindFloat
	case "text", "character varying", "character":
		return kindText
	case "bytea":
		return kindBytes
	case "boolean":
		return kindBool
	case "timestamp with time zone", "timestamp without time zone":
		return kindTime
	}
	return kindOther
}

// Transfer copies every table of src, a SQLite database, into dst, an empty
// PostgreSQL database, and verifies the copy. Both must have been opened
// with Open, so both are at this binary's schema version.
//
// It refuses, writing nothing, when the schema versions differ, when any
// table of dst already holds a row (ErrNotEmpty), or when a table or column
// exists on one side only. The source is read in one read-only transaction:
// the copy is one consistent snapshot even if a server writes meanwhile,
// and writes after the snapshot are not copied. The target is written in
// one transaction, verified inside it (every table's row count and checksum
// read back from both sides), and committed only if all match, so a failed
// transfer leaves dst as empty as it found it.
func Transfer(ctx context.Context, src, dst *DB) (TransferReport, error) {
	if src.Engine() != "sqlite" || dst.Engine() != "postgres" {
		return TransferReport{}, fmt.Errorf("transfer: %w: copies from SQLite to PostgreSQL, not from %s to %s", ErrInvalid, src.Engine(), dst.Engine())
	}
	// The first read in the transaction fixes the snapshot every later
	// read of the source sees.
	stx, err := src.begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: read %s: %w", src.path, err)
	}
	defer stx.Rollback()
	srcVersion, err := src.dialect.schemaVersion(ctx, stx)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: source: %w", err)
	}
	tables, err := sqliteTables(ctx, stx)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: source: %w", err)
	}

	// The write transaction takes the store's write lock: no replica of a
	// server on dst can write between the emptiness check and the copy.
	dtx, err := dst.begin(ctx, nil)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: write %s: %w", dst.path, err)
	}
	defer dtx.Rollback()
	dstVersion, err := dst.dialect.schemaVersion(ctx, dtx)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: target: %w", err)
	}
	if srcVersion != dstVersion {
		return TransferReport{}, fmt.Errorf("transfer: the source has schema version %d and the target %d: open both with the same lambdalab", srcVersion, dstVersion)
	}
	dstTables, err := postgresColumns(ctx, dtx)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: target: %w", err)
	}
	if err := checkEmpty(ctx, dtx, dstTables); err != nil {
		return TransferReport{}, err
	}
	if err := matchColumns(tables, dstTables); err != nil {
		return TransferReport{}, err
	}

	// The target's triggers keep derived rows (s3_usage, xray_usage) and
	// timestamps; the source's derived rows are copied as they are, so the
	// triggers must not count every copied row a second time. Disabling
	// them is part of the transaction: a rollback restores them too.
	triggered, err := tablesWithTriggers(ctx, dtx)
	if err != nil {
		return TransferReport{}, fmt.Errorf("transfer: target: %w", err)
	}
	for _, t := range triggered {
		if _, err := dtx.ExecContext(ctx, "ALTER TABLE "+quoteIdent(t)+" DISABLE TRIGGER USER"); err != nil {
			return TransferReport{}, fmt.Errorf("transfer: disable the triggers of %s: %w", t, err)
		}
	}
	copied := make(map[string]int64, len(tables))
	for _, t := range tables {
		n, err := copyRows(ctx, stx, dtx, t)
		if err != nil {
			return TransferReport{}, fmt.Errorf("transfer: copy %s: %w", t.name, err)
		}
		copied[t.name] = n
	}
	for _, t := range triggered {
		if _, err := dtx.ExecContext(ctx, "ALTER TABLE "+quoteIdent(t)+" ENABLE TRIGGER USER"); err != nil {
			return TransferReport{}, fmt.Errorf("transfer: enable the triggers of %s: %w", t, err)
		}
	}
	if err := resetSequences(ctx, dtx); err != nil {
		return TransferReport{}, fmt.Errorf("transfer: %w", err)
	}

	var report TransferReport
	for _, t := range tables {
		srcRows, srcSum, err := checksum(ctx, stx, t)
		if err != nil {
			return TransferReport{}, fmt.Errorf("transfer: verify %s: read the source: %w", t.name, err)
		}
		dstRows, dstSum, err := checksum(ctx, dtx, t)
		if err != nil {
			return TransferReport{}, fmt.Errorf("transfer: verify %s: read the target: %w", t.name, err)
		}
		if srcRows != dstRows || srcSum != dstSum || srcRows != copied[t.name] {
			return TransferReport{}, fmt.Errorf("transfer: verify %s: the source has %d rows (checksum %016x) and the target %d rows (checksum %016x); %d were copied; nothing was committed",
				t.name, srcRows, srcSum, dstRows, dstSum, copied[t.name])
		}
		report.Tables = append(report.Tables, TransferTable{Name: t.name, Rows: srcRows, Checksum: srcSum})
	}
	if err := dtx.Commit(); err != nil {
		return TransferReport{}, fmt.Errorf("transfer: commit: %w", err)
	}
	return report, nil
}

// sqliteTables lists the source's tables with their columns, parents
// before children.
func sqliteTables(ctx context.Context, tx *sql.Tx) ([]transferTable, error) {
	names, err := queryStrings(ctx, tx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables := make([]transferTable, 0, len(names))
	for _, name := range names {
		t := transferTable{name: name}
		if t.cols, err = tableColumns(ctx, sqliteDialect, tx, name); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", name, err)
		}
		if t.parents, err = queryStrings(ctx, tx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list($1) ORDER BY 1`, name); err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", name, err)
		}
		tables = append(tables, t)
	}
	return parentsFirst(tables)
}

// parentsFirst orders tables so that every table comes after the tables its
// foreign keys refer to, alphabetically among those free to go next. A
// cycle (a table referring to itself included) is an error: its rows would
// have to be inserted in an order only the data knows.
func parentsFirst(tables []transferTable) ([]transferTable, error) {
	byName := make(map[string]transferTable, len(tables))
	for _, t := range tables {
		byName[t.name] = t
	}
	waiting := make(map[string]int, len(tables)) // parents not yet placed
	children := make(map[string][]string)
	for _, t := range tables {
		for _, p := range t.parents {
			if _, ok := byName[p]; !ok {
				return nil, fmt.Errorf("table %s refers to %s, which does not exist", t.name, p)
			}
			waiting[t.name]++
			children[p] = append(children[p], t.name)
		}
	}
	var ready []string
	for _, t := range tables {
		if waiting[t.name] == 0 {
			ready = append(ready, t.name)
		}
	}
	out := make([]transferTable, 0, len(tables))
	for len(ready) > 0 {
		slices.Sort(ready)
		name := ready[0]
		ready = ready[1:]
		out = append(out, byName[name])
		for _, c := range children[name] {
			if waiting[c]--; waiting[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	if len(out) < len(tables) {
		var stuck []string
		for _, t := range tables {
			if waiting[t.name] > 0 {
				stuck = append(stuck, t.name)
			}
		}
		return nil, fmt.Errorf("the foreign keys of %s form a cycle: no order copies parents first", strings.Join(stuck, ", "))
	}
	return out, nil
}

// pgTable is one table of the target: its columns' types by name.
type pgTable struct {
	types      map[string]string // column → information_schema data_type
	overriding bool
}

// postgresColumns reads the target's tables in the current schema.
func postgresColumns(ctx context.Context, tx *sql.Tx) (map[string]*pgTable, error) {
	tables := map[string]*pgTable{}
	names, err := queryStrings(ctx, tx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for _, n := range names {
		tables[n] = &pgTable{types: map[string]string{}}
	}
	rows, err := tx.QueryContext(ctx, `SELECT table_name::text, column_name::text, data_type::text, coalesce(identity_generation, '')::text
		FROM information_schema.columns WHERE table_schema = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, col, typ, generation string
		if err := rows.Scan(&table, &col, &typ, &generation); err != nil {
			return nil, fmt.Errorf("list columns: %w", err)
		}
		t := tables[table]
		if t == nil {
			continue // a view's column
		}
		t.types[col] = typ
		if generation == "ALWAYS" {
			t.overriding = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	return tables, nil
}

// checkEmpty refuses a target where any table but the version's holds a row.
func checkEmpty(ctx context.Context, tx *sql.Tx, tables map[string]*pgTable) error {
	names := make([]string, 0, len(tables))
	for n := range tables {
		if n != versionTable {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var full []string
	for _, n := range names {
		var has bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quoteIdent(n)+")").Scan(&has); err != nil {
			return fmt.Errorf("transfer: target: read %s: %w", n, err)
		}
		if has {
			full = append(full, n)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("transfer: %w: %s already hold rows; transfer only into a new, empty database (nothing was written)", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// matchColumns checks that both sides have the same tables with the same
// columns, and fills in how the target stores each column.
func matchColumns(tables []transferTable, dst map[string]*pgTable) error {
	seen := map[string]bool{versionTable: true}
	for i := range tables {
		t := &tables[i]
		seen[t.name] = true
		d := dst[t.name]
		if d == nil {
			return fmt.Errorf("transfer: table %s is in the source but not in the target", t.name)
		}
		t.overriding = d.overriding
		t.kinds = make([]valueKind, len(t.cols))
		for j, c := range t.cols {
			typ, ok := d.types[c]
			if !ok {
				return fmt.Errorf("transfer: column %s.%s is in the source but not in the target", t.name, c)
			}
			t.kinds[j] = kindOf(typ)
		}
		for c := range d.types {
			if !slices.Contains(t.cols, c) {
				return fmt.Errorf("transfer: column %s.%s is in the target but not in the source", t.name, c)
			}
		}
	}
	for n := range dst {
		if !seen[n] {
			return fmt.Errorf("transfer: table %s is in the target but not in the source", n)
		}
	}
	return nil
}

// tablesWithTriggers lists the target's tables that have triggers of their
// own (not the ones PostgreSQL makes for foreign keys, which stay on).
func tablesWithTriggers(ctx context.Context, tx *sql.Tx) ([]string, error) {
	return queryStrings(ctx, tx, `SELECT DISTINCT c.relname::text FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT t.tgisinternal AND n.nspname = current_schema()
		ORDER BY 1`)
}

// copyRows streams one table from the source into the target in
// multi-row INSERTs and returns how many rows it copied.
func copyRows(ctx context.Context, stx, dtx *sql.Tx, t transferTable) (int64, error) {
	rows, err := stx.QueryContext(ctx, "SELECT "+columnList(t.cols)+" FROM "+quoteIdent(t.name))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	perBatch := min(transferBatchRows, transferMaxParams/len(t.cols))
	var (
		args  = make([]any, 0, perBatch*len(t.cols))
		size  int
		n     int64
		full  string // the INSERT for a whole batch, built once
		vals  = make([]any, len(t.cols))
		ptrs  = make([]any, len(t.cols))
		flush = func() error {
			count := len(args) / len(t.cols)
			if count == 0 {
				return nil
			}
			q := full
			if count != perBatch || q == "" {
				q = insertStatement(t, count)
				if count == perBatch {
					full = q
				}
			}
			if _, err := dtx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			n += int64(count)
			args, size = args[:0], 0
			return nil
		}
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			cv, err := toPostgres(v, t.kinds[i])
			if err != nil {
				return n, fmt.Errorf("column %s: %w", t.cols[i], err)
			}
			args = append(args, cv)
			size += valueSize(cv)
		}
		if len(args) == perBatch*len(t.cols) || size >= transferBatchBytes {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// insertStatement is INSERT INTO t (cols) VALUES ($1, …), … for count rows.
func insertStatement(t transferTable, count int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quoteIdent(t.name) + " (" + columnList(t.cols) + ")")
	if t.overriding {
		b.WriteString(" OVERRIDING SYSTEM VALUE")
	}
	b.WriteString(" VALUES ")
	p := 1
	for r := range count {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range t.cols {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", p)
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// toPostgres turns a value as SQLite returns it (int64, float64, string,
// []byte or nil) into what the target column of kind k takes.
func toPostgres(v any, k valueKind) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindInt:
		if _, ok := v.(int64); ok {
			return v, nil
		}
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	case kindText:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case kindBytes:
		// The SQLite driver returns an empty BLOB as a nil slice, which
		// pgx would send as NULL: an empty S3 body is not a missing one.
		if b, ok := v.([]byte); ok {
			if b == nil {
				b = []byte{}
			}
			return b, nil
		}
	case kindBool:
		if x, ok := v.(int64); ok {
			return x != 0, nil
		}
	case kindTime:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("timestamp %q: %w", s, err)
			}
			return t, nil
		}
	case kindOther:
		if b, ok := v.([]byte); ok && b == nil {
			return []byte{}, nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("a %T value where the target keeps %s", v, kindName(k))
}

func kindName(k valueKind) string {
	return [...]string{"any value", "integers", "reals", "text", "bytes", "booleans", "timestamps"}[k]
}

func valueSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x) + 8
	case []byte:
		return len(x) + 8
	}
	return 8
}

// checksum reads table t through q and returns its row count and checksum
// (see TransferTable).
func checksum(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, t transferTable) (rowCount int64, sum uint64, err error) {
	rows, err := q.QueryContext(ctx, "SELECT "+columnList(t.cols)+" FROM "+quoteIdent(t.name))
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, 0, err
		}
		buf = buf[:0]
		for i, v := range vals {
			if buf, err = appendCanonical(buf, v, t.kinds[i] == kindTime); err != nil {
				return 0, 0, fmt.Errorf("column %s: %w", t.cols[i], err)
			}
		}
		h := sha256.Sum256(buf)
		sum += binary.BigEndian.Uint64(h[:8])
		rowCount++
	}
	return rowCount, sum, rows.Err()
}

// appendCanonical appends v's canonical encoding: a type tag, then the
// value, lengths first so that no two rows encode alike. A boolean is the
// integer 0 or 1, as SQLite keeps it; a timestamp, text on SQLite and a time
// on PostgreSQL, is its UTC Unix milliseconds (goqite's precision).
func appendCanonical(b []byte, v any, isTime bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, 0), nil
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 1), uint64(x)), nil
	case bool:
		var i uint64
		if x {
			i = 1
		}
		return binary.BigEndian.AppendUint64(append(b, 1), i), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 2), math.Float64bits(x)), nil
	case string:
		if isTime {
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("timestamp %q: %w", x, err)
			}
			return binary.BigEndian.AppendUint64(append(b, 5), uint64(t.UnixMilli())), nil
		}
		b = binary.AppendUvarint(append(b, 3), uint64(len(x)))
		return append(b, x...), nil
	case []byte:
		b = binary.AppendUvarint(append(b, 4), uint64(len(x)))
		return append(b, x...), nil
	case time.Time:
		return binary.BigEndian.AppendUint64(append(b, 5), uint64(x.UnixMilli())), nil
	}
	return nil, fmt.Errorf("unexpected %T value", v)
}

// resetSequences moves every identity (or serial) column's sequence past
// the highest copied value, so that the next row the store inserts does not
// collide with a copied one.
func resetSequences(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name, seq FROM (
		SELECT table_name::text, column_name::text,
			pg_get_serial_sequence(quote_ident(table_schema) || '.' || quote_ident(table_name), column_name) AS seq
		FROM information_schema.columns WHERE table_schema = current_schema()) c
		WHERE seq IS NOT NULL ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	type sequence struct{ table, col, seq string }
	var seqs []sequence
	for rows.Next() {
		var s sequence
		if err := rows.Scan(&s.table, &s.col, &s.seq); err != nil {
			rows.Close()
			return fmt.Errorf("list sequences: %w", err)
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	for _, s := range seqs {
		// An empty table leaves its sequence where it starts.
		q := "SELECT setval(CAST($1 AS text)::regclass, max(" + quoteIdent(s.col) + ")) FROM " + quoteIdent(s.table) + " HAVING max(" + quoteIdent(s.col) + ") IS NOT NULL"
		if _, err := tx.ExecContext(ctx, q, s.seq); err != nil {
			return fmt.Errorf("reset the sequence of %s.%s: %w", s.table, s.col, err)
		}
	}
	return nil
}

// quoteIdent quotes a table or column name for either engine.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}
