package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lambdalab/sandbox/kubernetes"
	"lambdalab/sandbox/node"
)

// kubernetesBackend is the sandbox on a Kubernetes cluster: Pods on sandbox
// nodes, and the listener those nodes' agents link to.
type kubernetesBackend struct {
	backend *kubernetes.Backend
	hub     *node.Hub
	ln      net.Listener
}

// startKubernetesBackend connects to the cluster that LAMBDALAB_KUBECONFIG
// (or KUBECONFIG, or the Pod lambdalab runs in) names, makes the sandbox
// namespace if it is missing, and listens for node agents with the node CA
// kept in DATA/nodes (`lambdalab node cert` issues their certificates from
// it). The runtime image must be on the nodes already: its reference is
// what `lambdalab image` printed where it was built.
func startKubernetesBackend(ctx context.Context, dataDir string, getenv func(string) string, logger *slog.Logger) (*kubernetesBackend, error) {
	image := getenv("LAMBDALAB_K8S_IMAGE") // readSandboxSettings refused it empty
	clients, err := kubernetes.Connect(cmp.Or(getenv("LAMBDALAB_KUBECONFIG"), getenv("KUBECONFIG")))
	if err != nil {
		return nil, err
	}
	ns := cmp.Or(getenv("LAMBDALAB_K8S_NAMESPACE"), "lambdalab-sandbox")
	if err := kubernetes.EnsureNamespace(ctx, clients, ns); err != nil {
		return nil, err
	}
	ca, err := node.LoadOrCreateCA(filepath.Join(dataDir, "nodes"))
	if err != nil {
		return nil, err
	}
	hosts := nodeHosts(getenv)
	tlsConf, err := ca.ServerTLS(hosts)
	if err != nil {
		return nil, err
	}
	addr := cmp.Or(getenv("LAMBDALAB_NODE_LISTEN"), ":7443")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for node agents (LAMBDALAB_NODE_LISTEN): %w", err)
	}
	hub := node.NewHub(tlsConf, logger)
	go hub.Serve(ln)
	hostname, _ := os.Hostname()
	backend, err := kubernetes.New(kubernetes.Options{
		Core:      clients.Core,
		Namespace: ns,
		Image:     image,
		Nodes:     hub,
		// Unique to this process's life: Sweep deletes every other owner's
		// Pods, and only the controller runs instances.
		Owner:  fmt.Sprintf("%s-%d-%d", hostname, os.Getpid(), time.Now().Unix()),
		Logger: logger,
	})
	if err != nil {
		ln.Close()
		hub.Close()
		return nil, err
	}
	logger.InfoContext(ctx, "kubernetes backend ready", "namespace", ns, "image", image, "node_listener", ln.Addr().String(), "node_cert_hosts", strings.Join(hosts, ","))
	return &kubernetesBackend{backend: backend, hub: hub, ln: ln}, nil
}

// close stops listening for agents and drops their links (after the
// engine has closed its instances: the agents remove what is left).
func (k *kubernetesBackend) close() {
	k.ln.Close()
	k.hub.Close()
}

// nodeHosts are the names and addresses agents may dial the server by,
// which its certificate must carry: LAMBDALAB_NODE_HOSTS (comma-separated),
// else this machine's host name and the loopback names.
func nodeHosts(getenv func(string) string) []string {
	var hosts []string
	for h := range strings.SplitSeq(getenv("LAMBDALAB_NODE_HOSTS"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) > 0 {
		return hosts
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	return append(hosts, "localhost", "127.0.0.1")
}
