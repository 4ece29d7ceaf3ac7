package docker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/docker/api/types/system"
)

// Each instance's sockets (aws.sock: the Runtime API and the AWS endpoint;
// xray.sock) live in DataDir/instances/<id>/sock, which is bind-mounted into
// that instance alone. The host's other users must not reach them: whoever
// can connect to aws.sock speaks for the instance's account. So the
// directory is searchable, and the sockets writable (connect needs write),
// only by lambdalab and by the host uid that the container's user 993 is.
// How depends on what lambdalab may do; see sockMode.

// sockMode is how the socket directory is closed to other host users.
type sockMode int

const (
	// sockOwner: lambdalab runs as root. The directory (0700) and the
	// sockets (0600) belong to the sandbox user's host uid; root reaches
	// them anyway. Works on any file system.
	sockOwner sockMode = iota
	// sockACL: lambdalab is an unprivileged user (in the docker group) and
	// may not chown. It owns the directory and sockets itself, with no
	// group or other access, and a POSIX ACL entry gives the sandbox user's
	// host uid search on the directory and read-write on the sockets. The
	// owner of a file may set such an entry for any uid.
	sockACL
	// sockGroup: unprivileged, and either the data directory's file system
	// has no ACLs or the runtime is gVisor, which ignores them. The directory (0710) and sockets (0660) carry lambdalab's
	// primary group and the container joins that group (GroupAdd). This is
	// weaker: every host member of that group may connect too, so run
	// lambdalab under a user whose primary group is its own.
	sockGroup
)

func (m sockMode) String() string {
	switch m {
	case sockOwner:
		return "owner"
	case sockACL:
		return "acl"
	case sockGroup:
		return "group"
	}
	return "sockMode(" + strconv.Itoa(int(m)) + ")"
}

// sockAccess is the Backend's choice of sockMode and the ids it needs.
type sockAccess struct {
	mode sockMode
	// uid and gid are the host ids of the container's user 993: the same
	// numbers, or shifted by the daemon's userns-remap range.
	uid, gid int
	// group is the group the container joins in sockGroup mode.
	group int
}

// chooseSockAccess picks how instance sockets are protected, given the
// engine's info, the OCI runtime and the directory under which instance
// folders are made (probed for ACL support).
func chooseSockAccess(info system.Info, runtime, instances string) (sockAccess, error) {
	if slices.ContainsFunc(info.SecurityOptions, func(s string) bool { return strings.Contains(s, "name=rootless") }) {
		return sockAccess{}, errors.New("docker engine is rootless: its containers' uids map to this user's subordinate range, " +
			"which lambdalab does not read yet, so the instance sockets could not be limited to the sandbox user; use a rootful engine")
	}
	uid, gid, err := sandboxHostIDs(info)
	if err != nil {
		return sockAccess{}, err
	}
	probe := func() error {
		dir, err := os.MkdirTemp(instances, ".acl-probe-")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		return setACL(dir, uid, 0o7, 0o1)
	}
	a, err := decideSockAccess(os.Geteuid(), os.Getegid(), runtime, uid, gid, probe)
	if err != nil {
		return sockAccess{}, fmt.Errorf("instance sockets in %s: %w", instances, err)
	}
	return a, nil
}

// decideSockAccess is chooseSockAccess's rule, apart from the process and
// the file system: root owns-to-the-sandbox; otherwise an ACL where the
// runtime honours one, else lambdalab's group. gVisor's Sentry decides
// access from the mode bits, owner and groups it is given and never reads
// ACLs, so under runsc only the group works.
func decideSockAccess(euid, egid int, runtime string, uid, gid int, aclProbe func() error) (sockAccess, error) {
	a := sockAccess{mode: sockOwner, uid: uid, gid: gid}
	if euid == 0 {
		return a, nil
	}
	if runtime != "runsc" {
		err := aclProbe()
		if err == nil {
			a.mode = sockACL
			return a, nil
		}
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			return sockAccess{}, fmt.Errorf("probe for ACL support: %w", err)
		}
	}
	switch {
	case uid != sandboxUID:
		// Under userns-remap the container's groups are shifted too, and
		// only root may hand a file to the shifted group.
		return sockAccess{}, errors.New("neither an ACL (no file system support, or gVisor) nor a group can give the remapped sandbox user " +
			"alone access to them when lambdalab is not root; run lambdalab as root")
	case egid == 0:
		return sockAccess{}, errors.New("without ACLs (no file system support, or gVisor) the sandbox would have to join lambdalab's group, " +
			"which is root; run lambdalab under a user with a group of its own")
	}
	a.mode = sockGroup
	a.group = egid
	return a, nil
}

// sandboxHostIDs returns the host uid and gid of the container's user 993.
// With userns-remap the engine names its data root after the host ids that
// container root maps to ("/var/lib/docker/100000.100000"), and the
// subordinate range is contiguous from there.
func sandboxHostIDs(info system.Info) (uid, gid int, err error) {
	if !slices.ContainsFunc(info.SecurityOptions, func(s string) bool { return strings.Contains(s, "name=userns") }) {
		return sandboxUID, sandboxUID, nil
	}
	u, g, ok := strings.Cut(filepath.Base(info.DockerRootDir), ".")
	baseU, errU := strconv.Atoi(u)
	baseG, errG := strconv.Atoi(g)
	if !ok || errU != nil || errG != nil || baseU <= 0 || baseG <= 0 {
		return 0, 0, fmt.Errorf("docker engine remaps user namespaces but its data root %q does not say onto which host ids (want …/UID.GID)", info.DockerRootDir)
	}
	return baseU + sandboxUID, baseG + sandboxUID, nil
}

// protectDir closes an instance's (still empty) socket directory.
func (a sockAccess) protectDir(dir string) error {
	var err error
	switch a.mode {
	case sockOwner:
		if err = os.Chmod(dir, 0o700); err == nil {
			err = os.Chown(dir, a.uid, a.gid)
		}
	case sockACL:
		err = setACL(dir, a.uid, 0o7, 0o1)
	case sockGroup:
		if err = os.Chown(dir, -1, a.group); err == nil {
			err = os.Chmod(dir, 0o710)
		}
	}
	if err != nil {
		return fmt.Errorf("protect socket directory (%s mode): %w", a.mode, err)
	}
	return nil
}

// protectSocket gives a socket just bound in the protected directory to
// the sandbox user. The directory already keeps others out, so the moment
// between bind and this call exposes nothing.
func (a sockAccess) protectSocket(path string) error {
	var err error
	switch a.mode {
	case sockOwner:
		if err = os.Chmod(path, 0o600); err == nil {
			err = os.Chown(path, a.uid, a.gid)
		}
	case sockACL:
		err = setACL(path, a.uid, 0o6, 0o6)
	case sockGroup:
		if err = os.Chown(path, -1, a.group); err == nil {
			err = os.Chmod(path, 0o660)
		}
	}
	if err != nil {
		return fmt.Errorf("protect socket %s (%s mode): %w", filepath.Base(path), a.mode, err)
	}
	return nil
}

// groupAdd is the container's extra group, if the mode needs one.
func (a sockAccess) groupAdd() []string {
	if a.mode != sockGroup {
		return nil
	}
	return []string{strconv.Itoa(a.group)}
}

// POSIX ACL tags as the kernel stores them in system.posix_acl_access
// (linux/posix_acl.h, posix_acl_xattr.h).
const (
	aclXattr     = "system.posix_acl_access"
	aclVersion   = 2
	aclUserObj   = 0x01
	aclUser      = 0x02
	aclGroupObj  = 0x04
	aclMask      = 0x10
	aclOther     = 0x20
	aclUndefined = 0xffffffff
)

// setACL replaces path's access ACL with: owner ownerPerm, uid perm, and
// nothing for the owning group or others. The kernel derives the mode from
// it (the group bits become the mask, here perm).
func setACL(path string, uid int, ownerPerm, perm uint16) error {
	return syscall.Setxattr(path, aclXattr, aclBytes(uid, ownerPerm, perm), 0)
}

// aclBytes encodes the ACL for setACL: a version word, then entries sorted
// by tag, each a tag, a permission and an id, little-endian.
func aclBytes(uid int, ownerPerm, perm uint16) []byte {
	entries := []struct {
		tag, perm uint16
		id        uint32
	}{
		{aclUserObj, ownerPerm, aclUndefined},
		{aclUser, perm, uint32(uid)},
		{aclGroupObj, 0, aclUndefined},
		{aclMask, perm, aclUndefined},
		{aclOther, 0, aclUndefined},
	}
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// hostAccount names the host account that has the sandbox user's host uid,
// or "" when none does. Such an account could connect to every instance's
// sockets in the owner and acl modes.
func (a sockAccess) hostAccount() string {
	u, err := user.LookupId(strconv.Itoa(a.uid))
	if err != nil {
		return ""
	}
	return u.Username
}
