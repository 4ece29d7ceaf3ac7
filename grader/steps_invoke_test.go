package grader

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// invArgs decodes an invoke step's arguments strictly and validates them.
func invArgs(t *testing.T, src string) (*invokeArgs, error) {
	t.Helper()
	a := actionKinds["invoke"].Args().(*invokeArgs)
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(a); err != nil {
		t.Fatalf("decode invoke {%s}: %v", src, err)
	}
	return a, a.Validate()
}

func TestInvokeValidate(t *testing.T) {
	tests := []struct {
		src  string
		want string // "" for valid, else a substring of the error
	}{
		{`{function: f}`, ""},
		{`{function: f, payload: {a: [1, 2.5, "x"], 3: b, d: 2026-01-02}, count: 20, parallel: 20}`, ""},
		{`{function: f, async: true, count: 5, expect: {ok: true}}`, ""},
		{`{function: f, expect: {versions: {"1": 0.9, "2": 0.1}}, count: 100}`, ""},
		{`{function: f, count: 10, parallel: 10, expect: {min_throttled: 3}}`, ""},
		{`{payload: {}}`, "function is required"},
		{`{function: f, payload: {}, payload_text: "{}"}`, "not both"},
		{`{function: f, count: -1}`, "count is -1"},
		{`{function: f, count: 5000}`, "count is 5000"},
		{`{function: f, count: 5, parallel: 6}`, "parallel is 6"},
		{`{function: f, parallel: 2}`, "parallel is 2"},
		{`{function: f, payload: .nan}`, "not a JSON number"},
		{`{function: f, async: true, expect: {payload_equals: {ok: true}}}`, "async invoke"},
		{`{function: f, expect: {ok: true, error_type: KeyError}}`, "cannot go with"},
		{`{function: f, count: 5, expect: {all_ok: true, min_throttled: 1}}`, "cannot go with"},
		{`{function: f, expect: {ok: false, error_type: KeyError}}`, "drop ok: false"},
		{`{function: f, count: 5, expect: {min_throttled: 6}}`, "min_throttled is 6"},
		{`{function: f, expect: {payload_matches: "a("}}`, "payload_matches"},
		{`{function: f, expect: {versions: {"1": 0.9, "2": 0.2}}}`, "add up to 1.1"},
		{`{function: f, expect: {versions: {"1": 1.5}}}`, "between 0 and 1"},
		{`{function: f, expect: {payload_fields: {"": 1}}}`, "field name is empty"},
	}
	for _, tt := range tests {
		_, err := invArgs(t, tt.src)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("invoke {%s}: Validate = %v, want valid", tt.src, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("invoke {%s}: Validate = %v, want an error with %q", tt.src, err, tt.want)
		}
	}
}

func TestInvokePayload(t *testing.T) {
	tests := []struct{ src, want string }{
		{`{function: f}`, `{}`},
		{`{function: f, payload: {b: "<x>", a: [1, 2.5, null, true]}}`, `{"a":[1,2.5,null,true],"b":"<x>"}`},
		{`{function: f, payload: {1: one, day: 2026-01-02}}`, `{"1":"one","day":"2026-01-02"}`},
		{`{function: f, payload: 42}`, `42`},
		{`{function: f, payload_text: 'not json {'}`, `not json {`},
	}
	for _, tt := range tests {
		a, err := invArgs(t, tt.src)
		if err != nil {
			t.Fatalf("invoke {%s}: %v", tt.src, err)
		}
		got, err := a.payload()
		if err != nil || string(got) != tt.want {
			t.Errorf("invoke {%s}: payload = %s, %v; want %s", tt.src, got, err, tt.want)
		}
	}
}

// binomialTails is P(X < lo) + P(X > hi) for X ~ Binomial(n, p).
func binomialTails(n int, p float64, lo, hi int) float64 {
	pmf := invBinomial(n, p)
	sum := 0.0
	for k, q := range pmf {
		if k < lo || k > hi {
			sum += q
		}
	}
	return sum
}

func TestInvBounds(t *testing.T) {
	tests := []struct {
		n      int
		p      float64
		lo, hi int
	}{
		{200, 0.1, 1, 43},
		{200, 0.9, 157, 200},
		{200, 0.5, 67, 133},
		{100, 0.3, 9, 53},
		{2, 0.02, 0, 2},
		{20, 0.5, 1, 20},
		{200, 0.05, 0, 27},
		{200, 0, 0, 0},
		{200, 1, 200, 200},
	}
	for _, tt := range tests {
		lo, hi := invBounds(tt.n, tt.p)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("invBounds(%d, %v) = %d, %d; want %d, %d", tt.n, tt.p, lo, hi, tt.lo, tt.hi)
		}
	}
	// The promise of invBounds's comment: a correct split fails with
	// probability at most 1e-6 per side, for every count a lab may make.
	worst, at := 0.0, ""
	for n := 1; n <= invMaxCount; n += 1 + n/10 {
		for i := 1; i < 200; i++ {
			p := float64(i) / 200
			lo, hi := invBounds(n, p)
			if f := binomialTails(n, p, lo, hi); f > worst {
				worst, at = f, fmt.Sprintf("n=%d p=%v [%d, %d]", n, p, lo, hi)
			}
		}
	}
	t.Logf("largest false-failure probability %.3g at %s", worst, at)
	if worst > 2e-6*(1+1e-9) {
		t.Errorf("false-failure probability %.3g at %s, want at most 2e-6", worst, at)
	}
	// And it still tells a claimed 10 % from a real 50 %.
	lo, hi := invBounds(200, 0.1)
	if 100 >= lo && 100 <= hi {
		t.Errorf("invBounds(200, 0.1) = %d, %d accepts 100 of 200", lo, hi)
	}
	sum := 0.0
	for _, q := range invBinomial(2000, 0.37) {
		sum += q
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("the masses of Binomial(2000, 0.37) add up to %v, want 1", sum)
	}
}

// invJudged runs invJudge on made-up results and returns its error.
func invJudged(t *testing.T, src string, results ...InvokeResult) error {
	t.Helper()
	a, err := invArgs(t, src)
	if err != nil {
		t.Fatalf("invoke {%s}: %v", src, err)
	}
	return invJudge(a, actTarget(a.Function, a.Qualifier), results)
}

func answered(payload string) InvokeResult {
	return InvokeResult{Status: 200, Payload: []byte(payload), ExecutedVersion: "$LATEST", RequestID: "r1"}
}

func functionError(typ, msg string) InvokeResult {
	doc := fmt.Sprintf(`{"errorType":%q,"errorMessage":%q}`, typ, msg)
	return InvokeResult{Status: 200, Payload: []byte(doc), FunctionError: "Unhandled", ErrorType: typ, ErrorMessage: msg, ExecutedVersion: "$LATEST"}
}

func throttled() InvokeResult {
	return InvokeResult{Status: 429, Throttled: true, ErrorType: "TooManyRequestsException", ErrorMessage: "Rate Exceeded.",
		Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
}

func repeated(n int, r InvokeResult) []InvokeResult {
	out := make([]InvokeResult, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func ranVersions(split map[string]int) []InvokeResult {
	var out []InvokeResult
	for _, v := range []string{"1", "2", "3"} {
		for range split[v] {
			r := answered(`{}`)
			r.ExecutedVersion = v
			out = append(out, r)
		}
	}
	return out
}

func TestInvJudge(t *testing.T) {
	exitErr := functionError("Runtime.ExitError", "RequestId: 7e1c Error: Runtime exited with error: exit status 1")
	oom := exitErr
	oom.ErrorType, oom.docType = "Runtime.OutOfMemory", "Runtime.ExitError"
	oom.ErrorMessage = "RequestId: 7e1c Error: Runtime exited with error: signal: killed"
	keyErr := functionError("KeyError", "'Records'")
	keyErr.frame = `File "/var/task/app.py", line 7, in handler`
	importErr := functionError("Runtime.ImportModuleError", "Unable to import module 'app': No module named 'yaml'")
	ok3 := answered(`{"placed": 3, "throttled": 17}`)

	tests := []struct {
		name    string
		src     string
		results []InvokeResult
		want    string // "" passes; "unrunnable: …" an Unrunnable; else a failure (regexp)
	}{
		{"answer", `{function: f}`, []InvokeResult{ok3}, ""},
		{"exit error", `{function: mask-logs}`, []InvokeResult{exitErr},
			`invoking mask-logs returned a function error: Runtime\.ExitError: RequestId: 7e1c Error: Runtime exited with error: exit status 1`},
		{"python error with its frame", `{function: f}`, []InvokeResult{keyErr},
			`invoking f returned a function error: KeyError: 'Records' \(File "/var/task/app\.py", line 7, in handler\)`},
		{"out of memory in Lambda's word", `{function: f}`, []InvokeResult{oom},
			`invoking f returned a function error: Runtime\.OutOfMemory: RequestId: 7e1c Error: Runtime exited with error: signal: killed`},
		{"out of memory by either type", `{function: f, expect: {error_type: Runtime.ExitError}}`, []InvokeResult{oom}, ""},
		{"import error is unrunnable", `{function: f, expect: {payload_equals: 1}}`, []InvokeResult{importErr},
			`unrunnable: f could not run: Runtime\.ImportModuleError: Unable to import module 'app': No module named 'yaml'`},
		{"an expected import error", `{function: f, expect: {error_type: Runtime.ImportModuleError}}`, []InvokeResult{importErr}, ""},
		{"throttled", `{function: checkout}`, []InvokeResult{throttled()},
			`invoking checkout was throttled: TooManyRequestsException \(ReservedFunctionConcurrentInvocationLimitExceeded\): Rate Exceeded\.`},
		{"throttle as error type", `{function: checkout, expect: {error_type: TooManyRequestsException}}`, []InvokeResult{throttled()}, ""},
		{"payload equals", `{function: f, expect: {payload_equals: {throttled: 17.0, placed: 3}}}`, []InvokeResult{ok3}, ""},
		{"payload differs", `{function: f, expect: {payload_equals: {placed: 20}}}`, []InvokeResult{ok3},
			`expected the answer \{"placed": 20\}, got \{"placed": 3, "throttled": 17\}`},
		{"payload not JSON", `{function: f, expect: {payload_equals: "ok"}}`, []InvokeResult{answered(`ok`)},
			`expected the answer "ok", got ok`},
		{"payload matches", `{function: f, expect: {payload_matches: '"placed": \d+'}}`, []InvokeResult{ok3}, ""},
		{"payload does not match", `{function: f, expect: {payload_matches: '^\[\]$'}}`, []InvokeResult{ok3},
			`expected the answer to match the pattern \^\\\[\\\]\$, got \{"placed": 3, "throttled": 17\}`},
		{"fields", `{function: f, expect: {payload_fields: {placed: 3, "order.items.1.id": "b"}}}`,
			[]InvokeResult{answered(`{"placed": 3, "order": {"items": [{"id": "a"}, {"id": "b"}]}}`)}, ""},
		{"field differs", `{function: f, expect: {payload_fields: {"order.total": 20}}}`,
			[]InvokeResult{answered(`{"order": {"total": 3}}`)}, `expected the answer's "order\.total" to be 20, got 3`},
		{"field missing", `{function: f, expect: {payload_fields: {"order.total": 20}}}`,
			[]InvokeResult{answered(`{"order": {}}`)}, `expected the answer to have the field "order\.total", got \{"order": \{\}\}`},
		{"ok false", `{function: f, expect: {ok: false}}`, []InvokeResult{ok3},
			`expected invoking f to fail, but it answered \{"placed": 3, "throttled": 17\}`},
		{"ok false on an error", `{function: f, expect: {ok: false, payload_fields: {errorType: KeyError}}}`, []InvokeResult{keyErr}, ""},
		{"wrong error type", `{function: f, expect: {error_type: Sandbox.Timedout}}`, []InvokeResult{keyErr},
			`expected invoking f to fail with Sandbox\.Timedout, but it failed with KeyError: 'Records' \(File "/var/task/app\.py", line 7, in handler\)`},
		{"executed version", `{function: checkout, qualifier: prod, expect: {executed_version: "2"}}`, []InvokeResult{answered(`{}`)},
			`invoking checkout:prod ran \$LATEST, expected version 2`},
		{"burst with errors", `{function: f, count: 3, parallel: 3}`, []InvokeResult{ok3, keyErr, keyErr},
			`2 of 3 invokes of f returned a function error; the first: KeyError: 'Records' \(File "/var/task/app\.py", line 7, in handler\)`},
		{"burst throttled", `{function: checkout, count: 4, parallel: 4, expect: {all_ok: true}}`,
			[]InvokeResult{ok3, throttled(), throttled(), throttled()},
			`3 of 4 invokes of checkout were throttled: TooManyRequestsException \(ReservedFunctionConcurrentInvocationLimitExceeded\): Rate Exceeded\.`},
		{"enough throttles", `{function: checkout, count: 4, parallel: 4, expect: {min_throttled: 3, payload_fields: {placed: 3}}}`,
			[]InvokeResult{ok3, throttled(), throttled(), throttled()}, ""},
		{"too few throttles", `{function: checkout, count: 4, parallel: 4, expect: {min_throttled: 3}}`,
			[]InvokeResult{ok3, ok3, throttled(), ok3},
			`expected at least 3 of 4 parallel invokes of checkout to be throttled; 1 was`},
		{"second of several differs", `{function: f, count: 2, expect: {payload_equals: {placed: 3, throttled: 17}}}`,
			[]InvokeResult{ok3, answered(`{"placed": 4}`)},
			`invoke 2 of 2: expected the answer \{"placed": 3, "throttled": 17\}, got \{"placed": 4\}`},
		{"split as claimed", `{function: checkout, qualifier: prod, count: 200, expect: {versions: {"1": 0.9, "2": 0.1}}}`,
			ranVersions(map[string]int{"1": 178, "2": 22}), ""},
		{"split off", `{function: checkout, qualifier: prod, count: 200, expect: {versions: {"1": 0.9, "2": 0.1}}}`,
			ranVersions(map[string]int{"1": 100, "2": 100}),
			`checkout:prod ran version 1 in 100 of 200 invokes \(50 %\); with 90 % routed to it, expected between 157 and 200`},
		{"version never seen", `{function: checkout, qualifier: prod, count: 200, expect: {versions: {"1": 0.9, "2": 0.1}}}`,
			ranVersions(map[string]int{"1": 200}),
			`checkout:prod ran version 2 in 0 of 200 invokes \(0 %\); with 10 % routed to it, expected between 1 and 43`},
		{"unrouted version", `{function: checkout, qualifier: prod, count: 200, expect: {versions: {"1": 1}}}`,
			ranVersions(map[string]int{"1": 199, "3": 1}),
			`checkout:prod ran version 1 in 199 of 200 invokes \(99\.5 %\); with all traffic routed to it, expected all 200`},
		{"async accepted", `{function: f, async: true}`, []InvokeResult{{Status: 202, RequestID: "r"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := invJudged(t, tt.src, tt.results...)
			var f *Failure
			var u *Unrunnable
			switch {
			case tt.want == "":
				if err != nil {
					t.Errorf("invoke {%s} = %v, want it to pass", tt.src, err)
				}
			case strings.HasPrefix(tt.want, "unrunnable: "):
				want := strings.TrimPrefix(tt.want, "unrunnable: ")
				if !errors.As(err, &u) || !regexp.MustCompile("^(?:"+want+")$").MatchString(u.Msg) {
					t.Errorf("invoke {%s} = %v (%T), want Unrunnable matching %s", tt.src, err, err, want)
				}
			default:
				if !errors.As(err, &f) || !regexp.MustCompile("^(?:"+tt.want+")$").MatchString(f.Msg) {
					t.Errorf("invoke {%s} = %v (%T)\nwant a failure matching\n  %s", tt.src, err, err, tt.want)
				}
			}
		})
	}
}

func TestInvSame(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{`{"a": 1, "b": [1, 2]}`, `{"b": [1.0, 2e0], "a": 1.00}`, true},
		{`{"a": 1}`, `{"a": 1, "b": null}`, false},
		{`[1, 2]`, `[2, 1]`, false},
		{`"1"`, `1`, false},
		{`0.1`, `0.10000000000000001`, false},
		{`null`, `null`, true},
		{`12345678901234567890`, `12345678901234567890.0`, true},
	}
	for _, tt := range tests {
		a, err := invDecode([]byte(tt.a))
		if err != nil {
			t.Fatal(err)
		}
		b, err := invDecode([]byte(tt.b))
		if err != nil {
			t.Fatal(err)
		}
		if got := invSame(a, b); got != tt.same {
			t.Errorf("invSame(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

// testInvokeSteps runs invoke against the real stack: env has the
// function checkout of actSubmission at $LATEST.
func testInvokeSteps(t *testing.T, env *Env) {
	actOK(t, env, "invoke", `{function: checkout, payload: {id: 7, items: [{sku: a, n: 2}]}, expect: {executed_version: $LATEST, payload_fields: {mark: one, "echo.items.0.n": 2.0}}}`)
	actOK(t, env, "invoke", `{function: checkout, payload: {id: 7}, expect: {payload_equals: {mark: one, echo: {id: 7}}, payload_matches: '"mark": "one"'}}`)
	actFails(t, env, "invoke", `{function: checkout, payload: {id: 7}, expect: {payload_equals: {mark: two}}}`,
		`expected the answer \{"mark": "two"\}, got \{"mark": "one", "echo": \{"id": 7\}\}`)
	actOK(t, env, "invoke", `{function: checkout, payload_text: '"just a string"', expect: {payload_equals: {mark: one, echo: just a string}}}`)

	actFails(t, env, "invoke", `{function: checkout, payload: {mode: raise, id: 7}}`,
		`invoking checkout returned a function error: ValueError: bad order 7 \(File "/var/task/app\.py", line \d+, in handler\)`)
	actOK(t, env, "invoke", `{function: checkout, payload: {mode: raise, id: 7}, expect: {error_type: ValueError, payload_fields: {errorMessage: bad order 7}}}`)
	actFails(t, env, "invoke", `{function: checkout, payload: {mode: exit}}`,
		`invoking checkout returned a function error: Runtime\.ExitError: RequestId: [0-9a-f-]+ Error: Runtime exited with error: exit status 1`)
	actFails(t, env, "invoke", `{function: checkout, payload: {id: 1}, expect: {ok: false}}`,
		`expected invoking checkout to fail, but it answered \{"mark": "one", "echo": \{"id": 1\}\}`)

	actOK(t, env, "invoke", `{function: checkout, async: true, count: 2, save: events}`)
	saved, _ := env.Saved("events")
	if rs, _ := saved.([]InvokeResult); len(rs) != 2 || rs[0].Status != 202 || rs[0].RequestID == "" {
		t.Errorf("saved async results = %+v, want two accepted (202) with request ids", saved)
	}
	actFails(t, env, "invoke", `{function: no-such-function}`,
		`invoking no-such-function was refused: ResourceNotFoundException: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:no-such-function`)
	actFails(t, env, "invoke", `{function: checkout, payload_text: 'not json'}`,
		`invoking checkout was refused: InvalidRequestContentException: Could not parse request body into json: .+`)

	env.MaxInvokes = 1 // this run has made more already
	actFails(t, env, "invoke", `{function: checkout, count: 2}`, `this grading run reached the lab's limit of 1 invocations`)
	env.MaxInvokes = 0
}
