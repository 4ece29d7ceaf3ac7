package lambda

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lambdalab/sandbox"
)

// Provisioned concurrency past the machine's budget is refused as the
// lambdalab machine being busy (a 503 that says so), and past the account's
// unreserved concurrency with Lambda's own InvalidParameterValueException.
func TestPutProvisionedConcurrencyBudgets(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, &stubBackend{invoke: func(ctx context.Context, inv sandbox.Invocation) sandbox.Outcome { return okOutcome() }},
		sandbox.Config{MaxInstances: 4, AccountConcurrency: 10}, Config{})
	for _, name := range []string{"a", "b"} {
		l.pyFunction(t, name, "def handler(event, context):\n    return 1\n")
		if _, err := l.svc.PublishVersion(ctx, l.acct, name, PublishVersionInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.svc.PutProvisionedConcurrencyConfig(ctx, l.acct, "a", "1", 2); err != nil {
		t.Fatalf("provisioning the machine's budget of 2: %v", err)
	}
	_, err := l.svc.PutProvisionedConcurrencyConfig(ctx, l.acct, "b", "1", 1)
	var le *Error
	if !errors.As(err, &le) || le != ErrCapacity || le.Status != 503 || !strings.Contains(le.Message, "lambdalab machine is busy") {
		t.Errorf("provisioning past the machine's budget = %v, want the 503 that says the lambdalab machine is busy", err)
	}
	if _, err := l.svc.PutProvisionedConcurrencyConfig(ctx, l.acct, "a", "1", 10); !errors.As(err, &le) ||
		le.Type != "InvalidParameterValueException" || !strings.Contains(le.Message, "UnreservedConcurrentExecution below its minimum value of [1]") {
		t.Errorf("provisioning past the account's unreserved concurrency = %v, want Lambda's InvalidParameterValueException", err)
	}
}
