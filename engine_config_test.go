package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadSandboxSettings(t *testing.T) {
	host := hostFacts{CPUs: 2, MemoryMB: 22000, FreeDiskMB: 70000}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	s, err := readSandboxSettings(env(), host)
	if err != nil {
		t.Fatal(err)
	}
	want := sandboxSettings{AccountConcurrency: 10, Prestart: 2, IdleTimeout: 10 * time.Minute, MaxInstances: 16,
		HostMemoryMB: 22000, HostCPUs: 4, DiskBudgetMB: (70000 - 1024) / 2, MaxProvisioned: 8, Backend: "docker"}
	if s != want {
		t.Errorf("defaults = %+v\nwant       %+v", s, want)
	}

	good := []struct {
		kv    []string
		check func(sandboxSettings) bool
	}{
		{[]string{"LAMBDALAB_MAX_INSTANCES", "40"}, func(s sandboxSettings) bool { return s.MaxInstances == 40 && s.MaxProvisioned == 20 }},
		{[]string{"LAMBDALAB_MAX_INSTANCES", " 171 "}, func(s sandboxSettings) bool { return s.MaxInstances == 171 }},
		{[]string{"LAMBDALAB_HOST_CPUS", "1.5"}, func(s sandboxSettings) bool { return s.HostCPUs == 1.5 }},
		{[]string{"LAMBDALAB_DISK_BUDGET_MB", "2048"}, func(s sandboxSettings) bool { return s.DiskBudgetMB == 2048 }},
		{[]string{"LAMBDALAB_MAX_PROVISIONED", "0"}, func(s sandboxSettings) bool { return s.MaxProvisioned == 0 }},
		{[]string{"LAMBDALAB_PRESTART", "0"}, func(s sandboxSettings) bool { return s.Prestart == 0 }},
		// On Kubernetes the nodes hold the instances: no budget of this machine's.
		{[]string{"LAMBDALAB_SANDBOX_BACKEND", "kubernetes", "LAMBDALAB_K8S_IMAGE", "lambdalab/runtime:x"}, func(s sandboxSettings) bool {
			return s.Backend == "kubernetes" && s.HostMemoryMB == 0 && s.HostCPUs == 0 && s.DiskBudgetMB == 0
		}},
	}
	for _, tt := range good {
		s, err := readSandboxSettings(env(tt.kv...), host)
		if err != nil || !tt.check(s) {
			t.Errorf("%v: settings %+v, err %v", tt.kv, s, err)
		}
	}

	bad := []struct {
		kv   []string
		want string
	}{
		{[]string{"LAMBDALAB_MAX_INSTANCES", "0"}, `LAMBDALAB_MAX_INSTANCES="0": want a whole number from 1 to 171`},
		{[]string{"LAMBDALAB_MAX_INSTANCES", "-4"}, "from 1 to 171"},
		{[]string{"LAMBDALAB_MAX_INSTANCES", "lots"}, "LAMBDALAB_MAX_INSTANCES"},
		{[]string{"LAMBDALAB_MAX_INSTANCES", "172"}, "its memory holds at 128 MB each"},
		{[]string{"LAMBDALAB_MAX_INSTANCES", "99999999999999999999"}, "LAMBDALAB_MAX_INSTANCES"},
		{[]string{"LAMBDALAB_ACCOUNT_CONCURRENCY", "0"}, "LAMBDALAB_ACCOUNT_CONCURRENCY"},
		{[]string{"LAMBDALAB_PRESTART", "17"}, "LAMBDALAB_PRESTART"},
		{[]string{"LAMBDALAB_PRESTART", "-1"}, "LAMBDALAB_PRESTART"},
		{[]string{"LAMBDALAB_HOST_CPUS", "0"}, "LAMBDALAB_HOST_CPUS"},
		{[]string{"LAMBDALAB_HOST_CPUS", "-1"}, "LAMBDALAB_HOST_CPUS"},
		{[]string{"LAMBDALAB_HOST_CPUS", "NaN"}, "LAMBDALAB_HOST_CPUS"},
		{[]string{"LAMBDALAB_HOST_CPUS", "1e9"}, "at most 128"},
		{[]string{"LAMBDALAB_DISK_BUDGET_MB", "100"}, "LAMBDALAB_DISK_BUDGET_MB"},
		{[]string{"LAMBDALAB_DISK_BUDGET_MB", "69000"}, "free disk less 1024 MB kept for the database"},
		{[]string{"LAMBDALAB_MAX_PROVISIONED", "17"}, "LAMBDALAB_MAX_PROVISIONED"},
		{[]string{"LAMBDALAB_MAX_PROVISIONED", "-1"}, "LAMBDALAB_MAX_PROVISIONED"},
		{[]string{"LAMBDALAB_IDLE_TIMEOUT", "0s"}, "LAMBDALAB_IDLE_TIMEOUT"},
		{[]string{"LAMBDALAB_SANDBOX_BACKEND", "k8s"}, `LAMBDALAB_SANDBOX_BACKEND="k8s": want docker (the default) or kubernetes`},
		{[]string{"LAMBDALAB_SANDBOX_BACKEND", "kubernetes"}, "needs LAMBDALAB_K8S_IMAGE"},
		{[]string{"LAMBDALAB_SANDBOX_BACKEND", "kubernetes", "LAMBDALAB_K8S_IMAGE", "x", "LAMBDALAB_OCI_RUNTIME", "runsc"}, "containerd chooses the runtime"},
	}
	for _, tt := range bad {
		_, err := readSandboxSettings(env(tt.kv...), host)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: err %v, want one containing %q", tt.kv[0], tt.kv[1], err, tt.want)
		}
	}

	// A small machine's default cap is what its memory holds, not 8 per core.
	s, err = readSandboxSettings(env(), hostFacts{CPUs: 4, MemoryMB: 1536, FreeDiskMB: 70000})
	if err != nil || s.MaxInstances != 12 {
		t.Errorf("default cap with 1,536 MB to share = %d (err %v), want 12", s.MaxInstances, err)
	}
	// Too little disk for the database's reserve and one /tmp.
	_, err = readSandboxSettings(env(), hostFacts{CPUs: 2, MemoryMB: 22000, FreeDiskMB: 1200})
	if err == nil || !strings.Contains(err.Error(), "1200 MB of disk free") {
		t.Errorf("settings with 1,200 MB free = %v, want the disk refused", err)
	}
}

// TestServeRefusesBadCapacity: a nonsense instance cap stops serve before
// it touches the data folder, instead of the sandbox quietly using 64.
func TestServeRefusesBadCapacity(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	getenv := func(k string) string {
		if k == "LAMBDALAB_MAX_INSTANCES" {
			return "0"
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--aws-addr", "off", "--data", data}, getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LAMBDALAB_MAX_INSTANCES") {
		t.Errorf("serve with LAMBDALAB_MAX_INSTANCES=0 = %v, want it refused by name", err)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("serve with a bad instance cap created the data folder")
	}
}
