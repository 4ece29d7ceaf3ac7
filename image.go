package main

import (
	"context"
	"errors"
	"io"
)

// runImage is implemented by the sandbox work (issue 3).
func runImage(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("image: not built yet")
}
