package kubernetes

import (
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"lambdalab/sandbox/kubernetes/k8stest"
)

// A kubeconfig file, as an administrator hands one over, connects; the
// namespace is made once, labelled so that hostPath Pods are admitted, and
// a second EnsureNamespace leaves it alone.
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

	core, err := Connect(path)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ctx := testCtx(t)
	name := "lambdalab-ensure-" + newID()
	t.Cleanup(func() { core.Namespaces().Delete(ctx, name, metav1.DeleteOptions{}) })
	for range 2 {
		if err := EnsureNamespace(ctx, core, name); err != nil {
			t.Fatalf("EnsureNamespace: %v", err)
		}
	}
	ns, err := core.Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s: labels %v, %v; want pod-security enforce=privileged", name, ns.Labels, err)
	}

	if _, err := Connect(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Connect with a kubeconfig that does not exist: no error")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := Connect(""); err == nil {
		t.Error("Connect without a kubeconfig outside a cluster: no error")
	}
}
