package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// A class is normally served over HTTPS by a reverse proxy (nginx, Caddy)
// in front of lambdalab. The proxy's connection is then the peer, so the
// learner's address and whether they used HTTPS only arrive in
// X-Forwarded-For and X-Forwarded-Proto. Anyone can send those headers, so
// they are believed only from a peer inside Config.TrustedProxies.

// clientInfo is who sent a request, as far as the site can tell.
type clientInfo struct {
	// ip is the client's address: the peer's, or behind trusted proxies the
	// nearest address in X-Forwarded-For that is not one of them.
	ip string
	// https says the browser's own connection was encrypted: it came over
	// TLS to us, or a trusted proxy says it took it over https.
	https bool
}

// ParseTrustedProxies reads serve's --trusted-proxies: a comma-separated
// list of CIDR prefixes (10.0.0.0/8, fd00::/8) or single addresses
// (127.0.0.1). An empty list trusts no one.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not a CIDR prefix like 10.0.0.0/8: %w", item, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an IP address or a CIDR prefix like 127.0.0.1 or 10.0.0.0/8", item)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CheckBaseURL validates serve's --base-url (Config.BaseURL): an http or
// https URL of a host's root, such as https://class.example.org. It
// returns the URL without a trailing slash, ready to have a path appended.
func CheckBaseURL(base string) (string, error) {
	if base == "" {
		return "", nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", base, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("base URL %q must start with https:// (or http://)", base)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("base URL %q has no host name", base)
	case u.User != nil:
		return "", fmt.Errorf("base URL %q must not carry a user name or password", base)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(base, "?") || strings.HasSuffix(base, "#"):
		return "", fmt.Errorf("base URL %q must not have a query or fragment", base)
	case u.Path != "" && u.Path != "/":
		// Every route is at the root of its host; a prefix would need the
		// proxy to strip it and every link to add it.
		return "", fmt.Errorf("base URL %q has a path; lambdalab must be served at the root of its host, like https://class.example.org", base)
	}
	return u.Scheme + "://" + u.Host, nil
}

// absoluteURL is path (starting with /) as a full URL for links that leave
// the page: an invite mailed to a student, say. With Config.BaseURL it is
// always under it; without, it is built from the request, whose Host a
// client chooses, so set BaseURL for any link that is sent to someone else.
func (s *Server) absoluteURL(r *http.Request, path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if s.baseURL != "" {
		return s.baseURL + path
	}
	scheme := "http"
	if isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// identifyClient works out clientInfo once per request for clientIP,
// isHTTPS and the cookies. It must wrap every other middleware.
func (s *Server) identifyClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := resolveClient(r, s.trustedProxies)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientInfoKey, info)))
	})
}

// clientOf is the request's clientInfo. A request that did not pass
// through identifyClient (a handler called directly) gets the peer's.
func clientOf(r *http.Request) clientInfo {
	if info, ok := r.Context().Value(clientInfoKey).(clientInfo); ok {
		return info
	}
	return resolveClient(r, nil)
}

// isHTTPS reports whether the browser reached the site over HTTPS, so
// that cookies may be Secure and HSTS is sent.
func isHTTPS(r *http.Request) bool { return clientOf(r).https }

func resolveClient(r *http.Request, trusted []netip.Prefix) clientInfo {
	info := clientInfo{ip: peerHost(r.RemoteAddr), https: r.TLS != nil}
	peer, ok := parseHop(r.RemoteAddr)
	if !ok || !trustedAddr(trusted, peer) {
		return info
	}
	// Each proxy appends the address it was reached from, so the list reads
	// left to right from the client towards us. Walk it from the right past
	// our own proxies: the first other address is the client. Anything to
	// its left was written by the client and may be made up.
	hops := headerList(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy would not write this; stop at the nearest
			// address we could read.
			break
		}
		info.ip = a.String()
		if !trustedAddr(trusted, a) {
			break
		}
	}
	// The nearest proxy sets or appends the scheme it was reached by.
	if protos := headerList(r.Header.Values("X-Forwarded-Proto")); len(protos) > 0 {
		switch strings.ToLower(protos[len(protos)-1]) {
		case "https":
			info.https = true
		case "http":
			// The browser's connection is plain even if the proxy's to us is
			// not: it would never send a Secure cookie back.
			info.https = false
		}
	}
	return info
}

// headerList splits comma-separated header values into trimmed items.
func headerList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// parseHop reads an address as proxies write it: 203.0.113.7, 2001:db8::1,
// [2001:db8::1]:443 or 203.0.113.7:51234.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func trustedAddr(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerHost is the host part of a RemoteAddr, or all of it when it has no port.
func peerHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
