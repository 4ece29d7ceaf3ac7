package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lambdalab/store/storetest"
)

// runCmd runs the program with args and env through run.
func runCmd(t testing.TB, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// TestMigrateToPostgres moves a SQLite installation to PostgreSQL and uses
// it from there: the user commands find the user, and serve signs them in.
func TestMigrateToPostgres(t *testing.T) {
	pgURL := storetest.PostgresURL(t)
	data := filepath.Join(t.TempDir(), "data")
	if _, _, err := runCmd(t, nil, "migrate me please 1\n", "user", "add", "--email", "mover@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatalf("user add: %v", err)
	}
	keysBefore, _, err := runCmd(t, nil, "", "user", "keys", "--email", "mover@example.com", "--data", data)
	if err != nil {
		t.Fatalf("user keys on SQLite: %v", err)
	}

	out, errOut, err := runCmd(t, nil, "", "migrate-to-postgres", "--from", data, "--to", pgURL)
	if err != nil {
		t.Fatalf("migrate-to-postgres: %v\n%s%s", err, out, errOut)
	}
	t.Logf("migrate-to-postgres printed:\n%s", out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^users +1 +[0-9a-f]{16}$`),
		regexp.MustCompile(`(?m)^access_keys +1 +[0-9a-f]{16}$`),
		regexp.MustCompile(`(?m)^verified: \d+ tables, 3 rows$`), // the user, their account and key
	} {
		if !want.MatchString(out) {
			t.Errorf("migrate-to-postgres printed no line matching %s:\n%s", want, out)
		}
	}

	// The same keys, read from PostgreSQL: by flag, and by environment.
	keys, _, err := runCmd(t, nil, "", "user", "keys", "--email", "mover@example.com", "--database", pgURL)
	if err != nil || keys != keysBefore {
		t.Errorf("user keys --database URL = %q, %v; want %q", keys, err, keysBefore)
	}
	keys, _, err = runCmd(t, map[string]string{databaseEnv: pgURL}, "", "user", "keys", "--email", "mover@example.com", "--data", t.TempDir())
	if err != nil || keys != keysBefore {
		t.Errorf("user keys with %s = %q, %v; want %q", databaseEnv, keys, err, keysBefore)
	}
	if _, _, err := runCmd(t, nil, "", "user", "keys", "--email", "nobody@example.com", "--database", pgURL); err == nil || !strings.Contains(err.Error(), "no user nobody@example.com") {
		t.Errorf("user keys of an unknown user = %v, want no user", err)
	}

	// A second run finds the target full and copies nothing.
	out, _, err = runCmd(t, nil, "", "migrate-to-postgres", "--from", data, "--to", pgURL)
	if err == nil || !strings.Contains(err.Error(), "not empty") || strings.Contains(out, "verified") {
		t.Errorf("second migrate-to-postgres = %v\n%s\nwant a refusal: the target is not empty", err, out)
	}

	s := startServe(t, data, "--database", pgURL)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.Logs)
		}
	})
	if !regexp.MustCompile(`msg="lambdalab serving" .*engine=postgres database="?postgres:///`).MatchString(s.Logs.String()) {
		t.Errorf("start-up line does not name the engine and database:\n%s", s.Logs)
	}
	u := newHTTPUser(t, s.URL)
	if home := u.get("/"); !strings.Contains(home, `href="/lessons/`) {
		t.Errorf("home page on PostgreSQL has no lesson links:\n%.500s", home)
	}
	page := u.post("/login", url.Values{"email": {"mover@example.com"}, "password": {"migrate me please 1"}, "next": {"/account"}})
	if !strings.Contains(page, `data-testid="signed-in-as">mover@example.com<`) {
		t.Errorf("signing in on PostgreSQL did not show the user:\n%.800s", page)
	}
	if m := regexp.MustCompile(`AKIA[A-Z2-7]{16}`).FindString(keysBefore); m == "" || !strings.Contains(page, m) {
		t.Errorf("the account page does not show the copied access key %q", m)
	}
	if home := u.get("/"); !strings.Contains(home, `data-testid="signed-in-as">mover@example.com<`) {
		t.Errorf("home page signed in does not show the user:\n%.800s", home)
	}
}

func TestMigrateToPostgresRefuses(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(data, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pg = "postgres://app:s3cret@127.0.0.1:1/none"
	missing := filepath.Join(t.TempDir(), "typo")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no from", []string{"--to", pg}, "--from is required"},
		{"no to", []string{"--from", data}, "--to is required"},
		{"to not postgres", []string{"--from", data, "--to", "mysql://app:s3cret@h/db"}, "is not a postgres:// or postgresql:// URL"},
		{"to a file", []string{"--from", data, "--to", "other.db"}, "is not a postgres:// or postgresql:// URL"},
		{"from missing", []string{"--from", missing, "--to", pg}, "no database at " + filepath.Join(missing, "lambdalab.db")},
		{"from a file", []string{"--from", file, "--to", pg}, "give the data folder"},
		{"from empty folder", []string{"--from", data, "--to", pg}, "no database at"},
		{"stray argument", []string{"--from", data, "--to", pg, "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(t, nil, "", append([]string{"migrate-to-postgres"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("migrate-to-postgres %q = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	// Looking was all: no database appeared where none was.
	for _, p := range []string{filepath.Join(data, "lambdalab.db"), missing} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after the refusals (err %v)", p, err)
		}
	}

	// A target that does not answer fails with the password hidden.
	if _, _, err := runCmd(t, nil, "pw for the test 1\n", "user", "add", "--email", "a@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, nil, "", "migrate-to-postgres", "--from", data, "--to", pg)
	if err == nil || !strings.Contains(err.Error(), "target") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("migrate-to-postgres to a closed port = %v, want a target error without the password", err)
	}
}
