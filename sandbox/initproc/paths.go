package initproc

import (
	"net"
	"net/http"
	"path"
	"strings"
)

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
