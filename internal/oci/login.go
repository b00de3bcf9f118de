package oci

import (
	"context"
	"errors"
	"fmt"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Login checks username and password against the registry at host
// (host[:port], no scheme or path) and, if the registry accepts them, stores
// them for later clients: in opts.CredentialsStore if set, else in the docker
// config (through its credential helper for host, or its credsStore, or, with
// opts.AllowPlaintextCredentials, in the file itself).
//
// Errors: ErrInvalidReference for a malformed host, ErrUnauthorized when the
// registry refuses the credentials, ErrPlaintextCredentials when nothing but
// the plain file could hold them, and the registry errors of Classify. The
// password never appears in an error.
func Login(ctx context.Context, opts Options, host, username, password string) error {
	if err := validateHost(host); err != nil {
		return err
	}
	c, err := newClient(opts, true)
	if err != nil {
		return err
	}
	reg := &remote.Registry{RepositoryOptions: remote.RepositoryOptions{
		Client:    c.client,
		Reference: registry.Reference{Registry: host},
		PlainHTTP: c.plainHTTP(host),
	}}
	cred := auth.Credential{Username: username, Password: password}
	if username == "" {
		// An identity token (docker's "<token>" user) travels as a refresh
		// token, not as a basic-auth password.
		cred = auth.Credential{RefreshToken: password}
	}
	err = credentials.Login(ctx, c.store, reg, cred)
	if err == nil {
		return nil
	}

	if errors.Is(err, credentials.ErrPlaintextPutDisabled) {
		return &Error{
			Kind:     ErrPlaintextCredentials,
			Registry: host,
			Summary: fmt.Sprintf("registry %s accepted the credentials, but no credential helper is configured to keep them: "+
				"set credsStore or credHelpers in the docker config, or allow storing them unencrypted in the config file", host),
		}
	}
	classified := classify(err, target{registry: host})
	var e *Error
	if errors.As(classified, &e) && e.Kind == ErrUnauthorized {
		e.Summary = fmt.Sprintf("registry %s refused the username or password (401)", host)
	}
	return classified
}

// Logout removes the stored credentials for host from opts.CredentialsStore,
// or from the docker config and its credential helper. Removing credentials
// that are not there is not an error.
func Logout(ctx context.Context, opts Options, host string) error {
	if err := validateHost(host); err != nil {
		return err
	}
	store, err := credentialStore(opts, false)
	if err != nil {
		return err
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return fmt.Errorf("log out of %s: %w", host, err)
	}
	return nil
}

// validateHost accepts host[:port] and nothing else, so that a URL or a
// repository path is not stored as a credentials key that never matches.
func validateHost(host string) error {
	r := registry.Reference{Registry: host}
	if host == "" || r.ValidateRegistry() != nil || !looksLikeHost(host) {
		return &Error{
			Kind:    ErrInvalidReference,
			Summary: fmt.Sprintf("registry %q is not a host[:port], e.g. myregistry.azurecr.io or localhost:5000", host),
		}
	}
	return nil
}

// HasCredentials reports whether credentials for host are stored where
// Logout would remove them from, so that a logout can say when there was
// nothing to remove.
func HasCredentials(ctx context.Context, opts Options, host string) (bool, error) {
	if err := validateHost(host); err != nil {
		return false, err
	}
	store, err := credentialStore(opts, false)
	if err != nil {
		return false, err
	}
	cred, err := store.Get(ctx, host)
	if err != nil {
		return false, fmt.Errorf("read the credentials of %s: %w", host, err)
	}
	return cred != auth.EmptyCredential, nil
}
