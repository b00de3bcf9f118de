package ratify

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// NotationArtifactType is the artifact type of Notary Project signatures.
const NotationArtifactType = "application/vnd.cncf.notary.signature"

// PolicyName is the only name Ratify reads a Policy under.
const PolicyName = "ratify-policy"

// Paths the output configuration names for what the Helm chart mounts.
const (
	tlsCertFile = "/etc/hallmark/tls/tls.crt"
	tlsKeyFile  = "/etc/hallmark/tls/tls.key"
	// secretDir is where the chart mounts the image pull secrets that a
	// k8Secrets auth provider names, one folder per secret.
	secretDir = "/etc/hallmark/registry-secrets"
)

// Options configures a conversion.
type Options struct {
	// Namespace is the namespace Ratify runs in: resources without a
	// namespace are taken to be in it, and bare names in
	// verificationCertStores resolve to CertificateStores in it. Empty:
	// gatekeeper-system, where Ratify's chart installs it.
	Namespace string
	// CosignTrustedRootFile is the Sigstore trusted root (trusted_root.json)
	// that cosign.trustedRootFile names: Ratify fetches Fulcio's roots and
	// Rekor's keys from the public-good instance, hallmark reads them from
	// this file. Empty: a cosign trust policy that needs them is a problem.
	CosignTrustedRootFile string
}

// DefaultNamespace is where Ratify's Helm chart installs Ratify.
const DefaultNamespace = "gatekeeper-system"

// Result is a conversion's outcome.
type Result struct {
	// Config is hallmark's configuration; nil when nothing could be made.
	Config *config.Config
	// Problems are what keeps Config from verifying exactly what Ratify
	// would: unsupported features, unknown fields, broken references.
	Problems []Finding
	// Notes are what Ratify ignores too, or what changes nothing about
	// what is admitted, said for the reader.
	Notes []Finding
	// Origins are the certificate stores and key management providers
	// the trust stores' certificate sources come from, by the source's
	// path in Config (trustStores[I].certificates[J]): what the fetched
	// certificates of each resource are, for its status.
	Origins map[string]*Resource
}

// OK reports whether Config verifies exactly what Ratify would.
func (r *Result) OK() bool { return r.Config != nil && len(r.Problems) == 0 }

// Convert turns Ratify resources into hallmark's configuration.
func Convert(resources []*Resource, opts Options) *Result {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	c := &converter{opts: opts, fs: &findings{}, byKind: map[string][]*Resource{}}
	for _, r := range resources {
		if namespaced(r.Kind) && r.Namespace == "" {
			r.Namespace = opts.Namespace
		}
		c.byKind[r.Kind] = append(c.byKind[r.Kind], r)
	}
	cfg := c.convert()
	res := &Result{Config: cfg, Problems: c.fs.problems, Notes: c.fs.notes, Origins: c.origins}
	if cfg != nil {
		if err := cfg.Validate(); err != nil {
			res.Problems = append(res.Problems, Finding{Resource: "hallmark configuration", Message: err.Error()})
		}
	}
	return res
}

type converter struct {
	opts   Options
	fs     *findings
	byKind map[string][]*Resource
	cfg    *config.Config
	// refresh is the shortest refreshInterval of the providers used.
	refresh time.Duration
	// usedList holds the providers some verifier resolved.
	usedList []*Resource
	// origins: see Result.Origins.
	origins map[string]*Resource
	// cosignListed says that a Store sets cosignEnabled, without which
	// Ratify's ORAS store never lists an image's cosign signature.
	cosignListed bool
}

func (c *converter) convert() *config.Config {
	c.cfg = &config.Config{}
	c.cfg.TLS.CertFile, c.cfg.TLS.KeyFile = tlsCertFile, tlsKeyFile
	for _, r := range c.byKind[KindExecutor] {
		c.executor(r)
	}
	for _, r := range c.byKind["NamespacedExecutor"] {
		c.fs.problem(r.label(), "", "NamespacedExecutor (per-namespace overrides) is not supported yet: hallmark has one configuration for the cluster")
	}
	stores := append(append([]*Resource{}, c.byKind[KindStore]...), c.byKind[KindNamespacedStore]...)
	for _, r := range stores {
		c.store(r)
	}
	if len(stores) == 0 && len(c.byKind[KindExecutor]) == 0 {
		// Ratify's Helm chart installs store-oras, with cosignEnabled.
		c.cosignListed = true
		c.fs.note("resources", "", "no Store: taken to be the one Ratify's Helm chart installs (oras, cosign signatures listed); registries are read with hallmark's defaults")
	}
	verifiers := append(append([]*Resource{}, c.byKind[KindVerifier]...), c.byKind[KindNamespacedVerifier]...)
	notation, cosign := 0, 0
	for _, r := range verifiers {
		switch c.verifier(r) {
		case kindNotation:
			notation++
		case kindCosign:
			cosign++
		}
	}
	if len(c.byKind[KindExecutor]) == 0 {
		switch {
		case notation == 0 && cosign > 0:
			c.fs.problem("resources", "", "no Verifier of type notation: hallmark needs a Notary Project trust policy even when images need only cosign signatures (signatureKinds.default is set to cosign); add a notation Verifier")
		case notation == 0:
			c.fs.problem("resources", "", "no Verifier of type notation or cosign: with none Ratify admits nothing; add the Verifier")
		case notation > 1:
			c.fs.problem("resources", "", "%d notation Verifiers: Ratify runs each and its policy combines them; hallmark has one trust policy, so merge them into one", notation)
		}
		if cosign > 0 && !c.cosignListed {
			for _, r := range stores {
				c.fs.problem(r.label(), "spec.parameters.cosignEnabled", "not true, so Ratify never lists an image's cosign signature and the cosign Verifier never runs: an image signed only with cosign is denied by Ratify, and hallmark would verify it; set cosignEnabled: true here (what the Verifier is for), or remove the cosign Verifier")
			}
		}
		if cosign > 1 {
			c.fs.problem("resources", "", "%d cosign Verifiers: Ratify runs each and its policy combines them; hallmark has one cosign section, so merge their trustPolicies into one Verifier", cosign)
		}
	}
	c.signatureKinds(notation > 0, cosign > 0)
	if c.cfg.CosignConfigured() {
		c.cfg.Cosign.TrustedRootFile = c.opts.CosignTrustedRootFile
	}
	c.policies()
	for _, r := range c.byKind[KindCertificateStore] {
		if !c.used(r) {
			c.fs.note(r.label(), "", "no Verifier uses it; not imported")
		}
	}
	for _, kind := range []string{KindKeyManagementProvider, KindNamespacedKeyManagementProvider} {
		for _, r := range c.byKind[kind] {
			if !c.used(r) {
				c.fs.note(r.label(), "", "no Verifier uses it; not imported")
			}
		}
	}
	if c.refresh > 0 {
		c.cfg.TrustStoreRefresh = config.Duration{Duration: c.refresh}
	}
	return c.cfg
}

func (c *converter) used(r *Resource) bool {
	for _, u := range c.usedList {
		if u == r {
			return true
		}
	}
	return false
}

// store maps a Store's parameters onto registries entries.
func (c *converter) store(r *Resource) {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", r.Spec, "name", "version", "address", "source", "parameters")
	name := rd.str("spec", spec, "name")
	if name != "oras" {
		c.fs.problem(id, "spec.name", "store %q is not supported: hallmark reads registries itself, as Ratify's oras store does", strict.Clip(name))
		return
	}
	if spec["source"] != nil || rd.str("spec", spec, "address") != "" {
		c.fs.problem(id, "spec.source", "store plugins downloaded from a source are not supported: hallmark reads registries itself")
	}
	if v := rd.str("spec", spec, "version"); v != "" {
		c.fs.note(id, "spec.version", "the plugin version is not used")
	}
	if r.Kind == KindNamespacedStore {
		// Its settings are still imported, for every namespace.
		c.fs.problem(id, "", "%s", namespacedScope(r, "Stores"))
	}
	const p = "spec.parameters"
	params := rd.object(p, spec["parameters"], "name", "useHttp", "cosignEnabled", "authProvider", "localCachePath", "cacheEnabled", "ttl", "capacity", "keyNumber")
	plainHTTP := rd.boolean(p, params, "useHttp")
	if plainHTTP {
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, PlainHTTP: true})
		c.fs.note(id, p+".useHttp", "every registry is reached over plain HTTP, as Ratify does; hallmark can limit this to the registries that need it (registries[].hosts)")
	}
	if rd.boolean(p, params, "cosignEnabled") {
		c.cosignListed = true
		c.fs.note(id, p+".cosignEnabled", "hallmark finds cosign signatures without it; it matters only with a cosign Verifier")
	}
	for _, k := range []string{"localCachePath", "cacheEnabled", "ttl", "capacity", "keyNumber"} {
		if _, ok := params[k]; ok {
			c.fs.note(id, p+"."+k, "Ratify's store cache is not used: hallmark caches verdicts (verification.cache; successes 5m, failures 30s) and never reuses a transient failure")
		}
	}
	if params["authProvider"] != nil {
		c.authProvider(rd, p+".authProvider", params["authProvider"])
	}
	if plainHTTP {
		// The first registries entry matching a host decides for it, and
		// the authProvider's entry comes first: it too must say plain
		// HTTP, as useHttp means for every registry in Ratify.
		for i := range c.cfg.Registries {
			c.cfg.Registries[i].PlainHTTP = true
		}
	}
}

// authProvider maps Ratify's registry authentication.
func (c *converter) authProvider(rd reader, p string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		c.fs.problem(rd.res, p, "is %s, not an object", describe(v))
		return
	}
	name := rd.str(p, m, "name")
	fields := map[string][]string{
		"azureWorkloadIdentity": {"name", "clientID", "endpoints"},
		"azureManagedIdentity":  {"name", "clientID", "endpoints"},
		"k8Secrets":             {"name", "serviceAccountName", "secrets", "secretTimeout"},
		"dockerConfig":          {"name", "configPath"},
	}[name]
	if fields == nil {
		c.fs.problem(rd.res, p+".name", "auth provider %q is not supported yet (hallmark supports azureWorkloadIdentity, azureManagedIdentity, k8Secrets and dockerConfig)", strict.Clip(name))
		return
	}
	// cosignEnabled is a Store parameter; written here, Ratify ignores it.
	if _, ok := m["cosignEnabled"]; ok {
		c.fs.note(rd.res, p+".cosignEnabled", "Ratify ignores cosignEnabled inside authProvider (it is a Store parameter), and so does hallmark")
		delete(m, "cosignEnabled")
	}
	rd.object(p, m, fields...)
	switch name {
	case "azureWorkloadIdentity", "azureManagedIdentity":
		endpoints := []string{"*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"}
		var explicit []string
		if l := rd.list(p, m, "endpoints"); l != nil {
			endpoints = nil
			for i, e := range l {
				s, ok := e.(string)
				if !ok || s == "" {
					c.fs.problem(rd.res, fmt.Sprintf("%s.endpoints[%d]", p, i), "is %s, not a host pattern", describe(e))
					continue
				}
				endpoints = append(endpoints, s)
			}
			explicit = endpoints
		}
		// The credentials' own endpoints too: they default to ACR's hosts,
		// and would leave any other host the entry names anonymous.
		az := &config.AzureCredentials{ClientID: rd.str(p, m, "clientID"), ManagedIdentity: name == "azureManagedIdentity", Endpoints: explicit}
		c.cfg.Registries = append([]config.Registry{{Hosts: endpoints, Credentials: config.Credentials{Azure: az}}}, c.cfg.Registries...)
		if name == "azureWorkloadIdentity" {
			c.fs.note(rd.res, p, "the tenant comes from AZURE_TENANT_ID, which AKS workload identity sets in hallmark's pod, as in Ratify's")
		}
	case "k8Secrets":
		c.k8Secrets(rd, p, m)
	case "dockerConfig":
		path := rd.str(p, m, "configPath")
		if path == "" {
			path = "/.docker/config.json"
		}
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, Credentials: config.Credentials{DockerConfigFile: path}})
		c.fs.note(rd.res, p+".configPath", "hallmark reads %s in its own pod: mount the docker config there", path)
	}
}

// k8Secrets maps the k8Secrets auth provider. Ratify tries each listed
// secret (a kubernetes.io/dockerconfigjson secret, in Ratify's namespace
// unless another is named), then the image pull secrets of a service
// account in Ratify's namespace (serviceAccountName, else "default"), and
// uses the first that has credentials for the registry. hallmark reads
// image pull secrets mounted as files, one per registries entry.
func (c *converter) k8Secrets(rd reader, p string, m map[string]any) {
	sa := rd.str(p, m, "serviceAccountName")
	secrets := rd.list(p, m, "secrets")
	if _, ok := m["secretTimeout"]; ok {
		c.fs.note(rd.res, p+".secretTimeout", "mounted secrets are reread as Kubernetes updates them")
	}
	saName := sa
	if saName == "" {
		saName = "default"
	}
	lookup := fmt.Sprintf("kubectl get serviceaccount %s -n %s -o jsonpath='{.imagePullSecrets[*].name}'", saName, c.opts.Namespace)
	switch {
	case sa != "":
		c.fs.problem(rd.res, p+".serviceAccountName", "Ratify also uses the image pull secrets of service account %s in namespace %s, which hallmark cannot read: list them (%s) in secrets[] and import again", strict.Clip(sa), c.opts.Namespace, lookup)
	case len(secrets) == 0:
		c.fs.problem(rd.res, p, "no secrets: Ratify then uses the image pull secrets of service account default in namespace %s, which hallmark cannot read: list them (%s) in secrets[] and import again", c.opts.Namespace, lookup)
	default:
		c.fs.note(rd.res, p, "for a registry these secrets have no credentials for, Ratify also tries the image pull secrets of service account default in namespace %s; if it has any (%s), add them to secrets[]", c.opts.Namespace, lookup)
	}
	if len(secrets) > 1 {
		c.fs.problem(rd.res, p+".secrets", "%d secrets: Ratify picks, per registry, the first secret with credentials for it; hallmark takes one secret for every registry (registries[] with hosts [\"*\"]), so only the first would be used; give each secret its own registries entry with the hosts it is for, or merge them into one secret", len(secrets))
	}
	for i, s := range secrets {
		sp := fmt.Sprintf("%s.secrets[%d]", p, i)
		sm := rd.object(sp, s, "secretName", "namespace")
		secret := rd.str(sp, sm, "secretName")
		if secret == "" {
			c.fs.problem(rd.res, sp+".secretName", "required")
			continue
		}
		if ns := rd.str(sp, sm, "namespace"); ns != "" && ns != c.opts.Namespace {
			c.fs.note(rd.res, sp+".namespace", "a pod mounts secrets of its own namespace only: copy secret %s from namespace %s into hallmark's", secret, strict.Clip(ns))
		}
		if i > 0 {
			continue
		}
		file := secretDir + "/" + secret + "/.dockerconfigjson"
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, Credentials: config.Credentials{DockerConfigJSONFile: file}})
		c.fs.note(rd.res, sp, "mount the secret %s into hallmark's pod at %s/%s (a volume from the secret)", secret, secretDir, secret)
	}
}

// The verifier kinds the import maps.
const (
	kindNone = iota
	kindNotation
	kindCosign
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

// provider maps a KeyManagementProvider or CertificateStore onto
// certificate sources.
func (c *converter) provider(r *Resource) []config.CertificateSource {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	if r.Kind == KindCertificateStore {
		spec := rd.object("spec", r.Spec, "provider", "parameters")
		switch prov := rd.str("spec", spec, "provider"); prov {
		case "inline":
			params := rd.object("spec.parameters", spec["parameters"], "value")
			return c.inline(rd, "spec.parameters.value", rd.str("spec.parameters", params, "value"))
		case "azurekeyvault":
			return c.certStoreAKV(rd, rd.object("spec.parameters", spec["parameters"], "vaultURI", "certificates", "tenantID", "clientID", "cloudName"))
		default:
			c.fs.problem(id, "spec.provider", "certificate store provider %q is not supported (hallmark supports inline and azurekeyvault)", strict.Clip(prov))
			return nil
		}
	}
	spec := rd.object("spec", r.Spec, "type", "refreshInterval", "parameters")
	c.refreshInterval(rd, spec)
	const p = "spec.parameters"
	switch typ := rd.str("spec", spec, "type"); typ {
	case "inline":
		params := rd.object(p, spec["parameters"], "contentType", "value")
		if ct := rd.str(p, params, "contentType"); ct != "certificate" {
			c.fs.problem(id, p+".contentType", "%q is not supported: notation verification uses certificates (keys are for a cosign Verifier's trustPolicies)", strict.Clip(ct))
			return nil
		}
		return c.inline(rd, p+".value", rd.str(p, params, "value"))
	case "azurekeyvault":
		params := rd.object(p, spec["parameters"], "vaultURI", "tenantID", "clientID", "resource", "certificates", "keys", "cloudName")
		vault := c.vault(rd, p, params)
		az := vaultIdentity(rd, p, params)
		// Its keys are for cosign: imported when a cosign Verifier names
		// the provider (cosignKeys).
		keys := rd.list(p, params, "keys")
		certs := rd.list(p, params, "certificates")
		if len(certs) == 0 && len(keys) > 0 {
			c.fs.problem(id, p+".certificates", "none, only keys: a notation Verifier trusts a provider's certificates, never its keys, so Ratify has no certificates from this provider and fails every signature that needs them; add the signing certificate (certificates: [{name: ...}]) or name another provider")
		}
		var out []config.CertificateSource
		for i, cert := range certs {
			cp := fmt.Sprintf("%s.certificates[%d]", p, i)
			cm := rd.object(cp, cert, "name", "version")
			if src, ok := c.akvCert(rd, cp, vault, az, rd.str(cp, cm, "name"), rd.str(cp, cm, "version")); ok {
				out = append(out, src)
			}
		}
		return out
	default:
		c.fs.problem(id, "spec.type", "key management provider %q is not supported (hallmark supports inline and azurekeyvault)", strict.Clip(typ))
		return nil
	}
}

// refreshInterval takes a provider's refreshInterval into account for
// trustStoreRefresh, the shortest of the providers used.
func (c *converter) refreshInterval(rd reader, spec map[string]any) {
	id := rd.res
	if ri := rd.str("spec", spec, "refreshInterval"); ri != "" {
		d, err := time.ParseDuration(ri)
		switch {
		case err != nil || d < 0:
			c.fs.problem(id, "spec.refreshInterval", "%q is not a duration such as 1m", strict.Clip(ri))
		case d == 0:
		case d < time.Second:
			c.fs.problem(id, "spec.refreshInterval", "%s is under hallmark's shortest refresh, 1s", d)
		default:
			if c.refresh == 0 || d < c.refresh {
				c.refresh = d
			}
		}
	}
}

// inline maps PEM certificates.
func (c *converter) inline(rd reader, p, value string) []config.CertificateSource {
	if strings.TrimSpace(value) == "" {
		c.fs.problem(rd.res, p, "required: the PEM certificates")
		return nil
	}
	return []config.CertificateSource{{PEM: value}}
}

// vault reads the vault parameters shared by both resources.
func (c *converter) vault(rd reader, p string, params map[string]any) string {
	uri := rd.str(p, params, "vaultURI")
	u, err := url.Parse(uri)
	if uri == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		c.fs.problem(rd.res, p+".vaultURI", "%q is not a vault URI such as https://NAME.vault.azure.net/", strict.Clip(uri))
		return ""
	}
	if cn := rd.str(p, params, "cloudName"); cn != "" && !strings.EqualFold(cn, "AzurePublicCloud") {
		c.fs.note(rd.res, p+".cloudName", "hallmark reaches the vault at vaultURI and authenticates at AZURE_AUTHORITY_HOST, as set for its pod")
	}
	if res := rd.str(p, params, "resource"); res != "" {
		c.fs.note(rd.res, p+".resource", "the vault's own authentication challenge names the resource")
	}
	return "https://" + u.Host
}

// vaultIdentity is the identity Ratify reads a vault's certificates with:
// workload identity with the resource's clientID and tenantID, each
// falling back to the pod's AZURE_CLIENT_ID and AZURE_TENANT_ID.
func vaultIdentity(rd reader, p string, params map[string]any) *config.AzureCredentials {
	return &config.AzureCredentials{ClientID: rd.str(p, params, "clientID"), TenantID: rd.str(p, params, "tenantID")}
}

// certStoreAKV maps a CertificateStore's Key Vault parameters, whose
// certificates are a YAML string: "array:\n- |\n  certificateName: X\n...".
func (c *converter) certStoreAKV(rd reader, params map[string]any) []config.CertificateSource {
	const p = "spec.parameters"
	vault := c.vault(rd, p, params)
	az := vaultIdentity(rd, p, params)
	if _, ok := params["tenantID"]; !ok {
		c.fs.problem(rd.res, p+".tenantID", "required: Ratify refuses a certificate store without it")
	}
	if _, ok := params["clientID"]; !ok {
		c.fs.problem(rd.res, p+".clientID", "required: Ratify refuses a certificate store without it")
	}
	text := rd.str(p, params, "certificates")
	var items []any
	if outer, ok := yamlText(text).(map[string]any); ok && len(outer) == 1 {
		items, _ = outer["array"].([]any)
	}
	if len(items) == 0 {
		c.fs.problem(rd.res, p+".certificates", "is not Ratify's certificate list (a string holding \"array:\" and one \"certificateName: NAME\" / \"certificateVersion: VERSION\" block per certificate)")
		return nil
	}
	var out []config.CertificateSource
	for i, item := range items {
		cp := fmt.Sprintf("%s.certificates.array[%d]", p, i)
		text, _ := item.(string)
		v, ok := yamlText(text).(map[string]any)
		if !ok {
			c.fs.problem(rd.res, cp, "is not \"certificateName: NAME\" and optional \"certificateVersion: VERSION\"")
			continue
		}
		before := len(c.fs.problems)
		kv := rd.object(cp, v, "certificateName", "certificateVersion")
		name, version := rd.str(cp, kv, "certificateName"), rd.str(cp, kv, "certificateVersion")
		if len(c.fs.problems) > before {
			continue
		}
		if src, ok := c.akvCert(rd, cp, vault, az, name, version); ok {
			out = append(out, src)
		}
	}
	c.fs.note(rd.res, "", "a CertificateStore is fetched once by Ratify; hallmark rereads the vault every trustStoreRefresh and keeps the last good certificates when it cannot")
	return out
}

// akvCert maps one Key Vault certificate onto a key source.
func (c *converter) akvCert(rd reader, p, vault string, az *config.AzureCredentials, name, version string) (config.CertificateSource, bool) {
	if name == "" {
		c.fs.problem(rd.res, p, "the certificate's name is required")
		return config.CertificateSource{}, false
	}
	if vault == "" {
		return config.CertificateSource{}, false
	}
	ref := vault + "/certificates/" + name
	if version != "" {
		ref += "/" + version
	}
	if _, _, err := kvurl.ParseURL(ref); err != nil {
		c.fs.problem(rd.res, p, "%v", err)
		return config.CertificateSource{}, false
	}
	if version == "" {
		// Ratify reads the name alone: the current version, and nothing
		// when that one is disabled.
		c.fs.note(rd.res, p, "certificate %s has no version: Ratify trusts its current version only, and so does hallmark (currentVersionOnly), reread every trustStoreRefresh so that a rotation replaces it", strict.Clip(name))
		return config.CertificateSource{Key: ref, Azure: az, CurrentVersionOnly: true}, true
	}
	return config.CertificateSource{Key: ref, Azure: az}, true
}

// policies maps the Policy resources. Ratify's config policy judges each
// artifact it has a verifier for: under "any" one of a type must verify,
// under "all" each one must, and at least one; which is, for Notary
// Project signatures, verification.requireAllSignatures.
func (c *converter) policies() {
	var ours *Resource
	for _, kind := range []string{KindPolicy, KindNamespacedPolicy} {
		for _, r := range c.byKind[kind] {
			if kind == KindNamespacedPolicy {
				c.fs.problem(r.label(), "", "%s", namespacedScope(r, "Policy"))
				continue
			}
			if r.Name != PolicyName {
				c.fs.note(r.label(), "metadata.name", "Ratify uses only the Policy named %s; this one is ignored, by hallmark too", PolicyName)
				continue
			}
			ours = r
		}
	}
	if ours == nil {
		if len(c.byKind[KindExecutor]) == 0 {
			// Ratify without a Policy verifies nothing ("Policy
			// configuration not found"); its Helm chart always installs
			// one, with artifactVerificationPolicies {default: all}.
			c.cfg.Verification.RequireAllSignatures = true
			c.fs.note("resources", "", "no Policy named %s: Ratify's Helm chart installs one with artifactVerificationPolicies {default: all}, under which every signature an image has must verify, so verification.requireAllSignatures is true; if your Ratify runs another Policy, import it too", PolicyName)
		}
		return
	}
	id := ours.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", ours.Spec, "type", "parameters")
	typ := rd.str("spec", spec, "type")
	if typ == "" && strings.HasSuffix(ours.APIVersion, VersionAlpha1) {
		typ = "config-policy"
	}
	switch typ {
	case "config-policy", "configpolicy":
	case "rego-policy", "regopolicy":
		c.fs.problem(id, "spec.type", "Rego policies are not supported: hallmark admits an image when a Notary Project signature verifies under the trust policy")
		return
	default:
		c.fs.problem(id, "spec.type", "policy type %q is not supported", strict.Clip(typ))
		return
	}
	const p = "spec.parameters"
	params := rd.object(p, spec["parameters"], "artifactVerificationPolicies", "passthroughEnabled")
	if rd.boolean(p, params, "passthroughEnabled") {
		c.fs.problem(id, p+".passthroughEnabled", "passthrough (Gatekeeper decides from the reports) is not supported: hallmark decides")
	}
	avp := rd.object(p+".artifactVerificationPolicies", params["artifactVerificationPolicies"], "*")
	// named are the types the policy names: Ratify needs a verified
	// artifact of each, present or not.
	var named []string
	defer func() {
		if !c.cfg.CosignConfigured() || len(c.cfg.TrustPolicy.Inline) == 0 {
			return
		}
		switch len(named) {
		case 2:
			c.cfg.SignatureKinds.Default = config.KindAll
			c.fs.note(id, p+".artifactVerificationPolicies", "names both signature types, so Ratify needs both: signatureKinds.default is all")
		case 1:
			c.fs.problem(id, p+".artifactVerificationPolicies."+named[0], "Ratify needs a verified artifact of this type and judges the other signature type only when an image carries it; hallmark cannot say \"this kind, and the other if present\": name both types (signatureKinds all) or neither (any)")
		}
	}()
	for _, t := range sortedKeys(avp) {
		tp := p + ".artifactVerificationPolicies." + t
		v, _ := avp[t].(string)
		if v != "any" && v != "all" {
			c.fs.problem(id, tp, "is %s, not any or all", describe(avp[t]))
			continue
		}
		cosignType := t == CosignArtifactType && c.cfg.CosignConfigured()
		if t != "default" && t != NotationArtifactType && !cosignType {
			c.fs.problem(id, tp, "requires artifacts of type %s to verify, which hallmark does not verify yet", strict.Clip(t))
			continue
		}
		if t != "default" {
			named = append(named, t)
		}
		if v == "all" && t == CosignArtifactType {
			c.fs.note(id, tp, "Ratify judges an image's cosign signatures as one artifact (its .sig tag), so all and any are the same for them")
		}
	}
	// What Notary Project signatures need: their own entry, else default,
	// else Ratify's built-in default, all.
	notation, _ := avp[NotationArtifactType].(string)
	if notation == "" {
		notation, _ = avp["default"].(string)
	}
	if notation == "" {
		notation = "all"
		c.fs.note(id, p+".artifactVerificationPolicies", "names neither %s nor default: Ratify then requires all, as does hallmark (verification.requireAllSignatures)", NotationArtifactType)
	}
	c.cfg.Verification.RequireAllSignatures = notation == "all"
}

// executor maps a Ratify v2 Executor.
func (c *converter) executor(r *Resource) {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", r.Spec, "scopes", "concurrency", "stores", "verifiers", "policyEnforcer")
	var scopes []string
	for i, s := range rd.list("spec", spec, "scopes") {
		str, ok := s.(string)
		if !ok || str == "" {
			c.fs.problem(id, fmt.Sprintf("spec.scopes[%d]", i), "is %s, not a registry scope", describe(s))
			continue
		}
		scopes = append(scopes, str)
	}
	if len(scopes) == 0 {
		c.fs.problem(id, "spec.scopes", "required: the registry scopes the executor verifies")
	}
	if _, ok := spec["concurrency"]; ok {
		c.fs.note(id, "spec.concurrency", "hallmark bounds its own concurrency")
	}
	for i, s := range rd.list("spec", spec, "stores") {
		sp := fmt.Sprintf("spec.stores[%d]", i)
		sm := rd.object(sp, s, "type", "parameters")
		if t := rd.str(sp, sm, "type"); t != "registry-store" {
			c.fs.problem(id, sp+".type", "store %q is not supported", strict.Clip(t))
			continue
		}
		params := rd.object(sp+".parameters", sm["parameters"], "credential", "plainHttp", "caPem", "caBase64", "allowCosignTag", "userAgent", "maxBlobBytes", "maxManifestBytes")
		if rd.boolean(sp+".parameters", params, "plainHttp") {
			c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, PlainHTTP: true})
		}
		for _, k := range []string{"caPem", "caBase64"} {
			if rd.str(sp+".parameters", params, k) != "" {
				c.fs.problem(id, sp+".parameters."+k, "registry CAs inline are not imported: put them in a file and set registries[].caFile")
			}
		}
		for _, k := range []string{"allowCosignTag", "userAgent", "maxBlobBytes", "maxManifestBytes"} {
			if _, ok := params[k]; ok {
				c.fs.note(id, sp+".parameters."+k, "hallmark has its own setting or bound for this")
			}
		}
		if cred := params["credential"]; cred != nil {
			cp := sp + ".parameters.credential"
			cm := rd.object(cp, cred, "provider", "username", "password", "clientID", "tenantID", "identityBinding")
			switch prov := rd.str(cp, cm, "provider"); prov {
			case "azure":
				c.cfg.Registries = append([]config.Registry{{Hosts: []string{"*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"}, Credentials: config.Credentials{Azure: &config.AzureCredentials{ClientID: rd.str(cp, cm, "clientID"), TenantID: rd.str(cp, cm, "tenantID")}}}}, c.cfg.Registries...)
				if cm["identityBinding"] != nil {
					c.fs.problem(id, cp+".identityBinding", "AKS identity bindings are not supported yet; use workload identity")
				}
			default:
				c.fs.problem(id, cp+".provider", "credential provider %q is not imported: static passwords do not belong in a resource; use registries[].credentials with a secret file", strict.Clip(prov))
			}
		}
	}
	notation := 0
	var stores []config.TrustStore
	var identities []any
	for i, v := range rd.list("spec", spec, "verifiers") {
		vp := fmt.Sprintf("spec.verifiers[%d]", i)
		vm := rd.object(vp, v, "name", "type", "parameters")
		if t := rd.str(vp, vm, "type"); t != "notation" {
			c.fs.problem(id, vp+".type", "%s verifiers are not supported yet", strict.Clip(t))
			continue
		}
		notation++
		pp := vp + ".parameters"
		params := rd.object(pp, vm["parameters"], "scopes", "trustedIdentities", "certificates")
		if rd.list(pp, params, "scopes") != nil {
			c.fs.problem(id, pp+".scopes", "per-verifier scopes are not imported; the executor's scopes apply")
		}
		identities = append(identities, rd.list(pp, params, "trustedIdentities")...)
		for j, cert := range rd.list(pp, params, "certificates") {
			cp := fmt.Sprintf("%s.certificates[%d]", pp, j)
			cm := rd.object(cp, cert, "type", "inline", "files", "azurekeyvault")
			typ := rd.str(cp, cm, "type")
			if typ == "" {
				typ = "ca"
			}
			ts := config.TrustStore{Name: fmt.Sprintf("executor-%d-%d", i, j), Type: typ}
			if s := rd.str(cp, cm, "inline"); s != "" {
				ts.Certificates = append(ts.Certificates, config.CertificateSource{PEM: s})
			}
			for k, f := range rd.list(cp, cm, "files") {
				s, _ := f.(string)
				if s == "" {
					c.fs.problem(id, fmt.Sprintf("%s.files[%d]", cp, k), "is not a file path")
					continue
				}
				ts.Certificates = append(ts.Certificates, config.CertificateSource{File: s})
			}
			if kv := cm["azurekeyvault"]; kv != nil {
				kp := cp + ".azurekeyvault"
				km := rd.object(kp, kv, "vaultURL", "clientID", "tenantID", "certificates", "keys")
				km["vaultURI"] = km["vaultURL"]
				vault := c.vault(rd, kp, km)
				az := vaultIdentity(rd, kp, km)
				if rd.list(kp, km, "keys") != nil {
					c.fs.problem(id, kp+".keys", "Key Vault keys are for cosign verification, which is not imported from an Executor yet")
				}
				for k, name := range rd.list(kp, km, "certificates") {
					np := fmt.Sprintf("%s.certificates[%d]", kp, k)
					nm := rd.object(np, name, "name", "version")
					if src, ok := c.akvCert(rd, np, vault, az, rd.str(np, nm, "name"), rd.str(np, nm, "version")); ok {
						ts.Certificates = append(ts.Certificates, src)
					}
				}
			}
			if len(ts.Certificates) > 0 {
				stores = append(stores, ts)
			}
		}
	}
	if pe := spec["policyEnforcer"]; pe != nil {
		pm := rd.object("spec.policyEnforcer", pe, "type", "parameters")
		c.fs.problem(id, "spec.policyEnforcer", "policy enforcers (%s) are not imported: hallmark admits an image when a Notary Project signature verifies", strict.Clip(rd.str("spec.policyEnforcer", pm, "type")))
	}
	if notation != 1 {
		c.fs.problem(id, "spec.verifiers", "%d notation verifiers: hallmark imports exactly one", notation)
		return
	}
	var names []any
	for _, ts := range stores {
		names = append(names, ts.Type+":"+ts.Name)
	}
	if len(identities) == 0 {
		c.fs.problem(id, "spec.verifiers", "no trustedIdentities: give the signers to trust")
	}
	c.cfg.TrustStores = append(c.cfg.TrustStores, stores...)
	doc := map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "executor-" + r.Name,
			"registryScopes":        toAny(scopes),
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           names,
			"trustedIdentities":     identities,
		}},
	}
	raw, _ := json.Marshal(doc)
	c.cfg.TrustPolicy.Inline = raw
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// YAML renders the configuration, fields in hallmark's order.
func (r *Result) YAML() ([]byte, error) {
	if r.Config == nil {
		return nil, fmt.Errorf("ratify: no configuration")
	}
	js, err := json.Marshal(r.Config)
	if err != nil {
		return nil, fmt.Errorf("ratify: render the configuration: %w", err)
	}
	// JSON is YAML; a MapSlice keeps the field order.
	var doc yaml.MapSlice
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("ratify: render the configuration: %w", err)
	}
	out, err := yaml.Marshal(prune(doc))
	if err != nil {
		return nil, fmt.Errorf("ratify: render the configuration: %w", err)
	}
	return out, nil
}

// prune drops the fields the configuration leaves at their zero value
// (null, "0s", empty objects), which JSON renders but a person would not
// write.
func prune(m yaml.MapSlice) yaml.MapSlice {
	out := m[:0]
	for _, item := range m {
		if item.Key == "inline" {
			// The trust policy is Ratify's, verbatim.
			out = append(out, item)
			continue
		}
		switch v := item.Value.(type) {
		case nil:
			continue
		case string:
			if v == "0s" {
				continue
			}
		case yaml.MapSlice:
			v = prune(v)
			if len(v) == 0 {
				continue
			}
			item.Value = v
		case []any:
			for i, e := range v {
				if ms, ok := e.(yaml.MapSlice); ok {
					v[i] = prune(ms)
				}
			}
		}
		out = append(out, item)
	}
	return out
}

// namespacedScope says why a namespaced Store, Verifier or Policy
// cannot be imported, even in the namespace Ratify runs in: Ratify uses it
// only for a Gatekeeper key that names its namespace ("[NS]IMAGE", sent by
// a constraint template that passes the pod's namespace), and then instead
// of the cluster-wide resources; a key without a namespace, as Ratify's
// default template sends, never uses it. So it is cluster-wide in no
// setup, and hallmark has one configuration for every namespace.
func namespacedScope(r *Resource, clusterWide string) string {
	return fmt.Sprintf("%s is not supported: Ratify uses it only for Gatekeeper keys written [%s]IMAGE (a constraint template that passes the pod's namespace), in place of the cluster's %s, and never for keys without a namespace (Ratify's default template); hallmark has one configuration for every namespace and cannot scope it. With a template that sends no namespace, Ratify never uses this resource: leave it out of the import; otherwise make it a cluster-wide %s if it should apply everywhere",
		r.Kind, strict.Clip(r.Namespace), clusterWide, strings.TrimPrefix(r.Kind, "Namespaced"))
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
