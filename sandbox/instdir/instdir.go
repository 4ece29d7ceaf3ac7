// Package instdir keeps one Lambda execution environment's folder on a host:
// its layout, a loop-mounted /tmp, the code and layers placed in it, the
// host end of its X-Ray relay, and its removal. Both the Docker backend
// (sandbox/docker) and the Kubernetes node agent (sandbox/node) do this
// around a container, so it lives here once. It knows nothing about Docker
// or Kubernetes: it is plain files, mounts and sockets.
package instdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"lambdalab/sandbox"
)

// The sub-folders of an instance folder. Each is mounted into the
// container: SockDir at /var/run/lambdalab (read-only; the instance's Unix
// sockets), TaskDir at /var/task and OptDir at /opt (read-only; the code and
// the layers), TmpDir at /tmp (the instance's own, see LoopTmp).
const (
	SockDir = "sock"
	TaskDir = "task"
	OptDir  = "opt"
	TmpDir  = "tmp"
)

// Create makes dir and its four sub-folders (0755). The caller closes SockDir
// to other host users before it binds any socket there.
func Create(dir string) error {
	for _, d := range []string{SockDir, TaskDir, OptDir, TmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// TmpRoom refuses a /tmp of mb megabytes when filling it would leave the
// data folder less than sandbox.DiskReserveMB free. The image is sparse, so
// this is the worst case, checked against the disk as it is now: the
// engine's disk budget books every /tmp at its full size, but other writers
// (the database, uploads, learners filling earlier /tmps) spend the same
// disk. The refusal is the machine being busy, not the learner's fault, so
// it wraps sandbox.ErrCapacity.
func TmpRoom(dir string, mb int) error {
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

// LoopTmp gives the instance in dir a private /tmp of mb megabytes: a sparse
// file dir/tmp.img formatted as ext4 and loop-mounted at dir/TmpDir, its root
// owned by uid (the sandbox user) and mode 1777 like any /tmp. Unlike a
// tmpfs, its pages are not charged to the memory limit
// (reference/sandbox-profile.md §3.4). It needs root, mkfs.ext4 and loop
// devices; what to do without them (a tmpfs instead) is the caller's
// choice. After an error the mount may still be there: Remove undoes it.
func LoopTmp(ctx context.Context, dir string, mb, uid int) error {
	img := filepath.Join(dir, "tmp.img")
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(mb) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// No journal and no reserved blocks: the data dies with the instance,
	// and the learner gets the whole size.
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-E", fmt.Sprintf("root_owner=%d:%d,lazy_itable_init=1,nodiscard", uid, uid), img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %w: %s", err, strings.TrimSpace(string(out)))
	}
	mnt := filepath.Join(dir, TmpDir)
	if out, err := exec.CommandContext(ctx, "mount", "-o", "loop,nosuid,nodev", img, mnt).CombinedOutput(); err != nil {
		return fmt.Errorf("mount: %w: %s", err, strings.TrimSpace(string(out)))
	}
	// A fresh /tmp is empty on Lambda.
	os.Remove(filepath.Join(mnt, "lost+found"))
	return os.Chmod(mnt, 0o777|fs.ModeSticky)
}

// Remove unmounts the instance's /tmp if it is mounted and removes dir.
// A missing dir is not an error: Remove also cleans up after crashed runs.
func Remove(dir string) error {
	mnt := filepath.Join(dir, TmpDir)
	if err := syscall.Unmount(mnt, 0); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
		// Busy (a process still holds it): detach now, freed when released.
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", mnt, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// PlaceTree puts the files of src into dst: hard links where both are on one
// file system (instant, no copy), copies otherwise. A file already in dst is
// replaced, which is how a later layer wins over an earlier one. Anything
// but regular files, folders and symlinks is refused.
func PlaceTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if st, err := os.Lstat(target); err == nil && !st.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			if err := os.Link(p, target); err == nil {
				return nil
			}
			return copyFile(p, target)
		default:
			return fmt.Errorf("%s is not a regular file, directory or symlink", rel)
		}
	})
}

// copyFile copies src to a new file dst with src's permission bits.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
