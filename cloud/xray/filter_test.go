package xray

import (
	"errors"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	fn := TraceSummary{
		Duration: 2 * time.Second, ResponseTime: 1500 * time.Millisecond, HasFault: true, HTTPStatus: 502,
		HTTPMethod: "POST", HTTPURL: "https://api.example.com/orders",
		Annotations: map[string][]any{"bucket": {"in", "in2"}, "size": {42.0}, "ok": {true}},
		Services:    []ServiceID{{Name: "resize", Type: "AWS::Lambda"}, {Name: "resize", Type: "AWS::Lambda::Function"}},
	}
	plain := TraceSummary{Duration: 100 * time.Millisecond, Services: []ServiceID{{Name: "www.example.com", Type: "AWS::EC2::Instance"}}}
	tests := []struct {
		expr      string
		fn, plain bool
	}{
		{``, true, true},
		{`service("resize")`, true, false},
		{`service(id(name: "resize"))`, true, false},
		{`service(id(name: "resize", type: "AWS::Lambda::Function"))`, true, false},
		{`service(id(name: "resize", type: "AWS::EC2::Instance"))`, false, false},
		{`id(name: "www.example.com")`, false, true},
		{`service()`, true, true},
		{`fault`, true, false},
		{`ok`, false, true},
		{`error = false`, true, true},
		{`fault AND service("resize")`, true, false},
		{`fault && responsetime > 1`, true, false},
		{`!fault`, false, true},
		{`NOT (fault OR error)`, false, true},
		{`duration >= 2`, true, false},
		{`duration < 1 || http.status = 502`, true, true},
		{`http.url CONTAINS "/orders"`, true, false},
		{`http.method = "POST"`, true, false},
		{`annotation.bucket = "in2"`, true, false},
		{`annotation[size] > 40`, true, false},
		{`annotation.ok = true`, true, false},
		{`annotation.missing = "x"`, false, false},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.expr)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.expr, err)
			continue
		}
		if got := f(&fn); got != tt.fn {
			t.Errorf("%q on the Lambda trace = %v, want %v", tt.expr, got, tt.fn)
		}
		if got := f(&plain); got != tt.plain {
			t.Errorf("%q on the plain trace = %v, want %v", tt.expr, got, tt.plain)
		}
	}
	for _, bad := range []string{`service(`, `service("a") { fault }`, `frobnicate`, `duration > "x"`, `"unterminated`, `fault AND`, `service(id(colour: "x"))`, `annotation.x ~ 1`} {
		if _, err := ParseFilter(bad); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ParseFilter(%q) = %v, want ErrInvalidFilter", bad, err)
		}
	}
}
