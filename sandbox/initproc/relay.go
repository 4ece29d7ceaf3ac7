package initproc

import (
	"bufio"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

// relay forwards HTTP/1.1 requests from the container's loopback to the
// host, one host connection per runtime connection, in one goroutine per
// connection. The invoke path is three such requests, and on this kind of
// machine every goroutine hand-off and wake-up costs more than the copying:
// the standard reverse proxy moves each request through a Transport's read
// and write loops, this does not. The wire format is read and written by
// net/http (ReadRequest, Request.Write, ReadResponse, Response.Write); only
// the plumbing is ours.
const (
	// maxHeaderBytes bounds a request's header section, as in net/http.
	maxHeaderBytes = 1 << 20
	// maxHostIdle is how long an idle host connection is reused. It must
	// stay well below the IdleTimeout of runtimeapi.Server.Serve (2 min),
	// so that the host never closes a connection a request is about to be
	// written to: a consumed request body could not be sent again.
	maxHostIdle = 30 * time.Second
	// headerTimeout bounds the time from a request's first byte to the end
	// of its header, as the host's ReadHeaderTimeout does: a slowloris
	// connection is dropped instead of holding its buffers for ever. Idle
	// time before the first byte is not bounded, since a frozen instance's
	// runtime keeps its connection for minutes between requests.
	headerTimeout = 5 * time.Second
	// maxRelayConns caps the runtime connections served at once (64 KB of
	// buffers each); past it a new connection is closed at once. The
	// runtime and an SDK's pool need a handful, so only code that opens
	// hundreds is refused, and only in its own instance.
	maxRelayConns = 128
)

type relay struct {
	sock string
	p    *pump
	bufs sync.Pool
}

func serveRelay(ln net.Listener, sock string, p *pump) {
	r := &relay{sock: sock, p: p}
	slots := make(chan struct{}, maxRelayConns)
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors (EMFILE) and the like pass once the code
			// that caused them lets go; the relay must not stop for good.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close()
			continue
		}
		go func() {
			defer func() { <-slots }()
			r.serve(c)
		}()
	}
}

type relayBufs struct {
	cr, hr *bufio.Reader
	cw, hw *bufio.Writer
}

func (r *relay) getBufs(in io.Reader, client net.Conn) *relayBufs {
	b, _ := r.bufs.Get().(*relayBufs)
	if b == nil {
		b = &relayBufs{
			cr: bufio.NewReaderSize(nil, 16<<10), hr: bufio.NewReaderSize(nil, 16<<10),
			cw: bufio.NewWriterSize(nil, 16<<10), hw: bufio.NewWriterSize(nil, 16<<10),
		}
	}
	b.cr.Reset(in)
	b.cw.Reset(client)
	return b
}

func (r *relay) putBufs(b *relayBufs) {
	b.cr.Reset(nil)
	b.cw.Reset(nil)
	b.hr.Reset(nil)
	b.hw.Reset(nil)
	r.bufs.Put(b)
}

// serve relays the requests of one runtime connection until either side
// closes it. There is no timeout: /next waits as long as it takes.
func (r *relay) serve(client net.Conn) {
	defer client.Close()
	// Headers are read through a limit, as net/http's server does, so a
	// runtime cannot grow init's memory with an endless header.
	lr := &io.LimitedReader{R: client}
	b := r.getBufs(lr, client)
	defer r.putBufs(b)
	var host net.Conn
	var lastUse time.Time
	defer func() {
		if host != nil {
			host.Close()
		}
	}()
	for {
		lr.N = maxHeaderBytes
		if _, err := b.cr.Peek(1); err != nil {
			return
		}
		client.SetReadDeadline(time.Now().Add(headerTimeout))
		req, err := http.ReadRequest(b.cr)
		client.SetReadDeadline(time.Time{})
		lr.N = math.MaxInt64
		if err != nil {
			if !errors.Is(err, io.EOF) {
				writeStatus(b.cw, http.StatusBadRequest, "BadRequest", "malformed request")
			}
			return
		}
		if isAgentPath(req) {
			// Closing the connection spares reading a body nobody wants.
			writeStatus(b.cw, http.StatusForbidden, "Forbidden", "Forbidden")
			return
		}
		if req.Header.Get("Expect") == "100-continue" {
			// Answer it here: the body is what we are about to forward.
			req.Header.Del("Expect")
			io.WriteString(b.cw, "HTTP/1.1 100 Continue\r\n\r\n")
			b.cw.Flush()
		}
		req.Header.Set(runtimeapi.LogSeqHeader, strconv.FormatUint(r.p.mark(), 10))

		if host != nil && time.Since(lastUse) > maxHostIdle {
			host.Close()
			host = nil
		}
		if host == nil {
			host, err = net.Dial("unix", r.sock)
			if err != nil {
				io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
				writeStatus(b.cw, http.StatusBadGateway, "BadGateway", "the host endpoint is unreachable")
				return
			}
			b.hr.Reset(host)
			b.hw.Reset(host)
		}
		// Write errors are not final: a host that answered early (a 413 or
		// an auth failure) stops reading the body, but its answer is there.
		werr := req.Write(b.hw)
		if werr == nil {
			werr = b.hw.Flush()
		}
		resp, err := http.ReadResponse(b.hr, req)
		if err != nil {
			writeStatus(b.cw, http.StatusBadGateway, "BadGateway", "the host endpoint is unreachable")
			return
		}
		// A failed write may have left part of the request body unread on
		// the runtime's connection: nothing after it can be trusted.
		hostDone := resp.Close || werr != nil
		resp.Close = req.Close || werr != nil
		err = resp.Write(b.cw)
		resp.Body.Close()
		lastUse = time.Now()
		if err != nil || b.cw.Flush() != nil || resp.Close {
			return
		}
		if hostDone {
			host.Close()
			host = nil
		}
	}
}

// writeStatus answers the runtime with an error document of our own; the
// connection is closed after it.
func writeStatus(w *bufio.Writer, code int, typ, msg string) {
	body := `{"errorMessage":"` + msg + `","errorType":"` + typ + `"}`
	io.WriteString(w, "HTTP/1.1 "+strconv.Itoa(code)+" "+http.StatusText(code)+"\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	w.Flush()
}
