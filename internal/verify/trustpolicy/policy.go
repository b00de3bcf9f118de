package trustpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/registryname"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// maxTrustPolicySize caps a trust policy document. Real policies are a few
// KiB even with hundreds of repositories; the cap keeps a mistaken path (a
// log file, an image) or a hostile ConfigMap from being read into memory.
const maxTrustPolicySize = 1 << 20 // 1 MiB

// Version is the only trustpolicy.json version notation-go v1.3
// understands.
const Version = "1.0"

const (
	wildcard        = "*"
	x509SubjectType = "x509.subject"
)

// Field names of trustpolicy.json v1.0, used to report unknown fields and
// to suggest the intended one.
var (
	documentFields  = []string{"version", "trustPolicies"}
	statementFields = []string{"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"}
	sigVerifyFields = []string{"level", "override", "verifyTimestamp"}
)

// The registry host and repository grammar of the OCI distribution
// reference, which notation-go uses to validate registry scopes.
var (
	scopeDomainRe = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$`)
	scopeRepoRe   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*)*$`)
	storeNameRe   = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

// Parse parses and validates a Notary Project trustpolicy.json
// (version 1.0). On failure it returns a *PolicyError that lists every
// problem with its JSON field path, so all of them can be fixed at once.
// A policy it accepts is also accepted by notation-go's Document.Validate.
func Parse(data []byte) (*trustpolicy.Document, error) {
	return parseTrustPolicy("", data)
}

// Load reads and parses the trust policy file at path. The file
// must be a regular file, not a symlink: a policy decides what runs in a
// cluster, and a symlink could be re-pointed by anyone who can write its
// directory.
func Load(path string) (*trustpolicy.Document, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("trust policy %s does not exist; write one (see docs) or point to it with the right path: %w", path, err)
		}
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: "is a symlink; trust policies must be regular files, so copy the file here instead of linking it"}}}
	case fi.IsDir():
		msg := "is a directory, not a trust policy file"
		if _, err := os.Lstat(filepath.Join(path, "trustpolicy.json")); err == nil {
			msg += "; did you mean " + filepath.Join(path, "trustpolicy.json") + "?"
		}
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: msg}}}
	case !fi.Mode().IsRegular():
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: "is not a regular file"}}}
	case fi.Size() > maxTrustPolicySize:
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: sizeMessage(fi.Size())}}}
	}
	// Capped again: the file may have grown since Lstat.
	data, err := capped.ReadFile(path, maxTrustPolicySize)
	if errors.Is(err, capped.ErrTooLarge) {
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: fmt.Sprintf("is larger than %d bytes (%d KiB), far above any real policy, so this is probably the wrong file", maxTrustPolicySize, maxTrustPolicySize>>10)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	return parseTrustPolicy(path, data)
}

func sizeMessage(n int64) string {
	return fmt.Sprintf("is %d bytes; the limit is %d bytes (%d KiB), far above any real policy, so this is probably the wrong file", n, maxTrustPolicySize, maxTrustPolicySize>>10)
}

func parseTrustPolicy(source string, data []byte) (*trustpolicy.Document, error) {
	if len(data) > maxTrustPolicySize {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: sizeMessage(int64(len(data)))}}}
	}
	root, err := strict.ParseJSON(data)
	if errors.Is(err, strict.ErrEmpty) {
		err = errors.New("empty document; a trust policy is a JSON object with version and trustPolicies")
	}
	if err != nil {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: err.Error()}}}
	}
	b := &policyBuilder{typeErr: map[string]bool{}}
	doc := b.document(root)
	problems := append(b.problems, validateDocument(doc, b.typeErr)...)
	if len(problems) > 0 {
		return nil, &PolicyError{Source: source, Problems: sortProblems(problems)}
	}
	// Our checks are meant to be a superset of notation-go's; its own
	// validator stays the final word so that a gap in ours can never let
	// through a policy the verifier would read differently.
	if err := doc.Validate(); err != nil {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: "notation-go rejects the policy: " + err.Error()}}}
	}
	return doc, nil
}

// Validate checks a trust policy built in memory (for example
// from configuration) with the same rules as Parse.
func Validate(doc *trustpolicy.Document) error {
	if doc == nil {
		return &PolicyError{Problems: []Problem{{Message: "no trust policy given"}}}
	}
	if problems := validateDocument(doc, nil); len(problems) > 0 {
		return &PolicyError{Problems: sortProblems(problems)}
	}
	if err := doc.Validate(); err != nil {
		return &PolicyError{Problems: []Problem{{Message: "notation-go rejects the policy: " + err.Error()}}}
	}
	return nil
}

// sortProblems orders problems the way they appear in the document:
// document-level first, then statement by statement. Within that, the order
// in which they were found is kept.
func sortProblems(ps []Problem) []Problem {
	statement := func(path string) int {
		rest, ok := strings.CutPrefix(path, "trustPolicies[")
		if !ok {
			return -1
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return -1
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			return -1
		}
		return n
	}
	sort.SliceStable(ps, func(i, j int) bool { return statement(ps[i].Path) < statement(ps[j].Path) })
	return ps
}

// policyBuilder turns the JSON tree into a trustpolicy.Document and records
// structural problems: wrong JSON types, unknown and repeated fields.
// typeErr remembers the paths whose value could not be read, so that the
// semantic checks do not report them a second time as "missing".
type policyBuilder struct {
	problems []Problem
	typeErr  map[string]bool
}

func (b *policyBuilder) add(path, format string, args ...any) {
	b.problems = append(b.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (b *policyBuilder) wrongType(path string, n *strict.Node, want string) {
	b.typeErr[path] = true
	if path == "" {
		b.add(path, "the document must be %s, not %s", want, n.Describe())
		return
	}
	b.add(path, "must be %s, not %s", want, n.Describe())
}

// object checks that n is an object with only known fields.
func (b *policyBuilder) object(path string, n *strict.Node, known []string) bool {
	if n.Kind != strict.Object {
		b.wrongType(path, n, "an object")
		return false
	}
	for _, k := range n.Dups {
		b.add(strict.Field(path, k), "appears more than once; keep one (JSON readers disagree on which one wins)")
	}
	for _, k := range n.Keys {
		if !contains(known, k) {
			b.add(strict.Field(path, k), "%s", strict.UnknownField(k, known))
		}
	}
	return true
}

func (b *policyBuilder) str(path string, n *strict.Node) string {
	if n.Kind != strict.String {
		b.wrongType(path, n, "a string")
		return ""
	}
	return n.Str
}

// strs reads an array of strings. An element of the wrong type keeps its
// index with an empty placeholder so that later paths stay right.
func (b *policyBuilder) strs(path string, n *strict.Node) []string {
	if n.Kind != strict.Array {
		b.wrongType(path, n, "an array of strings")
		return nil
	}
	out := make([]string, len(n.Elems))
	for i, e := range n.Elems {
		out[i] = b.str(fmt.Sprintf("%s[%d]", path, i), e)
	}
	return out
}

func (b *policyBuilder) document(root *strict.Node) *trustpolicy.Document {
	doc := &trustpolicy.Document{}
	if !b.object("", root, documentFields) {
		return doc
	}
	if v, ok := root.Vals["version"]; ok {
		doc.Version = b.str("version", v)
	}
	if v, ok := root.Vals["trustPolicies"]; ok {
		if v.Kind != strict.Array {
			b.wrongType("trustPolicies", v, "an array of trust policy statements")
		} else {
			doc.TrustPolicies = make([]trustpolicy.TrustPolicy, len(v.Elems))
			for i, e := range v.Elems {
				doc.TrustPolicies[i] = b.statement(fmt.Sprintf("trustPolicies[%d]", i), e)
			}
		}
	}
	return doc
}

func (b *policyBuilder) statement(path string, n *strict.Node) trustpolicy.TrustPolicy {
	var st trustpolicy.TrustPolicy
	if !b.object(path, n, statementFields) {
		return st
	}
	if v, ok := n.Vals["name"]; ok {
		st.Name = b.str(path+".name", v)
	}
	if v, ok := n.Vals["registryScopes"]; ok {
		st.RegistryScopes = b.strs(path+".registryScopes", v)
	}
	if v, ok := n.Vals["trustStores"]; ok {
		st.TrustStores = b.strs(path+".trustStores", v)
	}
	if v, ok := n.Vals["trustedIdentities"]; ok {
		st.TrustedIdentities = b.strs(path+".trustedIdentities", v)
	}
	if v, ok := n.Vals["signatureVerification"]; ok {
		svPath := path + ".signatureVerification"
		if b.object(svPath, v, sigVerifyFields) {
			if l, ok := v.Vals["level"]; ok {
				st.SignatureVerification.VerificationLevel = b.str(svPath+".level", l)
			}
			if t, ok := v.Vals["verifyTimestamp"]; ok {
				st.SignatureVerification.VerifyTimestamp = trustpolicy.TimestampOption(b.str(svPath+".verifyTimestamp", t))
			}
			if o, ok := v.Vals["override"]; ok {
				st.SignatureVerification.Override = b.override(svPath+".override", o)
			}
		}
	}
	return st
}

func (b *policyBuilder) override(path string, n *strict.Node) map[trustpolicy.ValidationType]trustpolicy.ValidationAction {
	if n.Kind != strict.Object {
		b.wrongType(path, n, `an object such as {"revocation": "log"}`)
		return nil
	}
	for _, k := range n.Dups {
		b.add(strict.Field(path, k), "appears more than once; keep one")
	}
	out := make(map[trustpolicy.ValidationType]trustpolicy.ValidationAction, len(n.Keys))
	for _, k := range n.Keys {
		out[trustpolicy.ValidationType(k)] = trustpolicy.ValidationAction(b.str(strict.Field(path, k), n.Vals[k]))
	}
	return out
}

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
