package config

import (
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/pkcs11uri"
	"github.com/hallmark-dev/hallmark/internal/strict"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

var (
	// namespaceRe is a Kubernetes namespace name (an RFC 1123 label).
	namespaceRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// storeNameRe is a Notary Project trust store name.
	storeNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	// envNameRe is a portable environment variable name.
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks the configuration without reading any file, and returns
// every problem at once in an *Error, each with its field path. Zero fields
// are judged by their defaults, so Validate gives the same answer before and
// after ApplyDefaults. Files are read, and checked, by the builders.
func (c *Config) Validate() error {
	eff := *c // shallow: ApplyDefaults replaces nil fields, never edits shared ones
	eff.ApplyDefaults()
	var ps problems
	eff.validateServer(&ps)
	eff.validateAdmission(&ps)
	eff.validateVerification(&ps)
	eff.validateRegistries(&ps)
	eff.validateAllowedRegistries(&ps)
	defined := eff.validateTrustStores(&ps)
	eff.validateTrustPolicy(&ps, defined)
	eff.validateCosign(&ps)
	return ps.err("")
}

func (c *Config) validateServer(ps *problems) {
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		ps.add("listen", fmt.Sprintf("%q is not HOST:PORT or :PORT", strict.Clip(c.Listen)))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		ps.add("listen", fmt.Sprintf("port %q is not a number from 1 to 65535", strict.Clip(port)))
	} else if strings.ContainsAny(host, "/ ") {
		ps.add("listen", fmt.Sprintf("host %q is not a host name or IP address", strict.Clip(host)))
	}
	const https = "required: the API server and Gatekeeper call webhooks over HTTPS only"
	if c.TLS.CertFile == "" {
		ps.add("tls.certFile", https)
	}
	if c.TLS.KeyFile == "" {
		ps.add("tls.keyFile", https)
	}
	checkMode(ps, "mode", c.Mode)
}

func checkMode(ps *problems, path string, m Mode) {
	if m != ModeDeny && m != ModeAudit {
		ps.add(path, fmt.Sprintf("%q must be deny or audit", strict.Clip(string(m))))
	}
}

func (c *Config) validateAdmission(ps *problems) {
	a := &c.Admission
	excluded := checkNamespaces(ps, "admission.excludeNamespaces", a.ExcludeNamespaces)
	included := checkNamespaces(ps, "admission.includeNamespaces", a.IncludeNamespaces)
	for i, ns := range a.IncludeNamespaces {
		if j, ok := excluded[ns]; ok {
			ps.add(fmt.Sprintf("admission.includeNamespaces[%d]", i),
				fmt.Sprintf("%q is also excluded by admission.excludeNamespaces[%d]; exclusion wins, so remove it from one list", ns, j))
		}
	}
	for _, ns := range sortedKeys(a.NamespaceModes) {
		p := strict.Field("admission.namespaceModes", ns)
		if !namespaceRe.MatchString(ns) || len(ns) > 63 {
			ps.add(p, fmt.Sprintf("%q is not a namespace name (lowercase letters, digits and '-', at most 63)", strict.Clip(ns)))
			continue
		}
		checkMode(ps, p, a.NamespaceModes[ns])
		if j, ok := excluded[ns]; ok {
			ps.add(p, fmt.Sprintf("namespace %q is excluded by admission.excludeNamespaces[%d], so its mode never applies", ns, j))
		} else if len(included) > 0 {
			if _, ok := included[ns]; !ok {
				ps.add(p, fmt.Sprintf("namespace %q is not in admission.includeNamespaces, so its mode never applies", ns))
			}
		}
	}
	for i, pattern := range a.ExemptImages {
		p := fmt.Sprintf("admission.exemptImages[%d]", i)
		switch {
		case pattern == "":
			ps.add(p, "is empty")
		case strings.Contains(pattern, "://"):
			ps.add(p, fmt.Sprintf("%q has a URL scheme; image references have none", strict.Clip(pattern)))
		case strings.Trim(pattern, "*/") == "":
			ps.add(p, fmt.Sprintf("%q exempts every image; to admit unverified images, use mode: audit, which says so in warnings", pattern))
		default:
			if msg := exemptPatternProblem(pattern); msg != "" {
				ps.add(p, msg)
			}
		}
	}
}

// checkNamespaces reports invalid and repeated names and returns the index
// of each valid name.
func checkNamespaces(ps *problems, path string, names []string) map[string]int {
	idx := make(map[string]int, len(names))
	for i, ns := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !namespaceRe.MatchString(ns) || len(ns) > 63 {
			ps.add(p, fmt.Sprintf("%q is not a namespace name (lowercase letters, digits and '-', at most 63)", strict.Clip(ns)))
			continue
		}
		if j, ok := idx[ns]; ok {
			ps.add(p, fmt.Sprintf("%q is already listed at %s[%d]", ns, path, j))
			continue
		}
		idx[ns] = i
	}
	return idx
}

func (c *Config) validateVerification(ps *problems) {
	if d := c.TrustStoreRefresh.Duration; d < time.Second {
		ps.add("trustStoreRefresh", fmt.Sprintf("%v is shorter than 1s; every refresh reads every certificate source", d))
	}
	v := &c.Verification
	switch d := v.Deadline.Duration; {
	case d < 0:
		ps.add("verification.deadline", "must be positive")
	case d > MaxDeadline:
		ps.add("verification.deadline", fmt.Sprintf("%v is longer than %v, the longest the API server waits for a webhook", d, MaxDeadline))
	}
	switch n := v.MaxSignatures; {
	case n < 0:
		ps.add("verification.maxSignatures", "must be positive")
	case n > MaxSignaturesLimit:
		ps.add("verification.maxSignatures", fmt.Sprintf("%d is more than %d; an image with that many signatures is being flooded", n, MaxSignaturesLimit))
	}
	pos, neg := v.Cache.PositiveTTL.Duration, v.Cache.NegativeTTL.Duration
	switch {
	case pos < 0:
		ps.add("verification.cache.positiveTTL", "must be positive")
	case pos > MaxPositiveTTL:
		ps.add("verification.cache.positiveTTL", fmt.Sprintf("%v is longer than %v; a revoked certificate would keep passing for that long", pos, MaxPositiveTTL))
	}
	switch {
	case neg < 0:
		ps.add("verification.cache.negativeTTL", "must be positive")
	case pos > 0 && neg > pos:
		ps.add("verification.cache.negativeTTL", fmt.Sprintf("%v must not exceed positiveTTL (%v): a fix (a pushed signature) should show sooner than a revocation", neg, pos))
	}
	switch n := v.Cache.MaxEntries; {
	case n < 0:
		ps.add("verification.cache.maxEntries", "must be positive")
	case n > MaxCacheEntries:
		ps.add("verification.cache.maxEntries", fmt.Sprintf("%d is more than %d; at about 1.6 KiB an entry, that is more memory than a pod should use", n, MaxCacheEntries))
	}
}

func (c *Config) validateAllowedRegistries(ps *problems) {
	for i, h := range c.AllowedRegistries {
		if msg := hostPatternProblem(h); msg != "" {
			ps.add(fmt.Sprintf("allowedRegistries[%d]", i), msg)
		}
	}
}

// hostPatternProblem says what is wrong with a host pattern (HOST or
// HOST:PORT, as a path.Match glob), or returns "".
func hostPatternProblem(h string) string {
	switch {
	case h == "":
		return "is empty"
	case strings.Contains(h, "://"):
		return fmt.Sprintf("%q has a URL scheme; write the host alone, such as \"registry.example.com\"", strict.Clip(h))
	case strings.ContainsAny(h, "/@ "):
		return fmt.Sprintf("%q is not HOST or HOST:PORT", strict.Clip(h))
	case !validGlob(h):
		return fmt.Sprintf("%q is not a valid glob (unclosed '[' or a trailing '\\')", strict.Clip(h))
	}
	return ""
}

func (c *Config) validateRegistries(ps *problems) {
	firstSeen := map[string]string{} // lowercased pattern -> its path
	for i, r := range c.Registries {
		base := fmt.Sprintf("registries[%d]", i)
		if len(r.Hosts) == 0 {
			ps.add(base+".hosts", "required: list the registry hosts this entry is for, such as \"*.azurecr.io\"")
		}
		for j, h := range r.Hosts {
			p := fmt.Sprintf("%s.hosts[%d]", base, j)
			switch msg := hostPatternProblem(h); {
			case msg != "":
				ps.add(p, msg)
			default:
				key := strings.ToLower(h)
				if prev, ok := firstSeen[key]; ok {
					ps.add(p, fmt.Sprintf("%q is already matched by %s, which comes first and wins, so this entry never applies to it", h, prev))
				} else {
					firstSeen[key] = p
				}
			}
		}
		if r.PlainHTTP && r.InsecureSkipTLSVerify {
			ps.add(base+".insecureSkipTLSVerify", "has no effect with plainHTTP, which uses no TLS at all; keep one")
		}
		if r.PlainHTTP && r.CAFile != "" {
			ps.add(base+".caFile", "has no effect with plainHTTP, which uses no TLS at all; keep one")
		}
		if r.InsecureSkipTLSVerify && r.CAFile != "" {
			ps.add(base+".caFile", "has no effect with insecureSkipTLSVerify, which checks no certificate; keep caFile and drop insecureSkipTLSVerify")
		}
		r.Credentials.validate(ps, base+".credentials")
	}
}

func (cr *Credentials) validate(ps *problems, base string) {
	var sources []string
	if cr.DockerConfigFile != "" {
		sources = append(sources, "dockerConfigFile")
	}
	if cr.DockerConfigJSONFile != "" {
		sources = append(sources, "dockerConfigJSONFile")
	}
	password := cr.PasswordFromEnv != "" || cr.PasswordFile != ""
	token := cr.TokenFromEnv != "" || cr.TokenFile != ""
	if cr.Username != "" || password {
		sources = append(sources, "username and password")
	}
	if token {
		sources = append(sources, "token")
	}
	if cr.Azure != nil {
		sources = append(sources, "azure")
		for i, p := range cr.Azure.Endpoints {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				ps.add(fmt.Sprintf("%s.azure.endpoints[%d]", base, i), fmt.Sprintf("%q is not a host pattern such as *.azurecr.io", strict.Clip(p)))
			}
		}
	}
	if len(sources) > 1 {
		ps.add(base, fmt.Sprintf("gives %s; give one source of credentials", strings.Join(sources, " and ")))
		return
	}
	if cr.Username != "" && !password {
		ps.add(base+".username", "needs a password: set passwordFromEnv or passwordFile")
	}
	if password && cr.Username == "" {
		ps.add(base+".username", "required with a password")
	}
	if cr.PasswordFromEnv != "" && cr.PasswordFile != "" {
		ps.add(base+".passwordFile", "give passwordFromEnv or passwordFile, not both")
	}
	if cr.TokenFromEnv != "" && cr.TokenFile != "" {
		ps.add(base+".tokenFile", "give tokenFromEnv or tokenFile, not both")
	}
	for _, env := range []struct{ field, name string }{{"passwordFromEnv", cr.PasswordFromEnv}, {"tokenFromEnv", cr.TokenFromEnv}} {
		if env.name != "" && !envNameRe.MatchString(env.name) {
			ps.add(base+"."+env.field, fmt.Sprintf("%q is not an environment variable name", strict.Clip(env.name)))
		}
	}
}

// validateTrustStores checks trustStores and returns the "type:name" of
// each store defined, with its path.
func (c *Config) validateTrustStores(ps *problems) map[string]string {
	defined := map[string]string{}
	for i, ts := range c.TrustStores {
		base := fmt.Sprintf("trustStores[%d]", i)
		switch {
		case ts.Name == "":
			ps.add(base+".name", "required")
		case !storeNameRe.MatchString(ts.Name):
			ps.add(base+".name", fmt.Sprintf("%q may use only letters, digits, '_', '.' and '-'", strict.Clip(ts.Name)))
		}
		switch {
		case isStoreType(ts.Type):
		case ts.Type == "":
			ps.add(base+".type", "required: ca, signingAuthority or tsa")
		default:
			ps.add(base+".type", fmt.Sprintf("%q must be ca, signingAuthority or tsa", strict.Clip(ts.Type)))
		}
		if ts.Name != "" && ts.Type != "" {
			id := ts.Type + ":" + ts.Name
			if prev, ok := defined[id]; ok {
				ps.add(base, fmt.Sprintf("trust store %s is already defined by %s; merge their certificates into one entry", id, prev))
			} else {
				defined[id] = base
			}
		}
		if len(ts.Certificates) == 0 {
			ps.add(base+".certificates", "required: at least one of file, dir, pem or key")
		}
		for j, src := range ts.Certificates {
			c.validateSource(ps, fmt.Sprintf("%s.certificates[%d]", base, j), ts.Type, src)
		}
	}
	return defined
}

func (c *Config) validateSource(ps *problems, p, typ string, src CertificateSource) {
	var set []string
	for _, f := range []struct{ name, value string }{{"file", src.File}, {"dir", src.Dir}, {"pem", src.PEM}, {"key", src.Key}} {
		if f.value != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		ps.add(p, "give one of file, dir, pem or key")
		return
	case 1:
	default:
		ps.add(p, fmt.Sprintf("gives %s; give one per entry", strings.Join(set, " and ")))
		return
	}
	if src.PEM != "" {
		certs, err := certbundle.ParsePEM([]byte(src.PEM))
		if err != nil {
			ps.add(p+".pem", err.Error())
		} else if isStoreType(typ) {
			// The trust store's own rules (CA or self-signed; roots for
			// tsa), applied to a throwaway store.
			if err := tstore.New().Add(truststore.Type(typ), "check", certs...); err != nil {
				ps.add(p+".pem", storeAddMessage(err))
			}
		}
	}
	if src.Azure != nil {
		switch {
		case !kvurl.IsURL(src.Key):
			ps.add(p+".azure", "only for a Key Vault key (key: https://VAULT/certificates/NAME/VERSION)")
		case len(src.Azure.Endpoints) > 0:
			ps.add(p+".azure.endpoints", "only for registries; the vault is the key's URL")
		}
	}
	if src.CurrentVersionOnly {
		if _, ref, err := kvurl.ParseURL(src.Key); !kvurl.IsURL(src.Key) || (err == nil && ref.Version != "") {
			ps.add(p+".currentVersionOnly", "only for a Key Vault key named without a version (key: https://VAULT/certificates/NAME)")
		}
	}
	if src.Key != "" {
		if _, _, err := parseKeySource(src.Key); err != nil {
			ps.add(p+".key", err.Error())
		} else if c.KeyStore.Dir == "" && !pkcs11uri.HasScheme(src.Key) && !kvurl.IsURL(src.Key) {
			// A vault or PKCS#11 token is read without the local key store.
			ps.add(p+".key", "needs keyStore.dir, the key store to read the certificate from")
		}
	}
}

// parseKeySource reads "NAME", "NAME/VERSION" or "NAME/*".
func parseKeySource(s string) (ref keys.Ref, allVersions bool, err error) {
	switch {
	case pkcs11uri.HasScheme(s):
		u, err := pkcs11uri.ParseURI(s)
		if err != nil {
			return keys.Ref{}, false, err
		}
		ref, err := u.Ref()
		return ref, ref.Version == "", err
	case kvurl.IsURL(s):
		_, ref, err := kvurl.ParseURL(s)
		return ref, ref.Version == "", err
	}
	if name, ok := strings.CutSuffix(s, "/*"); ok {
		if err := keys.ValidateName(name); err != nil {
			return keys.Ref{}, false, err
		}
		return keys.Ref{Name: name}, true, nil
	}
	ref, err = keys.ParseRef(s)
	return ref, false, err
}

func (c *Config) validateTrustPolicy(ps *problems, defined map[string]string) {
	tp := &c.TrustPolicy
	switch {
	case tp.File == "" && len(tp.Inline) == 0:
		ps.add("trustPolicy", "required: give file (a trustpolicy.json) or inline (the document itself)")
		return
	case tp.File != "" && len(tp.Inline) > 0:
		ps.add("trustPolicy", "give file or inline, not both")
		return
	case tp.File != "":
		return // read and checked by serve.TrustPolicy
	}
	doc, err := tpolicy.Parse(tp.Inline)
	if err != nil {
		addPolicyProblems(ps, "trustPolicy.inline", err)
		return
	}
	if c.TrustStoreDir != "" {
		return // which stores it holds is known once it is read (serve.Prepare)
	}
	for i, st := range doc.TrustPolicies {
		for j, id := range st.TrustStores {
			if _, ok := defined[id]; !ok {
				typ, name, _ := strings.Cut(id, ":")
				ps.add(fmt.Sprintf("trustPolicy.inline.trustPolicies[%d].trustStores[%d]", i, j),
					fmt.Sprintf("%q is not defined in trustStores; add an entry with name: %s and type: %s there, or set trustStoreDir", id, name, typ))
			}
		}
	}
}

// addPolicyProblems copies a trust policy's problems, prefixing their paths.
func addPolicyProblems(ps *problems, prefix string, err error) {
	var pe *tpolicy.PolicyError
	if !errors.As(err, &pe) {
		ps.add(prefix, err.Error())
		return
	}
	for _, p := range pe.Problems {
		ps.add(joinPolicyPath(prefix, p.Path), p.Message)
	}
}

func joinPolicyPath(prefix, p string) string {
	switch {
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	default:
		return prefix + "." + p
	}
}

// validGlob reports whether pattern is well-formed for path.Match.
func validGlob(pattern string) bool {
	_, err := path.Match(pattern, "")
	return err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func isStoreType(t string) bool {
	return t == StoreTypeCA || t == StoreTypeSigningAuthority || t == StoreTypeTSA
}

// storeAddMessage is a TrustStore.Add error without its sentinel prefix,
// which the field path already conveys.
func storeAddMessage(err error) string {
	return strings.TrimPrefix(err.Error(), tstore.ErrInvalid.Error()+": ")
}
