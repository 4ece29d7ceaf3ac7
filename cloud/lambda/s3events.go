package lambda

import (
	"context"
	"fmt"
)

// Notify queues an S3 event notification for a function, version or alias
// of account: an asynchronous invocation like any other (durable, retried
// as §9 says, with the target's event invoke configuration). S3 checked the
// function's resource policy when the notification was configured. A write
// made from inside an invocation continues that invocation's chain
// (recursive loop detection, recursion.go).
// It satisfies cloud/s3's Notifier.
func (s *Service) Notify(ctx context.Context, account, functionArn string, event []byte) error {
	ref, err := parseFunctionRef(functionArn, "")
	if err != nil {
		return fmt.Errorf("s3 notification to %s: %w", functionArn, err)
	}
	if ref.Account != "" && ref.Account != account {
		return fmt.Errorf("s3 notification to %s: the function is not in account %s", functionArn, account)
	}
	if len(event) > MaxAsyncPayload {
		return fmt.Errorf("s3 notification to %s: event of %d bytes is over the async limit", functionArn, len(event))
	}
	_, err = s.enqueue(ctx, asyncEvent{Account: account, Function: ref.Name, Qualifier: ref.Qualifier,
		InvokedARN: ref.arn(account), Payload: event, Lineage: s.lineageOf(ctx)})
	return err
}
