package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
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
	out, _, err = runUserCmd(t, "second-passwd\r\n", "add", "--email", "bo@example.com", "--password-stdin", "--data", data)
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
		{"bo@example.com", "second-passwd", store.RoleStudent},      // CRLF trimmed
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
		{"short password", "12345678901\n", []string{"--email", "a@example.com", "--password-stdin"}, "at least 12 characters"},
		{"empty stdin", "", []string{"--email", "a@example.com", "--password-stdin"}, "no password on standard input"},
		{"blank line", "\n", []string{"--email", "a@example.com", "--password-stdin"}, "no password on standard input"},
		{"no --password-stdin", "password123\n", []string{"--email", "a@example.com"}, "--password-stdin is required"},
		{"no email", "password123\n", []string{"--password-stdin"}, "--email is required"},
		{"bad email", "a long password\n", []string{"--email", "not-an-email", "--password-stdin"}, "not an email address"},
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
	if out, _, err := runUserCmd(t, "", "help"); err != nil || !strings.Contains(out, "--password-stdin") || !strings.Contains(out, "user keys --email E [--rotate]") {
		t.Errorf("user help: %q, %v", out, err)
	}
}

// bashEval runs script in bash with KEYS set to keys and nothing else from
// the test's environment but PATH, and returns its standard output.
func bashEval(t *testing.T, keys, script string) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c", script)
	// A session token left from real AWS would break every signature
	// made with lambdalab's keys: the output must unset it.
	cmd.Env = []string{"KEYS=" + keys, "PATH=" + os.Getenv("PATH"), "AWS_SESSION_TOKEN=stale-real-aws-token"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash -c %q with KEYS=%q: %v", script, keys, err)
	}
	return string(out)
}

// printAWS prints the variables `user keys` sets, one a line, empty when unset.
const printAWS = `printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_DEFAULT_REGION" "$AWS_REGION" "$AWS_ENDPOINT_URL" "$AWS_SESSION_TOKEN"`

func TestUserKeys(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "a long password\n", "add", "--email", "ann@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	db := openUserTestDB(t, data)
	u, err := db.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.AccountKeys(ctx, u.AccountID)
	if err != nil || len(stored) != 1 {
		t.Fatalf("AccountKeys = %v, %v", stored, err)
	}
	want := strings.Join([]string{stored[0].ID, stored[0].Secret, "us-east-1", "us-east-1", "http://127.0.0.1:4566", "", ""}, "\n")

	out, _, err := runUserCmd(t, "", "keys", "--email", "ANN@example.com", "--data", data)
	if err != nil {
		t.Fatalf("user keys: %v", err)
	}
	// Both the quoted form the usage shows and the unquoted one people type.
	for _, script := range []string{`eval "$KEYS"; ` + printAWS, `eval $KEYS; ` + printAWS} {
		if got := bashEval(t, out, script); got != want {
			t.Errorf("bash -c %q after user keys printed\n%s\ngot\n%s\nwant\n%s", script, out, got, want)
		}
	}
	if !strings.Contains(out, u.AccountID) {
		t.Errorf("user keys output does not name account %s:\n%s", u.AccountID, out)
	}

	out2, stderr, err := runUserCmd(t, "", "keys", "--email", "ann@example.com", "--rotate", "--data", data)
	if err != nil {
		t.Fatalf("user keys --rotate: %v", err)
	}
	if !strings.Contains(stderr, "old one no longer works") {
		t.Errorf("user keys --rotate said %q on stderr; want a note that the old key stopped working", stderr)
	}
	got := strings.Split(bashEval(t, out2, `eval "$KEYS"; `+printAWS), "\n")
	if _, err := db.AccessKey(ctx, stored[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old key after --rotate: AccessKey = %v, want ErrNotFound", err)
	}
	k, err := db.AccessKey(ctx, got[0])
	if err != nil {
		t.Fatalf("key printed by --rotate (%q) is not stored: %v", got[0], err)
	}
	if k.ID == stored[0].ID || k.Secret != got[1] || k.AccountID != u.AccountID {
		t.Errorf("--rotate printed %q; stored %v (old %v)", got[:2], k, stored[0])
	}
	// Without --rotate the new pair is printed again, unchanged.
	if out3, _, err := runUserCmd(t, "", "keys", "--email", "ann@example.com", "--data", data); err != nil || out3 != out2 {
		t.Errorf("user keys after rotation printed %q, %v; want %q", out3, err, out2)
	}
}

func TestUserKeysRejectsBadInput(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "a long password\n", "add", "--email", "ann@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nothing-here")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown email", []string{"--email", "bo@example.com", "--data", data}, "no user bo@example.com"},
		{"no email", []string{"--data", data}, "--email is required"},
		{"stray argument", []string{"--email", "ann@example.com", "--data", data, "extra"}, `unexpected argument "extra"`},
		{"no database", []string{"--email", "ann@example.com", "--data", missing}, "no database at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runUserCmd(t, "", append([]string{"keys"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("user keys %v = %v; want an error containing %q", tt.args, err, tt.want)
			}
			if out != "" {
				t.Errorf("user keys %v printed %q on stdout; want nothing to eval", tt.args, out)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("user keys created %s: %v", missing, err)
	}
}

// TestShellQuote evals hostile values: each must come back as itself and run nothing.
func TestShellQuote(t *testing.T) {
	tests := []string{"", "plain", "it's", "'", "''", `$(echo pwned)`, "`echo pwned`", `"; echo pwned; "`, "a\nb", `back\slash`, "!!", "$HOME", "*"}
	for _, v := range tests {
		got := bashEval(t, "export X="+shellQuote(v), `eval "$KEYS"; printf '%s' "$X"`)
		if got != v {
			t.Errorf("eval of export X=%s gives %q, want %q", shellQuote(v), got, v)
		}
	}
}

// Debian's AWS CLI 2.9 ignores AWS_ENDPOINT_URL; the printed lines give an
// interactive shell an alias that names the endpoint, which --endpoint-url
// sets.
func TestUserKeysEndpointAlias(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runUserCmd(t, "a long password\n", "add", "--email", "bo@example.com", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _, err := runUserCmd(t, "", "keys", "--email", "bo@example.com", "--endpoint-url", "http://10.1.2.3:9999", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{`eval "$KEYS"; alias aws; echo "$AWS_ENDPOINT_URL"`, `eval $KEYS; alias aws; echo "$AWS_ENDPOINT_URL"`} {
		got := bashEval(t, out, script)
		want := "alias aws='aws --endpoint-url http://10.1.2.3:9999'\nhttp://10.1.2.3:9999\n"
		if got != want {
			t.Errorf("bash -c %q after\n%s\ngot %q, want %q", script, out, got, want)
		}
	}
}
