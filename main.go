// Command lambdalab is an interactive course and lab platform for AWS Lambda:
// lessons in a browser, and labs whose handlers run in a Docker sandbox that
// behaves like Lambda. main only wires the pieces together; see run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"lambdalab/sandbox/initproc"
)

// initName is the name this program runs under as PID 1 inside a sandbox
// instance, where the Docker backend mounts it (see sandbox/docker).
const initName = "lambdalab-init"

func main() {
	if filepath.Base(os.Args[0]) == initName {
		initproc.Main() // never returns
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitCode
	if errors.As(err, &code) {
		os.Exit(int(code))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lambdalab: %v\n", err)
		os.Exit(1)
	}
}

const usage = `lambdalab — learn AWS Lambda by running real handlers.

Usage:
  lambdalab serve   [--addr 127.0.0.1:8080] [--aws-addr 127.0.0.1:4566|off] [--data ./lambdalab-data] [--database URL|FILE] [--content DIR]
  lambdalab image   [--rebuild]        build or verify the Lambda runtime image
  lambdalab xray-layer [--out FILE] [--data DIR] [--refresh] [--publish --email E]   build the ready X-Ray SDK layer zip
  lambdalab user add --email E [--instructor] --password-stdin
  lambdalab user keys --email E [--rotate] [--endpoint-url URL]
  lambdalab grade   --lab ID [--dir DIR] [--json] [--content DIR]   grade a folder (code, actions.yaml, answers.yaml)
  lambdalab check   [--content DIR] [--lab ID] [-v]   prove every lab: solution passes, starter and wrong variants fail
  lambdalab migrate-to-postgres --from DATA --to URL   copy a SQLite installation into an empty PostgreSQL database
  lambdalab node run --server HOST:PORT --certs DIR   the agent on a Kubernetes sandbox node (LAMBDALAB_SANDBOX_BACKEND=kubernetes)
  lambdalab node cert --name NODE --out DIR [--data DIR]   issue a sandbox node's certificate
  lambdalab help

Every command that opens the database takes --database: a postgres:// URL,
or a SQLite file; $LAMBDALAB_DATABASE_URL gives the default, else it is
DATA/lambdalab.db. With PostgreSQL, --data still holds the files (code
packages, S3 bodies, caches).
`

// run is the whole program behind a testable signature: tests call it with
// their own arguments, environment and output streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "image":
		return runImage(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "grade":
		return runGrade(ctx, args[1:], getenv, stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], getenv, stdout, stderr)
	case "xray-layer":
		return runXRayLayer(ctx, args[1:], getenv, stdout, stderr)
	case "migrate-to-postgres":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "node":
		return runNode(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
