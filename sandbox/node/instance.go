package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/facts"
	"lambdalab/sandbox"
	"lambdalab/sandbox/cgroupv1"
	"lambdalab/sandbox/instdir"
	"lambdalab/sandbox/runtimeapi"
)

// instance is one execution environment on this node: its folder, its
// Runtime API on sock/aws.sock, its X-Ray relay on sock/xray.sock, and,
// once bound, its Pod's cgroup folders.
type instance struct {
	a    *agent
	id   string
	dir  string
	link *link // the link that prepared it; its AWS calls go there

	api     *runtimeapi.Server
	ln      net.Listener
	xray    *instdir.XRayRelay // nil without a sink
	peak    atomic.Int64       // highest reading so far
	oom     atomic.Bool        // the oom_kill counter was seen above zero
	peakRdr cgroupv1.PeakReader

	mu      sync.Mutex
	bound   bool
	memDir  string // the Pod's memory cgroup folder, once bound
	cpuDir  string
	invokes map[string]context.CancelFunc // by request id: invocations in flight
	closing bool
	closed  chan struct{}
	info    sandbox.CloseInfo
	err     error
}

// routes are what the server may ask of this node, on link l.
func (a *agent) routes(l *link) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathInstance+"{id}/prepare", func(w http.ResponseWriter, r *http.Request) { a.prepare(w, r, l) })
	mux.HandleFunc("POST "+pathInstance+"{id}/bind", a.withInstance((*instance).serveBind))
	mux.HandleFunc("POST "+pathInstance+"{id}/invoke", a.withInstance((*instance).serveInvoke))
	mux.HandleFunc("POST "+pathInstance+"{id}/cancel", a.withInstance((*instance).serveCancel))
	mux.HandleFunc("POST "+pathInstance+"{id}/fail", a.withInstance((*instance).serveFail))
	mux.HandleFunc("GET "+pathInstance+"{id}/peak", a.withInstance((*instance).servePeak))
	mux.HandleFunc("POST "+pathInstance+"{id}/release", a.withInstance((*instance).serveRelease))
	mux.HandleFunc("POST "+pathSweep, a.serveSweep)
	return mux
}

func (a *agent) withInstance(h func(*instance, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := validID(id); err != nil {
			writeErr(w, err)
			return
		}
		a.mu.Lock()
		in := a.insts[id]
		a.mu.Unlock()
		if in == nil {
			writeErr(w, coded(codeNotFound, "no instance %s on this node", id))
			return
		}
		h(in, w, r)
	}
}

func (a *agent) prepare(w http.ResponseWriter, r *http.Request, l *link) {
	id := r.PathValue("id")
	var req prepareRequest
	err := validID(id)
	if err == nil {
		err = readJSON(r.Body, &req, "prepare request")
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	a.mu.Lock()
	if _, ok := a.insts[id]; ok {
		a.mu.Unlock()
		writeErr(w, coded(codeConflict, "instance %s is already on this node", id))
		return
	}
	a.insts[id] = nil // reserved: a second prepare of the id is refused
	a.mu.Unlock()
	in, err := a.newInstance(r.Context(), id, req, l)
	a.mu.Lock()
	if err == nil {
		select {
		case <-l.done:
			// The link ended while the instance was made, and removeAll
			// may have run already: nobody would remove it.
			err = ErrLinkDown
		default:
			a.insts[id] = in
		}
	}
	if err != nil {
		delete(a.insts, id)
	}
	a.mu.Unlock()
	if err != nil && in != nil {
		in.teardown(r.Context())
	}
	if err != nil {
		a.log.WarnContext(r.Context(), "prepare instance", "instance", id, "err", err)
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Paths{
		SocketDir: filepath.Join(in.dir, instdir.SockDir),
		CodeDir:   filepath.Join(in.dir, instdir.TaskDir),
		LayersDir: filepath.Join(in.dir, instdir.OptDir),
		TmpDir:    filepath.Join(in.dir, instdir.TmpDir),
	})
}

// newInstance makes the instance's folder, its /tmp and its servers.
func (a *agent) newInstance(ctx context.Context, id string, req prepareRequest, l *link) (_ *instance, err error) {
	mb := req.EphemeralMB
	if mb == 0 {
		mb = facts.DefaultEphemeralMB
	}
	if mb < 512 || mb > 10240 {
		return nil, coded(codeBad, "ephemeral storage %d MB is outside 512 to 10240", mb)
	}
	in := &instance{
		a:       a,
		id:      id,
		dir:     filepath.Join(a.instDir, id),
		link:    l,
		invokes: make(map[string]context.CancelFunc),
		closed:  make(chan struct{}),
	}
	defer func() {
		if err != nil {
			in.teardown(ctx)
		}
	}()
	if err := instdir.Create(in.dir); err != nil {
		return nil, err
	}
	sock := filepath.Join(in.dir, instdir.SockDir)
	// Closed before any socket is bound in it: only the Pod's user, which
	// sees the folder through its own mount, and root get in.
	if err := protect(sock, 0o700); err != nil {
		return nil, err
	}
	if err := instdir.TmpRoom(in.dir, mb); err != nil {
		return nil, err
	}
	// No tmpfs fallback, unlike the Docker backend: a node without loop
	// devices is misconfigured, and a tmpfs would be charged to the Pod's
	// memory limit without anyone noticing.
	if err := instdir.LoopTmp(ctx, in.dir, mb, sandboxUID); err != nil {
		return nil, fmt.Errorf("loop-mounted /tmp (the node needs root, mkfs.ext4 and loop devices): %w", err)
	}

	ln, err := net.Listen("unix", filepath.Join(sock, "aws.sock"))
	if err != nil {
		return nil, err
	}
	in.ln = ln
	if err := protect(filepath.Join(sock, "aws.sock"), 0o600); err != nil {
		return nil, err
	}
	cfg := runtimeapi.Config{Logger: a.log.With("instance", id), MaxLogBytes: sandbox.MaxLogBytes}
	if req.AWS {
		cfg.AWS = l.forwardAWS(id)
	}
	in.api = runtimeapi.New(cfg)
	go in.api.Serve(ln)
	if req.XRay {
		in.xray, err = instdir.ListenXRay(filepath.Join(sock, instdir.XRaySocketName),
			func(d []byte) { l.queueXRay(id, d) },
			func(p string) error { return protect(p, 0o600) })
		if err != nil {
			return nil, err
		}
	}
	go func() {
		// The Pod's cgroup, and its counters, go with the Pod: read them
		// when the runtime exits, as the Docker backend does.
		select {
		case <-in.api.Exited():
			in.readPeak(true)
		case <-in.closed:
		}
	}()
	a.log.DebugContext(ctx, "instance prepared", "instance", id, "tmp_mb", mb)
	return in, nil
}

// protect gives path to the sandbox user with mode perm: the Pod runs as
// that uid, and the agent (root) needs no grant.
func protect(path string, perm os.FileMode) error {
	if err := os.Chmod(path, perm); err != nil {
		return err
	}
	return os.Chown(path, sandboxUID, sandboxUID)
}

func (in *instance) serveBind(w http.ResponseWriter, r *http.Request) {
	res, err := in.bind(r.Context(), r.Body)
	if err != nil {
		in.a.log.WarnContext(r.Context(), "bind instance", "instance", in.id, "err", err)
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", frameType)
	bw := bufio.NewWriter(w)
	writeFrame(bw, frameLog, res.Log)
	if res.ErrorBody != nil {
		writeFrame(bw, framePayload, res.ErrorBody)
	}
	writeJSONFrame(bw, frameOutcome, initMeta{
		DurationNS: int64(res.Duration), Truncated: res.Truncated, Status: sandbox.Status(res.Status),
		ErrorType: res.ErrorType, Exit: res.Exit,
	})
	bw.Flush()
}

// bind does what the Docker backend's Instance.Bind does, on the Pod's
// cgroup: the memory limit, the code and layers, the runtime's start and
// init, then the CPU quota.
func (in *instance) bind(ctx context.Context, body io.Reader) (runtimeapi.InitResult, error) {
	_, head, err := readFrame(body, frameMeta)
	if err != nil {
		return runtimeapi.InitResult{}, err
	}
	var m bindMeta
	if err := json.Unmarshal(head, &m); err != nil {
		return runtimeapi.InitResult{}, coded(codeBad, "bind metadata: %v", err)
	}
	switch {
	case m.MemoryMB < 128 || m.MemoryMB > 10240:
		return runtimeapi.InitResult{}, coded(codeBad, "memory %d MB is outside 128 to 10240", m.MemoryMB)
	case len(m.Cmd) == 0:
		return runtimeapi.InitResult{}, coded(codeBad, "no command")
	}
	in.mu.Lock()
	if in.bound || in.closing {
		in.mu.Unlock()
		return runtimeapi.InitResult{}, coded(codeConflict, "already bound or closing")
	}
	in.bound = true
	in.mu.Unlock()

	if !in.a.cfg.NoCgroups {
		mem, cpu, err := podCgroups(in.a.cfg.CgroupRoot, m.PodUID)
		if err != nil {
			return runtimeapi.InitResult{}, err
		}
		in.mu.Lock()
		in.memDir, in.cpuDir = mem, cpu
		in.mu.Unlock()
		if err := setPodMemoryLimit(mem, int64(m.MemoryMB)<<20); err != nil {
			return runtimeapi.InitResult{}, fmt.Errorf("memory limit of %d MB on %s: %w", m.MemoryMB, mem, err)
		}
		if err := in.peakRdr.Open(mem); err != nil {
			return runtimeapi.InitResult{}, fmt.Errorf("memory peak: %w", err)
		}
	}
	if err := unpackBundle(body, in.dir); err != nil {
		return runtimeapi.InitResult{}, err
	}
	workDir := "/var/task"
	if in.a.cfg.hostInit {
		workDir = filepath.Join(in.dir, instdir.TaskDir)
	}
	in.api.Bind(runtimeapi.BindConfig{Cmd: m.Cmd, Env: m.Env, WorkDir: workDir})
	timeout := time.Duration(m.InitTimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = facts.InitTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	res, err := in.api.WaitInit(ictx)
	cancel()
	if err != nil {
		return runtimeapi.InitResult{}, fmt.Errorf("init: %w", err)
	}
	if ctx.Err() != nil {
		return runtimeapi.InitResult{}, ctx.Err()
	}
	if res.Status == runtimeapi.StatusSuccess && m.NanoCPUs > 0 && in.cpuDir != "" {
		if err := setPodCPUQuota(in.cpuDir, m.NanoCPUs); err != nil {
			return res, fmt.Errorf("cpu quota on %s: %w", in.cpuDir, err)
		}
	}
	in.a.log.DebugContext(ctx, "instance bound", "instance", in.id, "account", m.AccountID, "function", m.Function,
		"version", m.Version, "memory_mb", m.MemoryMB, "init_ms", res.Duration.Milliseconds(), "status", res.Status)
	return res, nil
}

// serveInvoke runs one invocation and streams its output and outcome as
// frames. The request is read whole first: no reading and writing at once.
func (in *instance) serveInvoke(w http.ResponseWriter, r *http.Request) {
	_, head, err := readFrame(r.Body, frameMeta)
	var m invokeMeta
	if err == nil {
		if err = json.Unmarshal(head, &m); err != nil {
			err = coded(codeBad, "invoke metadata: %v", err)
		}
	}
	var payload []byte
	if err == nil {
		_, payload, err = readFrame(r.Body, framePayload)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	select {
	case <-in.api.Exited():
		writeErr(w, fmt.Errorf("request %s: %w", m.RequestID, sandbox.ErrInstanceGone))
		return
	default:
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if m.TimeoutMS > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, time.Duration(m.TimeoutMS)*time.Millisecond)
		defer c2()
	}
	in.mu.Lock()
	in.invokes[m.RequestID] = cancel
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(in.invokes, m.RequestID)
		in.mu.Unlock()
	}()

	w.Header().Set("Content-Type", frameType)
	s := newOutputStream(w)
	out, err := in.api.Invoke(ctx, runtimeapi.Invocation{
		RequestID:          m.RequestID,
		Payload:            payload,
		Deadline:           m.Deadline,
		InvokedFunctionARN: m.InvokedFunctionARN,
		TraceID:            m.TraceID,
		ClientContext:      m.ClientContext,
		CognitoIdentity:    m.CognitoIdentity,
		Output:             s.tap,
	})
	streamed := s.finish()
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if err != nil {
		writeJSONFrame(bw, frameError, toWire(fmt.Errorf("request %s: %w", m.RequestID, err)))
		return
	}
	if out.Status == runtimeapi.StatusExit {
		in.readPeak(true) // before the Pod, and its cgroup, are gone
	}
	same := bytes.Equal(streamed, out.Log)
	if !same {
		writeFrame(bw, frameLog, out.Log)
	}
	if len(out.Payload) > 0 {
		writeFrame(bw, framePayload, out.Payload)
	}
	writeJSONFrame(bw, frameOutcome, outcomeMeta{
		Status: sandbox.Status(out.Status), ContentType: out.ContentType, ErrorType: out.ErrorType, Exit: out.Exit,
		Start: out.Start, Done: out.Done, Truncated: out.Truncated, ResponseSize: out.ResponseSize, LogStreamed: same,
	})
}

// outputStream carries the Output tap's chunks to the response. The tap is
// called with the Runtime API server's lock held and must not block, so it
// only queues; a goroutine writes and flushes. The queue is bounded by the
// log cap: the tap hands over only output that the log keeps.
type outputStream struct {
	w        http.ResponseWriter
	mu       sync.Mutex
	queue    [][]byte
	streamed []byte
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func newOutputStream(w http.ResponseWriter) *outputStream {
	s := &outputStream{w: w, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *outputStream) tap(chunk []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, chunk)
	s.streamed = append(s.streamed, chunk...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *outputStream) run() {
	defer close(s.done)
	rc := http.NewResponseController(s.w)
	for {
		stopping := false
		select {
		case <-s.wake:
		case <-s.stop:
			stopping = true
		}
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, c := range q {
			writeFrame(s.w, frameOutput, c)
		}
		if len(q) > 0 {
			rc.Flush()
		}
		if stopping {
			return
		}
	}
}

// finish writes what is still queued and returns all that was streamed.
func (s *outputStream) finish() []byte {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamed
}

func (in *instance) serveCancel(w http.ResponseWriter, r *http.Request) {
	var req cancelRequest
	if err := readJSON(r.Body, &req, "cancel request"); err != nil {
		writeErr(w, err)
		return
	}
	in.mu.Lock()
	cancel := in.invokes[req.RequestID]
	in.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (in *instance) serveFail(w http.ResponseWriter, r *http.Request) {
	var req failRequest
	if err := readJSON(r.Body, &req, "fail request"); err != nil {
		writeErr(w, err)
		return
	}
	if req.Exit == "" {
		req.Exit = "signal: killed"
	}
	in.api.Fail(req.Exit)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (in *instance) servePeak(w http.ResponseWriter, r *http.Request) {
	n, err := in.maxMemoryUsed()
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, peakAnswer{Bytes: n})
}

func (in *instance) maxMemoryUsed() (int64, error) {
	if in.a.cfg.NoCgroups {
		return 0, errors.New("the node agent runs without cgroups")
	}
	err := in.readPeak(false)
	if n := in.peak.Load(); n > 0 {
		return n, nil
	}
	if err == nil {
		err = errors.New("no memory reading")
	}
	return 0, err
}

// readPeak reads the high-water mark into in.peak, and with withOOM also
// whether the OOM killer struck.
func (in *instance) readPeak(withOOM bool) error {
	in.mu.Lock()
	mem := in.memDir
	in.mu.Unlock()
	if mem == "" {
		return errors.New("the instance is not bound to a Pod")
	}
	if withOOM {
		if oom, err := podOOMKilled(mem); err == nil && oom {
			in.oom.Store(true)
		}
	}
	n, err := in.peakRdr.Read()
	if err != nil {
		return err
	}
	for {
		old := in.peak.Load()
		if n <= old || in.peak.CompareAndSwap(old, n) {
			return nil
		}
	}
}

func (in *instance) serveRelease(w http.ResponseWriter, r *http.Request) {
	info, err := in.release(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// release tears the instance down once; later calls wait for and return
// the first result.
func (in *instance) release(ctx context.Context) (sandbox.CloseInfo, error) {
	in.mu.Lock()
	if in.closing {
		in.mu.Unlock()
		<-in.closed
		return in.info, in.err
	}
	in.closing = true
	in.mu.Unlock()
	in.info, in.err = in.teardown(ctx)
	in.a.mu.Lock()
	if in.a.insts[in.id] == in {
		delete(in.a.insts, in.id)
	}
	in.a.mu.Unlock()
	close(in.closed)
	return in.info, in.err
}

// teardown kills the instance's processes through its Pod's cgroup (at
// once: the kubelet would give them at least 2 s), reads whether the OOM
// killer struck, stops its servers and removes its folder, /tmp unmounted.
func (in *instance) teardown(ctx context.Context) (sandbox.CloseInfo, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	in.mu.Lock()
	mem := in.memDir
	in.mu.Unlock()
	if mem != "" {
		in.readPeak(true)
		if err := killPod(ctx, mem); err != nil {
			errs = append(errs, fmt.Errorf("kill the processes of %s: %w", in.id, err))
		}
		// A kill the counter had not shown yet shows now.
		if oom, err := podOOMKilled(mem); err == nil && oom {
			in.oom.Store(true)
		}
		in.peakRdr.Close()
	}
	if in.api != nil {
		in.api.Close()
	}
	if in.ln != nil {
		in.ln.Close()
	}
	if in.xray != nil {
		if _, dropped := in.xray.Stats(); dropped > 0 {
			in.a.log.InfoContext(ctx, "x-ray datagrams dropped", "instance", in.id, "dropped", dropped)
		}
		in.xray.Close()
	}
	if err := instdir.Remove(in.dir); err != nil {
		errs = append(errs, err)
	}
	return sandbox.CloseInfo{OOMKilled: in.oom.Load()}, errors.Join(errs...)
}

func (a *agent) serveSweep(w http.ResponseWriter, r *http.Request) {
	var req sweepRequest
	if err := readJSON(r.Body, &req, "sweep request"); err != nil {
		writeErr(w, err)
		return
	}
	n, err := a.sweep(r.Context(), req.Keep)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sweepAnswer{Removed: n})
}

// sweep removes every instance, live or a leftover folder, whose id is not
// in keep, and says how many went.
func (a *agent) sweep(ctx context.Context, keep []string) (int, error) {
	a.mu.Lock()
	var live []*instance
	for id, in := range a.insts {
		if in != nil && !slices.Contains(keep, id) {
			live = append(live, in)
		}
	}
	preparing := map[string]bool{}
	for id, in := range a.insts {
		if in == nil {
			preparing[id] = true
		}
	}
	a.mu.Unlock()
	var errs []error
	removed := 0
	for _, in := range live {
		if _, err := in.release(ctx); err != nil {
			errs = append(errs, err)
		}
		removed++
	}
	entries, err := os.ReadDir(a.instDir)
	if err != nil {
		return removed, fmt.Errorf("sweep: %w", err)
	}
	for _, e := range entries {
		id := e.Name()
		if slices.Contains(keep, id) || preparing[id] {
			continue
		}
		a.mu.Lock()
		_, known := a.insts[id]
		a.mu.Unlock()
		if known {
			continue
		}
		if err := instdir.Remove(filepath.Join(a.instDir, id)); err != nil {
			errs = append(errs, fmt.Errorf("sweep: %w", err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// removeAll removes every instance and every folder in Dir/instances: what
// the agent does when its link ends, and when it starts.
func (a *agent) removeAll(ctx context.Context) {
	n, err := a.sweep(ctx, nil)
	if err != nil {
		a.log.WarnContext(ctx, "remove instances", "err", err)
	}
	if n > 0 {
		a.log.InfoContext(ctx, "instances removed", "count", n)
	}
}
