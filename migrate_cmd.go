package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"lambdalab/store"
)

const migrateUsage = `Usage:
  lambdalab migrate-to-postgres --from DATA --to postgres://USER:PASSWORD@HOST:5432/DB

Copies the SQLite database of an installation (DATA/lambdalab.db) into an
empty PostgreSQL database, then reads both again and checks every table's
row count and checksum. Nothing is written to a database that already holds
data, and the copy is committed only once it is verified.

Stop lambdalab serve first. The copy reads one consistent snapshot of the
SQLite file, so a server still running cannot make it inconsistent, but
anything it writes after the snapshot is not copied.

Then run serve with --database URL (or LAMBDALAB_DATABASE_URL=URL) and the
same --data DATA: code packages, S3 bodies and caches stay in the data
folder, only the database moves.
`

// runMigrate is `lambdalab migrate-to-postgres`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lambdalab migrate-to-postgres", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, migrateUsage+"\nFlags:\n")
		fl.PrintDefaults()
	}
	from := fl.String("from", "", "the data folder of the SQLite installation, holding lambdalab.db (required)")
	to := fl.String("to", "", "the empty PostgreSQL database to copy into: a postgres:// or postgresql:// URL (required)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	switch {
	case fl.NArg() > 0:
		return fmt.Errorf("migrate-to-postgres: unexpected argument %q", fl.Arg(0))
	case *from == "":
		return errors.New("migrate-to-postgres: --from is required: the data folder holding lambdalab.db")
	case *to == "":
		return errors.New("migrate-to-postgres: --to is required: the PostgreSQL database's URL")
	case !store.IsPostgresURL(*to):
		return fmt.Errorf("migrate-to-postgres: --to %s is not a postgres:// or postgresql:// URL", store.RedactTarget(*to))
	}
	shownTo := store.RedactTarget(*to)
	dbPath := filepath.Join(*from, "lambdalab.db")
	// Opening a path that holds no database would create an empty one and
	// copy nothing, successfully: look first.
	if fi, err := os.Stat(*from); err == nil && !fi.IsDir() {
		return fmt.Errorf("migrate-to-postgres: --from %s is a file; give the data folder that holds lambdalab.db", *from)
	}
	fi, err := os.Stat(dbPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("migrate-to-postgres: no database at %s (--from is the data folder of the SQLite installation)", dbPath)
	case err != nil:
		return fmt.Errorf("migrate-to-postgres: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("migrate-to-postgres: %s is not a database file", dbPath)
	}

	// The target first: when it cannot be reached, the source has not
	// even been opened (opening migrates it to this binary's schema).
	dst, err := store.Open(ctx, *to)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: target: %w", err)
	}
	defer dst.Close()
	src, err := store.Open(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: source: %w", err)
	}
	defer src.Close()
	fmt.Fprintf(stdout, "copying %s into %s\n", dbPath, shownTo)
	rep, err := store.Transfer(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\trows\tchecksum")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%016x\n", t.Name, t.Rows, t.Checksum)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("migrate-to-postgres: %w", err)
	}
	fmt.Fprintf(stdout, "verified: %d tables, %d rows\n", len(rep.Tables), rep.Rows())
	fmt.Fprintf(stdout, "next: lambdalab serve --data %s --database URL (or %s=URL); the files stay in %s\n", *from, databaseEnv, *from)
	return nil
}
