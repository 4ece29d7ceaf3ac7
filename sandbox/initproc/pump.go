package initproc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

const (
	// batchSize is how much output goes into one chunk of the logs stream.
	batchSize = 64 << 10
	// drainLimit bounds one drain of one pipe, so a runtime that writes
	// without pause from another thread cannot hold the pump forever.
	drainLimit = 4 << 20
	// readerSlice is how much a reader goroutine drains before it lets a
	// waiting request take the lock.
	readerSlice = 256 << 10
)

// pump moves the runtime's stdout and stderr to the host's logs stream as
// frames. One mutex covers "read what the pipes hold, then write it as
// frames", so a marker written under it follows every byte the runtime had
// written before the marker was asked for.
type pump struct {
	mu        sync.Mutex
	pipes     [2]*os.File
	fds       [2]int
	kinds     [2]byte
	eof       [2]bool
	batch     []byte
	seq       uint64
	conn      net.Conn
	bw        *bufio.Writer
	cw        io.WriteCloser
	broken    bool // the logs stream failed: keep draining, drop the output
	finishing bool // finish has ended the stream on purpose
	done      sync.WaitGroup

	// answered is closed when the host has answered the logs request or
	// its connection ended. The host answers only after the stream ends,
	// so an early answer means the host is gone.
	answered chan struct{}
}

// openLogs starts POST LogsPath on a connection of its own. The request is
// written by hand (with the standard library's chunked writer) so that every
// batch of output is one chunk and one write, with no goroutine between.
func openLogs(sockPath string) (net.Conn, *bufio.Writer, io.WriteCloser, error) {
	conn, err := net.Dial("unix", sockPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open logs stream: %w", err)
	}
	bw := bufio.NewWriterSize(conn, batchSize+64)
	fmt.Fprintf(bw, "POST %s HTTP/1.1\r\nHost: lambdalab\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n", runtimeapi.LogsPath)
	if err := bw.Flush(); err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("open logs stream: %w", err)
	}
	return conn, bw, httputil.NewChunkedWriter(bw), nil
}

func newPump(conn net.Conn, bw *bufio.Writer, cw io.WriteCloser, stdout, stderr *os.File) (*pump, error) {
	p := &pump{
		pipes: [2]*os.File{stdout, stderr},
		kinds: [2]byte{runtimeapi.FrameStdout, runtimeapi.FrameStderr},
		batch: make([]byte, 0, batchSize),
		conn:  conn, bw: bw, cw: cw,
		broken:   conn == nil,
		answered: make(chan struct{}),
	}
	for i, f := range p.pipes {
		// The raw descriptor is read directly (non-blocking, the pipe is in
		// the runtime poller) by whoever holds mu. Fd() would switch the pipe
		// to blocking mode, so take the number through Control.
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("pipe descriptor: %w", err)
		}
		if err := rc.Control(func(fd uintptr) { p.fds[i] = int(fd) }); err != nil {
			return nil, fmt.Errorf("pipe descriptor: %w", err)
		}
	}
	return p, nil
}

// watchHost reads the host's answer to the logs request. If it comes (or
// the connection ends) before finish ended the stream, the host has closed
// the instance: gone is called so that init ends the runtime rather than
// outlive its host.
func (p *pump) watchHost(gone func()) {
	if p.conn == nil {
		close(p.answered)
		gone()
		return
	}
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://lambdalab"+runtimeapi.LogsPath, nil)
		if resp, err := http.ReadResponse(bufio.NewReader(p.conn), req); err == nil {
			resp.Body.Close()
		}
		close(p.answered)
		p.mu.Lock()
		finishing := p.finishing
		p.broken = true
		p.mu.Unlock()
		if !finishing {
			gone()
		}
	}()
}

// start runs one reader per pipe. Each waits in the poller until its pipe is
// readable and then drains it under the lock, so output also streams while
// no request is being made.
func (p *pump) start() {
	for i := range p.pipes {
		p.done.Add(1)
		go p.read(i)
	}
}

func (p *pump) read(i int) {
	defer p.done.Done()
	rc, err := p.pipes[i].SyscallConn()
	if err != nil {
		return
	}
	// RawConn.Read arms the poller before the first call and waits for
	// readiness whenever the callback returns false, so no wake-up is lost
	// between our EAGAIN and the wait.
	rc.Read(func(uintptr) bool {
		for {
			p.mu.Lock()
			res := p.drainLocked(i, readerSlice)
			p.flushLocked()
			p.mu.Unlock()
			switch res {
			case drainEmpty:
				return false
			case drainEOF:
				return true
			}
			// Let a request that waits for the lock take it.
			runtime.Gosched()
		}
	})
}

type drainResult int

const (
	drainEmpty drainResult = iota // the pipe would block
	drainEOF                      // every writer is gone
	drainMore                     // the limit was reached with data left
)

// drainLocked reads pipe i until it would block, reaches EOF or limit bytes
// were read, appending frames to the batch.
func (p *pump) drainLocked(i, limit int) drainResult {
	if p.eof[i] {
		return drainEOF
	}
	read := 0
	for read < limit {
		if cap(p.batch)-len(p.batch) < 5+4096 {
			p.flushLocked()
		}
		off := len(p.batch)
		buf := p.batch[off+5 : cap(p.batch)]
		n, err := syscall.Read(p.fds[i], buf)
		if n > 0 {
			hdr := p.batch[off : off+5]
			hdr[0] = p.kinds[i]
			binary.BigEndian.PutUint32(hdr[1:], uint32(n))
			p.batch = p.batch[:off+5+n]
			read += n
			continue
		}
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return drainEmpty
		}
		// n == 0 is EOF; any other error means the pipe is unusable.
		p.eof[i] = true
		return drainEOF
	}
	return drainMore
}

// flushLocked sends the batch as one chunk.
func (p *pump) flushLocked() {
	if len(p.batch) == 0 {
		return
	}
	if !p.broken {
		if _, err := p.cw.Write(p.batch); err != nil {
			p.broken = true
		} else if err := p.bw.Flush(); err != nil {
			p.broken = true
		}
	}
	p.batch = p.batch[:0]
}

// mark drains both pipes, writes a marker frame after their output and
// returns its sequence number, for the request about to be forwarded.
func (p *pump) mark() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.markLocked()
}

func (p *pump) markLocked() uint64 {
	for i := range p.pipes {
		p.drainLocked(i, drainLimit)
	}
	p.seq++
	if cap(p.batch)-len(p.batch) < 13 {
		p.flushLocked()
	}
	p.batch = append(p.batch, runtimeapi.FrameMarker, 0, 0, 0, 8)
	p.batch = binary.BigEndian.AppendUint64(p.batch, p.seq)
	p.flushLocked()
	return p.seq
}

// finish waits (bounded) for both pipes to reach EOF, writes a last marker,
// ends the logs stream and waits for the host's answer, so the host has every
// byte before the exit report arrives. It returns the last marker's number.
func (p *pump) finish(wait time.Duration) uint64 {
	done := make(chan struct{})
	go func() { p.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishing = true
	seq := p.markLocked()
	if p.broken {
		return seq
	}
	p.broken = true
	p.cw.Close()
	io.WriteString(p.bw, "\r\n")
	if err := p.bw.Flush(); err != nil {
		return seq
	}
	p.mu.Unlock()
	select {
	case <-p.answered:
	case <-time.After(wait):
	}
	p.mu.Lock()
	p.conn.Close()
	return seq
}
