// Command pause is the sandbox (pause) image's only program for the node
// tests' containerd: it holds a Pod's namespaces by sleeping until it is
// told to stop, as registry.k8s.io/pause does. k8stest builds it static
// (CGO_ENABLED=0), because the image holds nothing else: no libc, no shell.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
