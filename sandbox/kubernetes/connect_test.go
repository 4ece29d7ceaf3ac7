package kubernetes

import (
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"lambdalab/sandbox/kubernetes/k8stest"
)

// A kubeconfig file, as an administrator hands one over, connects; the
// namespace is made once, labelled so that hostPath Pods are admitted,
// with a default-deny NetworkPolicy, and a second EnsureNamespace leaves
// it alone.
func TestConnectAndEnsureNamespace(t *testing.T) {
	cfg, _ := k8stest.Config(t)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}

	c, err := Connect(path)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ctx := testCtx(t)
	name := "lambdalab-ensure-" + newID()
	t.Cleanup(func() { c.Core.Namespaces().Delete(ctx, name, metav1.DeleteOptions{}) })
	for range 2 {
		if err := EnsureNamespace(ctx, c, name); err != nil {
			t.Fatalf("EnsureNamespace: %v", err)
		}
	}
	ns, err := c.Core.Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s: labels %v, %v; want pod-security enforce=privileged", name, ns.Labels, err)
	}
	checkDenyAll(t, c, name)

	// A namespace an administrator made keeps its labels and gets the
	// policy too.
	own := "lambdalab-own-" + newID()
	if _, err := c.Core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: own, Labels: map[string]string{"team": "course"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Core.Namespaces().Delete(ctx, own, metav1.DeleteOptions{}) })
	if err := EnsureNamespace(ctx, c, own); err != nil {
		t.Fatalf("EnsureNamespace of an existing namespace: %v", err)
	}
	if ns, err := c.Core.Namespaces().Get(ctx, own, metav1.GetOptions{}); err != nil || ns.Labels["team"] != "course" || ns.Labels["pod-security.kubernetes.io/enforce"] != "" {
		t.Errorf("existing namespace %s: labels %v, %v; want its own labels left as they were", own, ns.Labels, err)
	}
	checkDenyAll(t, c, own)

	if _, err := Connect(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Connect with a kubeconfig that does not exist: no error")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := Connect(""); err == nil {
		t.Error("Connect without a kubeconfig outside a cluster: no error")
	}
}

// checkDenyAll checks that ns has lambdalab's NetworkPolicy, selecting
// every Pod and allowing no traffic either way.
func checkDenyAll(t *testing.T, c Clients, ns string) {
	t.Helper()
	p, err := c.Networking.NetworkPolicies(ns).Get(testCtx(t), denyAllPolicy, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("NetworkPolicy %s in %s: %v", denyAllPolicy, ns, err)
	}
	sp := p.Spec
	if len(sp.PodSelector.MatchLabels) != 0 || len(sp.PodSelector.MatchExpressions) != 0 || len(sp.Ingress) != 0 || len(sp.Egress) != 0 ||
		!slices.Equal(sp.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("NetworkPolicy %s in %s: %+v; want every Pod selected, Ingress and Egress, no rule allowing anything", denyAllPolicy, ns, sp)
	}
}
