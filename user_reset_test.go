package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lambdalab/store"
)

func TestUserResetPassword(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "the first password 1\n", "add", "--email", "ann@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runUserCmd(t, "bo's own password 2\n", "add", "--email", "bo@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	db := openUserTestDB(t, data)
	ann, err := db.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	bo, err := db.UserByEmail(ctx, "bo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	annTok, err := db.CreateSession(ctx, ann.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	boTok, err := db.CreateSession(ctx, bo.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	out, _, err := runUserCmd(t, "a brand new password 3\n", "reset-password", "--email", "ANN@example.com", "--password-stdin", "--data", data)
	if err != nil {
		t.Fatalf("reset-password: %v", err)
	}
	if !strings.Contains(out, "ann@example.com") || !strings.Contains(out, "signed them out everywhere") {
		t.Errorf("reset-password printed %q", out)
	}
	got, err := db.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !store.CheckPassword(got.PasswordHash, "a brand new password 3") || store.CheckPassword(got.PasswordHash, "the first password 1") {
		t.Error("the stored hash is not the new password's")
	}
	if _, err := db.SessionUser(ctx, annTok); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ann's session survived the reset: %v", err)
	}
	if _, err := db.SessionUser(ctx, boTok); err != nil {
		t.Errorf("bo's session ended: %v", err)
	}
}

func TestUserResetPasswordErrors(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "the first password 1\n", "add", "--email", "ann@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"unknown user", "a brand new password 3\n", []string{"--email", "zed@example.com", "--password-stdin", "--data", data}, "no user zed@example.com"},
		{"no email", "a brand new password 3\n", []string{"--password-stdin", "--data", data}, "--email is required"},
		{"no --password-stdin", "a brand new password 3\n", []string{"--email", "ann@example.com", "--data", data}, "--password-stdin is required"},
		{"empty stdin", "", []string{"--email", "ann@example.com", "--password-stdin", "--data", data}, "no password on standard input"},
		{"short password", "short\n", []string{"--email", "ann@example.com", "--password-stdin", "--data", data}, "at least"},
		{"no database", "a brand new password 3\n", []string{"--email", "ann@example.com", "--password-stdin", "--data", missing}, "no database at"},
		{"stray argument", "a brand new password 3\n", []string{"--email", "ann@example.com", "--password-stdin", "--data", data, "x"}, `unexpected argument "x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runUserCmd(t, tt.stdin, append([]string{"reset-password"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("reset-password %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("reset-password with a wrong --data created a folder")
	}
	u, err := openUserTestDB(t, data).UserByEmail(context.Background(), "ann@example.com")
	if err != nil || !store.CheckPassword(u.PasswordHash, "the first password 1") {
		t.Errorf("a refused reset changed the password: %v", err)
	}
}
