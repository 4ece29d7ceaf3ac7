package s3

import (
	"context"
	"fmt"
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
		// link touches the file first, so that Sweep cannot take the new
		// name for a leftover before this transaction commits.
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
