package cli

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// storeNameRe is the grammar of a named trust store, as notation has it.
var storeNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// certOptions are the flags that name one trust store.
type certOptions struct {
	typ, store string
	output     string
}

func (o *certOptions) addStoreFlags(cmd *cobra.Command, required bool) {
	f := cmd.Flags()
	what := ""
	if !required {
		what = " (default all)"
	}
	f.StringVarP(&o.typ, "type", "t", "", "trust store type: ca, signingAuthority or tsa"+what)
	f.StringVarP(&o.store, "store", "s", "", "named trust store, e.g. the NAME of ca:NAME in a trust policy"+what)
}

// check validates the flags; with required, both must be given.
func (o *certOptions) check(required bool) error {
	if required && (o.typ == "" || o.store == "") {
		return usageError{errors.New("name the trust store with --type ca|signingAuthority|tsa and --store NAME")}
	}
	if o.typ != "" && !isStoreType(o.typ) {
		return usageError{fmt.Errorf("--type %q: use ca, signingAuthority or tsa", o.typ)}
	}
	if o.store != "" && !storeNameRe.MatchString(o.store) {
		return usageError{fmt.Errorf("--store %q: a store name has only letters, digits, '_', '.' and '-'", o.store)}
	}
	return nil
}

func isStoreType(s string) bool {
	for _, t := range truststore.Types {
		if string(t) == s {
			return true
		}
	}
	return false
}

func newCertCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Manage the certificates of hallmark's trust store (like notation cert)",
		Long: `Manage the trust store that 'hallmark verify' uses when no --trust-store is
given: truststore/x509/{ca,signingAuthority,tsa}/NAME/ in hallmark's home
folder ($HALLMARK_HOME, else <user config dir>/hallmark), the layout notation
uses. A trust policy names a store as TYPE:NAME, e.g. ca:release.`,
	}
	cmd.AddCommand(newCertAddCmd(g), newCertListCmd(g), newCertShowCmd(g), newCertDeleteCmd(g))
	return cmd
}

func newCertAddCmd(g *globalOptions) *cobra.Command {
	o := &certOptions{}
	cmd := &cobra.Command{
		Use:   "add --type TYPE --store NAME FILE...",
		Short: "Add certificate files (PEM or DER) to a named trust store",
		Long: `Copy certificate files into a named trust store. Each file is checked as
verify will read it: PEM or DER certificates, CA or self-signed only (a tsa
store takes self-signed roots only), no private keys. A file whose name the
store already holds is refused; delete it first.`,
		Example: `  hallmark key export-cert release --root-only --out release-root.pem
  hallmark cert add --type ca --store release release-root.pem`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s expects at least one certificate FILE (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(true); err != nil {
				return err
			}
			root, err := g.hallmarkTrustStore()
			if err != nil {
				return err
			}
			dir := filepath.Join(root, "x509", o.typ, o.store)
			type pending struct{ src, dst string }
			var todo []pending
			for _, src := range args {
				data, err := capped.ReadFile(src, tstore.MaxCertFileSize)
				if err != nil {
					return fmt.Errorf("certificate file %s: %w", src, err)
				}
				if _, err := tstore.ParseTrustedCertificates(truststore.Type(o.typ), data); err != nil {
					return fmt.Errorf("certificate file %s %v", src, err)
				}
				dst := filepath.Join(dir, filepath.Base(src))
				if exists(dst) {
					return fmt.Errorf("%s:%s already holds %s; delete it first with 'hallmark cert delete --type %s --store %s %s'", o.typ, o.store, filepath.Base(src), o.typ, o.store, filepath.Base(src))
				}
				todo = append(todo, pending{src, dst})
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			for _, p := range todo {
				data, err := capped.ReadFile(p.src, tstore.MaxCertFileSize)
				if err != nil {
					return err
				}
				if err := writeFileAtomic(p.dst, data, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "Added %s to trust store %s:%s (%s).\n", filepath.Base(p.src), o.typ, o.store, p.dst)
			}
			return nil
		},
	}
	o.addStoreFlags(cmd, true)
	return cmd
}

// certFile is one certificate file of hallmark's trust store.
type certFile struct {
	Type  string     `json:"type"`
	Store string     `json:"store"`
	File  string     `json:"file"`
	Path  string     `json:"path"`
	Certs []certView `json:"certificates"`
}

// listCertFiles lists the certificate files of hallmark's trust store that
// match o's type and store (empty matches all).
func (g *globalOptions) listCertFiles(o *certOptions) ([]certFile, error) {
	root, err := g.hallmarkTrustStore()
	if err != nil {
		return nil, err
	}
	var files []certFile
	for _, typ := range truststore.Types {
		if o.typ != "" && string(typ) != o.typ {
			continue
		}
		stores, err := os.ReadDir(filepath.Join(root, "x509", string(typ)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, st := range stores {
			if !st.IsDir() || (o.store != "" && st.Name() != o.store) {
				continue
			}
			entries, err := os.ReadDir(filepath.Join(root, "x509", string(typ), st.Name()))
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if e.IsDir() {
					continue
				}
				p := filepath.Join(root, "x509", string(typ), st.Name(), e.Name())
				cf := certFile{Type: string(typ), Store: st.Name(), File: e.Name(), Path: p}
				if data, err := capped.ReadFile(p, tstore.MaxCertFileSize); err == nil {
					if certs, err := tstore.ParseTrustedCertificates(typ, data); err == nil {
						for _, c := range certs {
							cf.Certs = append(cf.Certs, viewCert(c))
						}
					}
				}
				files = append(files, cf)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func newCertListCmd(g *globalOptions) *cobra.Command {
	o := &certOptions{}
	cmd := &cobra.Command{
		Use:     "ls [--type TYPE] [--store NAME]",
		Aliases: []string{"list"},
		Short:   "List the certificate files of the trust store",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(false); err != nil {
				return err
			}
			if err := checkOutput(o.output); err != nil {
				return err
			}
			files, err := g.listCertFiles(o)
			if err != nil {
				return err
			}
			if o.output == "json" {
				if files == nil {
					files = []certFile{}
				}
				return writeJSON(g.out, files)
			}
			if len(files) == 0 {
				fmt.Fprintln(g.out, "No certificates. Add one with 'hallmark cert add --type ca --store NAME FILE'.")
				return nil
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STORE TYPE\tSTORE NAME\tCERTIFICATE\tSUBJECT\tEXPIRES")
			for _, f := range files {
				subject, expires := "(not a valid certificate file)", ""
				if len(f.Certs) > 0 {
					subject, expires = f.Certs[0].Subject, fmtTime(f.Certs[0].NotAfter)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Type, f.Store, f.File, subject, expires)
			}
			return tw.Flush()
		},
	}
	o.addStoreFlags(cmd, false)
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// findCertFile returns the file named name in o's store, or an error that
// lists what the store holds.
func (g *globalOptions) findCertFile(o *certOptions, name string) (certFile, []certFile, error) {
	files, err := g.listCertFiles(o)
	if err != nil {
		return certFile{}, nil, err
	}
	var names []string
	for _, f := range files {
		if f.File == name {
			return f, files, nil
		}
		names = append(names, f.File)
	}
	if len(names) == 0 {
		return certFile{}, files, fmt.Errorf("trust store %s:%s is empty or does not exist (see 'hallmark cert ls')", o.typ, o.store)
	}
	return certFile{}, files, fmt.Errorf("trust store %s:%s has no certificate file %q; it holds %s", o.typ, o.store, name, strings.Join(names, ", "))
}

func newCertShowCmd(g *globalOptions) *cobra.Command {
	o := &certOptions{}
	cmd := &cobra.Command{
		Use:   "show --type TYPE --store NAME FILE",
		Short: "Show the certificates of one trust store file",
		Args:  exactArgs(1, "the certificate FILE name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(true); err != nil {
				return err
			}
			if err := checkOutput(o.output); err != nil {
				return err
			}
			f, _, err := g.findCertFile(o, args[0])
			if err != nil {
				return err
			}
			if len(f.Certs) == 0 {
				data, err := capped.ReadFile(f.Path, tstore.MaxCertFileSize)
				if err != nil {
					return err
				}
				_, err = tstore.ParseTrustedCertificates(truststore.Type(o.typ), data)
				return fmt.Errorf("%s %v", f.Path, err)
			}
			if o.output == "json" {
				return writeJSON(g.out, f)
			}
			fmt.Fprintf(g.out, "Trust store: %s:%s\nFile:        %s\n", f.Type, f.Store, f.Path)
			for i, c := range f.Certs {
				fmt.Fprintf(g.out, "Certificate %d:\n  Subject:     %s\n  Issuer:      %s\n  Serial:      %s\n  Valid:       %s to %s\n  SHA-256:     %s\n",
					i+1, c.Subject, c.Issuer, c.Serial, fmtTime(c.NotBefore), fmtTime(c.NotAfter), c.Thumbprint)
			}
			return nil
		},
	}
	o.addStoreFlags(cmd, true)
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

func newCertDeleteCmd(g *globalOptions) *cobra.Command {
	o := &certOptions{}
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "delete --type TYPE --store NAME (FILE | --all)",
		Short: "Delete a certificate file, or a whole named store with --all",
		Long: `Delete a certificate file from a named trust store, or every file of the
store with --all. It asks for confirmation on standard input unless --yes is
given. Verification against a policy that names the store fails once the
store is empty.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return usageError{fmt.Errorf("%s expects one certificate FILE name or --all (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(true); err != nil {
				return err
			}
			var targets []certFile
			if all {
				files, err := g.listCertFiles(o)
				if err != nil {
					return err
				}
				if len(files) == 0 {
					return fmt.Errorf("trust store %s:%s is empty or does not exist (see 'hallmark cert ls')", o.typ, o.store)
				}
				targets = files
			} else {
				f, _, err := g.findCertFile(o, args[0])
				if err != nil {
					return err
				}
				targets = []certFile{f}
			}
			what := fmt.Sprintf("certificate file %s of trust store %s:%s", targets[0].File, o.typ, o.store)
			if all {
				what = fmt.Sprintf("all %d certificate file(s) of trust store %s:%s", len(targets), o.typ, o.store)
			}
			ok, err := g.confirm(yes, "Delete "+what+"?")
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintln(g.err, "Nothing deleted.")
				return errSilent
			}
			for _, f := range targets {
				if err := os.Remove(f.Path); err != nil {
					return err
				}
			}
			if all {
				// The folder goes too, as with notation cert delete --all.
				os.Remove(filepath.Dir(targets[0].Path))
			}
			fmt.Fprintf(g.out, "Deleted %s.\n", what)
			return nil
		},
	}
	o.addStoreFlags(cmd, true)
	cmd.Flags().BoolVar(&all, "all", false, "delete every certificate file of the store")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// confirm asks question on standard error and reads the answer from
// standard input; yes answers it in advance. Only "y" or "yes" agree, so
// end of input (a script without --yes) declines.
func (g *globalOptions) confirm(yes bool, question string) (bool, error) {
	if yes {
		return true, nil
	}
	fmt.Fprintf(g.err, "%s [y/N] ", question)
	line, err := bufio.NewReader(g.in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(g.err)
		fmt.Fprintln(g.err, "No answer on standard input; pass --yes to confirm without asking.")
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// viewCert is the JSON and text form of one certificate.
func viewCert(c *x509.Certificate) certView {
	return certView{
		Subject:    c.Subject.String(),
		Issuer:     c.Issuer.String(),
		Serial:     fmt.Sprintf("%x", c.SerialNumber),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		Thumbprint: certpolicy.Thumbprint(c),
	}
}
