package lambda

import (
	"context"
	"strings"
	"testing"
	"time"

	"lambdalab/cloud/xray"
	"lambdalab/sandbox"
	"lambdalab/store/storetest"
)

// An actively traced invocation carries Lambda's trace header, gets the
// XRAY line after REPORT, and its trace holds Lambda's two segments with the
// function's own subsegment (sent with plain UDP, as an SDK would) under
// the Invocation subsegment.
func TestActiveTracing(t *testing.T) {
	ctx := context.Background()
	// The collector gets its own handle on the lab's database.
	target := storetest.Target(t, "lambdalab.db")
	xr := xray.New(xray.Config{DB: openTestDB(t, target)})
	t.Cleanup(func() { xr.Close(context.Background()) })
	l := openLab(t, target, nil, "", Config{XRay: xr})
	l.start(t, dockerBackend(t), sandbox.Config{XRay: xr.InstanceSink})
	l.pyFunction(t, "traced", `
import os, json, socket, time, random
def handler(event, context):
    h = dict(p.split("=", 1) for p in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    now = time.time()
    doc = {"type": "subsegment", "id": "%016x" % random.getrandbits(64), "trace_id": h["Root"],
           "parent_id": h["Parent"], "name": "work", "start_time": now, "end_time": now + 0.001,
           "annotations": {"lab": "xray"}}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'{"format":"json","version":1}\n' + json.dumps(doc).encode(), ("127.0.0.1", 2000))
    return os.environ["_X_AMZN_TRACE_ID"]
`)
	if _, err := l.svc.UpdateFunctionConfiguration(ctx, l.acct, "traced", ConfigInput{TracingConfig: &TracingConfig{Mode: "Active"}}); err != nil {
		t.Fatal(err)
	}
	// The caller's explicit decision is honoured, whatever the sampler says.
	out, err := l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "traced", TraceID: "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"})
	if err != nil || out.FunctionError != "" {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	header := strings.Trim(string(out.Payload), `"`)
	h := xray.ParseTraceHeader(header)
	if h.Root != "1-67891233-abcdef012345678912345678" || h.Sampled != "1" || strings.HasSuffix(header, ";") || strings.Count(header, ";") != 2 {
		t.Fatalf("function saw trace header %q; want the caller's root, a Parent of Lambda's and Sampled=1, nothing more", header)
	}
	if !strings.Contains(string(out.Log), "XRAY TraceId: "+h.Root+"\tSegmentId: ") {
		t.Errorf("log has no XRAY line after REPORT:\n%s", out.Log)
	}
	var tr *xray.Trace
	waitFor(t, 10*time.Second, "the trace with the function's subsegment", func() bool {
		xr.Flush(ctx)
		tr, err = xr.Trace(ctx, l.acct, h.Root)
		return err == nil && findNode(tr.Segments, "work") != nil
	})
	var origins []string
	for _, s := range tr.Segments {
		origins = append(origins, s.Origin)
	}
	if !hasNodeOrigin(tr.Segments, "AWS::Lambda") || findNode(tr.Segments, "Invocation") == nil {
		t.Fatalf("trace segments have origins %v; want AWS::Lambda with AWS::Lambda::Function and an Invocation subsegment", origins)
	}
	inv := findNode(tr.Segments, "Invocation")
	if work := findNode(inv.Children, "work"); work == nil || work.Orphan {
		t.Errorf("the function's subsegment does not hang under Invocation (Invocation's children: %d)", len(inv.Children))
	}

	// PassThrough with no caller header: an unsampled header, no segments.
	if _, err := l.svc.UpdateFunctionConfiguration(ctx, l.acct, "traced", ConfigInput{TracingConfig: &TracingConfig{Mode: "PassThrough"}}); err != nil {
		t.Fatal(err)
	}
	out, err = l.svc.Invoke(ctx, l.acct, InvokeInput{FunctionName: "traced"})
	if err != nil {
		t.Fatal(err)
	}
	if h := xray.ParseTraceHeader(strings.Trim(string(out.Payload), `"`)); h.Sampled != "0" {
		t.Errorf("PassThrough without a caller header gave Sampled=%q, want 0", h.Sampled)
	}
	if strings.Contains(string(out.Log), "XRAY TraceId") {
		t.Errorf("PassThrough invocation has an XRAY line:\n%s", out.Log)
	}
}

func findNode(nodes []*xray.Node, name string) *xray.Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
		if f := findNode(n.Children, name); f != nil {
			return f
		}
	}
	return nil
}

func hasNodeOrigin(nodes []*xray.Node, origin string) bool {
	for _, n := range nodes {
		if n.Origin == origin || hasNodeOrigin(n.Children, origin) {
			return true
		}
	}
	return false
}

// Each account samples on its own: the first request of a second is traced
// in every account, so one learner's traffic (or a grading run) cannot take
// another's.
func TestSamplingPerAccount(t *testing.T) {
	s := &Service{xray: &xray.Service{}}
	for i, acct := range []string{"111111111111", "222222222222"} {
		if tr := s.traceFor(acct, "Active", ""); tr.trace == nil {
			t.Errorf("account %d: its first request of the second was not sampled", i+1)
		}
	}
	sampled := 0
	for range 200 {
		if s.traceFor("111111111111", "Active", "").trace != nil {
			sampled++
		}
	}
	if sampled > 40 { // 5 % of 200 is 10; a second boundary adds one
		t.Errorf("%d of 200 later requests of one account were sampled; want about 5 %%", sampled)
	}
}
