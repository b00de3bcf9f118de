package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/ratify"
)

type importRatifyOptions struct {
	namespace   string
	trustedRoot string
	output      string
}

func newConfigImportRatifyCmd(g *globalOptions, o *importRatifyOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import-ratify FILE...",
		Short: "Turn Ratify's configuration resources into a hallmark configuration",
		Long: `Read Ratify's configuration resources (Store, CertificateStore,
KeyManagementProvider, Verifier, Policy and their Namespaced kinds, of
config.ratify.deislabs.io v1beta1 or v1alpha1, and Ratify v2's Executor) from
files, folders (their .yaml, .yml and .json files) or - for standard input,
each holding one or more YAML documents, and print the hallmark configuration
that verifies what Ratify would on standard output.

Every field is mapped or reported on standard error with its resource and
field path: a problem when hallmark would not verify exactly what Ratify
verifies (an unsupported verifier or policy, an unknown field, a reference to
a missing resource), a note when it changes nothing that is admitted.

A bare name in verificationCertStores is a KeyManagementProvider, or a
CertificateStore in the namespace Ratify runs in (--namespace); resources
written without a namespace are taken to be in it.

A cosign Verifier's trustPolicies become cosign.policies. Keyless identities
and tLogVerify (true unless set false) need a Sigstore trusted root, which
Ratify fetches from the public-good instance and hallmark reads from a file:
--cosign-trusted-root names it.

Exit code 0 if the configuration verifies exactly what Ratify would, 1 if
there are problems (the configuration is still printed, as far as it goes),
2 for a usage error.`,
		Example: `  hallmark config import-ratify store_config.yaml akv-certificate-store.yaml akv-verifier.yaml > config.yaml
  kubectl get stores,certificatestores,keymanagementproviders,verifiers,policies -A -o yaml | hallmark config import-ratify -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s expects at least one FILE, folder, or - for standard input (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportRatify(g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.namespace, "namespace", "n", ratify.DefaultNamespace, "the namespace Ratify runs in")
	f.StringVar(&o.trustedRoot, "cosign-trusted-root", "", "the Sigstore trusted root JSON that cosign.trustedRootFile names, for cosign trust policies with keyless identities or tLogVerify (Ratify fetches Fulcio's roots and Rekor's keys; hallmark reads this file)")
	f.StringVarP(&o.output, "output", "o", "yaml", `output format: "yaml" (the configuration) or "json" (the configuration with its problems and notes)`)
	return cmd
}

// importReport is what `hallmark config import-ratify -o json` prints.
type importReport struct {
	OK       bool             `json:"ok"`
	Config   json.RawMessage  `json:"config,omitempty"`
	Problems []ratify.Finding `json:"problems,omitempty"`
	Notes    []ratify.Finding `json:"notes,omitempty"`
}

func runImportRatify(g *globalOptions, o *importRatifyOptions, args []string) error {
	if o.output != "yaml" && o.output != "json" {
		return usageError{fmt.Errorf("--output %q: use yaml or json", o.output)}
	}
	var (
		resources []*ratify.Resource
		problems  []ratify.Finding
	)
	stdinRead := false
	for _, arg := range args {
		inputs, err := importInputs(arg)
		if err != nil {
			return err
		}
		for _, in := range inputs {
			var data []byte
			if in == "-" {
				if stdinRead {
					return errors.New("- (standard input) is given twice")
				}
				stdinRead = true
				data, err = capped.Read(g.in, ratify.MaxDocumentBytes)
				in = "(stdin)"
			} else {
				data, err = capped.ReadFile(in, ratify.MaxDocumentBytes)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", in, err)
			}
			rs, ps := ratify.Decode(in, data)
			resources = append(resources, rs...)
			problems = append(problems, ps...)
		}
	}
	res := ratify.Convert(resources, ratify.Options{Namespace: o.namespace, CosignTrustedRootFile: o.trustedRoot})
	res.Problems = append(problems, res.Problems...)
	out, err := res.YAML()
	if err != nil {
		return err
	}
	if o.output == "json" {
		r := importReport{OK: res.OK(), Problems: res.Problems, Notes: res.Notes}
		if r.Config, err = json.Marshal(res.Config); err != nil {
			return err
		}
		if err := writeJSON(g.out, r); err != nil {
			return err
		}
	} else {
		if _, err := g.out.Write(out); err != nil {
			return err
		}
		for _, p := range res.Problems {
			fmt.Fprintf(g.err, "problem: %s\n", p)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(g.err, "note: %s\n", n)
		}
	}
	if !res.OK() {
		if o.output == "yaml" {
			fmt.Fprintf(g.err, "%d problem(s): the configuration above does not verify exactly what Ratify would\n", len(res.Problems))
		}
		return errSilent
	}
	return nil
}

// importInputs expands a folder into its YAML and JSON files, sorted.
func importInputs(arg string) ([]string, error) {
	if arg == "-" {
		return []string{"-"}, nil
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{arg}, nil
	}
	var files []string
	err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != arg {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("folder %s holds no .yaml, .yml or .json file", arg)
	}
	sort.Strings(files)
	return files, nil
}

func newConfigCRDsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "crds",
		Short: "Print the CustomResourceDefinitions of Ratify's configuration resources",
		Long: `Print the CustomResourceDefinitions of Ratify's configuration resources
(config.ratify.deislabs.io: Store, CertificateStore, KeyManagementProvider,
Verifier, Policy and their Namespaced kinds; v1beta1, and v1alpha1 where
Ratify still serves it; and Ratify v2's config.ratify.sh/v2alpha1 Executor),
with Ratify's names and printer columns, for clusters without Ratify
installed. The Helm chart installs them with
ratifyResources.installCRDs=true.`,
		Example: "  hallmark config crds | kubectl apply -f -",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := g.out.Write(ratify.CRDs())
			return err
		},
	}
}
