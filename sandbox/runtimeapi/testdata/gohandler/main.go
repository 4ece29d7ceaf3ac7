// Command gohandler is a Lambda function built with the unmodified
// aws-lambda-go library; the runtimeapi tests run it against the Server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Echo  string `json:"echo"`
	Fail  string `json:"fail"`
	Big   int    `json:"big"`
	Exit  *int   `json:"exit"`
	Print string `json:"print"`
}

type result struct {
	Echo       string `json:"echo"`
	RequestID  string `json:"requestId"`
	DeadlineMs int64  `json:"deadlineMs"`
	ARN        string `json:"arn"`
	TraceEnv   string `json:"traceEnv"`
}

func handle(ctx context.Context, e event) (any, error) {
	if e.Print != "" {
		fmt.Println(e.Print)
	}
	switch {
	case e.Exit != nil:
		os.Exit(*e.Exit)
	case e.Fail != "":
		return nil, errors.New(e.Fail)
	case e.Big > 0:
		return strings.Repeat("x", e.Big), nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	return result{
		Echo:       e.Echo,
		RequestID:  lc.AwsRequestID,
		DeadlineMs: dl.UnixMilli(),
		ARN:        lc.InvokedFunctionArn,
		TraceEnv:   os.Getenv("_X_AMZN_TRACE_ID"),
	}, nil
}

func main() {
	fmt.Println("init: handler starting")
	lambda.Start(handle)
}
