package kubernetes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"lambdalab/sandbox"
)

// The CPU limit follows the sandbox's rule (one vCPU at 1,769 MB), written
// in millicores, rounded down, never below the kernel's 1 ms per 100 ms.
func TestMilliCPU(t *testing.T) {
	tests := []struct {
		name string
		nano int64
		want int64
	}{
		{"128 MB", sandbox.NanoCPUs(128), 72},
		{"512 MB", sandbox.NanoCPUs(512), 289},
		{"1769 MB is one vCPU", sandbox.NanoCPUs(1769), 1000},
		{"3008 MB", sandbox.NanoCPUs(3008), 1700},
		{"10240 MB", sandbox.NanoCPUs(10240), 5788},
		{"just under a millicore more", 72_999_999, 72},
		{"below the quota floor", 5_000_000, 10},
		{"zero", 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := milliCPU(tt.nano); got != tt.want {
				t.Errorf("milliCPU(%d) = %d, want %d", tt.nano, got, tt.want)
			}
		})
	}
}

func TestPodForResources(t *testing.T) {
	tests := []struct {
		name                 string
		memMB, ephMB         int
		nano                 int64
		wantCPU, wantCPUReq  string
		wantMem              string
		wantEphemeralStorage string
	}{
		{"defaults from memory", 128, 0, 0, "72m", "36m", "128Mi", "512Mi"},
		{"explicit share", 1024, 2048, 2_000_000_000, "2", "1", "1Gi", "2Gi"},
		{"largest", 10240, 10240, 0, "5788m", "2894m", "10Gi", "10Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := PodFor(PodInput{InstanceID: "0123456789abcdef", MemoryMB: tt.memMB, NanoCPUs: tt.nano, EphemeralMB: tt.ephMB})
			c := pod.Spec.Containers[0]
			for _, rl := range []struct {
				what string
				list corev1.ResourceList
				cpu  string
			}{{"requests", c.Resources.Requests, tt.wantCPUReq}, {"limits", c.Resources.Limits, tt.wantCPU}} {
				for name, want := range map[corev1.ResourceName]string{
					corev1.ResourceCPU:              rl.cpu,
					corev1.ResourceMemory:           tt.wantMem,
					corev1.ResourceEphemeralStorage: tt.wantEphemeralStorage,
				} {
					got, ok := rl.list[name]
					if !ok || got.Cmp(resource.MustParse(want)) != 0 {
						t.Errorf("PodFor(%d MB, %d nano, %d MB /tmp) %s[%s] = %s, want %s", tt.memMB, tt.nano, tt.ephMB, rl.what, name, got.String(), want)
					}
				}
			}
		})
	}
}

// PodFor's own promises, before any API server sees the Pod
// (TestPodAccepted checks what the server keeps of them).
func TestPodForProfile(t *testing.T) {
	in := PodInput{
		InstanceID: "0123456789abcdef", Image: "lambdalab/runtime:1", Node: "node-a",
		MemoryMB: 256, InitBinary: "/srv/init", SocketDir: "/srv/i/sock", CodeDir: "/srv/i/task",
		LayersDir: "/srv/i/opt", TmpDir: "/srv/i/tmp",
		Owner: "42@boot", AccountID: "123456789012", Function: "my-fn", Version: "$LATEST",
	}
	pod := PodFor(in)
	if pod.Name != "lambdalab-0123456789abcdef" {
		t.Errorf("name %s, want lambdalab-0123456789abcdef", pod.Name)
	}
	for k, v := range pod.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s=%q is not a valid label value: %v", k, v, errs)
		}
	}
	if pod.Labels[labelAll] != "1" || pod.Labels[labelAccount] != "123456789012" || pod.Labels[labelFunction] != "my-fn" {
		t.Errorf("labels = %v, want lambdalab=1, the account and the function as they are", pod.Labels)
	}
	if pod.Annotations[labelVersion] != "$LATEST" || pod.Annotations[labelOwner] != "42@boot" {
		t.Errorf("annotations = %v, want the exact version and owner", pod.Annotations)
	}
	if pod.Labels[labelVersion] == "$LATEST" || pod.Labels[labelOwner] == "42@boot" {
		t.Errorf("labels = %v: $LATEST and 42@boot are not label values", pod.Labels)
	}
	unbound := PodFor(PodInput{InstanceID: "0123456789abcdef", MemoryMB: 128, Owner: "o"})
	if _, ok := unbound.Labels[labelFunction]; ok {
		t.Errorf("unbound Pod has a function label: %v", unbound.Labels)
	}

	mounts := map[string]corev1.VolumeMount{}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m
	}
	hostPaths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	// Exactly these five host folders, and nothing wider: an instance must
	// reach its own folders and no other instance's (the node agent's
	// instances folder is closed to uid 993; sandbox/node TestSocketReach).
	// The sixth volume is the empty, read-only /dev/shm.
	if len(hostPaths) != 5 || len(pod.Spec.Volumes) != 6 || len(mounts) != 6 || len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 {
		t.Errorf("%d host paths, %d volumes, %d mounts, %d containers, %d init containers; want 5, 6, 6, 1, 0",
			len(hostPaths), len(pod.Spec.Volumes), len(mounts), len(pod.Spec.Containers), len(pod.Spec.InitContainers))
	}
	if m, ok := mounts["/dev/shm"]; !ok || !m.ReadOnly {
		t.Errorf("/dev/shm mount %+v, want a read-only empty folder over the Pod's shared memory", m)
	}
	for path, want := range map[string]struct {
		host     string
		readOnly bool
	}{
		"/var/runtime/lambdalab-init": {"/srv/init", true},
		"/var/run/lambdalab":          {"/srv/i/sock", true},
		"/var/task":                   {"/srv/i/task", true},
		"/opt":                        {"/srv/i/opt", true},
		"/tmp":                        {"/srv/i/tmp", false},
	} {
		m, ok := mounts[path]
		if !ok {
			t.Errorf("no mount at %s", path)
			continue
		}
		if m.ReadOnly != want.readOnly || hostPaths[m.Name] != want.host {
			t.Errorf("mount %s = %s read-only %v, want %s read-only %v", path, hostPaths[m.Name], m.ReadOnly, want.host, want.readOnly)
		}
	}
	if pod.Spec.NodeName != "node-a" || pod.Spec.Affinity != nil {
		t.Errorf("placement: nodeName %q, affinity %v; want the Pod bound to node-a", pod.Spec.NodeName, pod.Spec.Affinity)
	}
	if n := PodFor(PodInput{InstanceID: "x", MemoryMB: 128}).Spec.NodeName; n != "" {
		t.Errorf("a Pod without a node is bound to %q", n)
	}
}

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("f", 64) // a Lambda function name may have 64 characters
	tests := []struct {
		in   string
		same bool // kept as it is
	}{
		{"123456789012", true},
		{"my-function_2", true},
		{"$LATEST", false},
		{"4242@6f0c1c8e-5a4b-4c3d-9e2f-0a1b2c3d4e5f", false},
		{long, false},
		{"-leading-dash", false},
		{"$$$", false},
	}
	for _, tt := range tests {
		got := labelValue(tt.in)
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("labelValue(%q) = %q, not a label value: %v", tt.in, got, errs)
		}
		if (got == tt.in) != tt.same {
			t.Errorf("labelValue(%q) = %q, want kept as it is: %v", tt.in, got, tt.same)
		}
	}
	if a, b := labelValue(long), labelValue(long[:63]+"g"); a == b {
		t.Errorf("two 64-character names differing in the last one share the label %q", a)
	}
	if a, b := labelValue("$LATEST"), labelValue("LATEST"); a == b {
		t.Errorf("$LATEST and LATEST share the label %q", a)
	}
}
