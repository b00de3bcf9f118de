package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/providers"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

type verifyOptions struct {
	registry      registryOptions
	cosignKeys    []string
	configFile    string
	trustPolicy   string
	trustStore    string
	maxSignatures int
	output        string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify REFERENCE... [--trust-policy FILE --trust-store DIR]",
		Short: "Verify images' Notary Project signatures against a trust policy",
		Long: `Verify the Notary Project signatures of one or more images against a trust
policy (notation's trustpolicy.json, version 1.0) and a trust store (notation's
layout: DIR/x509/{ca,signingAuthority,tsa}/NAME/*.pem).

Without --trust-policy and --trust-store, verify uses hallmark's own: the
trustpolicy.json and truststore/ in hallmark's home folder ($HALLMARK_HOME,
else <user config dir>/hallmark; 'hallmark policy' and 'hallmark cert' write
them), and when that has no trust policy, notation's: trustpolicy.oci.json
(else trustpolicy.json) and truststore/ in $NOTATION_CONFIG, else
<user config dir>/notation. It says which it used. A user whose 'notation verify' works gets the same
verdict from 'hallmark verify IMAGE'.

An image verifies when any one of its signatures passes the trust policy
statement whose registryScopes cover its repository. A tag is resolved to its
digest, and the verdict holds for that digest. - reads references from
standard input, one a line (# for comments); on a terminal a progress line
shows each image as it is verified.

With --cosign-key FILE (repeatable), verify checks cosign signatures instead:
an image verifies when one of its cosign signatures (the sha256-<digest>.sig
tag, or a Sigstore bundle attached as a referrer) was made with one of the
keys (PEM public keys, cosign.pub). No transparency-log entry is needed, as
with 'cosign verify --key FILE --insecure-ignore-tlog'. A value that names no
file is a key reference: a key in the key store (NAME, NAME/VERSION, NAME/*
for every version), a PKCS#11 URI or a Key Vault URL, as 'hallmark sign
--signature-format cosign --key' takes.

With --config FILE, verify uses a full 'hallmark serve' configuration (trust
policy, trust stores, registries, cosign policies, signature kinds per
scope) and gives the verdict the server would; --plain-http still applies.

Exit code 0 only if every reference verifies; 1 otherwise; 2 for a usage error.`,
		Example: `  hallmark verify registry.example.com/app:v1
  hallmark verify registry.example.com/app:v1 --trust-policy trustpolicy.json --trust-store ~/.config/notation/truststore
  hallmark verify 127.0.0.1:5000/a:v1 127.0.0.1:5000/b:v1 --plain-http --trust-policy p.json --trust-store ts -o json
  kubectl get pods -A -o jsonpath='{..image}' | tr ' ' '\n' | sort -u | hallmark verify -
  hallmark verify ghcr.io/org/app:v1 --cosign-key cosign.pub
  hallmark verify ghcr.io/org/app:v1 --config /etc/hallmark/config.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s expects at least one image reference, or - to read them from standard input (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.trustPolicy, "trust-policy", "", "trust policy file (notation trustpolicy.json, version 1.0; default: hallmark's, else notation's)")
	f.StringVar(&o.trustStore, "trust-store", "", "trust store folder in notation's layout (x509/{ca,signingAuthority,tsa}/NAME/; default: the one beside the trust policy used)")
	f.IntVar(&o.maxSignatures, "max-signatures", verify.DefaultMaxSignatures, "most signatures tried per image")
	f.StringArrayVar(&o.cosignKeys, "cosign-key", nil, "verify cosign signatures made with the public keys in this PEM file (cosign.pub), or with a key reference (a key store NAME[/VERSION] or NAME/*, a PKCS#11 URI, a Key Vault URL; repeatable), instead of Notary Project signatures")
	f.StringVar(&o.configFile, "config", "", "verify as 'hallmark serve' would with this configuration file (YAML)")
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json"`)
	o.registry.addFlags(f)
	o.registry.addCredentialFlags(f)
	return cmd
}

// verifyReport is what `hallmark verify -o json` prints.
type verifyReport struct {
	Verified bool            `json:"verified"`
	Results  []verify.Result `json:"results"`
}

func runVerify(cmd *cobra.Command, g *globalOptions, o *verifyOptions, refs []string) error {
	ctx := cmd.Context()
	if err := checkOutput(o.output); err != nil {
		return err
	}
	refs, stdinUsed, err := expandRefs(g.in, refs)
	if err != nil {
		return err
	}
	if stdinUsed && o.registry.passwordStdin {
		return usageError{fmt.Errorf("--password-stdin and - both read standard input: give the password in $HALLMARK_PASSWORD instead")}
	}
	fl := cmd.Flags()
	var verifier interface {
		Verify(ctx context.Context, ref string) verify.Result
	}
	switch {
	case o.configFile != "" && (len(o.cosignKeys) > 0 || fl.Changed("trust-policy") || fl.Changed("trust-store")):
		return usageError{fmt.Errorf("--config takes the trust policy, trust stores and cosign keys from the file: leave out --trust-policy, --trust-store and --cosign-key")}
	case len(o.cosignKeys) > 0 && (fl.Changed("trust-policy") || fl.Changed("trust-store")):
		return usageError{fmt.Errorf("--cosign-key verifies cosign signatures only: leave out --trust-policy and --trust-store, or use --config for both kinds")}
	case o.configFile != "":
		v, err := o.configVerifier(ctx)
		if err != nil {
			return err
		}
		verifier = v
	case len(o.cosignKeys) > 0:
		v, err := o.cosignVerifier(ctx, g)
		if err != nil {
			return err
		}
		verifier = v
	}
	if verifier != nil {
		return o.report(ctx, g, verifier, refs)
	}
	loc, err := g.resolveTrust(o.trustPolicy, o.trustStore)
	if err != nil {
		return err
	}
	if loc.owner != "" {
		fmt.Fprintf(g.err, "Using %s trust policy %s and trust store %s.\n", loc.owner, loc.policy, loc.store)
	}
	policy, err := tpolicy.Load(loc.policy)
	if err != nil {
		return err
	}
	store, err := tstore.Load(loc.store)
	if err != nil {
		return err
	}
	client, err := o.registry.client(g.streams, false, refs...)
	if err != nil {
		return err
	}
	// With a default key, the sign commands printed as fixes run as
	// printed; settings that cannot be read only cost that.
	st, _ := g.loadSettings()
	engine, err := verify.NewEngine(policy, store, oci.Repositories{Client: client}, verify.EngineOptions{
		MaxSignatures:      o.maxSignatures,
		ExplainUnreachable: true,
		CommandFlags:       o.registry.commandFlags,
		DefaultSignKey:     st.DefaultKey != "",
	})
	if err != nil {
		return err
	}
	return o.report(ctx, g, engine, refs)
}

// report verifies refs with v and prints the verdicts.
func (o *verifyOptions) report(ctx context.Context, g *globalOptions, v interface {
	Verify(ctx context.Context, ref string) verify.Result
}, refs []string) error {
	report := verifyReport{Verified: true}
	prog := newProgress(g.err, len(refs))
	for _, ref := range refs {
		prog.step("verifying " + ref)
		r := v.Verify(ctx, ref)
		report.Results = append(report.Results, r)
		report.Verified = report.Verified && r.Verified
	}
	if o.output == "json" {
		if err := writeJSON(g.out, report); err != nil {
			return err
		}
	} else {
		for _, r := range report.Results {
			printVerifyResult(g.out, r)
		}
	}
	if !report.Verified {
		return errSilent
	}
	return nil
}

func printVerifyResult(w io.Writer, r verify.Result) {
	ref := r.Reference
	if r.Digest != "" && r.Tag != "" {
		ref = fmt.Sprintf("%s (%s)", r.Reference, r.Digest)
	}
	if r.Verified {
		fmt.Fprintf(w, "PASS %s\n", ref)
	} else {
		fmt.Fprintf(w, "FAIL %s\n", ref)
	}
	fmt.Fprintf(w, "     %s\n", r.Reason)
	if r.Policy != "" && !r.Verified {
		// A pass already names the statement in its reason.
		fmt.Fprintf(w, "     trust policy %q, level %s\n", r.Policy, r.Level)
	}
	if !r.Verified && r.Remediation != "" && r.Remediation != r.Reason {
		fmt.Fprintf(w, "     to fix: %s\n", r.Remediation)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "     warning: %s\n", warn)
	}
}

// cosignVerifier builds a verifier of cosign signatures made with the keys
// of --cosign-key, for every repository, needing no transparency log. A
// value naming a file is a PEM file of public keys; any other is a key
// reference, read as a configuration's cosign key is: a key in the key
// store (NAME, NAME/VERSION, NAME/*), a PKCS#11 URI or a Key Vault URL.
func (o *verifyOptions) cosignVerifier(ctx context.Context, g *globalOptions) (*cosign.Verifier, error) {
	var keys []cosign.Key
	for _, f := range o.cosignKeys {
		if _, err := os.Stat(f); err != nil && (os.IsNotExist(err) || providers.IsRemote(f)) {
			got, err := o.cosignKeyRef(ctx, g, f)
			if err != nil {
				return nil, err
			}
			keys = append(keys, got...)
			continue
		}
		data, err := capped.ReadFile(f, cosign.MaxKeyPEMBytes)
		if err != nil {
			return nil, fmt.Errorf("--cosign-key: %w", err)
		}
		k, err := cosign.ParsePublicKeys(f, data)
		if err != nil {
			return nil, fmt.Errorf("--cosign-key: %w", err)
		}
		keys = append(keys, k...)
	}
	client, err := o.registry.client(g.streams, false)
	if err != nil {
		return nil, err
	}
	return cosign.NewVerifier([]cosign.Policy{{Name: "--cosign-key", Scopes: []string{cosign.Wildcard}, Keys: keys}}, client, cosign.Options{MaxSignatures: o.maxSignatures})
}

// cosignKeyRef reads the public keys of a key reference given to
// --cosign-key, through the configuration's reading of cosign keys.
func (o *verifyOptions) cosignKeyRef(ctx context.Context, g *globalOptions, ref string) ([]cosign.Key, error) {
	c := &config.Config{Cosign: config.Cosign{Policies: []config.CosignPolicy{{Name: "--cosign-key", Scopes: []string{cosign.Wildcard}, Keys: []config.CosignKey{{Key: ref}}}}}}
	if !providers.IsRemote(ref) {
		if _, _, err := config.ParseKeySource(ref); err != nil {
			return nil, usageError{fmt.Errorf("--cosign-key %q is neither a file nor a key reference (NAME, NAME/VERSION or NAME/* in the key store, a PKCS#11 URI, a Key Vault URL): %v", ref, err)}
		}
		dir, err := g.resolveStoreDir()
		if err != nil {
			return nil, err
		}
		c.KeyStore.Dir = dir
	}
	ps, err := serve.CosignPolicies(ctx, c)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && len(ce.Problems) > 0 {
			return nil, fmt.Errorf("--cosign-key %s: no such file, and as a key: %s", ref, ce.Problems[0].Message)
		}
		return nil, fmt.Errorf("--cosign-key %s: %w", ref, err)
	}
	return ps[0].Keys, nil
}

// verifyTLSPlaceholder fills the TLS fields that Validate requires of a
// server configuration; verify serves nothing and never reads them.
const verifyTLSPlaceholder = "unused-by-hallmark-verify"

// configVerifier builds what serve builds from --config: the Notary
// Project engine, the cosign verifier and the signature-kind rules.
func (o *verifyOptions) configVerifier(ctx context.Context) (*serveVerifier, error) {
	cfg, err := config.Load(o.configFile)
	if err != nil {
		return nil, err
	}
	if o.registry.plainHTTP {
		cfg.Registries = append([]config.Registry{{Hosts: []string{"*"}, PlainHTTP: true}}, cfg.Registries...)
	}
	if cfg.TLS.CertFile == "" {
		cfg.TLS.CertFile, cfg.TLS.KeyFile = verifyTLSPlaceholder, verifyTLSPlaceholder
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gen, err := serve.Build(ctx, cfg, serve.BuildOptions{UserAgent: userAgent()})
	if err != nil {
		return nil, err
	}
	return &serveVerifier{gen: gen}, nil
}

// serveVerifier verifies through a serve generation's cache, which a
// command run never hits twice for one image.
type serveVerifier struct{ gen *serve.Generation }

func (s *serveVerifier) Verify(ctx context.Context, ref string) verify.Result {
	return s.gen.Cache.Verify(ctx, ref)
}
