package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"lambdalab/sandbox"
)

// ErrLinkDown is wrapped by every Node call that fails because the node's
// link ended (or ends while the call is in flight). The node's agent
// removes all its instances when that happens; the caller closes its own
// records of them.
var ErrLinkDown = errors.New("node link is down")

// cancelGrace is how long Invoke keeps reading after its context ended,
// for the agent's own verdict (a timeout, with the output so far) before
// it gives up on the stream.
const cancelGrace = 3 * time.Second

// Hub is the server's end of the node links: it accepts agents on a TLS
// listener, knows each by its certificate's name, and gives the sandbox a
// Node per linked agent.
type Hub struct {
	tls *tls.Config
	log *slog.Logger

	mu        sync.Mutex
	closed    bool
	nodes     map[string]*Node
	changed   chan struct{} // closed and replaced whenever nodes changes
	listeners map[net.Listener]bool
	pending   map[net.Conn]bool // accepted, not yet a Node
	wg        sync.WaitGroup
}

// NewHub returns a Hub that authenticates agents with tlsConf (from
// CA.ServerTLS). A nil logger discards.
func NewHub(tlsConf *tls.Config, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		tls:       tlsConf,
		log:       logger,
		nodes:     make(map[string]*Node),
		changed:   make(chan struct{}),
		listeners: make(map[net.Listener]bool),
		pending:   make(map[net.Conn]bool),
	}
}

// Serve accepts agents on ln until ln is closed (by the caller or by Close),
// and then returns nil. Links already made outlive it.
func (h *Hub) Serve(ln net.Listener) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ln.Close()
		return errors.New("node hub: closed")
	}
	h.listeners[ln] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.listeners, ln)
		h.mu.Unlock()
	}()
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// Out of descriptors and the like pass; the listener must not
			// stop for good.
			h.log.Warn("node listener accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			conn.Close()
			return nil
		}
		h.pending[conn] = true
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			h.handle(conn)
		}()
	}
}

// Close stops every listener and ends every link; the nodes' calls in
// flight fail with ErrLinkDown.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	for ln := range h.listeners {
		ln.Close()
	}
	for c := range h.pending {
		c.Close()
	}
	nodes := make([]*Node, 0, len(h.nodes))
	for _, n := range h.nodes {
		nodes = append(nodes, n)
	}
	h.mu.Unlock()
	for _, n := range nodes {
		n.close()
	}
	h.wg.Wait()
	return nil
}

// Nodes returns the nodes linked now, by name.
func (h *Hub) Nodes() []*Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Node, 0, len(h.nodes))
	for _, n := range h.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Node) int { return strings.Compare(a.name, b.name) })
	return out
}

// WaitNodes waits until at least n nodes are linked, or ctx ends.
func (h *Hub) WaitNodes(ctx context.Context, n int) error {
	for {
		h.mu.Lock()
		have, ch := len(h.nodes), h.changed
		h.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d nodes (%d linked): %w", n, have, ctx.Err())
		}
	}
}

func (h *Hub) signalLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// handle authenticates one agent and serves its link until it ends.
func (h *Hub) handle(raw net.Conn) {
	n, err := h.accept(raw)
	if err != nil {
		h.mu.Lock()
		delete(h.pending, raw)
		h.mu.Unlock()
		// A refused certificate is an operator's problem, worth a warning;
		// it is never a reason to stop listening.
		h.log.Warn("node refused", "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	if !h.register(raw, n) {
		n.close()
		return
	}
	n.run()
	h.mu.Lock()
	if h.nodes[n.name] == n {
		delete(h.nodes, n.name)
		h.signalLocked()
	}
	h.mu.Unlock()
	h.log.Info("node link ended", "node", n.name)
}

// accept runs the TLS handshake and the hello, and makes the Node.
func (h *Hub) accept(raw net.Conn) (*Node, error) {
	conn := tls.Server(raw, h.tls)
	// The deadline bounds the handshake and the hello alike.
	conn.SetDeadline(time.Now().Add(helloTimeout))
	if err := conn.Handshake(); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no client certificate") // RequireAndVerifyClientCert makes this unreachable
	}
	name := certs[0].Subject.CommonName
	if err := writeJSONFrame(conn, frameHello, greeting{Version: protocolVersion}); err != nil {
		return nil, fmt.Errorf("greeting to %q: %w", name, err)
	}
	_, payload, err := readFrame(conn, frameHello)
	if err != nil {
		return nil, fmt.Errorf("hello of %q: %w", name, err)
	}
	var hi hello
	if err := json.Unmarshal(payload, &hi); err != nil {
		return nil, fmt.Errorf("hello of %q: %w", name, err)
	}
	refuse := func(err error) (*Node, error) {
		writeJSONFrame(conn, frameHello, helloAnswer{Error: err.Error()})
		return nil, err
	}
	if err := validNodeName(name); err != nil {
		return refuse(err)
	}
	if hi.Version != protocolVersion {
		return refuse(fmt.Errorf("node %s speaks link protocol %d, this server %d: run the same lambdalab version on both", name, hi.Version, protocolVersion))
	}
	if err := writeJSONFrame(conn, frameHello, helloAnswer{Node: name}); err != nil {
		return nil, fmt.Errorf("hello answer to %s: %w", name, err)
	}
	conn.SetDeadline(time.Time{})
	logger := h.log.With("node", name)
	sess, err := yamux.Server(conn, yamuxConfig(logger))
	if err != nil {
		return nil, fmt.Errorf("link of %s: %w", name, err)
	}
	return newNode(name, hi.InitBinary, sess, logger), nil
}

// register makes n the node of its name, unless the Hub is closed (then
// it reports false); a link it replaces is closed, and with it the old
// link's calls in flight. It is one step with the check of closed, so that
// Close never misses a node.
func (h *Hub) register(raw net.Conn, n *Node) bool {
	h.mu.Lock()
	delete(h.pending, raw)
	if h.closed {
		h.mu.Unlock()
		return false
	}
	old := h.nodes[n.name]
	h.nodes[n.name] = n
	h.signalLocked()
	h.mu.Unlock()
	if old != nil {
		h.log.Warn("node linked again: the previous link is replaced", "node", n.name)
		old.close()
	}
	h.log.Info("node linked", "node", n.name, "remote", n.sess.RemoteAddr().String(), "init_binary", n.initBinary)
	return true
}

// Node is one linked sandbox node, as the server sees it: the instances it
// prepared on that node, and the calls that control them.
type Node struct {
	name       string
	initBinary string
	sess       *yamux.Session
	client     *http.Client
	srv        *http.Server
	log        *slog.Logger
	done       chan struct{}
	closeOnce  sync.Once

	mu    sync.Mutex
	insts map[string]*remote // by instance id: what this link prepared
}

// remote is what stays on the server of an instance on a node: its
// identity, as the AWS handler and X-Ray sink given to Prepare.
type remote struct {
	aws  http.Handler
	xray func([]byte)
}

func newNode(name, initBinary string, sess *yamux.Session, logger *slog.Logger) *Node {
	n := &Node{
		name:       name,
		initBinary: initBinary,
		sess:       sess,
		log:        logger,
		done:       make(chan struct{}),
		insts:      make(map[string]*remote),
	}
	n.client = &http.Client{Transport: &http.Transport{
		DialContext:         func(context.Context, string, string) (net.Conn, error) { return sess.Open() },
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
	}}
	n.srv = linkServer(n.routes(), logger)
	return n
}

// Name is the node's name: its certificate's CommonName, which is also its
// Kubernetes node name.
func (n *Node) Name() string { return n.name }

// InitBinary is the host path of the static init on the node, as its agent
// said in its hello (for PodInput.InitBinary).
func (n *Node) InitBinary() string { return n.initBinary }

// Done is closed when this link ends. The node's instances are gone then:
// its agent removes them when it loses the link.
func (n *Node) Done() <-chan struct{} { return n.done }

// run serves the agent's requests until the link ends.
func (n *Node) run() {
	go n.srv.Serve(n.sess)
	<-n.sess.CloseChan()
	n.close()
}

func (n *Node) close() {
	n.closeOnce.Do(func() {
		n.sess.Close()
		n.srv.Close()
		n.client.CloseIdleConnections()
		n.mu.Lock()
		clear(n.insts)
		n.mu.Unlock()
		close(n.done)
	})
}

// linkErr words a failed call, as ErrLinkDown when the link is why.
func (n *Node) linkErr(op, id string, err error) error {
	if n.sess.IsClosed() {
		err = fmt.Errorf("%w (%v)", ErrLinkDown, err)
	}
	if id != "" {
		return fmt.Errorf("node %s: %s %s: %w", n.name, op, id, err)
	}
	return fmt.Errorf("node %s: %s: %w", n.name, op, err)
}

// do sends one request on the link; an answer other than 200 is read as
// the agent's wireError.
func (n *Node) do(ctx context.Context, method, path string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+linkHost+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var we wireError
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSON)).Decode(&we); err != nil || we.Message == "" {
			return nil, fmt.Errorf("agent answered %s", resp.Status)
		}
		return nil, &remoteError{we}
	}
	return resp, nil
}

// control sends a JSON request and decodes a JSON answer into out (nil:
// none wanted).
func (n *Node) control(ctx context.Context, op, id, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return n.linkErr(op, id, err)
		}
	}
	method := http.MethodPost
	if in == nil {
		method = http.MethodGet
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := n.do(ctx, method, path, r, int64(len(body)))
	if err != nil {
		return n.linkErr(op, id, err)
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSON))
		return nil
	}
	if err := readJSON(resp.Body, out, op+" answer"); err != nil {
		return n.linkErr(op, id, err)
	}
	return nil
}

// Paths are an instance's folders on its node, as host paths there: what
// PodFor mounts.
type Paths struct {
	SocketDir string `json:"socket_dir"` // aws.sock and xray.sock, at /var/run/lambdalab
	CodeDir   string `json:"code_dir"`   // the deployment package, at /var/task
	LayersDir string `json:"layers_dir"` // the merged layers, at /opt
	TmpDir    string `json:"tmp_dir"`    // the mounted /tmp file system
}

type prepareRequest struct {
	EphemeralMB int  `json:"ephemeral_mb"`
	AWS         bool `json:"aws"`  // the instance has an AWS handler
	XRay        bool `json:"xray"` // and an X-Ray sink
}

// Prepare makes instance id's folder on the node and starts its Runtime
// API and X-Ray relay there. spec.AWS and spec.XRay stay on the server:
// the agent forwards the instance's AWS calls and datagrams over the link,
// and they reach these, as this instance's, and no other node may speak
// for it. id is 16 lower-case hex digits.
func (n *Node) Prepare(ctx context.Context, id string, spec sandbox.InstanceSpec) (Paths, error) {
	if err := validID(id); err != nil {
		return Paths{}, n.linkErr("prepare", id, err)
	}
	n.mu.Lock()
	select {
	case <-n.done:
		n.mu.Unlock()
		return Paths{}, n.linkErr("prepare", id, ErrLinkDown)
	default:
	}
	if n.insts[id] != nil {
		n.mu.Unlock()
		return Paths{}, n.linkErr("prepare", id, errors.New("already prepared"))
	}
	// Recorded before the agent is asked: the instance's socket exists
	// from the agent's answer on.
	n.insts[id] = &remote{aws: spec.AWS, xray: spec.XRay}
	n.mu.Unlock()
	var p Paths
	err := n.control(ctx, "prepare", id, pathInstance+id+"/prepare",
		prepareRequest{EphemeralMB: spec.EphemeralMB, AWS: spec.AWS != nil, XRay: spec.XRay != nil}, &p)
	if err != nil {
		n.forget(id)
		var re *remoteError
		if !errors.As(err, &re) && !n.sess.IsClosed() {
			// The agent may have made the instance before the call broke
			// off (ctx ended): undo it, or it would wait for a Sweep.
			go func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				n.control(rctx, "release", id, pathInstance+id+"/release", struct{}{}, nil)
			}()
		}
		return Paths{}, err
	}
	return p, nil
}

func (n *Node) forget(id string) {
	n.mu.Lock()
	delete(n.insts, id)
	n.mu.Unlock()
}

// bindMeta is the JSON head of a bind request; the bundle follows it.
type bindMeta struct {
	PodUID        string   `json:"pod_uid"`
	AccountID     string   `json:"account_id"`
	Function      string   `json:"function"`
	Version       string   `json:"version"`
	MemoryMB      int      `json:"memory_mb"`
	NanoCPUs      int64    `json:"nano_cpus"`
	Cmd           []string `json:"cmd"`
	Env           []string `json:"env"`
	InitTimeoutMS int64    `json:"init_timeout_ms"`
}

// initMeta is sandbox.InitResult without its log and error body, which
// follow as frames.
type initMeta struct {
	DurationNS int64          `json:"duration_ns"`
	Truncated  int64          `json:"truncated"`
	Status     sandbox.Status `json:"status"`
	ErrorType  string         `json:"error_type"`
	Exit       string         `json:"exit"`
}

// Bind gives instance id its function, as the Docker backend's
// Instance.Bind does: the code (b.CodeDir, under /var/task) and layers
// (b.LayerDirs, merged in order into /opt, a later layer's file winning)
// are streamed to the node as one bundle and unpacked there, the memory
// limit is written on the Pod's cgroup (found on the node by podUID), the
// runtime is started and its init waited for, and then the CPU quota
// applied, so that init runs unthrottled.
func (n *Node) Bind(ctx context.Context, id, podUID string, b sandbox.Binding) (sandbox.InitResult, error) {
	if err := validID(id); err != nil {
		return sandbox.InitResult{}, n.linkErr("bind", id, err)
	}
	meta, err := json.Marshal(bindMeta{
		PodUID: podUID, AccountID: b.AccountID, Function: b.Function, Version: b.Version,
		MemoryMB: b.MemoryMB, NanoCPUs: b.NanoCPUs, Cmd: b.Cmd, Env: b.Env,
		InitTimeoutMS: b.InitTimeout.Milliseconds(),
	})
	if err != nil {
		return sandbox.InitResult{}, n.linkErr("bind", id, err)
	}
	pr, pw := io.Pipe()
	go func() {
		err := writeFrame(pw, frameMeta, meta)
		if err == nil {
			err = writeBundle(pw, b.CodeDir, b.LayerDirs)
		}
		pw.CloseWithError(err)
	}()
	// Unblocks the writer should the agent answer before reading it all.
	defer pr.CloseWithError(errors.New("bind answered"))
	return n.bindBody(ctx, id, pr)
}

// bindBody sends a bind request whose body (the meta frame, then the
// bundle) is body, and reads the init result.
func (n *Node) bindBody(ctx context.Context, id string, body io.Reader) (sandbox.InitResult, error) {
	resp, err := n.do(ctx, http.MethodPost, pathInstance+id+"/bind", body, -1)
	if err != nil {
		return sandbox.InitResult{}, n.linkErr("bind", id, err)
	}
	defer resp.Body.Close()
	var res sandbox.InitResult
	for {
		kind, payload, err := readFrame(resp.Body, frameLog, framePayload, frameOutcome, frameError)
		if err != nil {
			return sandbox.InitResult{}, n.linkErr("bind", id, noEOF(err))
		}
		switch kind {
		case frameLog:
			res.Log = payload
		case framePayload:
			res.ErrorBody = payload
		case frameError:
			return sandbox.InitResult{}, n.linkErr("bind", id, decodeWireError(payload))
		case frameOutcome:
			var m initMeta
			if err := json.Unmarshal(payload, &m); err != nil {
				return sandbox.InitResult{}, n.linkErr("bind", id, err)
			}
			res.Duration, res.Truncated, res.Status, res.ErrorType, res.Exit =
				time.Duration(m.DurationNS), m.Truncated, m.Status, m.ErrorType, m.Exit
			return res, nil
		}
	}
}

func decodeWireError(payload []byte) error {
	var we wireError
	if err := json.Unmarshal(payload, &we); err != nil || we.Message == "" {
		return errors.New("the agent sent an unreadable error")
	}
	return &remoteError{we}
}

// invokeMeta is the JSON head of an invoke request; the payload follows.
type invokeMeta struct {
	RequestID          string    `json:"request_id"`
	Deadline           time.Time `json:"deadline"`
	InvokedFunctionARN string    `json:"invoked_function_arn,omitempty"`
	TraceID            string    `json:"trace_id,omitempty"`
	ClientContext      string    `json:"client_context,omitempty"`
	CognitoIdentity    string    `json:"cognito_identity,omitempty"`
	// TimeoutMS is what was left of the caller's context, if it had a
	// deadline: a duration, not a time, since the node's clock is not this
	// one.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// outcomeMeta is sandbox.Outcome without its payload and log.
type outcomeMeta struct {
	Status       sandbox.Status `json:"status"`
	ContentType  string         `json:"content_type,omitempty"`
	ErrorType    string         `json:"error_type,omitempty"`
	Exit         string         `json:"exit,omitempty"`
	Start        time.Time      `json:"start"`
	Done         time.Time      `json:"done"`
	Truncated    int64          `json:"truncated"`
	ResponseSize int64          `json:"response_size"`
	// LogStreamed says the log is exactly the output frames put together;
	// otherwise a log frame carried it.
	LogStreamed bool `json:"log_streamed"`
}

type cancelRequest struct {
	RequestID string `json:"request_id"`
}

// Invoke hands one event to instance id's runtime and returns what it did,
// as the Docker backend's Instance.Invoke: inv.Output gets the output as
// the node streams it, on this goroutine, then the Outcome comes. When ctx
// ends the agent is told to end the invocation too, and its verdict (a
// timeout, with the output so far) is waited for a few seconds. An
// instance that died while idle is an error wrapping
// sandbox.ErrInstanceGone; a link that ends, ErrLinkDown.
func (n *Node) Invoke(ctx context.Context, id string, inv sandbox.Invocation) (sandbox.Outcome, error) {
	if err := validID(id); err != nil {
		return sandbox.Outcome{}, n.linkErr("invoke", id, err)
	}
	meta := invokeMeta{
		RequestID: inv.RequestID, Deadline: inv.Deadline, InvokedFunctionARN: inv.InvokedFunctionARN,
		TraceID: inv.TraceID, ClientContext: inv.ClientContext, CognitoIdentity: inv.CognitoIdentity,
	}
	if dl, ok := ctx.Deadline(); ok {
		meta.TimeoutMS = max(time.Until(dl).Milliseconds(), 1)
	}
	head, err := json.Marshal(meta)
	if err != nil {
		return sandbox.Outcome{}, n.linkErr("invoke", id, err)
	}
	body := io.MultiReader(
		bytes.NewReader(frameHeader(frameMeta, len(head))), bytes.NewReader(head),
		bytes.NewReader(frameHeader(framePayload, len(inv.Payload))), bytes.NewReader(inv.Payload))
	size := int64(10 + len(head) + len(inv.Payload))

	// The request outlives ctx by cancelGrace, so that the agent's
	// verdict can still arrive; the link's end cuts it at once.
	reqCtx, cancelReq := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReq()
	var grace *time.Timer
	var graceMu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		go n.cancelInvoke(ctx, id, inv.RequestID)
		graceMu.Lock()
		grace = time.AfterFunc(cancelGrace, cancelReq)
		graceMu.Unlock()
	})
	defer func() {
		stop()
		graceMu.Lock()
		if grace != nil {
			grace.Stop()
		}
		graceMu.Unlock()
	}()
	fail := func(err error) (sandbox.Outcome, error) {
		if ctx.Err() != nil && reqCtx.Err() != nil && !n.sess.IsClosed() {
			err = fmt.Errorf("%w (the node gave no verdict within %v)", ctx.Err(), cancelGrace)
		}
		return sandbox.Outcome{}, n.linkErr("invoke", id, err)
	}

	resp, err := n.do(reqCtx, http.MethodPost, pathInstance+id+"/invoke", body, size)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	var out sandbox.Outcome
	var streamed []byte
	var outputBytes int
	for {
		kind, payload, err := readFrame(resp.Body, frameOutput, frameLog, framePayload, frameOutcome, frameError)
		if err != nil {
			return fail(noEOF(err))
		}
		switch kind {
		case frameOutput:
			if outputBytes += len(payload); outputBytes > maxOutput {
				return fail(fmt.Errorf("the node streamed more than %d bytes of output", maxOutput))
			}
			streamed = append(streamed, payload...)
			if inv.Output != nil {
				inv.Output(payload)
			}
		case frameLog:
			out.Log = payload
		case framePayload:
			out.Payload = payload
		case frameError:
			return fail(decodeWireError(payload))
		case frameOutcome:
			var m outcomeMeta
			if err := json.Unmarshal(payload, &m); err != nil {
				return fail(err)
			}
			out.Status, out.ContentType, out.ErrorType, out.Exit = m.Status, m.ContentType, m.ErrorType, m.Exit
			out.Start, out.Done, out.Truncated, out.ResponseSize = m.Start, m.Done, m.Truncated, m.ResponseSize
			if m.LogStreamed {
				out.Log = streamed
			}
			return out, nil
		}
	}
}

// cancelInvoke tells the agent that the caller of an invocation gave up;
// ctx is the caller's, already ended.
func (n *Node) cancelInvoke(ctx context.Context, id, requestID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	defer cancel()
	if err := n.control(ctx, "cancel", id, pathInstance+id+"/cancel", cancelRequest{RequestID: requestID}, nil); err != nil {
		n.log.Debug("cancel invocation", "instance", id, "err", err)
	}
}

func frameHeader(kind byte, n int) []byte {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	return hdr[:]
}

type failRequest struct {
	Exit string `json:"exit"`
}

// Fail tells instance id's Runtime API that the runtime died (its Pod
// ended), with exit in Go's wording ("signal: killed"): a pending init or
// invocation ends with StatusExit at once.
func (n *Node) Fail(ctx context.Context, id, exit string) error {
	if err := validID(id); err != nil {
		return n.linkErr("fail", id, err)
	}
	return n.control(ctx, "fail", id, pathInstance+id+"/fail", failRequest{Exit: exit}, nil)
}

type peakAnswer struct {
	Bytes int64 `json:"bytes"`
}

// MaxMemoryUsed is instance id's peak memory so far, in bytes: the high
// water mark of its Pod's memory cgroup, or the last one read if the Pod
// has gone since.
func (n *Node) MaxMemoryUsed(ctx context.Context, id string) (int64, error) {
	if err := validID(id); err != nil {
		return 0, n.linkErr("memory peak of", id, err)
	}
	var a peakAnswer
	if err := n.control(ctx, "memory peak of", id, pathInstance+id+"/peak", nil, &a); err != nil {
		return 0, err
	}
	return a.Bytes, nil
}

// Release kills every process of instance id at once (SIGKILL, through its
// Pod's cgroup: the kubelet would wait at least 2 s), reads whether the
// OOM killer struck, stops its servers, unmounts its /tmp and removes its
// folder. The server forgets the instance whatever the answer: its AWS
// calls are refused from then on. CloseInfo.ExitCode is not known on the
// node; the Pod's status has it.
func (n *Node) Release(ctx context.Context, id string) (sandbox.CloseInfo, error) {
	if err := validID(id); err != nil {
		return sandbox.CloseInfo{}, n.linkErr("release", id, err)
	}
	defer n.forget(id)
	var info sandbox.CloseInfo
	err := n.control(ctx, "release", id, pathInstance+id+"/release", struct{}{}, &info)
	return info, err
}

type sweepRequest struct {
	Keep []string `json:"keep"`
}

type sweepAnswer struct {
	Removed int `json:"removed"`
}

// Sweep removes every instance on the node whose id is not in keep: its
// processes, servers, /tmp and folder.
func (n *Node) Sweep(ctx context.Context, keep []string) error {
	var a sweepAnswer
	if err := n.control(ctx, "sweep", "", pathSweep, sweepRequest{Keep: keep}, &a); err != nil {
		return err
	}
	n.mu.Lock()
	for id := range n.insts {
		if !slices.Contains(keep, id) {
			delete(n.insts, id)
		}
	}
	n.mu.Unlock()
	if a.Removed > 0 {
		n.log.Info("node swept", "removed", a.Removed)
	}
	return nil
}

// routes are what the agent may ask of the server: its instances' AWS
// calls and X-Ray datagrams, each for an instance of this node only.
func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathAWS+"{id}", n.serveAWS)
	mux.HandleFunc("POST "+pathXRay+"{id}", n.serveXRay)
	return mux
}

// instance is the server's record of one of this node's instances, or nil
// with a 403 written: another node's instance, or none.
func (n *Node) instance(w http.ResponseWriter, r *http.Request) *remote {
	id := r.PathValue("id")
	n.mu.Lock()
	in := n.insts[id]
	n.mu.Unlock()
	if in == nil {
		n.log.Warn("node spoke for an instance it did not prepare", "instance", id, "path", r.URL.Path)
		writeJSON(w, http.StatusForbidden, wireError{Code: codeForbid, Message: fmt.Sprintf("node %s has no instance %s", n.name, id)})
	}
	return in
}

// serveAWS serves one instance's AWS call, rebuilt as the instance made
// it: method, request URI, Host, headers and body as they came.
func (n *Node) serveAWS(w http.ResponseWriter, r *http.Request) {
	in := n.instance(w, r)
	if in == nil {
		return
	}
	if in.aws == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no AWS service is served on this endpoint"})
		return
	}
	uri := r.Header.Get(headerURI)
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, wireError{Code: codeBad, Message: "bad forwarded request URI"})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL, r2.RequestURI = u, uri
	r2.RemoteAddr = r.Header.Get(headerRemote)
	r2.Header.Del(headerURI)
	r2.Header.Del(headerRemote)
	in.aws.ServeHTTP(w, r2)
}

// serveXRay hands a batch of one instance's datagrams to its sink.
func (n *Node) serveXRay(w http.ResponseWriter, r *http.Request) {
	in := n.instance(w, r)
	if in == nil {
		return
	}
	body := http.MaxBytesReader(w, r.Body, maxJSON)
	for {
		_, d, err := readFrame(body, frameXRay)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		if in.xray != nil {
			in.xray(d)
		}
	}
	writeJSON(w, http.StatusOK, struct{}{})
}
