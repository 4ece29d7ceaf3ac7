package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"lambdalab/store"
)

// Which database a command opens, the same way for every command that
// opens one (serve, user, xray-layer --publish).

// databaseEnv names the database when a command is given no --database.
const databaseEnv = "LAMBDALAB_DATABASE_URL"

// databaseHelp is the --database flag's help, the same on every command.
const databaseHelp = "the database: a postgres:// URL, or a SQLite file (default $" + databaseEnv + ", else DATA/lambdalab.db)"

// databaseTarget is the database a command opens: --database, else
// $LAMBDALAB_DATABASE_URL, else the SQLite file in the data folder. A
// target that is a URL but not a PostgreSQL one is refused: taken for a
// file path, it would become a new, empty SQLite database.
func databaseTarget(flagValue, dataDir string, getenv func(string) string) (string, error) {
	target, from := flagValue, "--database"
	if target == "" {
		target, from = getenv(databaseEnv), databaseEnv
	}
	if target == "" {
		return filepath.Join(dataDir, "lambdalab.db"), nil
	}
	if strings.Contains(target, "://") && !store.IsPostgresURL(target) {
		return "", fmt.Errorf("%s %s: not a postgres:// or postgresql:// URL, nor a SQLite file path", from, store.RedactTarget(target))
	}
	return target, nil
}

// requireDatabase refuses a SQLite target that does not exist, for the
// commands that only read or change what is there: opening it would create
// an empty database where a mistyped path pointed. A PostgreSQL database
// is checked by connecting to it.
func requireDatabase(target string) error {
	if store.IsPostgresURL(target) {
		return nil
	}
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s (use --data to point at the data folder, or --database)", target)
	}
	return nil
}
