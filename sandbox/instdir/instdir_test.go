package instdir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lambdalab/sandbox"
)

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "instances", "0123456789abcdef")
	if err := Create(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{SockDir, TaskDir, OptDir, TmpDir} {
		st, err := os.Stat(filepath.Join(dir, d))
		if err != nil || !st.IsDir() {
			t.Errorf("after Create, %s: %v, %v; want a folder", d, st, err)
		}
	}
	// A file where the folder must go is an error, not a silent skip.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, TaskDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Create(bad); err == nil {
		t.Errorf("Create over a file named %s = nil, want an error", TaskDir)
	}
}

func TestTmpRoom(t *testing.T) {
	dir := t.TempDir()
	free, err := sandbox.FreeDiskMB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free < 512+sandbox.DiskReserveMB {
		t.Skipf("only %d MB free here", free)
	}
	if err := TmpRoom(dir, 512); err != nil {
		t.Errorf("TmpRoom(512 MB) with %d MB free = %v, want room", free, err)
	}
	// A /tmp that would eat into the reserve is refused as the machine
	// being busy.
	err = TmpRoom(dir, int(free))
	if !errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("TmpRoom(%d MB) with %d MB free = %v, want ErrCapacity", free, free, err)
	}
	if err := TmpRoom("/no/such/dir", 512); err == nil || errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("TmpRoom of a missing folder = %v, want a plain error", err)
	}
}

// TestLoopTmp mounts a real loop device, so it needs root, mkfs.ext4 and
// loop devices; it skips, saying which is missing, elsewhere.
func TestLoopTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("LoopTmp mounts a loop device: run the test as root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("no mkfs.ext4 here (Debian: e2fsprogs)")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "inst")
	if err := Create(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Remove(dir) }) // a failure below must not leave a mount behind
	const mb, uid = 32, 993
	if err := LoopTmp(context.Background(), dir, mb, uid); err != nil {
		t.Fatalf("LoopTmp: %v", err)
	}
	mnt := filepath.Join(dir, TmpDir)
	var fsst syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fsst); err != nil {
		t.Fatal(err)
	}
	const ext4Magic = 0xEF53
	if fsst.Type != ext4Magic {
		t.Errorf("%s is file system type %#x, want ext4 (%#x)", mnt, fsst.Type, ext4Magic)
	}
	// No reserved blocks: the learner may fill (nearly) all of it.
	if size := int64(fsst.Bavail) * fsst.Bsize; size < (mb-4)<<20 || size > mb<<20 {
		t.Errorf("%s has %d bytes available, want close to %d MB", mnt, size, mb)
	}
	st, err := os.Stat(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&fs.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("%s mode = %v, want drwxrwxrwt", mnt, st.Mode())
	}
	if owner := st.Sys().(*syscall.Stat_t).Uid; owner != uid {
		t.Errorf("%s owner = %d, want %d", mnt, owner, uid)
	}
	if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
		t.Errorf("fresh /tmp holds %v (%v), want nothing (no lost+found)", entries, err)
	}
	// A second LoopTmp in the same folder would overwrite a live image.
	if err := LoopTmp(context.Background(), dir, mb, uid); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second LoopTmp = %v, want fs.ErrExist", err)
	}

	// A process still holding a file keeps the mount busy: Remove detaches
	// it and removes the folder anyway.
	f, err := os.Create(filepath.Join(mnt, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Remove(dir); err != nil {
		t.Fatalf("Remove with a busy /tmp: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove, stat %s = %v, want not there", dir, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), " "+mnt+" ") {
		t.Errorf("%s is still in /proc/self/mountinfo after Remove", mnt)
	}
}

func TestRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "inst")
	if err := Create(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TaskDir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing mounted at tmp (a tmpfs instance): plain removal.
	if err := Remove(dir); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove, stat %s = %v, want not there", dir, err)
	}
	// Sweep removes folders that may be gone already.
	if err := Remove(dir); err != nil {
		t.Errorf("Remove of a missing folder = %v, want nil", err)
	}
}

func TestPlaceTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "a.txt"), "new")
	write(filepath.Join(src, "sub", "b.txt"), "b")
	write(filepath.Join(src, "x", "in-x"), "x") // a folder where dst has a file
	write(filepath.Join(src, "y"), "y")         // a file where dst has a folder
	if err := os.Symlink("a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	// What an earlier layer left: replaced where src has the name, kept
	// where it does not.
	write(filepath.Join(dst, "a.txt"), "old")
	write(filepath.Join(dst, "x"), "old file")
	write(filepath.Join(dst, "y", "old"), "old")
	write(filepath.Join(dst, "keep.txt"), "kept")

	if err := PlaceTree(src, dst); err != nil {
		t.Fatalf("PlaceTree: %v", err)
	}
	for name, want := range map[string]string{
		"a.txt": "new", "sub/b.txt": "b", "x/in-x": "x", "y": "y", "keep.txt": "kept", "link": "new",
	} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("dst/%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if link, err := os.Readlink(filepath.Join(dst, "link")); err != nil || link != "a.txt" {
		t.Errorf("dst/link -> %q, %v; want a symlink to a.txt", link, err)
	}
	// One file system: a hard link, not a copy.
	s1, _ := os.Stat(filepath.Join(src, "a.txt"))
	s2, _ := os.Stat(filepath.Join(dst, "a.txt"))
	if !os.SameFile(s1, s2) {
		t.Errorf("dst/a.txt is a copy, want a hard link to src/a.txt")
	}

	// A named pipe in the code could block whoever opens it: refused.
	odd := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(odd, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PlaceTree(odd, t.TempDir()); err == nil || !strings.Contains(err.Error(), "pipe is not a regular file") {
		t.Errorf("PlaceTree of a fifo = %v, want it refused", err)
	}
}

// TestCopyFile covers PlaceTree's fallback where a hard link cannot be made
// (code and instance folder on two file systems).
func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o750); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	got, _ := os.ReadFile(dst)
	if err != nil || st.Mode().Perm() != 0o750 || string(got) != "#!/bin/sh\n" {
		t.Errorf("copy = %q, %v, %v; want the content and mode 0750", got, st.Mode(), err)
	}
	s1, _ := os.Stat(src)
	if os.SameFile(s1, st) {
		t.Errorf("copyFile made a link, want a copy")
	}
	if err := copyFile(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("copyFile onto an existing file = %v, want fs.ErrExist (PlaceTree removes it first)", err)
	}
}
