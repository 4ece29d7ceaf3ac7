package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"lambdalab/sandbox"
	"lambdalab/sandbox/node"
)

// unboundMemoryMB and unboundNanoCPUs are the size of an instance that
// belongs to no function yet, as in the Docker backend: enough memory for
// any runtime's idle init, resized to the function's in Bind. The CPU is
// Lambda's share for that memory rather than the Docker backend's "no
// quota": a Pod's CPU limit is also its request, which the kubelet books
// against the node, and a whole core per prestarted Pod would fill a small
// node with idle instances. Init still runs at eight times a 128 MB
// function's share.
const unboundMemoryMB = 1024

var unboundNanoCPUs = sandbox.NanoCPUs(unboundMemoryMB)

// Options configures a Backend.
type Options struct {
	// Core is the core/v1 client of the cluster (corev1client.NewForConfig).
	Core corev1client.CoreV1Interface
	// Namespace holds the instance Pods; it belongs to this installation
	// (see Cluster.Sweep) and must admit hostPath volumes (doc.go).
	Namespace string
	// Image is the runtime image, present on every sandbox node.
	Image string
	// Nodes are the sandbox nodes whose agents are linked to this server.
	Nodes *node.Hub
	// Owner identifies this process on its Pods (PodInput.Owner).
	Owner string
	// StartTimeout bounds a Pod's way from creation to a running container
	// (default 2 minutes: a node may still be loading the image).
	StartTimeout time.Duration
	// Logger receives the backend's events. Nil discards them.
	Logger *slog.Logger
}

// Backend runs each execution environment as one Pod on a sandbox node,
// whose agent serves the instance's sockets. It implements
// sandbox.Backend.
type Backend struct {
	opts    Options
	cluster *Cluster
	log     *slog.Logger

	mu   sync.Mutex
	live map[string]*Instance // by instance id
}

var _ sandbox.Backend = (*Backend)(nil)

// New returns a Backend; it checks nothing on the cluster yet (the first
// Start and Sweep do).
func New(opts Options) (*Backend, error) {
	switch {
	case opts.Core == nil:
		return nil, errors.New("kubernetes backend: no cluster client")
	case opts.Namespace == "":
		return nil, errors.New("kubernetes backend: no namespace")
	case opts.Image == "":
		return nil, errors.New("kubernetes backend: no runtime image")
	case opts.Nodes == nil:
		return nil, errors.New("kubernetes backend: no node hub")
	case opts.Owner == "":
		return nil, errors.New("kubernetes backend: no owner")
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{
		opts:    opts,
		cluster: NewCluster(opts.Core, opts.Namespace),
		log:     opts.Logger,
		live:    make(map[string]*Instance),
	}, nil
}

// Instance is one execution environment: a Pod and, on its node, the
// agent's folder and servers. It implements sandbox.Instance.
type Instance struct {
	b    *Backend
	id   string
	pod  string
	uid  string
	node *node.Node

	stopWatch context.CancelFunc
	ended     chan struct{} // closed when the watch of the Pod's end returns

	mu      sync.Mutex
	bound   bool
	closing bool
	closed  chan struct{}
	info    sandbox.CloseInfo
	err     error
}

var _ sandbox.Instance = (*Instance)(nil)

// ID is the instance id, also the suffix of its Pod's name.
func (in *Instance) ID() string { return in.id }

// Node is the name of the sandbox node the instance runs on.
func (in *Instance) Node() string { return in.node.Name() }

// Start picks the linked node with the fewest instances, has its agent
// prepare the instance's folder and servers, creates the Pod there and
// waits for its container to run: init then waits on the socket, as in a
// Docker container.
func (b *Backend) Start(ctx context.Context, spec sandbox.InstanceSpec) (_ sandbox.Instance, err error) {
	if spec.EphemeralMB == 0 {
		spec.EphemeralMB = 512
	}
	if spec.EphemeralMB < 512 || spec.EphemeralMB > 10240 {
		return nil, fmt.Errorf("start instance: ephemeral storage %d MB is outside 512 to 10240", spec.EphemeralMB)
	}
	n := b.pickNode()
	if n == nil {
		return nil, fmt.Errorf("start instance: %w (no sandbox node's agent is linked to this server)", sandbox.ErrCapacity)
	}
	t0 := time.Now()
	in := &Instance{b: b, id: newID(), node: n, ended: make(chan struct{}), closed: make(chan struct{})}
	in.pod = PodName(in.id)
	b.mu.Lock()
	b.live[in.id] = in
	b.mu.Unlock()
	defer func() {
		if err != nil {
			in.teardown(ctx)
		}
	}()
	paths, err := n.Prepare(ctx, in.id, spec)
	if err != nil {
		return nil, fmt.Errorf("start instance %s on node %s: %w", in.id, n.Name(), err)
	}
	tPrepared := time.Now()
	pod := PodFor(PodInput{
		InstanceID:  in.id,
		Image:       b.opts.Image,
		Node:        n.Name(),
		MemoryMB:    unboundMemoryMB,
		NanoCPUs:    unboundNanoCPUs,
		EphemeralMB: spec.EphemeralMB,
		InitBinary:  n.InitBinary(),
		SocketDir:   paths.SocketDir,
		CodeDir:     paths.CodeDir,
		LayersDir:   paths.LayersDir,
		TmpDir:      paths.TmpDir,
		Owner:       b.opts.Owner,
	})
	if err := b.cluster.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("start instance %s: %w", in.id, err)
	}
	in.uid = string(pod.UID)
	wctx, cancel := context.WithTimeout(ctx, b.opts.StartTimeout)
	_, err = b.cluster.WaitRunning(wctx, in.pod)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("start instance %s: %w", in.id, err)
	}
	in.watch()
	b.log.DebugContext(ctx, "instance started", "instance", in.id, "node", n.Name(),
		"prepare_ms", tPrepared.Sub(t0).Milliseconds(), "pod_ms", time.Since(tPrepared).Milliseconds())
	return in, nil
}

// pickNode is the linked node with the fewest live instances, or nil.
func (b *Backend) pickNode() *node.Node {
	nodes := b.opts.Nodes.Nodes()
	if len(nodes) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	count := make(map[*node.Node]int, len(nodes))
	for _, in := range b.live {
		count[in.node]++
	}
	best := nodes[0]
	for _, n := range nodes[1:] {
		if count[n] < count[best] {
			best = n
		}
	}
	return best
}

// watch follows the Pod until its container ends, and then ends what the
// agent's Runtime API is waiting on, as the Docker backend's watch does
// for a container's exit: an init or invocation in flight then does not
// wait for its deadline.
func (in *Instance) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	in.stopWatch = cancel
	go func() {
		defer close(in.ended)
		st, err := in.b.cluster.WaitEnded(ctx, in.pod)
		if err != nil {
			return // stopped by Close
		}
		in.mu.Lock()
		closing := in.closing
		in.mu.Unlock()
		exit := "signal: killed" // deleted or evicted under it
		if st.State == StateExited {
			exit = st.Exit()
		}
		if !closing {
			in.b.log.Debug("instance died", "instance", in.id, "node", in.node.Name(), "state", st.State, "exit", exit, "reason", st.Reason)
		}
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer fcancel()
		if err := in.node.Fail(fctx, in.id, exit); err != nil && !closing {
			in.b.log.Warn("tell the node agent an instance died", "instance", in.id, "err", err)
		}
	}()
}

// applyWait bounds how long Bind waits for the kubelet to apply a resize.
const applyWait = 3 * time.Second

// Bind gives the Pod its function's memory (the CPU stays at the unbound
// share, so that init runs at it, as on Docker), then has the agent place
// the code and layers, hold the Pod's cgroup to that memory, start the
// runtime and wait for its init, and cut the CPU to the function's share
// in place. Then the Pod's spec takes that share too, and Bind waits (at
// most applyWait) until the kubelet reports it applied: until then the
// kubelet writes the sizes it last applied back into the Pod's cgroups,
// over the agent's cut (measured: a 1,769 MB function read 0.578 CPUs in
// the sandbox suite).
func (in *Instance) Bind(ctx context.Context, bnd sandbox.Binding) (sandbox.InitResult, error) {
	in.mu.Lock()
	if in.bound || in.closing {
		in.mu.Unlock()
		return sandbox.InitResult{}, fmt.Errorf("bind instance %s: already bound or closed", in.id)
	}
	in.bound = true
	in.mu.Unlock()
	if bnd.MemoryMB < 128 || bnd.MemoryMB > 10240 {
		return sandbox.InitResult{}, fmt.Errorf("bind instance %s: memory %d MB is outside 128 to 10240", in.id, bnd.MemoryMB)
	}
	if len(bnd.Cmd) == 0 {
		return sandbox.InitResult{}, fmt.Errorf("bind instance %s: no command", in.id)
	}
	// The spec first: the API server refuses a size the node cannot hold
	// (sandbox.ErrCapacity) before any code is placed.
	if err := in.b.cluster.Resize(ctx, in.pod, bnd.MemoryMB, unboundNanoCPUs); err != nil {
		return sandbox.InitResult{}, fmt.Errorf("bind instance %s: %w", in.id, err)
	}
	// The labels are for operators, not for lambdalab (Sweep reads only
	// the owner's), so they are written beside the agent's work, off a
	// cold start's path, and a failure is only logged.
	labelled := make(chan error, 1)
	go func() { labelled <- in.b.cluster.Label(ctx, in.pod, bnd.AccountID, bnd.Function, bnd.Version) }()
	res, err := in.node.Bind(ctx, in.id, in.uid, bnd)
	if lerr := <-labelled; lerr != nil {
		in.b.log.WarnContext(ctx, "label instance pod", "instance", in.id, "function", bnd.Function, "err", lerr)
	}
	if err != nil {
		return res, fmt.Errorf("bind instance %s: %w", in.id, err)
	}
	if res.Status == sandbox.StatusSuccess && bnd.NanoCPUs > 0 {
		if err := in.b.cluster.ResizeCPU(ctx, in.pod, bnd.NanoCPUs); err != nil {
			return res, fmt.Errorf("bind instance %s: %w", in.id, err)
		}
		// Bounded: a kubelet that takes longer (seen now and then) leaves
		// the function at the unbound share until it acts, and the log
		// says so.
		actx, cancel := context.WithTimeout(ctx, applyWait)
		if err := in.b.cluster.WaitApplied(actx, in.pod, bnd.MemoryMB, bnd.NanoCPUs); err != nil {
			in.b.log.WarnContext(ctx, "the kubelet did not apply the instance's size", "instance", in.id, "memory_mb", bnd.MemoryMB, "err", err)
		}
		cancel()
	}
	in.b.log.DebugContext(ctx, "instance bound", "instance", in.id, "account", bnd.AccountID, "function", bnd.Function,
		"version", bnd.Version, "memory_mb", bnd.MemoryMB, "init_ms", res.Duration.Milliseconds(), "status", res.Status)
	return res, nil
}

// Invoke hands one event to the runtime through the node's agent.
func (in *Instance) Invoke(ctx context.Context, inv sandbox.Invocation) (sandbox.Outcome, error) {
	select {
	case <-in.ended:
		return sandbox.Outcome{}, fmt.Errorf("invoke %s on %s: %w", inv.RequestID, in.id, sandbox.ErrInstanceGone)
	default:
	}
	out, err := in.node.Invoke(ctx, in.id, inv)
	if err != nil {
		return out, fmt.Errorf("invoke %s on %s: %w", inv.RequestID, in.id, err)
	}
	return out, nil
}

// MaxMemoryUsed is the Pod's memory high-water mark, read on its node.
func (in *Instance) MaxMemoryUsed(ctx context.Context) (int64, error) {
	return in.node.MaxMemoryUsed(ctx, in.id)
}

// Close has the agent kill the instance's processes at once (the kubelet
// would give them a grace period) and read the OOM verdict, then deletes
// the Pod and waits until it is gone, so that a closed instance no longer
// holds room on its node (as on Docker, where the container is removed).
// Later calls return the first result.
func (in *Instance) Close(ctx context.Context) (sandbox.CloseInfo, error) {
	in.mu.Lock()
	if in.closing {
		in.mu.Unlock()
		<-in.closed
		return in.info, in.err
	}
	in.closing = true
	in.mu.Unlock()
	in.info, in.err = in.teardown(ctx)
	close(in.closed)
	return in.info, in.err
}

func (in *Instance) teardown(ctx context.Context) (sandbox.CloseInfo, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var errs []error
	info, err := in.node.Release(ctx, in.id)
	if err != nil {
		errs = append(errs, err)
	}
	if in.stopWatch != nil {
		// The kubelet's verdict too: it may have seen an OOM kill that the
		// agent's counter missed (or the agent may be gone with its link).
		if st, err := in.b.cluster.Status(ctx, in.pod); err == nil && st.State == StateExited {
			info.OOMKilled = info.OOMKilled || st.OOMKilled
			if info.ExitCode == 0 {
				info.ExitCode = st.ExitCode
			}
		}
		in.stopWatch()
		<-in.ended
	}
	if err := in.b.cluster.Delete(ctx, in.pod); err != nil {
		errs = append(errs, err)
	} else if err := in.b.cluster.WaitGone(ctx, in.pod); err != nil {
		errs = append(errs, fmt.Errorf("close instance %s: the deleted pod did not go: %w", in.id, err))
	}
	in.b.mu.Lock()
	delete(in.b.live, in.id)
	in.b.mu.Unlock()
	return info, errors.Join(errs...)
}

// Sweep deletes the Pods no live lambdalab process runs (Cluster.Sweep)
// and has every linked agent remove the folders of instances this Backend
// does not hold.
func (b *Backend) Sweep(ctx context.Context) error {
	deleted, err := b.cluster.Sweep(ctx, b.opts.Owner)
	errs := []error{err}
	b.mu.Lock()
	keep := make(map[*node.Node][]string)
	for id, in := range b.live {
		keep[in.node] = append(keep[in.node], id)
	}
	b.mu.Unlock()
	for _, n := range b.opts.Nodes.Nodes() {
		if err := n.Sweep(ctx, keep[n]); err != nil {
			errs = append(errs, fmt.Errorf("sweep node %s: %w", n.Name(), err))
		}
	}
	if len(deleted) > 0 {
		b.log.InfoContext(ctx, "swept leftover instance pods", "pods", len(deleted))
	}
	return errors.Join(errs...)
}
