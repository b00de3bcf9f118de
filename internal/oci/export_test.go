package oci

import (
	"context"

	"oras.land/oras-go/v2/registry/remote"
)

// Repository returns the client's oras-go repository for ref's repository
// (its connections, credentials and token cache), for the tests that push
// fixtures through them. hallmark itself reaches repositories only through
// the client's methods, so this is not part of its API.
func (c *Client) Repository(_ context.Context, ref string) (*remote.Repository, error) {
	r, err := c.parse(ref)
	if err != nil {
		return nil, err
	}
	return c.repository(r, c.opts.ForceReferrersTag), nil
}
