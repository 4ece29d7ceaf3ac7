package docker

import (
	"fmt"

	"lambdalab/sandbox"
)

// tmpRoom refuses a /tmp of mb megabytes when filling it would leave the
// data folder less than sandbox.DiskReserveMB free. The image is sparse, so
// this is the worst case, checked against the disk as it is now: the
// engine's disk budget books every /tmp at its full size, but other writers
// (the database, uploads, learners filling earlier /tmps) spend the same
// disk. The refusal is the machine being busy, not the learner's fault.
func tmpRoom(dir string, mb int) error {
	free, err := sandbox.FreeDiskMB(dir)
	if err != nil {
		return err
	}
	if free < int64(mb)+sandbox.DiskReserveMB {
		return fmt.Errorf("%w (its data folder has %d MB of disk free, and a %d MB /tmp must leave %d MB of it)",
			sandbox.ErrCapacity, free, mb, sandbox.DiskReserveMB)
	}
	return nil
}
