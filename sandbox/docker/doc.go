// Package docker implements sandbox.Backend with one Docker container per
// Lambda execution environment, and builds the runtime image those
// containers run. It is the only package that imports the Docker SDK.
package docker

import (
	_ "github.com/docker/docker/client"
	_ "github.com/moby/go-archive"
)
