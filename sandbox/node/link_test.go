package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox"
)

// awsRecorder is one instance's AWS handler: it records what reached it
// and answers with its instance's name.
type awsRecorder struct {
	who   string
	mu    sync.Mutex
	calls []awsCall
}

type awsCall struct {
	Method, URI, Host, Who, Body, Remote string
}

func (a *awsRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.calls = append(a.calls, awsCall{Method: r.Method, URI: r.URL.RequestURI(), Host: r.Host, Who: r.Header.Get("X-Who"), Body: string(body), Remote: r.RemoteAddr})
	a.mu.Unlock()
	fmt.Fprintf(w, "answered by the handler of %s", a.who)
}

func (a *awsRecorder) got() []awsCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]awsCall(nil), a.calls...)
}

// xraySink is one instance's X-Ray sink.
type xraySink struct {
	mu sync.Mutex
	d  []string
}

func (x *xraySink) sink(d []byte) {
	x.mu.Lock()
	x.d = append(x.d, string(d))
	x.mu.Unlock()
}

func (x *xraySink) got() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.d...)
}

// result is what the test runtime answers.
type result struct {
	Who       string `json:"who"`
	RequestID string `json:"request_id"`
	Read      string `json:"read"`
	AWS       string `json:"aws"`
}

func payloadOf(t *testing.T, out sandbox.Outcome) result {
	t.Helper()
	var r result
	if err := json.Unmarshal(out.Payload, &r); err != nil {
		t.Fatalf("outcome %s: payload %q: %v", out.Status, out.Payload, err)
	}
	return r
}

func event(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invocation(id string, payload []byte) sandbox.Invocation {
	return sandbox.Invocation{RequestID: id, Payload: payload, Deadline: time.Now().Add(30 * time.Second)}
}

// TestWholePath runs a real agent linked to a real Hub over loopback TLS,
// with two instances whose "Pods" are the real init run as processes on
// this machine, and the test runtime under them.
func TestWholePath(t *testing.T) {
	requireRoot(t)
	python(t)
	r := newRig(t)
	dir := r.agent(t, "node-a", nil)
	n := r.node(t, "node-a")
	if n.InitBinary() != initBinary(t) {
		t.Errorf("InitBinary = %q, want %q from the agent's hello", n.InitBinary(), initBinary(t))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const idA, idB = "000000000000000a", "000000000000000b"
	awsA, awsB := &awsRecorder{who: "A"}, &awsRecorder{who: "B"}
	xrA, xrB := &xraySink{}, &xraySink{}
	pa, err := n.Prepare(ctx, idA, sandbox.InstanceSpec{AWS: awsA, XRay: xrA.sink})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := n.Prepare(ctx, idB, sandbox.InstanceSpec{EphemeralMB: 600, AWS: awsB, XRay: xrB.sink})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "instances", idA, "sock"); pa.SocketDir != want {
		t.Errorf("SocketDir = %s, want %s", pa.SocketDir, want)
	}
	if _, err := n.Prepare(ctx, idA, sandbox.InstanceSpec{}); err == nil {
		t.Error("a second Prepare of the same id succeeded")
	}
	if _, err := n.Prepare(ctx, "../../etc", sandbox.InstanceSpec{}); err == nil {
		t.Error("Prepare of a non-hex id succeeded")
	}
	mounts := mountedUnder(t, dir)
	for _, p := range []Paths{pa, pb} {
		found := false
		for _, m := range mounts {
			found = found || m == p.TmpDir
		}
		if !found {
			t.Errorf("%s is not a mount point (mounts under the node folder: %v)", p.TmpDir, mounts)
		}
	}

	// Layers: the second one's file replaces the first's.
	layer1, layer2 := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(layer1, "which.txt"), []byte("first layer"), 0o644)
	os.WriteFile(filepath.Join(layer2, "which.txt"), []byte("second layer"), 0o644)
	code := codeDir(t)

	podA, podB := startPod(t, pa), startPod(t, pb)
	for _, c := range []struct {
		id  string
		pd  *pod
		who string
	}{{idA, podA, "A"}, {idB, podB, "B"}} {
		res, err := n.Bind(ctx, c.id, "", binding(t, c.pd, c.who, code, layer1, layer2))
		if err != nil {
			t.Fatalf("Bind %s: %v", c.who, err)
		}
		if res.Status != sandbox.StatusSuccess || string(res.Log) != "init "+c.who+"\n" || res.Duration <= 0 {
			t.Fatalf("Bind %s = %+v (log %q), want success with the runtime's init line", c.who, res, res.Log)
		}
	}
	if _, err := n.Bind(ctx, idA, "", binding(t, podA, "A", code)); err == nil {
		t.Error("a second Bind succeeded")
	}

	// Output streams while the invocation runs: the runtime waits, after
	// its first line, until the test has seen that line.
	seen := filepath.Join(t.TempDir(), "seen")
	var chunks []string
	var seenOnce sync.Once
	inv := invocation("req-a1", event(t, map[string]any{
		"print": []string{"first line"}, "wait_for": seen, "after": []string{"second line"},
		"read": "../opt/which.txt", "aws": "/bucket/key?x-id=PutObject&a=1", "xray": `{"trace_id":"1-a"}`,
	}))
	inv.Output = func(c []byte) {
		chunks = append(chunks, string(c))
		if strings.Contains(strings.Join(chunks, ""), "first line\n") {
			seenOnce.Do(func() { os.WriteFile(seen, nil, 0o644) })
		}
	}
	out, err := n.Invoke(ctx, idA, inv)
	if err != nil {
		t.Fatal(err)
	}
	got := payloadOf(t, out)
	if out.Status != sandbox.StatusSuccess || got.Who != "A" || got.RequestID != "req-a1" {
		t.Errorf("invoke A = %s %+v, want success from A for req-a1", out.Status, got)
	}
	if got.Read != "second layer" {
		t.Errorf("/opt/which.txt = %q, want the later layer's", got.Read)
	}
	if string(out.Log) != "first line\nsecond line\n" || strings.Join(chunks, "") != string(out.Log) {
		t.Errorf("log %q, chunks %q; want both lines, streamed as they came", out.Log, chunks)
	}
	if out.Start.IsZero() || out.Done.Before(out.Start) {
		t.Errorf("start %v, done %v", out.Start, out.Done)
	}

	// The AWS call went through A's socket: A's handler, A's request.
	if got.AWS != "answered by the handler of A" {
		t.Errorf("the runtime's AWS call got %q, want A's handler", got.AWS)
	}
	calls := awsA.got()
	if len(calls) != 1 || calls[0].Method != "PUT" || calls[0].URI != "/bucket/key?x-id=PutObject&a=1" ||
		calls[0].Who != "A" || calls[0].Body != "body of A" || calls[0].Host != podA.runtimeAddr {
		t.Errorf("A's handler got %+v, want one PUT of /bucket/key?x-id=PutObject&a=1 with A's header, body and Host %s", calls, podA.runtimeAddr)
	}
	if len(awsB.got()) != 0 {
		t.Errorf("B's handler got %+v from A's call", awsB.got())
	}
	out, err = n.Invoke(ctx, idB, invocation("req-b1", event(t, map[string]any{"aws": "/other"})))
	if err != nil {
		t.Fatal(err)
	}
	if got := payloadOf(t, out); got.AWS != "answered by the handler of B" || len(awsB.got()) != 1 || awsB.got()[0].Who != "B" || len(awsA.got()) != 1 {
		t.Errorf("B's AWS call: answer %q, A's handler %d calls, B's %+v; want B's alone", got.AWS, len(awsA.got()), awsB.got())
	}
	waitFor(t, 10*time.Second, "A's X-Ray datagram", func() bool { return len(xrA.got()) == 1 })
	if d := xrA.got(); d[0] != `{"trace_id":"1-a"}` || len(xrB.got()) != 0 {
		t.Errorf("X-Ray: A's sink %q, B's %q; want A's datagram in A's sink alone", d, xrB.got())
	}

	// A link that names an instance its node did not prepare is refused.
	evil := r.rawLink(t, "node-b")
	if resp := post(t, evil, pathAWS+idA, strings.NewReader("x")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("node-b speaking for node-a's instance: %s, want 403", resp.Status)
	}
	var xr bytes.Buffer
	writeFrame(&xr, frameXRay, []byte("forged"))
	if resp := post(t, evil, pathXRay+idA, &xr); resp.StatusCode != http.StatusForbidden {
		t.Errorf("node-b sending X-Ray for node-a's instance: %s, want 403", resp.Status)
	}
	if len(awsA.got()) != 1 || len(xrA.got()) != 1 {
		t.Errorf("after node-b's attempts A's handler has %d calls and its sink %d datagrams, want 1 and 1", len(awsA.got()), len(xrA.got()))
	}

	// The caller gives up: the agent ends the invocation too, and its
	// verdict is a timeout with the output so far.
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	out, err = n.Invoke(short, idB, invocation("req-b2", event(t, map[string]any{"print": []string{"stuck"}, "wait_for": "/nonexistent"})))
	cancelShort()
	if err != nil || out.Status != sandbox.StatusTimeout || string(out.Log) != "stuck\n" {
		t.Errorf("invoke past its context = %s %q, %v; want a timeout with the output", out.Status, out.Log, err)
	}

	// The Pod ended: Fail ends the invocation in flight, and the next
	// finds the instance gone, across the link.
	inv = invocation("req-a2", event(t, map[string]any{"wait_for": "/nonexistent"}))
	started := make(chan struct{})
	var startOnce sync.Once
	inv.Output = func([]byte) { startOnce.Do(func() { close(started) }) }
	type answer struct {
		out sandbox.Outcome
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := n.Invoke(ctx, idA, inv)
		done <- answer{out, err}
	}()
	<-started
	if err := n.Fail(ctx, idA, "signal: killed"); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil || a.out.Status != sandbox.StatusExit || a.out.Exit != "signal: killed" {
		t.Errorf("invoke during Fail = %+v, %v; want exit, signal: killed", a.out, a.err)
	}
	_, err = n.Invoke(ctx, idA, invocation("req-a3", nil))
	if !errors.Is(err, sandbox.ErrInstanceGone) {
		t.Errorf("invoke after Fail = %v, want ErrInstanceGone", err)
	}
	if _, err := n.MaxMemoryUsed(ctx, idA); err == nil || !strings.Contains(err.Error(), "without cgroups") {
		t.Errorf("MaxMemoryUsed without cgroups = %v, want an error saying so", err)
	}

	// Sweep keeps what it is told to; Release removes the rest.
	const idC = "000000000000000c"
	if _, err := n.Prepare(ctx, idC, sandbox.InstanceSpec{}); err != nil {
		t.Fatal(err)
	}
	if err := n.Sweep(ctx, []string{idA, idB}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "instances", idC)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("swept instance's folder: %v, want it gone", err)
	}
	for _, id := range []string{idA, idB} {
		if _, err := n.Release(ctx, id); err != nil {
			t.Errorf("Release %s: %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "instances")); len(entries) != 0 {
		t.Errorf("after Release the instances folder holds %v", entries)
	}
	if m := mountedUnder(t, dir); len(m) != 0 {
		t.Errorf("after Release still mounted: %v", m)
	}
	for _, pd := range []*pod{podA, podB} {
		select {
		case <-pd.done:
		case <-time.After(10 * time.Second):
			t.Errorf("init still runs 10 s after Release")
		}
	}
	// A released instance's calls are refused by the server now.
	if _, err := n.Invoke(ctx, idA, invocation("late", nil)); err == nil {
		t.Error("invoke after Release succeeded")
	}
}

// TestLinkLoss cuts the TCP connection under an invocation in flight.
func TestLinkLoss(t *testing.T) {
	requireRoot(t)
	r := newRig(t)
	dir := r.agent(t, "node-a", nil)
	n := r.node(t, "node-a")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const id = "00000000000000a1"
	p, err := n.Prepare(ctx, id, sandbox.InstanceSpec{})
	if err != nil {
		t.Fatal(err)
	}
	pd := startPod(t, p)
	if res, err := n.Bind(ctx, id, "", binding(t, pd, "A", codeDir(t))); err != nil || res.Status != sandbox.StatusSuccess {
		t.Fatalf("Bind = %+v, %v", res, err)
	}
	inv := invocation("stuck", event(t, map[string]any{"print": []string{"running"}, "wait_for": "/nonexistent"}))
	running := make(chan struct{})
	var once sync.Once
	inv.Output = func(c []byte) {
		if strings.Contains(string(c), "running") {
			once.Do(func() { close(running) })
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := n.Invoke(ctx, id, inv)
		done <- err
	}()
	<-running

	addr := r.addr
	r.ln.cut()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLinkDown) {
			t.Errorf("invoke in flight when the link was cut = %v, want ErrLinkDown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("invoke in flight still waits 15 s after the link was cut")
	}
	select {
	case <-n.Done():
	case <-time.After(5 * time.Second):
		t.Error("Node.Done not closed after the link was cut")
	}
	if _, err := n.Prepare(ctx, "00000000000000a2", sandbox.InstanceSpec{}); !errors.Is(err, ErrLinkDown) {
		t.Errorf("Prepare on the lost link = %v, want ErrLinkDown", err)
	}

	// The agent dials again and is the same node, with none of the old
	// instances left.
	r.listen(t, addr)
	var again *Node
	waitFor(t, 20*time.Second, "node-a linked again", func() bool {
		nodes := r.hub.Nodes()
		if len(nodes) == 1 && nodes[0] != n {
			again = nodes[0]
		}
		return again != nil
	})
	if again.Name() != "node-a" {
		t.Errorf("linked again as %q, want node-a", again.Name())
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "instances")); len(entries) != 0 {
		t.Errorf("after the link was lost the instances folder holds %v", entries)
	}
	if m := mountedUnder(t, dir); len(m) != 0 {
		t.Errorf("after the link was lost still mounted: %v", m)
	}
	select {
	case <-pd.done:
	case <-time.After(10 * time.Second):
		t.Error("the old instance's init still runs 10 s after the link was lost")
	}
	if _, err := again.Invoke(ctx, id, invocation("late", nil)); err == nil || !strings.Contains(err.Error(), "no instance") {
		t.Errorf("invoke of the old instance on the new link = %v, want no such instance", err)
	}
	// And the new link works.
	if _, err := again.Prepare(ctx, "00000000000000a3", sandbox.InstanceSpec{}); err != nil {
		t.Errorf("Prepare on the new link: %v", err)
	}
}

// TestSameNameReplaces links twice as one node: the second link replaces
// the first, whose Node is done.
func TestSameNameReplaces(t *testing.T) {
	r := newRig(t)
	r.rawLink(t, "node-a")
	first := r.node(t, "node-a")
	r.rawLink(t, "node-a")
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the first link still runs 10 s after a second one with its name")
	}
	nodes := r.hub.Nodes()
	if len(nodes) != 1 || nodes[0] == first || nodes[0].Name() != "node-a" {
		t.Errorf("nodes = %v, want the second link's node-a alone", nodes)
	}
	_, err := first.Prepare(context.Background(), "00000000000000e1", sandbox.InstanceSpec{})
	if !errors.Is(err, ErrLinkDown) {
		t.Errorf("Prepare on the replaced link = %v, want ErrLinkDown", err)
	}
}
