// Package dockertest gives the tests of any package one real Docker backend
// for the sandbox: the init built from source, the runtime image ensured,
// instance folders in a temporary directory. Docker is what those tests are
// about, so there is no fake here. It is for tests only.
package dockertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"lambdalab/sandbox/docker"
)

var shared struct {
	once    sync.Once
	err     error
	backend *docker.Backend
	dir     string
	initBin string
}

// Required reports whether Docker tests must run (LAMBDALAB_REQUIRE_DOCKER=1,
// as `make test` sets it) rather than skip.
func Required() bool { return os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" }

// Backend returns the test binary's shared backend. Without a usable Docker
// engine it skips the test with the reason, or fails it when Required.
// LAMBDALAB_TEST_OCI_RUNTIME=runsc runs the instances under gVisor.
func Backend(t testing.TB) *docker.Backend {
	t.Helper()
	if testing.Short() && !Required() {
		t.Skip("-short: skipping Docker tests")
	}
	shared.once.Do(setup)
	if shared.err != nil {
		if Required() {
			t.Fatalf("Docker is required (LAMBDALAB_REQUIRE_DOCKER=1): %v", shared.err)
		}
		t.Skipf("no usable Docker engine (run scripts/deps.sh docker): %v", shared.err)
	}
	return shared.backend
}

// Shared is the backend Backend returned, for code without a testing.TB
// that runs after it; nil before.
func Shared() *docker.Backend { return shared.backend }

// Dir is the shared temporary directory (for data folders tests make
// beside the backend's); empty before Backend succeeded.
func Dir() string { return shared.dir }

// InitBinary is the path of the init the backend mounts into instances.
func InitBinary() string { return shared.initBin }

func setup() {
	ctx := context.Background()
	if err := exec.Command("docker", "info").Run(); err != nil {
		shared.err = fmt.Errorf("docker info: %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "lambdalab-docker-test-")
	if err != nil {
		shared.err = err
		return
	}
	shared.dir = dir
	shared.initBin = filepath.Join(dir, "lambdalab-init")
	build := exec.Command("go", "build", "-o", shared.initBin, "lambdalab/sandbox/init")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		shared.err = fmt.Errorf("build init: %v\n%s", err, out)
		return
	}
	image, err := docker.EnsureImage(ctx, os.Stderr, false)
	if err != nil {
		shared.err = fmt.Errorf("runtime image: %w", err)
		return
	}
	shared.backend, shared.err = docker.New(ctx, docker.Options{Image: image, InitBinary: shared.initBin,
		DataDir: filepath.Join(dir, "data"), Runtime: os.Getenv("LAMBDALAB_TEST_OCI_RUNTIME")})
}

// Cleanup removes every instance the backend left and the temporary
// directory. Call it from TestMain after m.Run.
func Cleanup() {
	if shared.dir == "" {
		return
	}
	if shared.backend != nil {
		shared.backend.Sweep(context.Background())
		shared.backend.Close()
	}
	os.RemoveAll(shared.dir)
}
