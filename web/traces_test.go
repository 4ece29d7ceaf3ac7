package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/cloud/xray"
)

// TestTraces: an actively traced function's invocations are listed on the
// Traces tab; one opens as a waterfall with its segments and the failed
// one's exception; filters narrow the list and a bad one is explained in
// place; another learner gets a 404 for the trace and sees none.
func TestTraces(t *testing.T) {
	ls := newLabSite(t, nil)
	a, ua := ls.student("traces@example.com")
	ctx := context.Background()
	code := "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('order 42 has no lines')\n    return {'ok': True}\n"
	deployPython(t, ls, ua.AccountID, "order-report", code, nil, "Active")
	// Lambda samples the first request of each second and 5 % of the rest;
	// both invokes carry a caller's sampled header so that both are traced
	// however fast they follow each other.
	sampled := func() string { return xray.NewTraceHeader(xray.NewTraceID(time.Now()), "", true) }
	if _, err := ls.lambda.Invoke(ctx, ua.AccountID, lambda.InvokeInput{FunctionName: "order-report", Payload: []byte(`{}`), TraceID: sampled()}); err != nil {
		t.Fatal(err)
	}
	out, err := ls.lambda.Invoke(ctx, ua.AccountID, lambda.InvokeInput{FunctionName: "order-report", Payload: []byte(`{"fail": true}`), TraceID: sampled()})
	if err != nil || out.FunctionError == "" {
		t.Fatalf("failing invoke: %v, %+v", err, out)
	}
	var list []xray.TraceSummary
	eventually(t, 30*time.Second, func() string {
		list, err = ls.xray.Traces(ctx, ua.AccountID, time.Now().Add(-time.Hour), time.Now(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) < 2 || list[0].IsPartial || list[1].IsPartial {
			return "the two traces are not complete yet"
		}
		return ""
	})
	var failed, fine string
	for _, s := range list {
		if s.HasFault {
			failed = s.ID
		} else {
			fine = s.ID
		}
	}
	if failed == "" || fine == "" {
		t.Fatalf("want one faulted and one fine trace, got %+v", list)
	}

	r := a.get("/labs/xray-layer?tab=traces")
	wantStatus(t, "trace list", r, http.StatusOK)
	wantContains(t, "trace list", r.body, `data-trace="`+failed+`" data-status="fault"`, `data-trace="`+fine+`" data-status="ok"`,
		"/labs/xray-layer/traces/"+failed, "order-report")
	if n := strings.Count(r.body, `data-testid="traces-row"`); n != len(list) {
		t.Errorf("the list shows %d traces, the service has %d", n, len(list))
	}

	// Filters: fault alone, a service by name, and a malformed one.
	r = a.get("/labs/xray-layer?tab=traces&filter=" + url.QueryEscape("fault"))
	wantContains(t, "fault filter", r.body, `data-trace="`+failed+`"`)
	wantNotContains(t, "fault filter", r.body, `data-trace="`+fine+`"`)
	r = a.get("/labs/xray-layer?tab=traces&filter=" + url.QueryEscape(`service("no-such-service")`))
	wantNotContains(t, "service filter", r.body, `data-testid="traces-row"`)
	wantContains(t, "service filter", r.body, "match the filter")
	r = a.get("/labs/xray-layer?tab=traces&filter=" + url.QueryEscape("duration >"))
	wantStatus(t, "bad filter", r, http.StatusOK)
	wantContains(t, "bad filter", r.body, `data-testid="traces-filter-error"`, "Invalid filter expression", `value="duration &gt;"`)

	// One trace: the waterfall and its segments' details.
	tr, err := ls.xray.Trace(ctx, ua.AccountID, failed)
	if err != nil {
		t.Fatal(err)
	}
	r = a.get("/labs/xray-layer/traces/" + failed)
	wantStatus(t, "trace", r, http.StatusOK)
	wantContains(t, "trace", r.body, `data-testid="traces-waterfall"`, "<svg", `data-testid="traces-status">fault`,
		`data-testid="traces-exception"`, "order 42 has no lines")
	r2 := a.get("/labs/xray-layer?tab=traces&trace=" + failed)
	wantStatus(t, "trace on the lab page", r2, http.StatusOK)
	wantContains(t, "trace on the lab page", r2.body, `data-testid="traces-waterfall"`, "order 42 has no lines")
	nodes := 0
	var count func(ns []*xray.Node)
	count = func(ns []*xray.Node) {
		for _, n := range ns {
			nodes++
			wantContains(t, "trace", r.body, `data-name="`+n.Name+`"`)
			count(n.Children)
		}
	}
	count(tr.Segments)
	if got := strings.Count(r.body, `data-testid="traces-entity"`); got != nodes || nodes < 2 {
		t.Errorf("the trace shows %d segments and subsegments, the service has %d", got, nodes)
	}

	// Not the learner's: 404 for an id of another account, and a made-up one.
	b, _ := ls.student("traces-other@example.com")
	r = b.get("/labs/xray-layer/traces/" + failed)
	wantStatus(t, "another learner's trace", r, http.StatusNotFound)
	wantNotContains(t, "another learner's trace", r.body, "order 42 has no lines", `data-testid="traces-waterfall"`)
	wantStatus(t, "another learner's trace on the lab page", b.get("/labs/xray-layer?tab=traces&trace="+failed), http.StatusNotFound)
	r = b.get("/labs/xray-layer?tab=traces&window=1d")
	wantNotContains(t, "another learner's list", r.body, failed, fine)
	wantStatus(t, "a made-up trace", a.get("/labs/xray-layer/traces/1-00000000-000000000000000000000000"), http.StatusNotFound)
}
