package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/audit"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

type auditOptions struct {
	kubeconfig  string
	context     string
	namespace   string
	configFile  string
	trustPolicy string
	trustStore  string
	plainHTTP   bool
	deadline    time.Duration
	output      string
}

func newAuditCmd(g *globalOptions) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the images of the pods and workloads already in a Kubernetes cluster",
		Long: `Verify every image of the Pods, ReplicationControllers, Deployments,
ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs (their pod templates,
init and ephemeral containers and image volumes included) in a cluster, with the same trust
policy, trust store, registry settings and admission policy (excluded
namespaces, exempt images) as 'hallmark serve': --config takes serve's
configuration file, and --trust-policy, --trust-store and --plain-http
override it as they do for serve. The TLS fields of the configuration are
not used.

The cluster is the one of --kubeconfig, else $KUBECONFIG, else
~/.kube/config, else the in-cluster service account. Listing needs list
permission on those kinds (the Helm chart's ClusterRole grants it).

Exit code 0 when no image fails; 1 when any image fails or the cluster
cannot be read; 2 for a usage error.`,
		Example: `  hallmark audit --trust-policy trustpolicy.json --trust-store truststore
  hallmark audit --config /etc/hallmark/config.yaml --namespace prod -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runAudit(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	f.StringVar(&o.context, "context", "", "kubeconfig context (default the current context)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "audit this namespace only (default all namespaces)")
	f.StringVar(&o.configFile, "config", "", "serve's configuration file (YAML); its TLS fields are ignored")
	f.StringVar(&o.trustPolicy, "trust-policy", "", "trust policy file (notation trustpolicy.json)")
	f.StringVar(&o.trustStore, "trust-store", "", "trust store folder in notation's layout")
	f.BoolVar(&o.plainHTTP, "plain-http", false, "reach every registry over plain HTTP (loopback development registries only)")
	f.DurationVar(&o.deadline, "deadline", 10*time.Second, "budget for the images of one object; an image not verified by then fails")
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// auditTLSPlaceholder fills the TLS fields that Validate requires of a
// server configuration; audit serves nothing, and Build never reads them.
const auditTLSPlaceholder = "unused-by-hallmark-audit"

// loadConfig reads --config (if any) and lays the flags over it, as serve
// does.
func (o *auditOptions) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	cfg := config.Default()
	if o.configFile != "" {
		c, err := config.Load(o.configFile)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	fl := cmd.Flags()
	if fl.Changed("trust-policy") {
		cfg.TrustPolicy = config.TrustPolicy{File: o.trustPolicy}
	}
	if fl.Changed("trust-store") {
		cfg.TrustStoreDir = o.trustStore
	}
	if o.plainHTTP {
		cfg.Registries = append([]config.Registry{{Hosts: []string{"*"}, PlainHTTP: true}}, cfg.Registries...)
	}
	if o.configFile == "" && (o.trustPolicy == "" || o.trustStore == "") {
		return nil, usageError{fmt.Errorf("audit needs --config FILE, or --trust-policy FILE and --trust-store DIR")}
	}
	cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile = auditTLSPlaceholder, auditTLSPlaceholder, ""
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func runAudit(cmd *cobra.Command, g *globalOptions, o *auditOptions) error {
	ctx := cmd.Context()
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.deadline <= 0 {
		return usageError{fmt.Errorf("--deadline %s: use a positive duration", o.deadline)}
	}
	client, err := audit.Connect(o.kubeconfig, o.context, userAgent())
	if err != nil {
		return err
	}
	cfg, err := o.loadConfig(cmd)
	if err != nil {
		return err
	}
	adm, err := auditAdmitter(cmd, cfg, o.deadline)
	if err != nil {
		return err
	}
	objs, err := audit.List(ctx, client, o.namespace)
	if err != nil {
		return err
	}
	var done func(int)
	if w := terminalWriter(g.err); w != nil && len(objs) > 1 {
		// One line, rewritten in place: a large cluster has thousands
		// of objects.
		done = func(n int) {
			fmt.Fprintf(w, "\rChecked %d of %d objects", n, len(objs))
			if n == len(objs) {
				fmt.Fprintln(w)
			}
		}
	}
	report := audit.CheckProgress(ctx, adm, objs, done)
	if o.output == "json" {
		if err := writeJSON(g.out, report); err != nil {
			return err
		}
	} else if err := printAudit(g.out, report); err != nil {
		return err
	}
	if !report.Compliant {
		return errSilent
	}
	return nil
}

// auditAdmitter builds what serve builds for one configuration generation:
// registry client, engine, cache and admitter, with the deadline given.
func auditAdmitter(cmd *cobra.Command, cfg *config.Config, deadline time.Duration) (*admission.Admitter, error) {
	g, err := serve.Build(cmd.Context(), cfg, serve.BuildOptions{
		UserAgent: userAgent(),
		Policy:    func(p *admission.Policy) { p.Deadline = deadline },
	})
	if err != nil {
		return nil, err
	}
	return g.Admitter, nil
}

// printAudit writes the report as a table, one line per image, and a
// summary line.
func printAudit(w io.Writer, r audit.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tKIND\tNAME\tIMAGE\tRESULT\tREASON")
	for _, f := range r.Findings {
		ns := f.Namespace
		if ns == "" {
			ns = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ns, f.Kind, f.Name, f.Image,
			strings.ToUpper(string(f.Verdict)), oneLine(f.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d objects, %d images checked, %d failed\n", r.Objects, len(r.Findings), r.Failed)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
