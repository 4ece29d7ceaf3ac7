// Package k8stest gives tests a real Kubernetes API server: one control plane
// (kube-apiserver and etcd, no controller manager, scheduler or kubelet) per
// test process, started with controller-runtime's envtest from the binaries
// scripts/k8s-bins.sh builds and caches, and a fresh namespace per test.
//
// It knows nothing of lambdalab/sandbox/kubernetes, whose tests import it.
//
// A package that calls Config should run its tests through Main:
//
//	func TestMain(m *testing.M) { k8stest.Main(m) }
//
// Without Main, or when the test process is killed (a -timeout panic, say), a
// watchdog kills kube-apiserver and etcd once the process has gone and removes
// their folder, about a second later.
package k8stest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The versions scripts/k8s-bins.sh builds; its cache folder is named for them.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
)

// fix is what to run when the machine has no control plane binaries.
const fix = "build them once (7 to 13 minutes on 2 cores) with scripts/k8s-bins.sh"

var (
	mu      sync.Mutex // guards cp, cpErr and noBins
	cp      *controlPlane
	cpErr   error // why the control plane could not start; every later call fails the same way
	noBins  bool  // cpErr is "no binaries": skip rather than fail
	counter atomic.Int64
)

// Config returns a *rest.Config for a real kube-apiserver + etcd control
// plane, with the rights of system:masters, and a namespace made for this
// test. At the test's cleanup everything in the namespace is deleted and then
// the namespace itself, for good: with no controller manager a deleted
// namespace would otherwise stay Terminating forever.
//
// The first call in a process starts the control plane, which serves every
// later call. The binaries come from $LAMBDALAB_K8S_BINS, else from the folder
// scripts/k8s-bins.sh caches them in (BinDir). Without them the test is
// skipped, or failed when LAMBDALAB_REQUIRE_K8S=1. Each call returns its own
// copy of the config. Safe for parallel tests.
func Config(t testing.TB) (cfg *rest.Config, namespace string) {
	t.Helper()
	mu.Lock()
	if cp == nil && cpErr == nil {
		cp, cpErr = start()
		if cpErr != nil {
			noBins = errors.Is(cpErr, errNoBinaries)
		} else {
			t.Logf("k8stest: control plane (kube-apiserver %s, etcd %s) started in %v", KubernetesVersion, EtcdVersion, cp.startup.Round(time.Millisecond))
		}
	}
	c, err, skip := cp, cpErr, noBins
	mu.Unlock()
	if err != nil {
		if skip && os.Getenv("LAMBDALAB_REQUIRE_K8S") != "1" {
			t.Skipf("%v: %s", err, fix)
		}
		if skip {
			t.Fatalf("Kubernetes is required (LAMBDALAB_REQUIRE_K8S=1): %v: %s", err, fix)
		}
		t.Fatalf("start test Kubernetes control plane: %v", err)
	}

	namespace = namespaceName(t.Name(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create test namespace %s: %v", namespace, err)
	}
	t.Cleanup(func() {
		mu.Lock()
		stopped := cp != c
		mu.Unlock()
		if stopped {
			return // Main already stopped the control plane, and etcd's data with it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := c.deleteNamespace(ctx, namespace); err != nil {
			t.Errorf("delete test namespace %s: %v", namespace, err)
		}
	})
	return rest.CopyConfig(c.cfg), namespace
}

// Main runs a package's tests, then stops the control plane if one was
// started and removes its folder, and exits with the tests' code. Call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the control plane if one was started and removes its folder:
// for a TestMain that has more to clean up after m.Run than Main allows.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if cp != nil {
		if err := cp.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "k8stest: %v\n", err)
		}
		cp = nil
	}
}

// BinDir is the folder Config takes kube-apiserver and etcd from:
// $LAMBDALAB_K8S_BINS when set, else the folder scripts/k8s-bins.sh builds
// them into, computed the same way:
// ${LAMBDALAB_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambdalab/k8s}/v1.37.2-etcd3.6.16.
func BinDir() (string, error) {
	if d := os.Getenv("LAMBDALAB_K8S_BINS"); d != "" {
		return d, nil
	}
	cache := os.Getenv("LAMBDALAB_K8S_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home := os.Getenv("HOME")
			if home == "" {
				return "", errors.New("neither LAMBDALAB_K8S_BINS, LAMBDALAB_K8S_CACHE, XDG_CACHE_HOME nor HOME is set")
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "lambdalab", "k8s")
	}
	return filepath.Join(cache, KubernetesVersion+"-etcd"+strings.TrimPrefix(EtcdVersion, "v")), nil
}

var errNoBinaries = errors.New("no Kubernetes control plane binaries")

// controlPlane is one running envtest environment and the folder holding
// etcd's data, the API server's certificates and both logs.
type controlPlane struct {
	env      *envtest.Environment
	dir      string
	cfg      *rest.Config
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	watchdog *exec.Cmd // nil where there is no /proc to find the children in
	startup  time.Duration
}

// namespaceName is a DNS label (at most 63 lower-case letters, digits and
// dashes) that starts with the counter, so it is unique in the process, and
// goes on with the test's name, so a leftover object says whose it was.
func namespaceName(test string, n int64) string {
	slug := strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(test), "-"), "-")
	name := "t" + strconv.FormatInt(n, 10) + "-" + slug
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}

var nonLabel = regexp.MustCompile(`[^a-z0-9]+`)

func start() (*controlPlane, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoBinaries, err)
	}
	apiserverBin := filepath.Join(bin, "kube-apiserver")
	etcdBin := filepath.Join(bin, "etcd")
	for _, p := range []string{apiserverBin, etcdBin} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%w: no executable %s", errNoBinaries, p)
		}
	}
	dir, err := os.MkdirTemp(tempParent(), "lambdalab-k8s-")
	if err != nil {
		return nil, err
	}
	c, err := startIn(dir, apiserverBin, etcdBin)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func startIn(dir, apiserverBin, etcdBin string) (*controlPlane, error) {
	etcdLog, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	defer etcdLog.Close() // the child has its own copy
	apiLog, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	defer apiLog.Close()

	apiserver := &envtest.APIServer{
		Path:    apiserverBin,
		CertDir: filepath.Join(dir, "apiserver"),
		Out:     apiLog,
		Err:     apiLog,
	}
	// The API server keeps the "kubernetes" Service's endpoints pointing at
	// its advertised address; bound to 127.0.0.1 it refuses to, and logs an
	// error every 10 s. No test here reaches the API server through that
	// Service, so the reconciler is off.
	apiserver.Configure().Set("endpoint-reconciler-type", "none")
	etcd := &envtest.Etcd{
		Path: etcdBin,
		// Our folder rather than envtest's own temp folder, so that Stop,
		// and the watchdog, know what to remove.
		DataDir: filepath.Join(dir, "etcd"),
		Out:     etcdLog,
		Err:     etcdLog,
	}
	for _, d := range []string{apiserver.CertDir, etcd.DataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	env := &envtest.Environment{
		ControlPlane: envtest.ControlPlane{APIServer: apiserver, Etcd: etcd},
		// The whole control plane started in 3.5 s here when idle; the default 20 s is too
		// tight for a 2-core machine that is also building or running Docker.
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  20 * time.Second,
	}

	began := time.Now()
	cfg, err := env.Start()
	if err != nil {
		env.Stop()
		return nil, fmt.Errorf("envtest: %w\n%s", err, logs(dir))
	}
	c := &controlPlane{env: env, dir: dir, cfg: cfg, startup: time.Since(began)}
	c.watchdog = startWatchdog(dir, apiserverBin, etcdBin)
	// Cleanup deletes every kind there is, deprecated ones too (v1
	// Endpoints): the API server's warnings about them are not the test's.
	own := rest.CopyConfig(cfg)
	own.WarningHandler = rest.NoWarnings{}
	if c.client, err = kubernetes.NewForConfig(own); err != nil {
		c.stop()
		return nil, err
	}
	if c.dynamic, err = dynamic.NewForConfig(own); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// logs is the end of both logs, for an error that says why start-up failed.
func logs(dir string) string {
	var b strings.Builder
	for _, name := range []string{"etcd.log", "kube-apiserver.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "%s (end):\n%s\n", name, data)
	}
	return b.String()
}

// stop stops the watchdog first (it must not kill a process ID that has
// been reused once ours have exited), then the API server and etcd, then
// removes the folder.
func (c *controlPlane) stop() error {
	if c.watchdog != nil {
		c.watchdog.Process.Kill()
		c.watchdog.Wait()
	}
	err := c.env.Stop()
	if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("stop test Kubernetes control plane: %w", err)
	}
	return nil
}

// startWatchdog starts a shell that waits for this process to end, however
// it ends, then kills kube-apiserver and etcd and removes dir. envtest starts
// them in process groups of their own with no parent-death signal, so a test
// binary killed by -timeout would otherwise leave both running for good. The
// watchdog has a process group of its own too, so that a Ctrl-C to the test
// run does not take it down before it has done its work.
func startWatchdog(dir string, bins ...string) *exec.Cmd {
	pids := children(bins...)
	if len(pids) == 0 {
		return nil
	}
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done; dir=$2; shift 2; kill -KILL "$@" 2>/dev/null; rm -rf "$dir"`
	args := append([]string{"-c", script, "k8stest-watchdog", strconv.Itoa(os.Getpid()), dir}, pids...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil
	}
	return cmd
}

// children returns the process IDs of this process's children that run one
// of bins, read from /proc: envtest does not expose the processes it starts.
func children(bins ...string) []string {
	for i, b := range bins {
		// /proc/PID/exe is the binary's real path.
		if real, err := filepath.EvalSymlinks(b); err == nil {
			bins[i] = real
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		for _, b := range bins {
			if exe == b && parent(pid) == self {
				pids = append(pids, e.Name())
			}
		}
	}
	return pids
}

// parent is the parent process ID from /proc/PID/stat, whose second field,
// the command name in parentheses, may itself hold spaces or parentheses.
func parent(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// deleteNamespace does the namespace controller's work, since no controller
// manager runs here: it deletes every namespaced object in it (grace period
// zero, as no kubelet may be there to confirm a Pod has stopped), then marks
// the namespace finalized, which lets its deletion complete.
func (c *controlPlane) deleteNamespace(ctx context.Context, name string) error {
	nsClient := c.client.CoreV1().Namespaces()
	// Terminating first, so nothing new can be created in it while we empty it.
	// A Conflict says it is Terminating already: the test deleted it itself.
	err := nsClient.Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil && !apierrors.IsConflict(err) {
		return err
	}
	resources, err := c.client.Discovery().ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("list namespaced resources: %w", err)
	}
	zero := int64(0)
	background := metav1.DeletePropagationBackground
	for _, list := range resources {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return err
		}
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "deletecollection") {
				continue
			}
			res := c.dynamic.Resource(gv.WithResource(r.Name)).Namespace(name)
			err := res.DeleteCollection(ctx,
				metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &background},
				metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				return fmt.Errorf("delete %s: %w", r.Name, err)
			}
		}
	}
	ns, err := nsClient.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ns.Spec.Finalizers = nil
	if _, err := nsClient.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize: %w", err)
	}
	// The API server removes a Terminating namespace when the last finalizer
	// goes only on a delete, as the namespace controller's last step is.
	if err := nsClient.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// tempParent is where the control plane's folder goes: /dev/shm when it is a
// tmpfs with room, so etcd's writes wait for no disk (as storetest does for
// PostgreSQL's cluster), else the temp folder.
func tempParent() string {
	const shm = "/dev/shm"
	var fs syscall.Statfs_t
	if err := syscall.Statfs(shm, &fs); err == nil &&
		fs.Type == 0x01021994 && // TMPFS_MAGIC
		uint64(fs.Bavail)*uint64(fs.Bsize) >= 1<<30 &&
		syscall.Access(shm, 2|1) == nil { // W_OK|X_OK
		return shm
	}
	return ""
}
