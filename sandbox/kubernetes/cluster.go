package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"lambdalab/sandbox"
)

// Cluster runs instance Pods in one namespace of a Kubernetes cluster. It
// takes the typed core/v1 client alone (kubernetes.Interface's CoreV1(), or
// corev1client.NewForConfig), so that lambdalab links no other API group's
// client.
type Cluster struct {
	pods      corev1client.PodInterface
	namespace string

	mu      sync.Mutex
	created map[string]bool // Pods Create made and Delete has not removed, by name
}

// NewCluster returns a Cluster over client in namespace.
func NewCluster(client corev1client.CoreV1Interface, namespace string) *Cluster {
	return &Cluster{
		pods:      client.Pods(namespace),
		namespace: namespace,
		created:   make(map[string]bool),
	}
}

// Create submits pod (from PodFor) in the Cluster's namespace, which it
// writes into pod, with the UID the API server gave it (the node agent
// finds the Pod's cgroup by it).
func (c *Cluster) Create(ctx context.Context, pod *corev1.Pod) error {
	pod.Namespace = c.namespace
	made, err := c.pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	pod.UID = made.UID
	c.mu.Lock()
	c.created[pod.Name] = true
	c.mu.Unlock()
	return nil
}

// Status reads the Pod's state now. A Pod that is not there is ErrPodGone.
func (c *Cluster) Status(ctx context.Context, name string) (PodStatus, error) {
	pod, err := c.pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return PodStatus{}, podErr("status of", name, err)
	}
	return statusOf(pod), nil
}

// WaitRunning waits, on a watch of the Pod, until its container runs, and
// returns its status then. When the Pod will never run it returns the
// status that says so and an error wrapping ErrUnschedulable,
// ErrImagePull, ErrStartFailed, ErrEvicted, ErrExited or ErrPodGone;
// when ctx ends first, the last status seen and ctx's error. Only the
// caller's deadline bounds the wait: a Pod whose host folder is missing
// stays Pending, with the reason in the node's events, not in the Pod.
func (c *Cluster) WaitRunning(ctx context.Context, name string) (PodStatus, error) {
	return c.wait(ctx, name, func(st PodStatus) (bool, error) { return st.waitErr(name) })
}

// WaitEnded waits, on a watch of the Pod, until its container has ended
// or the Pod is being deleted or gone, and returns its last status: how a
// runtime that dies while bound is told to the node agent. Only ctx's end
// is an error.
func (c *Cluster) WaitEnded(ctx context.Context, name string) (PodStatus, error) {
	st, err := c.wait(ctx, name, func(st PodStatus) (bool, error) {
		return st.Deleting || (st.State != StatePending && st.State != StateRunning), nil
	})
	if errors.Is(err, ErrPodGone) {
		st.Deleting = true
		return st, nil
	}
	return st, err
}

// WaitApplied waits, on a watch of the Pod, until the kubelet reports the
// container's limits at memoryMB and nanoCPUs (as Resize wrote them), or
// the container has ended. Until then the kubelet keeps writing the sizes
// it last applied into the Pod's cgroups, over what the node agent wrote.
func (c *Cluster) WaitApplied(ctx context.Context, name string, memoryMB int, nanoCPUs int64) error {
	cpu := cpuQuantity(nanoCPUs)
	wantCPU, wantMem := cpu.MilliValue(), int64(memoryMB)<<20
	_, err := c.wait(ctx, name, func(st PodStatus) (bool, error) {
		return st.State != StatePending && st.State != StateRunning ||
			st.AppliedMilliCPU == wantCPU && st.AppliedMemory == wantMem, nil
	})
	return err
}

// WaitGone waits, on a watch of the Pod, until the API server has removed
// it, which it does once the kubelet has stopped its containers: until
// then the node still counts the Pod's requests, and a new Pod that needs
// them is refused (OutOfcpu). A Pod already gone is no error.
func (c *Cluster) WaitGone(ctx context.Context, name string) error {
	_, err := c.wait(ctx, name, func(PodStatus) (bool, error) { return false, nil })
	if errors.Is(err, ErrPodGone) {
		return nil
	}
	return err
}

// wait follows the Pod until decide says done, and returns decide's error.
func (c *Cluster) wait(ctx context.Context, name string, decide func(PodStatus) (bool, error)) (PodStatus, error) {
	var st PodStatus
	rv := ""
	for {
		if rv == "" {
			pod, err := c.pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return st, podErr("wait for", name, err)
			}
			st, rv = statusOf(pod), pod.ResourceVersion
			if done, err := decide(st); done {
				return st, err
			}
		}
		// From the version read, so that no change between the read and
		// the watch is missed. The API server ends a watch after a while
		// (--min-request-timeout): then watch again from the last version.
		w, err := c.pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:       "metadata.name=" + name,
			ResourceVersion:     rv,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = "" // compacted away: read the Pod as it is now
				continue
			}
			if ctx.Err() != nil {
				return st, fmt.Errorf("wait for pod %s (%s): %w", name, st.State, ctx.Err())
			}
			return st, podErr("watch", name, err)
		}
		began := time.Now()
		var done bool
		st, rv, done, err = c.follow(ctx, w, name, st, rv, decide)
		w.Stop()
		if done {
			return st, err
		}
		// A watch that ends as soon as it starts (a proxy in the way, a
		// server in trouble) is retried after a pause, not in a tight loop.
		if time.Since(began) < time.Second {
			select {
			case <-ctx.Done():
				return st, fmt.Errorf("wait for pod %s (%s): %w", name, st.State, ctx.Err())
			case <-time.After(time.Second):
			}
		}
	}
}

// follow reads one watch until the Pod's wait is decided (done) or the
// watch ends, and returns the last status and resource version seen.
func (c *Cluster) follow(ctx context.Context, w watch.Interface, name string, st PodStatus, rv string, decide func(PodStatus) (bool, error)) (PodStatus, string, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return st, rv, true, fmt.Errorf("wait for pod %s (%s): %w", name, st.State, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return st, rv, false, nil
			}
			switch ev.Type {
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return st, "", false, nil // re-read from now (the caller's next Watch)
				}
				return st, rv, true, podErr("watch", name, err)
			case watch.Bookmark:
				if pod, ok := ev.Object.(*corev1.Pod); ok {
					rv = pod.ResourceVersion
				}
			case watch.Deleted:
				return st, rv, true, fmt.Errorf("pod %s: %w (deleted while waiting for it to run)", name, ErrPodGone)
			case watch.Added, watch.Modified:
				pod, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = pod.ResourceVersion
				st = statusOf(pod)
				if done, err := decide(st); done {
					return st, rv, true, err
				}
			}
		}
	}
}

// ResizeCPU sets the container's CPU limit to nanoCPUs (see milliCPU for
// the rounding), and its request to the part of it PodFor requests,
// through the pods/resize subresource: the kubelet changes the CFS quota
// in place, without a restart (reference/scale-out.md: 156 ms), and
// reports the progress in the Pod's PodResizePending and
// PodResizeInProgress conditions. ResizeCPU returns once the API server
// has taken the new spec. Request and limit move together, so the Pod
// stays in its QoS class (the API refuses a resize that changes it). A
// resize beyond what the Pod's node can allocate is refused, with an error
// wrapping sandbox.ErrCapacity.
func (c *Cluster) ResizeCPU(ctx context.Context, name string, nanoCPUs int64) error {
	return c.resize(ctx, name, 0, nanoCPUs)
}

// Resize sets memory and CPU together, as ResizeCPU sets the CPU: how an
// instance started at the unbound size takes its function's.
func (c *Cluster) Resize(ctx context.Context, name string, memoryMB int, nanoCPUs int64) error {
	return c.resize(ctx, name, memoryMB, nanoCPUs)
}

// resize patches the container's resources; memoryMB 0 leaves memory.
func (c *Cluster) resize(ctx context.Context, name string, memoryMB int, nanoCPUs int64) error {
	limit, request := cpuQuantity(nanoCPUs), cpuRequest(nanoCPUs)
	limits := map[string]string{"cpu": limit.String()}
	requests := map[string]string{"cpu": request.String()}
	if memoryMB > 0 {
		mem := resource.NewQuantity(int64(memoryMB)<<20, resource.BinarySI)
		limits["memory"], requests["memory"] = mem.String(), mem.String()
	}
	// A strategic merge patch matches the container by name: one request,
	// and no resourceVersion to lose to the kubelet's status writes.
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
		"name":      containerName,
		"resources": map[string]any{"requests": requests, "limits": limits},
	}}}})
	if err != nil {
		return fmt.Errorf("resize pod %s: %w", name, err)
	}
	if _, err := c.pods.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
		// The API server's PodResizeValidator admission refuses a resize
		// of a placed Pod beyond its node's allocatable CPU or memory.
		if apierrors.HasStatusCause(err, nodeCapacityCause) {
			return fmt.Errorf("resize pod %s to %v: %w (%w)", name, limits, sandbox.ErrCapacity, err)
		}
		return podErr("resize", name, err)
	}
	return nil
}

// Label adds the function's labels and annotations (account, function,
// version) to a Pod that started unbound, so that the cluster's own tools
// find a function's instances (kubectl get pods -l lambdalab.function=…).
func (c *Cluster) Label(ctx context.Context, name, account, function, version string) error {
	labels, annotations := podLabels(map[string]string{labelAccount: account, labelFunction: function, labelVersion: version})
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels, "annotations": annotations}})
	if err != nil {
		return fmt.Errorf("label pod %s: %w", name, err)
	}
	if _, err := c.pods.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return podErr("label", name, err)
	}
	return nil
}

// nodeCapacityCause is the cause PodResizeValidator gives for a resize
// beyond the node (plugin/pkg/admission/podresize).
const nodeCapacityCause metav1.CauseType = "NodeCapacity"

// Delete deletes the Pod with its own grace period (the kubelet kills the
// container; see terminationGrace). A Pod already gone is no error. It
// returns once the API server has the deletion, not when the container
// has stopped: read Status first for how it ended.
func (c *Cluster) Delete(ctx context.Context, name string) error {
	err := c.pods.Delete(ctx, name, metav1.DeleteOptions{})
	c.mu.Lock()
	delete(c.created, name)
	c.mu.Unlock()
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", name, err)
	}
	return nil
}

// Sweep deletes the instance Pods that no live lambdalab process runs and
// returns their names. owner is this process's PodInput.Owner. A Pod of
// owner that this Cluster created lives on; one of owner that it did not
// create was left by an earlier run under the same owner, and goes; one of
// any other owner goes too. That last differs from the Docker backend's
// Sweep, which keeps a live neighbour's containers: here none can be live,
// because in a namespace only the holder of lambdalab's controller lock
// (cluster.go in package main) runs instances, so any other owner is dead
// or has lost the lock and must stop. A second lambdalab installation
// therefore needs a namespace of its own. Pods without the lambdalab label,
// and Pods already being deleted, are left alone. One list call, by label
// selector.
func (c *Cluster) Sweep(ctx context.Context, owner string) ([]string, error) {
	if owner == "" {
		return nil, errors.New("sweep: no owner given: every instance Pod would go")
	}
	list, err := c.pods.List(ctx, metav1.ListOptions{LabelSelector: labelAll + "=1"})
	if err != nil {
		return nil, fmt.Errorf("sweep: list pods: %w", err)
	}
	me := labelValue(owner)
	c.mu.Lock()
	keep := make(map[string]bool, len(c.created))
	for name := range c.created {
		keep[name] = true
	}
	c.mu.Unlock()
	var deleted []string
	var errs []error
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue // already on its way out
		}
		if p.Labels[labelOwner] == me && keep[p.Name] {
			continue
		}
		// A Pod already gone, or replaced by a namesake (the precondition
		// fails with a conflict), is not this sweep's to report.
		err := c.pods.Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		switch {
		case err == nil:
			deleted = append(deleted, p.Name)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			errs = append(errs, fmt.Errorf("sweep: delete pod %s: %w", p.Name, err))
		}
	}
	return deleted, errors.Join(errs...)
}

// podErr wraps an API error about a Pod; a missing Pod is ErrPodGone.
func podErr(op, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s pod %s: %w", op, name, ErrPodGone)
	}
	return fmt.Errorf("%s pod %s: %w", op, name, err)
}
