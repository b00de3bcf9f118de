package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// Cosign configures verification of cosign (Sigstore) signatures, beside
// Notary Project signatures. Zero: none; images are verified by their
// Notary Project signatures only.
type Cosign struct {
	// TrustedRootFile is a Sigstore trusted root (trusted_root.json, as
	// `cosign trusted-root create` writes it or the public-good instance
	// publishes it through TUF): the Fulcio CAs, Rekor logs and timestamping
	// authorities that keyless verification, and the requireTransparencyLog
	// and requireSignedTimestamp settings, check against. It is a file, so
	// an air-gapped cluster needs nothing but its registry; hallmark never
	// fetches it. Zero: none, and only keyed policies without those two
	// settings are accepted.
	TrustedRootFile string `json:"trustedRootFile,omitempty"`
	// Policies say which cosign signatures the images of their scopes must
	// carry. A repository is covered by the policy naming it in scopes,
	// else by the one with "*". Zero: none (then cosign is not configured).
	Policies []CosignPolicy `json:"policies,omitempty"`
}

// CosignPolicy accepts an image in Scopes with a cosign signature made by
// one of Keys, or a keyless one whose certificate matches one of Keyless.
type CosignPolicy struct {
	// Name names the policy in reasons and reports. Required, unique.
	Name string `json:"name"`
	// Scopes are the repositories the policy covers, REGISTRY/REPOSITORY
	// as in a trust policy's registryScopes, or "*". Required.
	Scopes []string `json:"scopes"`
	// Keys are the public keys accepted for keyed signatures (cosign sign
	// --key). Zero: none.
	Keys []CosignKey `json:"keys,omitempty"`
	// Keyless are the signer identities accepted for keyless signatures
	// (cosign sign with a Fulcio certificate). They need
	// cosign.trustedRootFile. Zero: none. At least one key or identity is
	// required.
	Keyless []CosignIdentity `json:"keyless,omitempty"`
	// RequireTransparencyLog requires a Rekor transparency-log entry,
	// verified against the trusted root, for every signature accepted.
	// Zero: false; keyed signatures then need none (as `cosign verify --key
	// --insecure-ignore-tlog`), and keyless ones need a log entry or a
	// signed timestamp in any case.
	RequireTransparencyLog bool `json:"requireTransparencyLog,omitempty"`
	// RequireSignedTimestamp requires an RFC 3161 timestamp from a
	// timestamping authority of the trusted root. Zero: false.
	RequireSignedTimestamp bool `json:"requireSignedTimestamp,omitempty"`
}

// CosignKey is one source of public keys. Set exactly one field.
type CosignKey struct {
	// File is a PEM file of public keys (cosign.pub) or certificates.
	File string `json:"file,omitempty"`
	// PEM is public keys written inline in PEM.
	PEM string `json:"pem,omitempty"`
	// Key names a hallmark key whose certificate's public key is accepted,
	// as keys in trustStores: "NAME" or "NAME/VERSION" in keyStore.dir,
	// "NAME/*" for every version, a pkcs11: URI or a Key Vault key URL
	// (every version unless the reference names one). A Key Vault keys URL
	// (https://VAULT/keys/NAME[/VERSION]) is read with the vault's keys
	// API, so the key needs no certificate.
	Key string `json:"key,omitempty"`
	// Azure is the Azure identity a Key Vault key is read with, as for
	// trustStores[].certificates[].azure. Only with a Key Vault key. Nil:
	// the default Azure credential chain.
	Azure *AzureCredentials `json:"azure,omitempty"`
	// CurrentVersionOnly accepts only the current version of a Key Vault
	// key named without a version, read again at every trustStoreRefresh,
	// so that a rotation replaces the old version instead of adding to it:
	// how Ratify reads a key without a version. Only with a Key Vault keys
	// URL without a version. Zero: every enabled version.
	CurrentVersionOnly bool `json:"currentVersionOnly,omitempty"`
}

// CosignIdentity is a keyless signer: the certificate's identity (subject
// alternative name: an e-mail address, a workflow URI) and the OIDC issuer
// that vouched for it, each exactly or as a Go regular expression matched
// against the whole value (anchor it with ^ and $, as with cosign's
// --certificate-identity-regexp). Set one of subject and subjectRegExp, and
// one of issuer and issuerRegExp.
type CosignIdentity struct {
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
}

// SignatureKinds says which signature kinds images must carry, per
// registry scope.
type SignatureKinds struct {
	// Default is what a repository no rule covers requires: notation,
	// cosign, any (either kind), all (both) or each (every kind the image
	// carries, and at least one). Zero: notation when cosign is not
	// configured, any when it is.
	Default string `json:"default,omitempty"`
	// Rules set the requirement of the repositories in their scopes.
	// Zero: none.
	Rules []SignatureKindRule `json:"rules,omitempty"`
}

// SignatureKindRule requires Require of the repositories in Scopes.
type SignatureKindRule struct {
	// Scopes are REGISTRY/REPOSITORY or "*". Required.
	Scopes []string `json:"scopes"`
	// Require is notation, cosign, any, all or each. Required.
	Require string `json:"require"`
}

// CosignConfigured reports whether cosign verification is configured.
func (c *Config) CosignConfigured() bool { return len(c.Cosign.Policies) > 0 }

// The signature kinds a scope can require (signatureKinds): the names
// verify/kinds reads; serve maps them onto it.
const (
	KindNotation = "notation"
	KindCosign   = "cosign"
	KindAny      = "any"
	KindAll      = "all"
	KindEach     = "each"
)

// SignatureKindDefault returns signatureKinds.default with its zero value
// applied: notation, or any when cosign is configured.
func (c *Config) SignatureKindDefault() string {
	switch {
	case c.SignatureKinds.Default != "":
		return c.SignatureKinds.Default
	case c.CosignConfigured():
		return KindAny
	default:
		return KindNotation
	}
}

func (c *Config) validateCosign(ps *problems) {
	names := map[string]bool{}
	scopes := map[string]string{}
	for i, p := range c.Cosign.Policies {
		path := fmt.Sprintf("cosign.policies[%d]", i)
		switch {
		case p.Name == "":
			ps.add(path+".name", "required")
		case names[p.Name]:
			ps.add(path+".name", fmt.Sprintf("%q is used by another policy", strict.Clip(p.Name)))
		}
		names[p.Name] = true
		if len(p.Scopes) == 0 {
			ps.add(path+".scopes", `required: REGISTRY/REPOSITORY, or "*"`)
		}
		for j, s := range p.Scopes {
			if other, ok := scopes[s]; ok {
				ps.add(fmt.Sprintf("%s.scopes[%d]", path, j), fmt.Sprintf("%q is also a scope of policy %q; give each scope one policy", strict.Clip(s), other))
			}
			scopes[s] = p.Name
			if !validScope(s) {
				ps.add(fmt.Sprintf("%s.scopes[%d]", path, j), fmt.Sprintf(`%q is not REGISTRY/REPOSITORY or "*"`, strict.Clip(s)))
			}
		}
		if len(p.Keys) == 0 && len(p.Keyless) == 0 {
			ps.add(path, "give keys or keyless identities: a policy with neither accepts nothing")
		}
		for j, k := range p.Keys {
			n := 0
			for _, v := range []string{k.File, k.PEM, k.Key} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				ps.add(fmt.Sprintf("%s.keys[%d]", path, j), "set exactly one of file, pem and key")
			}
			if k.CurrentVersionOnly {
				if _, ref, err := kvurl.ParseURL(k.Key); !kvurl.IsKeyURL(k.Key) || (err == nil && ref.Version != "") {
					ps.add(fmt.Sprintf("%s.keys[%d].currentVersionOnly", path, j), "only for a Key Vault key named without a version (key: https://VAULT/keys/NAME)")
				}
			}
			if k.Azure != nil {
				switch {
				case !kvurl.IsURL(k.Key):
					ps.add(fmt.Sprintf("%s.keys[%d].azure", path, j), "only for a Key Vault key (key: https://VAULT/keys/NAME/VERSION)")
				case len(k.Azure.Endpoints) > 0:
					ps.add(fmt.Sprintf("%s.keys[%d].azure.endpoints", path, j), "only for registries; the vault is the key's URL")
				}
			}
		}
		for j, id := range p.Keyless {
			ip := fmt.Sprintf("%s.keyless[%d]", path, j)
			if (id.Subject == "") == (id.SubjectRegExp == "") {
				ps.add(ip, "set exactly one of subject and subjectRegExp")
			}
			if (id.Issuer == "") == (id.IssuerRegExp == "") {
				ps.add(ip, "set exactly one of issuer and issuerRegExp")
			}
			for field, re := range map[string]string{"subjectRegExp": id.SubjectRegExp, "issuerRegExp": id.IssuerRegExp} {
				if _, err := regexp.Compile(re); re != "" && err != nil {
					ps.add(ip+"."+field, fmt.Sprintf("not a regular expression: %v", err))
				}
			}
		}
		if c.Cosign.TrustedRootFile == "" && (len(p.Keyless) > 0 || p.RequireTransparencyLog || p.RequireSignedTimestamp) {
			ps.add(path, "keyless identities, requireTransparencyLog and requireSignedTimestamp need cosign.trustedRootFile (the Sigstore trusted root JSON)")
		}
	}
	if c.Cosign.TrustedRootFile != "" && !c.CosignConfigured() {
		ps.add("cosign.trustedRootFile", "set, but there are no cosign.policies to use it")
	}
	check := func(path string, r string) {
		switch {
		case r != KindNotation && r != KindCosign && r != KindAny && r != KindAll && r != KindEach:
			ps.add(path, fmt.Sprintf("%q must be notation, cosign, any, all or each", strict.Clip(r)))
		case !c.CosignConfigured() && (r == KindCosign || r == KindAll):
			ps.add(path, fmt.Sprintf("%s needs cosign.policies", r))
		}
	}
	check("signatureKinds.default", c.SignatureKindDefault())
	seen := map[string]bool{}
	for i, r := range c.SignatureKinds.Rules {
		path := fmt.Sprintf("signatureKinds.rules[%d]", i)
		check(path+".require", r.Require)
		if len(r.Scopes) == 0 {
			ps.add(path+".scopes", `required: REGISTRY/REPOSITORY, or "*"`)
		}
		for j, s := range r.Scopes {
			if seen[s] {
				ps.add(fmt.Sprintf("%s.scopes[%d]", path, j), fmt.Sprintf("%q is in another rule", strict.Clip(s)))
			}
			seen[s] = true
			if !validScope(s) {
				ps.add(fmt.Sprintf("%s.scopes[%d]", path, j), fmt.Sprintf(`%q is not REGISTRY/REPOSITORY or "*"`, strict.Clip(s)))
			}
		}
	}
}

func validScope(s string) bool {
	if s == "*" {
		return true
	}
	host, repo, ok := strings.Cut(s, "/")
	return ok && host != "" && repo != "" && !strings.ContainsAny(s, " \t*@") && !strings.Contains(repo, ":")
}
