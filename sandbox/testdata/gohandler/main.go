// Command gohandler is a Lambda function built with the unmodified
// aws-lambda-go library, run by the sandbox tests as a provided-runtime
// bootstrap: the proof that our Runtime API is faithful.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Fail bool   `json:"fail"`
	Name string `json:"name"`
}

type reply struct {
	Greeting    string `json:"greeting"`
	RequestID   string `json:"request_id"`
	FunctionARN string `json:"function_arn"`
	DeadlineMS  int64  `json:"deadline_ms"`
	RemainingMS int64  `json:"remaining_ms"`
	Version     string `json:"version"`
}

func handle(ctx context.Context, ev event) (reply, error) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return reply{}, errors.New("no lambda context")
	}
	if ev.Fail {
		return reply{}, fmt.Errorf("asked to fail for %s", ev.Name)
	}
	deadline, _ := ctx.Deadline()
	fmt.Println("hello from go", ev.Name)
	return reply{
		Greeting:    "hello " + ev.Name,
		RequestID:   lc.AwsRequestID,
		FunctionARN: lc.InvokedFunctionArn,
		DeadlineMS:  deadline.UnixMilli(),
		RemainingMS: time.Until(deadline).Milliseconds(),
		Version:     os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"),
	}, nil
}

func main() { lambda.Start(handle) }
