package kubernetes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"lambdalab/sandbox"
	"lambdalab/sandbox/kubernetes/k8stest"
)

// These tests run against a real kube-apiserver and etcd (k8stest), with
// no scheduler and no kubelet: where a Pod must be placed or change state,
// the test writes what those would, through the same subresources
// (pods/binding, pods/status).

func TestMain(m *testing.M) { k8stest.Main(m) }

type testEnv struct {
	c    *Cluster
	core corev1client.CoreV1Interface
	pods corev1client.PodInterface
	ns   string
}

func newEnv(t *testing.T) testEnv {
	t.Helper()
	cfg, ns := k8stest.Config(t)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testEnv{c: NewCluster(core, ns), core: core, pods: core.Pods(ns), ns: ns}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testInput(ns, owner string) PodInput {
	id := newID()
	dir := "/var/lib/lambdalab/instances/" + id
	return PodInput{
		InstanceID: id, Image: "lambdalab/runtime:test",
		MemoryMB: 128, EphemeralMB: 1024,
		InitBinary: "/var/lib/lambdalab/lambdalab-init", SocketDir: dir + "/sock", CodeDir: dir + "/task",
		LayersDir: dir + "/opt", TmpDir: dir + "/tmp",
		Owner: owner, AccountID: "123456789012", Function: "hello", Version: "$LATEST",
	}
}

func (e testEnv) create(t *testing.T, in PodInput) *corev1.Pod {
	t.Helper()
	pod := PodFor(in)
	if err := e.c.Create(testCtx(t), pod); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return pod
}

// setStatus does the kubelet's (or the scheduler's) part: it writes the
// Pod's status through pods/status.
func (e testEnv) setStatus(t *testing.T, name string, change func(p *corev1.Pod)) {
	t.Helper()
	ctx := testCtx(t)
	p, err := e.pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	change(p)
	if _, err := e.pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status of %s: %v", name, err)
	}
}

// node registers a Node of cpu and memory allocatable, as a kubelet would,
// and removes it at the test's end (Nodes belong to no namespace).
// PodResizeValidator checks a resize of a Pod placed there against it.
func (e testEnv) node(t *testing.T, cpu, memory string) string {
	t.Helper()
	ctx := testCtx(t)
	name := "sandbox-" + newID()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelOSStable: "linux"}}}
	n, err := e.core.Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := e.core.Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete node %s: %v", name, err)
		}
	})
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory), corev1.ResourcePods: resource.MustParse("110")}
	n.Status.Capacity, n.Status.Allocatable = res, res
	if _, err := e.core.Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set node status: %v", err)
	}
	return name
}

func containerStatus(p *corev1.Pod, state corev1.ContainerState) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name: containerName, Image: p.Spec.Containers[0].Image, State: state,
		// A kubelet that can resize in place reports what it applied; the
		// API server refuses a resize of a running container without it.
		Resources: p.Spec.Containers[0].Resources.DeepCopy(),
	}
}

func creating(p *corev1.Pod) {
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses = []corev1.ContainerStatus{containerStatus(p, corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}})}
}

func running(p *corev1.Pod) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.ContainerStatuses = []corev1.ContainerStatus{containerStatus(p, corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: now}})}
}

func oomKilled(p *corev1.Pod) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{containerStatus(p, corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, StartedAt: now, FinishedAt: now}})}
}

// watchSpy tells when WaitRunning has read the Pod and opened its watch, so
// that a test changes the Pod only afterwards and the change must come
// through the watch.
type watchSpy struct {
	corev1client.PodInterface
	once    sync.Once
	watched chan struct{}
}

func (s *watchSpy) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := s.PodInterface.Watch(ctx, opts)
	s.once.Do(func() { close(s.watched) })
	return w, err
}

type waitResult struct {
	st  PodStatus
	err error
}

// waitInBackground starts WaitRunning on name and returns once its watch is
// open.
func (e testEnv) waitInBackground(t *testing.T, name string) <-chan waitResult {
	t.Helper()
	return e.waitWith(t, name, (*Cluster).WaitRunning)
}

// waitWith runs one of the Cluster's waits (WaitRunning, WaitEnded) in
// the background, once it is watching.
func (e testEnv) waitWith(t *testing.T, name string, wait func(*Cluster, context.Context, string) (PodStatus, error)) <-chan waitResult {
	t.Helper()
	spy := &watchSpy{PodInterface: e.c.pods, watched: make(chan struct{})}
	c := &Cluster{pods: spy, namespace: e.ns, created: map[string]bool{}}
	out := make(chan waitResult, 1)
	ctx := testCtx(t)
	go func() {
		st, err := wait(c, ctx, name)
		out <- waitResult{st, err}
	}()
	select {
	case <-spy.watched:
	case r := <-out:
		t.Fatalf("wait returned before watching: %+v, %v", r.st, r.err)
	case <-ctx.Done():
		t.Fatal("wait never watched")
	}
	return out
}

func receive(t *testing.T, out <-chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-out:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the wait did not return within 30 s of the change")
		return waitResult{}
	}
}

// The API server validates the Pod for real: it must take PodFor's Pod,
// keep every part of the profile, and refuse what the comments in PodFor
// say it refuses.
func TestPodAccepted(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	in := testInput(e.ns, "4242@boot")
	in.Node = "sandbox-1"
	e.create(t, in)
	got, err := e.pods.Get(ctx, PodName(in.InstanceID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("QoS class %q, want Burstable (CPU requested at half its limit)", got.Status.QOSClass)
	}
	s := got.Spec
	c := s.Containers[0]
	sc := c.SecurityContext
	checks := []struct {
		what string
		ok   bool
	}{
		{"runAsUser 993", sc.RunAsUser != nil && *sc.RunAsUser == 993},
		{"runAsGroup 993", sc.RunAsGroup != nil && *sc.RunAsGroup == 993},
		{"runAsNonRoot", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
		{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"capabilities drop ALL, add none", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
		{"seccomp RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
		{"restartPolicy Never", s.RestartPolicy == corev1.RestartPolicyNever},
		{"automountServiceAccountToken false", s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken},
		{"no service account volume", !slices.ContainsFunc(s.Volumes, func(v corev1.Volume) bool { return v.Projected != nil || v.Secret != nil })},
		{"enableServiceLinks false", s.EnableServiceLinks != nil && !*s.EnableServiceLinks},
		{"terminationGracePeriodSeconds 1", s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds == 1},
		{"dnsPolicy None, loopback only", s.DNSPolicy == corev1.DNSNone && s.DNSConfig != nil && slices.Equal(s.DNSConfig.Nameservers, []string{"127.0.0.1"}) && len(s.DNSConfig.Searches) == 0},
		{"no host network, PID or IPC", !s.HostNetwork && !s.HostPID && !s.HostIPC},
		{"imagePullPolicy IfNotPresent", c.ImagePullPolicy == corev1.PullIfNotPresent},
		{"command is the init", slices.Equal(c.Command, []string{initPath})},
		{"resize CPU NotRequired", slices.Contains(c.ResizePolicy, corev1.ContainerResizePolicy{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired})},
		{"bound to sandbox-1", s.NodeName == "sandbox-1" && s.Affinity == nil},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("stored Pod lost %s", ch.what)
		}
	}
	for i, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if q := rl[corev1.ResourceMemory]; q.Cmp(resource.MustParse("128Mi")) != 0 {
			t.Errorf("memory %s, want 128Mi", q.String())
		}
		// The limit is 128 MB's share; half of it is booked on the node.
		if q, want := rl[corev1.ResourceCPU], []string{"36m", "72m"}[i]; q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("cpu %s, want %s", q.String(), want)
		}
		if q := rl[corev1.ResourceEphemeralStorage]; q.Cmp(resource.MustParse("1Gi")) != 0 {
			t.Errorf("ephemeral-storage %s, want 1Gi (the /tmp size)", q.String())
		}
	}
	readOnly := map[string]bool{}
	for _, m := range c.VolumeMounts {
		readOnly[m.MountPath] = m.ReadOnly
	}
	for path, want := range map[string]bool{initPath: true, socketDirPath: true, "/var/task": true, "/opt": true, "/tmp": false, "/dev/shm": true} {
		if ro, ok := readOnly[path]; !ok || ro != want {
			t.Errorf("mount %s: present %v, read-only %v; want read-only %v", path, ok, ro, want)
		}
	}
	for _, v := range s.Volumes {
		if v.Name == "no-shm" {
			if v.EmptyDir == nil {
				t.Errorf("volume no-shm: %+v, want an emptyDir", v.VolumeSource)
			}
			continue
		}
		if v.HostPath == nil || v.HostPath.Type == nil || *v.HostPath.Type == corev1.HostPathDirectoryOrCreate {
			t.Errorf("volume %s: %+v, want a hostPath the node agent made", v.Name, v.VolumeSource)
		}
	}

	// Labels select: by function and by the encoded version and owner.
	for _, sel := range []string{
		labelAll + "=1",
		labelFunction + "=hello," + labelAccount + "=123456789012",
		labelVersion + "=" + labelValue("$LATEST"),
		labelOwner + "=" + labelValue("4242@boot"),
		labelInstance + "=" + in.InstanceID,
	} {
		list, err := e.pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatalf("list %s: %v", sel, err)
		}
		if len(list.Items) != 1 {
			t.Errorf("selector %s found %d Pods, want 1", sel, len(list.Items))
		}
	}
	if list, err := e.pods.List(ctx, metav1.ListOptions{LabelSelector: labelFunction + "=other"}); err != nil || len(list.Items) != 0 {
		t.Errorf("selector on another function: %d Pods, %v; want none", len(list.Items), err)
	}
	if got.Annotations[labelVersion] != "$LATEST" {
		t.Errorf("version annotation %q, want $LATEST", got.Annotations[labelVersion])
	}

	// What the API server refuses: each variant of the profile below is
	// one PodFor avoids, and the server really validates it.
	refused := []struct {
		name   string
		change func(p *corev1.Pod)
		want   string
	}{
		{"dnsPolicy None without a nameserver", func(p *corev1.Pod) { p.Spec.DNSConfig.Nameservers = nil }, "at least one DNS nameserver"},
		{"resize restarting a never-restarted container", func(p *corev1.Pod) {
			p.Spec.Containers[0].ResizePolicy[0].RestartPolicy = corev1.RestartContainer
		}, "must be 'NotRequired'"},
		{"privileged without privilege escalation", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
		}, "allowPrivilegeEscalation"},
		{"a raw $LATEST label", func(p *corev1.Pod) { p.Labels[labelVersion] = "$LATEST" }, "labels"},
		{"a hostPath without a path", func(p *corev1.Pod) { p.Spec.Volumes[1].HostPath.Path = "" }, "hostPath.path"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			p := PodFor(testInput(e.ns, "o"))
			tt.change(p)
			_, err := e.pods.Create(ctx, p, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create with %s: %v, want Invalid naming %s", tt.name, err, tt.want)
			}
		})
	}

	if err := NewCluster(e.core, "elsewhere").Create(ctx, PodFor(testInput(e.ns, "o"))); err == nil {
		t.Error("Create of a Pod of another namespace: no error")
	}
}

// WaitRunning follows the Pod through its watch and returns once its state
// is decided, with the mapping lambdalab needs.
func TestWaitRunning(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		bind    bool
		changes []func(p *corev1.Pod)
		want    State
		wantErr []error
		check   func(t *testing.T, st PodStatus)
	}{
		{name: "running", bind: true, changes: []func(*corev1.Pod){creating, running}, want: StateRunning,
			check: func(t *testing.T, st PodStatus) {
				if st.Node != "sandbox-1" {
					t.Errorf("node %q, want sandbox-1", st.Node)
				}
			}},
		{name: "oom killed in init", bind: true, changes: []func(*corev1.Pod){creating, oomKilled}, want: StateExited, wantErr: []error{ErrExited},
			check: func(t *testing.T, st PodStatus) {
				if ci := st.CloseInfo(); !ci.OOMKilled || ci.ExitCode != 137 {
					t.Errorf("CloseInfo %+v, want an OOM kill with 137", ci)
				}
			}},
		{name: "unschedulable", changes: []func(*corev1.Pod){func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
				Message: "0/2 nodes are available: 2 Insufficient cpu.", LastTransitionTime: metav1.Now(),
			}}
		}}, want: StateUnschedulable, wantErr: []error{ErrUnschedulable, sandbox.ErrCapacity},
			check: func(t *testing.T, st PodStatus) {
				if !strings.Contains(st.Message, "Insufficient cpu") {
					t.Errorf("message %q, want the scheduler's", st.Message)
				}
			}},
		{name: "image pull", bind: true, changes: []func(*corev1.Pod){creating, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "lambdalab/runtime:test"`}
		}}, want: StateImagePull, wantErr: []error{ErrImagePull}},
		{name: "evicted", bind: true, changes: []func(*corev1.Pod){creating, func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.Reason = "Evicted"
			p.Status.Message = "The node was low on resource: ephemeral-storage."
		}}, want: StateEvicted, wantErr: []error{ErrEvicted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testInput(e.ns, "o")
			if tt.bind {
				in.Node = "sandbox-1"
			}
			pod := e.create(t, in)
			out := e.waitInBackground(t, pod.Name)
			for i, change := range tt.changes {
				e.setStatus(t, pod.Name, change)
				if i < len(tt.changes)-1 {
					select {
					case r := <-out:
						t.Fatalf("WaitRunning returned after change %d of %d: %+v, %v", i+1, len(tt.changes), r.st, r.err)
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
			r := receive(t, out)
			if r.st.State != tt.want {
				t.Errorf("WaitRunning = %+v, want state %s", r.st, tt.want)
			}
			if len(tt.wantErr) == 0 && r.err != nil {
				t.Errorf("WaitRunning error %v, want none", r.err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(r.err, want) {
					t.Errorf("WaitRunning error %v, want one matching %q", r.err, want)
				}
			}
			if tt.check != nil {
				tt.check(t, r.st)
			}
			// Status reads the same state without a watch.
			st, err := e.c.Status(testCtx(t), pod.Name)
			if err != nil || st.State != r.st.State || st.OOMKilled != r.st.OOMKilled {
				t.Errorf("Status = %+v, %v; want the state WaitRunning saw, %+v", st, err, r.st)
			}
		})
	}

	t.Run("already running", func(t *testing.T) {
		pod := e.create(t, testInput(e.ns, "o"))
		e.setStatus(t, pod.Name, running)
		st, err := e.c.WaitRunning(testCtx(t), pod.Name)
		if err != nil || st.State != StateRunning {
			t.Errorf("WaitRunning = %+v, %v; want running", st, err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		pod := e.create(t, testInput(e.ns, "o"))
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		st, err := e.c.WaitRunning(ctx, pod.Name)
		if !errors.Is(err, context.DeadlineExceeded) || st.State != StatePending {
			t.Errorf("WaitRunning past its deadline = %+v, %v; want pending and DeadlineExceeded", st, err)
		}
	})
}

// A Pod deleted while WaitRunning waits ends the wait with an error that
// names it: at once when it was never placed (the API server removes it),
// and as soon as it is marked when it was (the kubelet would stop it).
func TestWaitRunningDeleted(t *testing.T) {
	e := newEnv(t)
	for _, bound := range []bool{false, true} {
		name := map[bool]string{false: "unscheduled", true: "on a node"}[bound]
		t.Run(name, func(t *testing.T) {
			in := testInput(e.ns, "o")
			if bound {
				in.Node = "sandbox-1"
			}
			pod := e.create(t, in)
			if bound {
				e.setStatus(t, pod.Name, creating)
			}
			out := e.waitInBackground(t, pod.Name)
			if err := e.c.Delete(testCtx(t), pod.Name); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			r := receive(t, out)
			if !errors.Is(r.err, ErrPodGone) || !strings.Contains(r.err.Error(), pod.Name) {
				t.Errorf("WaitRunning on a deleted Pod: %v, want ErrPodGone naming %s", r.err, pod.Name)
			}
			_, err := e.pods.Get(testCtx(t), pod.Name, metav1.GetOptions{})
			if gone := apierrors.IsNotFound(err); gone == bound {
				t.Errorf("after Delete, Pod gone from the API: %v; want %v (a placed Pod waits for its kubelet)", gone, !bound)
			}
		})
	}
}

// ResizeCPU changes the container's CPU through pods/resize and nothing
// else; the kubelet's part (applying it, the conditions) is not here.
func TestResizeCPU(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	node := e.node(t, "2", "4Gi")
	placed := func(t *testing.T, status func(*corev1.Pod)) *corev1.Pod {
		in := testInput(e.ns, "o")
		in.Node = node
		pod := e.create(t, in)
		e.setStatus(t, pod.Name, status)
		return pod
	}
	pod := placed(t, running)
	before, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := e.c.ResizeCPU(ctx, pod.Name, sandbox.NanoCPUs(3008)); err != nil {
		t.Fatalf("ResizeCPU: %v", err)
	}
	after, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := after.Spec.Containers[0].Resources
	for what, rl := range map[string]corev1.ResourceList{"requests": res.Requests, "limits": res.Limits} {
		want := map[string]string{"requests": "850m", "limits": "1700m"}[what]
		if q := rl[corev1.ResourceCPU]; q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("cpu %s after resize %s, want %s", what, q.String(), want)
		}
		if q := rl[corev1.ResourceMemory]; q.Cmp(resource.MustParse("128Mi")) != 0 {
			t.Errorf("memory %s after a CPU resize %s, want 128Mi still", what, q.String())
		}
	}
	if after.UID != before.UID || after.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("after resize: uid %s (was %s), QoS %s; want the same Pod, still Burstable", after.UID, before.UID, after.Status.QOSClass)
	}
	if after.Generation <= before.Generation {
		t.Errorf("generation %d after resize, was %d: the kubelet would not see a new spec", after.Generation, before.Generation)
	}

	t.Run("not through a plain update", func(t *testing.T) {
		p := after.DeepCopy()
		p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("500m")
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("500m")
		if _, err := e.pods.Update(ctx, p, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("Update of a Pod's resources without pods/resize: %v, want Invalid", err)
		}
	})
	t.Run("beyond the node", func(t *testing.T) {
		err := e.c.ResizeCPU(ctx, pod.Name, 5e9) // 2.5 requested; the node has 2
		if !errors.Is(err, sandbox.ErrCapacity) || !apierrors.IsForbidden(err) {
			t.Errorf("ResizeCPU past the node's allocatable: %v, want Forbidden wrapping sandbox.ErrCapacity", err)
		}
		p, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if q := p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]; err != nil || q.Cmp(resource.MustParse("1700m")) != 0 {
			t.Errorf("cpu after a refused resize %s, %v; want 1700m still", q.String(), err)
		}
	})
	t.Run("on a node that is not registered", func(t *testing.T) {
		in := testInput(e.ns, "o")
		in.Node = "sandbox-unregistered"
		p := e.create(t, in)
		e.setStatus(t, p.Name, running)
		err := e.c.ResizeCPU(ctx, p.Name, 1e9)
		if !apierrors.IsForbidden(err) || errors.Is(err, sandbox.ErrCapacity) {
			t.Errorf("ResizeCPU on a Pod of an unknown node: %v, want Forbidden, not a capacity refusal", err)
		}
	})
	t.Run("refused for a running container whose node reports no resources", func(t *testing.T) {
		p := placed(t, func(p *corev1.Pod) {
			running(p)
			p.Status.ContainerStatuses[0].Resources = nil
		})
		err := e.c.ResizeCPU(ctx, p.Name, sandbox.NanoCPUs(1769))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "without support for resize") {
			t.Errorf("ResizeCPU on a node without resize: %v, want Invalid (without support for resize)", err)
		}
	})
	t.Run("before placement", func(t *testing.T) {
		p := e.create(t, testInput(e.ns, "o")) // no node: a scheduler's to place
		if err := e.c.ResizeCPU(ctx, p.Name, sandbox.NanoCPUs(1769)); err != nil {
			t.Errorf("ResizeCPU of a Pending Pod: %v, want it taken (the scheduler then places the new size)", err)
		}
	})
	t.Run("missing pod", func(t *testing.T) {
		if err := e.c.ResizeCPU(ctx, "lambdalab-0000000000000000", 1e9); !errors.Is(err, ErrPodGone) {
			t.Errorf("ResizeCPU of a missing Pod: %v, want ErrPodGone", err)
		}
	})
}

// WaitEnded returns when a running container ends (with how it ended) or
// its Pod goes, and not on changes that leave it running.
func TestWaitEnded(t *testing.T) {
	e := newEnv(t)
	placedRunning := func(t *testing.T) *corev1.Pod {
		in := testInput(e.ns, "o")
		in.Node = "sandbox-1"
		pod := e.create(t, in)
		e.setStatus(t, pod.Name, running)
		return pod
	}
	t.Run("exit", func(t *testing.T) {
		pod := placedRunning(t)
		out := e.waitWith(t, pod.Name, (*Cluster).WaitEnded)
		e.setStatus(t, pod.Name, func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
		})
		select {
		case r := <-out:
			t.Fatalf("WaitEnded returned on a change that left the container running: %+v, %v", r.st, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		e.setStatus(t, pod.Name, oomKilled)
		r := receive(t, out)
		if r.err != nil || r.st.State != StateExited || !r.st.OOMKilled || r.st.Exit() != "signal: killed" {
			t.Errorf("WaitEnded after an OOM kill = %+v (%s), %v; want exited, OOMKilled, signal: killed", r.st, r.st.Exit(), r.err)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		pod := placedRunning(t)
		out := e.waitWith(t, pod.Name, (*Cluster).WaitEnded)
		if err := e.c.Delete(testCtx(t), pod.Name); err != nil {
			t.Fatal(err)
		}
		if r := receive(t, out); r.err != nil || !r.st.Deleting {
			t.Errorf("WaitEnded after Delete = %+v, %v; want Deleting and no error", r.st, r.err)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		pod := placedRunning(t)
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		if st, err := e.c.WaitEnded(ctx, pod.Name); !errors.Is(err, context.DeadlineExceeded) || st.State != StateRunning {
			t.Errorf("WaitEnded past its deadline = %+v, %v; want running and DeadlineExceeded", st, err)
		}
	})
}

// Resize moves memory and CPU together, as an unbound instance takes its
// function's size.
func TestResize(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	in := testInput(e.ns, "o")
	in.MemoryMB, in.NanoCPUs = 1024, sandbox.NanoCPUs(1024)
	in.Node = e.node(t, "2", "4Gi")
	pod := e.create(t, in)
	e.setStatus(t, pod.Name, running)
	if err := e.c.Resize(ctx, pod.Name, 256, sandbox.NanoCPUs(1024)); err != nil {
		t.Fatalf("Resize: %v", err)
	}
	p, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lim := p.Spec.Containers[0].Resources.Limits
	if q := lim[corev1.ResourceMemory]; q.Cmp(resource.MustParse("256Mi")) != 0 {
		t.Errorf("memory limit after Resize %s, want 256Mi", q.String())
	}
	if q := lim[corev1.ResourceCPU]; q.Cmp(*resource.NewMilliQuantity(milliCPU(sandbox.NanoCPUs(1024)), resource.DecimalSI)) != 0 {
		t.Errorf("cpu limit after Resize %s, want %dm still", q.String(), milliCPU(sandbox.NanoCPUs(1024)))
	}
	if err := e.c.Resize(ctx, pod.Name, 8192, sandbox.NanoCPUs(1024)); !errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("Resize past the node's 4Gi: %v, want sandbox.ErrCapacity", err)
	}
}

// Label gives an unbound Pod its function's labels and annotations and
// keeps the ones it had; a Pod that is gone says so.
func TestLabel(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	in := testInput(e.ns, "o")
	in.AccountID, in.Function, in.Version = "", "", "" // a prestarted instance's Pod
	pod := e.create(t, in)
	if err := e.c.Label(ctx, pod.Name, "123456789012", "resize-images", "$LATEST"); err != nil {
		t.Fatalf("Label: %v", err)
	}
	p, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{labelAll: "1", labelInstance: in.InstanceID, labelOwner: "o",
		labelAccount: "123456789012", labelFunction: "resize-images", labelVersion: labelValue("$LATEST")} {
		if p.Labels[k] != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, p.Labels[k], want, p.Labels)
		}
	}
	if p.Annotations[labelVersion] != "$LATEST" || p.Annotations[labelFunction] != "resize-images" || p.Annotations[labelInstance] != in.InstanceID {
		t.Errorf("annotations %v, want the exact version $LATEST, the function and the instance id kept", p.Annotations)
	}
	list, err := e.pods.List(ctx, metav1.ListOptions{LabelSelector: labelFunction + "=resize-images"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != pod.Name {
		t.Errorf("pods with %s=resize-images: %d (%v), want %s", labelFunction, len(list.Items), err, pod.Name)
	}
	if err := e.c.Label(ctx, PodName(newID()), "123456789012", "f", "1"); !errors.Is(err, ErrPodGone) {
		t.Errorf("Label of a Pod that does not exist: %v, want ErrPodGone", err)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	pod := e.create(t, testInput(e.ns, "o"))
	if err := e.c.Delete(ctx, pod.Name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.pods.Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get after Delete: %v, want NotFound", err)
	}
	if err := e.c.Delete(ctx, pod.Name); err != nil {
		t.Errorf("second Delete: %v, want none", err)
	}
	if _, err := e.c.Status(ctx, pod.Name); !errors.Is(err, ErrPodGone) {
		t.Errorf("Status after Delete: %v, want ErrPodGone", err)
	}
	if _, err := e.c.WaitRunning(ctx, pod.Name); !errors.Is(err, ErrPodGone) || !strings.Contains(err.Error(), pod.Name) {
		t.Errorf("WaitRunning after Delete: %v, want ErrPodGone naming the Pod", err)
	}
}

// Sweep deletes the Pods of dead owners, and of this owner's earlier run,
// and keeps this Cluster's own, Pods without the lambdalab label, and Pods
// of other namespaces.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	const me = "4242@6f0c1c8e-5a4b-4c3d-9e2f-0a1b2c3d4e5f" // not a label value: labelValue's form must match
	mine := e.create(t, testInput(e.ns, me))
	mine2 := e.create(t, testInput(e.ns, me))

	// An earlier run of the same owner: another Cluster created it.
	earlier := NewCluster(e.core, e.ns)
	leftover := PodFor(testInput(e.ns, me))
	if err := earlier.Create(ctx, leftover); err != nil {
		t.Fatal(err)
	}
	dead := PodFor(testInput(e.ns, "17@another-boot"))
	if err := earlier.Create(ctx, dead); err != nil {
		t.Fatal(err)
	}
	// Somebody else's Pod in the same namespace.
	foreign := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web", labelOwner: labelValue("17@another-boot")}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	if _, err := e.pods.Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A dead owner's instance in another namespace (another installation).
	other := newEnv(t)
	otherDead := other.create(t, testInput(other.ns, "17@another-boot"))

	deleted, err := e.c.Sweep(ctx, me)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	slices.Sort(deleted)
	want := []string{leftover.Name, dead.Name}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("Sweep deleted %v, want %v (the earlier run's and the dead owner's)", deleted, want)
	}
	list, err := e.pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range list.Items {
		left = append(left, p.Name)
	}
	slices.Sort(left)
	wantLeft := []string{mine.Name, mine2.Name, "web"}
	slices.Sort(wantLeft)
	if !slices.Equal(left, wantLeft) {
		t.Errorf("after Sweep the namespace holds %v, want %v", left, wantLeft)
	}
	if _, err := other.pods.Get(ctx, otherDead.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("Pod of another namespace after Sweep: %v, want it kept", err)
	}

	again, err := e.c.Sweep(ctx, me)
	if err != nil || len(again) != 0 {
		t.Errorf("second Sweep deleted %v, %v; want nothing", again, err)
	}
	if _, err := e.c.Sweep(ctx, ""); err == nil {
		t.Error("Sweep without an owner: no error")
	}
}
