package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/hashicorp/yamux"

	"lambdalab/sandbox"
	"lambdalab/sandbox/instdir"
	"lambdalab/sandbox/runtimeapi"
)

// The link, from the bottom up: one TCP connection, TLS 1.3 with a client
// certificate on both ends' CA; a hello exchange on the raw TLS stream,
// the server's greeting first (in TLS 1.3 the server checks the client's
// certificate after the client's handshake is done, so the agent learns of
// a refusal by reading: it reads before it writes anything, and the TLS
// alert is what it reads, rather than a broken pipe or a closed
// multiplexer); then yamux, whose streams carry HTTP/1.1 both ways. Control bodies are JSON. Where bytes need to travel beside JSON
// (an event, a response, output, a code bundle, X-Ray datagrams), they go
// as frames: one kind byte, a 4-byte big-endian length and that many bytes,
// the framing of runtimeapi's logs stream.

// protocolVersion changes when either side's routes or frames change
// incompatibly; a hello with another version is refused, by name.
const protocolVersion = 1

// Limits on what crosses the link. Each side enforces them on what it
// reads, so neither a confused server nor a compromised node can make the
// other hold more.
const (
	// maxJSON caps a JSON body or frame: a binding's environment and
	// command, an init result or an outcome without its payload and log.
	maxJSON = 8 << 20
	// maxPayload caps an event or a response: the Runtime API's
	// 6 MiB + 100 bytes (runtimeapi.MaxResponseBytes); a synchronous event
	// is at most 6 MiB.
	maxPayload = runtimeapi.MaxResponseBytes
	// maxLog caps one phase's output, and one output frame: what the
	// Runtime API server keeps (sandbox.MaxLogBytes).
	maxLog = sandbox.MaxLogBytes
	// maxOutput caps the output frames of one invocation taken together:
	// the tap hands over at most maxLog bytes; twice that leaves room for
	// how chunks fall.
	maxOutput = 2 * maxLog
	// maxHello caps the hello exchange.
	maxHello = 64 << 10
	// helloTimeout bounds the TLS handshake and hello on both sides.
	helloTimeout = 10 * time.Second
)

// Frame kinds.
const (
	frameMeta    byte = 'm' // JSON: what the request is about
	framePayload byte = 'p' // an event or a response body
	frameOutput  byte = 'o' // a chunk of the invocation's output, as the tap handed it
	frameLog     byte = 'l' // the outcome's whole log, when it is not what the chunks made
	frameOutcome byte = 'r' // JSON outcome: the last frame of a successful invoke
	frameError   byte = 'e' // JSON wireError: the last frame of a failed invoke
	frameXRay    byte = 'x' // one X-Ray datagram
	frameHello   byte = 'h' // JSON greeting, hello or helloAnswer
)

// Routes served by the agent (server → agent) and by the Hub (agent →
// server). {id} is an instance id.
const (
	pathInstance = "/v1/instances/" // + {id}/prepare, bind, invoke, cancel, fail, peak, release
	pathSweep    = "/v1/sweep"      // POST sweepRequest
	pathAWS      = "/v1/aws/"       // + {id}: an instance's AWS call, any method
	pathXRay     = "/v1/xray/"      // + {id}: POST frames of datagrams
	headerURI    = "Lambdalab-Uri"  // the AWS call's request URI as the instance sent it
	headerRemote = "Lambdalab-Peer" // its RemoteAddr on the instance's socket
	frameType    = "application/vnd.lambdalab.frames"
	jsonType     = "application/json"
	linkHost     = "lambdalab-link" // the URL host of requests on the link; never resolved
)

// greeting is what the Hub says first, once it has accepted the
// certificate.
type greeting struct {
	Version int `json:"version"`
}

// hello is the agent's answer to the greeting. Its name is not in it: the
// name is the certificate's.
type hello struct {
	Version    int    `json:"version"`
	InitBinary string `json:"init_binary"`
}

// helloAnswer is the Hub's answer: the name it knows the node by, or why
// it refuses it.
type helloAnswer struct {
	Node  string `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
}

// Error codes of wireError. The Hub turns them back into the sentinels the
// sandbox branches on, so errors.Is works across the link.
const (
	codeGone     = "instance_gone" // sandbox.ErrInstanceGone
	codeCapacity = "capacity"      // sandbox.ErrCapacity
	codeNotFound = "not_found"     // no such instance on the node
	codeBad      = "bad_request"   // refused input: over a limit, a bad path in a bundle
	codeConflict = "conflict"      // already prepared, bound or closing
	codeForbid   = "forbidden"     // an instance id this node did not prepare
	codeInternal = "internal"
)

// wireError is an error as it crosses the link.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// codedError is an agent-side error with its wire code.
type codedError struct {
	code string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func coded(code string, format string, args ...any) error {
	return &codedError{code: code, err: fmt.Errorf(format, args...)}
}

// toWire gives err its code: its own, or the sentinel's it wraps.
func toWire(err error) wireError {
	var ce *codedError
	switch {
	case errors.As(err, &ce):
		return wireError{Code: ce.code, Message: err.Error()}
	case errors.Is(err, sandbox.ErrInstanceGone):
		return wireError{Code: codeGone, Message: err.Error()}
	case errors.Is(err, sandbox.ErrCapacity):
		return wireError{Code: codeCapacity, Message: err.Error()}
	}
	return wireError{Code: codeInternal, Message: err.Error()}
}

// remoteError is a wireError read on the Hub's side.
type remoteError struct {
	wireError
}

func (e *remoteError) Error() string { return e.Message }

// Unwrap gives the sentinel the code stands for, if any.
func (e *remoteError) Unwrap() error {
	switch e.Code {
	case codeGone:
		return sandbox.ErrInstanceGone
	case codeCapacity:
		return sandbox.ErrCapacity
	}
	return nil
}

func httpStatus(code string) int {
	switch code {
	case codeNotFound:
		return http.StatusNotFound
	case codeBad:
		return http.StatusBadRequest
	case codeConflict:
		return http.StatusConflict
	case codeForbid:
		return http.StatusForbidden
	case codeGone:
		return http.StatusGone
	case codeCapacity:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", jsonType)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	we := toWire(err)
	writeJSON(w, httpStatus(we.Code), we)
}

// readJSON decodes a JSON body of at most maxJSON bytes into v.
func readJSON(r io.Reader, v any, what string) error {
	data, err := io.ReadAll(io.LimitReader(r, maxJSON+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if len(data) > maxJSON {
		return coded(codeBad, "%s is over the %d MB limit of a control body", what, maxJSON>>20)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return coded(codeBad, "decode %s: %v", what, err)
	}
	return nil
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func writeJSONFrame(w io.Writer, kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, kind, b)
}

// frameLimit is the largest frame of each kind a reader takes.
func frameLimit(kind byte) int {
	switch kind {
	case framePayload:
		return maxPayload
	case frameOutput, frameLog:
		return maxLog
	case frameXRay:
		return instdir.MaxXRayDatagram
	case frameHello:
		return maxHello
	}
	return maxJSON
}

// readFrame reads one frame of one of the kinds in want, refusing one over
// its kind's limit before reading it. io.EOF means the stream ended
// cleanly between frames.
func readFrame(r io.Reader, want ...byte) (kind byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return 0, nil, err
	}
	if _, err := io.ReadFull(r, hdr[1:]); err != nil {
		return 0, nil, fmt.Errorf("frame header: %w", noEOF(err))
	}
	kind = hdr[0]
	n := binary.BigEndian.Uint32(hdr[1:])
	ok := false
	for _, k := range want {
		ok = ok || k == kind
	}
	if !ok {
		return 0, nil, coded(codeBad, "unexpected frame kind %q", kind)
	}
	if limit := frameLimit(kind); int64(n) > int64(limit) {
		return 0, nil, coded(codeBad, "a %s frame of %d bytes is over its limit of %d bytes", frameName(kind), n, limit)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("%s frame: %w", frameName(kind), noEOF(err))
	}
	return kind, payload, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func frameName(kind byte) string {
	switch kind {
	case frameMeta:
		return "metadata"
	case framePayload:
		return "payload"
	case frameOutput:
		return "output"
	case frameLog:
		return "log"
	case frameOutcome:
		return "outcome"
	case frameError:
		return "error"
	case frameXRay:
		return "x-ray"
	case frameHello:
		return "hello"
	}
	return fmt.Sprintf("%q", kind)
}

// yamuxConfig is the multiplexer's configuration on both ends. Keepalives
// find a link whose peer vanished without a FIN (a node powered off); a
// larger window than the default 256 KB keeps a code bundle moving.
func yamuxConfig(logger *slog.Logger) *yamux.Config {
	c := yamux.DefaultConfig()
	c.KeepAliveInterval = 10 * time.Second
	c.ConnectionWriteTimeout = 15 * time.Second
	c.StreamOpenTimeout = 30 * time.Second
	c.StreamCloseTimeout = time.Minute
	c.MaxStreamWindowSize = 1 << 20
	c.LogOutput = nil
	c.Logger = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	return c
}

// linkServer is the http.Server each end runs on its session. No read or
// write timeout: an invoke's answer streams for as long as the function
// runs, a bind waits for init.
func linkServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// idPattern is the instance id format of the Docker backend's newID: 8
// random bytes in lower-case hex. The id becomes a folder name, so nothing
// else may pass.
var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func validID(id string) error {
	if !idPattern.MatchString(id) {
		return coded(codeBad, "instance id %q is not 16 lower-case hex digits", id)
	}
	return nil
}
