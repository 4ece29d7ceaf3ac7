package store

import (
	"strings"
	"testing"
)

// TestMigrationFoldersMatch holds the two schema histories to one
// numbering: a migration added for one engine and not the other would
// leave the engines at different schema versions under the same number.
func TestMigrationFoldersMatch(t *testing.T) {
	if len(sqliteMigrations) != len(postgresMigrations) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL migrations; every change needs both", len(sqliteMigrations), len(postgresMigrations))
	}
	for i := range sqliteMigrations {
		if s, p := sqliteMigrations[i].name, postgresMigrations[i].name; s != p {
			t.Errorf("migration %d: sqlite/%s but postgres/%s; the names must match", i+1, s, p)
		}
	}
}

func TestIsPostgresURL(t *testing.T) {
	for target, want := range map[string]bool{
		"postgres://u@h/db":      true,
		"postgresql:///db?host=": true,
		"data/lambdalab.db":      false,
		"postgres.db":            false,
		"":                       false,
	} {
		if got := IsPostgresURL(target); got != want {
			t.Errorf("IsPostgresURL(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestRedactTarget(t *testing.T) {
	got := RedactTarget("postgres://alice:s3cret@db.example:5432/lambdalab")
	if got != "postgres://alice:xxxxx@db.example:5432/lambdalab" {
		t.Errorf("RedactTarget = %q, want the password hidden", got)
	}
}

func TestRedactTargetQueryPassword(t *testing.T) {
	got := RedactTarget("postgres:///lambdalab?host=/run/pg&password=s3cret")
	if strings.Contains(got, "s3cret") {
		t.Errorf("RedactTarget = %q, shows the password from the query", got)
	}
}
