package kubernetes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Clients are the API groups lambdalab uses: Pods and namespaces in core,
// the sandbox namespace's NetworkPolicy in networking.
type Clients struct {
	Core       corev1client.CoreV1Interface
	Networking networkingv1client.NetworkingV1Interface
}

// NewClients returns the clients for cfg.
func NewClients(cfg *rest.Config) (Clients, error) {
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("kubernetes: %w", err)
	}
	networking, err := networkingv1client.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("kubernetes: %w", err)
	}
	return Clients{Core: core, Networking: networking}, nil
}

// Connect returns the clients of the cluster that kubeconfig names, or of
// the cluster lambdalab runs in when kubeconfig is empty (its Pod's
// service account). The clients' rate limit is raised from client-go's 5
// requests a second: each cold start costs a create, a watch, a label and
// two resizes, and a class starting its first functions together must not
// queue behind the client.
func Connect(kubeconfig string) (Clients, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return Clients{}, fmt.Errorf("kubernetes: no kubeconfig given and not running in a cluster: %w", err)
		}
	} else if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return Clients{}, fmt.Errorf("kubernetes: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "lambdalab"
	return NewClients(cfg)
}

// denyAllPolicy is the sandbox namespace's NetworkPolicy: every Pod there,
// no traffic in or out. It holds only where the cluster's CNI plugin
// enforces NetworkPolicy; the sandbox nodes' bridge without routes holds
// anyway (doc.go).
const denyAllPolicy = "lambdalab-deny-all"

// EnsureNamespace creates the sandbox namespace when it is missing,
// labelled for Pod Security's privileged level, which is the only one that
// admits the hostPath volumes every instance Pod has (doc.go), and gives it
// a default-deny NetworkPolicy (denyAllPolicy) when it has none of that
// name. An existing namespace's labels are left as they are: an
// administrator may have made it with policies of their own.
func EnsureNamespace(ctx context.Context, c Clients, name string) error {
	_, err := c.Core.Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged",
			managedBy:                            "lambdalab",
		}}}
		if _, err := c.Core.Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kubernetes: create namespace %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("kubernetes: namespace %s: %w", name, err)
	}
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: denyAllPolicy, Labels: map[string]string{managedBy: "lambdalab"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{}, // every Pod of the namespace
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	if _, err := c.Networking.NetworkPolicies(name).Create(ctx, policy, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubernetes: create NetworkPolicy %s in %s: %w", denyAllPolicy, name, err)
	}
	return nil
}

const managedBy = "app.kubernetes.io/managed-by"
