package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
)

func newKeyCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Create, rotate and list signing keys and their certificates",
		Long: `Manage signing keys in the key store. A key is created from a certificate
policy (Azure Key Vault's JSON form) and gets versions: each create or rotate
makes a new one. NAME means the newest version, NAME/VERSION a specific one.

Private keys never leave the store: they are encrypted at rest and there is no
command to export them. Certificates are public and can be exported. With
--provider pkcs11 or azurekv, keys live on a PKCS#11 token or in Azure Key Vault
instead, and show and export-cert take the key's PKCS#11 URI or vault URL
(docs/keyproviders.md).`,
	}
	cmd.AddCommand(newKeyCreateCmd(g), newKeyRotateCmd(g), newKeyListCmd(g), newKeyShowCmd(g), newKeyExportCertCmd(g), newKeyDefaultCmd(g), newKeyDeleteCmd(g))
	return cmd
}

// maxPassphraseFileSize caps --passphrase-file. A passphrase is one line;
// a larger file is the wrong file (a key, an image), which must not be read
// whole nor used as a passphrase.
const maxPassphraseFileSize = 4 << 10 // 4 KiB

// openStore opens the local key store with the passphrase from
// --passphrase-file or $HALLMARK_PASSPHRASE.
func (g *globalOptions) openStore() (*local.Store, error) {
	dir, err := g.resolveStoreDir()
	if err != nil {
		return nil, err
	}
	var pass []byte
	switch {
	case g.passphraseFile != "":
		data, err := capped.ReadFile(g.passphraseFile, maxPassphraseFileSize)
		if err != nil {
			return nil, fmt.Errorf("reading --passphrase-file: %w", err)
		}
		pass = []byte(strings.TrimRight(string(data), "\r\n"))
		if len(pass) == 0 {
			return nil, fmt.Errorf("--passphrase-file %s is empty", g.passphraseFile)
		}
	case os.Getenv("HALLMARK_PASSPHRASE") != "":
		pass = []byte(os.Getenv("HALLMARK_PASSPHRASE"))
	}
	return local.Open(dir, local.Options{
		Passphrase: pass,
		Warn:       func(msg string) { fmt.Fprintf(g.err, "WARNING: %s\n", msg) },
	})
}

// policyFlags override fields of the certificate policy, or stand in for a
// policy file for common cases.
type policyFlags struct {
	file           string
	subject        string
	keyType        string
	keySize        int
	curve          string
	validityMonths int
	issuer         string
	ca             bool
}

func (p *policyFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.file, "policy", "", "certificate policy file (Azure Key Vault's JSON form); flags below override its fields")
	f.StringVar(&p.subject, "subject", "", `certificate subject DN, e.g. "CN=release,O=Acme,ST=WA,C=US"`)
	f.StringVar(&p.keyType, "key-type", "", "key type: RSA or EC")
	f.IntVar(&p.keySize, "key-size", 0, "RSA key size: 2048, 3072 or 4096")
	f.StringVar(&p.curve, "curve", "", "EC curve: P-256, P-384 or P-521")
	f.IntVar(&p.validityMonths, "validity-months", 0, "certificate validity in months")
	f.StringVar(&p.issuer, "issuer", "", `"Self" or the name of a CA key in the store that issues the certificate`)
	f.BoolVar(&p.ca, "ca", false, "make a CA key that issues other keys' certificates (it cannot sign images)")
}

// policy builds the certificate policy from the file (or defaults) and the
// flags; it returns nil, nil when neither a file nor any flag was given.
func (p *policyFlags) policy(cmd *cobra.Command, required bool) (*certpolicy.Policy, error) {
	changed := false
	for _, name := range []string{"subject", "key-type", "key-size", "curve", "validity-months", "issuer", "ca"} {
		changed = changed || cmd.Flags().Changed(name)
	}
	if p.file == "" && !changed && !required {
		return nil, nil
	}
	var pol *certpolicy.Policy
	if p.file != "" {
		data, err := capped.ReadFile(p.file, certpolicy.MaxSize)
		if err != nil {
			return nil, err
		}
		if pol, err = certpolicy.Parse(data); err != nil {
			return nil, fmt.Errorf("certificate policy %s: %w", p.file, err)
		}
	} else {
		pol = certpolicy.Default()
	}
	if p.subject != "" {
		pol.X509.Subject = p.subject
	}
	if p.keyType != "" {
		pol.Key.KeyType = strings.ToUpper(p.keyType)
		if pol.Key.KeyType == certpolicy.KeyTypeEC && p.keySize == 0 {
			pol.Key.KeySize = 0
		}
		if strings.HasPrefix(pol.Key.KeyType, certpolicy.KeyTypeRSA) && p.curve == "" {
			pol.Key.Curve = ""
		}
	}
	if p.keySize != 0 {
		pol.Key.KeySize = p.keySize
	}
	if p.curve != "" {
		pol.Key.Curve = p.curve
		if p.keyType == "" {
			pol.Key.KeyType = certpolicy.KeyTypeEC
			if p.keySize == 0 {
				pol.Key.KeySize = 0
			}
		}
	}
	if p.validityMonths != 0 {
		pol.X509.ValidityInMonths = p.validityMonths
	}
	if p.issuer != "" {
		pol.Issuer.Name = p.issuer
	}
	if p.ca {
		pol.X509.BasicConstraints = &certpolicy.BasicConstraints{CA: true}
		pol.X509.EKUs, pol.X509.KeyUsage = nil, nil
	}
	pol.ApplyDefaults()
	if err := pol.Validate(); err != nil {
		return nil, p.wrapErr(cmd, err)
	}
	return pol, nil
}

func newKeyCreateCmd(g *globalOptions) *cobra.Command {
	pf := &policyFlags{}
	prov := &providerFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "create NAME [--policy FILE]",
		Short: "Create a signing key and its certificate from a certificate policy",
		Long: `Create version 1 of a key and its certificate from a certificate policy: the
JSON that Azure Key Vault takes (az keyvault certificate create -p @policy.json),
or hallmark's default (self-signed RSA 2048, code signing, 12 months) changed by
flags. Policies that the Notary Project forbids (serverAuth EKU, RSA < 2048, ...)
are refused with the field at fault.

With --provider pkcs11 the key pair is generated on a PKCS#11 token (an HSM),
sensitive and not extractable, and the certificate is stored on the token next
to it (same label and ID); sign with --key 'pkcs11:token=...;object=NAME'.
With --provider azurekv the certificate is created in Azure Key Vault from the
same policy (self-signed, key not exportable); sign with --key
https://VAULT.vault.azure.net/certificates/NAME.`,
		Example: `  hallmark key create release --policy policy.json
  hallmark key create release --subject "CN=release,O=Acme,ST=WA,C=US" --key-type EC --curve P-384
  hallmark key create acme-ca --ca --subject "CN=Acme CA,O=Acme,ST=WA,C=US" --validity-months 60
  hallmark key create build --issuer acme-ca --subject "CN=build,O=Acme,ST=WA,C=US"
  HALLMARK_PKCS11_PIN=1234 hallmark key create release --provider pkcs11 --policy policy.json \
    --pkcs11-uri 'pkcs11:token=hsm?module-path=/usr/lib/softhsm/libsofthsm2.so'`,
		Args: exactArgs(1, "a key name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			pol, err := pf.policy(cmd, true)
			if err != nil {
				return err
			}
			if prov.provider == providerPKCS11 && pol.Key.Exportable {
				// Vault policies often say exportable; a token key never is.
				fmt.Fprintln(g.err, "Note: keyProperties.exportable is ignored: the key is made non-extractable on the token.")
				pol.Key.Exportable = false
			}
			for _, w := range pol.Warnings() {
				fmt.Fprintf(g.err, "Warning: %s\n", pf.inFlagWords(cmd, w.String()))
			}
			store, release, err := prov.open(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			defer release()
			info, err := store.Create(cmd.Context(), args[0], pol)
			if err != nil {
				return pf.wrapErr(cmd, err)
			}
			if err := printKeyInfo(g.out, output, "Created", info); err != nil {
				return err
			}
			if p, ok := store.(fmt.Stringer); ok && output == "text" && prov.provider == providerPKCS11 {
				fmt.Fprintf(g.out, "On:          %s\n", p)
			}
			return nil
		},
	}
	pf.add(cmd)
	prov.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

func newKeyRotateCmd(g *globalOptions) *cobra.Command {
	pf := &policyFlags{}
	prov := &providerFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "rotate NAME [--policy FILE]",
		Short: "Make a new version of a key, with a new key pair and certificate",
		Long: `Make a new version of a key: a new key pair and a new certificate, from the
policy of the newest version, or from --policy and the flags. Older versions
stay, so signatures they made still verify while their certificates are trusted;
NAME now means the new version.`,
		Args: exactArgs(1, "a key name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			pol, err := pf.policy(cmd, false)
			if err != nil {
				return err
			}
			store, release, err := prov.open(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			defer release()
			prev, prevErr := store.Get(cmd.Context(), keys.Ref{Name: args[0]})
			info, err := store.Rotate(cmd.Context(), args[0], pol)
			if err != nil {
				return pf.wrapErr(cmd, err)
			}
			if err := printKeyInfo(g.out, output, "Rotated", info); err != nil {
				return err
			}
			if output == "text" {
				printRotateReminder(g, prev, prevErr, info)
			}
			return nil
		},
	}
	pf.add(cmd)
	prov.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// keyView is the JSON form of a key version.
type keyView struct {
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	Created    time.Time  `json:"created"`
	KeyType    string     `json:"keyType"`
	Exportable bool       `json:"exportable"`
	Chain      []certView `json:"certificates"`
	// Protection is "passphrase" or "store-key" for keys in the local store.
	Protection string `json:"protection,omitempty"`
	// Default marks the key sign uses without --key.
	Default bool `json:"default,omitempty"`
}

type certView struct {
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serialNumber"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	Thumbprint string    `json:"sha256Thumbprint"`
}

func viewKey(info keys.Info) keyView {
	v := keyView{Name: info.Name, Version: info.Version, Created: info.Created, KeyType: info.KeyType, Exportable: info.Exportable}
	for _, c := range info.Chain {
		v.Chain = append(v.Chain, viewCert(c))
	}
	return v
}

func printKeyInfo(w io.Writer, output, verb string, info keys.Info) error {
	v := viewKey(info)
	if output == "json" {
		return writeJSON(w, v)
	}
	if verb != "" {
		fmt.Fprintf(w, "%s key %s/%s.\n", verb, v.Name, v.Version)
	}
	fmt.Fprintf(w, "Name:        %s\nVersion:     %s\nCreated:     %s\nKey type:    %s\n", v.Name, v.Version, fmtTime(v.Created), v.KeyType)
	for i, c := range v.Chain {
		label := "Certificate"
		if i > 0 {
			label = fmt.Sprintf("Issuer cert %d", i)
		}
		fmt.Fprintf(w, "%s:\n  Subject:     %s\n  Issuer:      %s\n  Serial:      %s\n  Valid:       %s to %s\n  SHA-256:     %s\n",
			label, c.Subject, c.Issuer, c.Serial, fmtTime(c.NotBefore), fmtTime(c.NotAfter), c.Thumbprint)
	}
	return nil
}

func newKeyListCmd(g *globalOptions) *cobra.Command {
	prov := &providerFlags{}
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the keys and versions in the key store",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			store, release, err := prov.open(cmd.Context(), g, "")
			if err != nil {
				return err
			}
			defer release()
			infos, err := store.List(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]keyView, 0, len(infos))
			ls, isLocal := store.(*local.Store)
			st, err := g.loadSettings()
			if err != nil {
				return err
			}
			for _, in := range infos {
				v := viewKey(in)
				if isLocal {
					if p, err := ls.Protection(cmd.Context(), keys.Ref{Name: in.Name, Version: in.Version}); err == nil {
						v.Protection = string(p)
					}
					v.Default = st.DefaultKey == in.Name || st.DefaultKey == in.Name+"/"+in.Version
				}
				views = append(views, v)
			}
			if output == "json" {
				return writeJSON(g.out, views)
			}
			if len(views) == 0 {
				fmt.Fprintln(g.out, "No keys. Create one with 'hallmark key create NAME --policy FILE'.")
				return nil
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tKEY TYPE\tPROTECTED BY\tSUBJECT\tEXPIRES\tCREATED")
			for _, v := range views {
				subject, expires := "", ""
				if len(v.Chain) > 0 {
					subject, expires = v.Chain[0].Subject, fmtTime(v.Chain[0].NotAfter)
				}
				name, prot := v.Name, "-"
				if v.Default {
					name += " (default)"
				}
				switch v.Protection {
				case string(local.ProtectedByPassphrase):
					prot = "passphrase"
				case string(local.ProtectedByStoreKey):
					prot = "store key"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, v.Version, v.KeyType, prot, subject, expires, fmtTime(v.Created))
			}
			return tw.Flush()
		},
	}
	prov.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

func newKeyShowCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show NAME[/VERSION] | PKCS11-URI",
		Short: "Show a key version: subject, issuer, serial, validity, SHA-256 thumbprint, key type",
		Args:  exactArgs(1, "a key NAME or NAME/VERSION, or a PKCS#11 URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			info, err := getKey(cmd, g, args[0])
			if err != nil {
				return err
			}
			return printKeyInfo(g.out, output, "", info)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

func newKeyExportCertCmd(g *globalOptions) *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "export-cert NAME[/VERSION] | PKCS11-URI",
		Short: "Print a key version's certificate chain as PEM, leaf first (never the private key)",
		Example: `  hallmark key export-cert release > release.pem
  mkdir -p truststore/x509/ca/release && hallmark key export-cert release --root-only > truststore/x509/ca/release/root.pem
  hallmark key export-cert release --public-key > release.pub   # for cosign verify --key release.pub`,
		Args: exactArgs(1, "a key NAME or NAME/VERSION, or a PKCS#11 URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := getKey(cmd, g, args[0])
			if err != nil {
				return err
			}
			chain := info.Chain
			rootOnly, _ := cmd.Flags().GetBool("root-only")
			publicKey, _ := cmd.Flags().GetBool("public-key")
			if rootOnly && publicKey {
				return usageError{errors.New("--root-only and --public-key ask for different things: give one")}
			}
			if rootOnly && len(chain) > 0 {
				chain = chain[len(chain)-1:]
			}
			var b strings.Builder
			if publicKey {
				if len(chain) == 0 {
					return fmt.Errorf("key %s has no certificate to take the public key from", args[0])
				}
				der, err := x509.MarshalPKIXPublicKey(chain[0].PublicKey)
				if err != nil {
					return err
				}
				pem.Encode(&b, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
				chain = nil
			}
			for _, c := range chain {
				pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
			if outFile != "" {
				return writeFileAtomic(outFile, []byte(b.String()), 0o644)
			}
			_, err = io.WriteString(g.out, b.String())
			return err
		},
	}
	cmd.Flags().Bool("root-only", false, "print only the root certificate of the chain (what a trust store needs)")
	cmd.Flags().Bool("public-key", false, "print only the leaf's public key (PEM, PKIX), what `cosign verify --key` and hallmark's cosign keys take")
	cmd.Flags().StringVar(&outFile, "out", "", "write to this file instead of standard output")
	return cmd
}

// getKey reads a key version's public information from the local store, or
// from a token when s is a PKCS#11 URI.
func getKey(cmd *cobra.Command, g *globalOptions, s string) (keys.Info, error) {
	store, ref, release, err := g.withKeyRef(cmd.Context(), s)
	if err != nil {
		return keys.Info{}, err
	}
	defer release()
	info, err := store.Get(cmd.Context(), ref)
	if ls, ok := store.(*local.Store); ok && err != nil {
		err = suggestKey(cmd.Context(), ls, s, err)
	}
	return info, err
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so a reader never sees half a file. Errors name path, never the temporary
// file, which the user did not ask for and which is gone.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeViaTemp(path, data, perm); err != nil {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &le):
			err = le.Err
		case errors.As(err, &pe):
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeViaTemp(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hallmark-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// printRotateReminder tells what verifiers need after a rotation: the new
// root certificate in their trust stores when it changed (a self-signed
// key's does), and a new trusted identity when the subject changed.
func printRotateReminder(g *globalOptions, prev keys.Info, prevErr error, info keys.Info) {
	if len(info.Chain) == 0 {
		return
	}
	newRoot := info.Chain[len(info.Chain)-1]
	rootChanged := prevErr != nil || len(prev.Chain) == 0 || !prev.Chain[len(prev.Chain)-1].Equal(newRoot)
	if rootChanged {
		file := fmt.Sprintf("%s-%s.pem", info.Name, info.Version)
		fmt.Fprintf(g.err, "\nVerifiers need the new certificate: signatures by %s/%s verify only where its root is trusted. Export it and add it to each trust store:\n", info.Name, info.Version)
		fmt.Fprintf(g.err, "  hallmark key export-cert %s/%s --root-only --out %s\n", info.Name, info.Version, file)
		fmt.Fprintf(g.err, "  hallmark cert add --type ca --store %s %s    # or notation cert add, or the serve configuration's trust store\n", info.Name, file)
	}
	if prevErr == nil && len(prev.Chain) > 0 && prev.Chain[0].Subject.String() != info.Chain[0].Subject.String() {
		fmt.Fprintf(g.err, "The subject changed to %s: trust policies that name %s in trustedIdentities need the new one too.\n", info.Chain[0].Subject, prev.Chain[0].Subject)
	}
}

// policyFields maps the certificate-policy fields the flags fill to the
// flags, so that a problem with a value the user typed as a flag names the
// flag.
var policyFields = []struct{ flag, field string }{
	{"subject", "x509CertificateProperties.subject"},
	{"validity-months", "x509CertificateProperties.validityInMonths"},
	{"key-type", "keyProperties.keyType"},
	{"key-size", "keyProperties.keySize"},
	{"curve", "keyProperties.curve"},
	{"issuer", "issuerParameters.name"},
}

// inFlagWords rewrites the field paths of msg that the flags given (or, with
// no --policy file, the defaults behind them) filled, into the flags' names.
func (p *policyFlags) inFlagWords(cmd *cobra.Command, msg string) string {
	for _, pf := range policyFields {
		if cmd.Flags().Changed(pf.flag) || (p.file == "" && pf.flag != "issuer") {
			msg = strings.ReplaceAll(msg, pf.field+":", "--"+pf.flag+":")
		}
	}
	return msg
}

// flagWordsError is an error whose text names flags instead of policy
// fields; it still matches what it wraps.
type flagWordsError struct {
	msg string
	err error
}

func (e flagWordsError) Error() string { return e.msg }
func (e flagWordsError) Unwrap() error { return e.err }

func (p *policyFlags) wrapErr(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	if msg := p.inFlagWords(cmd, err.Error()); msg != err.Error() {
		return flagWordsError{msg: msg, err: err}
	}
	return err
}
