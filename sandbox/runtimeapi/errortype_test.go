package runtimeapi

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestErrorTypeName(t *testing.T) {
	long := strings.Repeat("A", 1<<20)
	cyrillic := strings.Repeat("Ж", 100) // 200 bytes
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"category and reason", "Runtime.ExitError", "Runtime.ExitError"},
		{"python class", "ValueError", "ValueError"},
		{"java class", "java.lang.IllegalStateException", "java.lang.IllegalStateException"},
		{"java inner class", "com.example.Outer$Inner", "com.example.Outer$Inner"},
		{"ruby style", "Function<NameError>", "Function<NameError>"},
		{"surrounding spaces", "  KeyError ", "KeyError"},
		{"unicode letters", "ОшибкаДанных", "ОшибкаДанных"},
		{"newline and a forged REPORT", "X\nREPORT RequestId: fake\tBilled Duration: 0 ms", "Unhandled"},
		{"carriage return", "X\rREPORT", "Unhandled"},
		{"tab forges a field", "X\tBilled Duration: 999999 ms", "Unhandled"},
		{"escape sequence", "\x1b[2JX", "Unhandled"},
		{"NUL", "A\x00B", "Unhandled"},
		{"space inside", "my error", "Unhandled"},
		{"line separator", "A\u2028REPORT", "Unhandled"},
		{"next line", "A\u0085REPORT", "Unhandled"},
		{"right-to-left override", "A\u202eB", "Unhandled"},
		{"invalid utf-8", "A\xffB", "Unhandled"},
		{"1 MB identifier is cut", long, long[:maxErrorType]},
		{"cut on a rune boundary", cyrillic, strings.Repeat("Ж", maxErrorType/2)},
		{"cut on a rune boundary, odd", "A" + cyrillic, "A" + strings.Repeat("Ж", (maxErrorType-1)/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorTypeName(tt.in); got != tt.want {
				t.Errorf("errorTypeName(%.40q) = %.40q, want %.40q", tt.in, got, tt.want)
			}
		})
	}
}

// rawPost sends a request byte for byte, header values included, which
// net/http's client would refuse to write. It returns the status code.
func rawPost(t *testing.T, addr, path, headerValue, body string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: runtime\r\nContent-Length: %d\r\nLambda-Runtime-Function-Error-Type: %s\r\nConnection: close\r\n\r\n%s",
		path, len(body), headerValue, body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		// The server may hang up on a request it cannot parse at all.
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// safeErrorType is what every error type kept must be, whatever was posted.
func safeErrorType(t *testing.T, got string) {
	t.Helper()
	if len(got) > maxErrorType || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r\t\x1b\x00 ") {
		t.Errorf("kept error type %.60q: want one printable line of at most %d bytes", got, maxErrorType)
	}
}

// TestHostileErrorTypeHeader posts error documents with hostile
// Lambda-Runtime-Function-Error-Type headers to the Runtime API server, as
// a runtime could byte for byte, and checks what the Outcome keeps. The
// server may refuse a request it cannot parse (a raw newline, a control
// character, a header over its limit); then the runtime's clean retry is
// what counts, and the hostile value must not have been kept.
func TestHostileErrorTypeHeader(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // "" when the server may refuse the request
	}{
		{"tab forges a REPORT field", "ValueError\tBilled Duration: 0 ms\tMax Memory Used: 99999 MB", "Unhandled"},
		{"newline and a fake REPORT line", "X\nREPORT RequestId: fake\tDuration: 1.00 ms\tBilled Duration: 1 ms", ""},
		{"bare carriage return", "X\rREPORT RequestId: fake", ""},
		{"escape sequence", "\x1b]0;owned\x07X", ""},
		{"1 MB value", strings.Repeat("A", 1<<20), ""},
		{"long identifier is cut", strings.Repeat("B", 4000), strings.Repeat("B", maxErrorType)},
		{"unicode letters kept", "ОшибкаДанных", "ОшибкаДанных"},
		{"line separator", "A\u2028REPORT RequestId: fake", "Unhandled"},
		{"bidi override", "A\u202eTROPER", "Unhandled"},
		{"plain", "Function.Custom", "Function.Custom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServer(t, Config{})
			rt := rawRuntime{t, "http://" + addr}
			outc := startInvoke(s, invocation("id-1", `{}`))
			if code, _, _ := rt.do("GET", nextPath, nil); code != 200 {
				t.Fatalf("next = %d", code)
			}
			path := "/2018-06-01/runtime/invocation/id-1/error"
			code := rawPost(t, addr, path, tt.value, `{"errorMessage":"boom"}`)
			switch {
			case code == 202:
			case tt.want == "" && (code == 0 || code >= 400 && code < 500):
				// Refused as unparsable (or hung up on): the runtime
				// tries again, plainly.
				if c, body, _ := rt.do("POST", path, strings.NewReader(`{"errorMessage":"boom"}`)); c != 202 {
					t.Fatalf("clean retry after a refusal (%d): %d %s", code, c, body)
				}
			default:
				t.Fatalf("post with the hostile header: status %d, want 202", code)
			}
			nextAsync(rt)
			out := <-outc
			if out.Status != StatusError {
				t.Fatalf("status %q, want error", out.Status)
			}
			safeErrorType(t, out.ErrorType)
			if tt.want != "" && out.ErrorType != tt.want {
				t.Errorf("error type %.60q, want %.60q", out.ErrorType, tt.want)
			}
			if code != 202 && out.ErrorType != "" {
				t.Errorf("a refused post left error type %.60q behind", out.ErrorType)
			}
		})
	}
}

func TestHostileInitErrorType(t *testing.T) {
	s, addr := startServer(t, Config{})
	code := rawPost(t, addr, "/2018-06-01/runtime/init/error", "Runtime.ImportModuleError\tINIT_REPORT Init Duration: 0.01 ms", `{}`)
	if code != 202 {
		t.Fatalf("init error: %d, want 202", code)
	}
	res := waitInit(t, s, 5*time.Second)
	if res.Status != StatusError || res.ErrorType != "Unhandled" {
		t.Errorf("init = %q with error type %q, want error with Unhandled", res.Status, res.ErrorType)
	}
}
