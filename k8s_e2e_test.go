package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"lambdalab/sandbox/kubernetes"
	"lambdalab/sandbox/kubernetes/k8stest"
)

// k8sNamespace is where serve runs its instance Pods when
// LAMBDALAB_K8S_NAMESPACE is not set.
const k8sNamespace = "lambdalab-sandbox"

// probeHandler reports what a function can reach from inside its Pod: its
// uid and gid, the internet, the node it runs on, and lambdalab's AWS
// endpoint through its own credentials. boto3 is imported at init, where
// Lambda bills a cold start's imports.
const probeHandler = `import os, socket
import boto3

lam = boto3.client("lambda")

def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "connected"
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)

def handler(event, context):
    print("probing from", context.function_name)
    return {
        "echo": event.get("name"),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "internet": reach("1.1.1.1", 53),
        "node": reach(event["node_ip"], event["node_port"]),
        "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
    }
`

// TestServeOnKubernetes runs lambdalab on the Kubernetes backend as a
// self-hoster does, every piece a process of its own: `lambdalab serve`
// with LAMBDALAB_SANDBOX_BACKEND=kubernetes against the test control plane
// and its one real node (k8stest.Node: a kubelet and containerd on this
// machine), `lambdalab node cert` and `lambdalab node run` as the node's
// agent, and the real AWS CLI as the learner. A Python function runs cold
// and then warm in its Pod as uid 993, with no route off the Pod's bridge
// but a working AWS endpoint through the agent's link; a memory bomb and a
// sleeper end as they do on Docker; the Pods carry their function's labels;
// SIGTERM to serve deletes its Pods and empties the agent's folder.
//
// Opt-in (LAMBDALAB_K8S_NODE=1, make test-k8s-node): it needs root, the
// kubelet and containerd of scripts/k8s-bins.sh kubelet, Docker for the
// runtime image, and the AWS CLI v2.
func TestServeOnKubernetes(t *testing.T) {
	began := time.Now()
	env := k8stest.Node(t) // skips without LAMBDALAB_K8S_NODE=1
	// The node and control plane go at the end of this test rather than
	// with the test process: package main's TestMain does not stop them,
	// and the machine lock would stay held for the rest of the run.
	t.Cleanup(k8stest.Stop)
	requireDocker(t)
	requireAWSCLI(t)
	t.Logf("node %s (IP %s) ready %v after the test began (a node test elsewhere on this machine is waited for)", env.Name, env.IP, time.Since(began).Round(time.Millisecond))

	bin := buildProgram(t)
	image := runtimeImage(t, bin)
	k8stest.ImportImage(t, image)
	kubeconfig := writeKubeconfig(t, env.Config)
	core, err := corev1client.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	pods := core.Pods(k8sNamespace)
	ctx := context.Background()

	data, awsPort, nodePort := shortTempDir(t), freePort(t), freePort(t)
	keys := addUser(t, data, "k8s@example.com")
	serve := startProgram(t, bin, data, awsPort,
		"LAMBDALAB_SANDBOX_BACKEND=kubernetes",
		"LAMBDALAB_KUBECONFIG="+kubeconfig,
		"LAMBDALAB_K8S_IMAGE="+image,
		fmt.Sprintf("LAMBDALAB_NODE_LISTEN=127.0.0.1:%d", nodePort),
		"LAMBDALAB_NODE_HOSTS=127.0.0.1",
		"LAMBDALAB_PRESTART=1",
	)
	if !strings.Contains(serve.Logs.String(), `msg="kubernetes backend ready" namespace=`+k8sNamespace) {
		t.Fatalf("serve's log does not say the Kubernetes backend is ready in %s:\n%s", k8sNamespace, lastLines(serve.Logs.String(), 40))
	}
	clients, err := kubernetes.NewClients(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Networking.NetworkPolicies(k8sNamespace).Get(ctx, "lambdalab-deny-all", metav1.GetOptions{}); err != nil {
		t.Errorf("serve made no default-deny NetworkPolicy in %s: %v", k8sNamespace, err)
	}

	// The node's certificate from serve's own node CA, as the self-hoster
	// is told to make it.
	certs := filepath.Join(t.TempDir(), "certs")
	out := runProgram(t, bin, "node", "cert", "--name", env.Name, "--out", certs, "--data", data)
	if !strings.Contains(out, "for node "+env.Name) {
		t.Errorf("node cert printed %q, want it to name node %s", out, env.Name)
	}
	agentDir := shortTempDir(t)
	linkStart := time.Now()
	agent := startAgent(t, bin, fmt.Sprintf("127.0.0.1:%d", nodePort), certs, agentDir)
	waitLog(t, serve.Logs, "serve", `msg="node linked" node=`+env.Name, time.Minute)
	waitLog(t, agent.logs, "node agent", `msg="node linked" node=`+env.Name, time.Minute)
	linked := time.Since(linkStart)

	// The prestarted instance: until the agent linked, serve had no node to
	// start it on. Waiting for it leaves a cold start its bind and init, as
	// with a warm pool of spares on Docker.
	waitFor(t, 2*time.Minute, "a prestarted instance Pod running", func() bool {
		return len(runningPods(t, pods)) > 0
	})
	t.Logf("agent linked in %v; prestarted Pod running %v after the agent started", linked.Round(time.Millisecond), time.Since(linkStart).Round(time.Millisecond))

	aws := newAWSCLI(t, serve.AWSURL, keys)
	cliStart := time.Now()
	aws.json(nil, "lambda", "list-functions")
	cliRoundTrip := time.Since(cliStart)

	const fn = "k8s-probe"
	probe := fmt.Sprintf(`{"name": "Ada", "node_ip": %q, "node_port": %d}`, env.IP, env.KubeletPort)
	t.Logf("a list-functions through the CLI: %v", cliRoundTrip.Round(time.Millisecond))
	cold, warm := timeProbe(t, "kubernetes", aws, lambdaClient(serve.AWSURL, keys), fn, probe)
	checkProbe(t, "cold", cold, fn, true)
	checkProbe(t, "warm", warm, fn, false)

	// A handler that allocates without end, at Lambda's smallest size: the
	// Docker backend's answer (sandbox's TestMemoryBomb), word for word.
	aws.json(nil, "lambda", "create-function", "--function-name", "k8s-bomb", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--memory-size", "128", "--timeout", "30", "--zip-file", aws.zipFile("bomb.zip", map[string]string{"app.py": `def handler(event, context):
    hog = []
    while True:
        hog.append(bytearray(8 << 20))
`}))
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", "k8s-bomb")
	bomb := aws.invoke("k8s-bomb", `{}`, "--log-type", "Tail")
	bombTail := logTail(t, bomb)
	bombID := requestID(t, bombTail)
	if bomb.FunctionError != "Unhandled" || bomb.Body["errorType"] != "Runtime.ExitError" ||
		bomb.Body["errorMessage"] != "RequestId: "+bombID+" Error: Runtime exited with error: signal: killed" {
		t.Errorf("memory bomb: %+v, body %v, want Unhandled Runtime.ExitError, signal: killed\n%s", bomb, bomb.Body, bombTail)
	}
	if !strings.Contains(bombTail, "Error Type: Runtime.OutOfMemory") || !strings.Contains(bombTail, "Max Memory Used: 128 MB") {
		t.Errorf("memory bomb's REPORT lacks Runtime.OutOfMemory at 128 MB:\n%s", bombTail)
	}

	// A handler that outlives its timeout.
	aws.json(nil, "lambda", "create-function", "--function-name", "k8s-sleep", "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "2", "--zip-file", aws.zipFile("sleep.zip", map[string]string{"app.py": `import time

def handler(event, context):
    time.sleep(10)
    return "woke"
`}))
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", "k8s-sleep")
	sleepStart := time.Now()
	slept := aws.invoke("k8s-sleep", `{}`, "--log-type", "Tail")
	sleptFor := time.Since(sleepStart)
	sleepTail := logTail(t, slept)
	sleepID := requestID(t, sleepTail)
	if slept.FunctionError != "Unhandled" || slept.Body["errorType"] != "Sandbox.Timedout" ||
		slept.Body["errorMessage"] != "RequestId: "+sleepID+" Error: Task timed out after 2.00 seconds" {
		t.Errorf("sleeper: %+v, body %v, want Unhandled Sandbox.Timedout after 2.00 seconds\n%s", slept, slept.Body, sleepTail)
	}
	if !strings.Contains(sleepTail, sleepID+" Task timed out after 2.00 seconds") || !strings.Contains(sleepTail, "Status: timeout") {
		t.Errorf("sleeper's log lacks the timeout line or its REPORT's Status: timeout:\n%s", sleepTail)
	}
	if sleptFor >= 10*time.Second {
		t.Errorf("the sleeper's invoke took %v: the 2 s timeout did not end it before its 10 s sleep", sleptFor)
	}

	// The Pods: every one on the node, labelled as lambdalab's and this
	// serve's; the warm instance of the probe also as its function's.
	account := keyAccount(t, openDB(t, data), keys)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var owner string
	var probePods []string
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue // the bomb's and the sleeper's, on their way out
		}
		if owner == "" {
			owner = p.Labels["lambdalab.owner"]
		}
		if p.Spec.NodeName != env.Name || p.Labels["lambdalab"] != "1" || p.Labels["lambdalab.owner"] == "" ||
			p.Labels["lambdalab.owner"] != owner || "lambdalab-"+p.Labels["lambdalab.instance"] != p.Name {
			t.Errorf("pod %s on node %q has labels %v; want node %s, lambdalab=1, one owner for all, and its instance id", p.Name, p.Spec.NodeName, p.Labels, env.Name)
		}
		if p.Annotations["lambdalab.function"] == fn {
			probePods = append(probePods, p.Name)
			if p.Labels["lambdalab.function"] != fn || p.Labels["lambdalab.account"] != account ||
				p.Annotations["lambdalab.account"] != account || p.Annotations["lambdalab.version"] != "$LATEST" || p.Labels["lambdalab.version"] == "" {
				t.Errorf("pod %s of %s: labels %v, annotations %v; want function %s, account %s, version $LATEST", p.Name, fn, p.Labels, p.Annotations, fn, account)
			}
		}
	}
	if len(probePods) != 1 {
		t.Errorf("%d live Pods say they serve %s (%v), want its one warm instance, labelled and annotated with its account, function and version; the Pods are:\n%s", len(probePods), fn, probePods, describePods(list.Items))
	}
	instances := filepath.Join(agentDir, "instances")
	if entries, err := os.ReadDir(instances); err != nil || len(entries) == 0 {
		t.Errorf("the agent's %s holds %d instance folders (%v) while serve runs instances", instances, len(entries), err)
	}

	// SIGTERM, as a service manager stops serve: the engine closes its
	// instances, whose Pods go, and the agent, whose link drops, removes
	// what is left of their folders.
	stopStart := time.Now()
	serve.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-serve.exited:
		if serve.err != nil {
			t.Errorf("serve exited with %v after SIGTERM:\n%s", serve.err, lastLines(serve.Logs.String(), 40))
		}
	case <-time.After(time.Minute):
		t.Fatalf("serve did not stop within a minute of SIGTERM")
	}
	stopped := time.Since(stopStart)
	waitFor(t, 20*time.Second, "serve's Pods deleted", func() bool {
		l, err := pods.List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
	podsGone := time.Since(stopStart)
	waitFor(t, 20*time.Second, "the agent's instance folders removed", func() bool {
		entries, err := os.ReadDir(instances)
		return err == nil && len(entries) == 0
	})
	t.Logf("SIGTERM: serve exited in %v, its Pods gone from the API after %v, the agent's folders after %v",
		stopped.Round(time.Millisecond), podsGone.Round(time.Millisecond), time.Since(stopStart).Round(time.Millisecond))

	agent.stop(t)
	if m := mountsBelow(agentDir); len(m) > 0 {
		t.Errorf("mounts left under the agent's folder after it stopped: %v", m)
	}

	dockerTimings(t, bin, probe)
}

// checkProbe checks the probe's answer, cold or warm: the event echoed, uid
// and gid 993, no route to the internet or the node, the account's
// functions listed through boto3, and a REPORT with Init Duration only when
// cold.
func checkProbe(t *testing.T, what string, res cliInvoke, fn string, cold bool) {
	t.Helper()
	tail := logTail(t, res)
	if res.StatusCode != 200 || res.FunctionError != "" || res.ExecutedVersion != "$LATEST" {
		t.Fatalf("%s invoke: %+v, body %v\n%s", what, res, res.Body, tail)
	}
	b := res.Body
	if b["echo"] != "Ada" || b["uid"] != 993.0 || b["gid"] != 993.0 {
		t.Errorf("%s invoke: echo %v, uid %v, gid %v; want Ada, 993, 993", what, b["echo"], b["uid"], b["gid"])
	}
	// ENETUNREACH: the Pod's bridge has no route anywhere, not even to the
	// node it runs on (the kubelet's port there listens).
	for _, k := range []string{"internet", "node"} {
		if s, _ := b[k].(string); !strings.Contains(s, "Network is unreachable") {
			t.Errorf("%s invoke: connecting to the %s: %q, want Network is unreachable", what, k, b[k])
		}
	}
	if fns, _ := b["functions"].([]any); !slices.Contains(fns, any(fn)) {
		t.Errorf("%s invoke: boto3's list_functions from inside gave %v, want it to include %s", what, b["functions"], fn)
	}
	for _, re := range []string{`(?m)^START RequestId: \S+ Version: \$LATEST$`, `(?m)^probing from ` + fn + `$`, `(?m)^END RequestId: \S+$`,
		`(?m)^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB`} {
		if !regexp.MustCompile(re).MatchString(tail) {
			t.Errorf("%s invoke's LogResult lacks %s:\n%s", what, re, tail)
		}
	}
	if got := strings.Contains(tail, "Init Duration: "); got != cold {
		t.Errorf("%s invoke: Init Duration in its REPORT is %v, want %v:\n%s", what, got, cold, tail)
	}
	t.Logf("%s invoke: internet %q, node %q", what, b["internet"], b["node"])
}

var (
	startLine    = regexp.MustCompile(`(?m)^START RequestId: (\S+) `)
	initDurField = regexp.MustCompile(`Init Duration: ([\d.]+) ms`)
)

// requestID is the request id of an invocation's START line.
func requestID(t *testing.T, tail string) string {
	t.Helper()
	m := startLine.FindStringSubmatch(tail)
	if m == nil {
		t.Fatalf("no START line in the log:\n%s", tail)
	}
	return m[1]
}

// initDuration is a cold REPORT's Init Duration in ms, as written.
func initDuration(t *testing.T, res cliInvoke) string {
	t.Helper()
	if m := initDurField.FindStringSubmatch(logTail(t, res)); m != nil {
		return m[1]
	}
	return "?"
}

// sdkInvokeTimes times five warm invokes of fn through the Go SDK, sorted:
// the round trip without the CLI's own start-up, which is most of a CLI
// call's time.
func sdkInvokeTimes(t *testing.T, c *awslambda.Client, fn, payload string) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 5 {
		t0 := time.Now()
		out, err := c.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)})
		if err != nil || out.StatusCode != 200 || out.FunctionError != nil {
			t.Fatalf("invoke %s through the SDK: %v, %+v", fn, err, out)
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// runtimeImage is the runtime image's reference, which `lambdalab image`
// prints last (building it first if this recipe has none).
func runtimeImage(t *testing.T, bin string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(runProgram(t, bin, "image")), "\n")
	ref := strings.TrimSpace(lines[len(lines)-1])
	if ref == "" || strings.ContainsAny(ref, " \t") {
		t.Fatalf("lambdalab image printed %q last, want the image's reference", ref)
	}
	return ref
}

// runProgram runs bin with args, which must succeed, and returns its
// standard output.
func runProgram(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // a first image build takes minutes
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("lambdalab %s: %v\n%s%s", strings.Join(args, " "), err, out.Bytes(), errOut.Bytes())
	}
	return out.String()
}

// writeKubeconfig writes cfg as the kubeconfig file an administrator hands
// over (see sandbox/kubernetes's TestConnectAndEnsureNamespace).
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificate: cfg.CertFile, ClientCertificateData: cfg.CertData,
		ClientKey: cfg.KeyFile, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runningPods are the names of the namespace's Pods whose container runs.
func runningPods(t *testing.T, pods corev1client.PodInterface) []string {
	t.Helper()
	list, err := pods.List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	var names []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	return names
}

func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "  %s phase %s deleting %v labels %v annotations %v\n", p.Name, p.Status.Phase, p.DeletionTimestamp != nil, p.Labels, p.Annotations)
	}
	return b.String()
}

// agentProc is `lambdalab node run` as a process of its own.
type agentProc struct {
	cmd    *exec.Cmd
	logs   *logSink
	exited chan struct{}
	err    error
}

// startAgent runs the node agent, linked to server with the certificates
// in certs, its instances under dir. A test's end stops it if it still
// runs: SIGTERM, so that it unmounts and removes its instances.
func startAgent(t *testing.T, bin, server, certs, dir string) *agentProc {
	t.Helper()
	a := &agentProc{logs: newLogSink(), exited: make(chan struct{})}
	a.cmd = exec.Command(bin, "node", "run", "--server", server, "--certs", certs, "--dir", dir)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	// A test process that dies without its cleanups (a -timeout panic)
	// still stops the agent, which is root and mounts every /tmp.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.err = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.exited:
			case <-time.After(30 * time.Second):
				a.cmd.Process.Kill()
				<-a.exited
			}
		}
		if t.Failed() {
			t.Logf("log of the node agent (pid %d):\n%s", a.cmd.Process.Pid, lastLines(a.logs.String(), 80))
		}
	})
	return a
}

// stop stops the agent with SIGTERM, which it must take as the end of its
// run: exit 0, its instances removed.
func (a *agentProc) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		if a.err != nil {
			t.Errorf("the node agent exited with %v after SIGTERM:\n%s", a.err, lastLines(a.logs.String(), 40))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the node agent did not stop within 30 s of SIGTERM")
	}
}

// waitLog waits for s to appear in a process's log.
func waitLog(t *testing.T, logs *logSink, who, s string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for !strings.Contains(logs.String(), s) {
		select {
		case <-deadline:
			t.Fatalf("no %s in the %s's log within %v:\n%s", s, who, limit, lastLines(logs.String(), 40))
		case <-logs.wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mountsBelow lists the mount points under dir in this process's mount
// namespace, the agent's too.
func mountsBelow(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	return points
}

// dockerTimings runs the probe on the Docker backend, cold and then warm,
// through the CLI, and logs the times beside the Pods' (no assertion on
// them: speed goals are benchmarks).
func dockerTimings(t *testing.T, bin, probe string) {
	t.Helper()
	data := shortTempDir(t)
	keys := addUser(t, data, "docker@example.com")
	serve := startProgram(t, bin, data, freePort(t), "LAMBDALAB_PRESTART=1")
	aws := newAWSCLI(t, serve.AWSURL, keys)
	cold, _ := timeProbe(t, "docker", aws, lambdaClient(serve.AWSURL, keys), "docker-probe", probe)
	if cold.StatusCode != 200 || cold.FunctionError != "" {
		t.Errorf("docker cold invoke: %+v, body %v", cold, cold.Body)
	}
	serve.stop(t)
}

// timeProbe creates fn with the probe handler through the CLI, invokes it
// cold and warm (both with their log tails, returned for checking), then
// three more times through the CLI and five through the Go SDK, and logs
// the times under the backend's name.
func timeProbe(t *testing.T, backend string, aws *awsCLI, sdk *awslambda.Client, fn, probe string) (cold, warm cliInvoke) {
	t.Helper()
	createStart := time.Now()
	aws.json(nil, "lambda", "create-function", "--function-name", fn, "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--zip-file", aws.zipFile("probe.zip", map[string]string{"app.py": probeHandler}))
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", fn)
	invokeStart := time.Now()
	cold = aws.invoke(fn, probe, "--log-type", "Tail")
	coldDone := time.Now()
	warm = aws.invoke(fn, probe, "--log-type", "Tail")
	var warmTimes []time.Duration
	for range 3 {
		t0 := time.Now()
		if r := aws.invoke(fn, probe); r.StatusCode != 200 || r.FunctionError != "" {
			t.Errorf("%s: warm invoke: %+v, body %v", backend, r, r.Body)
		}
		warmTimes = append(warmTimes, time.Since(t0))
	}
	slices.Sort(warmTimes)
	sdkTimes := sdkInvokeTimes(t, sdk, fn, probe)
	t.Logf("%s: create-function to first result %v (invoke alone %v, Init Duration %s ms); warm invokes through the CLI %v (median %v), through the Go SDK %v (median %v)",
		backend, coldDone.Sub(createStart).Round(time.Millisecond), coldDone.Sub(invokeStart).Round(time.Millisecond), initDuration(t, cold),
		roundAll(warmTimes), warmTimes[1].Round(time.Millisecond), roundAll(sdkTimes), sdkTimes[len(sdkTimes)/2].Round(time.Millisecond))
	return cold, warm
}
