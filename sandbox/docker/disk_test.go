package docker

import (
	"errors"
	"testing"

	"lambdalab/sandbox"
)

func TestTmpRoom(t *testing.T) {
	dir := t.TempDir()
	free, err := sandbox.FreeDiskMB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free < 512+sandbox.DiskReserveMB {
		t.Skipf("only %d MB free here", free)
	}
	if err := tmpRoom(dir, 512); err != nil {
		t.Errorf("tmpRoom(512 MB) with %d MB free = %v, want room", free, err)
	}
	// A /tmp that would eat into the reserve is refused as the machine
	// being busy.
	err = tmpRoom(dir, int(free))
	if !errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("tmpRoom(%d MB) with %d MB free = %v, want ErrCapacity", free, free, err)
	}
	if err := tmpRoom("/no/such/dir", 512); err == nil || errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("tmpRoom of a missing folder = %v, want a plain error", err)
	}
}
