package main

import (
	"bufio"
	"context"
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
	OCIRuntime         string        // LAMBDALAB_OCI_RUNTIME: runc (default) or runsc (gVisor)
}

func readSandboxSettings(getenv func(string) string) (sandboxSettings, error) {
	s := sandboxSettings{AccountConcurrency: 10, Prestart: 2, IdleTimeout: 10 * time.Minute,
		MaxInstances: 8 * runtime.NumCPU(), OCIRuntime: getenv("LAMBDALAB_OCI_RUNTIME")}
	ints := map[string]*int{
		"LAMBDALAB_ACCOUNT_CONCURRENCY": &s.AccountConcurrency,
		"LAMBDALAB_PRESTART":            &s.Prestart,
		"LAMBDALAB_MAX_INSTANCES":       &s.MaxInstances,
	}
	for name, p := range ints {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%s=%q: want a whole number of 0 or more", name, v)
			}
			*p = n
		}
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
	return s, nil
}

// startSandbox connects to Docker, makes sure the runtime image exists and
// starts the execution engine. Labs need it; lessons do not, so serve keeps
// going without it and says why.
// sandboxServices are what code inside instances reaches: the AWS endpoint
// and the X-Ray collector.
type sandboxServices struct {
	aws  http.Handler
	xray func(sandbox.Caller, []byte)
}

func startSandbox(ctx context.Context, db *store.DB, dataDir string, getenv func(string) string, svcs sandboxServices, progress io.Writer, logger *slog.Logger) (*sandbox.Engine, error) {
	settings, err := readSandboxSettings(getenv)
	if err != nil {
		return nil, err
	}
	initBin, err := initBinary(filepath.Join(dataDir, "sandbox"), logger)
	if err != nil {
		return nil, err
	}
	image, err := docker.EnsureImage(ctx, progress, false)
	if err != nil {
		return nil, fmt.Errorf("runtime image: %w", err)
	}
	backend, err := docker.New(ctx, docker.Options{
		Image:      image,
		InitBinary: initBin,
		DataDir:    filepath.Join(dataDir, "sandbox"),
		Runtime:    settings.OCIRuntime,
		Logger:     logger,
	})
	if err != nil {
		return nil, err
	}
	if err := backend.Sweep(ctx); err != nil {
		logger.WarnContext(ctx, "sweep leftover instances", "err", err)
	}
	engine := sandbox.New(db, backend, sandbox.Config{
		AccountConcurrency: settings.AccountConcurrency,
		Prestart:           settings.Prestart,
		IdleTimeout:        settings.IdleTimeout,
		MaxInstances:       settings.MaxInstances,
		HostMemoryMB:       hostMemoryBudgetMB(),
		Runtime: func(rt string) ([]string, []string, error) {
			cmd, err := runtimes.Command(rt)
			return cmd, runtimes.Env(rt), err
		},
		AWS:    svcs.aws,
		XRay:   svcs.xray,
		Logger: logger,
	})
	return engine, nil
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
