package kubernetes

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"lambdalab/sandbox"
)

func waitingPod(reason, message string) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
	}}}}
}

func terminatedPod(phase corev1.PodPhase, reason string, code int32) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: containerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: reason, ExitCode: code, Message: "written by learner code",
		}},
	}}}}
}

// statusOf reads what a kubelet and a scheduler write; waitErr says which
// of those states end a wait for the Pod to run, and with what.
func TestStatusOf(t *testing.T) {
	runningDeleted := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: containerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
	evicted := terminatedPod(corev1.PodFailed, "Error", 137)
	evicted.Status.Reason, evicted.Status.Message = "Evicted", "The node was low on resource: memory."
	tests := []struct {
		name     string
		pod      *corev1.Pod
		want     State
		wantDone bool
		wantErr  []error // each must match with errors.Is
		check    func(t *testing.T, st PodStatus)
	}{
		{name: "new", pod: &corev1.Pod{}, want: StatePending},
		{name: "unschedulable", want: StateUnschedulable, wantDone: true, wantErr: []error{ErrUnschedulable, sandbox.ErrCapacity},
			pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
				Message: "0/3 nodes are available: 3 Insufficient memory.",
			}}}},
			check: func(t *testing.T, st PodStatus) {
				if !strings.Contains(st.Message, "Insufficient memory") {
					t.Errorf("message %q lost the scheduler's words", st.Message)
				}
			}},
		{name: "scheduling gated is not unschedulable", want: StatePending,
			pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated,
			}}}}},
		{name: "creating", pod: waitingPod("ContainerCreating", ""), want: StatePending},
		{name: "image pull back-off", pod: waitingPod("ImagePullBackOff", "Back-off pulling image"), want: StateImagePull, wantDone: true, wantErr: []error{ErrImagePull}},
		{name: "image pull error", pod: waitingPod("ErrImagePull", "not found"), want: StateImagePull, wantDone: true, wantErr: []error{ErrImagePull}},
		{name: "create container error", pod: waitingPod("CreateContainerError", "mount failed"), want: StateFailed, wantDone: true, wantErr: []error{ErrStartFailed}},
		{name: "running", want: StateRunning, wantDone: true,
			pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: containerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}}}}},
		{name: "running but being deleted", pod: runningDeleted, want: StateRunning, wantDone: true, wantErr: []error{ErrPodGone}},
		{name: "oom killed", pod: terminatedPod(corev1.PodFailed, "OOMKilled", 137), want: StateExited, wantDone: true, wantErr: []error{ErrExited},
			check: func(t *testing.T, st PodStatus) {
				if ci := st.CloseInfo(); !ci.OOMKilled || ci.ExitCode != 137 {
					t.Errorf("CloseInfo() = %+v, want OOMKilled with 137 (the engine's Runtime.OutOfMemory)", ci)
				}
				if st.Exit() != "signal: killed" {
					t.Errorf("Exit() = %q, want signal: killed", st.Exit())
				}
				if st.Message != "" {
					t.Errorf("Message = %q: a container's termination message is the learner's, not the platform's", st.Message)
				}
			}},
		{name: "exit 1", pod: terminatedPod(corev1.PodFailed, "Error", 1), want: StateExited, wantDone: true, wantErr: []error{ErrExited},
			check: func(t *testing.T, st PodStatus) {
				if st.OOMKilled || st.Exit() != "exit status 1" {
					t.Errorf("OOMKilled %v, Exit() %q; want false, exit status 1", st.OOMKilled, st.Exit())
				}
			}},
		{name: "evicted, not exited", pod: evicted, want: StateEvicted, wantDone: true, wantErr: []error{ErrEvicted},
			check: func(t *testing.T, st PodStatus) {
				if st.OOMKilled {
					t.Error("an eviction reads as an OOM kill")
				}
			}},
		{name: "refused at admission for room", want: StateUnschedulable, wantDone: true, wantErr: []error{ErrUnschedulable, sandbox.ErrCapacity},
			pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "OutOfcpu", Message: "Node didn't have enough resource: cpu"}}},
		{name: "failed otherwise", want: StateFailed, wantDone: true, wantErr: []error{ErrStartFailed},
			pod: &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "UnexpectedAdmissionError"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pod.Name = "lambdalab-0123456789abcdef"
			st := statusOf(tt.pod)
			if st.State != tt.want {
				t.Errorf("statusOf = %+v, want state %s", st, tt.want)
			}
			done, err := st.waitErr(tt.pod.Name)
			if done != tt.wantDone {
				t.Errorf("waitErr done = %v, want %v", done, tt.wantDone)
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Errorf("waitErr = %v, want none", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("waitErr = %v, want one matching %q", err, want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.pod.Name) {
				t.Errorf("waitErr = %v, does not name the pod", err)
			}
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}
