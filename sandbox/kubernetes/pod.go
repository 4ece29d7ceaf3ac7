package kubernetes

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"lambdalab/facts"
	"lambdalab/sandbox"
)

// Pod labels, named after the Docker backend's container labels. Every Pod
// carries labelAll ("1"), labelInstance and labelOwner; a bound one also
// labelAccount, labelFunction and labelVersion. Label values are limited
// to 63 characters of [A-Za-z0-9._-] (a version is "$LATEST"), so each is
// written through labelValue and the exact value is kept in the annotation
// of the same key.
const (
	labelAll      = "lambdalab"
	labelInstance = "lambdalab.instance"
	// labelOwner names the lambdalab process (the controller) that runs the
	// instance, so that Sweep can tell its Pods from those a dead one left.
	labelOwner    = "lambdalab.owner"
	labelAccount  = "lambdalab.account"
	labelFunction = "lambdalab.function"
	labelVersion  = "lambdalab.version"
)

// In-container paths, the same as the Docker backend's
// (reference/sandbox-profile.md §4 and §5).
const (
	containerName = "function"
	initPath      = "/var/runtime/lambdalab-init"
	socketDirPath = "/var/run/lambdalab"
	sandboxUID    = 993
)

// terminationGrace is the Pod's terminationGracePeriodSeconds. Not 0: a
// Pod whose spec says 0 is removed from the API at once on delete, before
// the kubelet has stopped its container, so the scheduler and Sweep would
// count a node's room and a Pod as gone while learner code still runs.
// The kubelet stretches anything below 2 s to 2 s (kuberuntime's
// minimumGracePeriodInSeconds); the node agent kills the instance's
// processes itself when it must be sooner (doc.go).
const terminationGrace = 1

// minMilliCPU is the smallest CPU limit worth writing: the kubelet turns
// millicores into a CFS quota per 100 ms period, and the kernel's floor is
// 1 ms of it (the Docker backend's setCPU floor, 1000 µs).
const minMilliCPU = 10

// PodInput is what PodFor needs to describe one instance's Pod. The host
// folders are on Node and are prepared by the node agent before the Pod is
// created (reference/scale-out.md); Kubernetes only mounts them.
type PodInput struct {
	// InstanceID is the instance's id (16 hex digits, as the Docker backend
	// makes them); the Pod is named PodName(InstanceID).
	InstanceID string
	// Image is the runtime image (`lambdalab image`), present on the node:
	// it is never pulled when there.
	Image string
	// Node is the sandbox node whose agent prepared the folders below: the
	// Pod's spec.nodeName. Empty leaves the node to the scheduler.
	Node string

	// MemoryMB is the function's memory (128 to 10,240, which the sandbox
	// has checked): the container's memory limit and request, exactly.
	MemoryMB int
	// NanoCPUs is the CPU limit in billionths of a CPU (the request is
	// part of it, cpuRequest). Zero means Lambda's share for MemoryMB
	// (sandbox.NanoCPUs). Backend creates Pods at the unbound size and
	// resizes them at Bind (Cluster.Resize).
	NanoCPUs int64
	// EphemeralMB is the size of the instance's /tmp (512 to 10,240; zero
	// means 512). The /tmp is the node agent's loop file system, which
	// Kubernetes does not see; it is requested as ephemeral-storage so that
	// the scheduler books the node's disk for it, as the Docker engine's
	// disk budget books every /tmp at its full size.
	EphemeralMB int

	// Host paths on Node. InitBinary is the static init executable, at
	// /var/runtime/lambdalab-init; SocketDir holds the instance's sockets
	// (at /var/run/lambdalab); CodeDir and LayersDir the extracted package
	// and merged layers (at /var/task and /opt). All four are read-only.
	// TmpDir is the mounted /tmp file system, the one writable mount.
	InitBinary string
	SocketDir  string
	CodeDir    string
	LayersDir  string
	TmpDir     string

	// Owner identifies the lambdalab process running the instance (see
	// Cluster.Sweep). AccountID, Function and Version say whom the instance
	// serves; they are empty while it is unbound.
	Owner     string
	AccountID string
	Function  string
	Version   string
}

// newID makes an instance id: 16 hex digits, as the Docker backend's.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PodName is the name of an instance's Pod: the Docker backend's container
// name, a valid DNS subdomain for the ids lambdalab makes.
func PodName(instanceID string) string { return "lambdalab-" + instanceID }

// PodFor describes the Pod of one instance with lambdalab's isolation
// profile, the Docker backend's as far as a Pod can express it (doc.go says
// what the node adds): uid and gid 993, no capabilities, no privilege
// escalation, the runtime's default seccomp profile, a read-only root, the
// code, layers and socket folder read-only, memory and disk requested
// exactly as limited, CPU requested at half its limit (cpuOvercommit), no
// service account token, no service environment variables, no DNS, never
// restarted, CPU and memory resizable in place.
func PodFor(in PodInput) *corev1.Pod {
	mem := in.MemoryMB
	nano := in.NanoCPUs
	if nano <= 0 {
		nano = sandbox.NanoCPUs(mem)
	}
	tmpMB := in.EphemeralMB
	if tmpMB <= 0 {
		tmpMB = facts.DefaultEphemeralMB
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:              cpuQuantity(nano),
		corev1.ResourceMemory:           *resource.NewQuantity(int64(mem)<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(tmpMB)<<20, resource.BinarySI),
	}

	requests := res.DeepCopy()
	requests[corev1.ResourceCPU] = cpuRequest(nano)

	labels, annotations := podLabels(map[string]string{
		labelInstance: in.InstanceID,
		labelOwner:    in.Owner,
		labelAccount:  in.AccountID,
		labelFunction: in.Function,
		labelVersion:  in.Version,
	})
	labels[labelAll] = "1"

	hostDir := corev1.HostPathDirectory // the node agent made it; never an empty stand-in
	hostFile := corev1.HostPathFile
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        PodName(in.InstanceID),
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			OS:                            &corev1.PodOS{Name: corev1.Linux},
			RestartPolicy:                 corev1.RestartPolicyNever, // an instance that dies is replaced, never restarted
			TerminationGracePeriodSeconds: ptr(int64(terminationGrace)),
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			// The API refuses dnsPolicy None without a nameserver. Nothing
			// answers on the Pod's own loopback, so a lookup is refused at
			// once instead of waiting on the cluster's resolver, and no
			// search domains name the cluster's services.
			DNSPolicy: corev1.DNSNone,
			DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}},
			// Bound to the node outright: the agent made the folders there, so
			// no other node can run it, and the kubelet's admission refuses a
			// node without room at once (OutOfcpu, read as ErrUnschedulable)
			// where a scheduler would leave it Pending. Sandbox namespaces then
			// need no scheduler at all.
			NodeName: in.Node,
			Containers: []corev1.Container{{
				Name:            containerName,
				Image:           in.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{initPath},
				WorkingDir:      "/var/task",
				Env: []corev1.EnvVar{
					{Name: "PATH", Value: "/var/lang/bin:/usr/local/bin:/usr/bin:/bin"},
					{Name: "LAMBDALAB_SOCKET_DIR", Value: socketDirPath},
				},
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: res},
				// NotRequired: the kubelet changes the cgroup in place and
				// the warm instance lives on (the only policy restartPolicy
				// Never allows, and said outright rather than defaulted).
				ResizePolicy: []corev1.ContainerResizePolicy{
					{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired},
					{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.NotRequired},
				},
				SecurityContext: &corev1.SecurityContext{
					RunAsUser:                ptr(int64(sandboxUID)),
					RunAsGroup:               ptr(int64(sandboxUID)),
					RunAsNonRoot:             ptr(true),
					Privileged:               ptr(false),
					AllowPrivilegeEscalation: ptr(false), // no-new-privileges
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					ReadOnlyRootFilesystem:   ptr(true),
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "init", MountPath: initPath, ReadOnly: true},
					{Name: "sock", MountPath: socketDirPath, ReadOnly: true},
					{Name: "task", MountPath: "/var/task", ReadOnly: true},
					{Name: "opt", MountPath: "/opt", ReadOnly: true},
					{Name: "tmp", MountPath: "/tmp"},
					// Every Pod gets a writable 64 MB /dev/shm from its
					// sandbox; Lambda has none, and Docker's IpcMode none
					// leaves none. An empty read-only folder takes its place
					// (containerd mounts no /dev/shm where the Pod has one).
					{Name: "no-shm", MountPath: "/dev/shm", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "init", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: in.InitBinary, Type: &hostFile}}},
				{Name: "sock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: in.SocketDir, Type: &hostDir}}},
				{Name: "task", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: in.CodeDir, Type: &hostDir}}},
				{Name: "opt", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: in.LayersDir, Type: &hostDir}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: in.TmpDir, Type: &hostDir}}},
				{Name: "no-shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// milliCPU converts a CPU share in billionths of a CPU to the millicores a
// Pod's resources are written in: rounded down, as the Docker backend's
// quota is, and at least minMilliCPU.
func milliCPU(nano int64) int64 {
	return max(nano/1e6, minMilliCPU)
}

func cpuQuantity(nano int64) resource.Quantity {
	return *resource.NewMilliQuantity(milliCPU(nano), resource.DecimalSI)
}

// cpuOvercommit is how many vCPUs of quota the node books per vCPU it has,
// as the Docker backend's default budget does (package main's
// cpuOvercommit): a CPU limit is Lambda's ceiling, not a reservation, and
// lab handlers mostly wait. A Pod therefore requests half its CPU limit
// (the Burstable QoS class; its memory is still requested in full, so
// memory is never overcommitted). Requests equal to limits (Guaranteed)
// would book every quota: a 2-core node would hold three unbound
// instances, or 27 of 128 MB, where the Docker backend holds 16 per core.
const cpuOvercommit = 2

// cpuRequest is the CPU a Pod with a CPU limit of nano requests.
func cpuRequest(nano int64) resource.Quantity { return cpuQuantity(nano / cpuOvercommit) }

// labelValue makes s a valid label value: s itself when it is one,
// otherwise its valid characters (at most 46, ends trimmed to letters and
// digits) and 16 hex digits of its SHA-256, so that two values that differ
// keep different labels and a selector on one value stays exact.
// podLabels are the labels and annotations for the given keys and values:
// each value as a label (labelValue) and exactly as an annotation of the
// same key. Empty values are left out.
func podLabels(values map[string]string) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	for k, v := range values {
		if v != "" {
			labels[k], annotations[k] = labelValue(v), v
		}
	}
	return labels, annotations
}

func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	keep := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, s)
	keep = keep[:min(len(keep), 46)]
	keep = strings.TrimFunc(keep, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:8])
	if keep == "" {
		return h
	}
	return keep + "-" + h
}

func ptr[T any](v T) *T { return &v }
