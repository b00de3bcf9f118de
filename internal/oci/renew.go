package oci

import (
	"context"
	"errors"
	"net/http"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Renewer is implemented by a HostSettings.Credentials store whose
// credentials the issuer may stop honouring before the store knows (an
// exchanged token revoked or expired early). When such a host's registry
// or token service answers 401, the client calls Renew once and retries
// the request once.
type Renewer interface {
	Renew(ctx context.Context, host string) error
}

// renewingClient retries a request refused with 401 once, after renewing
// the credentials of its host, for hosts whose store is a Renewer.
type renewingClient struct {
	inner    remote.Client
	set      *hostSet
	renewers []Renewer // by index in set.hosts; nil: none
}

// newRenewingClient wraps inner when some host's credentials can be
// renewed; otherwise it returns inner.
func newRenewingClient(inner remote.Client, set *hostSet) remote.Client {
	renewers := make([]Renewer, len(set.hosts))
	some := false
	for i, h := range set.hosts {
		if r, ok := h.Credentials.(Renewer); ok {
			renewers[i] = r
			some = true
		}
	}
	if !some {
		return inner
	}
	return &renewingClient{inner: inner, set: set, renewers: renewers}
}

func (c *renewingClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.Do(req)
	if !refused(resp, err) {
		return resp, err
	}
	i, _ := c.set.match(req.URL.Host)
	if i < 0 || c.renewers[i] == nil || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	if c.renewers[i].Renew(req.Context(), req.URL.Host) != nil {
		// The renewal's own failure is the store's to report; the
		// caller sees the registry's refusal.
		return resp, err
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, berr := req.GetBody()
		if berr != nil {
			return resp, err
		}
		retry.Body = body
	}
	if resp != nil {
		resp.Body.Close()
	}
	return c.inner.Do(retry)
}

// refused reports a 401 from the registry or from its token service.
func refused(resp *http.Response, err error) bool {
	if err == nil {
		return resp != nil && resp.StatusCode == http.StatusUnauthorized
	}
	var er *errcode.ErrorResponse
	return errors.As(err, &er) && er.StatusCode == http.StatusUnauthorized
}
