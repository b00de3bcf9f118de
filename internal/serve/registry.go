package serve

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// RegistryOptions builds the options of the registry client: each
// registries entry becomes one oci.HostSettings, and oci applies them (the
// first entry with a matching pattern decides for a host):
//
//   - credentials: the entry's, read now from files and the environment;
//     with none, or for a host no entry matches, the docker config, as
//     `hallmark verify` uses;
//   - plain HTTP: the entry's plainHTTP;
//   - TLS: the entry's caFile (added to the system roots) and
//     insecureSkipTLSVerify apply to the hosts it matches only. Hosts no
//     such entry matches keep full verification against the system roots.
//
// allowedRegistries, when set, limits the registries contacted. With
// neither, it returns the zero oci.Options, which is what `hallmark verify`
// runs with. Secrets never appear in errors.
func RegistryOptions(c *config.Config) (oci.Options, error) {
	if len(c.Registries) == 0 && len(c.AllowedRegistries) == 0 {
		return oci.Options{}, nil
	}
	var ps problems
	opts := oci.Options{AllowedRegistries: c.AllowedRegistries}
	customCreds := false
	for i, r := range c.Registries {
		base := fmt.Sprintf("registries[%d]", i)
		h := oci.HostSettings{
			Patterns:              r.Hosts,
			PlainHTTP:             r.PlainHTTP,
			InsecureSkipTLSVerify: r.InsecureSkipTLSVerify, // reported by Warnings
		}
		if r.CAFile != "" && !r.InsecureSkipTLSVerify {
			pool, err := registryRoots(r.CAFile)
			if err != nil {
				ps.add(base+".caFile", err.Error())
				continue
			}
			h.RootCAs = pool
		}
		if r.Credentials.Azure != nil {
			src, err := azureSource(r.Credentials.Azure, h)
			if err != nil {
				ps.add(base+".credentials.azure", err.Error())
				continue
			}
			// Not wrapped in readOnly: oci must see that it can be
			// renewed after a 401 (oci.Renewer); it refuses Put itself.
			h.Credentials = src
			customCreds = true
			opts.Hosts = append(opts.Hosts, h)
			continue
		}
		store, err := credentialStore(&r.Credentials)
		if err != nil {
			ps.add(base+".credentials."+err.field, err.msg)
		}
		if store != nil {
			h.Credentials = readOnly{store}
			customCreds = true
		}
		opts.Hosts = append(opts.Hosts, h)
	}
	if customCreds {
		// Read now, so that an unreadable docker config is reported with
		// the configuration's other problems; the client would read it
		// anyway.
		docker, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
		if err != nil {
			ps.add("registries", fmt.Sprintf("registries without credentials use the docker config, which cannot be read: %v", err))
		}
		opts.CredentialsStore = readOnly{docker}
	}
	if err := ps.err(""); err != nil {
		return oci.Options{}, err
	}
	return opts, nil
}

// readOnly is a credentials store that `hallmark serve` never logs in
// through.
type readOnly struct{ credentials.Store }

func (readOnly) Put(context.Context, string, auth.Credential) error { return errReadOnly }
func (readOnly) Delete(context.Context, string) error               { return errReadOnly }

// errReadOnly is returned by the stores built from configuration, which
// `hallmark serve` never logs in through.
var errReadOnly = errors.New("credentials from the hallmark configuration are read-only; edit the configuration instead")

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
func credentialStore(cr *config.Credentials) (credentials.Store, *fieldError) {
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

// registryRoots is the system roots plus the CAs in caFile.
func registryRoots(caFile string) (*x509.CertPool, error) {
	data, err := readFile(caFile)
	if err != nil {
		return nil, err
	}
	certs, err := certbundle.ParsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s %w", caFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
