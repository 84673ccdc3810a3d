// etcd's server command for the node image's registry.k8s.io/etcd: the Go module proxy serves
// etcd's server module but not the root module that holds etcd's own main package, so this
// wrapper calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
