package k8stest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The node Node starts: its name (the kubelet's --hostname-override), its
// sandbox image, and the CNI bridge of its Pods.
const (
	NodeName   = "lambdalab-node-1"
	PauseImage = "lambdalab.local/pause:1"
	NodeBridge = "llsbx0"
)

// Where the node's other pieces are: Debian's containernetworking-plugins
// and runc.
const (
	cniBinDir = "/usr/lib/cni"
	runcPath  = "/usr/sbin/runc"
	// cniNetwork names the bridge network; libcni's result cache files in
	// /var/lib/cni/results start with it.
	cniNetwork = "lambdalab-sandbox"
)

// NodeEnv is the one real node of a test process.
type NodeEnv struct {
	// Name is the Node's name (NodeName).
	Name string
	// Config has the rights of system:masters on the control plane that
	// Config also serves (a copy per call).
	Config *rest.Config
	// ContainerdSocket is the node's containerd (for ctr -a).
	ContainerdSocket string
	// IP is the node's InternalIP: the machine's address on its default
	// route. KubeletPort is the kubelet's HTTPS port there.
	IP          string
	KubeletPort int
	// Subnet is the bridge's private /24, from which each Pod gets its one
	// address besides loopback; nothing on it routes anywhere.
	Subnet string
	// Dir holds containerd's root and state, the kubelet's root dir, the
	// configuration files and both logs (containerd.log, kubelet.log).
	Dir string
}

var (
	// Guarded by mu, as the control plane is: Node starts one, and Stop's
	// path tears the node down.
	node      *runningNode
	nodeErr   error         // why the node could not start; later calls fail the same way
	nodePlane *kubeletPlane // the control plane the kubelet's API server flags were applied to
)

// Node returns the test process's one real node: containerd and a kubelet on
// this machine, registered with the control plane that Config serves, Ready.
// The first call starts it (about 10 s here), every later call shares it. The
// node goes with the control plane (Main, Stop, or the watchdog when the
// test process dies), leaving no process, mount, link, cgroup or file
// behind.
//
// Every container starts with nofile 1024 and core 0, the ulimits the
// Docker backend gives instances (containerd's base runtime spec; doc.go).
// When the calling test fails, the end of both logs is logged at its
// cleanup.
//
// It is skipped unless LAMBDALAB_K8S_NODE=1; with it, whatever is missing
// (root, the binaries of scripts/k8s-bins.sh kubelet, Debian's CNI plugins,
// runc) fails the test with what to run. Only one node runs on a machine at
// a time (its cgroups and bridge have fixed names): a second test process
// waits for the first.
//
// The API server needs flags to reach a kubelet (see planeForKubelet). Where
// Config has started the control plane already, Node restarts its API
// server to add them: the port, the certificates and the data stay, but a
// test running in parallel on it would see it gone for a few seconds, so
// call Node first.
func Node(t testing.TB) NodeEnv {
	t.Helper()
	if os.Getenv("LAMBDALAB_K8S_NODE") != "1" {
		t.Skip("k8stest: no real node: the node tests run containerd and a kubelet on this machine as root; set LAMBDALAB_K8S_NODE=1 (make test-k8s-node)")
	}
	mu.Lock()
	defer mu.Unlock()
	if node == nil && nodeErr == nil {
		began := time.Now()
		node, nodeErr = startNode(t)
		if nodeErr == nil {
			t.Logf("k8stest: node %s (kubelet %s, containerd, snapshotter %s) Ready in %v", NodeName, KubernetesVersion, node.snapshotter, time.Since(began).Round(time.Millisecond))
		}
	}
	if nodeErr != nil {
		t.Fatalf("start the test node: %v", nodeErr)
	}
	n := node
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("k8stest: the node's logs, for the failure above:%s", n.logTails())
		}
	})
	env := node.env
	env.Config = rest.CopyConfig(nodePlane.c.cfg)
	return env
}

// ImportImage imports ref from the Docker engine into the node's containerd
// (docker save | ctr images import), once per ref in a process: the node
// pulls from no registry, and lambdalab's runtime image exists only in
// Docker (`lambdalab image`).
func ImportImage(t testing.TB, ref string) {
	t.Helper()
	Node(t)
	mu.Lock()
	n := node
	mu.Unlock()
	n.imagesMu.Lock()
	defer n.imagesMu.Unlock()
	if n.images[ref] {
		return
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("import %s into the node: no docker command: run scripts/deps.sh docker", ref)
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	save := exec.CommandContext(ctx, "docker", "save", ref)
	var saveErr bytes.Buffer
	save.Stderr = &saveErr
	out, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp := n.ctr(ctx, "images", "import", "--snapshotter", n.snapshotter, "-")
	imp.Stdin = out
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := save.Start(); err != nil {
		t.Fatalf("docker save %s: %v", ref, err)
	}
	impErr := imp.Run()
	if err := save.Wait(); err != nil {
		t.Fatalf("docker save %s: %v: %s (is the engine running? scripts/deps.sh docker)", ref, err, saveErr.Bytes())
	}
	if impErr != nil {
		t.Fatalf("ctr images import %s: %v: %s", ref, impErr, impOut.Bytes())
	}
	n.images[ref] = true
	t.Logf("k8stest: imported %s into the node in %v", ref, time.Since(began).Round(time.Millisecond))
}

// runningNode is the node's processes and what tearing it down needs.
type runningNode struct {
	env         NodeEnv
	state       nodeState
	snapshotter string
	ctrBin      string

	containerd, kubelet *exec.Cmd
	containerdDone      chan struct{} // closed once containerd has exited
	kubeletDone         chan struct{}
	watchdog            *exec.Cmd
	watchdogPipe        *os.File // its stdin: at EOF, the test process has gone
	lock                *os.File // the machine-wide lock, held while the node lives

	imagesMu sync.Mutex
	images   map[string]bool

	stopOnce sync.Once
}

// nodeState is what teardown needs to leave the machine as it was. It is also
// written to Dir/state.json for the watchdog, which tears the node down from
// it when the test process dies without stopping it.
type nodeState struct {
	Dir    string `json:"dir"`
	Socket string `json:"socket"`
	Bridge string `json:"bridge"`
	// Process ids and binaries: a process is signalled only while its
	// /proc/PID/exe is still that binary.
	Containerd    int    `json:"containerd"`
	ContainerdBin string `json:"containerd_bin"`
	Kubelet       int    `json:"kubelet"`
	KubeletBin    string `json:"kubelet_bin"`
	ShimBin       string `json:"shim_bin"`
	// Sysctls holds the kernel settings the kubelet changes at start
	// (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops, ...), as
	// they were before it ran: a kubelet without protectKernelDefaults
	// writes its own values, and with it refuses to start where they
	// differ.
	Sysctls map[string]string `json:"sysctls"`
	// Made are folders outside Dir that did not exist before the node ran
	// and that the kubelet or libcni create (/var/log/containers,
	// /var/lib/cni/results, /var/lib/kubelet/device-plugins), deepest
	// last: removed again once empty.
	Made []string `json:"made"`
}

// kubeletPlane is a control plane whose API server can reach the kubelet.
type kubeletPlane struct {
	c      *controlPlane
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
}

// The machine-wide paths the node touches outside its folder.
const (
	cgroupRoot       = "/sys/fs/cgroup"
	kubepodsCgroup   = "kubepods" // the kubelet's cgroupfs parent, under cgroupRoot "/"
	containerLogsDir = "/var/log/containers"
	cniCacheDir      = "/var/lib/cni"
	// The kubelet's device manager serves its socket here whatever its
	// --root-dir (k8s.io/kubelet/pkg/apis/deviceplugin DevicePluginPath).
	kubeletVarDir   = "/var/lib/kubelet"
	devicePluginDir = "/var/lib/kubelet/device-plugins"
)

// kubeletSysctls are the settings the kubelet's container manager writes
// (pkg/kubelet/cm setupKernelTunables), as paths under /proc/sys.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

func startNode(t testing.TB) (*runningNode, error) {
	bins, err := nodeBinaries()
	if err != nil {
		return nil, err
	}
	lock, err := lockMachine(t, bins["kubelet"])
	if err != nil {
		return nil, err
	}
	if err := machineIsClean(); err != nil {
		lock.Close()
		return nil, err
	}
	dir, err := nodeDir()
	if err != nil {
		lock.Close()
		return nil, err
	}
	n := &runningNode{
		lock:   lock,
		ctrBin: bins["ctr"],
		images: make(map[string]bool),
		state: nodeState{
			Dir: dir, Socket: filepath.Join(dir, "containerd.sock"), Bridge: NodeBridge,
			ContainerdBin: bins["containerd"], KubeletBin: bins["kubelet"], ShimBin: bins["containerd-shim-runc-v2"],
			Sysctls: readSysctls(),
		},
	}
	for _, d := range []string{containerLogsDir, cniCacheDir, filepath.Join(cniCacheDir, "results"), kubeletVarDir, devicePluginDir} {
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			n.state.Made = append(n.state.Made, d)
		}
	}
	fail := func(err error) (*runningNode, error) {
		tail := n.logTails()
		n.stop(false)
		return nil, fmt.Errorf("%w%s", err, tail)
	}
	if err := n.writeState(); err != nil {
		return fail(err)
	}
	// The watchdog first, so that a test process killed from here on still
	// leaves nothing behind.
	if err := n.startWatchdog(); err != nil {
		return fail(fmt.Errorf("start the node's watchdog: %w", err))
	}
	ip, err := nodeIP()
	if err != nil {
		return fail(err)
	}
	subnet, err := freeSubnet()
	if err != nil {
		return fail(err)
	}
	n.env = NodeEnv{Name: NodeName, ContainerdSocket: n.state.Socket, IP: ip.String(), Subnet: subnet, Dir: dir}

	kp, err := planeForKubelet()
	if err != nil {
		return fail(err)
	}
	if err := n.startContainerd(); err != nil {
		return fail(err)
	}
	if err := n.importPause(); err != nil {
		return fail(err)
	}
	if err := n.startKubelet(kp, ip); err != nil {
		return fail(err)
	}
	if err := n.waitReady(kp); err != nil {
		return fail(err)
	}
	return n, nil
}

// nodeBinaries checks for everything the node runs, and says what to run
// when something is missing.
func nodeBinaries() (map[string]string, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the node needs root (containerd and the kubelet make mounts, cgroups and a bridge)")
	}
	dir, err := BinDir()
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	var missing []string
	for _, name := range []string{"kube-apiserver", "etcd", "kubelet", "containerd", "containerd-shim-runc-v2", "ctr"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, p)
			continue
		}
		// /proc/PID/exe shows the real path; the cache folder may be a link.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		bins[name] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no %s: build them once with scripts/k8s-bins.sh kubelet (the kubelet and containerd take about 6 minutes on 2 cores, beside the control plane's 7 to 13)", strings.Join(missing, ", "))
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			return nil, fmt.Errorf("no CNI plugin %s in %s: install Debian's containernetworking-plugins (scripts/deps.sh cni)", p, cniBinDir)
		}
	}
	if _, err := os.Stat(runcPath); err != nil {
		return nil, fmt.Errorf("no %s: install Debian's runc (scripts/deps.sh docker installs it with docker.io)", runcPath)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("no ip command: install Debian's iproute2")
	}
	return bins, nil
}

// lockMachine takes a lock that every node test process on this machine
// takes, on the kubelet binary itself (no lock file to leave behind): two
// kubelets would share the kubepods cgroups and the bridge. The lock lives
// as long as the returned file, and in the watchdog, which inherits it.
func lockMachine(t testing.TB, kubelet string) (*os.File, error) {
	f, err := os.Open(kubelet)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return f, nil
	}
	t.Logf("k8stest: another test process runs a node on this machine; waiting for it (up to 5 minutes)")
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return f, nil
		}
	}
	f.Close()
	return nil, errors.New("another test process has run a node on this machine for over 5 minutes (it holds a lock on the kubelet binary)")
}

// machineIsClean refuses to start where an earlier node left its bridge or
// cgroups: they have fixed names, and removing what may be another's is not
// a test's call.
func machineIsClean() error {
	if _, err := net.InterfaceByName(NodeBridge); err == nil {
		return fmt.Errorf("a link %s exists, left by an earlier node run: if its kubelet still runs (its watchdog was killed with the test process), "+
			"tear it down as the watchdog would: %s=/tmp/lambdalab-node-…/state.json <any test binary of this module that imports k8stest> </dev/null; "+
			"else remove the link (ip link del %s)", NodeBridge, watchdogEnv, NodeBridge)
	}
	left, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", kubepodsCgroup))
	if len(left) > 0 {
		return fmt.Errorf("kubelet cgroups exist (%s), left by an earlier kubelet: stop it, or remove them (rmdir, deepest first)", strings.Join(left, ", "))
	}
	return nil
}

// nodeDir makes the node's folder in the temp folder, on a disk rather than
// /dev/shm: the kubelet books ephemeral-storage from its root dir's file
// system, containerd's images go there, and cAdvisor reads a disk's size
// more reliably than a tmpfs's. The shim sockets' folder must fit in 38
// characters (containerd's socket_dir limit).
func nodeDir() (string, error) {
	dir, err := os.MkdirTemp("", "lambdalab-node-")
	if err != nil {
		return "", err
	}
	if len(filepath.Join(dir, "s")) > 38 {
		os.Remove(dir)
		return "", fmt.Errorf("temp folder %s is too long for containerd's shim sockets (38 characters with /s): set TMPDIR=/tmp", dir)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err == nil {
		if free := uint64(fs.Bavail) * uint64(fs.Bsize); free < 4<<30 {
			os.Remove(dir)
			return "", fmt.Errorf("%s has %d MB free; the node needs 4 GB (images, containers, logs)", dir, free>>20)
		}
	}
	return dir, nil
}

// nodeIP is the address of the machine's default route, as the kubelet
// would choose it; it is passed to the kubelet (--node-ip) so that its
// serving certificate names the address the API server dials.
func nodeIP() (net.IP, error) {
	// A UDP "connection" sends nothing; it only picks the source address.
	if c, err := net.Dial("udp4", "1.1.1.1:53"); err == nil {
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).IP, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || ifc.Name == "docker0" {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP, nil
			}
		}
	}
	return nil, errors.New("no IPv4 address for the node: the machine has no default route and no interface with an address")
}

// freeSubnet picks a private /24 for the bridge that no interface here is
// on.
func freeSubnet() (string, error) {
	var taken []*net.IPNet
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			taken = append(taken, ipn)
		}
	}
	for i := 0; i < 32; i++ {
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", 77+i))
		if !slices.ContainsFunc(taken, func(n *net.IPNet) bool { return n.Contains(cand.IP) || cand.Contains(n.IP) }) {
			return cand.String(), nil
		}
	}
	return "", errors.New("no free /24 in 10.213.77.0 to 10.213.108.0 for the node's bridge")
}

// planeForKubelet returns the control plane with the flags its API server
// needs for a kubelet, starting it if none runs, or restarting the API
// server of one that Config started without them:
//
//   - --kubelet-preferred-address-types=InternalIP: the default tries the
//     node's Hostname first, and "lambdalab-node-1" resolves nowhere;
//   - --kubelet-client-certificate and -key from a CA of ours, which the
//     kubelet trusts (its anonymous authentication is off), and
//     --kubelet-certificate-authority, which signed the kubelet's serving
//     certificate: logs, exec and port-forward go through the kubelet's
//     server, authenticated both ways;
//   - --shutdown-send-retry-after (see below).
//
// Restarting keeps the port, the certificates and etcd's data, so every
// rest.Config handed out stays good. Called with mu held.
func planeForKubelet() (*kubeletPlane, error) {
	if cp == nil && cpErr == nil {
		cp, cpErr = start()
		if cpErr != nil {
			noBins = errors.Is(cpErr, errNoBinaries)
		}
	}
	if cpErr != nil {
		return nil, fmt.Errorf("start the control plane: %w: %s", cpErr, fix)
	}
	if nodePlane != nil && nodePlane.c == cp {
		return nodePlane, nil
	}
	kp := &kubeletPlane{c: cp}
	pki := filepath.Join(cp.dir, "kubelet-pki")
	if err := os.Mkdir(pki, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	var err error
	if kp.ca, kp.caKey, err = newCA(); err != nil {
		return nil, err
	}
	kp.caFile = filepath.Join(pki, "ca.crt")
	if err := writeCert(kp.caFile, "", kp.ca, nil); err != nil {
		return nil, err
	}
	client, clientKey, err := kp.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(pki, "apiserver-kubelet-client.crt"), filepath.Join(pki, "apiserver-kubelet-client.key")
	if err := writeCert(certFile, keyFile, client, clientKey); err != nil {
		return nil, err
	}

	api := cp.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		return nil, fmt.Errorf("stop the API server to add the kubelet's flags: %w", err)
	}
	api.Configure().
		Set("kubelet-preferred-address-types", "InternalIP").
		Set("kubelet-client-certificate", certFile).
		Set("kubelet-client-key", keyFile).
		Set("kubelet-certificate-authority", kp.caFile).
		// With a kubelet's watches open, the API server would wait up to
		// its request timeout (60 s) for them at SIGTERM, and envtest kills
		// it after 20 s and skips the rest of its Stop, the node's
		// teardown included. With this it closes them 2 s after the
		// requests in flight.
		Set("shutdown-send-retry-after", "true")
	// startIn closed its copy of the log once the first API server had it.
	apiLog, err := os.OpenFile(filepath.Join(cp.dir, "kube-apiserver.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer apiLog.Close()
	api.Out, api.Err = apiLog, apiLog
	if err := api.Start(); err != nil {
		// The control plane is half gone: every later call fails with this.
		cpErr = fmt.Errorf("restart the API server with the kubelet's flags: %w\n%s", err, logs(cp.dir))
		cp.stop()
		cp = nil
		return nil, cpErr
	}
	// The watchdog knew the first API server's process.
	if cp.watchdog != nil {
		cp.watchdog.Process.Kill()
		cp.watchdog.Wait()
	}
	cp.watchdog = startWatchdog(cp.dir, api.Path, cp.env.ControlPlane.Etcd.Path)
	// The node goes with the control plane: APIServer.Stop calls its Authn's
	// Stop once the API server has exited, the one step of envtest's Stop
	// that a harness can hook without a change to k8stest.go's stop.
	api.SecureServing.Authn = nodeTeardownAuthn{Authn: api.SecureServing.Authn}
	nodePlane = kp
	return kp, nil
}

// nodeTeardownAuthn tears the node down when the API server stops (Stop and
// Main hold mu then).
type nodeTeardownAuthn struct{ envtest.Authn }

func (a nodeTeardownAuthn) Stop() error {
	if node != nil {
		node.stop(true)
	}
	node, nodeErr, nodePlane = nil, nil, nil
	return a.Authn.Stop()
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lambdalab k8stest kubelet CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func (kp *kubeletPlane) sign(tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, kp.ca, &key.PublicKey, kp.caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writeCert(certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return err
	}
	if key == nil {
		return nil
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

// containerdConfig is the node's containerd: everything it keeps in Dir,
// nothing in /run/containerd, /var/lib/containerd, /etc/cni, /opt or
// /var/run/nri, and the CRI settings this machine needs (reference/
// scale-out.md): restrict_oom_score_adj, since root here lacks
// CAP_SYS_RESOURCE and a Guaranteed container asks for -997; cgroupfs,
// since no systemd runs.
const containerdConfig = `version = 4
root = '{{dir}}/containerd'
state = '{{dir}}/run'
temp = '{{dir}}/ctmp'
imports = []

[plugins.'io.containerd.cri.v1.images']
  snapshotter = '{{snapshotter}}'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{{pause}}'

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  # Pods' network namespaces in Dir rather than /var/run/netns.
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      base_runtime_spec = '{{dir}}/base-spec.json'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '{{runc}}'
        Root = '{{dir}}/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['{{cnibin}}']
    conf_dir = '{{dir}}/cni'
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.internal.v1.opt']
  path = '{{dir}}/opt'

[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = '{{dir}}/image-verifier'

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.server.v1.grpc']
  address = '{{sock}}'

[plugins.'io.containerd.server.v1.ttrpc']
  address = '{{sock}}.ttrpc'

[plugins.'io.containerd.shim.v1.manager']
  socket_dir = '{{dir}}/s'
`

// cniConfig is the "isolated bridge without gateway" of doc.go: the bridge
// has no address (isGateway false), nothing masquerades, and host-local
// hands out addresses with no routes, so a Pod has lo and one interface on a
// /24 where nothing else lives. (host-local still names .1 the gateway in
// its result; no one holds it.) Its leases stay in Dir.
const cniConfig = `{
  "cniVersion": "1.0.0",
  "name": "{{network}}",
  "plugins": [{
    "type": "bridge",
    "bridge": "{{bridge}}",
    "isGateway": false,
    "isDefaultGateway": false,
    "ipMasq": false,
    "hairpinMode": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "{{subnet}}"}]],
      "routes": [],
      "dataDir": "{{dir}}/cni-ipam"
    }
  }]
}
`

func (n *runningNode) startContainerd() error {
	dir := n.state.Dir
	for _, d := range []string{"cni", "s", "ctmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	n.snapshotter = snapshotterFor(dir)
	r := strings.NewReplacer("{{dir}}", dir, "{{sock}}", n.state.Socket, "{{pause}}", PauseImage,
		"{{runc}}", runcPath, "{{cnibin}}", cniBinDir, "{{snapshotter}}", n.snapshotter,
		"{{network}}", cniNetwork, "{{bridge}}", NodeBridge, "{{subnet}}", n.env.Subnet)
	conf := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(conf, []byte(r.Replace(containerdConfig)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cni", "10-lambdalab.conflist"), []byte(r.Replace(cniConfig)), 0o644); err != nil {
		return err
	}
	if err := n.writeBaseSpec(); err != nil {
		return err
	}
	cmd := exec.Command(n.state.ContainerdBin, "--config", conf)
	// containerd finds containerd-shim-runc-v2 on PATH; ours is the one
	// beside it, not Debian's 1.6 shim that Docker's containerd uses.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(n.state.ShimBin)+":"+os.Getenv("PATH"))
	done, err := n.run(cmd, "containerd.log")
	if err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	n.containerd, n.containerdDone = cmd, done
	n.state.Containerd = cmd.Process.Pid
	if err := n.writeState(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.ctr(ctx, "version").Run()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("containerd exited at start")
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer on %s within 30 s", n.state.Socket)
		}
	}
}

// snapshotterFor is overlayfs when the kernel mounts an overlay on dir's
// file system, else native (a full copy per layer and container: slower,
// but it works anywhere).
func snapshotterFor(dir string) string {
	probe, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return "native"
	}
	defer os.RemoveAll(probe)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		os.Mkdir(filepath.Join(probe, d), 0o700)
	}
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", probe, probe, probe)
	if err := syscall.Mount("overlay", filepath.Join(probe, "merged"), "overlay", 0, opts); err != nil {
		return "native"
	}
	syscall.Unmount(filepath.Join(probe, "merged"), 0)
	return "overlayfs"
}

// writeBaseSpec writes containerd's base runtime spec: its own default spec
// (ctr oci spec) with the ulimits the Docker backend sets, nofile 1024 and
// core 0, since a Pod cannot ask for rlimits (doc.go). With a base spec the
// CRI plugin keeps its rlimits; without one it drops the default's and a
// container inherits containerd's.
func (n *runningNode) writeBaseSpec() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.ctrBin, "oci", "spec").Output()
	if err != nil {
		return fmt.Errorf("ctr oci spec: %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(out, &spec); err != nil {
		return fmt.Errorf("ctr oci spec: %w", err)
	}
	proc, ok := spec["process"].(map[string]any)
	if !ok {
		return errors.New("ctr oci spec printed no process")
	}
	proc["rlimits"] = []map[string]any{
		{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
		{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.state.Dir, "base-spec.json"), data, 0o644)
}

// run starts cmd in a process group of its own (so that a Ctrl-C to the
// test run leaves it to the watchdog, which also knows the shims), its
// output to logName in Dir; done closes when it has exited.
func (n *runningNode) run(cmd *exec.Cmd, logName string) (chan struct{}, error) {
	logf, err := os.OpenFile(filepath.Join(n.state.Dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	return done, nil
}

func (n *runningNode) ctr(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, n.ctrBin, append([]string{"-a", n.state.Socket, "-n", "k8s.io"}, args...)...)
}

// importPause builds the sandbox image from testdata/pause, a static Go
// binary in one layer, as a docker-archive tar (manifest.json, the image
// config, the layer) made here, with no Docker engine, and imports it.
func (n *runningNode) importPause() error {
	dir := filepath.Join(n.state.Dir, "pause")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, "pause")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pkg := reflect.TypeFor[NodeEnv]().PkgPath() + "/testdata/pause"
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the pause binary (%s): %w: %s", pkg, err, out)
	}
	image, err := pauseArchive(bin)
	if err != nil {
		return err
	}
	imp := n.ctr(ctx, "images", "import", "--snapshotter", n.snapshotter, "-")
	imp.Stdin = bytes.NewReader(image)
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr images import %s: %w: %s", PauseImage, err, out)
	}
	return nil
}

func pauseArchive(bin string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	if err := lw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	lw.Write(data)
	if err := lw.Close(); err != nil {
		return nil, err
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerID := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/pause"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
	})
	if err != nil {
		return nil, err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{PauseImage}, "Layers": []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {configName, config}, {layerID + "/layer.tar", layer.Bytes()}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (n *runningNode) startKubelet(kp *kubeletPlane, ip net.IP) error {
	dir := n.state.Dir
	pki := filepath.Join(dir, "pki")
	for _, d := range []string{pki, filepath.Join(dir, "kubelet"), filepath.Join(dir, "pod-logs"), filepath.Join(dir, "volume-plugins")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	serving, servingKey, err := kp.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: NodeName},
		DNSNames:    []string{NodeName, "localhost"},
		IPAddresses: []net.IP{ip, net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(pki, "kubelet.crt"), filepath.Join(pki, "kubelet.key")
	if err := writeCert(certFile, keyFile, serving, servingKey); err != nil {
		return err
	}
	// The kubelet's own identity: a node's user name, with the rights of
	// system:masters, since the API server's RBAC has no Node authorizer
	// beside it to give system:nodes theirs.
	user, err := kp.c.env.AddUser(envtest.User{Name: "system:node:" + NodeName, Groups: []string{"system:nodes", "system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add the kubelet's user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), nil, 0o644); err != nil {
		return err
	}
	port, err := freePort(ip.String())
	if err != nil {
		return err
	}
	healthz, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	n.env.KubeletPort = port
	config := map[string]any{
		"kind":       "KubeletConfiguration",
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		// kubelet 1.35 and later refuse cgroup v1 unless told not to; this
		// machine has no other (reference/scale-out.md).
		"failCgroupV1":             false,
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               "/",
		"failSwapOn":               false,
		"podPidsLimit":             1024, // Lambda's process limit, the Docker backend's pids limit
		"containerRuntimeEndpoint": "unix://" + n.state.Socket,
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": false},
			"x509":      map[string]any{"clientCAFile": kp.caFile},
		},
		// Only the API server holds a certificate of our CA.
		"authorization":      map[string]any{"mode": "AlwaysAllow"},
		"address":            ip.String(),
		"port":               port,
		"readOnlyPort":       0,
		"healthzBindAddress": "127.0.0.1",
		"healthzPort":        healthz,
		"tlsCertFile":        certFile,
		"tlsPrivateKeyFile":  keyFile,
		"resolvConf":         filepath.Join(dir, "resolv.conf"),
		"podLogsDir":         filepath.Join(dir, "pod-logs"),
		"volumePluginDir":    filepath.Join(dir, "volume-plugins"),
		// No KUBE-IPTABLES-HINT, KUBE-FIREWALL or canary chains in the
		// machine's iptables: nothing here reads them.
		"makeIPTablesUtilChains": false,
		// Its own oom_score_adj stays as it is: lowering it needs
		// CAP_SYS_RESOURCE, which root here lacks.
		"oomScoreAdj": 0,
		// Evict only when the machine is really short: the disk and memory
		// are shared with everything else running here.
		"evictionHard": map[string]string{
			"memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
			"imagefs.available": "1%", "imagefs.inodesFree": "1%",
		},
		// Never collect images: no registry would give them back.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
	}
	data, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kubelet.json"), data, 0o644); err != nil {
		return err
	}
	cmd := exec.Command(n.state.KubeletBin,
		"--config", filepath.Join(dir, "kubelet.json"),
		"--kubeconfig", filepath.Join(dir, "kubeconfig"),
		"--hostname-override", NodeName,
		"--node-ip", ip.String(),
		"--root-dir", filepath.Join(dir, "kubelet"),
		"--cert-dir", pki,
		"--v", "2",
	)
	done, err := n.run(cmd, "kubelet.log")
	if err != nil {
		return fmt.Errorf("start the kubelet: %w", err)
	}
	n.kubelet, n.kubeletDone = cmd, done
	n.state.Kubelet = cmd.Process.Pid
	return n.writeState()
}

// freePort is a port free on host now (the kubelet takes ports from its
// configuration only).
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until the Node is registered and Ready: the kubelet has
// its runtime, and containerd has loaded the CNI configuration.
func (n *runningNode) waitReady(kp *kubeletPlane) error {
	client, err := kubernetes.NewForConfig(kp.c.cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	why := "not registered"
	for {
		nd, err := client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err == nil {
			why = "no Ready condition"
			for _, c := range nd.Status.Conditions {
				if c.Type != corev1.NodeReady {
					continue
				}
				if c.Status == corev1.ConditionTrue {
					return nil
				}
				why = fmt.Sprintf("Ready %s: %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		select {
		case <-n.kubeletDone:
			return errors.New("the kubelet exited")
		case <-n.containerdDone:
			return errors.New("containerd exited")
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready within 2 minutes (%s)", NodeName, why)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTails is the end of both logs, for an error that says why the node
// did not start.
func (n *runningNode) logTails() string {
	var b strings.Builder
	for _, name := range []string{"containerd.log", "kubelet.log"} {
		data, err := os.ReadFile(filepath.Join(n.state.Dir, name))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "\n%s (last 40 lines):\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
	return b.String()
}

func (n *runningNode) writeState() error {
	data, err := json.Marshal(n.state)
	if err != nil {
		return err
	}
	tmp := filepath.Join(n.state.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(n.state.Dir, "state.json"))
}

// watchdogEnv, when set, makes a test binary that links k8stest a node
// watchdog instead (see init): the same binary, so that the watchdog tears
// the node down with the same code as Stop.
const watchdogEnv = "LAMBDALAB_K8S_NODE_WATCHDOG"

func init() {
	if state := os.Getenv(watchdogEnv); state != "" {
		os.Exit(runWatchdog(state))
	}
}

// startWatchdog starts this test binary again as the node's watchdog. It
// reads its stdin, a pipe whose other end only this process holds, until
// EOF, which comes however this process ends (a -timeout panic, a kill -9),
// then tears the node down from state.json. It inherits the machine lock,
// so that no other node starts before it is done, and runs in a process
// group of its own, so that a Ctrl-C to the test run does not stop it first.
func (n *runningNode) startWatchdog() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(n.state.Dir, "watchdog.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), watchdogEnv+"="+filepath.Join(n.state.Dir, "state.json"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, logf, logf
	cmd.ExtraFiles = []*os.File{n.lock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	n.watchdog, n.watchdogPipe = cmd, w
	return nil
}

func runWatchdog(stateFile string) int {
	io.Copy(io.Discard, os.Stdin) // until the test process has gone
	data, err := os.ReadFile(stateFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8stest node watchdog: %v\n", err)
		return 1
	}
	var st nodeState
	if err := json.Unmarshal(data, &st); err != nil {
		fmt.Fprintf(os.Stderr, "k8stest node watchdog: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "k8stest node watchdog: the test process has gone; tearing down the node in %s\n", st.Dir)
	if err := teardown(st); err != nil {
		fmt.Fprintf(os.Stderr, "k8stest node watchdog: %v\n", err)
		return 1
	}
	return 0
}

// stop tears the node down, once: the watchdog first (it must not tear
// down at the same time), then everything teardown does, then the lock.
// graceful gives the kubelet a moment to stop the Pods of namespaces that
// were just deleted, so that their sandboxes leave through the CNI plugin.
func (n *runningNode) stop(graceful bool) {
	n.stopOnce.Do(func() {
		if n.watchdog != nil {
			n.watchdog.Process.Kill()
			n.watchdog.Wait()
			n.watchdogPipe.Close()
		}
		if graceful && n.kubelet != nil {
			n.waitPodsStopped(15 * time.Second)
		}
		if err := teardown(n.state); err != nil {
			fmt.Fprintf(os.Stderr, "k8stest: tear down the node: %v\n", err)
		}
		n.lock.Close()
	})
}

// waitPodsStopped waits until containerd runs no task, or for at most d.
func (n *runningNode) waitPodsStopped(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := n.ctr(ctx, "tasks", "ls").Output()
		cancel()
		if err != nil || !strings.Contains(string(out), "RUNNING") {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// teardown leaves the machine as it was before the node, whatever state the
// node is in, called by the test process or by the watchdog after it. In
// order: the
// kubelet (so that it restarts nothing), every process in its cgroups (the
// Pods' containers and pause processes), containerd's shims, containerd,
// every mount under Dir (root file systems, network namespaces, the
// kubelet's own bind mount of its root dir), the bridge, the kubelet's
// cgroups, the kernel settings, what it and libcni left in /var, and Dir.
func teardown(st nodeState) error {
	var errs []error
	stopProcess(st.Kubelet, st.KubeletBin)
	if err := killCgroupProcs(); err != nil {
		errs = append(errs, err)
	}
	for _, pid := range shimsOf(st.Socket, st.ShimBin) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	stopProcess(st.Containerd, st.ContainerdBin)
	if err := unmountUnder(st.Dir); err != nil {
		errs = append(errs, err)
	}
	if _, err := net.InterfaceByName(st.Bridge); err == nil {
		if out, err := exec.Command("ip", "link", "del", st.Bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", st.Bridge, err, out))
		}
	}
	if err := removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	for name, was := range st.Sysctls {
		p := filepath.Join("/proc/sys", name)
		if now, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(now)) != was {
			if err := os.WriteFile(p, []byte(was), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restore %s to %s: %w", name, was, err))
			}
		}
	}
	errs = append(errs, cleanVar(st)...)
	// Never RemoveAll through a mount: a Pod's host folders are bind
	// mounts of the tests' own.
	if left := mountsUnder(st.Dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("%s still has mounts (%s); left in place", st.Dir, strings.Join(left, ", ")))
	} else if st.Dir != "" {
		if err := os.RemoveAll(st.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopProcess ends pid if it still runs bin: SIGTERM, then SIGKILL after
// 10 s.
func stopProcess(pid int, bin string) {
	if pid <= 0 || !runs(pid, bin) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runs(pid int, bin string) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	return err == nil && exe == bin
}

// processAlive says the process exists and is not a zombie (its parent,
// this test process, reaps it in its own time).
func processAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// shimsOf finds the shims of the containerd at socket: they run on after
// containerd (they are its grandchildren, adopted by init) and are started
// with "-address socket".
func shimsOf(socket, bin string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !runs(pid, bin) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == socket {
			pids = append(pids, pid)
		}
	}
	return pids
}

// kubepodsDirs lists the kubelet's cgroups in every hierarchy, deepest
// first.
func kubepodsDirs() []string {
	var dirs []string
	tops, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", kubepodsCgroup))
	for _, top := range tops {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

// killCgroupProcs kills every process in the kubelet's cgroups, until none
// is left or 10 s have passed.
func killCgroupProcs() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pids []int
		for _, d := range kubepodsDirs() {
			b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && processAlive(pid) {
					pids = append(pids, pid)
				}
			}
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still run in the kubelet's cgroups", pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups removes the kubelet's cgroups, deepest first; a cgroup whose
// last process has only just died may refuse for a moment.
func removeCgroups() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var errs []error
		for _, d := range kubepodsDirs() {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
		if len(errs) == 0 || time.Now().After(deadline) {
			return errors.Join(errs...)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	if dir == "" {
		return nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if p := unescapeMount(fields[4]); p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points
}

// unmountUnder detaches every mount at or below dir, deepest first, until
// none is left (mounts may be stacked on one point).
func unmountUnder(dir string) error {
	for range 10 {
		points := mountsUnder(dir)
		if len(points) == 0 {
			return nil
		}
		for _, p := range points {
			syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	return fmt.Errorf("mounts under %s would not go", dir)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cleanVar removes what the kubelet and libcni left outside Dir: the
// kubelet's links in /var/log/containers to its logs in Dir, libcni's
// cached results for the bridge network (it caches in /var/lib/cni, which
// containerd does not let one move), the device manager's socket and
// checkpoint where it made their folder, and the folders that were not
// there before, once empty.
func cleanVar(st nodeState) []error {
	var errs []error
	if slices.Contains(st.Made, devicePluginDir) {
		for _, name := range []string{"kubelet.sock", "kubelet_internal_checkpoint"} {
			if err := os.Remove(filepath.Join(devicePluginDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	links, _ := os.ReadDir(containerLogsDir)
	for _, e := range links {
		p := filepath.Join(containerLogsDir, e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, st.Dir+"/") {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	cached, _ := filepath.Glob(filepath.Join(cniCacheDir, "results", cniNetwork+"-*"))
	for _, p := range cached {
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(st.Made) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(st.Made[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", st.Made[i], err))
		}
	}
	return errs
}

// readSysctls reads the kubelet's kernel settings as they are now.
func readSysctls() map[string]string {
	m := map[string]string{}
	for _, name := range kubeletSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", name)); err == nil {
			m[name] = strings.TrimSpace(string(b))
		}
	}
	return m
}
