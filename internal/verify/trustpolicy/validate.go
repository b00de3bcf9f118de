package trustpolicy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/registryname"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// validator runs the Notary Project rules on a Document and reports each
// violation at its field path. skip holds paths that already have a
// structural problem.
type validator struct {
	skip     map[string]bool
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func validateDocument(doc *trustpolicy.Document, skip map[string]bool) []Problem {
	v := &validator{skip: skip}
	if v.skip[""] {
		return nil
	}
	if !v.skip["version"] {
		switch doc.Version {
		case "":
			v.add("version", `missing; add "version": %q`, Version)
		case Version:
		default:
			v.add("version", "%q is not supported; use %q", doc.Version, Version)
		}
	}
	if !v.skip["trustPolicies"] && len(doc.TrustPolicies) == 0 {
		v.add("trustPolicies", "no trust policy statements; add at least one, for example one with registryScopes [\"*\"]")
	}
	names := map[string]string{}  // statement name -> path of its first use
	scopes := map[string]string{} // registry scope -> path of the statement that has it
	wildcardAt := ""
	for i := range doc.TrustPolicies {
		p := fmt.Sprintf("trustPolicies[%d]", i)
		if v.skip[p] {
			continue
		}
		st := &doc.TrustPolicies[i]
		v.name(p, st.Name, names)
		level := v.level(p+".signatureVerification", st.SignatureVerification)
		v.registryScopes(p, st.RegistryScopes, scopes, &wildcardAt)
		v.trustStores(p+".trustStores", st.TrustStores, level)
		v.trustedIdentities(p+".trustedIdentities", st.TrustedIdentities, level)
	}
	return v.problems
}

func (v *validator) name(p, name string, names map[string]string) {
	path := p + ".name"
	if v.skip[path] {
		return
	}
	if name == "" {
		v.add(path, "missing; every statement needs a unique name, which verification results report")
		return
	}
	if first, ok := names[name]; ok {
		v.add(path, "%q is already the name of %s; names must be unique", name, first)
		return
	}
	names[name] = p
}

// level checks signatureVerification and returns the effective level, or
// nil when it is missing or invalid.
func (v *validator) level(path string, sv trustpolicy.SignatureVerification) *trustpolicy.VerificationLevel {
	if v.skip[path] {
		return nil
	}
	var base *trustpolicy.VerificationLevel
	levelPath := path + ".level"
	if !v.skip[levelPath] {
		if sv.VerificationLevel == "" {
			v.add(levelPath, "missing; use strict, permissive, audit or skip")
		} else {
			for _, l := range trustpolicy.VerificationLevels {
				if l.Name == sv.VerificationLevel {
					base = l
				}
			}
			if base == nil {
				v.add(levelPath, "%q is not a verification level; use strict, permissive, audit or skip", sv.VerificationLevel)
			}
		}
	}
	if tsPath := path + ".verifyTimestamp"; !v.skip[tsPath] {
		switch sv.VerifyTimestamp {
		case "", trustpolicy.OptionAlways, trustpolicy.OptionAfterCertExpiry:
		default:
			v.add(tsPath, "%q is not valid; use %q (the default) or %q", sv.VerifyTimestamp, trustpolicy.OptionAlways, trustpolicy.OptionAfterCertExpiry)
		}
	}
	overridePath := path + ".override"
	if v.skip[overridePath] || len(sv.Override) == 0 {
		return base
	}
	if base == trustpolicy.LevelSkip {
		v.add(overridePath, `level "skip" cannot be customized; remove override or choose strict, permissive or audit`)
		return base
	}
	keys := make([]string, 0, len(sv.Override))
	for k := range sv.Override {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	ok := true
	for _, k := range keys {
		p := strict.Field(overridePath, k)
		if v.skip[p] {
			ok = false
			continue
		}
		action := sv.Override[trustpolicy.ValidationType(k)]
		switch trustpolicy.ValidationType(k) {
		case trustpolicy.TypeIntegrity:
			v.add(p, "integrity is always enforced and cannot be overridden; remove it")
			ok = false
			continue
		case trustpolicy.TypeAuthenticity, trustpolicy.TypeAuthenticTimestamp, trustpolicy.TypeExpiry, trustpolicy.TypeRevocation:
		default:
			v.add(p, "%s", strict.UnknownName("check", k, []string{"authenticity", "authenticTimestamp", "expiry", "revocation"}))
			ok = false
			continue
		}
		canSkip := trustpolicy.ValidationType(k) == trustpolicy.TypeRevocation
		switch action {
		case trustpolicy.ActionEnforce, trustpolicy.ActionLog:
		case trustpolicy.ActionSkip:
			if !canSkip {
				v.add(p, `only revocation can be skipped; use "enforce" or "log"`)
				ok = false
			}
		default:
			ok = false
			if canSkip {
				v.add(p, `%q is not an action; use "enforce", "log" or "skip"`, action)
			} else {
				v.add(p, `%q is not an action; use "enforce" or "log"`, action)
			}
		}
	}
	if !ok || base == nil {
		return base
	}
	level, err := sv.GetVerificationLevel()
	if err != nil { // unreachable if the checks above match notation-go's
		v.add(overridePath, "%v", err)
		return nil
	}
	return level
}

func (v *validator) registryScopes(p string, scopes []string, seen map[string]string, wildcardAt *string) {
	path := p + ".registryScopes"
	if v.skip[path] {
		return
	}
	if len(scopes) == 0 {
		v.add(path, `missing; list repositories such as "registry.example.com/team/app", or "*" for every repository`)
		return
	}
	here := map[string]int{}
	for j, s := range scopes {
		q := fmt.Sprintf("%s[%d]", path, j)
		if v.skip[q] {
			continue
		}
		if s == wildcard {
			if len(scopes) > 1 {
				v.add(q, `"*" must be the only scope in its statement; move the other repositories to a statement of their own`)
			}
			if *wildcardAt != "" && *wildcardAt != p {
				v.add(q, `"*" is also the scope of %s; only one statement may use "*"`, *wildcardAt)
			} else {
				*wildcardAt = p
			}
			continue
		}
		if msg := scopeProblem(s); msg != "" {
			v.add(q, "%s", msg)
			continue
		}
		if k, dup := here[s]; dup {
			v.add(q, "%q is listed twice in this statement (also registryScopes[%d]); remove one", s, k)
			continue
		}
		here[s] = j
		if other, dup := seen[s]; dup {
			v.add(q, "%q is already covered by %s; a repository may appear in only one statement", s, other)
			continue
		}
		seen[s] = p
	}
}

// scopeProblem explains why s is not a fully qualified repository, or
// returns "".
func scopeProblem(s string) string {
	if s == "" {
		return `empty; write a repository such as "registry.example.com/team/app"`
	}
	if strings.Contains(s, "*") {
		return fmt.Sprintf(`%q has a wildcard inside a repository path; use a full repository or "*" alone`, s)
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return fmt.Sprintf("%q includes a scheme; drop %q", s, s[:i+3])
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return fmt.Sprintf("%q includes a digest; scopes name repositories, so drop %q", s, s[i:])
	}
	domain, repo, found := strings.Cut(s, "/")
	if !found {
		return fmt.Sprintf("%q names no registry; write the full repository, for example %q", s, "docker.io/library/"+strings.SplitN(s, ":", 2)[0])
	}
	if i := strings.LastIndexByte(repo, ':'); i >= 0 {
		return fmt.Sprintf("%q includes a tag; scopes name repositories, so drop %q", s, repo[i:])
	}
	if !scopeDomainRe.MatchString(domain) {
		return fmt.Sprintf("%q has an invalid registry host %q", s, domain)
	}
	if !scopeRepoRe.MatchString(repo) {
		if lower := strings.ToLower(repo); lower != repo && scopeRepoRe.MatchString(lower) {
			return fmt.Sprintf("%q has upper-case letters; repository paths are lower case: %q", s, domain+"/"+lower)
		}
		return fmt.Sprintf("%q is not a valid repository path; use lower-case letters, digits and single '.', '_' or '-' separators, as in registry.example.com/team/app", s)
	}
	// Images are matched to statements by their canonical name, so a scope
	// spelled otherwise would never match: "Registry.example.com:443/app",
	// "index.docker.io/library/nginx" and "docker.io/nginx" would quietly
	// leave their images to the "*" statement.
	if canonical, ok := registryname.CanonicalRepository(s); ok && canonical != s {
		return fmt.Sprintf("%q is not written in canonical form; write %q, the name every spelling of this repository is matched by", s, canonical)
	}
	return ""
}

func (v *validator) trustStores(path string, stores []string, level *trustpolicy.VerificationLevel) {
	if v.skip[path] {
		return
	}
	if level == trustpolicy.LevelSkip {
		if len(stores) > 0 {
			v.add(path, `a "skip" statement must not list trust stores; remove trustStores or choose another level`)
		}
		return
	}
	if len(stores) == 0 {
		if level != nil {
			v.add(path, `missing; level %q needs at least one trust store, such as "ca:NAME"`, level.Name)
		}
		return
	}
	signerStores := 0
	for j, s := range stores {
		q := fmt.Sprintf("%s[%d]", path, j)
		if v.skip[q] {
			continue
		}
		typ, _, msg := ParseStoreRef(s)
		if msg != "" {
			v.add(q, "%s", msg)
			continue
		}
		if typ != truststore.TypeTSA {
			signerStores++
		}
	}
	if signerStores == 0 && !v.anySkipped(path, len(stores)) && !v.hasProblemUnder(path) {
		v.add(path, `lists only tsa stores, so no signer can be trusted; add a "ca:NAME" or "signingAuthority:NAME" store with the signers' root certificates`)
	}
}

// ParseStoreRef splits "TYPE:NAME" and explains what is wrong with it.
func ParseStoreRef(s string) (truststore.Type, string, string) {
	typ, name, found := strings.Cut(s, ":")
	if !found {
		return "", "", fmt.Sprintf(`%q is not TYPE:NAME; write it like "ca:%s" (types: ca, signingAuthority, tsa)`, s, s)
	}
	t := truststore.Type(typ)
	if !contains(truststore.Types, t) {
		for _, known := range truststore.Types {
			if strings.EqualFold(typ, string(known)) {
				return "", "", fmt.Sprintf("%q has store type %q; types are case sensitive, write %q", s, typ, string(known)+":"+name)
			}
		}
		return "", "", fmt.Sprintf("%q has unknown store type %q; use ca, signingAuthority or tsa", s, typ)
	}
	if name == "" {
		return "", "", fmt.Sprintf("%q has no store name after the colon", s)
	}
	if !storeNameRe.MatchString(name) {
		return "", "", fmt.Sprintf("%q has an invalid store name %q; names use only letters, digits, '_', '.' and '-'", s, name)
	}
	return t, name, ""
}

func (v *validator) anySkipped(path string, n int) bool {
	for j := 0; j < n; j++ {
		if v.skip[fmt.Sprintf("%s[%d]", path, j)] {
			return true
		}
	}
	return false
}

func (v *validator) hasProblemUnder(path string) bool {
	for _, p := range v.problems {
		if strings.HasPrefix(p.Path, path+"[") {
			return true
		}
	}
	return false
}

type parsedIdentity struct {
	index int
	raw   string
	dn    map[string]string
}

func (v *validator) trustedIdentities(path string, ids []string, level *trustpolicy.VerificationLevel) {
	if v.skip[path] {
		return
	}
	if level == trustpolicy.LevelSkip {
		if len(ids) > 0 {
			v.add(path, `a "skip" statement must not list trusted identities; remove trustedIdentities or choose another level`)
		}
		return
	}
	if len(ids) == 0 {
		if level != nil {
			v.add(path, `missing; list the signers to trust as "x509.subject: C=..., ST=..., O=..., CN=...", or ["*"] to trust any signer whose certificate chains to the trust stores`)
		}
		return
	}
	var parsed []parsedIdentity
	for j, id := range ids {
		q := fmt.Sprintf("%s[%d]", path, j)
		if v.skip[q] {
			continue
		}
		if id == wildcard {
			if len(ids) > 1 {
				v.add(q, `"*" must be the only trusted identity; remove it to trust only the listed identities, or remove the others`)
			}
			continue
		}
		if strings.TrimSpace(id) == "" {
			v.add(q, `empty; write "x509.subject: C=..., ST=..., O=..., CN=..." or "*"`)
			continue
		}
		prefix, value, found := strings.Cut(id, ":")
		if !found {
			v.add(q, `%q lacks the identity type; write "x509.subject: %s"`, id, strings.TrimSpace(id))
			continue
		}
		if prefix != x509SubjectType {
			if strings.EqualFold(strings.TrimSpace(prefix), x509SubjectType) {
				v.add(q, `%q: write the identity type exactly as "x509.subject:"`, id)
			} else {
				v.add(q, `%q has identity type %q; hallmark supports only "x509.subject:" identities (it runs no verification plugins)`, id, prefix)
			}
			continue
		}
		if strings.TrimSpace(value) == "" {
			v.add(q, `%q has no distinguished name after "x509.subject:"`, id)
			continue
		}
		dn, msg := parseIdentityDN(value)
		if msg != "" {
			v.add(q, "%q %s", id, msg)
			continue
		}
		parsed = append(parsed, parsedIdentity{index: j, raw: id, dn: dn})
	}
	for a := 0; a < len(parsed); a++ {
		for b := a + 1; b < len(parsed); b++ {
			x, y := parsed[a], parsed[b]
			if isSubsetDN(x.dn, y.dn) || isSubsetDN(y.dn, x.dn) {
				v.add(fmt.Sprintf("%s[%d]", path, y.index), "%q overlaps with trustedIdentities[%d] %q: every signer one of them matches is matched by the other; keep only the one you mean", y.raw, x.index, x.raw)
			}
		}
	}
}

// isSubsetDN reports whether every attribute of a has the same value in b,
// which is how a trusted identity matches a certificate subject.
func isSubsetDN(a, b map[string]string) bool {
	for k, val := range a {
		if b[k] != val {
			return false
		}
	}
	return true
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
