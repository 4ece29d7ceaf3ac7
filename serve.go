package main

import (
	"context"
	"errors"
	"io"
)

// runServe is implemented by the course-site work (issue 2).
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("serve: not built yet")
}
