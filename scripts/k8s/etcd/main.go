// Command etcd is etcd's own server, built here because
// `go install go.etcd.io/etcd/server/v3@v3.6.16` is refused: etcd's go.mod
// has replace directives. scripts/k8s-bins.sh builds it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
