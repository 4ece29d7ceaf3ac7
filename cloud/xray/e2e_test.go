package xray

// The relay end to end on real Docker: a python3.13 function, run by the
// sandbox engine, sends a daemon datagram to 127.0.0.1:2000 with a plain
// socket; init relays it to the instance's xray.sock, the Docker backend
// hands it to the engine's sink, and the collector stores it under the
// function's account.

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/sandbox/docker/dockertest"
	"lambdalab/sandbox/runtimes"
)

// dockerBackend returns the shared Docker backend (see dockertest: it
// skips without Docker, and fails when LAMBDALAB_REQUIRE_DOCKER=1).
func dockerBackend(t testing.TB) *docker.Backend {
	t.Helper()
	return dockertest.Backend(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Cleanup()
	os.Exit(code)
}

// The handler speaks the daemon protocol by hand, as any SDK would, with
// the trace and parent its trace header names.
const relayHandler = `import json, os, socket, time

def handler(event, context):
    h = dict(p.split("=", 1) for p in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    now = time.time()
    doc = {"id": "0123456789abcdef", "name": "by-hand", "start_time": now - 0.01, "end_time": now,
           "type": "subsegment", "trace_id": h["Root"], "parent_id": h["Parent"],
           "annotations": {"via": "udp"}}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(('{"format":"json","version":1}\n' + json.dumps(doc)).encode(), ("127.0.0.1", 2000))
    s.close()
    return {"sent": h["Root"]}
`

func TestRelayEndToEnd(t *testing.T) {
	backend := dockerBackend(t)
	svc, db := newService(t, Config{})
	acct, other := newAccount(t, db), newAccount(t, db)
	engine := sandbox.New(db, backend, sandbox.Config{
		XRay: svc.InstanceSink,
		Runtime: func(rt string) ([]string, []string, error) {
			cmd, err := runtimes.Command(rt)
			return cmd, runtimes.Env(rt), err
		},
	})
	t.Cleanup(func() { engine.Close(context.Background()) })

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	syscall.ForkLock.Lock() // no fork may inherit the file open for writing
	err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(relayHandler), 0o644)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	fn := sandbox.Function{AccountID: acct, Name: "relay", Runtime: sandbox.RuntimePython313, Handler: "app.handler",
		MemoryMB: 256, Timeout: 10 * time.Second, CodeDir: dir}

	start := time.Now()
	lt := NewLambdaTrace(start, "")
	res, err := engine.Invoke(context.Background(), sandbox.InvokeInput{Function: fn, Payload: []byte(`{}`), TraceID: lt.Header()})
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError != "" {
		t.Fatalf("function failed: %s\n%s", res.Payload, res.Log)
	}
	if err := svc.RecordLambda(context.Background(), LambdaInvocation{
		AccountID: acct, Function: fn.Name, Version: res.ExecutedVersion, RequestID: res.RequestID, Trace: lt,
		Start: start, End: time.Now(), InitStart: start, InitDuration: time.Duration(res.Record.InitMS * float64(time.Millisecond)),
		InvokeStart: res.Record.Start, InvokeEnd: res.Record.End,
	}); err != nil {
		t.Fatal(err)
	}

	// The datagram travels asynchronously: wait for it.
	var tr *Trace
	deadline := time.Now().Add(15 * time.Second)
	for {
		flush(t, svc)
		tr, err = svc.Trace(context.Background(), acct, lt.TraceID)
		if err == nil && len(tr.Segments) == 2 && len(findAll(tr, "by-hand")) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s: trace %+v, %v; collector stats %+v\nlog:\n%s", tr, err, svc.Stats(), res.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var fnSeg *Node
	for _, n := range tr.Segments {
		if n.Origin == "AWS::Lambda::Function" {
			fnSeg = n
		}
	}
	if fnSeg == nil {
		t.Fatalf("no function segment in %+v", tr.Segments)
	}
	if got, want := tree(fnSeg), "relay[Initialization[] Invocation[by-hand[]] Overhead[]]"; got != want {
		t.Errorf("function tree %s, want %s", got, want)
	}
	if got := findAll(tr, "by-hand")[0]; got.Annotations["via"] != "udp" || got.Orphan {
		t.Errorf("the function's subsegment %+v", got)
	}
	if sums, _ := svc.Traces(context.Background(), other, time.Unix(0, 0), farFuture(), ""); len(sums) != 0 {
		t.Errorf("another account sees %d traces", len(sums))
	}
}

func findAll(t *Trace, name string) []*Node {
	var out []*Node
	var walk func(ns []*Node)
	walk = func(ns []*Node) {
		for _, n := range ns {
			if n.Name == name {
				out = append(out, n)
			}
			walk(n.Children)
		}
	}
	walk(t.Segments)
	return out
}
