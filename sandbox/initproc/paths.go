package initproc

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// bufferPool lends the reverse proxy its copy buffers instead of allocating
// 32 KiB per request on the invoke path.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

// serveProxy forwards every HTTP request from the container's loopback to
// the host, after draining the runtime's output and writing a marker, so the
// host knows which output came before the request.
func serveProxy(ln net.Listener, client *http.Client, p *pump) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "lambdalab"
			// Keep the Host the client signed (SigV4 signs it).
			pr.Out.Host = pr.In.Host
		},
		Transport: client.Transport,
		// Stream answers as they come (no buffering of /next or S3 bodies).
		FlushInterval: -1,
		BufferPool:    &bufferPool{},
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"errorMessage":"the host endpoint is unreachable","errorType":"BadGateway"}`)
		},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAgentPath(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errorMessage":"Forbidden","errorType":"Forbidden"}`)
			return
		}
		r.Header.Set(runtimeapi.LogSeqHeader, strconv.FormatUint(p.mark(), 10))
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler: h,
		// Only the runtime connects here; no read or write timeout, as
		// /next waits for as long as it takes.
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	srv.Serve(ln)
}

// isAgentPath reports whether r targets the host's agent endpoints, which
// only init may use. The path is checked decoded and cleaned, in any case.
func isAgentPath(r *http.Request) bool {
	for _, p := range []string{r.URL.Path, r.URL.RawPath, r.RequestURI} {
		if p == "" {
			continue
		}
		if i := strings.Index(p, "?"); i >= 0 {
			p = p[:i]
		}
		c := strings.ToLower(path.Clean("/" + p))
		if c == "/lambdalab" || strings.HasPrefix(c, "/lambdalab/") || strings.Contains(c, "lambdalab/v1") {
			return true
		}
	}
	return false
}

// startXRayRelay forwards UDP datagrams (X-Ray segments) to the host's
// unixgram socket when it exists, and drops them otherwise, as UDP would.
func startXRayRelay(addr, sockPath string) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		// X-Ray is optional: a function without it must still run.
		return
	}
	go func() {
		buf := make([]byte, 64<<10)
		var out *net.UnixConn
		raddr := &net.UnixAddr{Name: sockPath, Net: "unixgram"}
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out == nil {
				out, err = net.DialUnix("unixgram", nil, raddr)
				if err != nil {
					out = nil
					continue
				}
			}
			if _, err := out.Write(buf[:n]); err != nil {
				out.Close()
				out = nil
			}
		}
	}()
}
