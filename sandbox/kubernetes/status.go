package kubernetes

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"lambdalab/sandbox"
)

// Why an instance's Pod will never run, for errors.Is. Each is a failure
// of the platform, never of the learner's code, except ErrExited, whose
// PodStatus says how the runtime ended.
var (
	// ErrUnschedulable: the scheduler found no node with room (or the
	// chosen node refused the Pod for room at admission). Errors that wrap
	// it also wrap sandbox.ErrCapacity, which the Lambda API answers as the
	// machine being busy, not as a throttle of the learner's account.
	ErrUnschedulable = errors.New("no sandbox node has room for the instance")
	// ErrImagePull: the node cannot get the runtime image.
	ErrImagePull = errors.New("the sandbox node cannot pull the runtime image")
	// ErrStartFailed: the Pod failed without its container running: the
	// node's container runtime could not create or start it, the node
	// refused the Pod for a reason other than room, or the node was lost
	// (phase Unknown). (A missing host folder is not seen here: the Pod
	// stays Pending, the reason only in the node's events.)
	ErrStartFailed = errors.New("the sandbox node could not start the instance's container")
	// ErrEvicted: the node evicted the Pod (it ran short of memory or disk).
	ErrEvicted = errors.New("the sandbox node evicted the instance")
	// ErrExited: the container ended before it was seen running.
	ErrExited = errors.New("the instance's container exited")
	// ErrPodGone: the Pod was deleted, or is being deleted.
	ErrPodGone = errors.New("the instance's pod is gone")
)

// State is what lambdalab needs to know of a Pod.
type State string

const (
	// StatePending: accepted, not running yet (being scheduled, its image
	// pulled, its container created).
	StatePending State = "pending"
	// StateRunning: the container runs.
	StateRunning State = "running"
	// StateExited: the container has ended; ExitCode and OOMKilled say how
	// (an OOM kill is an exit with OOMKilled set, as in sandbox.CloseInfo).
	StateExited State = "exited"
	// StateEvicted: the kubelet evicted the Pod.
	StateEvicted State = "evicted"
	// StateImagePull: the kubelet cannot pull the image.
	StateImagePull State = "image-pull-failed"
	// StateUnschedulable: no node has room for the Pod.
	StateUnschedulable State = "unschedulable"
	// StateFailed: the container could not be created or started, or the
	// Pod failed for another reason than the above.
	StateFailed State = "failed"
)

// PodStatus is a Pod's state as lambdalab reads it.
type PodStatus struct {
	State State
	// ExitCode is the container's exit code (StateExited); 137 is SIGKILL.
	ExitCode int
	// OOMKilled says the kernel's OOM killer ended the container: the
	// engine then reports Runtime.OutOfMemory (see CloseInfo).
	OOMKilled bool
	// Deleting says the Pod has been marked for deletion.
	Deleting bool
	// Reason and Message are the kubelet's or the scheduler's words for a
	// state other than running (ImagePullBackOff, Unschedulable: "0/3 nodes
	// are available: 3 Insufficient memory."). They are the platform's: a
	// container's own termination message, which learner code can write,
	// is never copied here.
	Reason  string
	Message string
	// Node is the node the Pod was placed on, if any; Image its image.
	Node  string
	Image string
	// AppliedMilliCPU and AppliedMemory are the container's CPU and memory
	// limits as the kubelet reports it has applied them (0: not reported):
	// after a resize, the spec's until the kubelet has acted on it.
	AppliedMilliCPU int64
	AppliedMemory   int64
}

// CloseInfo is the status in the sandbox's terms, from which the engine
// reports an OOM kill as Runtime.OutOfMemory (sandbox/engine.go).
func (s PodStatus) CloseInfo() sandbox.CloseInfo {
	return sandbox.CloseInfo{OOMKilled: s.OOMKilled, ExitCode: s.ExitCode}
}

// Exit words the container's exit code as the Docker backend does (Go's
// os.ProcessState wording, which is Lambda's "Runtime exited with error:
// signal: killed").
func (s PodStatus) Exit() string {
	if s.ExitCode > 128 && s.ExitCode < 128+65 {
		return "signal: " + syscall.Signal(s.ExitCode-128).String()
	}
	return "exit status " + strconv.Itoa(s.ExitCode)
}

// waitErr says why a Pod in status s will never be seen running, or nil
// when it runs (done) or may still (not done).
func (s PodStatus) waitErr(name string) (done bool, err error) {
	switch s.State {
	case StateUnschedulable:
		return true, fmt.Errorf("pod %s: %w (%s: %s): %w", name, ErrUnschedulable, s.Reason, s.Message, sandbox.ErrCapacity)
	case StateImagePull:
		return true, fmt.Errorf("pod %s: %w %s (%s: %s)", name, ErrImagePull, s.Image, s.Reason, s.Message)
	case StateFailed:
		return true, fmt.Errorf("pod %s: %w (%s: %s)", name, ErrStartFailed, s.Reason, s.Message)
	case StateEvicted:
		return true, fmt.Errorf("pod %s: %w (%s)", name, ErrEvicted, s.Message)
	case StateExited:
		oom := ""
		if s.OOMKilled {
			oom = ", killed for lack of memory"
		}
		return true, fmt.Errorf("pod %s: %w: %s%s", name, ErrExited, s.Exit(), oom)
	}
	if s.Deleting {
		return true, fmt.Errorf("pod %s: %w (it is being deleted)", name, ErrPodGone)
	}
	return s.State == StateRunning, nil
}

// Waiting reasons of the kubelet (pkg/kubelet/images, kuberuntime) that
// mean the image will not come.
var imagePullReasons = map[string]bool{
	"ErrImagePull":      true,
	"ImagePullBackOff":  true,
	"InvalidImageName":  true,
	"ErrImageNeverPull": true,
	"ImageInspectError": true,
}

// Waiting reasons that mean the container could not be made or started
// (kuberuntime). The kubelet tries again with a back-off, restartPolicy
// Never or not, but nothing in a lambdalab Pod changes in between, and a
// cold start cannot wait for it; ErrImagePull may clear too, for the same
// answer.
var startFailReasons = map[string]bool{
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"PreCreateHookError":         true,
	"PreStartHookError":          true,
	"PostStartHookError":         true,
}

// statusOf reads a Pod's state the way a kubelet and a scheduler write it.
func statusOf(p *corev1.Pod) PodStatus {
	st := PodStatus{
		State:    StatePending,
		Deleting: p.DeletionTimestamp != nil,
		Node:     p.Spec.NodeName,
		Reason:   p.Status.Reason,
		Message:  p.Status.Message,
	}
	for _, c := range p.Spec.Containers {
		if c.Name == containerName {
			st.Image = c.Image
		}
	}
	// An eviction first: the kubelet kills the container too, and its
	// terminated state (137, "Error") would read as the runtime's exit.
	if p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" {
		st.State = StateEvicted
		return st
	}
	var cs *corev1.ContainerStatus
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			cs = &p.Status.ContainerStatuses[i]
		}
	}
	if cs != nil && cs.Resources != nil {
		st.AppliedMilliCPU = cs.Resources.Limits.Cpu().MilliValue()
		st.AppliedMemory = cs.Resources.Limits.Memory().Value()
	}
	if cs != nil {
		switch {
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			st.State = StateExited
			st.ExitCode = int(t.ExitCode)
			st.OOMKilled = t.Reason == "OOMKilled"
			st.Reason, st.Message = t.Reason, ""
			return st
		case cs.State.Running != nil:
			st.State = StateRunning
			return st
		case cs.State.Waiting != nil:
			w := cs.State.Waiting
			switch {
			case imagePullReasons[w.Reason]:
				st.State = StateImagePull
			case startFailReasons[w.Reason]:
				st.State = StateFailed
			}
			if w.Reason != "" {
				st.Reason, st.Message = w.Reason, w.Message
			}
			if st.State != StatePending {
				return st
			}
		}
	}
	switch p.Status.Phase {
	case corev1.PodFailed:
		// Refused at the node's admission (OutOfcpu, OutOfmemory,
		// OutOfpods, OutOfephemeral-storage): the node had no room after
		// all, which is the scheduler's refusal come late.
		if strings.HasPrefix(p.Status.Reason, "OutOf") {
			st.State = StateUnschedulable
		} else {
			st.State = StateFailed
		}
		return st
	case corev1.PodSucceeded:
		st.State = StateExited // without a container status: code 0
		return st
	case corev1.PodUnknown:
		st.State = StateFailed
		return st
	case corev1.PodRunning:
		st.State = StateRunning
		return st
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			st.State = StateUnschedulable
			st.Reason, st.Message = c.Reason, c.Message
		}
	}
	return st
}
