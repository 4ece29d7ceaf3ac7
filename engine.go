package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/sandbox/initbin"
	"lambdalab/sandbox/runtimes"
	"lambdalab/store"
)

// sandboxSettings are the execution environment's knobs, read from the
// environment so that `lambdalab serve` keeps a short flag list.
type sandboxSettings struct {
	AccountConcurrency int           // LAMBDALAB_ACCOUNT_CONCURRENCY, default 10
	Prestart           int           // LAMBDALAB_PRESTART, default 2
	IdleTimeout        time.Duration // LAMBDALAB_IDLE_TIMEOUT, default 10m
	MaxInstances       int           // LAMBDALAB_MAX_INSTANCES, default 8 per CPU core
	HostMemoryMB       int           // the machine's memory less headroom (hostMemoryBudgetMB)
	HostCPUs           float64       // LAMBDALAB_HOST_CPUS, default cpuOvercommit per CPU core
	DiskBudgetMB       int           // LAMBDALAB_DISK_BUDGET_MB, default half the data folder's free disk beyond the reserve
	MaxProvisioned     int           // LAMBDALAB_MAX_PROVISIONED, default half of MaxInstances
	OCIRuntime         string        // LAMBDALAB_OCI_RUNTIME: runc (default) or runsc (gVisor)
	Backend            string        // LAMBDALAB_SANDBOX_BACKEND: docker (default) or kubernetes
}

// cpuOvercommit is how many vCPUs of quota each core of the machine backs.
// A quota is a ceiling, not a reservation, and lab handlers mostly wait
// (on the emulated S3 and DynamoDB, on sleeps, or idle and warm), so
// booking every quota against a core would turn learners away from an idle
// machine. At 2 the worst case, every instance computing at once, runs each
// at half the speed Lambda would: slow, but a handler's Lambda-sized
// timeout still has room.
const cpuOvercommit = 2

// hostFacts are what the settings' defaults and bounds derive from.
type hostFacts struct {
	CPUs       int
	MemoryMB   int   // memory all instances may use together; 0 means unknown
	FreeDiskMB int64 // free disk under the data folder
}

// probeHost reads the machine's cores, memory and the free disk where
// dataDir is (or will be: the nearest folder above it that exists).
func probeHost(dataDir string) (hostFacts, error) {
	h := hostFacts{CPUs: runtime.NumCPU(), MemoryMB: hostMemoryBudgetMB()}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return h, err
	}
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	h.FreeDiskMB, err = sandbox.FreeDiskMB(dir)
	return h, err
}

// maxInstancesBound is the most instances the machine's memory budget can
// hold at Lambda's smallest size: a larger cap is never reached.
func (h hostFacts) maxInstancesBound() int {
	if h.MemoryMB <= 0 {
		return 10000
	}
	return max(1, h.MemoryMB/sandbox.MinMemoryMB)
}

// readSandboxSettings reads the knobs and refuses nonsense with the
// variable's name and what it accepts: a zero or negative instance cap
// used to become the sandbox's default, 64, without a word.
func readSandboxSettings(getenv func(string) string, host hostFacts) (sandboxSettings, error) {
	s := sandboxSettings{AccountConcurrency: 10, Prestart: 2, IdleTimeout: 10 * time.Minute,
		MaxInstances: min(8*host.CPUs, host.maxInstancesBound()), HostMemoryMB: host.MemoryMB,
		HostCPUs: float64(cpuOvercommit * host.CPUs), OCIRuntime: getenv("LAMBDALAB_OCI_RUNTIME")}
	whole := func(name string, p *int, lo, hi int, note string) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s=%q: want a whole number from %d to %d (%s)", name, v, lo, hi, note)
		}
		*p = n
		return nil
	}
	if err := whole("LAMBDALAB_ACCOUNT_CONCURRENCY", &s.AccountConcurrency, 1, 10000, "each learner's concurrent invocations"); err != nil {
		return s, err
	}
	if err := whole("LAMBDALAB_MAX_INSTANCES", &s.MaxInstances, 1, host.maxInstancesBound(),
		"instances on this machine; the most its memory holds at 128 MB each"); err != nil {
		return s, err
	}
	if err := whole("LAMBDALAB_PRESTART", &s.Prestart, 0, s.MaxInstances, "instances started ahead of time, at most LAMBDALAB_MAX_INSTANCES"); err != nil {
		return s, err
	}
	s.MaxProvisioned = s.MaxInstances / 2
	if err := whole("LAMBDALAB_MAX_PROVISIONED", &s.MaxProvisioned, 0, s.MaxInstances, "provisioned instances for all learners together, at most LAMBDALAB_MAX_INSTANCES; 0 turns provisioned concurrency off"); err != nil {
		return s, err
	}
	if v := getenv("LAMBDALAB_HOST_CPUS"); v != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if hi := float64(64 * host.CPUs); err != nil || !(f > 0 && f <= hi) {
			return s, fmt.Errorf("LAMBDALAB_HOST_CPUS=%q: want the vCPUs all instances may use together, more than 0 and at most %g (64 per core)", v, hi)
		}
		s.HostCPUs = f
	}
	usable := host.FreeDiskMB - sandbox.DiskReserveMB
	if usable < sandbox.DefaultEphemeralMB {
		return s, fmt.Errorf("the data folder has %d MB of disk free; the sandbox needs %d MB: %d for one instance's /tmp and %d kept for the database",
			host.FreeDiskMB, sandbox.DefaultEphemeralMB+sandbox.DiskReserveMB, sandbox.DefaultEphemeralMB, sandbox.DiskReserveMB)
	}
	// Half: Docker's images and containers, uploaded code and the logs
	// often share this disk, and nothing else here accounts for them.
	s.DiskBudgetMB = int(max(usable/2, sandbox.DefaultEphemeralMB))
	if err := whole("LAMBDALAB_DISK_BUDGET_MB", &s.DiskBudgetMB, sandbox.DefaultEphemeralMB, int(usable),
		fmt.Sprintf("MB of /tmp for all instances together; the most is the data folder's free disk less %d MB kept for the database", sandbox.DiskReserveMB)); err != nil {
		return s, err
	}
	if v := getenv("LAMBDALAB_IDLE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("LAMBDALAB_IDLE_TIMEOUT=%q: want a duration such as 10m", v)
		}
		s.IdleTimeout = d
	}
	if s.OCIRuntime != "" && s.OCIRuntime != "runc" && s.OCIRuntime != "runsc" {
		return s, fmt.Errorf("LAMBDALAB_OCI_RUNTIME=%q: want runc or runsc", s.OCIRuntime)
	}
	switch s.Backend = cmp.Or(getenv("LAMBDALAB_SANDBOX_BACKEND"), "docker"); s.Backend {
	case "docker":
	case "kubernetes":
		if getenv("LAMBDALAB_K8S_IMAGE") == "" {
			return s, errors.New("LAMBDALAB_SANDBOX_BACKEND=kubernetes needs LAMBDALAB_K8S_IMAGE: the runtime image's reference, as `lambdalab image` printed it, present on every sandbox node")
		}
		if s.OCIRuntime != "" {
			return s, errors.New("LAMBDALAB_OCI_RUNTIME is the Docker backend's; on Kubernetes the sandbox nodes' containerd chooses the runtime")
		}
		// The cluster books memory, CPU and disk on its nodes (a Pod that
		// does not fit is refused at the node: sandbox.ErrCapacity); this
		// machine's own are not the instances'.
		s.HostMemoryMB, s.HostCPUs, s.DiskBudgetMB = 0, 0, 0
	default:
		return s, fmt.Errorf("LAMBDALAB_SANDBOX_BACKEND=%q: want docker (the default) or kubernetes", s.Backend)
	}
	return s, nil
}

// checkSandboxSettings reads the settings for dataDir only to refuse bad
// ones before anything starts (serve starts the sandbox in the background,
// where an error would read like a missing Docker engine).
func checkSandboxSettings(getenv func(string) string, dataDir string) error {
	host, err := probeHost(dataDir)
	if err != nil {
		return err
	}
	_, err = readSandboxSettings(getenv, host)
	return err
}

// sandboxServices are what code inside instances reaches: the AWS endpoint
// and the X-Ray collector.
type sandboxServices struct {
	aws  http.Handler
	xray func(sandbox.Caller, []byte)
}

// startSandbox starts the backend that settings name (this machine's Docker
// engine, or Pods on a Kubernetes cluster's sandbox nodes) and the
// execution engine on it; release, after the engine has closed, lets the
// backend go. Labs need it; lessons do not, so serve keeps going without
// it and says why.

func startSandbox(ctx context.Context, db *store.DB, dataDir string, getenv func(string) string, svcs sandboxServices, progress io.Writer, logger *slog.Logger) (*sandbox.Engine, func(), error) {
	host, err := probeHost(dataDir)
	if err != nil {
		return nil, nil, err
	}
	settings, err := readSandboxSettings(getenv, host)
	if err != nil {
		return nil, nil, err
	}
	var backend sandbox.Backend
	release := func() {}
	switch settings.Backend {
	case "docker":
		if backend, err = startDockerBackend(ctx, dataDir, settings, progress, logger); err != nil {
			return nil, nil, err
		}
	case "kubernetes":
		k, err := startKubernetesBackend(ctx, dataDir, getenv, logger)
		if err != nil {
			return nil, nil, err
		}
		backend, release = k.backend, k.close
	}
	if err := backend.Sweep(ctx); err != nil {
		logger.WarnContext(ctx, "sweep leftover instances", "err", err)
	}
	engine := sandbox.New(db, backend, sandbox.Config{
		AccountConcurrency: settings.AccountConcurrency,
		Prestart:           settings.Prestart,
		IdleTimeout:        settings.IdleTimeout,
		MaxInstances:       settings.MaxInstances,
		HostMemoryMB:       settings.HostMemoryMB,
		HostCPUs:           settings.HostCPUs,
		DiskBudgetMB:       settings.DiskBudgetMB,
		MaxProvisioned:     cmp.Or(settings.MaxProvisioned, -1), // 0 here means none
		Runtime: func(rt string) ([]string, []string, error) {
			cmd, err := runtimes.Command(rt)
			return cmd, runtimes.Env(rt), err
		},
		AWS:    svcs.aws,
		XRay:   svcs.xray,
		Logger: logger,
	})
	b := engine.Budgets()
	logger.InfoContext(ctx, "sandbox budgets", "max_instances", b.MaxInstances, "host_memory_mb", b.HostMemoryMB,
		"host_cpus", b.HostCPUs, "disk_budget_mb", b.DiskBudgetMB, "max_provisioned", b.MaxProvisioned,
		"account_concurrency", engine.AccountConcurrency(), "prestart", settings.Prestart, "cpu_cores", host.CPUs,
		"free_disk_mb", host.FreeDiskMB)
	return engine, release, nil
}

// startDockerBackend runs instances as containers on this machine's Docker
// engine, building the runtime image first if this recipe has none.
func startDockerBackend(ctx context.Context, dataDir string, settings sandboxSettings, progress io.Writer, logger *slog.Logger) (*docker.Backend, error) {
	initBin, err := initBinary(filepath.Join(dataDir, "sandbox"), logger)
	if err != nil {
		return nil, err
	}
	image, err := docker.EnsureImage(ctx, progress, false)
	if err != nil {
		return nil, fmt.Errorf("runtime image: %w", err)
	}
	return docker.New(ctx, docker.Options{
		Image:      image,
		InitBinary: initBin,
		DataDir:    filepath.Join(dataDir, "sandbox"),
		Runtime:    settings.OCIRuntime,
		Logger:     logger,
	})
}

// initBinary is the executable that becomes PID 1 in every instance: the
// small init embedded by `make build`, or else this very program, which runs
// the init when started under that name (see main). Either must be
// statically linked to run inside the runtime image.
func initBinary(dir string, logger *slog.Logger) (string, error) {
	if path, ok, err := initbin.Install(dir); ok {
		return path, err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable for the sandbox init: %w", err)
	}
	logger.Info("sandbox init is lambdalab itself (build with `make build` to embed the small init and save memory in every instance)")
	return filepath.EvalSymlinks(exe)
}

// hostMemoryBudgetMB is the memory all instances may be given together: the
// machine's memory less 2 GiB (or a quarter, if smaller) for lambdalab, the
// Docker engine and the system. Zero means unknown: no budget.
func hostMemoryBudgetMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0
			}
			total := kb / 1024
			return total - min(2048, total/4)
		}
	}
	return 0
}
