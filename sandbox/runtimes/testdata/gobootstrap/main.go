// Command gobootstrap is a custom-runtime function built with the unmodified
// aws-lambda-go library: the tests copy it into the task root as "bootstrap"
// to prove the provided wrapper starts a real Go runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type answer struct {
	Echo         map[string]any `json:"echo"`
	RequestID    string         `json:"requestId"`
	Handler      string         `json:"handler"`
	ExecutionEnv *string        `json:"executionEnv"`
}

func handle(ctx context.Context, event map[string]any) (answer, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	a := answer{Echo: event, Handler: os.Getenv("_HANDLER")}
	if lc != nil {
		a.RequestID = lc.AwsRequestID
	}
	if v, ok := os.LookupEnv("AWS_EXECUTION_ENV"); ok {
		a.ExecutionEnv = &v
	}
	return a, nil
}

func main() { lambda.Start(handle) }
