package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"lambdalab/cloud"
	"lambdalab/store"
)

const userUsage = `Usage:
  lambdalab user add --email E [--instructor] --password-stdin [--data DIR | --database URL]
  lambdalab user keys --email E [--rotate] [--endpoint-url URL] [--data DIR | --database URL]
  lambdalab user reset-password --email E --password-stdin [--data DIR | --database URL]

The database is --database (a postgres:// URL or a SQLite file), else
$LAMBDALAB_DATABASE_URL, else DATA/lambdalab.db.

The password is read from the first line of standard input, so it never
appears in the shell history or the process list:
  echo "$PASSWORD" | lambdalab user add --email alice@example.com --password-stdin

keys prints the user's AWS access key as shell variables for the AWS CLI and
SDKs; --rotate first replaces it, and the old key stops working:
  eval "$(lambdalab user keys --email alice@example.com)"
  aws lambda list-functions

reset-password sets a new password for a user who forgot theirs and signs
them out everywhere:
  echo "$NEW_PASSWORD" | lambdalab user reset-password --email alice@example.com --password-stdin
`

// maxPasswordLine bounds what is read from stdin: far above any password
// bcrypt accepts, far below anything that could hurt.
const maxPasswordLine = 4096

// runUser is `lambdalab user`: account administration from the shell.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return errors.New("user: missing subcommand")
	}
	switch args[0] {
	case "add":
		return runUserAdd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "keys":
		return runUserKeys(ctx, args[1:], getenv, stdout, stderr)
	case "reset-password":
		return runUserResetPassword(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, userUsage)
		return nil
	default:
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", args[0])
	}
}

func runUserAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lambdalab user add", flag.ContinueOnError)
	fl.SetOutput(stderr)
	email := fl.String("email", "", "the new user's email address (required)")
	instructor := fl.Bool("instructor", false, "make the user an instructor (the first user always is one)")
	passwordStdin := fl.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	dataDir := fl.String("data", "./lambdalab-data", "folder of the SQLite database DATA/lambdalab.db, used unless --database or $"+databaseEnv+" names one")
	dbFlag := fl.String("database", "", databaseHelp)
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	switch {
	case fl.NArg() > 0:
		return fmt.Errorf("user add: unexpected argument %q", fl.Arg(0))
	case strings.TrimSpace(*email) == "":
		return errors.New("user add: --email is required")
	case !*passwordStdin:
		return errors.New("user add: --password-stdin is required (pipe the password in so it stays out of the shell history)")
	}
	target, err := databaseTarget(*dbFlag, *dataDir, getenv)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}

	pw, err := readPasswordLine(stdin)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	// Hash before opening the database so a rejected password leaves no
	// trace, not even an empty data folder.
	hash, err := store.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}

	db, err := store.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	defer db.Close()
	u, err := db.CreateUser(ctx, *email, hash, *instructor)
	switch {
	case errors.Is(err, store.ErrEmailTaken):
		return fmt.Errorf("user add: %s is already registered", strings.TrimSpace(*email))
	case err != nil:
		return fmt.Errorf("user add: %w", err)
	}
	note := ""
	if u.Role == store.RoleInstructor && !*instructor {
		note = " (the first account is always an instructor)"
	}
	fmt.Fprintf(stdout, "created %s %s with AWS account %s in %s%s\n", u.Role, u.Email, u.AccountID, store.RedactTarget(target), note)
	return nil
}

// readPasswordLine returns the first line of r without its line ending.
// Other spaces are part of the password and kept.
func readPasswordLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxPasswordLine+1))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	if len(line) > maxPasswordLine {
		return "", fmt.Errorf("password line is longer than %d bytes", maxPasswordLine)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("no password on standard input (pipe it in, e.g. echo \"$PASSWORD\" | lambdalab user add ...)")
	}
	return line, nil
}

// awsEndpointURL is where `lambdalab serve` answers AWS calls by default
// (--aws-addr).
const awsEndpointURL = "http://127.0.0.1:4566"

func runUserKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lambdalab user keys", flag.ContinueOnError)
	fl.SetOutput(stderr)
	email := fl.String("email", "", "the user whose keys to print (required)")
	rotate := fl.Bool("rotate", false, "replace the user's key pair first; the old one stops working")
	endpoint := fl.String("endpoint-url", awsEndpointURL, "the AWS endpoint to print: http:// and serve's --aws-addr")
	dataDir := fl.String("data", "./lambdalab-data", "folder of the SQLite database DATA/lambdalab.db, used unless --database or $"+databaseEnv+" names one")
	dbFlag := fl.String("database", "", databaseHelp)
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("user keys: %w", err)
	}
	switch {
	case fl.NArg() > 0:
		return fmt.Errorf("user keys: unexpected argument %q", fl.Arg(0))
	case strings.TrimSpace(*email) == "":
		return errors.New("user keys: --email is required")
	}

	target, err := databaseTarget(*dbFlag, *dataDir, getenv)
	if err != nil {
		return fmt.Errorf("user keys: %w", err)
	}
	// Looking keys up must not create a database where there was none.
	if err := requireDatabase(target); err != nil {
		return fmt.Errorf("user keys: %w", err)
	}
	db, err := store.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("user keys: %w", err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, *email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("user keys: no user %s in %s", strings.TrimSpace(*email), store.RedactTarget(target))
	case err != nil:
		return fmt.Errorf("user keys: %w", err)
	}
	var key store.AccessKey
	if *rotate {
		if key, err = db.RotateAccessKey(ctx, u.AccountID); err != nil {
			return fmt.Errorf("user keys: %w", err)
		}
		// On stderr, so that eval "$(...)" sees only the variables.
		fmt.Fprintf(stderr, "rotated the access key of %s; the old one no longer works\n", u.Email)
	} else {
		keys, err := db.AccountKeys(ctx, u.AccountID)
		if err != nil {
			return fmt.Errorf("user keys: %w", err)
		}
		if len(keys) == 0 {
			return fmt.Errorf("user keys: %s has no access key; make one with --rotate", u.Email)
		}
		key = keys[len(keys)-1] // the newest
	}
	fmt.Fprint(stdout, cloud.ShellEnv(u.AccountID, key.ID, key.Secret, *endpoint))
	return nil
}

// shellQuote returns s as one single-quoted POSIX shell word.
func shellQuote(s string) string { return cloud.ShellQuote(s) }

func runUserResetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lambdalab user reset-password", flag.ContinueOnError)
	fl.SetOutput(stderr)
	email := fl.String("email", "", "the user whose password to set (required)")
	passwordStdin := fl.Bool("password-stdin", false, "read the new password from the first line of standard input (required)")
	dataDir := fl.String("data", "./lambdalab-data", "folder of the SQLite database DATA/lambdalab.db, used unless --database or $"+databaseEnv+" names one")
	dbFlag := fl.String("database", "", databaseHelp)
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	switch {
	case fl.NArg() > 0:
		return fmt.Errorf("user reset-password: unexpected argument %q", fl.Arg(0))
	case strings.TrimSpace(*email) == "":
		return errors.New("user reset-password: --email is required")
	case !*passwordStdin:
		return errors.New("user reset-password: --password-stdin is required (pipe the password in so it stays out of the shell history)")
	}
	target, err := databaseTarget(*dbFlag, *dataDir, getenv)
	if err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	// A mistyped --data must not leave an empty database behind.
	if err := requireDatabase(target); err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	pw, err := readPasswordLine(stdin)
	if err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	hash, err := store.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	db, err := store.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, *email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("user reset-password: no user %s in %s", strings.TrimSpace(*email), store.RedactTarget(target))
	case err != nil:
		return fmt.Errorf("user reset-password: %w", err)
	}
	// SetPasswordHash ends every session in the same transaction: whoever
	// was signed in as the user, perhaps the reason for the reset, is out.
	if err := db.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return fmt.Errorf("user reset-password: %w", err)
	}
	fmt.Fprintf(stdout, "set a new password for %s and signed them out everywhere\n", u.Email)
	return nil
}
