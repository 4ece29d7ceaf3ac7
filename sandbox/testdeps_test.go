package sandbox_test

// The Go handlers under testdata/ (here, in sandbox/runtimeapi and in
// sandbox/runtimes) are built by the tests against this module's go.mod.
// go mod tidy does not look into testdata, so this import is what keeps
// aws-lambda-go required.
import (
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-lambda-go/lambdacontext"
)
