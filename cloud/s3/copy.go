package s3

import (
	"context"
	"fmt"
	"os"
	"time"
)

// CopyAccount copies account from into the empty scratch account to: the
// rows of both Lambda and S3 in one transaction (store.CopyAccount), with
// every body kept in a file given a file of its own, a hard link where the
// file system has them and a copy where it has not.
//
// Bodies are never shared by name between the two accounts, and that is
// what keeps the original whole: an overwrite or a delete removes the file
// its row names (backend.put, DeleteMulti, DeleteBucket), so the copy's
// writes only ever remove the copy's names, and the inode of a hard link
// stays until its last name goes. Deleting the scratch account later leaves
// its names unreferenced for Sweep.
func (s *Service) CopyAccount(ctx context.Context, from, to string) error {
	var made []string
	err := s.db.CopyAccount(ctx, from, to, func(old string) (string, error) {
		// A hard link has its file's modification time, which may be older
		// than Sweep's grace: Sweep, running between the link and the
		// commit that names it, would take it for a leftover. Touching the
		// file first makes the new name young from its first moment; the
		// original's file only looks newer, which makes Sweep keep it
		// longer, and nothing else reads the time.
		now := time.Now()
		if err := os.Chtimes(s.files.path(old), now, now); err != nil {
			return "", fmt.Errorf("touch body %s: %w", old, err)
		}
		name, err := s.files.link(old)
		if err != nil {
			return "", fmt.Errorf("link body %s: %w", old, err)
		}
		made = append(made, name)
		return name, nil
	})
	if err != nil {
		// Nothing names these: the transaction rolled back.
		s.files.remove(made...)
		return fmt.Errorf("copy s3 of account %s: %w", from, err)
	}
	return nil
}
