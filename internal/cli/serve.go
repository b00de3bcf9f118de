package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hallmark-dev/hallmark/internal/audit"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

type serveOptions struct {
	configFile  string
	listen      string
	certFile    string
	keyFile     string
	clientCA    string
	trustPolicy string
	trustStore  string
	plainHTTP   bool
	mode        string
	logLevel    string
	reload      time.Duration
	// admission settings, for --ratify-resources above all, whose
	// resources do not hold them
	requireDigest     bool
	excludeNamespaces []string
	// periodic audit of running workloads
	auditInterval time.Duration
	kubeconfig    string
	auditEvents   bool
	auditLease    string
	// Ratify's resources as the configuration (serve_ratify.go)
	ratify serveRatifyOptions
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission server: Kubernetes webhook and Ratify-compatible Gatekeeper provider",
		Long: `Run hallmark's admission server on one HTTPS listener:

  POST /validate                        AdmissionReview (v1, v1beta1): allow or deny pods and workloads
  POST /mutate                          AdmissionReview: pin image tags to the digests verified
  POST /ratify/gatekeeper/v1/verify     Gatekeeper external data, Ratify's wire format
  POST /ratify/gatekeeper/v1/mutate     Gatekeeper external data mutation, Ratify's wire format
  GET  /healthz, /readyz, /metrics      liveness, readiness (trust material loaded), Prometheus

Flags serve the simple case; --config FILE (YAML, see 'hallmark config example')
holds everything, and flags given with it override its fields. The server
watches the config and trust policy files and reloads them on change; a new
configuration that does not validate is logged and rejected, and the old one
stays in force. Serving certificates are reloaded the same way.

In deny mode (the default) anything that is not a positive verification is
denied, including registry failures and images not verified within the
deadline. --mode audit admits them with warnings and audit annotations.`,
		Example: `  hallmark serve --tls-cert-file tls.crt --tls-key-file tls.key --trust-policy trustpolicy.json --trust-store truststore
  hallmark serve --config /etc/hallmark/config.yaml`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, o) },
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func (o *serveOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.configFile, "config", "", "configuration file (YAML); see 'hallmark config example'. With --ratify-resources, only how to serve: listen, tls, mode, admission, verification, allowedRegistries")
	f.StringVar(&o.listen, "listen", "", `HTTPS listen address (default ":8443")`)
	f.StringVar(&o.certFile, "tls-cert-file", "", "PEM serving certificate (reloaded on change)")
	f.StringVar(&o.keyFile, "tls-key-file", "", "PEM serving key (reloaded on change)")
	f.StringVar(&o.clientCA, "client-ca-file", "", "PEM CA bundle; when set, clients must present a certificate it issued (mTLS)")
	f.StringVar(&o.trustPolicy, "trust-policy", "", "trust policy file (notation trustpolicy.json)")
	f.StringVar(&o.trustStore, "trust-store", "", "trust store folder in notation's layout")
	f.BoolVar(&o.plainHTTP, "plain-http", false, "reach every registry over plain HTTP (loopback development registries only)")
	f.StringVar(&o.mode, "mode", "", `admission mode: "deny" (default; fail closed) or "audit" (allow with warnings)`)
	f.BoolVar(&o.requireDigest, "require-digest", true, "deny mode refuses an image named by a tag without a digest (admission.requireDigest); false admits verified tags unpinned")
	f.StringSliceVar(&o.excludeNamespaces, "exclude-namespaces", nil, `namespaces whose workloads are not verified, comma-separated, in place of admission.excludeNamespaces (default "kube-system")`)
	f.StringVar(&o.logLevel, "log-level", "info", `log level: "debug", "info", "warn" or "error" (JSON records on standard error)`)
	f.DurationVar(&o.reload, "reload-interval", 2*time.Second, "how often configuration and certificate files are checked for changes")
	f.DurationVar(&o.auditInterval, "audit-interval", 0, "audit the cluster's running pods and workloads this often (e.g. 10m), exporting hallmark_audit_* metrics; 0 turns it off")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for --audit-interval (default $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	f.BoolVar(&o.auditEvents, "audit-events", true, "with --audit-interval, post a Warning Event (reason ImageNotVerified) on each object with an image that does not verify")
	o.ratify.addFlags(f)
	f.StringVar(&o.auditLease, "audit-lease", "", "with --audit-interval, audit only while this replica holds the coordination.k8s.io Lease NAMESPACE/NAME, so that one replica of several audits")
}

// overlay lays the flags given over a configuration: the serve.FileSource
// calls it on every load, so a reloaded file keeps the flags' values.
func (o *serveOptions) overlay(fl *pflag.FlagSet) func(*config.Config) {
	return func(cfg *config.Config) {
		if fl.Changed("listen") {
			cfg.Listen = o.listen
		}
		if fl.Changed("tls-cert-file") {
			cfg.TLS.CertFile = o.certFile
		}
		if fl.Changed("tls-key-file") {
			cfg.TLS.KeyFile = o.keyFile
		}
		if fl.Changed("client-ca-file") {
			cfg.TLS.ClientCAFile = o.clientCA
		}
		if fl.Changed("trust-policy") {
			cfg.TrustPolicy = config.TrustPolicy{File: o.trustPolicy}
		}
		if fl.Changed("trust-store") {
			cfg.TrustStoreDir = o.trustStore
		}
		if fl.Changed("mode") {
			cfg.Mode = config.Mode(o.mode)
		}
		if fl.Changed("require-digest") {
			v := o.requireDigest
			cfg.Admission.RequireDigest = &v
		}
		if fl.Changed("exclude-namespaces") {
			cfg.Admission.ExcludeNamespaces = append([]string{}, o.excludeNamespaces...)
		}
		if o.plainHTTP {
			cfg.Registries = append([]config.Registry{{Hosts: []string{"*"}, PlainHTTP: true}}, cfg.Registries...)
		}
	}
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", s)}
	}
	return l, nil
}

func runServe(cmd *cobra.Command, g *globalOptions, o *serveOptions) error {
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	a, err := o.audit()
	if err != nil {
		return err
	}
	if err := o.checkFlags(cmd.Flags()); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(g.err, &slog.HandlerOptions{Level: level}))
	src, err := o.configSource(cmd)
	if err != nil {
		return err
	}
	return serve.Run(cmd.Context(), src, serve.Options{
		Logger:             log,
		CertReloadInterval: o.reload,
		UserAgent:          userAgent(),
	}, a)
}

// checkFlags reports the flags' own mistakes in the flags' words, all at
// once, one a line, before the configuration they make is validated: a
// user who ran serve with flags reads "--tls-cert-file", not the
// configuration path it fills. With --config the file may give what the
// flags leave out, so only the values of flags given are checked.
func (o *serveOptions) checkFlags(fl *pflag.FlagSet) error {
	var problems []string
	if fl.Changed("mode") && o.mode != string(config.ModeDeny) && o.mode != string(config.ModeAudit) {
		problems = append(problems, fmt.Sprintf("--mode %q: use deny or audit", o.mode))
	}
	missing := false
	if o.configFile == "" {
		reqs := []struct{ flag, value, why string }{
			{"--tls-cert-file", o.certFile, "the API server and Gatekeeper call webhooks over HTTPS only"},
			{"--tls-key-file", o.keyFile, "the key of --tls-cert-file"},
			{"--trust-policy", o.trustPolicy, "the trust policy images are verified against"},
			{"--trust-store", o.trustStore, "the trust store the policy's trustStores name"},
		}
		if o.ratify.resources {
			reqs = reqs[:2] // the trust policy and stores come from the resources
		}
		for _, req := range reqs {
			if req.value == "" {
				missing = true
				problems = append(problems, fmt.Sprintf("%s is required (%s)", req.flag, req.why))
			}
		}
	}
	hint := ""
	if missing {
		hint = "; or give --config FILE"
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return usageError{fmt.Errorf("hallmark serve: %s%s (see 'hallmark serve --help')", problems[0], hint)}
	}
	return usageError{fmt.Errorf("hallmark serve: %d flags to fix%s (see 'hallmark serve --help'):\n  %s", len(problems), hint, strings.Join(problems, "\n  "))}
}

// audit checks the periodic audit's flags and connects to the cluster; nil
// when --audit-interval is 0.
func (o *serveOptions) audit() (*serve.Audit, error) {
	if o.auditInterval < 0 {
		return nil, usageError{fmt.Errorf("--audit-interval %s: use a positive duration, or 0 to turn the audit off", o.auditInterval)}
	}
	if o.auditLease != "" && o.auditInterval == 0 {
		return nil, usageError{errors.New("--audit-lease elects the replica that runs the periodic audit; give --audit-interval too")}
	}
	a := &serve.Audit{Interval: o.auditInterval, Events: o.auditEvents}
	if o.auditLease != "" {
		ns, name, err := parseLease(o.auditLease)
		if err != nil {
			return nil, err
		}
		a.LeaseNamespace, a.LeaseName = ns, name
	}
	if o.auditInterval == 0 {
		return nil, nil
	}
	client, err := audit.Connect(o.kubeconfig, "", userAgent())
	if err != nil {
		return nil, fmt.Errorf("--audit-interval: %w", err)
	}
	a.Client = client
	return a, nil
}

// parseLease reads --audit-lease NAMESPACE/NAME.
func parseLease(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	bad := func(what string, errs []string) error {
		return usageError{fmt.Errorf("--audit-lease %q: %s %s; write NAMESPACE/NAME, e.g. hallmark/hallmark-audit", s, what, strings.Join(errs, "; "))}
	}
	if !ok {
		return "", "", usageError{fmt.Errorf("--audit-lease %q: write NAMESPACE/NAME, e.g. hallmark/hallmark-audit", s)}
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", "", bad("the namespace is not valid:", errs)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", bad("the name is not valid:", errs)
	}
	return namespace, name, nil
}

// userAgent is what hallmark sends to registries and the API server.
func userAgent() string { return "hallmark/" + Version }
