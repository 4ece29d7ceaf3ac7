// Package runtimes holds lambdalab's own runtime interface clients: the
// programs that run inside an execution environment, speak the Lambda
// Runtime API at AWS_LAMBDA_RUNTIME_API, load the learner's handler and call
// it once per event. FS is copied to /var/runtime in the runtime image.
//
// Layout of FS (and of /var/runtime in the image):
//
//	python/bootstrap     sh: sets AWS_EXECUTION_ENV, runs bootstrap.py with python -u
//	python/bootstrap.py  the Python client (standard library only)
//	nodejs/bootstrap     sh: NODE_PATH default, V8 heap sizes from the memory size
//	nodejs/index.mjs     the Node.js client (node: modules only)
//	provided/bootstrap   bash: runs /var/task/bootstrap or /opt/bootstrap
//
// The image must provide /bin/sh, /bin/bash (the provided wrapper uses its
// execfail option and /dev/tcp), and python3.13 and node either at
// /var/lang/bin or on PATH. The python and nodejs start scripts honour
// AWS_LAMBDA_EXEC_WRAPPER as Lambda's managed runtimes do; custom runtimes
// do not.
//
// It knows nothing about Docker or about the Runtime API server; it only
// describes how each runtime is started and what environment it expects.
package runtimes

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
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

// Command returns the argv that starts runtime inside the image, with
// /var/task as working directory. For provided it is a wrapper that runs
// /var/task/bootstrap, else /opt/bootstrap; when neither can start it posts
// a Runtime.InvalidEntrypoint init error with Lambda's message ("Couldn't
// find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]", "fork/exec
// /var/task/bootstrap: permission denied", "…: exec format error") and exits
// 1. Lambda shows that message to the caller prefixed with "RequestId: <id>
// Error: ", which only the platform can add.
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

// Env returns what Lambda adds to the environment of runtime beyond the
// variables every runtime gets (_HANDLER, AWS_LAMBDA_FUNCTION_NAME, PATH, …,
// reference §2.1), or nil for an unknown runtime. The start scripts set the
// same values themselves, so these are for showing and for checks; a
// function's own NODE_PATH overrides the default, and PYTHONPATH is
// deliberately absent: when it is unset the Python client orders sys.path as
// Lambda does (see PythonPath).
func Env(runtime string) []string {
	switch runtime {
	case Python313:
		return []string{"AWS_EXECUTION_ENV=AWS_Lambda_python3.13"}
	case Nodejs20:
		return []string{
			"AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x",
			"NODE_PATH=" + NodePath,
		}
	case Provided:
		return []string{}
	}
	return nil
}

// NodePath is the module search path of nodejs20.x when the function sets
// no NODE_PATH: layer directories first, then the runtime's own modules.
const NodePath = "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"

// PythonPath is the start of sys.path for python3.13 when the function sets
// no PYTHONPATH: the code, then the layer directories, then (not listed) the
// interpreter's own directories with boto3. So a package in the zip shadows
// the same package in a layer, and both shadow the image's boto3.
var PythonPath = []string{
	"/var/task",
	"/opt/python/lib/python3.13/site-packages",
	"/opt/python",
}
