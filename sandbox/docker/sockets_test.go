package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/system"

	"lambdalab/sandbox"
	"lambdalab/sandbox/instdir"
)

// probeEnv, when set, makes the test binary a probe instead: it runs as
// another host user (see runProbe), tries the paths it names and prints
// what each attempt returned.
const probeEnv = "LAMBDALAB_SOCKET_PROBE"

type probeTargets struct {
	InstanceDir string // must be reachable: the socket directory is the barrier
	SockDir     string
	Stream      string // aws.sock
	Dgram       string // xray.sock
}

// probeResult holds, per attempt, "" for success, "EACCES", or another
// error's text.
type probeResult struct {
	StatInstanceDir, ListSockDir, ConnectStream, ConnectDgram string
}

func init() {
	spec := os.Getenv(probeEnv)
	if spec == "" {
		return
	}
	var tg probeTargets
	if err := json.Unmarshal([]byte(spec), &tg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	word := func(err error) string {
		switch {
		case err == nil:
			return ""
		case errors.Is(err, syscall.EACCES):
			return "EACCES"
		}
		return err.Error()
	}
	var r probeResult
	_, err := os.Stat(tg.InstanceDir)
	r.StatInstanceDir = word(err)
	_, err = os.ReadDir(tg.SockDir)
	r.ListSockDir = word(err)
	c, err := net.Dial("unix", tg.Stream)
	if err == nil {
		c.Close()
	}
	r.ConnectStream = word(err)
	c, err = net.Dial("unixgram", tg.Dgram)
	if err == nil {
		c.Close()
	}
	r.ConnectDgram = word(err)
	json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(0)
}

// runProbe starts this test binary again as cred (through /proc/self/exe,
// which needs no search permission on the build directory) and returns
// what it could reach.
func runProbe(t *testing.T, cred *syscall.Credential, tg probeTargets) probeResult {
	t.Helper()
	spec, _ := json.Marshal(tg)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{probeEnv + "=" + string(spec), "LAMBDALAB_TEST_INIT=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe as uid %d: %v: %s", cred.Uid, err, stderr.Bytes())
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe as uid %d printed %q: %v", cred.Uid, out, err)
	}
	return r
}

// TestSocketsClosedToOtherUsers checks, in each way lambdalab can protect
// an instance's sockets, that the function still works end to end (an
// invoke over aws.sock, a datagram over xray.sock), that a process with the
// container user's host credentials may connect, and that another host user
// (uid 12345) gets EACCES on the socket directory and on both sockets while
// the instance directory above them is open to it.
// LAMBDALAB_TEST_OCI_RUNTIME=runsc runs it under gVisor.
func TestSocketsClosedToOtherUsers(t *testing.T) {
	requireDocker(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test starts processes as other host users (uid 12345 and the sandbox's 993)")
	}
	const testGroup = 54321 // stands for an unprivileged lambdalab's own group
	modes := []struct {
		name   string
		access sockAccess
	}{
		{"owner", sockAccess{mode: sockOwner, uid: sandboxUID, gid: sandboxUID}},
		{"acl", sockAccess{mode: sockACL, uid: sandboxUID, gid: sandboxUID}},
		{"group", sockAccess{mode: sockGroup, uid: sandboxUID, gid: sandboxUID, group: testGroup}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.access.mode == sockACL && os.Getenv("LAMBDALAB_TEST_OCI_RUNTIME") == "runsc" {
				t.Skip("gVisor ignores ACLs: decideSockAccess never picks them for runsc (TestDecideSockAccess)")
			}
			b := newSocketBackend(t)
			if m.access.mode == sockOwner && b.sock != m.access {
				t.Fatalf("as root New chose %+v, want %+v", b.sock, m.access)
			}
			b.sock = m.access // the other modes are an unprivileged lambdalab's
			rec := newSinkRecorder()
			in := startBound(t, b, sandbox.InstanceSpec{XRay: rec.sink}, binding(t, 256))
			got := result(t, invoke(t, in, 20*time.Second, map[string]any{"op": "echo", "value": "hi"}))
			if got["echo"] != "hi" || got["uid"] != 993.0 {
				t.Errorf("echo = %v, want hi as uid 993", got)
			}
			sent := result(t, invoke(t, in, 20*time.Second, map[string]any{"op": "udp", "datagrams": []string{"seg"}}))
			if sent["sent"] != 1.0 {
				t.Errorf("function sent %v datagrams, want 1", sent["sent"])
			}
			if d := rec.wait(t, 1); string(d[0]) != "seg" {
				t.Errorf("sink got %q, want seg", d)
			}

			tg := probeTargets{
				InstanceDir: in.dir,
				SockDir:     filepath.Join(in.dir, "sock"),
				Stream:      filepath.Join(in.dir, "sock", socketName),
				Dgram:       filepath.Join(in.dir, "sock", instdir.XRaySocketName),
			}
			stranger := runProbe(t, &syscall.Credential{Uid: 12345, Gid: 12345}, tg)
			want := probeResult{StatInstanceDir: "", ListSockDir: "EACCES", ConnectStream: "EACCES", ConnectDgram: "EACCES"}
			if stranger != want {
				t.Errorf("uid 12345 got %+v, want %+v", stranger, want)
			}

			// The container's user, as the host sees it; in group mode it
			// joins the group as GroupAdd makes the container do.
			sbx := &syscall.Credential{Uid: sandboxUID, Gid: sandboxUID}
			if m.access.mode == sockGroup {
				sbx.Groups = []uint32{testGroup}
			}
			if r := runProbe(t, sbx, tg); r.ConnectStream != "" || r.ConnectDgram != "" {
				t.Errorf("sandbox uid got %+v, want both connects to succeed", r)
			}
			if m.access.mode == sockGroup {
				// What the fallback guarantees and no more: a member of
				// lambdalab's group may connect.
				member := runProbe(t, &syscall.Credential{Uid: 12345, Gid: testGroup}, tg)
				if member.ConnectStream != "" {
					t.Errorf("a member of the group got %+v, want the connect to succeed", member)
				}
			}
			checkModes(t, m.access, tg)
		})
	}
}

// checkModes checks the permission bits and owners left on the directory
// and sockets: a mode that silently left them open would show here.
func checkModes(t *testing.T, a sockAccess, tg probeTargets) {
	t.Helper()
	want := map[sockMode][2]os.FileMode{
		sockOwner: {0o700, 0o600},
		sockACL:   {0o710, 0o660}, // the group bits show the ACL's mask
		sockGroup: {0o710, 0o660},
	}[a.mode]
	for i, p := range []string{tg.SockDir, tg.Stream, tg.Dgram} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		w := want[min(i, 1)]
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != w {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), w)
		}
		switch a.mode {
		case sockOwner:
			if sys.Uid != sandboxUID || sys.Gid != sandboxUID {
				t.Errorf("%s: owner %d:%d, want %d:%d", p, sys.Uid, sys.Gid, sandboxUID, sandboxUID)
			}
		case sockGroup:
			if int(sys.Gid) != a.group {
				t.Errorf("%s: group %d, want %d", p, sys.Gid, a.group)
			}
		case sockACL:
			buf := make([]byte, 256)
			n, err := syscall.Getxattr(p, aclXattr, buf)
			if err != nil || !bytes.Equal(buf[:n], aclBytes(sandboxUID, uint16(w>>6), uint16(w>>3&7))) {
				t.Errorf("%s: ACL %x, %v; want the sandbox user's entry", p, buf[:max(n, 0)], err)
			}
		}
	}
}

// newSocketBackend is newBackend with the data directory searchable by
// every user, so that only the socket directory can refuse the probe, and
// with LAMBDALAB_TEST_OCI_RUNTIME's runtime.
func newSocketBackend(t *testing.T) *Backend {
	t.Helper()
	ensureTestImage(t)
	if initErr != nil {
		t.Fatal(initErr)
	}
	dir, err := os.MkdirTemp("", "llt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), Options{
		Image:      imageRef,
		InitBinary: initBinary,
		DataDir:    dir,
		Runtime:    os.Getenv("LAMBDALAB_TEST_OCI_RUNTIME"),
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestSandboxHostIDs(t *testing.T) {
	tests := []struct {
		name     string
		info     system.Info
		uid, gid int
		wantErr  bool
	}{
		{"no remap", system.Info{SecurityOptions: []string{"name=seccomp,profile=default"}, DockerRootDir: "/var/lib/docker"}, 993, 993, false},
		{"remap", system.Info{SecurityOptions: []string{"name=seccomp,profile=default", "name=userns"}, DockerRootDir: "/var/lib/docker/100000.100000"}, 100993, 100993, false},
		{"remap, other gid", system.Info{SecurityOptions: []string{"name=userns"}, DockerRootDir: "/srv/docker/231072.300000"}, 232065, 300993, false},
		{"remap, unnamed root", system.Info{SecurityOptions: []string{"name=userns"}, DockerRootDir: "/var/lib/docker"}, 0, 0, true},
		{"remap, junk", system.Info{SecurityOptions: []string{"name=userns"}, DockerRootDir: "/d/1.x"}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, gid, err := sandboxHostIDs(tt.info)
			if (err != nil) != tt.wantErr || uid != tt.uid || gid != tt.gid {
				t.Errorf("sandboxHostIDs(%v, %q) = %d, %d, %v; want %d, %d, error %v",
					tt.info.SecurityOptions, tt.info.DockerRootDir, uid, gid, err, tt.uid, tt.gid, tt.wantErr)
			}
		})
	}
}

func TestChooseSockAccessRootless(t *testing.T) {
	_, err := chooseSockAccess(system.Info{SecurityOptions: []string{"name=seccomp,profile=default", "name=rootless"}}, "runc", t.TempDir())
	if err == nil {
		t.Fatal("a rootless engine was accepted; its uids are not 993 on the host")
	}
}

// TestSetACL checks the encoded ACL against what the kernel makes of it:
// the mode it derives, and that it reads back the same entries.
func TestSetACL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setACL(p, 4242, 0o6, 0o6); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) {
			t.Skipf("the temp directory's file system has no ACLs: %v", err)
		}
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o660 {
		t.Errorf("mode after setACL = %v, want 0660 (owner rw, mask rw, other none)", st.Mode().Perm())
	}
	buf := make([]byte, 256)
	n, err := syscall.Getxattr(p, aclXattr, buf)
	if err != nil || !bytes.Equal(buf[:n], aclBytes(4242, 0o6, 0o6)) {
		t.Errorf("ACL read back %x, %v; want %x", buf[:max(n, 0)], err, aclBytes(4242, 0o6, 0o6))
	}
}

func TestDecideSockAccess(t *testing.T) {
	noACL := func() error { return fmt.Errorf("setxattr: %w", syscall.EOPNOTSUPP) }
	aclOK := func() error { return nil }
	broken := func() error { return syscall.EIO }
	tests := []struct {
		name        string
		euid, egid  int
		runtime     string
		uid         int
		probe       func() error
		want        sockAccess
		wantErr     bool
		probeCalled bool
	}{
		{"root", 0, 0, "runc", 993, broken, sockAccess{mode: sockOwner, uid: 993, gid: 993}, false, false},
		{"root, remapped", 0, 0, "runsc", 100993, broken, sockAccess{mode: sockOwner, uid: 100993, gid: 993}, false, false},
		{"user, acl", 1000, 1000, "runc", 993, aclOK, sockAccess{mode: sockACL, uid: 993, gid: 993}, false, true},
		{"user, acl, remapped", 1000, 1000, "runc", 100993, aclOK, sockAccess{mode: sockACL, uid: 100993, gid: 993}, false, true},
		{"user, no acl", 1000, 1000, "runc", 993, noACL, sockAccess{mode: sockGroup, uid: 993, gid: 993, group: 1000}, false, true},
		{"user, gvisor", 1000, 1000, "runsc", 993, aclOK, sockAccess{mode: sockGroup, uid: 993, gid: 993, group: 1000}, false, false},
		{"user, no acl, remapped", 1000, 1000, "runc", 100993, noACL, sockAccess{}, true, true},
		{"user, gvisor, root group", 1000, 0, "runsc", 993, aclOK, sockAccess{}, true, false},
		{"user, probe fails", 1000, 1000, "runc", 993, broken, sockAccess{}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			probe := func() error { called = true; return tt.probe() }
			got, err := decideSockAccess(tt.euid, tt.egid, tt.runtime, tt.uid, 993, probe)
			if got != tt.want || (err != nil) != tt.wantErr || called != tt.probeCalled {
				t.Errorf("decideSockAccess(euid %d, egid %d, %s, uid %d) = %+v, %v (probed %v); want %+v, error %v (probed %v)",
					tt.euid, tt.egid, tt.runtime, tt.uid, got, err, called, tt.want, tt.wantErr, tt.probeCalled)
			}
		})
	}
}
