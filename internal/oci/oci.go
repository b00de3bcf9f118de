// Package oci is hallmark's one registry client, built on oras-go v2. It
// resolves tags to digests, lists Notary Project signatures as referrers
// (through the OCI referrers API, or the referrers tag schema where the
// registry lacks it), fetches signature manifests and envelopes under size
// caps, hands notation-go a repository to sign into and verify from, and
// logs in and out of registries through the docker config.
//
// One Client serves every registry: it keeps one HTTP transport so that
// connections are reused, and one token cache so that a bearer token fetched
// for a repository is reused until it expires. What it learns of a registry
// (whether it has the referrers API, its token challenge) is learned once per
// registry, not per repository or image. Errors are sorted onto the
// sentinels in errors.go, so callers can tell a missing signature from a
// registry that is down (IsTransient).
package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/hallmark-dev/hallmark/internal/registryname"
)

// maxIdleConnsPerHost raises Go's default of 2 idle connections per host:
// admission verifies many images from the same few registries at once, and
// with 2 most requests would pay for a new TLS handshake.
const maxIdleConnsPerHost = 32

// responseHeaderTimeout bounds how long a registry may take to start
// answering once a request is sent, so a hung registry cannot stall a caller
// that has no deadline of its own (the CLI). Callers with a deadline (the
// admission server) are bounded by their context first.
const responseHeaderTimeout = 60 * time.Second

// defaultMaxRetries is how many times a request that failed transiently
// (5xx, 429, 408, a dial timeout) is retried, with backoff, when
// Options.MaxRetries is zero. Two retries ride out a registry blip without
// eating much of an admission deadline; the context bounds them anyway.
const defaultMaxRetries = 2

// defaultUserAgent is sent when Options.UserAgent is empty.
const defaultUserAgent = "hallmark"

// Options configures a Client. The zero value talks HTTPS with the system
// roots to any registry (never to a link-local or cloud metadata address),
// reads credentials from the docker config, and retries transient failures
// twice.
type Options struct {
	// PlainHTTP makes every registry be reached over plain HTTP instead of
	// HTTPS. For the dev registry and local test registries only.
	PlainHTTP bool

	// Hosts are per-registry settings (plain HTTP, CAs, skipped TLS
	// verification, credentials); the first entry with a pattern matching
	// a registry's canonical host decides for it. Registries no entry
	// matches use the settings below.
	Hosts []HostSettings

	// AllowedRegistries, if not empty, are path.Match patterns on canonical
	// hosts (see HostSettings.Patterns): the client then contacts no
	// registry that none matches, and fails with ErrNotAllowed instead.
	// Empty: any registry.
	AllowedRegistries []string

	// InsecureSkipTLSVerify turns off verification of registry
	// certificates for hosts no Hosts entry matches: anyone on the network
	// path can then impersonate the registry. For testing only. Must be
	// false when HTTPClient is set.
	InsecureSkipTLSVerify bool

	// RootCAs are the CAs trusted for registry certificates of hosts no
	// Hosts entry with its own RootCAs matches. If nil, the system roots
	// are used. Must be nil when HTTPClient is set.
	RootCAs *x509.CertPool

	// ForceReferrersTag makes signatures pushed through this client also be
	// indexed in the referrers tag schema (an image index tagged
	// sha256-<hex of the subject digest>), even when the registry supports
	// the referrers API. This is what notation CLI v1.x does by default, and
	// keeps signatures visible to clients that only read the tag schema.
	// It affects writes only: listing always tries the referrers API first.
	ForceReferrersTag bool

	// CredentialsStore supplies registry credentials and receives them on
	// Login. If nil, the docker config at ConfigPath is used, with its
	// credential helpers.
	CredentialsStore credentials.Store

	// ConfigPath is the docker config file used when CredentialsStore is
	// nil. If empty, $DOCKER_CONFIG/config.json is used, else
	// ~/.docker/config.json. A missing file means no credentials.
	ConfigPath string

	// AllowPlaintextCredentials lets Login write the password into the
	// docker config file (base64-encoded, not encrypted) when no credential
	// helper is configured, as `docker login` does. If false, Login fails
	// with ErrPlaintextCredentials instead. Ignored when CredentialsStore is
	// set.
	AllowPlaintextCredentials bool

	// HTTPClient, if set, is used for every request instead of the client
	// hallmark builds; its transport then owns TLS and dialing, so
	// InsecureSkipTLSVerify, RootCAs and the Hosts' TLS settings must be
	// unset, and the link-local and metadata addresses are its business.
	// Retries and OnResponse still wrap it.
	HTTPClient *http.Client

	// UserAgent is sent with every request. If empty, "hallmark" is used.
	UserAgent string

	// MaxSignatureBytes bounds the signature manifests and envelopes that
	// verifications (through NotationRepository, until Release) hold at
	// once across the client; a fetch that would pass it fails at once
	// with ErrOverloaded. Zero: DefaultMaxSignatureBytes; negative: no
	// bound.
	MaxSignatureBytes int64

	// MaxRetries is how many times a transiently failed request is retried.
	// If zero, a default (currently 2) is used; if negative, never.
	MaxRetries int

	// OnResponse, if set, is called once for every HTTP request made
	// (including retries and token requests) with the host it went to and
	// the status code, or 0 if no response came back. The host is reported
	// as the Hosts or AllowedRegistries pattern it matched, or OtherHost:
	// hosts come from pod specs, and a metric labelled by each would grow
	// without bound. It runs on the request path, so it must be fast and
	// safe for concurrent use.
	OnResponse func(host string, status int)

	// lookup, if set, resolves host names for the dialer: a seam for tests,
	// which map names onto addresses that must never really be dialed.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Client is hallmark's registry client. It is safe for concurrent use, and
// meant to be shared: one per process keeps connections and tokens warm.
type Client struct {
	opts   Options
	hosts  *hostSet
	budget *byteBudget // nil: no bound
	store  credentials.Store
	auth   *auth.Client
	// client is auth, retrying once after renewing credentials that can
	// be renewed (see Renewer).
	client remote.Client

	// repos keeps one oras-go repository per registry/repository, so that
	// what oras-go learns about it (whether the registry has the referrers
	// API) is learned once, not probed again for every image.
	reposMu sync.Mutex
	repos   map[string]*remote.Repository

	// probes is what is known of each registry's referrers API, by host
	// (see listReferrers).
	probesMu sync.Mutex
	probes   map[string]*referrersProbe
}

// maxCachedRepos bounds Client.repos: a verifier that sees many
// repositories starts over rather than grow without end. Relearning a
// repository's referrers capability costs one request.
const maxCachedRepos = 4096

// New builds a Client. It fails if the options conflict or the docker config
// cannot be read.
func New(opts Options) (*Client, error) {
	return newClient(opts, false)
}

// newClient builds the Client; forLogin picks the credential store that
// Login writes to (see credentialStore).
func newClient(opts Options, forLogin bool) (*Client, error) {
	if opts.HTTPClient != nil && (opts.InsecureSkipTLSVerify || opts.RootCAs != nil || hostsSetTLS(opts.Hosts)) {
		return nil, errors.New("oci: HTTPClient is set, so TLS is its transport's business: leave InsecureSkipTLSVerify and RootCAs unset, in Options and Hosts")
	}
	opts = withDefaults(opts)
	hosts, err := newHostSet(opts)
	if err != nil {
		return nil, err
	}
	store, err := credentialStore(opts, forLogin)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, hosts: hosts, store: store}
	switch {
	case opts.MaxSignatureBytes == 0:
		c.budget = &byteBudget{max: DefaultMaxSignatureBytes}
	case opts.MaxSignatureBytes > 0:
		c.budget = &byteBudget{max: opts.MaxSignatureBytes}
	}
	c.auth = &auth.Client{
		Client:     newHTTPClient(opts, hosts),
		Credential: hosts.credential(store),
		// A per-client cache: tokens are scoped to this client's
		// credentials, never shared through oras-go's global cache.
		Cache: auth.NewCache(),
	}
	c.auth.SetUserAgent(opts.UserAgent)
	c.client = newRenewingClient(c.auth, hosts)
	return c, nil
}

// withDefaults fills in the documented defaults of Options.
func withDefaults(opts Options) Options {
	if opts.UserAgent == "" {
		opts.UserAgent = defaultUserAgent
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	return opts
}

// credentialStore returns the configured store, or the docker config one.
// For a login, a config with no credential helper gets the platform's
// default helper if it is installed, as docker does; the login records it in
// the config, so readers need no detection and never call a helper that the
// config does not name (a server in a container has none).
func credentialStore(opts Options, forLogin bool) (credentials.Store, error) {
	if opts.CredentialsStore != nil {
		return opts.CredentialsStore, nil
	}
	storeOpts := credentials.StoreOptions{
		AllowPlaintextPut:        opts.AllowPlaintextCredentials,
		DetectDefaultNativeStore: forLogin,
	}
	var (
		store *credentials.DynamicStore
		err   error
	)
	if opts.ConfigPath != "" {
		store, err = credentials.NewStore(opts.ConfigPath, storeOpts)
	} else {
		store, err = credentials.NewStoreFromDocker(storeOpts)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the docker config that holds registry credentials: %w", err)
	}
	return store, nil
}

func hostsSetTLS(hosts []HostSettings) bool {
	for _, h := range hosts {
		if h.RootCAs != nil || h.InsecureSkipTLSVerify {
			return true
		}
	}
	return false
}

// newHTTPClient builds the HTTP client under the auth client: the
// challenger on top, then retries, then the response observer, then the
// transports (newTransports).
func newHTTPClient(opts Options, hosts *hostSet) *http.Client {
	var hc http.Client
	var base http.RoundTripper
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
		base = hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
	} else {
		base = newTransports(opts, hosts, newGuardedDialer(opts.lookup))
	}
	if opts.OnResponse != nil {
		base = &observer{base: base, onResponse: opts.OnResponse, label: hosts.label}
	}
	if opts.MaxRetries > 0 {
		policy := &retry.GenericPolicy{
			Retryable: retry.DefaultPredicate,
			Backoff:   retry.DefaultBackoff,
			MinWait:   200 * time.Millisecond,
			MaxWait:   3 * time.Second,
			MaxRetry:  opts.MaxRetries,
		}
		base = &retry.Transport{Base: base, Policy: func() retry.Policy { return policy }}
	}
	// Outermost: its answers are not requests, so they are neither
	// retried nor reported.
	hc.Transport = &challenger{base: base}
	return &hc
}

// observer reports every round trip to Options.OnResponse.
type observer struct {
	base       http.RoundTripper
	onResponse func(host string, status int)
	label      func(host string) string
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.base.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	o.onResponse(o.label(req.URL.Host), status)
	return resp, err
}

// plainHTTP reports whether host is reached over plain HTTP.
func (c *Client) plainHTTP(host string) bool {
	return c.opts.PlainHTTP || c.hosts.plainHTTP(host)
}

// repository builds the oras-go repository for r. forceTag pins the
// referrers tag schema.
//
// Repositories are shared: oras-go's are safe for concurrent use, and take
// the tag or digest of each call as an argument, so the shared one names the
// repository only.
func (c *Client) repository(r registry.Reference, forceTag bool) *remote.Repository {
	if forceTag {
		repo := c.newRepository(r)
		// Cannot fail on a fresh repository: the capability is unset.
		_ = repo.SetReferrersCapability(false)
		return repo
	}
	key := r.Registry + "/" + r.Repository
	c.reposMu.Lock()
	defer c.reposMu.Unlock()
	if repo, ok := c.repos[key]; ok {
		return repo
	}
	if c.repos == nil || len(c.repos) >= maxCachedRepos {
		c.repos = make(map[string]*remote.Repository)
	}
	repo := c.newRepository(r)
	if capable, known := c.referrersCapability(r.Registry); known {
		// Cannot fail on a fresh repository.
		_ = repo.SetReferrersCapability(capable)
	}
	c.repos[key] = repo
	return repo
}

// newRepository builds an oras-go repository for r's repository, shared
// with nobody: callers that change its settings use one.
func (c *Client) newRepository(r registry.Reference) *remote.Repository {
	name := registry.Reference{Registry: r.Registry, Repository: r.Repository}
	return &remote.Repository{Client: c.client, Reference: name, PlainHTTP: c.plainHTTP(r.Registry)}
}

// Resolve resolves ref to the descriptor of the manifest it names: a tag is
// looked up, a digest is checked to exist. Errors: ErrInvalidReference (also
// when ref has neither tag nor digest), ErrNotFound naming the tag, manifest
// or repository that is missing, and the registry errors of Classify.
func (c *Client) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	r, err := c.parseWithReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return c.resolve(ctx, c.repository(r, false), r)
}

// resolve resolves r in repo; a 404 becomes "repository not found" or
// "manifest not found" at the cost of a request (whatIsMissing).
func (c *Client) resolve(ctx context.Context, repo *remote.Repository, r registry.Reference) (ocispec.Descriptor, error) {
	desc, err := repo.Resolve(ctx, r.Reference)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return ocispec.Descriptor{}, c.whatIsMissing(ctx, r, err)
		}
		return ocispec.Descriptor{}, classify(err, c.targetOf(r))
	}
	if r.ValidateReferenceAsDigest() == nil && desc.Digest.String() != r.Reference {
		// oras-go checks this too; a registry answering with another
		// manifest than the one asked for must never slip through.
		return ocispec.Descriptor{}, fmt.Errorf("registry %s answered %s for %s", r.Registry, desc.Digest, r)
	}
	return desc, nil
}

// whatIsMissing turns a manifest HEAD 404, which has no body to say what is
// missing, into "repository not found" or "tag/manifest not found" by asking
// for one tag of the repository. This costs a request only on failure.
func (c *Client) whatIsMissing(ctx context.Context, r registry.Reference, notFound error) error {
	t := c.targetOf(r)
	// A repository of its own: the shared one must not change under its
	// concurrent users.
	probe := c.newRepository(r)
	probe.TagListPageSize = 1
	err := probe.Tags(ctx, "", func([]string) error { return errStopTags })
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound && hasErrorCode(resp, errcode.ErrorCodeNameUnknown) {
		return &Error{
			Kind:       ErrNotFound,
			Registry:   r.Registry,
			StatusCode: http.StatusNotFound,
			Summary:    fmt.Sprintf("repository %s not found", t.repoName()),
			Err:        notFound,
		}
	}
	return classify(notFound, t)
}

// errStopTags ends the tag listing after its first page.
var errStopTags = errors.New("stop")

// parse parses ref for a request, and refuses registries outside
// Options.AllowedRegistries and the names this client would reach at the
// same address as another name (see plainHTTPDefaultPort).
func (c *Client) parse(ref string) (registry.Reference, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return registry.Reference{}, err
	}
	if !c.hosts.isAllowed(r.Registry) {
		return registry.Reference{}, notAllowed(r.Registry)
	}
	if err := c.plainHTTPDefaultPort(r.Registry); err != nil {
		return registry.Reference{}, err
	}
	return r, nil
}

// plainHTTPDefaultPort refuses "HOST:80" when both it and HOST are reached
// over plain HTTP: both then name the same registry, at port 80, while
// everything keyed by the name (trust-policy scopes, the cache, exemptions)
// would treat them apart, so that a statement for HOST/app could be escaped
// by writing HOST:80/app. CanonicalHost cannot fold ":80" itself, as over
// HTTPS it is another port than the default.
func (c *Client) plainHTTPDefaultPort(host string) error {
	name, port := registryname.SplitHostPort(host)
	if port != "80" || !c.plainHTTP(host) || !c.plainHTTP(name) {
		return nil
	}
	return &Error{
		Kind:     ErrInvalidReference,
		Registry: host,
		Summary: fmt.Sprintf("registry %s is reached over plain HTTP, whose default port is 80: write %s without \":80\"",
			host, name),
	}
}

// parseWithReference parses ref for a request and requires a tag or digest.
func (c *Client) parseWithReference(ref string) (registry.Reference, error) {
	r, err := c.parse(ref)
	if err != nil {
		return registry.Reference{}, err
	}
	if r.Reference == "" {
		return registry.Reference{}, &Error{
			Kind:    ErrInvalidReference,
			Summary: fmt.Sprintf("reference %q has no tag or digest: add :TAG or @sha256:DIGEST", ref),
		}
	}
	return r, nil
}
