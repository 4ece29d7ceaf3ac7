package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	"lambdalab/sandbox"
	"lambdalab/sandbox/cgroupv1"
	"lambdalab/sandbox/instdir"
	"lambdalab/sandbox/runtimeapi"
)

// Container labels. Every container carries labelAll and labelInstance;
// labelDataDir says which lambdalab data directory owns it, so that Sweep in
// one process (or one test) never removes another's live instances.
const (
	labelAll      = "lambdalab"
	labelInstance = "lambdalab.instance"
	labelDataDir  = "lambdalab.datadir"
	// labelOwner names the process that created the container
	// ("<pid>@<boot id>"), so that Sweep can tell a live neighbour's instance
	// from one whose process died (a crash, a killed test run).
	labelOwner = "lambdalab.owner"
)

// In-container paths (see reference/sandbox-profile.md §4 and §5).
const (
	initPath      = "/var/runtime/lambdalab-init"
	socketDirPath = "/var/run/lambdalab"
	socketName    = "aws.sock"
	sandboxUID    = 993
)

// unboundMemoryMB is the memory limit of an instance that belongs to no
// function yet: enough for any runtime's idle init process, lowered or raised
// to the function's size by Bind.
const unboundMemoryMB = 1024

// Options configures a Backend.
type Options struct {
	// Image is the runtime image reference (see EnsureImage).
	Image string
	// InitBinary is the host path of the static init executable; it is
	// bind-mounted read-only at /var/runtime/lambdalab-init and is the
	// container's command, so the image does not change with the Go code.
	InitBinary string
	// DataDir holds instance directories under DataDir/instances/<id>/.
	DataDir string
	// Runtime is the OCI runtime: "runc" (the default) or "runsc" (gVisor,
	// opt-in; registered with Docker with --network=none --host-uds=open).
	Runtime string
	// Logger receives the backend's events. Nil discards them.
	Logger *slog.Logger
}

// Backend runs each execution environment as one Docker container. It
// implements sandbox.Backend.
type Backend struct {
	cli     *client.Client
	opts    Options
	dataDir string
	log     *slog.Logger

	// cgroupRoot is where cgroup v1 controllers keep this engine's
	// containers ("/sys/fs/cgroup"), or "" when the engine uses another
	// layout and the API is the only way.
	cgroupRoot string

	mu       sync.Mutex
	live     map[string]*Instance // by instance id: what this Backend created
	noLoop   bool                 // loop mounts failed once: /tmp is a tmpfs
	warnOnce sync.Once

	// owner is this process's labelOwner value (tests fake a dead owner).
	owner string

	// forceUpdateCPU applies the CPU quota through the engine even where the
	// cgroup files are writable (benchmarks compare the two).
	forceUpdateCPU bool

	// sock is how instance sockets are kept from other host users
	// (sockets.go).
	sock sockAccess
}

var _ sandbox.Backend = (*Backend)(nil)

// New connects to the Docker engine and checks that it can run sandboxes as
// the profile requires: seccomp on, the chosen runtime registered, the image
// and the init binary present.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Runtime == "" {
		opts.Runtime = "runc"
	}
	if opts.Image == "" {
		return nil, errors.New("docker backend: no runtime image given")
	}
	if opts.DataDir == "" {
		return nil, errors.New("docker backend: no data directory given")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("docker backend: data directory: %w", err)
	}
	// Each instance's sockets live at DataDir/instances/<16 hex>/sock/NAME,
	// and a Unix socket path may hold at most 107 bytes: refuse a data
	// directory that would make every instance fail to start later.
	if longest := len(filepath.Join(dataDir, "instances", strings.Repeat("0", 16), instdir.SockDir, "runtime.sock")); longest > 107 {
		return nil, fmt.Errorf("docker backend: data directory %s is too long for the instances' Unix sockets (%d bytes of at most 107); use a shorter --data path", dataDir, longest)
	}
	initBin, err := filepath.Abs(opts.InitBinary)
	if err != nil {
		return nil, fmt.Errorf("docker backend: init binary: %w", err)
	}
	if st, err := os.Stat(initBin); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("docker backend: init binary %q is not an executable file", opts.InitBinary)
	}
	opts.InitBinary = initBin
	if err := os.MkdirAll(filepath.Join(dataDir, "instances"), 0o755); err != nil {
		return nil, fmt.Errorf("docker backend: %w", err)
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connect to docker: %w", err)
	}
	info, err := cli.Info(ctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine does not answer (start it with scripts/deps.sh docker): %w", err)
	}
	if !slices.ContainsFunc(info.SecurityOptions, func(s string) bool { return strings.Contains(s, "name=seccomp") }) {
		cli.Close()
		return nil, errors.New("docker engine runs without seccomp: refusing to run learner code on it")
	}
	if _, ok := info.Runtimes[opts.Runtime]; !ok {
		cli.Close()
		return nil, fmt.Errorf("docker engine has no runtime %q: register it in /etc/docker/daemon.json "+
			`(for gVisor: "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=open"]}}) and restart dockerd`, opts.Runtime)
	}
	if _, err := cli.ImageInspect(ctx, opts.Image); err != nil {
		cli.Close()
		return nil, fmt.Errorf("runtime image %s: %w (build it with `lambdalab image`)", opts.Image, err)
	}
	b := &Backend{
		cli:     cli,
		opts:    opts,
		dataDir: dataDir,
		log:     opts.Logger,
		live:    make(map[string]*Instance),
		owner:   ownerLabel,
	}
	if info.CgroupDriver == "cgroupfs" && info.CgroupVersion == "1" {
		b.cgroupRoot = "/sys/fs/cgroup"
	}
	if b.sock, err = chooseSockAccess(info, opts.Runtime, filepath.Join(dataDir, "instances")); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	if name := b.sock.hostAccount(); name != "" {
		b.log.WarnContext(ctx, "a host account has the sandbox user's uid and can reach every instance's sockets: give it another uid",
			"account", name, "uid", b.sock.uid)
	}
	isolation := "runc: Linux namespaces, cgroups, seccomp; the host kernel is shared"
	if opts.Runtime == "runsc" {
		isolation = "gVisor: a user-space kernel between learner code and the host kernel"
	}
	b.log.InfoContext(ctx, "docker backend ready", "engine", info.ServerVersion, "runtime", opts.Runtime,
		"isolation", isolation, "image", opts.Image, "cgroup_driver", info.CgroupDriver, "cgroup_version", info.CgroupVersion,
		"socket_access", b.sock.mode.String())
	return b, nil
}

// Close releases the engine connection. Instances must be closed first.
func (b *Backend) Close() error { return b.cli.Close() }

// Instance is one execution environment: one container, its directory on
// the host and the Runtime API server behind its socket. It implements
// sandbox.Instance.
type Instance struct {
	b           *Backend
	id          string
	dir         string
	containerID string
	loopTmp     bool // /tmp is a loop-mounted ext4 under dir/tmp

	api  *runtimeapi.Server
	ln   net.Listener
	xray *instdir.XRayRelay // nil when the instance has no X-Ray sink

	stopWait context.CancelFunc
	dead     chan struct{} // closed when the container has exited

	// peak is the highest memory high-water mark read so far. It is read
	// when the runtime exits, because init then exits too and the cgroup,
	// with its counter, goes away with the container.
	peak atomic.Int64
	// oomKilled is set when the memory cgroup's oom_kill counter was seen
	// above zero. The engine's State.OOMKilled can miss a kill: it is lost
	// when the engine learns of the exit before the OOM event.
	oomKilled  atomic.Bool
	peakReader cgroupv1.PeakReader // open while the container lives

	mu      sync.Mutex
	bound   bool
	closing bool
	closed  chan struct{}
	info    sandbox.CloseInfo
	err     error
}

var _ sandbox.Instance = (*Instance)(nil)

// ID is the instance id, also the suffix of its container name.
func (in *Instance) ID() string { return in.id }

// ContainerID is the Docker container id (for tests and diagnostics).
func (in *Instance) ContainerID() string { return in.containerID }

// Start creates and starts an unbound instance: init runs as PID 1 and waits
// on the socket to be told which runtime to start.
func (b *Backend) Start(ctx context.Context, spec sandbox.InstanceSpec) (sandbox.Instance, error) {
	in, err := b.start(ctx, spec)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return in, nil
}

func (b *Backend) start(ctx context.Context, spec sandbox.InstanceSpec) (_ *Instance, err error) {
	if spec.EphemeralMB == 0 {
		spec.EphemeralMB = 512
	}
	if spec.EphemeralMB < 512 || spec.EphemeralMB > 10240 {
		return nil, fmt.Errorf("start instance: ephemeral storage %d MB is outside 512 to 10240", spec.EphemeralMB)
	}
	t0 := time.Now()
	id := newID()
	in := &Instance{
		b:      b,
		id:     id,
		dir:    filepath.Join(b.dataDir, "instances", id),
		dead:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	defer func() {
		if err != nil {
			in.teardown(ctx)
		}
	}()
	if err := instdir.Create(in.dir); err != nil {
		return nil, fmt.Errorf("start instance: %w", err)
	}
	// Closed before any socket is bound in it.
	if err := b.sock.protectDir(filepath.Join(in.dir, instdir.SockDir)); err != nil {
		return nil, fmt.Errorf("start instance %s: %w", id, err)
	}

	if err := in.serve(spec.AWS); err != nil {
		return nil, fmt.Errorf("start instance %s: %w", id, err)
	}
	if err := in.listenXRay(spec.XRay); err != nil {
		return nil, fmt.Errorf("start instance %s: %w", id, err)
	}

	mounts := []mount.Mount{
		{Type: mount.TypeBind, Source: b.opts.InitBinary, Target: initPath, ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(in.dir, instdir.SockDir), Target: socketDirPath, ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(in.dir, instdir.TaskDir), Target: "/var/task", ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(in.dir, instdir.OptDir), Target: "/opt", ReadOnly: true},
	}
	if err := instdir.TmpRoom(in.dir, spec.EphemeralMB); err != nil {
		return nil, fmt.Errorf("start instance %s: %w", id, err)
	}
	var tmpfs map[string]string
	tTmp := time.Now()
	if b.makeTmp(ctx, in, spec.EphemeralMB) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: filepath.Join(in.dir, instdir.TmpDir), Target: "/tmp"})
	} else {
		// Charged to the memory limit: a small function cannot fill it.
		tmpfs = map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,size=%dm,mode=1777", spec.EphemeralMB)}
	}

	cfg := &container.Config{
		Image:      b.opts.Image,
		User:       fmt.Sprintf("%d:%d", sandboxUID, sandboxUID),
		WorkingDir: "/var/task",
		Cmd:        []string{initPath},
		Env: []string{
			"PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
			"LAMBDALAB_SOCKET_DIR=" + socketDirPath,
		},
		Labels: map[string]string{
			labelAll:      "1",
			labelInstance: id,
			labelDataDir:  b.dataDir,
			labelOwner:    b.owner,
		},
		NetworkDisabled: false, // NetworkMode none below leaves only lo
		StopTimeout:     ptr(0),
	}
	pids := int64(1024) // Lambda's 1,024 processes and threads
	if b.opts.Runtime == "runsc" {
		pids = 5 * 1024 // under gVisor each guest process costs several host tasks
	}
	mem := int64(unboundMemoryMB) << 20
	host := &container.HostConfig{
		Runtime:        b.opts.Runtime,
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
		IpcMode:        "none",
		GroupAdd:       b.sock.groupAdd(),
		CgroupnsMode:   "private",
		Init:           ptr(false), // our init is PID 1
		AutoRemove:     false,      // OOMKilled and the exit code are read before removal
		LogConfig:      container.LogConfig{Type: "none"},
		Mounts:         mounts,
		Tmpfs:          tmpfs,
		Resources: container.Resources{
			Memory:         mem,
			MemorySwap:     mem,
			PidsLimit:      &pids,
			OomKillDisable: ptr(false),
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: 1024, Hard: 1024},
				{Name: "core", Soft: 0, Hard: 0},
				// no nproc: it counts per host uid, across all sandboxes
			},
		},
	}
	tCreate := time.Now()
	created, err := b.cli.ContainerCreate(ctx, cfg, host, nil, nil, "lambdalab-"+id)
	if err != nil {
		return nil, fmt.Errorf("create container for %s: %w", id, err)
	}
	in.containerID = created.ID
	b.mu.Lock()
	b.live[id] = in
	b.mu.Unlock()

	tStart := time.Now()
	if err := b.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start container for %s: %w", id, err)
	}
	in.watch()
	go func() {
		select {
		case <-in.api.Exited():
			in.readPeak(context.Background(), true)
		case <-in.dead:
		}
	}()
	b.log.DebugContext(ctx, "instance started", "instance", id, "container", shortID(created.ID), "loop_tmp", in.loopTmp,
		"tmp_ms", tCreate.Sub(tTmp).Milliseconds(), "create_ms", tStart.Sub(tCreate).Milliseconds(),
		"start_ms", time.Since(tStart).Milliseconds(), "total_ms", time.Since(t0).Milliseconds())
	return in, nil
}

// serve listens on the instance's socket and serves its Runtime API there.
func (in *Instance) serve(aws http.Handler) error {
	sock := filepath.Join(in.dir, instdir.SockDir, socketName)
	if len(sock) >= 108 {
		return fmt.Errorf("socket path %s is longer than Unix sockets allow: choose a shorter data directory", sock)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	// The sandbox user must connect, and no other host user may.
	if err := in.b.sock.protectSocket(sock); err != nil {
		ln.Close()
		return err
	}
	in.ln = ln
	in.api = runtimeapi.New(runtimeapi.Config{AWS: aws, Logger: in.b.log.With("instance", in.id), MaxLogBytes: sandbox.MaxLogBytes})
	// Serve adds the header timeouts and the per-instance connection cap;
	// it returns when the server is closed.
	go in.api.Serve(ln)
	return nil
}

// watch waits for the container's exit; an exit nobody asked for ends the
// runtime at once, so that an init or invocation in flight does not wait for
// its deadline.
func (in *Instance) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	in.stopWait = cancel
	go func() {
		defer close(in.dead)
		waitC, errC := in.b.cli.ContainerWait(ctx, in.containerID, container.WaitConditionNotRunning)
		var text string
		select {
		case w := <-waitC:
			text = exitText(w.StatusCode)
		case err := <-errC:
			if ctx.Err() != nil {
				return
			}
			text = "signal: killed"
			in.b.log.Warn("wait for container", "instance", in.id, "err", err)
		}
		in.mu.Lock()
		closing := in.closing
		in.mu.Unlock()
		if !closing {
			in.b.log.Debug("instance died", "instance", in.id, "exit", text)
		}
		in.api.Fail(text)
	}()
}

// exitText words a container's exit code as Go's os.ProcessState does, which
// is how Lambda words "Runtime exited with error: …".
func exitText(code int64) string {
	if code > 128 && code < 128+65 {
		return "signal: " + syscall.Signal(code-128).String()
	}
	return "exit status " + strconv.FormatInt(code, 10)
}

// makeTmp gives the instance a private /tmp of mb megabytes, a loop-mounted
// ext4 owned by the sandbox user (instdir.LoopTmp): unlike a tmpfs, its
// pages are not charged to the memory limit. It reports false, after one
// warning, when loop mounts are unavailable; the caller then uses a tmpfs,
// and so do all later instances, without trying again.
func (b *Backend) makeTmp(ctx context.Context, in *Instance, mb int) bool {
	b.mu.Lock()
	noLoop := b.noLoop
	b.mu.Unlock()
	if noLoop {
		return false
	}
	err := instdir.LoopTmp(ctx, in.dir, mb, sandboxUID)
	if err == nil {
		in.loopTmp = true
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	b.warnOnce.Do(func() {
		b.log.WarnContext(ctx, "loop-mounted /tmp unavailable: using a tmpfs, which counts against the function's memory limit", "err", err)
	})
	b.mu.Lock()
	b.noLoop = true
	b.mu.Unlock()
	return false
}

// Bind sets the memory limit, places the code and layers, starts the runtime
// and waits for its init; then it applies the CPU quota, so init runs
// unthrottled (DESIGN.md, cold starts).
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
	if err := in.setMemory(ctx, int64(bnd.MemoryMB)<<20); err != nil {
		return sandbox.InitResult{}, fmt.Errorf("set memory of %s to %d MB: %w", in.id, bnd.MemoryMB, err)
	}
	if bnd.CodeDir != "" {
		if err := instdir.PlaceTree(bnd.CodeDir, filepath.Join(in.dir, instdir.TaskDir)); err != nil {
			return sandbox.InitResult{}, fmt.Errorf("place code of %s: %w", bnd.Function, err)
		}
	}
	for _, l := range bnd.LayerDirs {
		if err := instdir.PlaceTree(l, filepath.Join(in.dir, instdir.OptDir)); err != nil {
			return sandbox.InitResult{}, fmt.Errorf("place layer of %s: %w", bnd.Function, err)
		}
	}

	in.api.Bind(runtimeapi.BindConfig{Cmd: bnd.Cmd, Env: bnd.Env, WorkDir: "/var/task"})
	timeout := bnd.InitTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second // Lambda's init allowance
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	res, err := in.api.WaitInit(ictx)
	cancel()
	if err != nil {
		return sandbox.InitResult{}, fmt.Errorf("init of %s: %w", in.id, err)
	}
	out := sandbox.InitResult{
		Duration:  res.Duration,
		Log:       res.Log,
		Truncated: res.Truncated,
		Status:    sandbox.Status(res.Status),
		ErrorBody: res.ErrorBody,
		ErrorType: res.ErrorType,
		Exit:      res.Exit,
	}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	if out.Status == sandbox.StatusSuccess && bnd.NanoCPUs > 0 {
		if err := in.setCPU(ctx, bnd.NanoCPUs); err != nil {
			return out, fmt.Errorf("set cpu quota of %s: %w", in.id, err)
		}
	}
	in.b.log.DebugContext(ctx, "instance bound", "instance", in.id, "account", bnd.AccountID, "function", bnd.Function,
		"version", bnd.Version, "memory_mb", bnd.MemoryMB, "init_ms", res.Duration.Milliseconds(), "status", res.Status)
	return out, nil
}

// setCPU applies the CPU quota. Writing the cgroup v1 files directly is
// several times faster than a container update (see BenchmarkCPUQuota); the
// engine's own record of the quota then stays at "none", which nothing reads.
func (in *Instance) setCPU(ctx context.Context, nano int64) error {
	if dir := in.b.cgroupDir("cpu", in.containerID); dir != "" && !in.b.forceUpdateCPU {
		err := cgroupv1.SetCPUQuota(dir, nano)
		if err == nil {
			return nil
		}
		in.b.log.DebugContext(ctx, "cgroup cpu write failed, using the engine", "instance", in.id, "err", err)
	}
	_, err := in.b.cli.ContainerUpdate(ctx, in.containerID, container.UpdateConfig{
		Resources: container.Resources{CPUPeriod: cgroupv1.CFSPeriod, CPUQuota: cgroupv1.CFSQuota(nano)},
	})
	return err
}

// setMemory sets the memory limit, swap included (no swap). Like setCPU it
// writes the cgroup v1 files when it can: faster than a container update,
// and the only way under gVisor, whose runsc has no update command.
func (in *Instance) setMemory(ctx context.Context, mem int64) error {
	if dir := in.b.cgroupDir("memory", in.containerID); dir != "" {
		err := cgroupv1.SetMemoryLimit(dir, mem)
		if err == nil {
			return nil
		}
		in.b.log.DebugContext(ctx, "cgroup memory write failed, using the engine", "instance", in.id, "err", err)
	}
	_, err := in.b.cli.ContainerUpdate(ctx, in.containerID, container.UpdateConfig{
		Resources: container.Resources{Memory: mem, MemorySwap: mem},
	})
	return err
}

// cgroupDir is the container's cgroup v1 directory for controller, or ""
// when it is not there.
func (b *Backend) cgroupDir(controller, containerID string) string {
	if b.cgroupRoot == "" {
		return ""
	}
	dir := filepath.Join(b.cgroupRoot, controller, "docker", containerID)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// Invoke hands one event to the runtime and waits for its answer, its exit,
// or ctx's end.
func (in *Instance) Invoke(ctx context.Context, inv sandbox.Invocation) (sandbox.Outcome, error) {
	select {
	case <-in.api.Exited():
		return sandbox.Outcome{}, fmt.Errorf("invoke %s on %s: %w", inv.RequestID, in.id, sandbox.ErrInstanceGone)
	case <-in.dead:
		return sandbox.Outcome{}, fmt.Errorf("invoke %s on %s: %w", inv.RequestID, in.id, sandbox.ErrInstanceGone)
	default:
	}
	out, err := in.api.Invoke(ctx, runtimeapi.Invocation{
		RequestID:          inv.RequestID,
		Payload:            inv.Payload,
		Deadline:           inv.Deadline,
		InvokedFunctionARN: inv.InvokedFunctionARN,
		TraceID:            inv.TraceID,
		ClientContext:      inv.ClientContext,
		CognitoIdentity:    inv.CognitoIdentity,
		Output:             inv.Output,
	})
	if err != nil {
		return sandbox.Outcome{}, fmt.Errorf("invoke %s on %s: %w", inv.RequestID, in.id, err)
	}
	if out.Status == runtimeapi.StatusExit {
		in.readPeak(ctx, true) // before the container, and its cgroup, are gone
	}
	return sandbox.Outcome{
		Status:       sandbox.Status(out.Status),
		Payload:      out.Payload,
		ContentType:  out.ContentType,
		ErrorType:    out.ErrorType,
		Exit:         out.Exit,
		Start:        out.Start,
		Done:         out.Done,
		Log:          out.Log,
		Truncated:    out.Truncated,
		ResponseSize: out.ResponseSize,
	}, nil
}

// MaxMemoryUsed is the instance's peak memory: the cgroup v1 high-water
// mark (or the stats API's where the cgroup files are not reachable), or the
// last one read if the container has exited since.
func (in *Instance) MaxMemoryUsed(ctx context.Context) (int64, error) {
	err := in.readPeak(ctx, false)
	if n := in.peak.Load(); n > 0 {
		return n, nil
	}
	if err == nil {
		err = errors.New("no memory reading")
	}
	return 0, fmt.Errorf("memory peak of %s: %w", in.id, err)
}

// readPeak reads the current high-water mark into in.peak, and with
// withOOM also whether the OOM killer struck (needed only when the runtime
// is gone, not after every invoke).
func (in *Instance) readPeak(ctx context.Context, withOOM bool) error {
	n, err := in.currentPeak(ctx, withOOM)
	for {
		old := in.peak.Load()
		if n <= old || in.peak.CompareAndSwap(old, n) {
			break
		}
	}
	return err
}

func (in *Instance) currentPeak(ctx context.Context, withOOM bool) (int64, error) {
	if !withOOM {
		if n, err := in.readMaxUsage(""); err == nil {
			return n, nil
		}
	}
	if dir := in.b.cgroupDir("memory", in.containerID); dir != "" {
		if withOOM {
			if killed, err := cgroupv1.OOMKilled(dir); err == nil && killed {
				in.oomKilled.Store(true)
			}
		}
		if n, err := in.readMaxUsage(dir); err == nil {
			return n, nil
		}
	}
	st, err := in.b.cli.ContainerStatsOneShot(ctx, in.containerID)
	if err != nil {
		return 0, err
	}
	defer st.Body.Close()
	var v container.StatsResponse
	if err := json.NewDecoder(st.Body).Decode(&v); err != nil {
		return 0, err
	}
	return int64(max(v.MemoryStats.MaxUsage, v.MemoryStats.Usage)), nil
}

// readMaxUsage reads the memory high-water mark through in.peakReader,
// opening it in dir first if it is not open; with dir "" only an open
// reader is read.
func (in *Instance) readMaxUsage(dir string) (int64, error) {
	if dir != "" {
		if err := in.peakReader.Open(dir); err != nil {
			return 0, err
		}
	}
	return in.peakReader.Read()
}

// Close kills the container (SIGKILL: a learner may ignore SIGTERM), reads
// whether the OOM killer struck, and removes the container, /tmp and the
// instance directory. Later calls return the first result.
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var info sandbox.CloseInfo
	var errs []error
	if in.containerID != "" {
		in.readPeak(ctx, true)
		if err := in.b.cli.ContainerKill(ctx, in.containerID, "KILL"); err != nil && !isNotRunning(err) {
			errs = append(errs, fmt.Errorf("kill %s: %w", in.id, err))
		}
		// Wait for the exit so that OOMKilled and the exit code are final.
		if in.stopWait != nil {
			select {
			case <-in.dead:
			case <-ctx.Done():
			}
			in.stopWait()
		}
		if st, err := in.b.cli.ContainerInspect(ctx, in.containerID); err == nil && st.State != nil {
			info = sandbox.CloseInfo{OOMKilled: st.State.OOMKilled, ExitCode: st.State.ExitCode}
		}
		info.OOMKilled = info.OOMKilled || in.oomKilled.Load()
		in.peakReader.Close()
		if err := in.b.cli.ContainerRemove(ctx, in.containerID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container of %s: %w", in.id, err))
		}
	}
	if in.api != nil {
		in.api.Close()
	}
	if in.ln != nil {
		in.ln.Close() // Close above stops Serve; this covers a Serve not yet running
	}
	if in.xray != nil {
		if _, dropped := in.XRayStats(); dropped > 0 {
			in.b.log.InfoContext(ctx, "x-ray datagrams dropped", "instance", in.id, "dropped", dropped)
		}
		in.xray.Close()
	}
	if err := instdir.Remove(in.dir); err != nil {
		errs = append(errs, err)
	}
	in.b.mu.Lock()
	delete(in.b.live, in.id)
	in.b.mu.Unlock()
	return info, errors.Join(errs...)
}

// Sweep removes what earlier runs left behind: containers of this data
// directory (or of one that no longer exists) that this Backend did not
// create, and instance directories without a live instance.
func (b *Backend) Sweep(ctx context.Context) error {
	list, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelAll+"=1"))})
	if err != nil {
		return fmt.Errorf("sweep: list containers: %w", err)
	}
	b.mu.Lock()
	live := make(map[string]bool, len(b.live))
	for id := range b.live {
		live[id] = true
	}
	b.mu.Unlock()
	var errs []error
	removed := 0
	for _, c := range list {
		if live[c.Labels[labelInstance]] {
			continue
		}
		owner := c.Labels[labelDataDir]
		if owner != b.dataDir {
			if _, err := os.Stat(owner); (owner == "" || err == nil) && ownerAlive(c.Labels[labelOwner]) {
				continue // a live neighbour's, in another data directory
			}
		}
		if err := b.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("sweep: remove container %s: %w", shortID(c.ID), err))
			continue
		}
		if owner != b.dataDir && owner != "" && c.Labels[labelInstance] != "" {
			// Its /tmp may still be mounted under the dead owner's folder.
			if err := instdir.Remove(filepath.Join(owner, "instances", filepath.Base(c.Labels[labelInstance]))); err != nil {
				errs = append(errs, fmt.Errorf("sweep: %w", err))
			}
		}
		removed++
	}
	entries, err := os.ReadDir(filepath.Join(b.dataDir, "instances"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("sweep: %w", err))
	}
	dirs := 0
	for _, e := range entries {
		if live[e.Name()] {
			continue
		}
		if err := instdir.Remove(filepath.Join(b.dataDir, "instances", e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("sweep: %w", err))
			continue
		}
		dirs++
	}
	if removed > 0 || dirs > 0 {
		b.log.InfoContext(ctx, "swept leftover instances", "containers", removed, "dirs", dirs)
	}
	return errors.Join(errs...)
}

// ownerLabel identifies this process for labelOwner.
var ownerLabel = fmt.Sprintf("%d@%s", os.Getpid(), bootID())

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// ownerAlive reports whether the process named by an owner label may still
// be running. Only a certain death counts: the pid is gone in this boot, or
// the container dates from before a reboot. Anything unreadable counts as
// alive, so that nothing is removed on a guess.
func ownerAlive(label string) bool {
	pidText, boot, ok := strings.Cut(label, "@")
	me := bootID()
	if !ok || boot == "unknown" || me == "unknown" {
		return true
	}
	if boot != me {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return true
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func isNotRunning(err error) bool {
	return client.IsErrNotFound(err) || strings.Contains(err.Error(), "is not running")
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }
