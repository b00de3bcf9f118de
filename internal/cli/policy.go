package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/certbundle"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
)

// maxPolicyImportSize caps a trust policy read by policy import: the size
// the trust policy parser accepts, with room for the error to say so.
const maxPolicyImportSize = 2 << 20

func newPolicyCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage hallmark's trust policy (like notation policy)",
		Long: `Manage the trust policy that 'hallmark verify' uses when no --trust-policy is
given: trustpolicy.json in hallmark's home folder ($HALLMARK_HOME, else
<user config dir>/hallmark), next to its trust store. Every policy written is
checked first, with every problem reported at once by its JSON path.`,
	}
	cmd.AddCommand(newPolicyImportCmd(g), newPolicyShowCmd(g), newPolicyInitCmd(g))
	return cmd
}

// policyTarget returns where hallmark's trust policy goes, after the user
// agreed to replace an existing one (or force is set).
func (g *globalOptions) policyTarget(force bool) (string, error) {
	path, err := g.hallmarkTrustPolicy()
	if err != nil {
		return "", err
	}
	if exists(path) && !force {
		ok, err := g.confirm(false, fmt.Sprintf("%s exists. Replace it?", path))
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("kept the trust policy %s; pass --force to replace it", path)
		}
	}
	return path, nil
}

// writePolicy writes data as hallmark's trust policy at path.
func writePolicy(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

func newPolicyImportCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Check a trust policy file and make it hallmark's trust policy",
		Long: `Check a trust policy file (notation's trustpolicy.json, version 1.0) and copy
it to hallmark's home folder, where 'hallmark verify' finds it. A policy with
problems is refused with every problem listed. An existing policy is replaced
only after confirmation, or with --force.`,
		Example: `  hallmark policy import trustpolicy.json
  hallmark policy import ~/.config/notation/trustpolicy.oci.json --force`,
		Args: exactArgs(1, "the trust policy FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := capped.ReadFile(args[0], maxPolicyImportSize)
			if err != nil {
				return fmt.Errorf("trust policy %s: %w", args[0], err)
			}
			if _, err := tpolicy.Parse(data); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			path, err := g.policyTarget(force)
			if err != nil {
				return err
			}
			if err := writePolicy(path, data); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Imported the trust policy into %s.\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing trust policy without asking")
	return cmd
}

func newPolicyShowCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the trust policy that 'hallmark verify' uses without flags",
		Long: `Print the trust policy 'hallmark verify' uses when no --trust-policy is given:
hallmark's, else notation's. A policy with problems is printed too, and the
problems follow on standard error (exit code 1).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := g.resolveTrust("", "-")
			if err != nil {
				return err
			}
			data, err := capped.ReadFile(loc.policy, maxPolicyImportSize)
			if err != nil {
				return fmt.Errorf("trust policy %s: %w", loc.policy, err)
			}
			fmt.Fprintf(g.err, "%s trust policy %s:\n", upperFirst(loc.owner), loc.policy)
			if _, err := g.out.Write(data); err != nil {
				return err
			}
			if !bytes.HasSuffix(data, []byte("\n")) {
				fmt.Fprintln(g.out)
			}
			if _, err := tpolicy.Parse(data); err != nil {
				return fmt.Errorf("%s: %w", loc.policy, err)
			}
			return nil
		},
	}
	return cmd
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// initPolicy is the trust policy that policy init writes, in the field
// order of notation's examples.
type initPolicy struct {
	Version       string            `json:"version"`
	TrustPolicies []initPolicyEntry `json:"trustPolicies"`
}

type initPolicyEntry struct {
	Name                  string            `json:"name"`
	RegistryScopes        []string          `json:"registryScopes"`
	SignatureVerification map[string]string `json:"signatureVerification"`
	TrustStores           []string          `json:"trustStores"`
	TrustedIdentities     []string          `json:"trustedIdentities"`
}

func newPolicyInitCmd(g *globalOptions) *cobra.Command {
	var (
		key, name, level string
		scopes           []string
		force            bool
	)
	cmd := &cobra.Command{
		Use:   "init --key NAME",
		Short: "Write a starting trust policy that trusts one key's signatures",
		Long: `Write a trust policy that trusts the signatures of one key: its root
certificate goes into the trust store as ca:NAME (unless that store already
holds it), and the policy's one statement names that store and the key's
certificate subject as the trusted identity, at level strict, for every
repository (or --scope). Edit it afterwards, or replace it with 'hallmark
policy import'.`,
		Example: `  hallmark policy init --key release
  hallmark policy init --key release --scope registry.example.com/app --force`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				return usageError{fmt.Errorf("policy init needs the key to trust: pass --key NAME (see 'hallmark key list')")}
			}
			info, err := getKey(cmd, g, key)
			if err != nil {
				return err
			}
			if len(info.Chain) == 0 {
				return fmt.Errorf("key %s has no certificate", key)
			}
			store := name
			if store == "" {
				store = info.Name
			}
			if !storeNameRe.MatchString(store) {
				return usageError{fmt.Errorf("%q is not a trust store name (letters, digits, '_', '.', '-'): pass --name NAME", store)}
			}
			leaf, root := info.Chain[0], info.Chain[len(info.Chain)-1]
			doc := initPolicy{Version: tpolicy.Version, TrustPolicies: []initPolicyEntry{{
				Name:                  store,
				RegistryScopes:        scopes,
				SignatureVerification: map[string]string{"level": level},
				TrustStores:           []string{"ca:" + store},
				TrustedIdentities:     []string{"x509.subject: " + leaf.Subject.String()},
			}}}
			data, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if _, err := tpolicy.Parse(data); err != nil {
				return err
			}
			path, err := g.policyTarget(force)
			if err != nil {
				return err
			}
			// The certificate first: a policy naming an empty store fails
			// every verification.
			storeDir, err := g.hallmarkTrustStore()
			if err != nil {
				return err
			}
			certPath := filepath.Join(storeDir, "x509", "ca", store, info.Name+".pem")
			rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
			old, err := capped.ReadFile(certPath, certbundle.MaxFileSize)
			exists := !errors.Is(err, fs.ErrNotExist)
			if exists && err != nil && !errors.Is(err, capped.ErrTooLarge) {
				return fmt.Errorf("reading %s: %w", certPath, err)
			}
			if !exists || !bytes.Equal(old, rootPEM) {
				if exists && !force {
					return fmt.Errorf("%s holds another certificate; pass --force to replace it, or --name another store", certPath)
				}
				if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
					return err
				}
				if err := writeFileAtomic(certPath, rootPEM, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "Added the root certificate of %s (%s) to trust store ca:%s (%s).\n", info.Name, root.Subject, store, certPath)
			}
			if err := writePolicy(path, data); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Wrote the trust policy %s: signatures by %s are trusted for %s.\n", path, leaf.Subject, strings.Join(scopes, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&key, "key", "k", "", "the key whose signatures to trust: NAME[/VERSION] in the key store, or a PKCS#11 URI")
	f.StringVar(&name, "name", "", "name of the policy statement and of the ca trust store (default the key's name)")
	f.StringArrayVar(&scopes, "scope", []string{"*"}, `registry scope the statement covers, e.g. registry.example.com/app (repeatable; "*" for all)`)
	f.StringVar(&level, "level", "strict", "signature verification level: strict, permissive, audit or skip")
	f.BoolVar(&force, "force", false, "replace an existing trust policy (and a different certificate in the store) without asking")
	return cmd
}
