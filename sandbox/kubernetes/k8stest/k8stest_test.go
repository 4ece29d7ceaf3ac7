package k8stest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { Main(m) }

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestServerVersion(t *testing.T) {
	cfg, _ := Config(t)
	v, err := clientFor(t, cfg).Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != KubernetesVersion {
		t.Errorf("server version = %q (major %q, minor %q), want %s", v.GitVersion, v.Major, v.Minor, KubernetesVersion)
	}
}

func TestNamespacesAreSeparate(t *testing.T) {
	cfg, ns1 := Config(t)
	_, ns2 := Config(t)
	if ns1 == ns2 {
		t.Fatalf("two Config calls gave the same namespace %q", ns1)
	}
	c := clientFor(t, cfg)
	ctx := testContext(t)
	for _, ns := range []string{ns1, ns2} {
		got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get namespace %s: %v", ns, err)
		}
		if got.Status.Phase != corev1.NamespaceActive {
			t.Errorf("namespace %s is %s, want %s", ns, got.Status.Phase, corev1.NamespaceActive)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "only-in-first"}, Data: map[string]string{"k": "v"}}
	if _, err := c.CoreV1().ConfigMaps(ns1).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create config map in %s: %v", ns1, err)
	}
	if _, err := c.CoreV1().ConfigMaps(ns1).Get(ctx, cm.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("get config map from %s, where it was made: %v", ns1, err)
	}
	if _, err := c.CoreV1().ConfigMaps(ns2).Get(ctx, cm.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get config map %s from %s: err = %v, want NotFound", cm.Name, ns2, err)
	}
}

func TestPodStaysPending(t *testing.T) {
	cfg, ns := Config(t)
	c := clientFor(t, cfg)
	ctx := testContext(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Labels: map[string]string{"app": "k8stest"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "example.invalid/hello:1", Command: []string{"/hello"}}},
		},
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod in %s: %v", ns, err)
	}
	got, err := c.CoreV1().Pods(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod back: %v", err)
	}
	if got.Namespace != ns || got.Labels["app"] != "k8stest" || len(got.Spec.Containers) != 1 || got.Spec.Containers[0].Image != pod.Spec.Containers[0].Image {
		t.Errorf("pod read back = %s/%s labels %v containers %v, want %s/hello with the container as created", got.Namespace, got.Name, got.Labels, got.Spec.Containers, ns)
	}
	// No scheduler and no kubelet: nothing binds or runs it.
	if got.Status.Phase != corev1.PodPending || got.Spec.NodeName != "" {
		t.Errorf("pod phase %q on node %q, want %q on no node", got.Status.Phase, got.Spec.NodeName, corev1.PodPending)
	}
}

func TestNamespaceDeletedAtCleanup(t *testing.T) {
	var cfg *rest.Config
	tests := []struct {
		name string
		// selfDelete: the test deletes its namespace itself, leaving it
		// Terminating for cleanup to finish.
		selfDelete bool
	}{
		{name: "left as is"},
		{name: "deleted by the test", selfDelete: true},
	}
	for _, tt := range tests {
		var ns string
		ok := t.Run(tt.name, func(t *testing.T) {
			cfg, ns = Config(t)
			c := clientFor(t, cfg)
			ctx := testContext(t)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "left-behind"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/x:1"}}},
			}
			if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create pod: %v", err)
			}
			if tt.selfDelete {
				if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
					t.Fatalf("delete own namespace: %v", err)
				}
				got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				if err != nil || got.Status.Phase != corev1.NamespaceTerminating {
					t.Fatalf("own namespace after delete: %v, err %v; want it Terminating (no namespace controller runs)", got.Status.Phase, err)
				}
			}
		})
		if !ok {
			continue
		}
		if cfg == nil {
			t.Skip("no control plane (the subtest says why)")
		}
		c := clientFor(t, cfg)
		ctx := testContext(t)
		got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s: namespace %s after its test's cleanup: phase %q, err = %v; want NotFound", tt.name, ns, got.Status.Phase, err)
		}
		// The namespace controller would have emptied it; Config's cleanup must too.
		if _, err := c.CoreV1().Pods(ns).Get(ctx, "left-behind", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: pod in deleted namespace %s: err = %v, want NotFound", tt.name, ns, err)
		}
	}
}

// TestSkipsWithoutBinaries runs this package's TestServerVersion in a child
// process with no binaries where it looks: it must skip, naming the script,
// and fail instead when LAMBDALAB_REQUIRE_K8S=1.
func TestSkipsWithoutBinaries(t *testing.T) {
	tests := []struct {
		name    string
		require string
		wantErr bool
		want    string
	}{
		{name: "skips", require: "", want: "--- SKIP: TestServerVersion"},
		{name: "fails when required", require: "1", wantErr: true, want: "Kubernetes is required (LAMBDALAB_REQUIRE_K8S=1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestServerVersion$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "LAMBDALAB_K8S_BINS="+filepath.Join(t.TempDir(), "none"), "LAMBDALAB_REQUIRE_K8S="+tt.require)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tt.wantErr {
				t.Fatalf("child test: err = %v, want error %v\n%s", err, tt.wantErr, out)
			}
			for _, want := range []string{tt.want, "scripts/k8s-bins.sh"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child test output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestWatchdogAfterKill kills (SIGKILL, so Main's Stop never runs) a child
// test process that has started a control plane, and checks that the
// watchdog then kills kube-apiserver and etcd and removes their folder.
func TestWatchdogAfterKill(t *testing.T) {
	Config(t) // without binaries, skip here rather than fail in the child
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldControlPlane$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAMBDALAB_K8STEST_HOLD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var dir string
	var pids []string
	scan := bufio.NewScanner(stdout)
	var seen []string
	for scan.Scan() {
		seen = append(seen, scan.Text())
		if f := strings.Fields(scan.Text()); len(f) >= 2 && f[0] == "HOLDING" {
			dir, pids = f[1], f[2:]
			break
		}
	}
	if dir == "" {
		cmd.Wait()
		t.Fatalf("child never said HOLDING; its output:\n%s", strings.Join(seen, "\n"))
	}
	if len(pids) != 2 {
		t.Fatalf("child found control plane processes %v, want kube-apiserver and etcd", pids)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("process %s is not running before the kill", pid)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	deadline := time.Now().Add(15 * time.Second)
	for {
		var running []string
		for _, pid := range pids {
			if alive(pid) {
				running = append(running, pid)
			}
		}
		_, statErr := os.Stat(dir)
		if len(running) == 0 && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the test process died: still running %v, folder %s stat err %v", running, dir, statErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestHoldControlPlane is TestWatchdogAfterKill's child: it starts a control
// plane, says where, and waits to be killed.
func TestHoldControlPlane(t *testing.T) {
	if os.Getenv("LAMBDALAB_K8STEST_HOLD") != "1" {
		t.Skip("only as TestWatchdogAfterKill's child")
	}
	Config(t)
	mu.Lock()
	dir := cp.dir
	pids := children(cp.env.ControlPlane.APIServer.Path, cp.env.ControlPlane.Etcd.Path)
	mu.Unlock()
	os.Stdout.WriteString("HOLDING " + dir + " " + strings.Join(pids, " ") + "\n")
	time.Sleep(time.Minute)
	t.Error("not killed within a minute")
}

func TestBinDir(t *testing.T) {
	tests := []struct {
		name                   string
		bins, cache, xdg, home string
		want                   string
	}{
		{name: "LAMBDALAB_K8S_BINS wins", bins: "/b", cache: "/c", xdg: "/x", home: "/h", want: "/b"},
		{name: "LAMBDALAB_K8S_CACHE", cache: "/c", xdg: "/x", home: "/h", want: "/c/v1.37.2-etcd3.6.16"},
		{name: "XDG_CACHE_HOME", xdg: "/x", home: "/h", want: "/x/lambdalab/k8s/v1.37.2-etcd3.6.16"},
		{name: "HOME", home: "/h", want: "/h/.cache/lambdalab/k8s/v1.37.2-etcd3.6.16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LAMBDALAB_K8S_BINS", tt.bins)
			t.Setenv("LAMBDALAB_K8S_CACHE", tt.cache)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := BinDir()
			if err != nil || got != tt.want {
				t.Errorf("BinDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("nothing set", func(t *testing.T) {
		for _, k := range []string{"LAMBDALAB_K8S_BINS", "LAMBDALAB_K8S_CACHE", "XDG_CACHE_HOME", "HOME"} {
			t.Setenv(k, "")
		}
		if got, err := BinDir(); err == nil {
			t.Errorf("BinDir() = %q, nil; want an error", got)
		}
	})
}

// TestVersionsMatchScript keeps the constants here and the versions
// scripts/k8s-bins.sh builds, and names its folder after, the same.
func TestVersionsMatchScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "scripts", "k8s-bins.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"K8S_VERSION": KubernetesVersion, "ETCD_VERSION": EtcdVersion} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Errorf("scripts/k8s-bins.sh sets no %s", name)
			continue
		}
		if string(m[1]) != want {
			t.Errorf("scripts/k8s-bins.sh: %s=%s, want %s as in k8stest", name, m[1], want)
		}
	}
}

func TestNamespaceName(t *testing.T) {
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	tests := []struct {
		test string
		n    int64
		want string
	}{
		{"TestPods", 1, "t1-testpods"},
		{"TestPods/one_by_one", 12, "t12-testpods-one-by-one"},
		{"TestX/--weird--", 3, "t3-testx-weird"},
		{strings.Repeat("A", 100), 7, "t7-" + strings.Repeat("a", 60)},
		{"Test" + strings.Repeat("x", 56) + "/y", 5, "t5-test" + strings.Repeat("x", 56)},
		{"Test" + strings.Repeat("x", 55) + "/yy", 5, "t5-test" + strings.Repeat("x", 55)}, // cut just after a dash
	}
	for _, tt := range tests {
		got := namespaceName(tt.test, tt.n)
		if got != tt.want {
			t.Errorf("namespaceName(%q, %d) = %q, want %q", tt.test, tt.n, got, tt.want)
		}
		if len(got) > 63 || !label.MatchString(got) {
			t.Errorf("namespaceName(%q, %d) = %q: not a DNS label", tt.test, tt.n, got)
		}
	}
}
