package main

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireDocker skips without a Docker engine, or fails when
// LAMBDALAB_REQUIRE_DOCKER=1 (as `make test` sets it).
func requireDocker(t *testing.T) { requireDockerB(t) }

// requireDockerB is requireDocker for tests and benchmarks.
func requireDockerB(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("LAMBDALAB_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Docker is required (LAMBDALAB_REQUIRE_DOCKER=1): docker info: %v", err)
		}
		t.Skipf("no Docker engine answers (run scripts/deps.sh docker): %v", err)
	}
}

// TestServeStartsSandbox starts the whole program with its sandbox, which
// must come up beside the site and say which runtime isolates instances.
func TestServeStartsSandbox(t *testing.T) {
	requireDocker(t)
	s := startWithSandbox(t, t.TempDir())
	if !strings.Contains(s.Logs.String(), "isolation=") {
		t.Errorf("start-up does not say which runtime isolates the sandboxes:\n%s", s.Logs)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop with the sandbox running: %v", err)
	}
}

func TestServeWithoutDockerStillServes(t *testing.T) {
	// The Docker SDK reads DOCKER_HOST from the process environment.
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	s := startServeEnv(t, nil, t.TempDir())
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.Logs.String(), "labs are unavailable") {
		if time.Now().After(deadline) {
			t.Fatalf("no word that labs need Docker:\n%s", s.Logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(s.URL + "/lessons/compute-options")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("lesson without Docker: %v %v", err, resp)
	}
	resp.Body.Close()
}
