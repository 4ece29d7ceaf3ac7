package grader

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"lambdalab/cloud/lambda"
	"lambdalab/store"
)

func invocation(i int, outcome string, log string) lambda.InvocationLog {
	id := fmt.Sprintf("req-%02d", i)
	return lambda.InvocationLog{RequestID: id, Attempt: 1, Log: []byte(log),
		Record: store.Invocation{RequestID: id, Outcome: outcome, Start: time.Unix(int64(1000+i), 0)}}
}

// The log excerpt keeps START and REPORT of a long log and marks the cut;
// it prefers failed invocations, keeps the order they ran in, says how
// many were left out and how many were throttled.
func TestExcerpt(t *testing.T) {
	long := "START RequestId: req-00\n" + strings.Repeat("noise line\n", 1000) + "REPORT RequestId: req-00\tDuration: 1.00 ms\n"
	var invokes []lambda.InvocationLog
	invokes = append(invokes, invocation(0, "error", long))
	for i := 1; i <= 12; i++ {
		invokes = append(invokes, invocation(i, "success", fmt.Sprintf("START RequestId: req-%02d\n%s\nREPORT RequestId: req-%02d\n", i, strings.Repeat("x", 900), i)))
	}
	invokes = append(invokes, lambda.InvocationLog{RequestID: "t", Record: store.Invocation{Outcome: "throttled", Start: time.Unix(2000, 0)}})
	got := excerpt(invokes)
	if len(got) > maxLogPerCheck+200 {
		t.Errorf("excerpt is %d bytes; the cap is %d", len(got), maxLogPerCheck)
	}
	for _, want := range []string{
		"START RequestId: req-00", "REPORT RequestId: req-00", // the failed one, head and tail
		"bytes of log cut …]",
		"more invocations not shown …]",
		"[1 invocation was throttled (TooManyRequestsException) and wrote no log]",
		"REPORT RequestId: req-12", // the newest of the rest
	} {
		if !strings.Contains(got, want) {
			t.Errorf("excerpt lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "RequestId: req-01\n") {
		t.Errorf("the oldest successful invocation should have been left out first:\n%s", got)
	}
	if i, j := strings.Index(got, "req-00"), strings.Index(got, "req-12"); i > j {
		t.Errorf("invocations are not in the order they ran")
	}
}
