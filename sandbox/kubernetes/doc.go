// Package kubernetes is a sandbox backend that runs each Lambda execution
// environment as one Pod on a sandbox node: the Pod (PodFor), its life on
// the API server (Cluster: create, wait until it runs or ends, read its
// state, resize it in place, delete, sweep), and Backend, which implements
// sandbox.Backend over a Cluster and the node agents linked to this server
// (lambdalab/sandbox/node). On each node the agent (`lambdalab node run`)
// prepares an instance's folders and serves its Runtime API on the Unix
// socket there, as the Docker backend does on its host; the Pod mounts
// those folders, so the in-container init and identity-by-socket are the
// same on both backends (reference/scale-out.md). It and its test helpers
// k8stest and k8sstack are the only packages that import client-go. It
// knows nothing of Docker.
//
// # An instance's life
//
// Start picks the linked node with the fewest instances, has its agent
// make the folder (sockets, code, layers, a loop-mounted /tmp) and creates
// the Pod bound to that node (spec.nodeName: the folders exist only there)
// at the unbound size, 1,024 MB and Lambda's CPU share for it; it returns
// once the container runs and its init waits on the socket. Bind resizes
// the Pod to the function's memory (pods/resize, so the API server refuses
// what the node cannot hold), then the agent writes that limit on the
// Pod's cgroup at once, places the code, starts the runtime, waits for its
// init and cuts the CPU quota to the function's share in place; then the
// spec takes that share too, and Bind waits until the kubelet has applied
// it, since until then the kubelet writes its older sizes back into the
// cgroups. Meanwhile the Pod gets its function's labels. Invokes go to the agent over its link. A
// watch on the Pod tells the agent when the container ends under a live
// instance. Close has the agent kill every process of the Pod through its
// cgroup (the kubelet would allow a grace period) and read the OOM counter,
// then deletes the Pod.
//
// # What the Pod enforces
//
// The container profile of sandbox/docker, as far as a Pod expresses it:
// uid and gid 993 (runAsNonRoot), no capabilities, allowPrivilegeEscalation
// false (no-new-privileges), the runtime's default seccomp profile, a
// read-only root, the init binary, code, layers and socket folder mounted
// read-only from the node, the memory limit exactly the function's memory,
// a CPU limit in proportion to it (sandbox.NanoCPUs, resizable in place
// through pods/resize), memory and disk requested as limited and CPU at
// half its limit (cpuOvercommit, as the Docker backend books CPU), no
// service account token, no service environment variables, no DNS, never
// restarted.
//
// # What Kubernetes cannot enforce, and how the node closes it
//
// Measured on kubelet 1.37.2 with containerd 2.4.2 on cgroup v1
// (reference/scale-out.md; k8stest.Node, node_test.go, and the sandbox
// suite with LAMBDALAB_TEST_BACKEND=kubernetes), except where an item says
// it was read from the kubelet's source:
//
//   - No network interface. Docker's NetworkMode none leaves only lo; every
//     Pod gets an interface from the node's CNI plugin (a loopback-only CNI
//     configuration fails: "failed to find network info for sandbox").
//     Sandbox nodes get a CNI bridge of their own with no gateway, no
//     masquerade and no routes, so that a Pod has lo and eth0 and every
//     connection off its /24 fails with ENETUNREACH (the internet and the
//     node's own kubelet port alike). EnsureNamespace also gives the
//     namespace a default-deny NetworkPolicy, which holds only under a CNI
//     plugin that enforces policies (the bridge plugin here does not, so
//     it was not testable). The Runtime API does not need the
//     network: it is the Unix socket in the read-only socket folder.
//   - Ulimits. A Pod has no per-container rlimits (Docker sets nofile 1024
//     and core 0). Sandbox nodes set them in containerd's base runtime
//     spec, which applies to every container on the node (without one, a
//     container inherits containerd's own). The process limit (Docker's
//     pids limit, Lambda's 1,024) is the kubelet's podPidsLimit, also per
//     node: a fork bomb in a Pod is refused after about a thousand forks.
//   - No /dev/shm. Every Pod gets a writable one; PodFor mounts an empty
//     read-only folder over it, so a write fails with EROFS (ENOENT on
//     Docker and Lambda).
//   - A hard /tmp size. An emptyDir's sizeLimit is enforced only by
//     eviction, after the disk has filled. The node agent keeps the Docker
//     backend's per-instance loop file system, a sparse file formatted as
//     ext4 and mounted at PodInput.TmpDir, which the Pod mounts by
//     hostPath: it fills up at its size. Its size is also requested as
//     ephemeral-storage, so that the scheduler books the node's disk for it.
//   - User namespaces. hostUsers: false was refused by containerd 1.6 and
//     2.4.2 on these machines, so uid 993 in the Pod is uid 993 on the node,
//     as under Docker: no node account may have that uid, which the node
//     agent is to check as the Docker backend does at start-up.
//   - Swap (read, not measured: these machines have none). Docker sets
//     swap equal to memory. The node agent writes the Pod's memory+swap
//     limit equal to its memory limit, so a kubelet that allows Burstable
//     Pods swap (LimitedSwap) cannot give any.
//   - A prompt SIGKILL. Docker's Close kills at once; the kubelet gives any
//     container at least 2 s after SIGTERM (read from its source). The
//     node agent kills the instance's processes itself when it closes one,
//     then deletes the Pod.
//   - A reliable OOM verdict. The kubelet reports OOMKilled from the
//     runtime, which can miss a kill as Docker's engine can; the node agent
//     reads the oom_kill counter of every memory cgroup folder of the Pod
//     (a kill in the container's folder is not counted in the Pod's), as
//     the Docker backend reads its container's.
//   - Quotas below a container's. cgroup v1 refuses a Pod's folder a CFS
//     quota below one of its children's (EINVAL), so the agent lowers the
//     CPU quota in the container folders first and raises it in the Pod's
//     first. It writes the memory limit on the container folders as well
//     as the Pod's: the Pod's alone holds, but a function reads its own
//     folder's.
//
// Two differences stay, measured and accepted: with cgroup v1 containerd
// gives a container no cgroup namespace, so /proc/self/cgroup names the
// Pod's UID and container id under kubepods (Docker shows "/"; nothing of
// the node beyond those ids); and the kubelet sets a Burstable container's
// oom_score_adj from its memory request (958 for 1,024 MB on a 24 GB
// node; Docker leaves 0), which only makes an instance the node's OOM
// killer's first choice, before the agent and the kubelet. A function
// still cannot lower it.
//
// # Names
//
// A Pod is named "lambdalab-<instance id>" and labelled like the Docker
// backend's containers (lambdalab=1, lambdalab.instance, lambdalab.owner,
// lambdalab.account, lambdalab.function, lambdalab.version). A namespace
// belongs to one lambdalab installation; Sweep relies on it. It must admit
// hostPath volumes, which the Pod Security "baseline" and "restricted"
// levels forbid: the sandbox namespace must be labelled privileged
// (pod-security.kubernetes.io/enforce), and the profile above is what
// stands in for those levels' other checks.
package kubernetes
