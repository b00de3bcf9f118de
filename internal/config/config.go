// Package config is the configuration of `hallmark serve`: one struct tree
// that the command-line flags and the YAML file both fill.
//
// The life of a configuration: Load (or Parse) reads YAML, reporting unknown
// fields and wrong types with their field paths; ApplyDefaults fills every
// zero field that has a default, in one place; Validate checks the result
// without touching the file system and returns every problem at once.
// Config is data: reading the files it names and building trust stores,
// registry clients and verifiers from it is internal/serve's work
// (serve.Prepare), so that parsing a configuration links no key provider,
// registry client or verifier.
//
// Every field's zero value is documented on the field. Relative paths in a
// file loaded with Load are relative to that file's folder.
//
// Configuration generations (which make a reload never serve a verdict made
// under the old configuration) are counted by internal/serve, not here.
package config

import (
	_ "embed"
	"encoding/json"
	"github.com/hallmark-dev/hallmark/internal/strict"
	"time"
)

// Defaults applied by ApplyDefaults.
const (
	// DefaultListen is the listener address: 8443 is the port Kubernetes
	// webhook examples and Gatekeeper providers use for an unprivileged pod.
	DefaultListen = ":8443"
	// DefaultMode is deny: fail closed unless told otherwise.
	DefaultMode = ModeDeny
	// DefaultDeadline is the verification budget of one admission request.
	// Gatekeeper calls an external data provider with a 3 s timeout, the
	// tightest a hallmark answer must meet; 0.5 s is left for the request
	// and response to travel and be encoded. A Kubernetes webhook with a
	// longer timeoutSeconds can take a longer deadline.
	DefaultDeadline = 2500 * time.Millisecond
	// DefaultTrustStoreRefresh is how often trust stores are rebuilt to pick
	// up rotated certificates: rotation is rare, and a rebuild reads every
	// certificate source.
	DefaultTrustStoreRefresh = time.Minute
)

// DefaultExcludeNamespaces are the namespaces not verified when
// admission.excludeNamespaces is unset: the cluster's own components must
// keep starting even when hallmark or a registry is down.
var DefaultExcludeNamespaces = []string{"kube-system"}

// Limits Validate enforces.
const (
	// MaxDeadline caps verification.deadline: the API server waits at most
	// 30 s for a webhook, so a longer deadline could never be met.
	MaxDeadline = 30 * time.Second
	// MaxPositiveTTL caps verification.cache.positiveTTL. A certificate
	// revoked, or a signature deleted, after an image was verified takes
	// effect only when its cached verdict expires; an hour bounds that.
	MaxPositiveTTL = time.Hour
	// MaxCacheEntries caps verification.cache.maxEntries. An entry takes
	// about 1.6 KiB; a million of them is past any sensible pod memory
	// limit, so a larger number is a typo.
	MaxCacheEntries = 1_000_000
)

// Mode is what happens to an image that does not verify. The runtime
// (serve.AdmissionPolicy) hands it to admission as admission.Mode; a test
// there keeps the two sets of modes equal.
type Mode string

const (
	// ModeDeny rejects the workload (fail closed).
	ModeDeny Mode = "deny"
	// ModeAudit admits it with a warning and an audit annotation.
	ModeAudit Mode = "audit"
)

// Defaults of the verifier and the result cache, which the configuration
// spells out so that loading one links neither; serve's tests keep each
// equal to the verify or cache constant it names.
const (
	// DefaultMaxSignatures is verify.DefaultMaxSignatures.
	DefaultMaxSignatures = 100
	// MaxSignaturesLimit is verify.MaxSignaturesLimit.
	MaxSignaturesLimit = 1000
	// DefaultPositiveTTL is cache.DefaultPositiveTTL.
	DefaultPositiveTTL = 5 * time.Minute
	// DefaultNegativeTTL is cache.DefaultNegativeTTL.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultMaxEntries is cache.DefaultMaxEntries.
	DefaultMaxEntries = 10000
)

// Trust store types, as in the Notary Project trust store layout.
const (
	StoreTypeCA               = "ca"
	StoreTypeSigningAuthority = "signingAuthority"
	StoreTypeTSA              = "tsa"
)

// Config is the whole configuration of `hallmark serve`.
type Config struct {
	// Listen is the HTTPS listener's address, HOST:PORT. Zero: ":8443".
	Listen string `json:"listen,omitempty"`
	// TLS is the listener's certificate. Required: the API server and
	// Gatekeeper call webhooks over HTTPS only.
	TLS TLS `json:"tls"`
	// Mode is the admission mode: deny or audit. Zero: deny.
	Mode Mode `json:"mode,omitempty"`
	// Admission says which workloads and images are verified.
	Admission Admission `json:"admission"`
	// Verification tunes verification: deadline, signatures, cache.
	Verification Verification `json:"verification"`
	// Registries configures registry access per host. For each registry
	// host, the first entry with a matching host pattern decides
	// everything: credentials, plain HTTP and TLS. Zero: every registry is
	// reached over HTTPS with the system roots, and credentials come from
	// the docker config, as with `hallmark verify`.
	Registries []Registry `json:"registries,omitempty"`
	// AllowedRegistries, if set, are the only registries the server
	// contacts: host patterns as in Registry.Hosts ("ghcr.io",
	// "*.azurecr.io", "registry.example.com:5000"). An image from any other
	// registry is denied, saying so, without a request. Zero: any registry
	// (never a link-local or cloud metadata address, which are refused
	// whatever this says).
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`
	// TrustStores are named trust stores built from certificates. Zero:
	// none (trustStoreDir may still provide stores).
	TrustStores []TrustStore `json:"trustStores,omitempty"`
	// TrustStoreRefresh is how often the server rebuilds its trust stores
	// from their sources (files, folders, key stores) and, when the
	// certificates changed (a key rotated, a certificate added), reloads
	// under a new generation without a restart. Zero: 1m. At least 1s.
	TrustStoreRefresh Duration `json:"trustStoreRefresh,omitzero"`
	// TrustStoreDir is a trust store folder in notation's layout,
	// x509/{ca,signingAuthority,tsa}/NAME/, as `hallmark verify
	// --trust-store` takes. Its stores are merged with TrustStores.
	// Symlinks are followed only while they stay inside the folder, as in a
	// Kubernetes ConfigMap or Secret volume; one that leads out is refused.
	// Zero: none.
	TrustStoreDir string `json:"trustStoreDir,omitempty"`
	// KeyStore is hallmark's local key store, for certificates named by key
	// in TrustStores. Zero: none; key certificates are then an error.
	KeyStore KeyStore `json:"keyStore"`
	// TrustPolicy is the Notary Project trust policy. Required.
	TrustPolicy TrustPolicy `json:"trustPolicy"`
	// Cosign configures verification of cosign signatures. Zero: none.
	Cosign Cosign `json:"cosign,omitzero"`
	// SignatureKinds says which signature kinds (Notary Project, cosign,
	// either, both) the images of each registry scope must carry. Zero:
	// Notary Project signatures, or either kind when cosign is configured.
	SignatureKinds SignatureKinds `json:"signatureKinds,omitzero"`
}

// TLS is the listener's TLS configuration. The server enforces TLS 1.2 or
// later and reloads the files when they change.
type TLS struct {
	// CertFile is the PEM certificate chain. Required.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is the PEM private key. Required.
	KeyFile string `json:"keyFile,omitempty"`
	// ClientCAFile, if set, makes the server require client certificates
	// issued by these PEM CAs (mutual TLS, e.g. for Gatekeeper). Zero: no
	// client certificate is asked for.
	ClientCAFile string `json:"clientCAFile,omitempty"`
}

// Admission says which workloads and images admission verifies.
type Admission struct {
	// ExcludeNamespaces are namespaces whose workloads are not verified.
	// Zero (unset or null): [kube-system]. An explicit empty list []
	// excludes nothing.
	ExcludeNamespaces []string `json:"excludeNamespaces"`
	// IncludeNamespaces, if not empty, limits verification to these
	// namespaces. Zero: every namespace not excluded.
	IncludeNamespaces []string `json:"includeNamespaces,omitempty"`
	// NamespaceModes overrides Mode per namespace, e.g. {staging: audit}.
	// Zero: Mode everywhere.
	NamespaceModes map[string]Mode `json:"namespaceModes,omitempty"`
	// ExemptImages are image reference patterns admitted without
	// verification, matched against the reference as the object writes it
	// (see admission.MatchImage): path.Match globs where * does not cross
	// a "/", plus a final "/**" for everything below a prefix, e.g.
	// "registry.k8s.io/pause:*" or "registry.k8s.io/**". Zero: none.
	ExemptImages []string `json:"exemptImages,omitempty"`
	// PinDigestOnly makes mutation rewrite a tag reference to REPO@DIGEST
	// instead of REPO:TAG@DIGEST. Zero: the tag is kept for people to read.
	PinDigestOnly bool `json:"pinDigestOnly,omitempty"`
	// Mutate makes the mutation endpoints pin each verified tag to its
	// digest, so that the kubelet runs what was verified. Zero (unset):
	// true. false makes them answer without a patch.
	Mutate *bool `json:"mutate,omitempty"`
	// TrustNamespacePrefixFromAnyCaller makes the Gatekeeper provider
	// honour a key's "[namespace]" prefix (which selects the namespace's
	// exclusions) from any caller. Zero: false, the prefix is honoured only
	// from a caller authenticated by its client certificate (tls.clientCAFile,
	// Gatekeeper under mutual TLS); from anyone else it stays part of the
	// image reference, which then fails. Set it only when nothing but
	// Gatekeeper can reach the provider endpoints: a pod author can write a
	// prefix into an image field.
	TrustNamespacePrefixFromAnyCaller bool `json:"trustNamespacePrefixFromAnyCaller,omitempty"`
	// RequireDigest makes deny mode refuse an image named by a tag without
	// a digest, even when the tag verifies: the kubelet resolves the tag
	// again when it pulls, and may get content that was never verified.
	// Mutation (the mutating webhook, or Gatekeeper's mutation) pins every
	// verified tag to its digest first, so with it the default costs
	// nothing. Zero (unset): true. false admits verified tags as they are,
	// accepting that risk (docs/verification.md).
	RequireDigest *bool `json:"requireDigest,omitempty"`
}

// Verification tunes image verification.
type Verification struct {
	// Deadline is the verification budget of one admission request; an
	// image not verified by then fails with a reason that says so. Zero:
	// 2.5s (see DefaultDeadline). At most 30s.
	Deadline Duration `json:"deadline,omitempty"`
	// MaxSignatures is how many signatures of one image are tried. Zero:
	// verify.DefaultMaxSignatures (100). At most verify.MaxSignaturesLimit.
	MaxSignatures int `json:"maxSignatures,omitempty"`
	// RequireAllSignatures admits an image only when every Notary Project
	// signature it has verifies (and it has one), as Ratify's config policy
	// "all" does: one signature from an untrusted or revoked key then denies
	// the image, and so do more signatures than MaxSignatures. Zero: false,
	// one signature that verifies is enough.
	RequireAllSignatures bool `json:"requireAllSignatures,omitempty"`
	// Cache is the verification result cache.
	Cache Cache `json:"cache"`
}

// Cache configures the verification result cache (package cache).
type Cache struct {
	// PositiveTTL is how long a verified result is reused. Zero: 5m. At
	// most 1h (see MaxPositiveTTL).
	PositiveTTL Duration `json:"positiveTTL,omitempty"`
	// NegativeTTL is how long a definitive failure is reused; transient
	// failures are never reused. Zero: 30s. At most PositiveTTL.
	NegativeTTL Duration `json:"negativeTTL,omitempty"`
	// MaxEntries bounds the results kept. Zero: 10000.
	MaxEntries int `json:"maxEntries,omitempty"`
}

// Registry configures access to the registry hosts its patterns match.
type Registry struct {
	// Hosts are host patterns, HOST or HOST:PORT, as path.Match globs:
	// "*.azurecr.io", "127.0.0.1:*", "registry.example.com". Matching is
	// case-insensitive. Required. Note that a registry's token service may
	// live on another host, which then needs its own pattern for caFile or
	// insecureSkipTLSVerify to apply to it.
	Hosts []string `json:"hosts"`
	// PlainHTTP reaches these hosts over HTTP instead of HTTPS: for local
	// test registries only. Zero: HTTPS.
	PlainHTTP bool `json:"plainHTTP,omitempty"`
	// InsecureSkipTLSVerify turns off certificate verification for these
	// hosts only: anyone on the network path can then impersonate them
	// and receive their credentials. For testing only. Zero: certificates
	// are verified.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
	// CAFile is a PEM file of CAs trusted for these hosts, in addition to
	// the system roots. Zero: the system roots only.
	CAFile string `json:"caFile,omitempty"`
	// Credentials for these hosts. Zero: the docker config, as with
	// `hallmark verify` ($DOCKER_CONFIG/config.json, else
	// ~/.docker/config.json; absent in most pods, which means anonymous).
	Credentials Credentials `json:"credentials,omitzero"`
}

// Credentials names one source of registry credentials. Set at most one of:
// DockerConfigFile; DockerConfigJSONFile; Username with PasswordFromEnv or
// PasswordFile; TokenFromEnv or TokenFile; Azure. Secrets are read when the
// registry options are built, never logged, and a single trailing newline
// in a file is ignored.
type Credentials struct {
	// DockerConfigFile is a docker config.json, with its credential helpers.
	DockerConfigFile string `json:"dockerConfigFile,omitempty"`
	// DockerConfigJSONFile is the .dockerconfigjson of a Kubernetes secret
	// of type kubernetes.io/dockerconfigjson (an image pull secret),
	// mounted as a file. It is read once; credential helpers are not run.
	DockerConfigJSONFile string `json:"dockerConfigJSONFile,omitempty"`
	// Username is the user name for a password.
	Username string `json:"username,omitempty"`
	// PasswordFromEnv is the environment variable holding the password.
	PasswordFromEnv string `json:"passwordFromEnv,omitempty"`
	// PasswordFile is the file holding the password.
	PasswordFile string `json:"passwordFile,omitempty"`
	// TokenFromEnv is the environment variable holding an identity
	// (refresh) token, as docker's identitytoken: it is exchanged at the
	// registry's token service for access tokens.
	TokenFromEnv string `json:"tokenFromEnv,omitempty"`
	// TokenFile is the file holding an identity (refresh) token.
	TokenFile string `json:"tokenFile,omitempty"`
	// Azure reads Azure Container Registry with an Azure identity instead
	// of stored credentials. Nil: not used.
	Azure *AzureCredentials `json:"azure,omitempty"`
}

// AzureCredentials gets Azure Container Registry credentials from an Azure
// identity: an Entra ID token for the registry scope, exchanged at the
// registry (POST /oauth2/exchange) for a refresh token that is cached and
// renewed in the background before it expires.
type AzureCredentials struct {
	// ClientID is the identity's client (application) ID. Zero: the
	// AZURE_CLIENT_ID environment variable (set by AKS workload identity),
	// or for a managed identity, the system-assigned one.
	ClientID string `json:"clientID,omitempty"`
	// TenantID is the identity's Entra tenant. Zero: AZURE_TENANT_ID.
	TenantID string `json:"tenantID,omitempty"`
	// ManagedIdentity uses the node's or pod's managed identity (IMDS)
	// instead of workload identity. Zero: workload identity, from the
	// AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID and
	// AZURE_AUTHORITY_HOST that AKS injects into the pod.
	ManagedIdentity bool `json:"managedIdentity,omitempty"`
	// Endpoints are host patterns (path.Match) that get these
	// credentials; a host the registries entry matches but no endpoint
	// does is read anonymously. Zero: *.azurecr.io, *.azurecr.us,
	// *.azurecr.cn.
	Endpoints []string `json:"endpoints,omitempty"`
}

// TrustStore is one named Notary Project trust store. Trust policy
// statements refer to it as TYPE:NAME, e.g. "ca:prod".
type TrustStore struct {
	// Name is the store's name: letters, digits, '_', '.' and '-'. Required.
	Name string `json:"name"`
	// Type is ca, signingAuthority or tsa. Required.
	Type string `json:"type"`
	// Certificates are the store's certificates. Required.
	Certificates []CertificateSource `json:"certificates"`
}

// CertificateSource names certificates for a trust store. Set exactly one
// field. Every certificate must be a CA certificate or self-signed, as the
// Notary Project requires; a tsa store takes self-signed roots only.
type CertificateSource struct {
	// File is a PEM or DER file of one or more certificates.
	File string `json:"file,omitempty"`
	// Dir is a folder whose files each hold certificates (PEM or DER).
	// Sub-folders, and names starting with "." (such as the ..data links
	// of a Kubernetes volume), are skipped.
	Dir string `json:"dir,omitempty"`
	// PEM is certificates written inline in PEM.
	PEM string `json:"pem,omitempty"`
	// Key names a key in the key store (keyStore.dir): "NAME" for its
	// newest version, "NAME/VERSION", or "NAME/*" for every version. The
	// certificate trusted is the one that issued the key's certificate, or
	// the key's own when it is self-signed; for a tsa store, the root of
	// its chain. Trusting an issuing CA trusts every key it issued: pin
	// the signer with the trust policy's trustedIdentities.
	Key string `json:"key,omitempty"`
	// Azure is the Azure identity a Key Vault key (an https:// vault
	// URL) is read with, as for registries[].credentials.azure: workload
	// identity with this client and tenant ID, or a managed identity
	// (endpoints do not apply). Only with a Key Vault key. Nil: the
	// default Azure credential chain (environment, workload identity,
	// managed identity, Azure CLI), as the CLI reads vaults.
	Azure *AzureCredentials `json:"azure,omitempty"`
	// CurrentVersionOnly trusts only the current version of a Key Vault
	// certificate named without a version (what the vault returns for the
	// name alone, its newest), read again at every trustStoreRefresh, so
	// that a rotation replaces the old version instead of adding to it; a
	// current version disabled in the vault trusts nothing. This is how
	// Ratify reads a certificate without a version. Only with a Key Vault
	// key without a version. Zero: every version of the certificate.
	CurrentVersionOnly bool `json:"currentVersionOnly,omitempty"`
}

// KeyStore is hallmark's local key store. The server only reads
// certificates from it, which needs no passphrase, so none is configured:
// a verifying server should not hold the key to the signing keys.
type KeyStore struct {
	// Dir is the key store folder (as `hallmark --store`). Zero: none.
	Dir string `json:"dir,omitempty"`
}

// TrustPolicy is the Notary Project trust policy (trustpolicy.json, version
// 1.0). Set exactly one field.
type TrustPolicy struct {
	// File is a trustpolicy.json file.
	File string `json:"file,omitempty"`
	// Inline is the trust policy document itself, written as YAML (or
	// JSON) under this key. Config holds it as JSON.
	Inline json.RawMessage `json:"inline,omitempty"`
}

// Duration is a time.Duration written as a Go duration string, "2.5s".
type Duration struct {
	time.Duration
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string such as "2s". null leaves the
// duration unset, as the configuration's YAML reader does.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// UnmarshalNode reads a duration string such as "2s" from the
// configuration's YAML.
func (d *Duration) UnmarshalNode(n *strict.Node) error {
	if n.Kind != strict.String {
		return strict.WrongType(n, `a duration such as "2s"`)
	}
	v, err := parseDuration(n.Str)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Default returns a configuration with every default applied. It is not
// valid on its own: TLS files and a trust policy are required.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every zero field that has a default. It is the one
// place defaults live; it never overwrites a set field.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.Admission.ExcludeNamespaces == nil {
		c.Admission.ExcludeNamespaces = append([]string(nil), DefaultExcludeNamespaces...)
	}
	if c.Admission.Mutate == nil {
		mutate := true
		c.Admission.Mutate = &mutate
	}
	if c.TrustStoreRefresh.Duration == 0 {
		c.TrustStoreRefresh.Duration = DefaultTrustStoreRefresh
	}
	v := &c.Verification
	if v.Deadline.Duration == 0 {
		v.Deadline.Duration = DefaultDeadline
	}
	if v.MaxSignatures == 0 {
		v.MaxSignatures = DefaultMaxSignatures
	}
	if v.Cache.PositiveTTL.Duration == 0 {
		v.Cache.PositiveTTL.Duration = DefaultPositiveTTL
	}
	if v.Cache.NegativeTTL.Duration == 0 {
		v.Cache.NegativeTTL.Duration = DefaultNegativeTTL
	}
	if v.Cache.MaxEntries == 0 {
		v.Cache.MaxEntries = DefaultMaxEntries
	}
}

//go:embed testdata/example.yaml
var example []byte

// Example returns the documented example configuration, the one
// `hallmark config example` prints and the docs show. It parses and
// validates.
func Example() []byte {
	return append([]byte(nil), example...)
}
