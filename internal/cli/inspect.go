package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/envelope"
)

type inspectOptions struct {
	registry registryOptions
	output   string
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect REFERENCE",
		Short: "Show what each signature of an image says: format, attributes, certificate chain",
		Long: `Show, for each Notary Project signature of an image, its envelope format,
signing scheme, signed and unsigned attributes, signing time, expiry, timestamp
and certificate chain.

inspect reads signatures; it does not verify them. Use 'hallmark verify' to
decide whether to trust an image.`,
		Example: `  hallmark inspect registry.example.com/app:v1
  hallmark inspect 127.0.0.1:5000/app:v1 --plain-http -o json`,
		Args: exactArgs(1, "one image reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runInspect(cmd, g, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	o.registry.addFlags(cmd.Flags())
	o.registry.addCredentialFlags(cmd.Flags())
	return cmd
}

// inspectResult is what `hallmark inspect -o json` prints.
type inspectResult struct {
	Reference  string             `json:"reference"`
	Digest     string             `json:"digest"`
	Signatures []inspectSignature `json:"signatures"`
}

type inspectSignature struct {
	Digest string `json:"digest"`
	*envelope.Description
	// Error says why this signature could not be read; the others are
	// still shown.
	Error string `json:"error,omitempty"`
}

func runInspect(cmd *cobra.Command, g *globalOptions, o *inspectOptions, ref string) error {
	ctx := cmd.Context()
	if err := checkOutput(o.output); err != nil {
		return err
	}
	client, err := o.registry.client(g.streams, false, ref)
	if err != nil {
		return err
	}
	subject, sigs, err := client.ListSignatures(ctx, ref)
	if err != nil {
		return err
	}
	pinned, err := pinDigest(ref, subject.Digest.String())
	if err != nil {
		return err
	}
	res := inspectResult{Reference: pinned, Digest: subject.Digest.String(), Signatures: []inspectSignature{}}
	failed := 0
	for _, s := range sigs {
		is := inspectSignature{Digest: s.Digest.String()}
		_, mediaType, env, err := client.FetchSignature(ctx, pinned, s)
		if err == nil {
			is.Description, err = envelope.Describe(mediaType, env)
		}
		if err != nil {
			is.Error = err.Error()
			failed++
		}
		res.Signatures = append(res.Signatures, is)
	}
	if o.output == "json" {
		if err := writeJSON(g.out, res); err != nil {
			return err
		}
	} else {
		printInspect(g.out, res)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d signature(s) could not be read: %w", failed, len(sigs), errSilentIfText(o.output))
	}
	return nil
}

// errSilentIfText: in text mode the tree already said which signature failed.
func errSilentIfText(output string) error {
	if output == "text" {
		return errSilent
	}
	return fmt.Errorf("see the error fields")
}

func printInspect(w io.Writer, res inspectResult) {
	fmt.Fprintf(w, "%s\n", res.Reference)
	if len(res.Signatures) == 0 {
		fmt.Fprintln(w, "└── (no signatures)")
		return
	}
	fmt.Fprintln(w, "└── application/vnd.cncf.notary.signature")
	for i, s := range res.Signatures {
		last := i == len(res.Signatures)-1
		t := newTree(w, "    ", last)
		t.node(s.Digest)
		if s.Error != "" {
			t.child().leaf("error: " + s.Error)
			continue
		}
		d := s.Description
		c := t.child()
		c.leaf("media type: " + d.MediaType)
		c.leaf("signature algorithm: " + d.SignatureAlgorithm)
		c.leaf("signing scheme: " + d.SigningScheme)
		sa := []string{"content type: " + d.SignedAttributes.ContentType}
		if d.SignedAttributes.SigningTime != nil {
			sa = append(sa, "signing time: "+fmtTime(*d.SignedAttributes.SigningTime))
		}
		if d.SignedAttributes.AuthenticSigningTime != nil {
			sa = append(sa, "authentic signing time: "+fmtTime(*d.SignedAttributes.AuthenticSigningTime))
		}
		if d.SignedAttributes.Expiry != nil {
			sa = append(sa, "expiry: "+fmtTime(*d.SignedAttributes.Expiry))
		} else {
			sa = append(sa, "expiry: never")
		}
		for _, a := range d.SignedAttributes.Extended {
			sa = append(sa, fmt.Sprintf("%s: %v", a.Key, a.Value))
		}
		c.list("signed attributes", sa)
		if len(d.UserDefinedAttributes) > 0 {
			var ua []string
			for k, v := range d.UserDefinedAttributes {
				ua = append(ua, k+": "+v)
			}
			sort.Strings(ua)
			c.list("user defined attributes", ua)
		}
		var un []string
		if d.UnsignedAttributes.SigningAgent != "" {
			un = append(un, "signing agent: "+d.UnsignedAttributes.SigningAgent)
		}
		if ts := d.UnsignedAttributes.Timestamp; ts != nil {
			line := fmt.Sprintf("timestamp: %s (accuracy %s)", fmtTime(ts.GenTime), ts.Accuracy)
			if ts.Error != "" {
				line += "; " + ts.Error
			}
			un = append(un, line)
		}
		if len(un) > 0 {
			c.list("unsigned attributes", un)
		}
		var certs []string
		for _, cert := range d.Certificates {
			certs = append(certs, fmt.Sprintf("%s (issued by %s; SHA-256 %s; %s, valid %s to %s)",
				cert.Subject, cert.Issuer, cert.SHA256Thumbprint, cert.KeyType, fmtTime(cert.NotBefore), fmtTime(cert.NotAfter)))
		}
		c.list("certificates", certs)
		c.last().list("signed artifact", []string{
			"media type: " + d.SignedArtifact.MediaType,
			"digest: " + d.SignedArtifact.Digest,
			fmt.Sprintf("size: %d", d.SignedArtifact.Size),
		})
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tree prints an indented tree like notation's; each node is printed as
// "├──" unless marked last.
type tree struct {
	w      io.Writer
	indent string
	isLast bool
}

func newTree(w io.Writer, indent string, last bool) *tree {
	return &tree{w: w, indent: indent, isLast: last}
}

func (t *tree) node(s string) {
	fmt.Fprintf(t.w, "%s%s %s\n", t.indent, branch(t.isLast), s)
}

// child returns the level below t; its entries are printed as they come,
// the final one with last().
func (t *tree) child() *tree {
	pad := "│   "
	if t.isLast {
		pad = "    "
	}
	return &tree{w: t.w, indent: t.indent + pad}
}

func (t *tree) leaf(s string) { fmt.Fprintf(t.w, "%s├── %s\n", t.indent, s) }

func (t *tree) last() *tree { return &tree{w: t.w, indent: t.indent, isLast: true} }

func (t *tree) list(title string, items []string) {
	fmt.Fprintf(t.w, "%s%s %s\n", t.indent, branch(t.isLast), title)
	pad := "│   "
	if t.isLast {
		pad = "    "
	}
	for i, it := range items {
		fmt.Fprintf(t.w, "%s%s%s %s\n", t.indent, pad, branch(i == len(items)-1), strings.TrimSpace(it))
	}
}

func branch(last bool) string {
	if last {
		return "└──"
	}
	return "├──"
}
