package kubernetes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Connect returns the core/v1 client of the cluster that kubeconfig names,
// or of the cluster lambdalab runs in when kubeconfig is empty (its Pod's
// service account). The client's rate limit is raised from client-go's 5
// requests a second: each cold start costs a create, a watch and two
// resizes, and a class starting its first functions together must not
// queue behind the client.
func Connect(kubeconfig string) (corev1client.CoreV1Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes: no kubeconfig given and not running in a cluster: %w", err)
		}
	} else if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return nil, fmt.Errorf("kubernetes: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "lambdalab"
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return core, nil
}

// EnsureNamespace creates the sandbox namespace when it is missing,
// labelled for Pod Security's privileged level, which is the only one that
// admits the hostPath volumes every instance Pod has (doc.go). An existing
// namespace is left as it is: an administrator may have made it with
// policies of their own.
func EnsureNamespace(ctx context.Context, core corev1client.CoreV1Interface, name string) error {
	_, err := core.Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubernetes: namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "privileged",
		"app.kubernetes.io/managed-by":       "lambdalab",
	}}}
	if _, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubernetes: create namespace %s: %w", name, err)
	}
	return nil
}
