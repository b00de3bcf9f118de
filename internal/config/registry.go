package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// Transport settings for registries with their own TLS settings, kept in
// step with the transport internal/oci builds for the others: it cannot be
// reused, because oci.Options has one TLS setting for every host.
const (
	// registryIdleConnsPerHost keeps connections to a busy registry open
	// between the many small requests of a verification.
	registryIdleConnsPerHost = 32
	// registryResponseHeaderTimeout bounds how long a registry may take to
	// start answering; the admission deadline usually ends a wait sooner.
	registryResponseHeaderTimeout = 60 * time.Second
)

// RegistryOptions builds the options of the registry client. For each
// registry host, the first registries entry with a matching pattern
// decides:
//
//   - credentials: the entry's, read now from files and the environment;
//     with none, or for a host no entry matches, the docker config, as
//     `hallmark verify` uses;
//   - plain HTTP: the entry's plainHTTP;
//   - TLS: the entry's caFile (added to the system roots) and
//     insecureSkipTLSVerify apply to the hosts it matches only. Hosts no
//     such entry matches keep full verification against the system roots.
//
// With no registries at all, it returns the zero oci.Options, which is what
// `hallmark verify` runs with. Secrets never appear in errors.
func (c *Config) RegistryOptions() (oci.Options, error) {
	if len(c.Registries) == 0 {
		return oci.Options{}, nil
	}
	var ps problems
	rs := &registrySet{entries: make([]registryEntry, len(c.Registries))}
	customTLS := false
	for i, r := range c.Registries {
		base := fmt.Sprintf("registries[%d]", i)
		e := &rs.entries[i]
		for _, h := range r.Hosts {
			e.patterns = append(e.patterns, canonicalHost(h))
		}
		e.plainHTTP = r.PlainHTTP
		store, err := r.Credentials.store()
		if err != nil {
			ps.add(base+".credentials."+err.field, err.msg)
		}
		e.creds = store
		if r.CAFile != "" || r.InsecureSkipTLSVerify {
			cfg, err := registryTLS(r)
			if err != nil {
				ps.add(base+".caFile", err.Error())
				continue
			}
			e.transport = newRegistryTransport(cfg)
			customTLS = true
		}
	}
	docker, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
	if err != nil {
		ps.add("registries", fmt.Sprintf("registries without credentials use the docker config, which cannot be read: %v", err))
	}
	if err := ps.err(""); err != nil {
		return oci.Options{}, err
	}
	opts := oci.Options{
		PlainHTTPHosts:   rs.plainHTTP,
		CredentialsStore: &hostCredentials{set: rs, fallback: docker},
	}
	if customTLS {
		opts.HTTPClient = &http.Client{Transport: &hostTransport{set: rs, fallback: newRegistryTransport(&tls.Config{MinVersion: tls.VersionTLS12})}}
	}
	return opts, nil
}

// registrySet is the registries list, ready to match hosts.
type registrySet struct {
	entries []registryEntry
}

type registryEntry struct {
	patterns  []string // lowercased
	plainHTTP bool
	creds     credentials.Store // nil: the docker config
	transport http.RoundTripper // nil: the shared one
}

// match returns the first entry with a pattern matching host, or nil.
func (s *registrySet) match(host string) *registryEntry {
	host = canonicalHost(host)
	for i := range s.entries {
		for _, p := range s.entries[i].patterns {
			if ok, _ := path.Match(p, host); ok {
				return &s.entries[i]
			}
		}
	}
	return nil
}

func (s *registrySet) plainHTTP(host string) bool {
	e := s.match(host)
	return e != nil && e.plainHTTP
}

// canonicalHost is oci.CanonicalHost: patterns and hosts are compared in
// the form the client names registries in.
func canonicalHost(h string) string { return oci.CanonicalHost(h) }

// hostCredentials is a read-only credentials store that answers for each
// registry from the first matching entry.
type hostCredentials struct {
	set      *registrySet
	fallback credentials.Store
}

// errReadOnly is returned by the stores built from configuration, which
// `hallmark serve` never logs in through.
var errReadOnly = errors.New("credentials from the hallmark configuration are read-only; edit the configuration instead")

func (h *hostCredentials) Get(ctx context.Context, serverAddress string) (auth.Credential, error) {
	if e := h.set.match(serverAddress); e != nil && e.creds != nil {
		return e.creds.Get(ctx, serverAddress)
	}
	return h.fallback.Get(ctx, serverAddress)
}

func (h *hostCredentials) Put(context.Context, string, auth.Credential) error { return errReadOnly }
func (h *hostCredentials) Delete(context.Context, string) error               { return errReadOnly }

// staticCredentials answers every host with one credential.
type staticCredentials struct {
	cred auth.Credential
}

func (s staticCredentials) Get(context.Context, string) (auth.Credential, error) { return s.cred, nil }
func (s staticCredentials) Put(context.Context, string, auth.Credential) error   { return errReadOnly }
func (s staticCredentials) Delete(context.Context, string) error                 { return errReadOnly }

// fieldError is a problem in one field of Credentials.
type fieldError struct {
	field, msg string
}

// store builds the credentials store this source describes; nil for none.
func (cr *Credentials) store() (credentials.Store, *fieldError) {
	switch {
	case cr.DockerConfigFile != "":
		// A missing file would read as "no credentials"; a named one must exist.
		if _, err := os.Stat(cr.DockerConfigFile); err != nil {
			return nil, &fieldError{"dockerConfigFile", err.Error()}
		}
		s, err := credentials.NewStore(cr.DockerConfigFile, credentials.StoreOptions{})
		if err != nil {
			return nil, &fieldError{"dockerConfigFile", fmt.Sprintf("%s cannot be read as a docker config: %v", cr.DockerConfigFile, err)}
		}
		return s, nil
	case cr.DockerConfigJSONFile != "":
		data, err := readFile(cr.DockerConfigJSONFile)
		if err != nil {
			return nil, &fieldError{"dockerConfigJSONFile", err.Error()}
		}
		s, err := credentials.NewMemoryStoreFromDockerConfig(data)
		if err != nil {
			// The library's message may quote the content; keep it out.
			return nil, &fieldError{"dockerConfigJSONFile", fmt.Sprintf("%s is not a .dockerconfigjson (a JSON object with \"auths\")", cr.DockerConfigJSONFile)}
		}
		return s, nil
	case cr.Username != "":
		pw, fe := secret("password", cr.PasswordFromEnv, cr.PasswordFile)
		if fe != nil {
			return nil, fe
		}
		return staticCredentials{auth.Credential{Username: cr.Username, Password: pw}}, nil
	case cr.TokenFromEnv != "" || cr.TokenFile != "":
		tok, fe := secret("token", cr.TokenFromEnv, cr.TokenFile)
		if fe != nil {
			return nil, fe
		}
		return staticCredentials{auth.Credential{RefreshToken: tok}}, nil
	}
	return nil, nil
}

// secret reads a secret from an environment variable or a file, dropping
// one trailing newline from a file (editors and `echo` add one).
func secret(what, env, file string) (string, *fieldError) {
	if env != "" {
		v := os.Getenv(env)
		if v == "" {
			return "", &fieldError{what + "FromEnv", fmt.Sprintf("environment variable %s is unset or empty", env)}
		}
		return v, nil
	}
	data, err := readFile(file)
	if err != nil {
		return "", &fieldError{what + "File", err.Error()}
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if v == "" {
		return "", &fieldError{what + "File", fmt.Sprintf("%s is empty", file)}
	}
	return v, nil
}

// registryTLS is the TLS configuration of an entry with its own settings.
func registryTLS(r Registry) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.InsecureSkipTLSVerify {
		// Loudly named in the configuration, scoped to this entry's hosts,
		// and reported by Warnings.
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for by name
		return cfg, nil
	}
	data, err := readFile(r.CAFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", r.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

func newRegistryTransport(cfg *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = registryIdleConnsPerHost
	t.ResponseHeaderTimeout = registryResponseHeaderTimeout
	t.TLSClientConfig = cfg
	return t
}

// hostTransport sends each request through the transport of the first
// registries entry matching its host, so that one entry's CA or skipped
// verification never applies to another registry.
type hostTransport struct {
	set      *registrySet
	fallback http.RoundTripper
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if e := t.set.match(req.URL.Host); e != nil && e.transport != nil {
		return e.transport.RoundTrip(req)
	}
	return t.fallback.RoundTrip(req)
}
