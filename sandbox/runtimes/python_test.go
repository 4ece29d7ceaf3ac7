package runtimes

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lambdalab/sandbox/runtimeapi"
)

func python(handler string, files map[string]string, env ...string) function {
	return function{runtime: Python313, handler: handler, files: files, env: env}
}

const pyContextHandler = `
import os, sys, time

def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    cc = context.client_context
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_is_str": isinstance(context.memory_limit_in_mb, str),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity_id": context.identity.cognito_identity_id,
        "identity_pool": context.identity.cognito_identity_pool_id,
        "client_custom": cc.custom if cc else None,
        "client_installation": cc.client.installation_id if cc and cc.client else None,
        "client_context_is_none": cc is None,
        "remaining": [first, second],
        "has_log": callable(context.log),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "sys_path": sys.path[:3],
        "version": "%d.%d.%d" % sys.version_info[:3],
    }
`

func TestPythonResultAndContext(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": pyContextHandler}))
	h.ready()

	var got struct {
		Event               map[string]any `json:"event"`
		AWSRequestID        string         `json:"aws_request_id"`
		InvokedFunctionARN  string         `json:"invoked_function_arn"`
		FunctionName        string         `json:"function_name"`
		FunctionVersion     string         `json:"function_version"`
		MemoryLimitInMB     string         `json:"memory_limit_in_mb"`
		MemoryIsStr         bool           `json:"memory_is_str"`
		LogGroupName        string         `json:"log_group_name"`
		LogStreamName       string         `json:"log_stream_name"`
		IdentityID          *string        `json:"identity_id"`
		IdentityPool        *string        `json:"identity_pool"`
		ClientCustom        map[string]any `json:"client_custom"`
		ClientInstallation  *string        `json:"client_installation"`
		ClientContextIsNone bool           `json:"client_context_is_none"`
		Remaining           []int64        `json:"remaining"`
		HasLog              bool           `json:"has_log"`
		ExecutionEnv        string         `json:"execution_env"`
		Trace               *string        `json:"trace"`
		SysPath             []string       `json:"sys_path"`
		Version             string         `json:"version"`
	}
	var id string
	h.result(`{"order": 42, "items": ["a", "b"]}`, &got, func(inv *runtimeapi.Invocation) {
		id = inv.RequestID
		inv.CognitoIdentity = `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`
		inv.ClientContext = `{"client":{"installation_id":"inst-1","app_title":"shop"},"custom":{"tier":"gold"},"env":{"locale":"en"}}`
	})

	t.Logf("client ran on Python %s", got.Version)
	if got.Event["order"] != float64(42) {
		t.Errorf("event = %v, want the payload back", got.Event)
	}
	checks := []struct{ name, got, want string }{
		{"aws_request_id", got.AWSRequestID, id},
		{"invoked_function_arn", got.InvokedFunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:orders:live"},
		{"function_name", got.FunctionName, "orders"},
		{"function_version", got.FunctionVersion, "$LATEST"},
		{"memory_limit_in_mb", got.MemoryLimitInMB, "256"},
		{"log_group_name", got.LogGroupName, "/aws/lambda/orders"},
		{"log_stream_name", got.LogStreamName, "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef"},
		{"AWS_EXECUTION_ENV", got.ExecutionEnv, "AWS_Lambda_python3.13"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("context %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !got.MemoryIsStr {
		t.Error("memory_limit_in_mb is not a str; Lambda's is")
	}
	if got.IdentityID == nil || *got.IdentityID != "us-east-1:abc" || got.IdentityPool == nil || *got.IdentityPool != "us-east-1:pool" {
		t.Errorf("identity = %v/%v, want the Cognito header's ids", got.IdentityID, got.IdentityPool)
	}
	if got.ClientCustom["tier"] != "gold" || got.ClientInstallation == nil || *got.ClientInstallation != "inst-1" {
		t.Errorf("client_context custom=%v installation=%v, want the header's values", got.ClientCustom, got.ClientInstallation)
	}
	if len(got.Remaining) != 2 || got.Remaining[0] <= 0 || got.Remaining[0] > 20000 || got.Remaining[1] >= got.Remaining[0] {
		t.Errorf("remaining time %v: want within the 20 s deadline and decreasing across a 50 ms sleep", got.Remaining)
	}
	if !got.HasLog {
		t.Error("context.log is missing")
	}
	if got.Trace != nil {
		t.Errorf("_X_AMZN_TRACE_ID = %q with no trace header, want unset", *got.Trace)
	}
	if len(got.SysPath) != 3 || got.SysPath[0] != h.task || !strings.HasPrefix(got.SysPath[1], "/opt/python/lib/python3.") || got.SysPath[2] != "/opt/python" {
		t.Errorf("sys.path starts %q, want [task root, /opt/python/lib/pythonX.Y/site-packages, /opt/python]", got.SysPath)
	}

	// Without the optional headers: no client context, identity present but empty.
	h.result(`{}`, &got)
	if !got.ClientContextIsNone || got.IdentityID != nil {
		t.Errorf("without headers: client_context None=%v identity id=%v, want None and None", got.ClientContextIsNone, got.IdentityID)
	}
}

func TestPythonWarmReuseAndTraceID(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": `
import os
count = 0

def handler(event, context):
    global count
    count += 1
    return {"count": count, "trace": os.environ.get("_X_AMZN_TRACE_ID")}
`}))
	h.ready()

	type answer struct {
		Count int     `json:"count"`
		Trace *string `json:"trace"`
	}
	const trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	var a answer
	h.result(`{}`, &a, func(inv *runtimeapi.Invocation) { inv.TraceID = trace })
	if a.Count != 1 || a.Trace == nil || *a.Trace != trace {
		t.Fatalf("first invoke = count %d trace %v, want 1 and %q", a.Count, a.Trace, trace)
	}
	h.result(`{}`, &a)
	if a.Count != 2 {
		t.Errorf("second invoke count = %d, want 2: module state must survive a warm invoke", a.Count)
	}
	if a.Trace != nil {
		t.Errorf("second invoke without a trace header saw _X_AMZN_TRACE_ID=%q, want it removed", *a.Trace)
	}
	h.result(`{}`, &a)
	if a.Count != 3 {
		t.Errorf("third invoke count = %d, want 3", a.Count)
	}
}

func TestPythonHandlerException(t *testing.T) {
	h := start(t, python("pkg/app.handler", map[string]string{
		"pkg/__init__.py": "",
		"pkg/app.py": `
def check(event):
    raise ValueError("order " + str(event["id"]) + " is not valid")

def handler(event, context):
    check(event)
`}))
	h.ready()
	var id string
	out := h.invoke(`{"id": 7}`, func(inv *runtimeapi.Invocation) { id = inv.RequestID })
	if out.Status != runtimeapi.StatusError {
		t.Fatalf("status %s (%s), want error", out.Status, out.Payload)
	}
	if out.ErrorType != "" {
		t.Errorf("Lambda-Runtime-Function-Error-Type = %q; Lambda's Python client sends none on invocation errors", out.ErrorType)
	}
	doc := decodeError(t, out.Payload)
	if doc.ErrorType != "ValueError" || doc.ErrorMessage != "order 7 is not valid" {
		t.Errorf("error = %s: %q, want ValueError: %q", doc.ErrorType, doc.ErrorMessage, "order 7 is not valid")
	}
	if doc.RequestID == nil || *doc.RequestID != id {
		t.Errorf("requestId = %v, want %q", doc.RequestID, id)
	}
	if doc.StackTrace == nil || len(*doc.StackTrace) != 2 {
		t.Fatalf("stackTrace = %v, want the two frames of the learner's code", doc.StackTrace)
	}
	st := *doc.StackTrace
	for _, frame := range st {
		if strings.Contains(frame, "bootstrap.py") {
			t.Errorf("stack trace shows the runtime client's frame %q", frame)
		}
	}
	wantFirst := regexp.MustCompile(`^  File ".*/pkg/app\.py", line 6, in handler\n    check\(event\)\n$`)
	if !wantFirst.MatchString(st[0]) {
		t.Errorf("first frame = %q, want Lambda's format for the handler's line", st[0])
	}
	if !strings.Contains(st[1], `in check`) || !strings.Contains(st[1], `raise ValueError(`) {
		t.Errorf("second frame = %q, want the raise in check", st[1])
	}

	logged := h.newOutput()
	wantLog := regexp.MustCompile(`\[ERROR\] ValueError: order 7 is not valid\rTraceback \(most recent call last\):\r\x{a0}\x{a0}File ".*/pkg/app\.py", line 6, in handler\r\x{a0}\x{a0}\x{a0}\x{a0}check\(event\)\r`)
	if !wantLog.MatchString(logged) {
		t.Errorf("log = %q, want Lambda's one-event [ERROR] line", logged)
	}

	// The instance stays usable after a handler error.
	out = h.invoke(`{"id": 8}`)
	if out.Status != runtimeapi.StatusError || !strings.Contains(string(out.Payload), "order 8") {
		t.Errorf("second invoke = %s %s, want the same handler error for order 8", out.Status, out.Payload)
	}
}

func TestPythonMarshalling(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": `
import decimal

def handler(event, context):
    kind = event if isinstance(event, str) else event.get("kind")
    if kind == "set":
        return {1, 2}
    if kind == "bytes":
        return b"raw"
    if kind == "decimal":
        return {"price": decimal.Decimal("12.5"), "qty": decimal.Decimal("3")}
    if kind == "none":
        return None
    return "text \u00e9"
`}))
	h.ready()

	out := h.invoke(`{"kind": "set"}`)
	doc := decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Runtime.MarshalError" ||
		doc.ErrorMessage != "Unable to marshal response: Object of type set is not JSON serializable" {
		t.Errorf("set result = %s %s, want Runtime.MarshalError with Lambda's message", out.Status, out.Payload)
	}
	if doc.StackTrace == nil || len(*doc.StackTrace) != 0 {
		t.Errorf("marshal error stackTrace = %v, want []", doc.StackTrace)
	}
	if logged := h.newOutput(); !strings.Contains(logged, "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type set is not JSON serializable\rTraceback (most recent call last):\n") {
		t.Errorf("log = %q, want the [ERROR] line of the marshal error", logged)
	}

	out = h.invoke(`not json`)
	doc = decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Runtime.UnmarshalError" ||
		doc.ErrorMessage != "Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)" {
		t.Errorf("non-JSON event = %s %s, want Runtime.UnmarshalError", out.Status, out.Payload)
	}

	out = h.invoke(`{}`, func(inv *runtimeapi.Invocation) { inv.ClientContext = `{"custom": ` })
	doc = decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Runtime.LambdaContextUnmarshalError" ||
		!strings.HasPrefix(doc.ErrorMessage, "Unable to parse Client Context JSON: ") {
		t.Errorf("malformed client context = %s %s, want Runtime.LambdaContextUnmarshalError", out.Status, out.Payload)
	}

	out = h.invoke(`{"kind": "bytes"}`)
	if out.Status != runtimeapi.StatusSuccess || string(out.Payload) != "raw" || out.ContentType != "application/unknown" {
		t.Errorf("bytes result = %s %q %q, want raw bytes as application/unknown", out.Status, out.Payload, out.ContentType)
	}

	cases := []struct{ event, want string }{
		{`{"kind": "decimal"}`, `{"price": 12.5, "qty": 3}`},
		{`{"kind": "none"}`, `null`},
		{`"other"`, `"text \u00e9"`},
	}
	for _, c := range cases {
		out = h.invoke(c.event)
		if out.Status != runtimeapi.StatusSuccess || string(out.Payload) != c.want || out.ContentType != "application/json" {
			t.Errorf("event %s: result %s %q %q, want %q as application/json", c.event, out.Status, out.Payload, out.ContentType, c.want)
		}
	}
}

func TestPythonLogging(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": `
import logging, sys
logger = logging.getLogger()
logger.info("not shown: the root level is WARNING until the function lowers it")
logger.setLevel(logging.INFO)
logger.info("module loaded")

def handler(event, context):
    print("plain print")
    logger.info("processing %s", event["id"])
    logger.warning("careful")
    context.log("from context.log\n")
    sys.stderr.write("to stderr\n")
    return "ok"
`}))
	h.ready()
	initLog := h.newOutput()
	if !regexp.MustCompile(`^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t\tmodule loaded\n$`).MatchString(initLog) {
		t.Errorf("init output = %q, want one INFO record with an empty request id", initLog)
	}

	var id string
	var res string
	h.result(`{"id": "o-1"}`, &res, func(inv *runtimeapi.Invocation) { id = inv.RequestID })
	logged := h.newOutput()
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^plain print$`),
		regexp.MustCompile(`(?m)^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + regexp.QuoteMeta(id) + `\tprocessing o-1$`),
		regexp.MustCompile(`(?m)^\[WARNING\]\t\S+Z\t` + regexp.QuoteMeta(id) + `\tcareful$`),
		regexp.MustCompile(`(?m)^from context.log$`),
		regexp.MustCompile(`(?m)^to stderr$`),
	}
	for _, re := range want {
		if !re.MatchString(logged) {
			t.Errorf("invocation output %q does not match %s", logged, re)
		}
	}
}

func TestPythonInitErrors(t *testing.T) {
	tests := []struct {
		name      string
		handler   string
		files     map[string]string
		wantType  string
		wantMsg   string // exact, or a prefix when prefix is set
		prefix    bool
		wantTrace string // a substring of the first stack entry, if any
	}{
		{
			name: "no dot", handler: "app", files: map[string]string{"app.py": "def app(e, c): pass\n"},
			wantType: "Runtime.MalformedHandlerName", wantMsg: "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
		},
		{
			name: "missing module", handler: "missing.handler", files: map[string]string{"app.py": ""},
			wantType: "Runtime.ImportModuleError", wantMsg: "Unable to import module 'missing': No module named 'missing'",
		},
		{
			name: "missing dependency", handler: "app.handler", files: map[string]string{"app.py": "import requests_oauthlib_x\n"},
			wantType: "Runtime.ImportModuleError", wantMsg: "Unable to import module 'app': No module named 'requests_oauthlib_x'",
		},
		{
			name: "syntax error", handler: "app.handler", files: map[string]string{"app.py": "def handler(event, context)\n    return 1\n"},
			wantType: "Runtime.UserCodeSyntaxError", wantMsg: "Syntax error in module 'app': ", prefix: true, wantTrace: `app.py" Line 1`,
		},
		{
			name: "handler missing", handler: "app.nope", files: map[string]string{"app.py": "def handler(e, c): pass\n"},
			wantType: "Runtime.HandlerNotFound", wantMsg: "Handler 'nope' missing on module 'app'",
		},
		{
			name: "built-in module", handler: "sys.handler", files: map[string]string{},
			wantType: "Runtime.BuiltInModuleConflict", wantMsg: "Cannot use built-in module sys as a handler module",
		},
		{
			name: "module raises", handler: "app.handler", files: map[string]string{"app.py": "raise RuntimeError('TABLE_NAME is not set')\n"},
			wantType: "RuntimeError", wantMsg: "TABLE_NAME is not set", wantTrace: `app.py", line 1, in <module>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, python(tt.handler, tt.files))
			res := h.init()
			if res.Status != runtimeapi.StatusError {
				t.Fatalf("init status %s, want error; output:\n%s", res.Status, h.allOutput())
			}
			if res.ErrorType != tt.wantType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", res.ErrorType, tt.wantType)
			}
			doc := decodeError(t, res.ErrorBody)
			if doc.ErrorType != tt.wantType {
				t.Errorf("errorType = %q, want %q", doc.ErrorType, tt.wantType)
			}
			if tt.prefix && !strings.HasPrefix(doc.ErrorMessage, tt.wantMsg) || !tt.prefix && doc.ErrorMessage != tt.wantMsg {
				t.Errorf("errorMessage = %q, want %q", doc.ErrorMessage, tt.wantMsg)
			}
			if doc.RequestID == nil || *doc.RequestID != "" {
				t.Errorf("requestId = %v, want \"\" for an init error", doc.RequestID)
			}
			if doc.StackTrace == nil {
				t.Fatal("stackTrace missing, want a list")
			}
			if tt.wantTrace != "" {
				if len(*doc.StackTrace) == 0 || !strings.Contains(strings.Join(*doc.StackTrace, ""), tt.wantTrace) {
					t.Errorf("stackTrace = %q, want it to contain %q", *doc.StackTrace, tt.wantTrace)
				}
			}
			for _, frame := range *doc.StackTrace {
				if strings.Contains(frame, "bootstrap.py") {
					t.Errorf("stack trace shows the runtime client's frame %q", frame)
				}
			}
			if logged := h.allOutput(); !strings.HasPrefix(logged, "[ERROR] "+tt.wantType+": ") {
				t.Errorf("output = %q, want it to start with the [ERROR] line", logged)
			}
			if status := h.exitStatus(); status != "exit status 1" {
				t.Errorf("runtime exit = %q, want exit status 1", status)
			}
		})
	}
}

func TestPythonExitInHandler(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": "import sys\ndef handler(e, c):\n    sys.exit(3)\n"}))
	h.ready()
	out := h.invoke(`{}`)
	if out.Status != runtimeapi.StatusExit || out.Exit != "exit status 3" {
		t.Errorf("sys.exit(3) in the handler = %s %q, want exit with \"exit status 3\"", out.Status, out.Exit)
	}
}

func TestPythonRejectsBadAPIAddress(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": "def handler(e, c): pass\n"}, "AWS_LAMBDA_RUNTIME_API=nonsense"))
	if status := h.exitStatus(); status == "exit status 0" {
		t.Errorf("exit = %q with a malformed AWS_LAMBDA_RUNTIME_API, want a failure", status)
	}
	if out := h.allOutput(); !strings.Contains(out, "AWS_LAMBDA_RUNTIME_API") {
		t.Errorf("output %q does not name the bad variable", out)
	}
}

func TestPythonExecWrapper(t *testing.T) {
	// AWS_LAMBDA_EXEC_WRAPPER names a script (in the code or a layer) that
	// the start script runs the interpreter through. The task root is the
	// working directory, so a relative path reaches the code's wrapper.
	h := start(t, python("app.handler", map[string]string{
		"wrapper.sh": "#!/bin/sh\nexport WRAPPED=yes\nexec \"$@\"\n",
		"app.py":     "import os\ndef handler(e, c):\n    return os.environ.get('WRAPPED')\n",
	}, "AWS_LAMBDA_EXEC_WRAPPER=./wrapper.sh"))
	h.ready()
	var got string
	h.result(`{}`, &got)
	if got != "yes" {
		t.Errorf("handler saw WRAPPED=%q, want the wrapper's \"yes\"", got)
	}

	missing := start(t, python("app.handler", map[string]string{"app.py": "def handler(e, c): pass\n"}, "AWS_LAMBDA_EXEC_WRAPPER=/nonexistent/wrapper"))
	if status := missing.exitStatus(); status != "exit status 127" {
		t.Errorf("missing wrapper: runtime exit = %q, want exit status 127 as on Lambda", status)
	}
}

func TestPythonLogLevelFromEnvironment(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": `
import logging
def handler(event, context):
    logging.debug("debug line")
    logging.info("info line")
    return logging.getLogger().level
`}, "AWS_LAMBDA_LOG_LEVEL=info"))
	h.ready()
	var level int
	h.result(`{}`, &level)
	logged := h.newOutput()
	if level != 20 || !strings.Contains(logged, "\tinfo line\n") || strings.Contains(logged, "debug line") {
		t.Errorf("with AWS_LAMBDA_LOG_LEVEL=info: root level %d, output %q; want 20 (INFO) and only the info line", level, logged)
	}
}

// TestPythonRuntimeAPIWire plays the Runtime API by hand, byte by byte, to
// hold the Python client's own HTTP/1.1 code to what an HTTP server may
// send: header names in any case, a chunked body with a chunk extension, a
// large body arriving in pieces, a kept-alive connection the server drops
// between requests, and "Connection: close".
func TestPythonRuntimeAPIWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := start(t, python("app.handler", map[string]string{"app.py": `
import os

def handler(event, context):
    return {
        "size": len(event.get("blob", "")),
        "id": event.get("id"),
        "request_id": context.aws_request_id,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 20000,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
`}, "AWS_LAMBDA_RUNTIME_API="+l.Addr().String()))

	type answer struct {
		Size        int     `json:"size"`
		ID          *int    `json:"id"`
		RequestID   string  `json:"request_id"`
		RemainingOK bool    `json:"remaining_ok"`
		Trace       *string `json:"trace"`
	}
	accept := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		type result struct {
			c   net.Conn
			err error
		}
		got := make(chan result, 1)
		go func() { c, err := l.Accept(); got <- result{c, err} }()
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatal(r.err)
			}
			r.c.SetDeadline(time.Now().Add(30 * time.Second))
			t.Cleanup(func() { r.c.Close() })
			return r.c, bufio.NewReader(r.c)
		case <-time.After(30 * time.Second):
			t.Fatalf("the client did not connect; output:\n%s", h.allOutput())
			return nil, nil
		}
	}
	read := func(br *bufio.Reader, method, path string) []byte {
		t.Helper()
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("read the client's request: %v; output:\n%s", err, h.allOutput())
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("read the body of %s %s: %v", req.Method, req.URL.Path, err)
		}
		if req.Method != method || req.URL.Path != path || req.Host != l.Addr().String() || req.ProtoMajor != 1 || req.ProtoMinor != 1 {
			t.Fatalf("request %s %s %s Host %q, want %s %s HTTP/1.1 with the API's address as Host", req.Method, req.URL.Path, req.Proto, req.Host, method, path)
		}
		return body
	}
	// write sends s in pieces, so the client has to put its reads together.
	write := func(c net.Conn, s string, pieces int) {
		t.Helper()
		step := (len(s) + pieces - 1) / pieces
		for i := 0; i < len(s); i += step {
			if _, err := c.Write([]byte(s[i:min(i+step, len(s))])); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	decode := func(body []byte) answer {
		t.Helper()
		var a answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("result %q: %v", body, err)
		}
		return a
	}
	const next = "/2018-06-01/runtime/invocation/next"
	deadline := strconv.FormatInt(time.Now().Add(20*time.Second).UnixMilli(), 10)

	// 1: a chunked event, headers in lower and upper case.
	c, br := accept()
	read(br, "GET", next)
	write(c, "HTTP/1.1 200 OK\r\n"+
		"content-type: application/json\r\n"+
		"lambda-runtime-aws-request-id: wire-1\r\n"+
		"LAMBDA-RUNTIME-DEADLINE-MS: "+deadline+"\r\n"+
		"Lambda-Runtime-Trace-Id: Root=1-wire\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n"+
		"4;note=first\r\n{\"id\r\n"+
		"5\r\n\": 7}\r\n"+
		"0\r\n\r\n", 5)
	a := decode(read(br, "POST", "/2018-06-01/runtime/invocation/wire-1/response"))
	if a.ID == nil || *a.ID != 7 || a.RequestID != "wire-1" || !a.RemainingOK || a.Trace == nil || *a.Trace != "Root=1-wire" {
		t.Errorf("first invocation saw %+v, want id 7, request wire-1, a deadline ahead and trace Root=1-wire", a)
	}
	// Accept the result, then drop the kept-alive connection: the client
	// must find out on its next request and send it again on a new one.
	write(c, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n", 1)
	c.Close()

	// 2: a 1 MiB event with a Content-Length, arriving in pieces.
	c, br = accept()
	read(br, "GET", next)
	event := `{"blob": "` + strings.Repeat("x", 1<<20) + `"}`
	write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"+
		"Lambda-Runtime-Aws-Request-Id: wire-2\r\n"+
		"Lambda-Runtime-Deadline-Ms: "+deadline+"\r\n"+
		"Content-Length: "+strconv.Itoa(len(event))+"\r\n\r\n"+event, 40)
	a = decode(read(br, "POST", "/2018-06-01/runtime/invocation/wire-2/response"))
	if a.Size != 1<<20 || a.RequestID != "wire-2" || a.Trace != nil {
		t.Errorf("second invocation saw %+v, want a 1048576-byte blob, request wire-2 and no trace", a)
	}
	write(c, "HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 1)

	// 3: after "Connection: close" the client opens a new connection.
	c, br = accept()
	read(br, "GET", next)
}

// TestPythonLoggingImportedLate covers a function whose first import of
// logging comes during an invocation, through a submodule: the client sets
// logging up on that first import (not at start, to keep it out of the
// cold start), and the module must look exactly as if it had been set up
// at start.
func TestPythonLoggingImportedLate(t *testing.T) {
	h := start(t, python("app.handler", map[string]string{"app.py": `
import sys

def handler(event, context):
    before = "logging" in sys.modules
    import logging.handlers
    import logging
    logging.getLogger().warning("late %s", event["n"])
    return {
        "imported_before": before,
        "loader": type(logging.__loader__).__name__,
        "spec_loader": type(logging.__spec__.loader).__name__,
        "meta_path": [type(f).__name__ for f in sys.meta_path],
        "handlers": len(logging.getLogger().handlers),
    }
`}))
	h.ready()
	type answer struct {
		ImportedBefore bool     `json:"imported_before"`
		Loader         string   `json:"loader"`
		SpecLoader     string   `json:"spec_loader"`
		MetaPath       []string `json:"meta_path"`
		Handlers       int      `json:"handlers"`
	}
	for i, n := range []string{"1", "2"} {
		var id string
		var a answer
		h.result(`{"n": `+n+`}`, &a, func(inv *runtimeapi.Invocation) { id = inv.RequestID })
		if i == 0 && a.ImportedBefore {
			t.Errorf("logging was imported before the function imported it")
		}
		if a.Loader != "SourceFileLoader" || a.SpecLoader != "SourceFileLoader" {
			t.Errorf("logging's loader = %s / spec %s, want the standard SourceFileLoader", a.Loader, a.SpecLoader)
		}
		if a.Handlers != 1 {
			t.Errorf("root logger has %d handlers, want Lambda's one", a.Handlers)
		}
		for _, f := range a.MetaPath {
			if strings.Contains(f, "Logging") {
				t.Errorf("sys.meta_path still holds %s after logging was imported: %v", f, a.MetaPath)
			}
		}
		want := regexp.MustCompile(`(?m)^\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + regexp.QuoteMeta(id) + `\tlate ` + n + `$`)
		if logged := h.newOutput(); !want.MatchString(logged) {
			t.Errorf("invocation %d output %q does not match %s", i+1, logged, want)
		}
	}
}
