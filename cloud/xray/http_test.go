package xray

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"lambdalab/cloud"
)

// call sends one API request as account (the endpoint's job, done here).
func call(t *testing.T, h http.Handler, account, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", path, bytes.NewReader(b))
	if account != "" {
		r = r.WithContext(cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: account}))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func TestAPI(t *testing.T) {
	s, db := newService(t, Config{})
	a, b := newAccount(t, db), newAccount(t, db)
	h := s.Handler()
	lt := LambdaTrace{TraceID: fxTrace, ServiceID: "1111111111111111", FunctionID: "2222222222222222", InvocationID: fxParent}
	inv := LambdaInvocation{AccountID: a, Function: "resize", Trace: lt, RequestID: "r",
		Start: seconds(1717000000), End: seconds(1717000003), InvokeStart: seconds(1717000000.1), InvokeEnd: seconds(1717000002.9)}
	docs := []string{}
	for _, d := range LambdaSegments(inv) {
		docs = append(docs, string(d))
	}
	docs = append(docs, strings.TrimPrefix(pythonDatagrams[1], header), `{"id":"bad"}`)
	code, out := call(t, h, a, "/TraceSegments", map[string]any{"TraceSegmentDocuments": docs})
	un, _ := out["UnprocessedTraceSegments"].([]any)
	if code != 200 || len(un) != 1 || un[0].(map[string]any)["Id"] != "bad" || un[0].(map[string]any)["ErrorCode"] != "InvalidSegment" {
		t.Fatalf("PutTraceSegments = %d %v", code, out)
	}
	flush(t, s)

	code, out = call(t, h, a, "/TraceSummaries", map[string]any{"StartTime": 1716999000, "EndTime": 1717001000.5, "FilterExpression": `service(id(name: "resize"))`})
	sums, _ := out["TraceSummaries"].([]any)
	if code != 200 || len(sums) != 1 {
		t.Fatalf("GetTraceSummaries = %d %v", code, out)
	}
	sum := sums[0].(map[string]any)
	ann := sum["Annotations"].(map[string]any)["bucket"].([]any)[0].(map[string]any)["AnnotationValue"].(map[string]any)
	if sum["Id"] != fxTrace || sum["Duration"] != 3.0 || sum["ResponseTime"] != 3.0 || sum["HasFault"] != false ||
		sum["EntryPoint"].(map[string]any)["Type"] != "AWS::Lambda" || ann["StringValue"] != "in" || sum["Http"].(map[string]any)["HttpStatus"] != 200.0 {
		t.Errorf("summary %v", sum)
	}
	if _, out := call(t, h, a, "/TraceSummaries", map[string]any{"StartTime": 1716999000, "EndTime": 1717001000, "FilterExpression": `service("other")`}); len(out["TraceSummaries"].([]any)) != 0 {
		t.Errorf("filter service(\"other\") matched %v", out)
	}
	if code, out := call(t, h, a, "/TraceSummaries", map[string]any{"StartTime": 1, "EndTime": 2, "FilterExpression": `service(`}); code != 400 {
		t.Errorf("bad filter: %d %v", code, out)
	}
	if _, out := call(t, h, b, "/TraceSummaries", map[string]any{"StartTime": 1716999000, "EndTime": 1717001000}); len(out["TraceSummaries"].([]any)) != 0 {
		t.Errorf("account B sees %v", out)
	}

	code, out = call(t, h, a, "/Traces", map[string]any{"TraceIds": []string{fxTrace, "1-00000000-000000000000000000000000"}})
	traces, _ := out["Traces"].([]any)
	if code != 200 || len(traces) != 1 || len(out["UnprocessedTraceIds"].([]any)) != 1 {
		t.Fatalf("BatchGetTraces = %d %v", code, out)
	}
	tr := traces[0].(map[string]any)
	segs := tr["Segments"].([]any)
	if tr["Id"] != fxTrace || len(segs) != 2 {
		t.Fatalf("trace %v", tr)
	}
	var fnDoc map[string]any
	for _, sg := range segs {
		var d map[string]any
		if err := json.Unmarshal([]byte(sg.(map[string]any)["Document"].(string)), &d); err != nil {
			t.Fatalf("Document is not a JSON string: %v", err)
		}
		if d["origin"] == "AWS::Lambda::Function" {
			fnDoc = d
		}
	}
	// The function's own subsegment, sent on its own, is embedded under
	// Invocation in the document.
	invDoc := fnDoc["subsegments"].([]any)[0].(map[string]any)
	if invDoc["name"] != "Invocation" || invDoc["subsegments"].([]any)[0].(map[string]any)["name"] != "transform" {
		t.Errorf("function document %v", fnDoc)
	}
	if _, out := call(t, h, b, "/Traces", map[string]any{"TraceIds": []string{fxTrace}}); len(out["Traces"].([]any)) != 0 {
		t.Errorf("account B read A's trace: %v", out)
	}

	if code, _ := call(t, h, "", "/TraceSummaries", map[string]any{}); code != 403 {
		t.Errorf("no principal: %d", code)
	}
	if code, out := call(t, h, a, "/SamplingRules", map[string]any{}); code != 400 || !strings.Contains(out["Message"].(string), "does not implement") {
		t.Errorf("unknown operation: %d %v", code, out)
	}
}
