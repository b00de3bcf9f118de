// Command buildkube builds the Kubernetes end-to-end peers, kube-apiserver
// (tools/kube), helm (tools/helm), opa (tools/opa) and Gatekeeper
// (tools/gatekeeper), into their cache folders and prints
// their paths, so CI pays for the builds once, in a step of its own. It also
// checks that etcd is installed.
package main

import (
	"fmt"
	"os"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

func main() {
	if _, err := os.Stat(testpeers.EtcdPath); err != nil {
		fmt.Fprintf(os.Stderr, "buildkube: %v (install Debian's etcd-server package)\n", err)
		os.Exit(1)
	}
	for _, build := range []func() (string, error){testpeers.BuildKube, testpeers.BuildHelm, testpeers.BuildOPA, testpeers.BuildGatekeeper} {
		p, err := build()
		if err != nil {
			fmt.Fprintln(os.Stderr, "buildkube:", err)
			os.Exit(1)
		}
		fmt.Println(p)
	}
}
