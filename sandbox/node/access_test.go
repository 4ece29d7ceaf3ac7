package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// The helper process: the test binary run again under another uid, doing
// what an instance's code could try and saying how each went.
const (
	helperEnv = "NODE_TEST_HELPER" // set: run the helper, not the tests
	helperOps = "NODE_TEST_OPS"    // "connect PATH" and "stat PATH" lines
)

func runHelper() {
	for line := range strings.Lines(os.Getenv(helperOps)) {
		op, path, _ := strings.Cut(strings.TrimSpace(line), " ")
		var err error
		switch op {
		case "connect":
			var c net.Conn
			if c, err = net.Dial("unix", path); err == nil {
				c.Close()
			}
		case "stat":
			_, err = os.Stat(path)
		default:
			err = fmt.Errorf("unknown op %q", op)
		}
		res := "ok"
		switch {
		case errors.Is(err, syscall.EACCES):
			res = "EACCES"
		case err != nil:
			res = err.Error()
		}
		fmt.Printf("%s %s: %s\n", op, path, res)
	}
	os.Exit(0)
}

// asUser runs the helper as uid:gid with the given ops and returns one
// result per op.
func asUser(t *testing.T, helper string, uid int, ops ...string) []string {
	t.Helper()
	cmd := exec.Command(helper, "-test.run=^$")
	cmd.Env = []string{helperEnv + "=1", helperOps + "=" + strings.Join(ops, "\n")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as uid %d: %v\n%s", uid, err, out)
	}
	var res []string
	for line := range strings.Lines(string(out)) {
		_, r, _ := strings.Cut(strings.TrimSpace(line), ": ")
		res = append(res, r)
	}
	if len(res) != len(ops) {
		t.Fatalf("helper as uid %d: %d results for %d ops:\n%s", uid, len(res), len(ops), out)
	}
	return res
}

// TestSocketReach checks that an instance can reach only its own socket.
// Inside a Pod only the instance's own socket folder is mounted (PodFor:
// sandbox/kubernetes TestPodForProfile checks that /var/run/lambdalab is
// the hostPath SocketDir given, read-only), so the host paths of other
// instances' folders are all that is left to try, and uid 993, which every
// Pod runs as, is refused by Dir/instances (0700 root) on the way. The
// positive control mounts A's socket folder as the kubelet would: through
// it, uid 993 connects, and another uid does not.
func TestSocketReach(t *testing.T) {
	requireRoot(t)
	r := newRig(t)
	dir := r.agent(t, "node-a", nil)
	n := r.node(t, "node-a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const idA, idB = "00000000000000aa", "00000000000000bb"
	pa, err := n.Prepare(ctx, idA, sandbox.InstanceSpec{AWS: nopHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := n.Prepare(ctx, idB, sandbox.InstanceSpec{AWS: nopHandler{}})
	if err != nil {
		t.Fatal(err)
	}

	// The mode bits that all of this rests on.
	for _, c := range []struct {
		path string
		mode os.FileMode
		uid  uint32
	}{
		{filepath.Join(dir, "instances"), 0o700, 0},
		{pb.SocketDir, 0o700, sandboxUID},
		{filepath.Join(pb.SocketDir, "aws.sock"), 0o600, sandboxUID},
	} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != c.mode || st.Sys().(*syscall.Stat_t).Uid != c.uid {
			t.Errorf("%s: mode %v uid %d, want %v uid %d", c.path, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, c.mode, c.uid)
		}
	}

	// The helper, where other users may run it.
	open := shortTemp(t)
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(open, "helper")
	copyExecutable(t, self, helper)
	// A's socket folder where a Pod would see it: its own bind mount.
	mnt := filepath.Join(open, "var-run-lambdalab")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(pa.SocketDir, mnt, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here to play the kubelet: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}

	got := asUser(t, helper, sandboxUID,
		"stat "+dir,
		"stat "+filepath.Join(dir, "instances", idB),
		"connect "+filepath.Join(pb.SocketDir, "aws.sock"),
		"connect "+filepath.Join(mnt, "aws.sock"))
	want := []string{"ok", "EACCES", "EACCES", "ok"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("as uid 993: %s, want %s (all: %v)", got[i], want[i], got)
		}
	}
	// Another host user does not get in even through the mount.
	if got := asUser(t, helper, 12345, "connect "+filepath.Join(mnt, "aws.sock")); got[0] != "EACCES" {
		t.Errorf("as uid 12345 through A's mount: %s, want EACCES", got[0])
	}
}

type nopHandler struct{}

func (nopHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
