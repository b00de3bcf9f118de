package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/notaryproject/notation-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/notationplugin"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing"
)

type signOptions struct {
	registry          registryOptions
	key               string
	format            string
	expiry            time.Duration
	userMetadata      []string
	timestampURL      string
	timestampRootCert string
	forceReferrersTag bool
	output            string
	plugin            string
	pluginKeyID       string
	pluginConfig      []string
}

func newSignCmd(g *globalOptions) *cobra.Command {
	o := &signOptions{}
	cmd := &cobra.Command{
		Use:   "sign REFERENCE... [--key NAME[/VERSION] | --key PKCS11-URI | --plugin NAME --id KEY_ID]",
		Short: "Sign an image with a Notary Project signature and push it next to the image",
		Long: `Sign an image (or any OCI artifact) with a Notary Project signature made by a
key in the key store, and push the signature to the image's registry as a
referrer: through the OCI referrers API where the registry has it, and through
the referrers tag schema otherwise (or always, with --force-referrers-tag).

--key names a key in the local key store, or a key on a PKCS#11 token by its
RFC 7512 URI ('pkcs11:token=hsm;object=release?module-path=...'); the token
signs, and the module, token and PIN the URI leaves out come from
$HALLMARK_PKCS11_MODULE, $HALLMARK_PKCS11_TOKEN and $HALLMARK_PKCS11_PIN (or
$HALLMARK_PKCS11_PIN_FILE). An Azure Key Vault certificate URL
(https://VAULT.vault.azure.net/certificates/NAME[/VERSION]) signs with the
vault's key, with credentials from the Azure default credential chain.

--plugin NAME --id KEY_ID signs through an installed notation plugin instead
(such as azure-kv), found where notation looks for it:
$NOTATION_LIBEXEC/plugins/NAME/notation-NAME, else $NOTATION_CONFIG/plugins/...,
else <user config dir>/notation/plugins/...; --plugin-config passes its settings.

A tag is resolved to its digest first: the digest is what gets signed.

--signature-format cosign makes a cosign signature with the same key instead
(ECDSA or RSA; not through --plugin): a simple signature added to the image's
sha256-<hex>.sig manifest beside those already there, with --user-metadata as
its signed annotations and no transparency-log entry. 'hallmark key
export-cert KEY --public-key' prints the key that 'cosign verify --key' takes.

Several references, or - to read them from standard input (one a line, # for
comments), sign each with the same key; on a terminal a progress line shows
each. -o json then prints an array, one object per signed image, and the exit
code is 1 if any failed.`,
		Example: `  hallmark sign registry.example.com/app:v1 --key release
  hallmark sign registry.example.com/app@sha256:... --key release/2 --signature-format jws --expiry 720h
  hallmark sign 127.0.0.1:5000/app:v1 --key release --plain-http -m buildId=42
  hallmark sign - --key release < images.txt
  hallmark sign registry.example.com/app:v1 --key release --signature-format cosign
  HALLMARK_PKCS11_PIN=1234 hallmark sign registry.example.com/app:v1 \
    --key 'pkcs11:token=hsm;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so'
  hallmark sign registry.example.com/app:v1 --plugin azure-kv \
    --id https://myvault.vault.azure.net/keys/release/0123 --plugin-config self_signed=true`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s expects at least one image reference, or - to read them from standard input (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.key, "key", "k", "", "signing key in the key store: NAME (newest version) or NAME/VERSION; a PKCS#11 URI 'pkcs11:token=...;object=NAME'; or an Azure Key Vault certificate URL (default: the key set with 'hallmark key default')")
	f.StringVar(&o.plugin, "plugin", "", "sign through this installed notation plugin instead of --key")
	f.StringVar(&o.pluginKeyID, "id", "", "the key ID the plugin signs with (with --plugin)")
	f.StringArrayVar(&o.pluginConfig, "plugin-config", nil, "KEY=VALUE passed to the plugin (repeatable; with --plugin)")
	f.StringVar(&o.format, "signature-format", signing.FormatCOSE, `signature format: "cose" or "jws" (Notary Project envelopes), or "cosign" (a cosign signature in the image's sha256-<hex>.sig manifest)`)
	f.DurationVarP(&o.expiry, "expiry", "e", 0, `signature expiry ("best by" time) after signing, e.g. 720h; 0 means never`)
	f.StringArrayVarP(&o.userMetadata, "user-metadata", "m", nil, "KEY=VALUE signed into the payload (repeatable)")
	f.StringVar(&o.timestampURL, "timestamp-url", "", "RFC 3161 timestamp authority URL (needs --timestamp-root-cert)")
	f.StringVar(&o.timestampRootCert, "timestamp-root-cert", "", "PEM file with the timestamp authority's root certificate")
	f.BoolVar(&o.forceReferrersTag, "force-referrers-tag", false, "also index the signature in the referrers tag schema even where the registry has the referrers API (what notation v1 does by default)")
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	o.registry.addFlags(f)
	o.registry.addCredentialFlags(f)
	return cmd
}

// signResult is what `hallmark sign -o json` prints.
type signResult struct {
	Reference         string `json:"reference"`
	Digest            string `json:"digest"`
	SignatureManifest string `json:"signatureManifest,omitempty"`
	Format            string `json:"format"`
	Key               string `json:"key"`
	Plugin            string `json:"plugin,omitempty"`
}

func runSign(cmd *cobra.Command, g *globalOptions, o *signOptions, args []string) error {
	ctx := cmd.Context()
	switch {
	case o.key != "" && o.plugin != "":
		return usageError{fmt.Errorf("--key and --plugin both name a signer: give one")}
	case o.plugin == "" && (o.pluginKeyID != "" || len(o.pluginConfig) > 0):
		return usageError{fmt.Errorf("--id and --plugin-config go with --plugin")}
	case o.plugin != "" && o.pluginKeyID == "":
		return usageError{fmt.Errorf("--plugin %s needs the key ID to sign with: pass --id", o.plugin)}
	case o.key == "" && o.plugin == "":
		st, err := g.loadSettings()
		if err != nil {
			return err
		}
		if st.DefaultKey == "" {
			return usageError{fmt.Errorf("no signing key: pass --key NAME[/VERSION] (see 'hallmark key list'), set a default with 'hallmark key default NAME', or pass --plugin NAME --id KEY_ID")}
		}
		o.key = st.DefaultKey
	}
	pluginConfig, err := parseKeyValues(o.pluginConfig, "--plugin-config")
	if err != nil {
		return usageError{err}
	}
	if err := checkOutput(o.output); err != nil {
		return err
	}
	meta, err := parseKeyValues(o.userMetadata, "--user-metadata")
	if err != nil {
		return usageError{err}
	}
	if o.format == formatCosign {
		return runSignCosign(cmd, g, o, args, meta)
	}
	opts := signing.Options{
		Format:       o.format,
		Expiry:       o.expiry,
		UserMetadata: meta,
		TimestampURL: o.timestampURL,
		SigningAgent: "hallmark/" + Version,
	}
	if (o.timestampURL == "") != (o.timestampRootCert == "") {
		return usageError{fmt.Errorf("--timestamp-url and --timestamp-root-cert go together: give both or neither")}
	}
	if o.timestampRootCert != "" {
		pool, err := loadCertPool(o.timestampRootCert)
		if err != nil {
			return err
		}
		opts.TimestampRootCAs = pool
	}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	refs, stdinUsed, err := signRefs(g, o, args)
	if err != nil {
		return err
	}

	signer, keyName, release, err := g.signerFor(ctx, o, pluginConfig)
	if err != nil {
		return err
	}
	defer release()
	client, err := o.registry.client(g.streams, o.forceReferrersTag, refs...)
	if err != nil {
		return err
	}
	s := &signRun{g: g, o: o, client: client, signer: signer, keyName: keyName, opts: opts}
	return signAll(ctx, g, o, refs, stdinUsed, s.sign)
}

// signRefs reads the references to sign (- reads them from standard
// input) and checks each parses.
func signRefs(g *globalOptions, o *signOptions, args []string) ([]string, bool, error) {
	refs, stdinUsed, err := expandRefs(g.in, args)
	if err != nil {
		return nil, false, err
	}
	if stdinUsed && o.registry.passwordStdin {
		return nil, false, usageError{fmt.Errorf("--password-stdin and - both read standard input: give the password in $HALLMARK_PASSWORD instead")}
	}
	for _, ref := range refs {
		if _, err := oci.ParseReference(ref); err != nil {
			return nil, false, err
		}
	}
	return refs, stdinUsed, nil
}

// signAll signs each of refs with one and prints each result. One
// reference from the command line fails with its own error; of several,
// each is signed or reported, -o json prints one array, and the exit code
// says whether all were signed.
func signAll(ctx context.Context, g *globalOptions, o *signOptions, refs []string, stdinUsed bool,
	one func(context.Context, string) (signResult, error)) error {
	if len(refs) == 1 && !stdinUsed {
		res, err := one(ctx, refs[0])
		if err != nil {
			return err
		}
		return printSigned(g, o, res)
	}
	prog := newProgress(g.err, len(refs))
	var results []signResult
	failed := 0
	for _, ref := range refs {
		prog.step("signing " + ref)
		res, err := one(ctx, ref)
		if err != nil {
			failed++
			fmt.Fprintf(g.err, "Error: %s: %s\n", ref, errorText(err))
			continue
		}
		if o.output == "json" {
			results = append(results, res)
		} else if err := printSigned(g, o, res); err != nil {
			return err
		}
	}
	if o.output == "json" {
		if results == nil {
			results = []signResult{}
		}
		if err := writeJSON(g.out, results); err != nil {
			return err
		}
	}
	if failed > 0 {
		fmt.Fprintf(g.err, "Signed %d of %d images; %d failed.\n", len(refs)-failed, len(refs), failed)
		return errSilent
	}
	return nil
}

// signRun is what signing each of several images shares.
type signRun struct {
	g       *globalOptions
	o       *signOptions
	client  *oci.Client
	signer  notation.Signer
	keyName string
	opts    signing.Options
}

// resolveToSign resolves ref and returns its descriptor and ref pinned to
// the digest, saying so when a tag was resolved: the digest is what gets
// signed.
func resolveToSign(ctx context.Context, g *globalOptions, o *signOptions, client *oci.Client, ref string) (ocispec.Descriptor, string, error) {
	desc, err := client.Resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	pinned, err := pinDigest(ref, desc.Digest.String())
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if pinned != ref && o.output == "text" {
		fmt.Fprintf(g.err, "Resolved %s to %s: the digest is what gets signed.\n", ref, desc.Digest)
	}
	return desc, pinned, nil
}

// sign resolves ref, signs its digest and pushes the signature.
func (s *signRun) sign(ctx context.Context, ref string) (signResult, error) {
	g, o, client, signer, keyName, opts := s.g, s.o, s.client, s.signer, s.keyName, s.opts
	desc, pinned, err := resolveToSign(ctx, g, o, client, ref)
	if err != nil {
		return signResult{}, err
	}
	repo, err := client.NotationRepository(ctx, pinned)
	if err != nil {
		return signResult{}, err
	}
	sigDesc, err := signing.SignWith(ctx, signer, repo, pinned, opts)
	if err != nil {
		return signResult{}, err
	}
	for _, w := range repo.Warnings() {
		fmt.Fprintf(g.err, "Warning: %s\n", w)
	}
	res := signResult{
		Reference: pinned,
		Digest:    desc.Digest.String(),
		Format:    formatName(opts.Format),
		Key:       keyName,
		Plugin:    o.plugin,
	}
	if sigDesc.Digest != "" {
		res.SignatureManifest = sigDesc.Digest.String()
	}
	return res, nil
}

// printSigned writes one image's result; -o json prints it as one object.
func printSigned(g *globalOptions, o *signOptions, res signResult) error {
	if o.output == "json" {
		return writeJSON(g.out, res)
	}
	by := "key " + res.Key
	if res.Plugin != "" {
		by = "plugin " + res.Plugin + ", key " + res.Key
	}
	fmt.Fprintf(g.out, "Signed %s with %s (%s).\n", res.Reference, by, res.Format)
	if res.SignatureManifest != "" {
		fmt.Fprintf(g.out, "Signature manifest: %s\n", res.SignatureManifest)
	}
	return nil
}

// signerFor returns the signer --key or --plugin names, the key's name for
// output (NAME/VERSION, or the plugin's key ID), and a function that releases
// it.
func (g *globalOptions) signerFor(ctx context.Context, o *signOptions, pluginConfig map[string]string) (notation.Signer, string, func(), error) {
	if o.plugin != "" {
		dir, err := notationplugin.Dir(os.Getenv)
		if err != nil {
			return nil, "", nil, err
		}
		s, err := notationplugin.NewSigner(ctx, dir, o.plugin, o.pluginKeyID, pluginConfig)
		if err != nil {
			return nil, "", nil, err
		}
		return s, o.pluginKeyID, func() {}, nil
	}
	store, kref, release, err := g.withKeyRef(ctx, o.key)
	if err != nil {
		return nil, "", nil, err
	}
	key, err := store.Signer(ctx, kref)
	if err != nil {
		release()
		return nil, "", nil, err
	}
	s, err := signing.NewNotationSigner(key.Signer, key.Chain)
	if err != nil {
		release()
		return nil, "", nil, err
	}
	return s, key.Name + "/" + key.Version, release, nil
}

func formatName(f string) string {
	if f == "" {
		return signing.FormatCOSE
	}
	return f
}

// pinDigest rewrites ref to name digest instead of its tag.
func pinDigest(ref, digest string) (string, error) {
	r, err := oci.ParseReference(ref)
	if err != nil {
		return "", err
	}
	return r.Registry + "/" + r.Repository + "@" + digest, nil
}

// parseKeyValues parses repeated KEY=VALUE flags.
func parseKeyValues(pairs []string, flag string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: write it as KEY=VALUE", flag, p)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s: key %q given twice", flag, k)
		}
		m[k] = v
	}
	return m, nil
}

// loadCertPool reads PEM certificates from path into a pool.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := capped.ReadFile(path, certbundle.MaxFileSize)
	if err != nil {
		return nil, err
	}
	pool, err := certbundle.Pool(data)
	if err != nil {
		return nil, fmt.Errorf("%s %w", path, err)
	}
	return pool, nil
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return usageError{fmt.Errorf(`--output %q: use "text" or "json"`, o)}
	}
	return nil
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
