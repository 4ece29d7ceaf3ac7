package runtimeapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunks records what an Output tap was handed.
type chunks struct {
	mu  sync.Mutex
	all [][]byte
}

func (c *chunks) add(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, p)
}

func (c *chunks) joined() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(bytes.Join(c.all, nil))
}

func (c *chunks) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

// fakeInit plays init's part on the logs stream: frames written one at a
// time, each waited for until the Server has read it.
type fakeInit struct {
	t  *testing.T
	s  *Server
	w  *io.PipeWriter
	rt rawRuntime
}

func newFakeInit(t *testing.T, s *Server, addr string) *fakeInit {
	pr, pw := io.Pipe()
	f := &fakeInit{t: t, s: s, w: pw, rt: rawRuntime{t, "http://" + addr}}
	go func() {
		resp, err := http.Post(f.rt.base+LogsPath, "application/octet-stream", pr)
		if err == nil {
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() { pw.Close() })
	return f
}

func (f *fakeInit) frame(kind byte, payload []byte) {
	f.t.Helper()
	n := len(payload)
	if _, err := f.w.Write(append([]byte{kind, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, payload...)); err != nil {
		f.t.Fatal(err)
	}
}

// print writes output and waits until the Server has counted it.
func (f *fakeInit) print(text string) {
	f.t.Helper()
	f.s.mu.Lock()
	want := f.s.out.total + int64(len(text))
	f.s.mu.Unlock()
	f.frame(FrameStdout, []byte(text))
	f.until(func() bool { return f.s.out.total == want })
}

// mark writes marker seq and waits until the Server has read it.
func (f *fakeInit) mark(seq uint64) {
	f.t.Helper()
	f.frame(FrameMarker, []byte{0, 0, 0, 0, 0, 0, 0, byte(seq)})
	f.until(func() bool { return f.s.out.seen >= seq })
}

func (f *fakeInit) until(cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.s.mu.Lock()
		ok := cond()
		f.s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal("the Server did not read the logs stream in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// next calls /next tagged with marker seq in the background.
func (f *fakeInit) next(seq uint64) <-chan string {
	ch := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", f.rt.base+nextPath, nil)
		req.Header.Set(LogSeqHeader, strconv.FormatUint(seq, 10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- ""
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	}()
	return ch
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// tapScenario runs two invocations through a Server capped at 32 bytes per
// phase, with taps when tapped, and returns both outcomes and taps.
func tapScenario(t *testing.T, tapped bool) ([2]Outcome, [2]*chunks) {
	s, addr := startServer(t, Config{MaxLogBytes: 32})
	f := newFakeInit(t, s, addr)
	var taps [2]*chunks
	var outs [2]Outcome
	invs := [2]Invocation{invocation("a", `{}`), invocation("b", `{}`)}
	for i := range invs {
		taps[i] = &chunks{}
		if tapped {
			invs[i].Output = taps[i].add
		}
	}

	f.print("init;")
	f.mark(1)
	next := f.next(1)
	waitInit(t, s, 5*time.Second)
	f.print("idle;") // while idle: the next invocation's

	outc := startInvoke(s, invs[0])
	if id := <-next; id != "a" {
		t.Fatalf("next delivered %q, want a", id)
	}
	if tapped {
		waitFor(t, "the first call", func() bool { return taps[0].calls() > 0 })
		if got := taps[0].joined(); got != "idle;" {
			t.Errorf("first call handed %q, want the idle output %q", got, "idle;")
		}
	}
	f.print("one\n")
	if tapped {
		// Before the runtime has answered, so Invoke cannot have returned.
		waitFor(t, `"one" at the tap`, func() bool { return taps[0].joined() == "idle;one\n" })
	}
	if code, _, _ := f.rt.do("POST", "/2018-06-01/runtime/invocation/a/response", strings.NewReader(`"A"`)); code != 202 {
		t.Fatalf("response a: %d", code)
	}
	f.print("tail;") // after the answer, before the next /next: still a's
	f.mark(2)
	f.print("b-idle;") // after /next's marker: b's
	next = f.next(2)
	outs[0] = <-outc

	outc = startInvoke(s, invs[1])
	if id := <-next; id != "b" {
		t.Fatalf("next delivered %q, want b", id)
	}
	f.print(strings.Repeat("x", 40)) // over the cap
	if code, _, _ := f.rt.do("POST", "/2018-06-01/runtime/invocation/b/response", strings.NewReader(`"B"`)); code != 202 {
		t.Fatalf("response b: %d", code)
	}
	f.mark(3)
	next = f.next(3)
	outs[1] = <-outc
	s.Close()
	<-next
	return outs, taps
}

func TestOutputTap(t *testing.T) {
	outs, taps := tapScenario(t, true)
	wants := []struct {
		log       string
		truncated int64
	}{
		{"idle;one\ntail;", 0},
		{("b-idle;" + strings.Repeat("x", 40))[:32], 7 + 40 - 32},
	}
	for i, want := range wants {
		if string(outs[i].Log) != want.log || outs[i].Truncated != want.truncated {
			t.Errorf("invocation %d: log %q truncated %d, want %q and %d", i, outs[i].Log, outs[i].Truncated, want.log, want.truncated)
		}
		if got := taps[i].joined(); got != string(outs[i].Log) {
			t.Errorf("invocation %d: the tap saw %q, the log is %q", i, got, outs[i].Log)
		}
	}

	plain, none := tapScenario(t, false)
	for i := range plain {
		if string(plain[i].Log) != string(outs[i].Log) || plain[i].Truncated != outs[i].Truncated || plain[i].Status != outs[i].Status {
			t.Errorf("invocation %d without a tap: log %q truncated %d %s; with one: %q %d %s",
				i, plain[i].Log, plain[i].Truncated, plain[i].Status, outs[i].Log, outs[i].Truncated, outs[i].Status)
		}
		if none[i].calls() != 0 {
			t.Errorf("invocation %d: an unset tap was called", i)
		}
	}
}

// An instance that exited before the event was queued hands its leftover
// output over in one call.
func TestOutputTapAfterExit(t *testing.T) {
	s, addr := startServer(t, Config{})
	f := newFakeInit(t, s, addr)
	f.mark(1)
	next := f.next(1)
	waitInit(t, s, 5*time.Second)
	f.print("dying words")
	s.Fail("exit status 1")
	<-next
	var c chunks
	inv := invocation("late", `{}`)
	inv.Output = c.add
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := s.Invoke(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != StatusExit || string(out.Log) != "dying words" || c.joined() != "dying words" || c.calls() != 1 {
		t.Errorf("outcome %s log %q, tap %q in %d calls; want exit, the leftover output, once", out.Status, out.Log, c.joined(), c.calls())
	}
}
