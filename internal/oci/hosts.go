package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"syscall"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/registryname"
)

// HostSettings are the settings of the registries whose canonical host
// (CanonicalHost, with its port if not the default) matches one of
// Patterns. The first HostSettings in Options.Hosts with a matching pattern
// decides for a host; hosts that none matches use Options' own settings.
// The zero value (with patterns) reaches its hosts over HTTPS with the
// system roots and the client's credentials store.
type HostSettings struct {
	// Patterns are path.Match patterns on the canonical host, such as
	// "ghcr.io", "localhost:5000" or "*.azurecr.io". They are put in
	// canonical form by New, so "Registry.example.com:443" matches the
	// same hosts as "registry.example.com".
	Patterns []string

	// PlainHTTP makes these hosts be reached over plain HTTP instead of
	// HTTPS. For local and test registries only.
	PlainHTTP bool

	// RootCAs are the CAs trusted for these hosts' certificates, instead
	// of Options.RootCAs (or the system roots). Nil: as Options.
	RootCAs *x509.CertPool

	// InsecureSkipTLSVerify turns off verification of these hosts'
	// certificates: anyone on the network path can then impersonate them.
	// For testing only.
	InsecureSkipTLSVerify bool

	// Credentials supplies these hosts' credentials. Nil: the client's
	// store (Options.CredentialsStore or the docker config).
	Credentials credentials.Store
}

// OtherHost is the host OnResponse reports for a registry that no
// configured pattern (Options.Hosts, Options.AllowedRegistries) matches.
// Hosts come from pod specs, so reporting each by name would let anyone who
// can create a pod grow the metrics without bound.
const OtherHost = "other"

// dialTimeout bounds a TCP connect, as net/http's default transport does.
const dialTimeout = 30 * time.Second

// hostSet holds Options.Hosts with canonical patterns.
type hostSet struct {
	hosts   []HostSettings
	allowed []string // canonical AllowedRegistries; empty: any
}

func newHostSet(opts Options) (*hostSet, error) {
	s := &hostSet{hosts: make([]HostSettings, len(opts.Hosts))}
	for i, h := range opts.Hosts {
		if h.InsecureSkipTLSVerify && h.RootCAs != nil {
			return nil, fmt.Errorf("oci: Hosts[%d] sets both RootCAs and InsecureSkipTLSVerify; choose one", i)
		}
		h.Patterns = canonicalPatterns(h.Patterns)
		for _, p := range h.Patterns {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("oci: Hosts[%d]: pattern %q: %w", i, p, err)
			}
		}
		s.hosts[i] = h
	}
	s.allowed = canonicalPatterns(opts.AllowedRegistries)
	for _, p := range s.allowed {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("oci: AllowedRegistries: pattern %q: %w", p, err)
		}
	}
	return s, nil
}

func canonicalPatterns(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = registryname.CanonicalHost(p)
	}
	return out
}

// match returns the index in s.hosts of the settings for host, and the
// pattern that matched; -1 and "" when none does.
func (s *hostSet) match(host string) (int, string) {
	host = registryname.CanonicalHost(host)
	for i := range s.hosts {
		for _, p := range s.hosts[i].Patterns {
			if ok, _ := path.Match(p, host); ok {
				return i, p
			}
		}
	}
	return -1, ""
}

// plainHTTP reports whether the settings for host ask for plain HTTP.
func (s *hostSet) plainHTTP(host string) bool {
	i, _ := s.match(host)
	return i >= 0 && s.hosts[i].PlainHTTP
}

// isAllowed reports whether the client may contact registry host.
func (s *hostSet) isAllowed(host string) bool {
	if len(s.allowed) == 0 {
		return true
	}
	host = registryname.CanonicalHost(host)
	for _, p := range s.allowed {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

// label is the host as OnResponse reports it: the configured pattern it
// matched, or OtherHost, so that there are at most as many labels as
// patterns in the configuration.
func (s *hostSet) label(host string) string {
	if _, p := s.match(host); p != "" {
		return p
	}
	host = registryname.CanonicalHost(host)
	for _, p := range s.allowed {
		if ok, _ := path.Match(p, host); ok {
			return p
		}
	}
	return OtherHost
}

// notAllowed is the error for a registry outside Options.AllowedRegistries.
func notAllowed(host string) error {
	return &Error{
		Kind:     ErrNotAllowed,
		Registry: host,
		Summary: fmt.Sprintf("registry %s is not one of the allowed registries, and hallmark contacts no other: use an image from an allowed registry, or add %s to allowedRegistries",
			host, host),
	}
}

// credential answers oras-go's credential lookups from the first matching
// HostSettings' store, else from the client's.
func (s *hostSet) credential(fallback credentials.Store) auth.CredentialFunc {
	def := credentials.Credential(fallback)
	perHost := make([]auth.CredentialFunc, len(s.hosts))
	for i, h := range s.hosts {
		if h.Credentials != nil {
			perHost[i] = credentials.Credential(h.Credentials)
		}
	}
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		if i, _ := s.match(hostport); i >= 0 && perHost[i] != nil {
			return perHost[i](ctx, hostport)
		}
		return def(ctx, hostport)
	}
}

// hostTransport sends each request through the transport of the first
// HostSettings matching its host, so that one registry's CA or skipped
// verification never applies to another.
type hostTransport struct {
	set      *hostSet
	perHost  []http.RoundTripper // nil entries: fallback
	fallback http.RoundTripper
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if i, _ := t.set.match(req.URL.Host); i >= 0 && t.perHost[i] != nil {
		return t.perHost[i].RoundTrip(req)
	}
	return t.fallback.RoundTrip(req)
}

// newTransports builds the one transport stack of a client: a base
// transport per TLS setting (Options' own, and each HostSettings with its
// own roots or skipped verification), all dialing through one guarded
// dialer.
func newTransports(opts Options, set *hostSet, dial *guardedDialer) http.RoundTripper {
	base := func(roots *x509.CertPool, skip bool) *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		t.ResponseHeaderTimeout = responseHeaderTimeout
		t.DialContext = dial.DialContext
		t.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    roots,
			// Loudly named in Options and HostSettings; off unless asked for.
			InsecureSkipVerify: skip,
		}
		return t
	}
	fallback := base(opts.RootCAs, opts.InsecureSkipTLSVerify)
	perHost := make([]http.RoundTripper, len(set.hosts))
	own := false
	for i, h := range set.hosts {
		if h.RootCAs != nil || h.InsecureSkipTLSVerify {
			perHost[i] = base(h.RootCAs, h.InsecureSkipTLSVerify)
			own = true
		}
	}
	if !own {
		return fallback
	}
	return &hostTransport{set: set, perHost: perHost, fallback: fallback}
}

// guardedDialer connects to registries, never to the addresses in
// blockedAddress: the check is made on the resolved address at dial time,
// so neither a host name resolving there, nor a redirect, nor a token
// service named by a registry reaches them. (Through an HTTP proxy from the
// environment, it is the proxy that is dialed and checked.)
type guardedDialer struct {
	dialer net.Dialer
	// lookup resolves a host name; a seam for tests, which must never
	// dial a real link-local address.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func newGuardedDialer(lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *guardedDialer {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	d := &guardedDialer{lookup: lookup}
	d.dialer = net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: 30 * time.Second,
		// A second check on the very address connect(2) gets.
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			if ap, err := netip.ParseAddrPort(address); err == nil && blockedAddress(ap.Addr()) {
				return &blockedError{host: address, addr: ap.Addr()}
			}
			return nil
		},
	}
	return d
}

// DialContext resolves address's host, drops blocked addresses, and dials
// the others in turn.
func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = d.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
	}
	var first error
	for _, a := range addrs {
		a = a.Unmap()
		if blockedAddress(a) {
			if first == nil {
				first = &blockedError{host: host, addr: a}
			}
			continue
		}
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		var blocked *blockedError
		if first == nil || errors.As(first, &blocked) {
			first = err
		}
	}
	if first == nil {
		first = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return nil, first
}

// blockedError is a dial refused because the address is never contacted.
type blockedError struct {
	host string
	addr netip.Addr
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("%s resolves to %s, a link-local or cloud metadata address, which hallmark never contacts", e.host, e.addr)
}

// metadataAddresses are cloud instance metadata services outside the
// link-local ranges: AWS's IPv6 endpoint, Alibaba Cloud's, and Azure's
// WireServer. They hand out instance credentials to whoever asks from the
// node, so an image reference must never make hallmark ask.
var metadataAddresses = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("168.63.129.16"),
}

// blockedAddress reports the addresses hallmark never contacts: IPv4 and
// IPv6 link-local (169.254.0.0/16, fe80::/10, which hold the metadata
// services of AWS, GCP, Azure and others at 169.254.169.254) and the
// metadata addresses outside them. IPv4-mapped IPv6 addresses are judged as
// the IPv4 address they carry.
func blockedAddress(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		return true
	}
	for _, m := range metadataAddresses {
		if a == m {
			return true
		}
	}
	return false
}

// GuardedTransport returns an HTTP transport that, like the client's own,
// never connects to a link-local or cloud metadata address (checked on the
// resolved address). It is for the other requests verification makes to
// addresses that signatures name, such as OCSP responders and CRL
// distribution points, which a pod author chooses as freely as a registry.
func GuardedTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = newGuardedDialer(nil).DialContext
	return t
}
