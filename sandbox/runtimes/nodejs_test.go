package runtimes

import (
	"regexp"
	"strings"
	"testing"

	"lambdalab/sandbox/runtimeapi"
)

func node(handler string, files map[string]string, env ...string) function {
	return function{runtime: Nodejs20, handler: handler, files: files, env: env}
}

const nodeContextHandler = `
export const handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 50));
  const second = context.getRemainingTimeInMillis();
  return {
    event,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    memoryType: typeof context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    identity: context.identity ?? null,
    clientContext: context.clientContext ?? null,
    remaining: [first, second],
    executionEnv: process.env.AWS_EXECUTION_ENV,
    nodePath: process.env.NODE_PATH,
    trace: process.env._X_AMZN_TRACE_ID ?? null,
  };
};
`

func TestNodeResultAndContext(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.mjs": nodeContextHandler}))
	h.ready()

	var got struct {
		Event                          map[string]any `json:"event"`
		AWSRequestID                   string         `json:"awsRequestId"`
		InvokedFunctionARN             string         `json:"invokedFunctionArn"`
		FunctionName                   string         `json:"functionName"`
		FunctionVersion                string         `json:"functionVersion"`
		MemoryLimitInMB                string         `json:"memoryLimitInMB"`
		MemoryType                     string         `json:"memoryType"`
		LogGroupName                   string         `json:"logGroupName"`
		LogStreamName                  string         `json:"logStreamName"`
		CallbackWaitsForEmptyEventLoop bool           `json:"callbackWaitsForEmptyEventLoop"`
		Identity                       map[string]any `json:"identity"`
		ClientContext                  map[string]any `json:"clientContext"`
		Remaining                      []int64        `json:"remaining"`
		ExecutionEnv                   string         `json:"executionEnv"`
		NodePath                       string         `json:"nodePath"`
		Trace                          *string        `json:"trace"`
	}
	var id string
	h.result(`{"order": 42}`, &got, func(inv *runtimeapi.Invocation) {
		id = inv.RequestID
		inv.CognitoIdentity = `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`
		inv.ClientContext = `{"custom":{"tier":"gold"}}`
	})
	if got.Event["order"] != float64(42) {
		t.Errorf("event = %v, want the payload back", got.Event)
	}
	checks := []struct{ name, got, want string }{
		{"awsRequestId", got.AWSRequestID, id},
		{"invokedFunctionArn", got.InvokedFunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:orders:live"},
		{"functionName", got.FunctionName, "orders"},
		{"functionVersion", got.FunctionVersion, "$LATEST"},
		{"memoryLimitInMB", got.MemoryLimitInMB, "256"},
		{"typeof memoryLimitInMB", got.MemoryType, "string"},
		{"logGroupName", got.LogGroupName, "/aws/lambda/orders"},
		{"logStreamName", got.LogStreamName, "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef"},
		{"AWS_EXECUTION_ENV", got.ExecutionEnv, "AWS_Lambda_nodejs20.x"},
		{"NODE_PATH", got.NodePath, NodePath},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("context %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !got.CallbackWaitsForEmptyEventLoop {
		t.Error("callbackWaitsForEmptyEventLoop = false, want Lambda's default true")
	}
	if got.Identity["cognitoIdentityId"] != "us-east-1:abc" {
		t.Errorf("identity = %v, want the parsed Cognito header", got.Identity)
	}
	if custom, _ := got.ClientContext["custom"].(map[string]any); custom["tier"] != "gold" {
		t.Errorf("clientContext = %v, want the parsed header", got.ClientContext)
	}
	if len(got.Remaining) != 2 || got.Remaining[0] <= 0 || got.Remaining[0] > 20000 || got.Remaining[1] >= got.Remaining[0] {
		t.Errorf("remaining time %v: want within the 20 s deadline and decreasing across a 50 ms wait", got.Remaining)
	}
	if got.Trace != nil {
		t.Errorf("_X_AMZN_TRACE_ID = %q with no trace header, want unset", *got.Trace)
	}
}

func TestNodeModuleFormats(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		files   map[string]string
	}{
		{"commonjs .js", "index.handler", map[string]string{"index.js": `exports.handler = async (e) => ({ from: "cjs", n: e.n });`}},
		{"es module .mjs", "index.handler", map[string]string{"index.mjs": `export const handler = async (e) => ({ from: "mjs", n: e.n });`}},
		{"commonjs .cjs", "index.handler", map[string]string{"index.cjs": `module.exports.handler = async (e) => ({ from: "cjs", n: e.n });`}},
		{"es module .js by package.json", "index.handler", map[string]string{
			"package.json": `{"type": "module"}`,
			"index.js":     `export async function handler(e) { return { from: "esm-js", n: e.n }; }`,
		}},
		{"sub-directory and nested property", "src/api/orders.routes.create", map[string]string{
			"src/api/orders.js": `exports.routes = { create: async (e) => ({ from: "nested", n: e.n }) };`,
		}},
		{"promise without async", "index.handler", map[string]string{"index.js": `exports.handler = (e) => Promise.resolve({ from: "promise", n: e.n });`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, node(tt.handler, tt.files))
			h.ready()
			var got struct {
				From string `json:"from"`
				N    int    `json:"n"`
			}
			h.result(`{"n": 5}`, &got)
			if got.N != 5 || got.From == "" {
				t.Errorf("result = %+v, want the handler's answer for n=5", got)
			}
		})
	}
}

func TestNodeCallbackHandlers(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.js": `
exports.handler = (event, context, callback) => {
  switch (event.mode) {
  case "wait":
    // The callback answers at once, but Lambda sends the result only when
    // the event loop is empty: after this timer has fired.
    setTimeout(() => console.log("timer fired"), 100);
    callback(null, { mode: "wait" });
    return;
  case "nowait":
    context.callbackWaitsForEmptyEventLoop = false;
    setTimeout(() => console.log("late timer fired"), 300);
    callback(null, { mode: "nowait" });
    return;
  case "error":
    callback(new TypeError("bad input"));
    return;
  case "succeed":
    context.succeed({ mode: "succeed" });
    return;
  case "forgot":
    // A plain handler that returns without calling back answers null.
    return { ignored: true };
  }
};
`}))
	h.ready()

	var got map[string]any
	h.result(`{"mode": "wait"}`, &got)
	if got["mode"] != "wait" {
		t.Errorf("result = %v, want mode wait", got)
	}
	if logged := h.newOutput(); !strings.Contains(logged, "\tINFO\ttimer fired\n") {
		t.Errorf("output by the time the result was posted = %q, want the timer's line: the callback must wait for the empty event loop", logged)
	}

	h.result(`{"mode": "nowait"}`, &got)
	if got["mode"] != "nowait" {
		t.Errorf("result = %v, want mode nowait", got)
	}
	if logged := h.newOutput(); strings.Contains(logged, "late timer fired") {
		t.Errorf("output %q: with callbackWaitsForEmptyEventLoop=false the result must not wait for the timer", logged)
	}

	out := h.invoke(`{"mode": "error"}`)
	doc := decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "TypeError" || doc.ErrorMessage != "bad input" {
		t.Errorf("callback(err) = %s %s, want TypeError: bad input", out.Status, out.Payload)
	}

	h.result(`{"mode": "succeed"}`, &got)
	if got["mode"] != "succeed" {
		t.Errorf("context.succeed result = %v", got)
	}

	out = h.invoke(`{"mode": "forgot"}`)
	if out.Status != runtimeapi.StatusSuccess || string(out.Payload) != "null" {
		t.Errorf("handler that never calls back = %s %q, want success null", out.Status, out.Payload)
	}
}

func TestNodeErrors(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.mjs": `
class OrderError extends Error {
  constructor(m) { super(m); this.name = "OrderError"; this.orderId = 7; }
}
function check(event) {
  if (event.kind === "string") throw "plain string";
  throw new OrderError("order " + event.id + " is not valid");
}
export const handler = async (event) => {
  if (event.kind === "circular") { const o = {}; o.self = o; return o; }
  if (event.kind === "hang") { return new Promise(() => {}); }
  check(event);
};
`}))
	h.ready()

	var id string
	out := h.invoke(`{"id": 7}`, func(inv *runtimeapi.Invocation) { id = inv.RequestID })
	if out.Status != runtimeapi.StatusError {
		t.Fatalf("status %s (%s), want error", out.Status, out.Payload)
	}
	doc := decodeError(t, out.Payload)
	if doc.ErrorType != "OrderError" || doc.ErrorMessage != "order 7 is not valid" {
		t.Errorf("error = %s: %q, want OrderError: order 7 is not valid", doc.ErrorType, doc.ErrorMessage)
	}
	if doc.Trace == nil || len(*doc.Trace) < 2 || (*doc.Trace)[0] != "OrderError: order 7 is not valid" || !strings.Contains((*doc.Trace)[1], "at check (file://") {
		t.Errorf("trace = %v, want the stack split into lines, starting with the message and check's frame", doc.Trace)
	}
	if doc.StackTrace != nil || doc.RequestID != nil {
		t.Errorf("error document has Python's fields (stackTrace/requestId); Node's has trace only: %s", out.Payload)
	}
	logged := h.newOutput()
	wantLog := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + regexp.QuoteMeta(id) +
		`\tERROR\tInvoke Error \t\{"errorType":"OrderError","errorMessage":"order 7 is not valid","name":"OrderError","orderId":7,"stack":\["OrderError: order 7 is not valid","    at check`)
	if !wantLog.MatchString(logged) {
		t.Errorf("log = %q, want Lambda's Invoke Error line", logged)
	}

	out = h.invoke(`{"kind": "string"}`)
	doc = decodeError(t, out.Payload)
	if doc.ErrorType != "string" || doc.ErrorMessage != "plain string" || doc.Trace == nil || len(*doc.Trace) != 0 {
		t.Errorf("throwing a string = %s, want errorType \"string\" and an empty trace", out.Payload)
	}

	out = h.invoke(`{"kind": "circular"}`)
	doc = decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Error" || doc.ErrorMessage != "Unable to stringify response body" {
		t.Errorf("circular result = %s %s, want Error: Unable to stringify response body", out.Status, out.Payload)
	}

	out = h.invoke(`{"kind": "hang"}`)
	doc = decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Runtime.NodeJsExit" {
		t.Errorf("promise never settled = %s %s, want Runtime.NodeJsExit", out.Status, out.Payload)
	}

	out = h.invoke(`not json`)
	doc = decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "SyntaxError" {
		t.Errorf("non-JSON event = %s %s, want a SyntaxError", out.Status, out.Payload)
	}
}

func TestNodeWarmReuseTraceIDAndConsole(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.js": `
let count = 0;
console.log("loading");
exports.handler = async (event) => {
  count++;
  console.log("count is", count);
  console.warn("two\nlines");
  process.stdout.write("raw write\n");
  return { count, trace: process.env._X_AMZN_TRACE_ID ?? null };
};
`}))
	h.ready()
	if initLog := h.newOutput(); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tundefined\tINFO\tloading\n$`).MatchString(initLog) {
		t.Errorf("init output = %q, want one INFO line with request id undefined", initLog)
	}

	type answer struct {
		Count int     `json:"count"`
		Trace *string `json:"trace"`
	}
	const trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	var a answer
	var id string
	h.result(`{}`, &a, func(inv *runtimeapi.Invocation) { inv.TraceID = trace; id = inv.RequestID })
	if a.Count != 1 || a.Trace == nil || *a.Trace != trace {
		t.Fatalf("first invoke = count %d trace %v, want 1 and %q", a.Count, a.Trace, trace)
	}
	logged := h.newOutput()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\S+Z\t` + regexp.QuoteMeta(id) + `\tINFO\tcount is 1$`),
		regexp.MustCompile(`(?m)^\S+Z\t` + regexp.QuoteMeta(id) + `\tWARN\ttwo\rlines$`),
		regexp.MustCompile(`(?m)^raw write$`),
	} {
		if !re.MatchString(logged) {
			t.Errorf("invocation output %q does not match %s", logged, re)
		}
	}

	h.result(`{}`, &a)
	if a.Count != 2 || a.Trace != nil {
		t.Errorf("second invoke = count %d trace %v, want 2 and no trace", a.Count, a.Trace)
	}
}

func TestNodeInitErrors(t *testing.T) {
	tests := []struct {
		name     string
		handler  string
		files    map[string]string
		wantType string
		wantMsg  string
		prefix   bool
	}{
		{"no dot", "index", map[string]string{"index.js": ""}, "Runtime.MalformedHandlerName", "Bad handler", false},
		{"parent path", "../index.handler", map[string]string{"index.js": ""}, "Runtime.MalformedHandlerName",
			"'../index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.", false},
		{"missing file", "missing.handler", map[string]string{"index.js": ""}, "Runtime.ImportModuleError", "Error: Cannot find module 'missing'\nRequire stack:", true},
		{"missing dependency", "index.handler", map[string]string{"index.js": "require('left-pad-x');\nexports.handler = async () => 1;\n"},
			"Runtime.ImportModuleError", "Error: Cannot find module 'left-pad-x'", true},
		{"syntax error", "index.handler", map[string]string{"index.js": "exports.handler = async () => {\n"}, "Runtime.UserCodeSyntaxError", "SyntaxError: ", true},
		{"not exported", "index.nope", map[string]string{"index.mjs": "export const handler = async () => 1;\n"}, "Runtime.HandlerNotFound", "index.nope is undefined or not exported", false},
		{"not a function", "index.handler", map[string]string{"index.js": "exports.handler = 42;\n"}, "Runtime.HandlerNotFound", "index.handler is not a function", false},
		{"module throws", "index.handler", map[string]string{"index.js": "throw new RangeError('TABLE_NAME is not set');\n"}, "RangeError", "TABLE_NAME is not set", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, node(tt.handler, tt.files))
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
			if doc.Trace == nil || len(*doc.Trace) == 0 || !strings.HasPrefix((*doc.Trace)[0], tt.wantType+": ") {
				t.Errorf("trace = %v, want the stack starting with %q", doc.Trace, tt.wantType+": ")
			}
			if logged := h.allOutput(); !regexp.MustCompile(`\tundefined\tERROR\tUncaught Exception \t\{"errorType":"` + regexp.QuoteMeta(tt.wantType) + `"`).MatchString(logged) {
				t.Errorf("output = %q, want Lambda's Uncaught Exception line", logged)
			}
			if status := h.exitStatus(); status != "exit status 129" {
				t.Errorf("runtime exit = %q, want exit status 129", status)
			}
		})
	}
}

func TestNodeUncaughtExceptionDuringInvoke(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.js": `
exports.handler = async () => {
  setTimeout(() => { throw new Error("thrown from a timer"); }, 0);
  await new Promise((r) => setTimeout(r, 1000));
  return "never";
};
`}))
	h.ready()
	out := h.invoke(`{}`)
	doc := decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Error" || doc.ErrorMessage != "thrown from a timer" {
		t.Errorf("uncaught exception = %s %s, want the timer's error posted for the invocation", out.Status, out.Payload)
	}
	if status := h.exitStatus(); status != "exit status 129" {
		t.Errorf("runtime exit = %q, want exit status 129 after an uncaught exception", status)
	}
}

func TestNodeUnhandledRejection(t *testing.T) {
	h := start(t, node("index.handler", map[string]string{"index.js": `
exports.handler = async () => {
  Promise.reject(new Error("nobody awaited me"));
  await new Promise((r) => setTimeout(r, 1000));
  return "never";
};
`}))
	h.ready()
	out := h.invoke(`{}`)
	doc := decodeError(t, out.Payload)
	if out.Status != runtimeapi.StatusError || doc.ErrorType != "Runtime.UnhandledPromiseRejection" || doc.ErrorMessage != "Error: nobody awaited me" {
		t.Errorf("unhandled rejection = %s %s, want Runtime.UnhandledPromiseRejection: Error: nobody awaited me", out.Status, out.Payload)
	}
	if logged := h.newOutput(); !strings.Contains(logged, "\tERROR\tUnhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\"") {
		t.Errorf("log = %q, want the Unhandled Promise Rejection line", logged)
	}
	if status := h.exitStatus(); status != "exit status 128" {
		t.Errorf("runtime exit = %q, want exit status 128", status)
	}
}
