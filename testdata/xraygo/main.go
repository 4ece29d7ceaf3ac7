// Command xraygo is a provided function for lambdalab's tests: an
// aws-lambda-go handler that opens a subsegment with the X-Ray SDK for Go
// and returns the trace header it ran under. It is a module of its own so
// that the SDK's dependencies stay out of lambdalab's go.mod.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-xray-sdk-go/xray"
)

func handle(ctx context.Context) (map[string]string, error) {
	_, seg := xray.BeginSubsegment(ctx, "work")
	seg.AddAnnotation("k", "v")
	seg.Close(nil)
	return map[string]string{"header": os.Getenv("_X_AMZN_TRACE_ID")}, nil
}

func main() {
	lambda.Start(handle)
}
