// Package runtimes holds lambdalab's own runtime interface clients: the
// programs that run inside an execution environment, speak the Lambda
// Runtime API at AWS_LAMBDA_RUNTIME_API, load the learner's handler and call
// it once per event. FS is copied to /var/runtime in the runtime image.
//
// It knows nothing about Docker or about the Runtime API server; it only
// describes how each runtime is started and what environment it expects.
package runtimes

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// FS holds the client files, rooted so that FS path "python/bootstrap" is
// /var/runtime/python/bootstrap in the image. Embedded files carry no mode:
// use FileMode when copying them out.
//
//go:embed python nodejs provided
var FS embed.FS

// Dir is where the image holds FS (Lambda's LAMBDA_RUNTIME_DIR).
const Dir = "/var/runtime"

// Runtime names, as in a function's configuration.
const (
	Python313 = "python3.13"
	Nodejs20  = "nodejs20.x"
	Provided  = "provided"
)

// Names lists the runtimes lambdalab supports, in display order.
func Names() []string { return []string{Python313, Nodejs20, Provided} }

// commands maps a runtime to the FS directory of its start script. Every
// runtime starts through a small shell "bootstrap" in that directory, as on
// Lambda, where /var/runtime/bootstrap sets AWS_EXECUTION_ENV and starts the
// interpreter.
var commands = map[string]string{
	Python313: "python",
	Nodejs20:  "nodejs",
	Provided:  "provided",
}

// Command returns the argv that starts runtime inside the image. For
// provided it is a wrapper that runs /var/task/bootstrap, else
// /opt/bootstrap, and reports Lambda's Runtime.InvalidEntrypoint error when
// neither exists.
func Command(runtime string) ([]string, error) {
	dir, ok := commands[runtime]
	if !ok {
		return nil, fmt.Errorf("runtime %q is not supported (want one of %v)", runtime, Names())
	}
	return []string{path.Join(Dir, dir, "bootstrap")}, nil
}

// FileMode is the mode a file of FS must have once copied out: the start
// scripts are executable, everything else is read-only data.
func FileMode(name string) fs.FileMode {
	if path.Base(name) == "bootstrap" {
		return 0o755
	}
	return 0o644
}

// Env returns the environment defaults Lambda sets for runtime, beyond the
// per-function variables (_HANDLER, AWS_LAMBDA_FUNCTION_NAME, …) that the
// sandbox sets for every runtime. The learner's own variables may override
// the unreserved ones (PATH, NODE_PATH, …); see reference §2.1. It returns
// nil for an unknown runtime.
func Env(runtime string) []string {
	if _, ok := commands[runtime]; !ok {
		return nil
	}
	env := []string{
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=" + Dir,
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	}
	switch runtime {
	case Nodejs20:
		env = append(env, "NODE_PATH=/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules")
	}
	return slices.Clip(env)
}
