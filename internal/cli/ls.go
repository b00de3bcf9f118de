package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

type lsOptions struct {
	registry registryOptions
	output   string
}

func newLsCmd(g *globalOptions) *cobra.Command {
	o := &lsOptions{}
	cmd := &cobra.Command{
		Use:     "ls REFERENCE",
		Aliases: []string{"list"},
		Short:   "List the Notary Project signatures of an image",
		Example: `  hallmark ls registry.example.com/app:v1
  hallmark ls 127.0.0.1:5000/app@sha256:... --plain-http -o json`,
		Args: exactArgs(1, "one image reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runLs(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", `output format: "text" (a tree, like notation ls) or "json"`)
	o.registry.addFlags(cmd.Flags())
	o.registry.addCredentialFlags(cmd.Flags())
	return cmd
}

// lsResult is what `hallmark ls -o json` prints.
type lsResult struct {
	Reference  string   `json:"reference"`
	Digest     string   `json:"digest"`
	Signatures []string `json:"signatures"`
}

func runLs(cmd *cobra.Command, g *globalOptions, o *lsOptions, ref string) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	client, err := o.registry.client(g.streams, false, ref)
	if err != nil {
		return err
	}
	subject, sigs, err := client.ListSignatures(cmd.Context(), ref)
	if err != nil {
		return err
	}
	pinned, err := pinDigest(ref, subject.Digest.String())
	if err != nil {
		return err
	}
	res := lsResult{Reference: pinned, Digest: subject.Digest.String(), Signatures: []string{}}
	for _, s := range sigs {
		res.Signatures = append(res.Signatures, s.Digest.String())
	}
	if o.output == "json" {
		return writeJSON(g.out, res)
	}
	fmt.Fprintln(g.out, pinned)
	if len(sigs) == 0 {
		fmt.Fprintln(g.out, "└── (no signatures)")
		return nil
	}
	fmt.Fprintf(g.out, "└── %s\n", oci.ArtifactTypeSignature)
	for i, s := range res.Signatures {
		branch := "├──"
		if i == len(res.Signatures)-1 {
			branch = "└──"
		}
		fmt.Fprintf(g.out, "    %s %s\n", branch, s)
	}
	return nil
}
