package ratify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/hallmark-dev/hallmark/internal/config"
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

// The verifier kinds the import maps.
const (
	kindNone = iota
	kindNotation
	kindCosign
)

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
