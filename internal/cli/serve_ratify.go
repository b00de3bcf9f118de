package cli

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/audit"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/ratify/watch"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

// serveRatifyOptions are serve's flags for Ratify's resources.
type serveRatifyOptions struct {
	resources   bool
	namespace   string
	trustedRoot string
}

// The runtime tells the cluster source how each configuration's trust
// stores were built, for the resources' status; the source implements the
// runtime's interface without importing the runtime.
var _ serve.TrustReporter = (*watch.Source)(nil)

// In the cluster, serve stays up (not ready) while the resources do not
// make a configuration, rather than exit into a crash loop.
var _ serve.PendingSource = (*watch.Source)(nil)

func (o *serveRatifyOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.resources, "ratify-resources", false, "serve from Ratify's configuration resources in the cluster (Store, CertificateStore, KeyManagementProvider, Verifier, Policy), writing their status; with --kubeconfig, or in-cluster")
	f.StringVar(&o.trustedRoot, "ratify-cosign-trusted-root", "", "with --ratify-resources, the Sigstore trusted root JSON a cosign Verifier's keyless identities and tLogVerify check against (Ratify fetches them from the public-good instance; hallmark reads this file)")
	f.StringVar(&o.namespace, "namespace", "", "with --ratify-resources, the namespace bare certificate store names resolve in (default: the pod's namespace, else the kubeconfig context's, else default)")
}

// configSource is where serve reads its configuration: the file and flags,
// or Ratify's resources with the flags laid over them.
func (o *serveOptions) configSource(cmd *cobra.Command) (serve.Source, error) {
	fl := cmd.Flags()
	if !o.ratify.resources {
		if fl.Changed("namespace") {
			return nil, usageError{errors.New("--namespace is for --ratify-resources")}
		}
		if fl.Changed("ratify-cosign-trusted-root") {
			return nil, usageError{errors.New("--ratify-cosign-trusted-root is for --ratify-resources (a configuration file sets cosign.trustedRootFile)")}
		}
		return &serve.FileSource{Path: o.configFile, Overlay: o.overlay(fl), Interval: o.reload}, nil
	}
	if fl.Changed("trust-policy") || fl.Changed("trust-store") {
		return nil, usageError{errors.New("--ratify-resources takes the trust policy and trust stores from the cluster's Ratify resources: leave out --trust-policy and --trust-store (a --config file gives how to serve: listen, tls, mode, admission, verification, allowedRegistries)")}
	}
	if o.configFile != "" {
		// Read now, so that a wrong file stops the start; the source
		// reads it again on every load.
		if _, err := config.LoadServing(o.configFile); err != nil {
			return nil, err
		}
	}
	client, err := audit.Connect(o.kubeconfig, "", userAgent())
	if err != nil {
		return nil, err
	}
	ns := o.ratify.namespace
	if ns == "" {
		ns = watch.Namespace(watch.KubeconfigNamespace(o.kubeconfig))
	}
	return &watch.Source{Client: client, Namespace: ns, CosignTrustedRootFile: o.ratify.trustedRoot, BaseFile: o.configFile, Overlay: o.overlay(fl)}, nil
}
