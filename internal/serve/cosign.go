package serve

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
	"github.com/hallmark-dev/hallmark/internal/verify/kinds"
)

// CosignPolicies reads the files and keys the configuration's cosign
// section names and builds its policies. Every problem is reported at once in an *Error.
func CosignPolicies(ctx context.Context, c *config.Config) ([]cosign.Policy, error) {
	return cosignPolicies(ctx, c, nil)
}

// cosignPolicies is CosignPolicies; a Key Vault key in revocable that the
// vault no longer holds is revoked rather than a problem (revocableKeys).
func cosignPolicies(ctx context.Context, c *config.Config, revocable map[string]bool) ([]cosign.Policy, error) {
	if !c.CosignConfigured() {
		return nil, nil
	}
	var ps problems
	var tr root.TrustedMaterial
	if f := c.Cosign.TrustedRootFile; f != "" {
		data, err := readFile(f)
		if err == nil {
			tr, err = cosign.ParseTrustedRoot(data)
		}
		if err != nil {
			ps.add("cosign.trustedRootFile", err.Error())
		}
	}
	ks := &keyStoreOpener{dir: c.KeyStore.Dir, revocable: revocable}
	out := make([]cosign.Policy, 0, len(c.Cosign.Policies))
	for i, p := range c.Cosign.Policies {
		cp := cosign.Policy{
			Name: p.Name, Scopes: append([]string(nil), p.Scopes...), TrustedRoot: tr,
			RequireTransparencyLog: p.RequireTransparencyLog, RequireSignedTimestamp: p.RequireSignedTimestamp,
		}
		for j, k := range p.Keys {
			path := fmt.Sprintf("cosign.policies[%d].keys[%d]", i, j)
			got, err := cosignKeys(ctx, ks, k, fmt.Sprintf("%s inline key %d", p.Name, j+1))
			if errors.Is(err, keys.ErrDisabled) || errors.Is(err, keys.ErrNotFound) && ks.revocable[k.Key] {
				// The vault's answer, not a failure: the key is revoked
				// (disabled, or deleted after it was read), and a trust
				// refresh must drop it rather than keep what was read
				// before.
				cp.Revoked = append(cp.Revoked, k.Key)
				continue
			}
			if err != nil {
				ps.add(path, err.Error())
				continue
			}
			cp.Keys = append(cp.Keys, got...)
		}
		for _, id := range p.Keyless {
			cp.Identities = append(cp.Identities, cosign.Identity(id))
		}
		out = append(out, cp)
	}
	if err := ps.err(""); err != nil {
		return nil, err
	}
	return out, nil
}

func cosignKeys(ctx context.Context, ks *keyStoreOpener, k config.CosignKey, inlineName string) ([]cosign.Key, error) {
	switch {
	case k.File != "":
		data, err := readFile(k.File)
		if err != nil {
			return nil, err
		}
		return cosign.ParsePublicKeys(k.File, data)
	case k.PEM != "":
		return cosign.ParsePublicKeys(inlineName, []byte(k.PEM))
	case kvurl.IsKeyURL(k.Key):
		return vaultCosignKeys(ctx, k)
	case k.Key != "":
		chains, err := ks.keyChains(ctx, k.Key)
		if err != nil {
			return nil, err
		}
		var out []cosign.Key
		for _, chain := range chains {
			if len(chain) == 0 {
				continue
			}
			if err := cosign.CheckPublicKey(chain[0].PublicKey); err != nil {
				return nil, err
			}
			name := k.Key
			if len(chains) > 1 {
				name = fmt.Sprintf("%s (certificate serial %s)", k.Key, chain[0].SerialNumber.Text(16))
			}
			out = append(out, cosign.Key{Name: name, Public: chain[0].PublicKey})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("key %s has no certificate", k.Key)
		}
		return out, nil
	}
	return nil, fmt.Errorf("set one of file, pem and key")
}

// vaultCosignKeys reads the public keys of a Key Vault keys URL with the
// keys API (Ratify's KeyManagementProvider keys have no certificate), as
// the identity k names or the default chain, one credential per identity
// for the process, as trust stores read vaults.
func vaultCosignKeys(ctx context.Context, k config.CosignKey) ([]cosign.Key, error) {
	vault, ref, err := azurekv.ParseURL(k.Key)
	if err != nil {
		return nil, err
	}
	var (
		cred     azcore.TokenCredential
		identity = "the default Azure credential chain"
	)
	if k.Azure != nil {
		if cred, identity, err = azureCredential(k.Azure); err != nil {
			return nil, err
		}
	} else if cred, err = defaultAzureCredential(); err != nil {
		return nil, fmt.Errorf("azure credentials: %w", err)
	}
	p, err := azurekv.New(vault, azurekv.Options{Credential: cred})
	if err != nil {
		return nil, err
	}
	var pubs []keys.PublicKey
	if k.CurrentVersionOnly {
		var cur keys.PublicKey
		if cur, err = p.CurrentPublicKey(ctx, ref.Name); err == nil {
			pubs = []keys.PublicKey{cur}
		}
	} else {
		pubs, err = p.PublicKeys(ctx, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%s, read as %s: %w", k.Key, identity, err)
	}
	out := make([]cosign.Key, 0, len(pubs))
	for _, pk := range pubs {
		if err := cosign.CheckPublicKey(pk.Key); err != nil {
			return nil, fmt.Errorf("%s version %s: %w", k.Key, pk.Version, err)
		}
		name := k.Key
		if ref.Version == "" {
			name = k.Key + "/" + pk.Version
		}
		out = append(out, cosign.Key{Name: name, Public: pk.Key})
	}
	return out, nil
}

// cosignFingerprint identifies the keys cosign policies accept, so that
// the trust refresh sees a key rotated in a key store, token or vault as
// it sees a Notary Project trust store change. Empty without policies.
func cosignFingerprint(policies []cosign.Policy) string {
	if len(policies) == 0 {
		return ""
	}
	h := sha256.New()
	for _, p := range policies {
		fmt.Fprintf(h, "policy %q\n", p.Name)
		for _, k := range p.Keys {
			der, err := x509.MarshalPKIXPublicKey(k.Public)
			if err != nil {
				der = []byte(err.Error())
			}
			fmt.Fprintf(h, "key %q %x\n", k.Name, der)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// withCosign puts the cosign verifier beside the Notary Project engine when
// the configuration has cosign policies, under its signature-kind rules;
// without them the engine is the verifier, as before. It returns the
// fingerprint of the keys read (cosignFingerprint).
func withCosign(ctx context.Context, cfg *config.Config, engine *verify.Engine, client *oci.Client, revocable map[string]bool) (cache.Verifier, string, error) {
	if !cfg.CosignConfigured() {
		return engine, "", nil
	}
	policies, err := cosignPolicies(ctx, cfg, revocable)
	if err != nil {
		return nil, "", err
	}
	cv, err := cosign.NewVerifier(policies, client, cosign.Options{MaxSignatures: cfg.Verification.MaxSignatures})
	if err != nil {
		return nil, "", err
	}
	rules := make([]kinds.Rule, len(cfg.SignatureKinds.Rules))
	for i, r := range cfg.SignatureKinds.Rules {
		rules[i] = kinds.Rule{Scopes: append([]string(nil), r.Scopes...), Require: kinds.Requirement(r.Require)}
	}
	v, err := kinds.New(engine, cv, rules, kinds.Requirement(cfg.SignatureKindDefault()))
	return v, cosignFingerprint(policies), err
}
