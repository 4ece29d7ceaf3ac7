package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"lambdalab/sandbox/instdir"
)

// Redial backoff: the first retry after minBackoff, doubling to maxBackoff.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// sandboxUID is the uid and gid the instance's Pod runs as (PodFor's
// runAsUser), which alone may reach the instance's sockets.
const sandboxUID = 993

// AgentConfig configures RunAgent.
type AgentConfig struct {
	// Server is host:port of the server's node listener. The host is also
	// the name the server's certificate must carry, unless TLS.ServerName
	// says otherwise.
	Server string
	// TLS is the agent's side of the link, from AgentTLS.
	TLS *tls.Config
	// Dir is the node folder for instances: Dir/instances/<id>/{sock,task,
	// opt,tmp}, Dir/instances closed to every user but root (0700).
	Dir string
	// InitBinary is the host path of the static init, which the Pods mount;
	// the agent reports it in its hello.
	InitBinary string
	// CgroupRoot is where the cgroup v1 controllers are mounted. Empty
	// means /sys/fs/cgroup.
	CgroupRoot string
	// NoCgroups runs without a kubelet (tests): no memory or CPU limits,
	// no memory peak (MaxMemoryUsed fails), no killing through the cgroup.
	NoCgroups bool
	// Logger receives the agent's events. Nil discards them.
	Logger *slog.Logger

	// hostInit runs the runtime with the instance's host task folder as its
	// working directory instead of /var/task: for tests that run init as a
	// plain process on this machine, where no Pod mounts the folder.
	hostInit bool
}

// RunAgent runs the node agent until ctx ends, and then returns nil; an
// error means it could not start. It dials the server, serves the server's
// control calls for this node's instances on the link, and carries the
// instances' AWS calls and X-Ray datagrams to the server. When the link
// drops it removes every instance (they belong to the server's previous
// life: their state there is gone) and dials again, with backoff. It
// needs root: it mounts every instance's /tmp and gives its sockets to the
// sandbox user.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	// Whatever an earlier run left has no server any more.
	a.removeAll(ctx)
	backoff := minBackoff
	for {
		linked, err := a.link(ctx)
		a.removeAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if linked {
			backoff = minBackoff
			a.log.WarnContext(ctx, "node link lost; dialling again", "err", err)
		} else {
			a.log.ErrorContext(ctx, "node link failed", "server", a.cfg.Server, "retry_in", backoff, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if !linked {
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// agent is RunAgent's state.
type agent struct {
	cfg     AgentConfig
	log     *slog.Logger
	instDir string // Dir/instances

	mu    sync.Mutex
	insts map[string]*instance // by id; nil value: being prepared
}

func newAgent(cfg AgentConfig) (*agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/sys/fs/cgroup"
	}
	switch {
	case cfg.Server == "":
		return nil, errors.New("node agent: no server address")
	case cfg.TLS == nil:
		return nil, errors.New("node agent: no TLS configuration (AgentTLS)")
	case cfg.Dir == "":
		return nil, errors.New("node agent: no folder for instances")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	cfg.Dir = dir
	// Every Pod mounts it; a wrong path would show only as Pods that never
	// start.
	if cfg.InitBinary == "" {
		return nil, errors.New("node agent: no init binary")
	}
	if cfg.InitBinary, err = filepath.Abs(cfg.InitBinary); err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	if st, err := os.Stat(cfg.InitBinary); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("node agent: init binary %q is not an executable file", cfg.InitBinary)
	}
	instDir := filepath.Join(dir, "instances")
	// A Unix socket path holds at most 107 bytes.
	if longest := len(filepath.Join(instDir, strings.Repeat("0", 16), instdir.SockDir, instdir.XRaySocketName)); longest > 107 {
		return nil, fmt.Errorf("node agent: folder %s is too long for the instances' Unix sockets (%d bytes of at most 107)", dir, longest)
	}
	// Dir itself stays open (the init binary the Pods mount may live in
	// it); Dir/instances is what keeps other users from the sockets.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	if err := os.MkdirAll(instDir, 0o700); err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	// The folder may predate this rule; every instance's sockets rely on it.
	if err := os.Chmod(instDir, 0o700); err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	if u, err := user.LookupId(strconv.Itoa(sandboxUID)); err == nil {
		cfg.Logger.Warn("a node account has the sandbox user's uid and can reach every instance's sockets through its Pod's mount: give it another uid",
			"account", u.Username, "uid", sandboxUID)
	}
	return &agent{cfg: cfg, log: cfg.Logger, instDir: instDir, insts: make(map[string]*instance)}, nil
}

// link dials the server and serves the link until it or ctx ends. linked
// says whether the server accepted the node.
func (a *agent) link(ctx context.Context) (linked bool, err error) {
	conn, ans, err := dialLink(ctx, a.cfg.Server, a.cfg.TLS, hello{Version: protocolVersion, InitBinary: a.cfg.InitBinary})
	if err != nil {
		return false, err
	}
	sess, err := yamux.Client(conn, yamuxConfig(a.log))
	if err != nil {
		conn.Close()
		return false, err
	}
	l := newLink(ctx, sess, a.log)
	defer l.close()
	a.log.InfoContext(ctx, "node linked", "node", ans.Node, "server", a.cfg.Server)
	srv := linkServer(a.routes(l), a.log)
	go srv.Serve(sess)
	defer srv.Close()
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-sess.CloseChan():
		return true, errors.New("the link closed")
	}
}

// dialLink dials server, runs the TLS handshake and the hello, and returns
// the connection ready for yamux. A certificate the server refuses shows
// as the TLS alert it sent, read in place of its greeting.
func dialLink(ctx context.Context, server string, conf *tls.Config, hi hello) (*tls.Conn, helloAnswer, error) {
	conf = conf.Clone()
	if conf.ServerName == "" {
		host, _, err := net.SplitHostPort(server)
		if err != nil {
			return nil, helloAnswer{}, fmt.Errorf("server address %q: %w", server, err)
		}
		conf.ServerName = host
	}
	d := net.Dialer{Timeout: helloTimeout, KeepAlive: 15 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, helloAnswer{}, err
	}
	conn := tls.Client(raw, conf)
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	stop := context.AfterFunc(hctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) (*tls.Conn, helloAnswer, error) {
		conn.Close()
		return nil, helloAnswer{}, err
	}
	if err := conn.HandshakeContext(hctx); err != nil {
		return fail(fmt.Errorf("tls handshake with %s: %w", server, err))
	}
	if _, _, err := readFrame(conn, frameHello); err != nil {
		return fail(fmt.Errorf("greeting from %s: %w", server, err))
	}
	if err := writeJSONFrame(conn, frameHello, hi); err != nil {
		return fail(fmt.Errorf("hello to %s: %w", server, err))
	}
	_, payload, err := readFrame(conn, frameHello)
	if err != nil {
		return fail(fmt.Errorf("hello from %s: %w", server, err))
	}
	var ans helloAnswer
	if err := json.Unmarshal(payload, &ans); err != nil {
		return fail(fmt.Errorf("hello from %s: %w", server, err))
	}
	if ans.Error != "" {
		return fail(fmt.Errorf("server %s refused the node: %s", server, ans.Error))
	}
	if !stop() {
		return fail(fmt.Errorf("hello from %s: %w", server, hctx.Err()))
	}
	conn.SetDeadline(time.Time{})
	return conn, ans, nil
}

// link is the agent's end of one link: the client for its calls to the
// server and the queue of X-Ray datagrams waiting to go.
type link struct {
	ctx    context.Context // ends with the link
	cancel context.CancelFunc
	sess   *yamux.Session
	client *http.Client
	log    *slog.Logger
	xray   chan xrayItem
	done   chan struct{}
	wg     sync.WaitGroup
	// xrayDropped counts datagrams dropped because the queue was full.
	xrayDropped atomic.Int64
}

type xrayItem struct {
	id string
	d  []byte
}

// xrayQueue is how many datagrams wait for the link at most, over all
// instances; instdir's relay has already rate-limited each instance.
const xrayQueue = 4096

func newLink(ctx context.Context, sess *yamux.Session, logger *slog.Logger) *link {
	ctx, cancel := context.WithCancel(ctx)
	l := &link{
		ctx:    ctx,
		cancel: cancel,
		sess:   sess,
		log:    logger,
		xray:   make(chan xrayItem, xrayQueue),
		done:   make(chan struct{}),
	}
	l.client = &http.Client{Transport: &http.Transport{
		DialContext:         func(context.Context, string, string) (net.Conn, error) { return sess.Open() },
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
	}}
	l.wg.Add(1)
	go l.sendXRay()
	return l
}

func (l *link) close() {
	l.sess.Close()
	l.cancel()
	close(l.done)
	l.wg.Wait()
	l.client.CloseIdleConnections()
	if n := l.xrayDropped.Load(); n > 0 {
		l.log.Info("x-ray datagrams dropped on a full link queue", "dropped", n)
	}
}

// queueXRay is an instance's X-Ray sink: it must not block.
func (l *link) queueXRay(id string, d []byte) {
	select {
	case l.xray <- xrayItem{id, d}:
	default:
		l.xrayDropped.Add(1)
	}
}

// sendXRay posts the queued datagrams, what has gathered at once in one
// request per instance.
func (l *link) sendXRay() {
	defer l.wg.Done()
	for {
		var first xrayItem
		select {
		case first = <-l.xray:
		case <-l.done:
			return
		}
		batch := map[string]*bytes.Buffer{}
		add := func(it xrayItem) {
			b := batch[it.id]
			if b == nil {
				b = new(bytes.Buffer)
				batch[it.id] = b
			}
			writeFrame(b, frameXRay, it.d)
		}
		add(first)
		size := len(first.d)
	more:
		// Well below the Hub's cap on a request body (maxJSON).
		for size < maxJSON/2 {
			select {
			case it := <-l.xray:
				add(it)
				size += len(it.d) + 5
			default:
				break more
			}
		}
		for id, b := range batch {
			l.post(id, b)
		}
	}
}

func (l *link) post(id string, b *bytes.Buffer) {
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+linkHost+pathXRay+id, b)
	if err != nil {
		return
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.log.Debug("x-ray datagrams not delivered", "instance", id, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.log.Warn("x-ray datagrams refused by the server", "instance", id, "status", resp.Status)
	}
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1) a forwarded
// AWS call does not carry.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardAWS is the AWS handler of instance id's Runtime API: it carries
// the call over the link, body streamed, with the instance's id; the
// server serves it as that instance's, if this node prepared it.
func (l *link) forwardAWS(id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+linkHost+pathAWS+id, r.Body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req.Header = r.Header.Clone()
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		req.Header.Set(headerURI, r.RequestURI)
		req.Header.Set(headerRemote, r.RemoteAddr)
		req.Host = r.Host
		req.ContentLength = r.ContentLength
		if r.ContentLength == 0 {
			req.Body = http.NoBody
		}
		resp, err := l.client.Do(req)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"message": "the lambdalab server is unreachable from this node"})
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		for _, h := range hopHeaders {
			w.Header().Del(h)
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}
