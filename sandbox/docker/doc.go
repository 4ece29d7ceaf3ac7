// Package docker implements sandbox.Backend with one Docker container per
// Lambda execution environment, and builds the runtime image those
// containers run. It is the only package that imports the Docker SDK.
//
// # Instance sockets
//
// Each instance talks to the host through Unix sockets in its own folder,
// DataDir/instances/<id>/sock, bind-mounted read-only at /var/run/lambdalab
// into that container alone: aws.sock (the Runtime API and the emulated AWS
// endpoint; the socket is the caller's identity) and xray.sock (X-Ray
// datagrams). Whoever can connect to aws.sock acts as that instance's
// account, so no other user of the host may. Connecting needs search
// permission on the folder and write permission on the socket; the folder
// is closed before any socket is bound in it. Only two parties get in: the
// container's user (uid 993, as the host sees it) and lambdalab itself. How
// depends on what lambdalab may do (sockets.go); the backend logs its choice
// as socket_access when it starts:
//
//   - owner: lambdalab runs as root (as in CI). The folder (0700) and the
//     sockets (0600) are chowned to the sandbox user; root needs no grant.
//     This keeps out every host user except uid 993 itself, so no host
//     account may have that uid (the profile's User, reference/
//     sandbox-profile.md §4); the backend warns at start-up if one does.
//   - acl: lambdalab is an unprivileged member of the docker group and may
//     not chown. It keeps the folder (0700) and sockets (0600) and adds a
//     POSIX ACL entry giving uid 993 search on the folder and read-write on
//     the sockets, which a file's owner may do for any uid. Same guarantee
//     as owner. Needs ACL support in the data folder's file system (ext4,
//     xfs, btrfs and tmpfs have it) and runc: gVisor's Sentry checks access
//     from mode bits, owner and groups and ignores ACLs.
//   - group: unprivileged, and no ACLs (the file system has none, or the
//     runtime is runsc). The folder (0710) and sockets (0660) get
//     lambdalab's primary group, and the container joins that group
//     (HostConfig.GroupAdd). This also lets in every host member of that
//     group, so run lambdalab under a user whose primary group is its own.
//     It is refused when that group is root. Inside the container the group
//     opens nothing else: every other bind mount is read-only and /tmp is
//     the instance's own.
//
// Under the engine's userns-remap, uid 993 in the container is 993 plus the
// start of the remap range on the host (read from the engine's data root,
// named "<uid>.<gid>"): owner and acl use that uid, and group, which
// would need the shifted group, is refused. A rootless engine is refused:
// its uids map to the user's subordinate range, which lambdalab does not
// read.
//
// TestSocketsClosedToOtherUsers checks each mode: an invoke and an X-Ray
// datagram still go through, the sandbox's host uid may connect, and host
// uid 12345 gets EACCES on the folder and both sockets.
package docker

import (
	_ "github.com/docker/docker/client"
	_ "github.com/moby/go-archive"
)
