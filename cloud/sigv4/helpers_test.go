package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a real net/http server, so that requests reach the
// verifier parsed exactly as in production (r.Host, r.RequestURI, header
// canonicalisation, Content-Length). Its handler runs the check a test
// registered for the request; requests are told apart by User-Agent, which
// no client signs.
type testServer struct {
	*httptest.Server
	mu     sync.Mutex
	checks map[string]func(r *http.Request, body []byte)
	next   int

	protoMajor int // the HTTP version requests arrive over
}

func newTestServer(t testing.TB) *testServer {
	s := newUnstarted(t)
	s.protoMajor = 1
	s.Start()
	return s
}

func newTestServerHTTP2(t testing.TB) *testServer {
	s := newUnstarted(t)
	s.protoMajor = 2
	s.EnableHTTP2 = true
	s.StartTLS()
	return s
}

func newUnstarted(t testing.TB) *testServer {
	s := &testServer{checks: make(map[string]func(*http.Request, []byte))}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		check := s.checks[r.Header.Get("User-Agent")]
		s.mu.Unlock()
		if check == nil {
			http.Error(w, "no check registered", http.StatusTeapot)
			return
		}
		check(r, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) register(check func(*http.Request, []byte)) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	id := fmt.Sprintf("sigv4-test/%d", s.next)
	s.checks[id] = check
	return id
}

// do sends req and runs check on the server's view of it.
func (s *testServer) do(t testing.TB, req *http.Request, check func(r *http.Request, body []byte)) {
	t.Helper()
	req.Header.Set("User-Agent", s.register(check))
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
	}
}

// doRaw writes a request byte for byte (the target exactly as given) and
// runs check on the server's view of it.
func (s *testServer) doRaw(t testing.TB, method, target string, headers [][2]string, body string, check func(r *http.Request, body []byte)) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	for _, h := range headers {
		if strings.EqualFold(h[0], "User-Agent") || strings.EqualFold(h[0], "Expect") {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&b, "User-Agent: %s\r\nConnection: close\r\n\r\n%s", s.register(check), body)
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s %s: status %d", method, target, resp.StatusCode)
	}
}

// verify is what the endpoint does: parse, hash the body, verify.
func verify(r *http.Request, body []byte, secret string, now time.Time) (*Auth, error) {
	a, err := Parse(r)
	if err != nil {
		return nil, err
	}
	return a, a.Verify(r, secret, hashHex(body), now)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// code is the AWS error code of err, "" for nil.
func code(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return "not an *Error: " + err.Error()
}

// serverRequest parses a raw request the way Go's server does, for unit
// tests and benchmarks that need no network.
func serverRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}
