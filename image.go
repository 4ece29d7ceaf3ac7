package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"lambdalab/sandbox/docker"
)

// runImage builds the runtime image when the current recipe has none yet
// (`--rebuild` builds it even so) and prints its reference last.
func runImage(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("image", flag.ContinueOnError)
	fl.SetOutput(stderr)
	rebuild := fl.Bool("rebuild", false, "build the image even if it exists")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("image: unexpected argument %q", fl.Arg(0))
	}
	ref, err := docker.EnsureImage(ctx, stdout, *rebuild)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	fmt.Fprintln(stdout, ref)
	return nil
}
