package main

// Several serves on one PostgreSQL database form a cluster. One of them,
// the controller, holds the database's "controller" lock and owns
// everything that lives in one process: the sandbox (instances, warm pools,
// concurrency counters), the async-queue runner, the grading workers and
// the event streams that follow them. Every other serve is a replica: it
// serves what needs only the database (lessons, the home page, static
// files, the sign-in and sign-up forms) itself and forwards every other
// request, web or AWS, to the controller unchanged. A replica keeps trying
// the lock and, when the controller dies and the lock passes to it, becomes
// the controller. The README's "Several replicas" section says why.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/store"
)

// The headers a replica adds to what it forwards. The controller believes
// them only with its term's token; a client's own are dropped on the way.
const (
	tokenHeader = "Lambdalab-Replica-Token"
	peerHeader  = "Lambdalab-Replica-Peer" // the client's address as the replica saw it
	tlsHeader   = "Lambdalab-Replica-Tls"  // "1" when the client reached the replica over TLS
)

// controllerWait is how long a forwarded request waits for a controller to
// answer (one is starting, or taking over) before it is refused.
const controllerWait = 30 * time.Second

// controllerRole and replicaRole are what /_lambdalab/cluster reports.
const (
	controllerRole = "controller"
	replicaRole    = "replica"
)

// replicaName names this process for people: host and process id.
func replicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// newTermToken is a fresh secret for one controller's term.
func newTermToken() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// advertisedURL is how other replicas reach a listener: the flag when set,
// else the listener's own address, with this host's name in place of an
// unspecified address (0.0.0.0 or ::).
func advertisedURL(flagValue, scheme string, ln net.Listener) (string, error) {
	if flagValue != "" {
		u, err := url.Parse(flagValue)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", fmt.Errorf("%q is not an address like http://10.0.0.5:8080", flagValue)
		}
		return u.Scheme + "://" + u.Host, nil
	}
	if ln == nil {
		return "", nil
	}
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("name this host for the other replicas: %w", err)
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// controllerLink finds the controller for a replica's forwarded requests:
// the controller row, read again at most every second and at once after
// the recorded controller could not be reached.
type controllerLink struct {
	db *store.DB

	mu      sync.Mutex
	cur     store.Controller
	fetched time.Time
}

func (l *controllerLink) controller(ctx context.Context, fresh bool) (store.Controller, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !fresh && !l.fetched.IsZero() && time.Since(l.fetched) < time.Second {
		return l.cur, nil
	}
	c, err := l.db.Controller(ctx)
	if err != nil {
		return store.Controller{}, err
	}
	l.cur, l.fetched = c, time.Now()
	return c, nil
}

// errNoController ends a forwarded request that found no controller to
// answer it within controllerWait.
var errNoController = errors.New("no lambdalab controller answered")

// forwardTransport sends a request to the current controller's web site or
// AWS endpoint (which one, pick says). Only a failure to connect is tried
// again, with the controller looked up afresh: the request has then not
// left this process, so nothing can run twice.
type forwardTransport struct {
	link *controllerLink
	pick func(store.Controller) string
	base http.RoundTripper
}

func (t forwardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline := time.Now().Add(controllerWait)
	fresh := false
	for {
		resp, err := t.try(req, fresh)
		if err == nil || !retryable(err) {
			return resp, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w within %s: %v", errNoController, controllerWait, err)
		}
		fresh = true
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t forwardTransport) try(req *http.Request, fresh bool) (*http.Response, error) {
	c, err := t.link.controller(req.Context(), fresh)
	if err != nil {
		return nil, err
	}
	target := t.pick(c)
	if target == "" {
		return nil, errNoEndpoint
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("controller address %q: %w", target, err)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = u.Scheme, u.Host
	out.Header.Set(tokenHeader, c.Token)
	if req.Body != nil && req.Body != http.NoBody {
		// The transport closes the body of a request it could not send;
		// the next try needs it, unread as it still is.
		out.Body = io.NopCloser(req.Body)
	}
	return t.base.RoundTrip(out)
}

// errNoEndpoint: the controller serves no AWS endpoint (--aws-addr off).
var errNoEndpoint = errors.New("the controller serves no AWS endpoint")

// retryable is a failure before the request reached the controller: no
// controller recorded yet, or the recorded one refused or did not answer
// the connection.
func retryable(err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// newForwarder is a replica's reverse proxy to the controller. The request
// goes on as the client sent it (host, path, query, body and headers, the
// AWS signature included), so the controller checks the session cookie or
// the signature itself; the replica adds only who the client was.
func newForwarder(link *controllerLink, what string, pick func(store.Controller) string, logger *slog.Logger) http.Handler {
	base := &http.Transport{
		Proxy:                 nil, // the controller is reached directly
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "controller" // set per try by forwardTransport
			pr.Out.Host = pr.In.Host
			// Rewrite starts without the forwarding headers; the controller
			// needs the ones the replica's own trusted proxies wrote.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					pr.Out.Header[h] = v
				}
			}
			for _, h := range []string{tokenHeader, peerHeader, tlsHeader} {
				pr.Out.Header.Del(h)
			}
			pr.Out.Header.Set(peerHeader, pr.In.RemoteAddr)
			if pr.In.TLS != nil {
				pr.Out.Header.Set(tlsHeader, "1")
			}
		},
		Transport: forwardTransport{link: link, pick: pick, base: base},
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			logger.WarnContext(r.Context(), "forward to controller", "to", what, "method", r.Method, "path", r.URL.Path, "err", err)
			// 503 with Retry-After: browsers show it, and the AWS SDKs and
			// CLI retry it on their own.
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			if errors.Is(err, errNoEndpoint) {
				fmt.Fprintln(w, "lambdalab: the controller replica serves no AWS endpoint (--aws-addr off)")
				return
			}
			fmt.Fprintln(w, "lambdalab: the controller replica is not reachable (it is starting or being replaced); try again in a moment")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(tokenHeader) != "" {
			// Another replica forwarded this here, so the controller's
			// recorded address leads to a replica (a loopback address
			// advertised across machines, say). Forwarding again would go
			// round for ever.
			logger.ErrorContext(r.Context(), "forwarded request reached a replica: the controller's advertised address leads here", "to", what, "path", r.URL.Path)
			http.Error(w, "lambdalab: this request was forwarded to a replica, not the controller: the controller's advertised address (--advertise-url, --advertise-aws-url) leads to another serve", http.StatusLoopDetected)
			return
		}
		// The controller keeps its own timeouts; this server's write
		// timeout would cut the event streams it forwards.
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		rp.ServeHTTP(w, r)
	})
}

// servedByReplica says whether a replica answers a web request itself: a
// read of something that needs only the database and the course.
func servedByReplica(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	switch p {
	case "/", "/healthz", "/highlight.css", "/login", "/signup":
		return true
	}
	for _, prefix := range []string{"/lessons/", "/content/", "/calculators/", "/static/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// replicaRoutes is a replica's web site: the local pages, and the
// controller for everything else.
func replicaRoutes(local, forward http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if servedByReplica(r) {
			local.ServeHTTP(w, r)
			return
		}
		forward.ServeHTTP(w, r)
	})
}

// fromReplicas is the controller's side of forwarding: a request with this
// term's token came through a replica, so the client's address and scheme
// are the ones the replica saw. Without the token the headers are dropped
// and the request is taken as it came.
func fromReplicas(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get(tokenHeader)
		peer, viaTLS := r.Header.Get(peerHeader), r.Header.Get(tlsHeader) == "1"
		for _, h := range []string{tokenHeader, peerHeader, tlsHeader} {
			r.Header.Del(h)
		}
		if got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			r2 := r.WithContext(r.Context()) // a shallow copy: only two fields change
			if _, _, err := net.SplitHostPort(peer); err == nil {
				r2.RemoteAddr = peer
			}
			if viaTLS && r2.TLS == nil {
				// The site asks r.TLS whether the browser's connection is
				// secure (Secure cookies, HSTS); it was, to the replica.
				r2.TLS = &tls.ConnectionState{}
			}
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// handlerSlot is a handler that can be replaced while serving: a replica's
// routes until it becomes the controller.
type handlerSlot struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSlot) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSlot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// clusterRole is what this serve is now, for /_lambdalab/cluster and logs.
type clusterRole struct {
	name string
	role atomic.Pointer[string]
	db   *store.DB
}

func (c *clusterRole) set(role string) { c.role.Store(&role) }

func (c *clusterRole) get() string { return *c.role.Load() }

// withClusterStatus answers GET /_lambdalab/cluster on either role: this
// serve's role and name and the controller's name, for operators and
// tests. It leaves addresses and tokens out.
func (c *clusterRole) withClusterStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_lambdalab/cluster" || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ctl := "none"
		if cur, err := c.db.Controller(r.Context()); err == nil {
			ctl = cur.Replica
		}
		fmt.Fprintf(w, "role=%s replica=%s controller=%s\n", c.get(), c.name, ctl)
	})
}
