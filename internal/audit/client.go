package audit

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrNoCluster means no kubeconfig was found and hallmark does not run in a
// cluster; the error that wraps it says where Connect looked.
var ErrNoCluster = errors.New("no Kubernetes cluster to audit")

// Connect builds the Kubernetes client of `hallmark audit` and of the
// periodic audit of `hallmark serve`: the kubeconfig given (its context
// kubeContext, or its current one), else $KUBECONFIG, else ~/.kube/config,
// else the in-cluster service account. userAgent is sent with every request.
func Connect(kubeconfig, kubeContext, userAgent string) (dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	kcfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			// client-go's own text suggests KUBERNETES_MASTER, which
			// hallmark does not read.
			return nil, fmt.Errorf("%w: %s", ErrNoCluster, searched(rules))
		}
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	kcfg.UserAgent = userAgent
	client, err := dynamic.NewForConfig(kcfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}

// searched says where the client looked for a kubeconfig, for the error of
// a machine with no cluster configured.
func searched(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return "looked in --kubeconfig " + rules.ExplicitPath
	}
	where := strings.Join(rules.Precedence, ", ")
	if os.Getenv("KUBECONFIG") != "" {
		where = "$KUBECONFIG (" + where + ")"
	}
	return "looked in " + where + " and for an in-cluster service account; pass --kubeconfig FILE"
}
