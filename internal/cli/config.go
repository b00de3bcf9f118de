package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

type configValidateOptions struct {
	build  bool
	output string
}

func newConfigCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and print hallmark serve configurations",
		Args:  exactArgs(0, "a subcommand"),
	}
	cmd.AddCommand(newConfigValidateCmd(g, &configValidateOptions{}), newConfigExampleCmd(g),
		newConfigImportRatifyCmd(g, &importRatifyOptions{}), newConfigCRDsCmd(g))
	return cmd
}

func newConfigValidateCmd(g *globalOptions, o *configValidateOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a hallmark serve configuration file and report every problem",
		Long: `Check a hallmark serve configuration file (YAML) and report every problem at
once, each with its field path, such as registries[1].hosts[0].

Without --build the check reads only FILE: syntax, unknown fields, types,
values, and the inline trust policy. With --build it also reads every file
the configuration names (TLS files, certificates, the trust policy file,
credentials, the key store) and builds what the server would run with, as
the server does at start and on every reload.

Settings that weaken verification (audit mode, exemptions, plain HTTP,
skipped TLS verification) are printed as warnings; they do not fail the check.

Exit code 0 if the configuration is valid, 1 if not, 2 for a usage error.`,
		Example: `  hallmark config validate /etc/hallmark/config.yaml
  hallmark config validate config.yaml --build -o json`,
		Args: exactArgs(1, "the configuration FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigValidate(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.build, "build", false, "also read every file the configuration names and build the trust store, trust policy and registry options")
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// configReport is what `hallmark config validate -o json` prints.
type configReport struct {
	File     string           `json:"file"`
	Valid    bool             `json:"valid"`
	Problems []config.Problem `json:"problems,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
}

func runConfigValidate(cmd *cobra.Command, g *globalOptions, o *configValidateOptions, file string) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	report := configReport{File: file, Valid: true}
	cfg, err := config.Load(file)
	errs := []error{err}
	if err == nil {
		report.Warnings = cfg.Warnings()
		if o.build {
			_, err := serve.Prepare(cmd.Context(), cfg)
			errs = []error{err, serve.CheckTLS(cfg)}
		}
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			return err // the file could not be read at all
		}
		report.Valid = false
		report.Problems = append(report.Problems, ce.Problems...)
	}
	if o.output == "json" {
		if err := writeJSON(g.out, report); err != nil {
			return err
		}
	} else {
		printConfigReport(g, report)
	}
	if !report.Valid {
		return errSilent
	}
	return nil
}

func printConfigReport(g *globalOptions, r configReport) {
	if r.Valid {
		fmt.Fprintf(g.out, "%s is valid\n", r.File)
	} else {
		fmt.Fprintf(g.out, "%s is not valid:\n", r.File)
		for _, p := range r.Problems {
			fmt.Fprintf(g.out, "  %s\n", p)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(g.err, "warning: %s\n", w)
	}
}

func newConfigExampleCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print a documented example configuration for hallmark serve",
		Long: `Print a documented example configuration for hallmark serve: every field,
with its default or an example value and what it does. Save it, edit it,
and check it with 'hallmark config validate'.`,
		Example: "  hallmark config example > config.yaml",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := g.out.Write(config.Example())
			return err
		},
	}
}
