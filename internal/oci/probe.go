package oci

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
)

// Whether a registry has the OCI referrers API is learned once per
// registry, by the first listing, while the other listings that start
// meanwhile wait for its answer: without that, every verification that
// starts before the first answer asks the API too, and against a registry
// without it each pays a 404 (the first concurrent admissions of a busy
// cluster send tens of them). The API is a property of the registry's
// software, not of one repository, so what one repository taught applies
// to the registry's others.
//
// Only a listing that succeeded teaches anything. A failed one (the
// registry down, a repository not found) leaves the registry unknown; the
// listings that waited for it then go ahead on their own, as they would
// have without the wait, and the next listing probes again.

// referrersProbe is what is known of one registry's referrers API.
type referrersProbe struct {
	done    chan struct{} // closed when the first listing ended
	known   bool          // set before done is closed
	capable bool
}

// maxProbedRegistries bounds Client.probes, like maxCachedRepos.
const maxProbedRegistries = 1024

// referrersCapability returns what is known of host's referrers API, if
// anything, for a repository being created.
func (c *Client) referrersCapability(host string) (capable, known bool) {
	c.probesMu.Lock()
	defer c.probesMu.Unlock()
	p := c.probes[host]
	if p == nil {
		return false, false
	}
	select {
	case <-p.done:
		return p.capable, p.known
	default:
		return false, false
	}
}

// listReferrers runs list, a listing of subject's referrers in repo (of
// registry host) through repo.Referrers, whose page callback it is given
// to call on every page. The first listing of an unknown registry learns
// its capability; the others wait for it.
func (c *Client) listReferrers(ctx context.Context, host string, repo *remote.Repository, list func(page func()) error) error {
	c.probesMu.Lock()
	p := c.probes[host]
	if p == nil {
		if c.probes == nil || len(c.probes) >= maxProbedRegistries {
			c.probes = make(map[string]*referrersProbe)
		}
		p = &referrersProbe{done: make(chan struct{})}
		c.probes[host] = p
		c.probesMu.Unlock()
		return c.probe(host, repo, p, list)
	}
	c.probesMu.Unlock()

	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.known {
		// Fails only if repo learned otherwise by itself; it then keeps
		// what it learned.
		_ = repo.SetReferrersCapability(p.capable)
	}
	return list(func() {})
}

// probe runs the first listing of host and records what it taught.
func (c *Client) probe(host string, repo *remote.Repository, p *referrersProbe, list func(page func()) error) (err error) {
	paged := false
	defer func() {
		// oras-go has decided the capability once a listing succeeded or
		// delivered a page: with the API unknown, a page comes from the
		// API (and means it exists) or from the tag schema (after oras-go
		// recorded it missing). Setting it true then either agrees, or
		// fails because oras-go recorded it missing.
		if err == nil || paged {
			p.capable = repo.SetReferrersCapability(true) == nil
			p.known = true
		} else {
			c.probesMu.Lock()
			if c.probes[host] == p {
				delete(c.probes, host)
			}
			c.probesMu.Unlock()
		}
		close(p.done)
	}()
	return list(func() { paged = true })
}

// referrers is repo.Referrers through listReferrers.
func (c *Client) referrers(ctx context.Context, host string, repo *remote.Repository, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	return c.listReferrers(ctx, host, repo, func(page func()) error {
		return repo.Referrers(ctx, subject, artifactType, func(refs []ocispec.Descriptor) error {
			page()
			return fn(refs)
		})
	})
}
