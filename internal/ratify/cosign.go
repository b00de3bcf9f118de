package ratify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// CosignArtifactType is the artifact type Ratify gives cosign signatures
// (the sha256-DIGEST.sig tag, as Ratify's oras store lists it).
const CosignArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"

// defaultRekorURL is the log Ratify's cosign verifier queries by default.
const defaultRekorURL = "https://rekor.sigstore.dev"

// trustedRootHint says where a trusted root comes from.
const trustedRootHint = "give it with --cosign-trusted-root FILE (hallmark serve --ratify-resources: --ratify-cosign-trusted-root FILE); `cosign trusted-root create` writes one, and the public-good instance publishes its trusted_root.json"

// cosignVerifier maps a cosign Verifier (Ratify v1's trustPolicies, or the
// legacy key and rekorURL) onto cosign.policies.
func (c *converter) cosignVerifier(r *Resource, rd reader, spec map[string]any) {
	id := rd.res
	c.verifierSpec(r, rd, spec, "cosign signatures", "cosign signature", CosignArtifactType)
	const p = "spec.parameters"
	params := rd.object(p, spec["parameters"], "name", "type", "artifactTypes", "key", "rekorURL", "nestedArtifactTypes", "trustPolicies")
	if len(rd.list(p, params, "nestedArtifactTypes")) > 0 {
		c.fs.problem(id, p+".nestedArtifactTypes", "verifying the artifacts attached to a signature is not supported")
	}
	key, rekor := rd.str(p, params, "key"), rd.str(p, params, "rekorURL")
	policies := rd.list(p, params, "trustPolicies")
	c.fs.note(id, "", "hallmark accepts what this verifier accepts, plus Sigstore bundles made with the same keys and identities (cosign v3's storage of the same signatures, as OCI referrers), which Ratify does not read")
	if len(policies) > 0 {
		if key != "" || rekor != "" {
			c.fs.problem(id, p, "key and rekorURL (the legacy form) cannot be used with trustPolicies: Ratify refuses this verifier")
			return
		}
		for i, tp := range policies {
			c.cosignPolicy(rd, fmt.Sprintf("%s.trustPolicies[%d]", p, i), tp)
		}
		return
	}
	// The legacy form: one key file for every image, or keyless with any
	// certificate Fulcio issued.
	if key == "" {
		c.fs.problem(id, p+".key", "the legacy form without a key accepts a keyless signature from any identity Fulcio vouched for; hallmark requires the identities: write trustPolicies with keyless.certificateIdentity and certificateOIDCIssuer")
		return
	}
	pol := config.CosignPolicy{Name: r.Name, Scopes: []string{"*"}, Keys: []config.CosignKey{{File: key}}}
	c.fs.note(id, p+".key", "hallmark reads %s in its own pod: mount the public key there", strict.Clip(key))
	if rekor != "" {
		pol.RequireTransparencyLog = true
		c.rekorNotes(rd, p+".rekorURL", rekor)
	}
	c.cfg.Cosign.Policies = append(c.cfg.Cosign.Policies, pol)
}

// cosignPolicy maps one of trustPolicies.
func (c *converter) cosignPolicy(rd reader, p string, v any) {
	id := rd.res
	m := rd.object(p, v, "version", "name", "scopes", "keys", "keyless", "tLogVerify", "rekorURL")
	if ver := rd.str(p, m, "version"); ver != "" && ver != "1.0.0" {
		c.fs.problem(id, p+".version", "%q is not a version Ratify reads (1.0.0)", strict.Clip(ver))
	}
	pol := config.CosignPolicy{Name: rd.str(p, m, "name")}
	if pol.Name == "" {
		c.fs.problem(id, p+".name", "required")
	}
	for i, s := range rd.list(p, m, "scopes") {
		sp := fmt.Sprintf("%s.scopes[%d]", p, i)
		str, _ := s.(string)
		switch {
		case str == "":
			c.fs.problem(id, sp, "is %s, not a registry scope", describe(s))
		case str == "*":
			pol.Scopes = append(pol.Scopes, str)
		case strings.HasSuffix(str, "*"):
			c.fs.problem(id, sp, "%q: prefix scopes are not supported; hallmark's scopes are REGISTRY/REPOSITORY or \"*\": list the repositories", strict.Clip(str))
		case strings.ContainsAny(str, "@") || strings.Contains(str[strings.LastIndex(str, "/")+1:], ":"):
			c.fs.problem(id, sp, "%q names a tag or digest; hallmark's scopes are REGISTRY/REPOSITORY (every tag and digest of it)", strict.Clip(str))
		default:
			pol.Scopes = append(pol.Scopes, str)
			c.fs.note(id, sp, "Ratify matches %q only against an image reference written exactly so (no tag or digest); hallmark covers every tag and digest of the repository", strict.Clip(str))
		}
	}
	if rd.list(p, m, "scopes") == nil {
		c.fs.problem(id, p+".scopes", "required: Ratify refuses a trust policy without scopes")
	}
	keysList := rd.list(p, m, "keys")
	for i, k := range keysList {
		pol.Keys = append(pol.Keys, c.cosignKeys(rd, fmt.Sprintf("%s.keys[%d]", p, i), k)...)
	}
	keyless := false
	if kl, ok := m["keyless"]; ok && kl != nil {
		kp := p + ".keyless"
		km := rd.object(kp, kl, "ctLogVerify", "certificateIdentity", "certificateIdentityRegExp", "certificateOIDCIssuer", "certificateOIDCIssuerRegExp")
		if len(km) > 0 {
			keyless = true
			if len(keysList) > 0 {
				c.fs.problem(id, kp, "keys and keyless in one trust policy: Ratify refuses it; give each its own trust policy")
			}
			idn := config.CosignIdentity{
				Subject:       rd.str(kp, km, "certificateIdentity"),
				SubjectRegExp: rd.str(kp, km, "certificateIdentityRegExp"),
				Issuer:        rd.str(kp, km, "certificateOIDCIssuer"),
				IssuerRegExp:  rd.str(kp, km, "certificateOIDCIssuerRegExp"),
			}
			ok := true
			if (idn.Subject == "") == (idn.SubjectRegExp == "") {
				c.fs.problem(id, kp, "give exactly one of certificateIdentity and certificateIdentityRegExp")
				ok = false
			}
			if (idn.Issuer == "") == (idn.IssuerRegExp == "") {
				c.fs.problem(id, kp, "give exactly one of certificateOIDCIssuer and certificateOIDCIssuerRegExp")
				ok = false
			}
			if ok {
				pol.Keyless = append(pol.Keyless, idn)
			}
			if _, set := km["ctLogVerify"]; !set || rd.boolean(kp, km, "ctLogVerify") {
				c.fs.note(id, kp+".ctLogVerify", "hallmark does not check the certificate's signed certificate timestamp; Fulcio embeds one in every certificate it issues, and the certificate chain and log entry are checked against the trusted root")
			}
			if c.opts.CosignTrustedRootFile == "" {
				c.fs.problem(id, kp, "keyless verification needs Fulcio's roots, which Ratify fetches from the public-good Sigstore instance and hallmark reads from a Sigstore trusted root file: %s", trustedRootHint)
			}
		}
	}
	if len(keysList) == 0 && !keyless {
		c.fs.problem(id, p, "give keys or keyless: Ratify refuses a trust policy with neither")
	}
	// Ratify checks a Rekor entry unless tLogVerify is false.
	if _, set := m["tLogVerify"]; !set || rd.boolean(p, m, "tLogVerify") {
		pol.RequireTransparencyLog = true
		where := p + ".tLogVerify"
		if c.opts.CosignTrustedRootFile == "" {
			why := "tLogVerify is true"
			if !set {
				why = "tLogVerify is not set, and it is true by default"
			}
			c.fs.problem(id, where, "%s: Ratify requires a Rekor entry, checked with keys it fetches from the public-good instance; hallmark checks the entry against a Sigstore trusted root file: %s, or set tLogVerify: false", why, trustedRootHint)
		}
		rekor := rd.str(p, m, "rekorURL")
		if rekor == "" {
			rekor = defaultRekorURL
		}
		c.rekorNotes(rd, p+".rekorURL", rekor)
	} else if rd.str(p, m, "rekorURL") != "" {
		c.fs.note(id, p+".rekorURL", "not used with tLogVerify: false, by Ratify either")
	}
	c.cfg.Cosign.Policies = append(c.cfg.Cosign.Policies, pol)
}

// rekorNotes says how a Rekor URL maps: the trusted root names the logs.
func (c *converter) rekorNotes(rd reader, p, rekor string) {
	c.fs.note(rd.res, p, "hallmark never queries Rekor (%s): the log entry must be in the signature (cosign attaches it when it uploads), checked offline against the logs the trusted root names", strict.Clip(rekor))
}

// cosignKeys maps one entry of a trust policy's keys.
func (c *converter) cosignKeys(rd reader, p string, v any) []config.CosignKey {
	id := rd.res
	m := rd.object(p, v, "provider", "name", "version", "file")
	prov, name, version, file := rd.str(p, m, "provider"), rd.str(p, m, "name"), rd.str(p, m, "version"), rd.str(p, m, "file")
	switch {
	case file != "" && prov != "":
		c.fs.problem(id, p, "give provider or file, not both: Ratify refuses it")
		return nil
	case file == "" && prov == "":
		c.fs.problem(id, p, "give provider (a KeyManagementProvider) or file: Ratify refuses a key with neither")
		return nil
	case version != "" && name == "":
		c.fs.problem(id, p+".version", "needs name: Ratify refuses a key version without the key's name")
		return nil
	case file != "":
		c.fs.note(id, p+".file", "hallmark reads %s in its own pod: mount the public key there", strict.Clip(file))
		return []config.CosignKey{{File: file}}
	}
	r := c.resolve(prov)
	if r == nil || r.Kind == KindCertificateStore {
		c.fs.problem(id, p+".provider", "%q names no KeyManagementProvider among the resources (a bare name is a cluster KeyManagementProvider; NAMESPACE/NAME a namespaced one)", strict.Clip(prov))
		return nil
	}
	c.usedList = append(c.usedList, r)
	rid := r.label()
	rr := reader{res: rid, fs: c.fs}
	spec := rr.object("spec", r.Spec, "type", "refreshInterval", "parameters")
	c.refreshInterval(rr, spec)
	const pp = "spec.parameters"
	switch typ := rr.str("spec", spec, "type"); typ {
	case "inline":
		params := rr.object(pp, spec["parameters"], "contentType", "value")
		if ct := rr.str(pp, params, "contentType"); ct != "key" {
			c.fs.problem(rid, pp+".contentType", "is %q: a cosign trust policy's keys need contentType key", strict.Clip(ct))
			return nil
		}
		if name != "" {
			c.fs.problem(id, p+".name", "an inline provider holds its key without a name: drop name and version")
			return nil
		}
		value := rr.str(pp, params, "value")
		if strings.TrimSpace(value) == "" {
			c.fs.problem(rid, pp+".value", "required: the PEM public keys")
			return nil
		}
		return []config.CosignKey{{PEM: value}}
	case "azurekeyvault":
		params := rr.object(pp, spec["parameters"], "vaultURI", "tenantID", "clientID", "resource", "certificates", "keys", "cloudName")
		vault := c.vault(rr, pp, params)
		identity := vaultIdentity(rr, pp, params)
		var out []config.CosignKey
		found := false
		for i, k := range rr.list(pp, params, "keys") {
			kp := fmt.Sprintf("%s.keys[%d]", pp, i)
			km := rr.object(kp, k, "name", "version")
			kn, kv := rr.str(kp, km, "name"), rr.str(kp, km, "version")
			if name != "" && (kn != name || (version != "" && kv != version)) {
				continue
			}
			found = true
			if kn == "" {
				c.fs.problem(rid, kp+".name", "required")
				continue
			}
			if kv == "" {
				kv = version
			}
			if vault == "" {
				continue
			}
			// Without a version Ratify trusts the newest one only, read
			// again at each refresh: currentVersionOnly.
			ref := vault + "/keys/" + kn
			if kv != "" {
				ref += "/" + kv
			}
			if _, _, err := kvurl.ParseURL(ref); err != nil {
				c.fs.problem(rid, kp, "%v", err)
				continue
			}
			out = append(out, config.CosignKey{Key: ref, Azure: identity, CurrentVersionOnly: kv == ""})
		}
		if name != "" && !found {
			c.fs.problem(id, p+".name", "key %s%s is not among the keys of %s: Ratify refuses the trust policy", strict.Clip(name), map[bool]string{true: " version " + strict.Clip(version), false: ""}[version != ""], rid)
		} else if !found {
			c.fs.problem(rid, pp+".keys", "required: the keys a cosign trust policy names this provider for")
		}
		return out
	default:
		c.fs.problem(rid, "spec.type", "key management provider %q is not supported (hallmark supports inline and azurekeyvault)", strict.Clip(typ))
		return nil
	}
}

// signatureKinds sets which kinds images need. Ratify's config policy
// judges each artifact type found that has a verifier: an image with only
// a Notary Project signature passes on it, one with only a cosign signature
// on that, one with both only when both verify. hallmark's "each" is that,
// where both verifiers have a policy for every repository and verify
// there: each does not judge a kind with no policy for the repository. A
// Notary Project level skip differs whatever the kinds (skipDifferences).
func (c *converter) signatureKinds(notation, cosign bool) {
	switch {
	case notation && c.cfg.CosignConfigured():
		c.cfg.SignatureKinds.Default = config.KindEach
		c.eachDifferences()
		c.skipDifferences()
	case cosign && c.cfg.CosignConfigured():
		c.cfg.SignatureKinds.Default = config.KindCosign
	case notation:
		c.skipDifferences()
	}
}

// skipDifferences reports each trust policy statement of level skip. In
// Ratify v1.4.6 such a statement admits nothing: an image in its scopes
// with no Notary Project signature is denied (the config policy needs a
// report), and one with a signature stops the process (its notation
// verifier reads the signer of an outcome that skip leaves empty:
// TestSkipLevelAgainstRatify). hallmark, as the Notary Project
// specification defines skip, would admit every image there unchecked, so
// the import must not carry it over silently.
func (c *converter) skipDifferences() {
	var doc struct {
		TrustPolicies []struct {
			Name                  string `json:"name"`
			SignatureVerification struct {
				Level string `json:"level"`
			} `json:"signatureVerification"`
		} `json:"trustPolicies"`
	}
	if json.Unmarshal(c.cfg.TrustPolicy.Inline, &doc) != nil {
		return // the configuration's validation says what is wrong
	}
	for _, tp := range doc.TrustPolicies {
		if tp.SignatureVerification.Level == "skip" {
			c.fs.problem("resources", "", "trust policy statement %q has level skip: Ratify v1.4.6 admits nothing in its scopes (it denies an image without a Notary Project signature and stops on one with a signature, reading a signer that skip leaves empty), while hallmark would admit every image there unchecked, as the Notary Project specification defines skip; give the statement level strict, permissive or audit, or remove it so that images there are denied", strict.Clip(tp.Name))
		}
	}
}

// eachDifferences reports where signatureKinds each does not verify what
// Ratify does: a kind whose policies do not cover every repository.
func (c *converter) eachDifferences() {
	var doc struct {
		TrustPolicies []struct {
			RegistryScopes []string `json:"registryScopes"`
		} `json:"trustPolicies"`
	}
	if json.Unmarshal(c.cfg.TrustPolicy.Inline, &doc) != nil {
		return // the configuration's validation says what is wrong
	}
	star := false
	for _, tp := range doc.TrustPolicies {
		star = star || slices.Contains(tp.RegistryScopes, "*")
	}
	if !star {
		c.fs.problem("resources", "", `the Notary Project trust policy has no "*" statement: where none applies, Ratify denies an image carrying a Notary Project signature, while hallmark (signatureKinds each) does not judge that kind there and admits the image on its cosign signature; add a "*" statement`)
	}
	star = false
	for _, p := range c.cfg.Cosign.Policies {
		star = star || slices.Contains(p.Scopes, "*")
	}
	if !star {
		c.fs.problem("resources", "", `no cosign trust policy has scope "*": where none applies, Ratify denies an image carrying a cosign signature, while hallmark (signatureKinds each) does not judge that kind there and admits the image on its Notary Project signature; add a policy with scope "*"`)
	}
}
