package kubernetes

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"lambdalab/sandbox"
	"lambdalab/sandbox/node"
)

// backendEnv is a Backend on the test API server with one real node
// agent linked to it over mutual TLS. No kubelet runs: the test writes the
// Pods' status as one would, finishDeletions removes deleted Pods as it
// would, and the agent runs without cgroups.
type backendEnv struct {
	testEnv
	b        *Backend
	hub      *node.Hub
	nodeName string
	agentDir string
}

func newBackendEnv(t *testing.T, agents int) backendEnv {
	t.Helper()
	e := backendEnv{testEnv: newEnv(t), nodeName: "sandbox-" + newID()}
	ca, err := node.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	e.hub = node.NewHub(serverTLS, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.hub.Serve(ln)
	t.Cleanup(func() { ln.Close(); e.hub.Close() })
	if agents > 0 {
		cert, key, err := ca.IssueNode(e.nodeName)
		if err != nil {
			t.Fatal(err)
		}
		agentTLS, err := node.AgentTLS(ca.CertPEM(), cert, key)
		if err != nil {
			t.Fatal(err)
		}
		e.agentDir = t.TempDir()
		initBin := filepath.Join(e.agentDir, "lambdalab-init")
		if err := os.WriteFile(initBin, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- node.RunAgent(ctx, node.AgentConfig{Server: ln.Addr().String(), TLS: agentTLS,
				Dir: e.agentDir, InitBinary: initBin, NoCgroups: true})
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunAgent: %v", err)
			}
		})
		if err := e.hub.WaitNodes(testCtx(t), 1); err != nil {
			t.Fatalf("the agent did not link: %v", err)
		}
	}
	e.b, err = New(Options{Core: e.core, Namespace: e.ns, Image: "lambdalab/runtime:test", Nodes: e.hub,
		Owner: "backend-test", StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.finishDeletions(t)
	return e
}

// finishDeletions plays the kubelet's last part in a Pod's deletion until
// the test ends: a Pod marked for deletion is removed (grace period 0), as
// the kubelet has it removed once its containers have stopped. Without it
// a deleted Pod would stay, and Close, which waits for it to go, would
// time out.
func (e backendEnv) finishDeletions(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if list, err := e.pods.List(ctx, metav1.ListOptions{}); err == nil {
				for _, p := range list.Items {
					if p.DeletionTimestamp != nil {
						e.pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

// startPlaying starts an instance in the background and returns its Pod
// once the Backend has created it, for the test to play the kubelet.
func (e backendEnv) startPlaying(t *testing.T) (*corev1.Pod, <-chan startResult) {
	t.Helper()
	ctx := testCtx(t)
	out := make(chan startResult, 1)
	go func() {
		in, err := e.b.Start(ctx, sandbox.InstanceSpec{EphemeralMB: 512})
		out <- startResult{in, err}
	}()
	for {
		list, err := e.pods.List(ctx, metav1.ListOptions{LabelSelector: labelAll + "=1"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if p := &list.Items[i]; p.DeletionTimestamp == nil && !e.seen(p.Name) {
				return p, out
			}
		}
		select {
		case r := <-out:
			t.Fatalf("Start returned before its Pod was seen: %v, %v", r.in, r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startRunning starts an instance whose Pod the test reports running.
func (e backendEnv) startRunning(t *testing.T) (*corev1.Pod, startResult) {
	t.Helper()
	pod, out := e.startPlaying(t)
	e.setStatus(t, pod.Name, running)
	r := <-out
	if r.err != nil {
		t.Fatal(r.err)
	}
	return pod, r
}

type startResult struct {
	in  sandbox.Instance
	err error
}

// seen reports whether a Pod belongs to an instance the Backend already
// returned from Start (the test starts one at a time).
func (e backendEnv) seen(pod string) bool {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	for _, in := range e.b.live {
		if in.pod == pod && in.stopWatch != nil {
			return true
		}
	}
	return false
}

func hostPath(p *corev1.Pod, volume string) string {
	for _, v := range p.Spec.Volumes {
		if v.Name == volume && v.HostPath != nil {
			return v.HostPath.Path
		}
	}
	return ""
}

// Start has the node's agent make the instance's folder and sockets, and
// places the Pod on that node with those folders; Close removes both.
func TestBackendStartAndClose(t *testing.T) {
	e := newBackendEnv(t, 1)
	pod, out := e.startPlaying(t)
	if pod.Spec.NodeName != e.nodeName {
		t.Errorf("Pod on node %q, want the agent's %q", pod.Spec.NodeName, e.nodeName)
	}
	sock := hostPath(pod, "sock")
	if _, err := os.Stat(filepath.Join(sock, "aws.sock")); err != nil || !isUnder(sock, e.agentDir) {
		t.Errorf("the Pod's socket folder %s: %v; want the agent's folder under %s holding aws.sock", sock, err, e.agentDir)
	}
	if init := hostPath(pod, "init"); init != filepath.Join(e.agentDir, "lambdalab-init") {
		t.Errorf("the Pod's init %s, want the one the agent reported", init)
	}
	if q := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; q.Value() != unboundMemoryMB<<20 {
		t.Errorf("an unbound Pod's memory limit %s, want %d MiB", q.String(), unboundMemoryMB)
	}
	e.setStatus(t, pod.Name, running)
	r := <-out
	if r.err != nil {
		t.Fatalf("Start: %v", r.err)
	}
	if PodName(r.in.ID()) != pod.Name {
		t.Errorf("instance %s has Pod %s", r.in.ID(), pod.Name)
	}

	if _, err := r.in.Close(testCtx(t)); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close the instance's folder %s: %v, want it gone", sock, err)
	}
	// Close returns once the Pod is gone, not only being deleted: until
	// then its node still counts its requests.
	if _, err := e.pods.Get(testCtx(t), pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Close, Get of the Pod: %v; want NotFound", err)
	}
	if len(e.b.live) != 0 {
		t.Errorf("after Close the Backend still holds %d instances", len(e.b.live))
	}
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && rel[0] != '.'
}

// A Pod the node refuses for room ends Start with sandbox.ErrCapacity (the
// Lambda API's "busy", not the learner's throttle), and leaves nothing on
// the node; with no node linked at all Start says so at once.
func TestBackendStartRefused(t *testing.T) {
	e := newBackendEnv(t, 1)
	pod, out := e.startPlaying(t)
	sock := hostPath(pod, "sock")
	e.setStatus(t, pod.Name, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodFailed
		p.Status.Reason = "OutOfmemory"
		p.Status.Message = "Pod was rejected: Node didn't have enough resource: memory"
	})
	r := <-out
	if !errors.Is(r.err, sandbox.ErrCapacity) {
		t.Errorf("Start on a full node: %v, want sandbox.ErrCapacity", r.err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after a refused start the folder %s: %v, want it gone", sock, err)
	}

	none := newBackendEnv(t, 0)
	if _, err := none.b.Start(testCtx(t), sandbox.InstanceSpec{}); !errors.Is(err, sandbox.ErrCapacity) {
		t.Errorf("Start with no node linked: %v, want sandbox.ErrCapacity", err)
	}
}

// When the Pod's container ends under a started instance, the agent is
// told: the instance is gone for the next invoke, without waiting for a
// deadline.
func TestBackendPodDeath(t *testing.T) {
	e := newBackendEnv(t, 1)
	pod, r := e.startRunning(t)
	defer r.in.Close(context.Background())
	e.setStatus(t, pod.Name, oomKilled)
	in := r.in.(*Instance)
	select {
	case <-in.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the Backend did not see the Pod's container end")
	}
	_, err := r.in.Invoke(testCtx(t), sandbox.Invocation{RequestID: "r1", Payload: []byte(`{}`), Deadline: time.Now().Add(time.Second)})
	if !errors.Is(err, sandbox.ErrInstanceGone) {
		t.Errorf("Invoke after the container died: %v, want sandbox.ErrInstanceGone", err)
	}
	info, _ := r.in.Close(testCtx(t))
	if !info.OOMKilled {
		t.Errorf("Close after an OOM kill: %+v, want OOMKilled from the Pod's status", info)
	}
}

// Sweep deletes Pods no live process runs and has the agent remove
// folders of instances the Backend does not hold; the live one stays.
func TestBackendSweep(t *testing.T) {
	e := newBackendEnv(t, 1)
	pod, r := e.startRunning(t)
	defer r.in.Close(context.Background())
	orphanDir := filepath.Join(e.agentDir, "instances", newID())
	if err := os.MkdirAll(filepath.Join(orphanDir, "sock"), 0o755); err != nil {
		t.Fatal(err)
	}
	dead := PodFor(testInput(e.ns, "17@a-dead-process"))
	if err := e.c.Create(testCtx(t), dead); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Sweep(testCtx(t)); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if _, err := e.pods.Get(testCtx(t), dead.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dead owner's Pod after Sweep: %v, want NotFound", err)
	}
	if _, err := os.Stat(orphanDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an orphan instance folder after Sweep: %v, want it gone", err)
	}
	list, err := e.pods.List(testCtx(t), metav1.ListOptions{})
	if err != nil || !slices.ContainsFunc(list.Items, func(p corev1.Pod) bool { return p.Name == pod.Name && p.DeletionTimestamp == nil }) {
		t.Errorf("the live instance's Pod after Sweep: %v; want it kept", err)
	}
	if _, err := os.Stat(hostPath(pod, "sock")); err != nil {
		t.Errorf("the live instance's folder after Sweep: %v, want it kept", err)
	}
}
