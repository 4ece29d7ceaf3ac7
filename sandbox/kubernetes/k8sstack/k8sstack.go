// Package k8sstack gives tests the whole Kubernetes sandbox on this
// machine: the test control plane and its one real node (k8stest.Node:
// containerd and a kubelet), the runtime image imported into the node, a
// node CA, the server's Hub on loopback, a node agent (node.RunAgent, in
// this process, as root) linked to it, and a kubernetes.Backend over them
// in a namespace of its own. A test suite written against sandbox.Backend
// runs on it unchanged: sandbox's own end-to-end tests do, with
// LAMBDALAB_TEST_BACKEND=kubernetes (make test-k8s-node).
//
// It is for tests only, and skips unless LAMBDALAB_K8S_NODE=1, as
// k8stest.Node does.
package k8sstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lambdalab/sandbox/kubernetes"
	"lambdalab/sandbox/kubernetes/k8stest"
	"lambdalab/sandbox/node"
)

// Namespace holds the stack's instance Pods. It outlives every test (the
// control plane goes with the process), unlike k8stest.Config's.
const Namespace = "lambdalab-stack"

var (
	mu    sync.Mutex
	stack *running
	err   error // why the stack could not start; every later call fails the same way
)

type running struct {
	backend *kubernetes.Backend
	hub     *node.Hub
	ln      net.Listener
	stop    context.CancelFunc
	agent   chan error
	dir     string
	node    k8stest.NodeEnv
}

// Backend returns the process's one stack, starting it on the first call.
// image is the runtime image (in the Docker engine: it is imported into the
// node) and initBin the static init the agent gives every Pod.
func Backend(t testing.TB, image, initBin string) *kubernetes.Backend {
	t.Helper()
	env := k8stest.Node(t) // skips without LAMBDALAB_K8S_NODE=1
	k8stest.ImportImage(t, image)
	mu.Lock()
	defer mu.Unlock()
	if stack == nil && err == nil {
		began := time.Now()
		stack, err = start(env, image, initBin)
		if err == nil {
			t.Logf("k8sstack: agent linked, backend ready in %v (agent log %s)", time.Since(began).Round(time.Millisecond), filepath.Join(stack.dir, "agent.log"))
		}
	}
	if err != nil {
		t.Fatalf("k8sstack: %v", err)
	}
	return stack.backend
}

// Node is the node the stack's instances run on; Backend must have been
// called.
func Node() k8stest.NodeEnv {
	mu.Lock()
	defer mu.Unlock()
	if stack == nil {
		return k8stest.NodeEnv{}
	}
	return stack.node
}

// AgentDir is the node agent's folder (its --dir), which every instance
// Pod's hostPath volumes point into; Backend must have been called.
func AgentDir() string {
	mu.Lock()
	defer mu.Unlock()
	if stack == nil {
		return ""
	}
	return filepath.Join(stack.dir, "node")
}

func start(env k8stest.NodeEnv, image, initBin string) (_ *running, err error) {
	// Short: every instance's sockets are DIR/instances/<16 hex>/sock/NAME,
	// at most 107 bytes.
	dir, err := os.MkdirTemp("", "llstack-")
	if err != nil {
		return nil, err
	}
	r := &running{dir: dir, node: env, agent: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	clients, err := kubernetes.NewClients(env.Config)
	if err != nil {
		return nil, err
	}
	core := clients.Core
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kubernetes.EnsureNamespace(ctx, clients, Namespace); err != nil {
		return nil, err
	}
	ca, err := node.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		return nil, err
	}
	serverTLS, err := ca.ServerTLS([]string{"127.0.0.1"})
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.hub = node.NewHub(serverTLS, logger.With("side", "server"))
	if r.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	go r.hub.Serve(r.ln)

	cert, key, err := ca.IssueNode(env.Name)
	if err != nil {
		return nil, err
	}
	agentTLS, err := node.AgentTLS(ca.CertPEM(), cert, key)
	if err != nil {
		return nil, err
	}
	// The Pods mount the init from the agent's folder, as on a real node.
	nodeInit := filepath.Join(dir, "lambdalab-init")
	if err := copyExecutable(initBin, nodeInit); err != nil {
		return nil, err
	}
	actx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() {
		r.agent <- node.RunAgent(actx, node.AgentConfig{Server: r.ln.Addr().String(), TLS: agentTLS,
			Dir: filepath.Join(dir, "node"), InitBinary: nodeInit, Logger: logger.With("side", "agent")})
	}()
	if err := r.hub.WaitNodes(ctx, 1); err != nil {
		return nil, fmt.Errorf("the node agent did not link within a minute (see %s): %w", logFile.Name(), err)
	}
	r.backend, err = kubernetes.New(kubernetes.Options{Core: core, Namespace: Namespace, Image: image, Nodes: r.hub,
		Owner: fmt.Sprintf("k8sstack-%d", os.Getpid()), Logger: logger.With("side", "backend")})
	return r, err
}

func (r *running) close() {
	if r.stop != nil {
		r.stop()
		<-r.agent
	}
	if r.ln != nil {
		r.ln.Close()
	}
	if r.hub != nil {
		r.hub.Close()
	}
	os.RemoveAll(r.dir)
}

// Stop sweeps the stack's Pods and folders, stops the agent and the Hub,
// and then the node and control plane (k8stest.Stop). For TestMain.
func Stop() {
	mu.Lock()
	s := stack
	stack = nil
	mu.Unlock()
	if s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.backend.Sweep(ctx)
		cancel()
		s.close()
	}
	k8stest.Stop()
}

func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
