// Command kube-apiserver is the Kubernetes API server, built from the Go
// module proxy so that hallmark's end-to-end tests run a real control plane
// without Docker. It is a test peer, never part of hallmark.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
