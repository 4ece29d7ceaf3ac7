package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lambdalab/store"
)

// runUserCmd runs `lambdalab user ARGS...` through run with stdin as given.
func runUserCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	noEnv := func(string) string { return "" }
	err = run(context.Background(), append([]string{"user"}, args...), noEnv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func openUserTestDB(t *testing.T, dataDir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "lambdalab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUserAdd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")

	out, _, err := runUserCmd(t, "first password\n", "add", "--email", "Ann@example.com", "--password-stdin", "--data", data)
	if err != nil {
		t.Fatalf("first user add: %v", err)
	}
	if !strings.Contains(out, "created instructor Ann@example.com") || !strings.Contains(out, "first account") {
		t.Errorf("first user add printed %q; want it to say an instructor was created because it is the first", out)
	}
	out, _, err = runUserCmd(t, "second-pass\r\n", "add", "--email", "bo@example.com", "--password-stdin", "--data", data)
	if err != nil {
		t.Fatalf("second user add: %v", err)
	}
	if !strings.Contains(out, "created student bo@example.com") {
		t.Errorf("second user add printed %q", out)
	}
	out, _, err = runUserCmd(t, "teacher-pass", "add", "--email", "cy@example.com", "--instructor", "--password-stdin", "--data", data)
	if err != nil {
		t.Fatalf("instructor add: %v", err)
	}
	if !strings.Contains(out, "created instructor cy@example.com") || strings.Contains(out, "first account") {
		t.Errorf("instructor add printed %q", out)
	}

	db := openUserTestDB(t, data)
	tests := []struct {
		email, password string
		role            store.Role
	}{
		{"ann@example.com", "first password", store.RoleInstructor}, // inner space kept
		{"bo@example.com", "second-pass", store.RoleStudent},        // CRLF trimmed
		{"cy@example.com", "teacher-pass", store.RoleInstructor},    // no newline at all
	}
	for _, tt := range tests {
		u, err := db.UserByEmail(context.Background(), tt.email)
		if err != nil {
			t.Errorf("%s not stored: %v", tt.email, err)
			continue
		}
		if u.Role != tt.role {
			t.Errorf("%s role = %s, want %s", tt.email, u.Role, tt.role)
		}
		if !store.CheckPassword(u.PasswordHash, tt.password) {
			t.Errorf("%s: stored hash does not match password %q", tt.email, tt.password)
		}
	}
}

func TestUserAddTakenEmail(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "password-one\n", "add", "--email", "dup@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	_, _, err := runUserCmd(t, "password-two\n", "add", "--email", "DUP@example.com", "--password-stdin", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "DUP@example.com is already registered") {
		t.Fatalf("second add of the same email = %v; want a clear 'already registered' error", err)
	}
	u, err := openUserTestDB(t, data).UserByEmail(context.Background(), "dup@example.com")
	if err != nil || !store.CheckPassword(u.PasswordHash, "password-one") {
		t.Errorf("original user changed by a refused add: %+v, %v", u, err)
	}
}

func TestUserAddRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"short password", "1234567\n", []string{"--email", "a@example.com", "--password-stdin"}, "at least 8 characters"},
		{"empty stdin", "", []string{"--email", "a@example.com", "--password-stdin"}, "no password on standard input"},
		{"blank line", "\n", []string{"--email", "a@example.com", "--password-stdin"}, "no password on standard input"},
		{"no --password-stdin", "password123\n", []string{"--email", "a@example.com"}, "--password-stdin is required"},
		{"no email", "password123\n", []string{"--password-stdin"}, "--email is required"},
		{"bad email", "password123\n", []string{"--email", "not-an-email", "--password-stdin"}, "not an email address"},
		{"stray argument", "password123\n", []string{"--email", "a@example.com", "--password-stdin", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", "password123\n", []string{"--emial", "a@example.com"}, "flag provided but not defined"},
		{"huge stdin", strings.Repeat("x", 10000), []string{"--email", "a@example.com", "--password-stdin"}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"add"}, tt.args...)
			args = append(args, "--data", data)
			_, _, err := runUserCmd(t, tt.stdin, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("user %v = %v; want an error containing %q", args, err, tt.want)
			}
			// Rejected before the database was touched, except the bad
			// email which only the store can judge: then no user exists.
			if _, statErr := os.Stat(data); statErr == nil {
				users, err := openUserTestDB(t, data).Users(context.Background())
				if err != nil || len(users) != 0 {
					t.Errorf("refused add left users %v, %v", users, err)
				}
			} else if !errors.Is(statErr, os.ErrNotExist) {
				t.Fatal(statErr)
			}
		})
	}
}

func TestUserSubcommands(t *testing.T) {
	if _, _, err := runUserCmd(t, ""); err == nil {
		t.Error("user without subcommand succeeded")
	}
	if _, stderr, err := runUserCmd(t, "", "frobnicate"); err == nil || !strings.Contains(stderr, "user add") {
		t.Errorf("unknown subcommand: err %v, stderr %q; want an error and the usage", err, stderr)
	}
	if out, _, err := runUserCmd(t, "", "help"); err != nil || !strings.Contains(out, "--password-stdin") {
		t.Errorf("user help: %q, %v", out, err)
	}
}
