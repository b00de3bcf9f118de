package ratify

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// verifier maps a notation or cosign Verifier; it reports which it was.
func (c *converter) verifier(r *Resource) int {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", r.Spec, "name", "type", "version", "artifactTypes", "address", "source", "parameters")
	typ := rd.str("spec", spec, "type")
	typPath := "spec.type"
	if typ == "" {
		typ, typPath = rd.str("spec", spec, "name"), "spec.name"
	}
	if typ == "cosign" {
		c.cosignVerifier(r, rd, spec)
		return kindCosign
	}
	if typ != "notation" && typ != "notaryv2" {
		c.fs.problem(id, typPath, "%s verifiers are not supported yet: hallmark verifies Notary Project and cosign signatures; what this verifier checks would not be checked", strict.Clip(typ))
		return kindNone
	}
	c.verifierSpec(r, rd, spec, "Notary Project signatures", "signature", NotationArtifactType)
	const p = "spec.parameters"
	params := rd.object(p, spec["parameters"], "name", "artifactTypes", "verificationCerts", "verificationCertStores", "trustPolicyDoc")
	paths := c.verificationCerts(rd, p+".verificationCerts", rd.list(p, params, "verificationCerts"))
	doc, ok := params["trustPolicyDoc"].(map[string]any)
	if !ok {
		c.fs.problem(id, p+".trustPolicyDoc", "required: the Notary Project trust policy")
		return kindNotation
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		c.fs.problem(id, p+".trustPolicyDoc", "cannot be written as JSON: %v", err)
		return kindNotation
	}
	c.cfg.TrustPolicy.Inline = raw
	referenced := trustStoreRefs(doc)
	defined := c.certStores(rd, r, p+".verificationCertStores", params["verificationCertStores"], referenced, len(paths) > 0)
	// A store the trust policy names that verificationCertStores does not
	// fill gets the verificationCerts paths, as in Ratify.
	for _, name := range slices.Sorted(maps.Keys(referenced)) {
		for _, typ := range referenced[name] {
			if defined[typ+":"+name] || len(paths) == 0 {
				continue
			}
			c.cfg.TrustStores = append(c.cfg.TrustStores, config.TrustStore{Name: name, Type: typ, Certificates: paths})
		}
	}
	return kindNotation
}

// verificationCerts maps the notation verifier's verificationCerts, paths
// in Ratify's pod whose certificates serve every trust store that
// verificationCertStores does not fill. Ratify walks each path, a folder
// or a file; a path ending in a certificate file's extension becomes a
// file source, any other a folder source.
func (c *converter) verificationCerts(rd reader, p string, l []any) []config.CertificateSource {
	var out []config.CertificateSource
	for i, v := range l {
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			c.fs.problem(rd.res, fmt.Sprintf("%s[%d]", p, i), "is %s, not a path", describe(v))
			continue
		}
		if strings.HasPrefix(s, "~") {
			c.fs.problem(rd.res, fmt.Sprintf("%s[%d]", p, i), "%q is under Ratify's home folder; give the folder's full path in hallmark's pod", strict.Clip(s))
			continue
		}
		switch strings.ToLower(filepath.Ext(s)) {
		case ".pem", ".crt", ".cer", ".der":
			out = append(out, config.CertificateSource{File: s})
		default:
			out = append(out, config.CertificateSource{Dir: s})
		}
	}
	if len(out) > 0 {
		c.fs.note(rd.res, p, "hallmark reads these paths in its own pod: mount the same certificates there. A folder's files are read, not its sub-folders (Ratify reads those too: put every certificate at the top), and a path that does not exist fails the configuration (Ratify skips it)")
	}
	return out
}

// trustStoreRefs returns, for each store name the trust policy names, the
// types it is named with ("ca:certs" -> certs: [ca]).
func trustStoreRefs(doc map[string]any) map[string][]string {
	out := map[string][]string{}
	policies, _ := doc["trustPolicies"].([]any)
	for _, pol := range policies {
		pm, _ := pol.(map[string]any)
		stores, _ := pm["trustStores"].([]any)
		for _, s := range stores {
			str, _ := s.(string)
			typ, name, ok := strings.Cut(str, ":")
			if ok && !contains(out[name], typ) {
				out[name] = append(out[name], typ)
			}
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// certStores maps verificationCertStores onto trust stores and returns
// the stores it defined, as TYPE:NAME. Without it, the trust stores come
// from verificationCerts paths, if there are any (havePaths).
func (c *converter) certStores(rd reader, r *Resource, p string, v any, referenced map[string][]string, havePaths bool) map[string]bool {
	defined := map[string]bool{}
	m, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			c.fs.problem(rd.res, p, "is %s, not an object", describe(v))
		} else if !havePaths {
			c.fs.problem(rd.res, p, "required: the certificates the trust policy's trust stores hold")
		}
		return defined
	}
	typed := len(m) > 0
	for k, val := range m {
		if _, isMap := val.(map[string]any); !isMap || (k != "ca" && k != "signingAuthority" && k != "tsa") {
			typed = false
		}
	}
	if typed {
		for _, typ := range sortedKeys(m) {
			stores := m[typ].(map[string]any)
			for _, name := range sortedKeys(stores) {
				c.trustStore(rd, r, p+"."+typ+"."+name, typ, name, stores[name])
				defined[typ+":"+name] = true
			}
		}
		return defined
	}
	// Ratify reads the form without types as ca stores: a trust policy
	// that names one of them as signingAuthority or tsa gets no
	// certificates from it (only verificationCerts, if any).
	for _, name := range sortedKeys(m) {
		c.trustStore(rd, r, p+"."+name, "ca", name, m[name])
		defined["ca:"+name] = true
		for _, typ := range referenced[name] {
			if typ != "ca" && !havePaths {
				c.fs.problem(rd.res, p+"."+name, "the trust policy names %s:%s, but Ratify reads verificationCertStores written without types as ca stores only, so it has no certificates for %s:%s and fails every signature that needs them; write the typed form ({%s: {%s: [...]}}) if these certificates are meant for it", typ, strict.Clip(name), typ, strict.Clip(name), typ, strict.Clip(name))
			}
		}
	}
	return defined
}

// trustStore adds trust store typ:name from a list of provider names.
func (c *converter) trustStore(rd reader, r *Resource, p, typ, name string, v any) {
	refs, ok := v.([]any)
	if !ok {
		c.fs.problem(rd.res, p, "is %s, not a list of certificate store names", describe(v))
		return
	}
	ts := config.TrustStore{Name: name, Type: typ}
	var from []*Resource // ts.Certificates[j] comes from from[j]
	for i, ref := range refs {
		rp := fmt.Sprintf("%s[%d]", p, i)
		s, ok := ref.(string)
		if !ok || s == "" {
			c.fs.problem(rd.res, rp, "is %s, not a certificate store name", describe(ref))
			continue
		}
		prov := c.resolve(s)
		if prov == nil {
			c.fs.problem(rd.res, rp, "%q names no KeyManagementProvider or CertificateStore among the resources (a bare name is a KeyManagementProvider, or a CertificateStore in namespace %s; NAMESPACE/NAME a namespaced one)", strict.Clip(s), c.opts.Namespace)
			continue
		}
		c.usedList = append(c.usedList, prov)
		srcs := c.provider(prov)
		ts.Certificates = append(ts.Certificates, srcs...)
		for range srcs {
			from = append(from, prov)
		}
	}
	if len(ts.Certificates) > 0 {
		if c.origins == nil {
			c.origins = map[string]*Resource{}
		}
		for j, prov := range from {
			c.origins[fmt.Sprintf("trustStores[%d].certificates[%d]", len(c.cfg.TrustStores), j)] = prov
		}
		c.cfg.TrustStores = append(c.cfg.TrustStores, ts)
	}
}

// resolve finds the provider a verificationCertStores entry names, as
// Ratify does: a bare name is a cluster KeyManagementProvider, else a
// CertificateStore or namespaced provider in Ratify's namespace;
// NAMESPACE/NAME is namespaced.
func (c *converter) resolve(ref string) *Resource {
	ns, name, hasNS := strings.Cut(ref, "/")
	if !hasNS {
		name, ns = ref, c.opts.Namespace
		for _, r := range c.byKind[KindKeyManagementProvider] {
			if r.Name == name {
				return r
			}
		}
	}
	for _, kind := range []string{KindNamespacedKeyManagementProvider, KindCertificateStore} {
		for _, r := range c.byKind[kind] {
			if r.Name == name && r.Namespace == ns {
				return r
			}
		}
	}
	return nil
}

// verifierSpec checks what every Verifier's spec says beside its
// parameters: no plugin, the artifact type its kind of signature has (what
// Ratify runs it on), and a cluster-wide kind.
func (c *converter) verifierSpec(r *Resource, rd reader, spec map[string]any, signatures, signature, artifactType string) {
	id := rd.res
	if spec["source"] != nil || rd.str("spec", spec, "address") != "" {
		c.fs.problem(id, "spec.source", "verifier plugins are not supported: hallmark verifies %s itself", signatures)
	}
	if v := rd.str("spec", spec, "version"); v != "" {
		c.fs.note(id, "spec.version", "the plugin version is not used")
	}
	named := false
	for _, t := range strings.Split(rd.str("spec", spec, "artifactTypes"), ",") {
		if strings.TrimSpace(t) == artifactType {
			named = true
		}
	}
	if !named {
		c.fs.problem(id, "spec.artifactTypes", "does not name %s, so Ratify never runs this verifier on a %s; hallmark would", artifactType, signature)
	}
	if r.Kind == KindNamespacedVerifier {
		c.fs.problem(id, "", "%s", namespacedScope(r, "Verifiers"))
	}
}
