package verify

import (
	"context"
	"sync"
	"time"

	"github.com/notaryproject/notation-core-go/revocation/crl"
)

// maxCachedCRLs caps the CRLs kept in memory. A trust store has a handful of
// CAs, each with one or two distribution points; a CRL may be large (up to
// notation-core-go's 32 MiB download cap), so the count is kept small.
const maxCachedCRLs = 16

// memoryCRLCache keeps downloaded CRLs until their NextUpdate, so that an
// admission burst does not download the same CRL for every pod. It
// implements notation-core-go's crl.Cache and is safe for concurrent use.
type memoryCRLCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*crl.Bundle
}

func newMemoryCRLCache() *memoryCRLCache {
	return &memoryCRLCache{now: time.Now, entries: map[string]*crl.Bundle{}}
}

// Get returns the bundle for url while it is current, else crl.ErrCacheMiss.
func (c *memoryCRLCache) Get(ctx context.Context, url string) (*crl.Bundle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[url]
	if !ok {
		return nil, crl.ErrCacheMiss
	}
	if !c.current(b) {
		delete(c.entries, url)
		return nil, crl.ErrCacheMiss
	}
	return b, nil
}

// Set stores the bundle for url, evicting the entry that expires first when
// the cache is full.
func (c *memoryCRLCache) Set(ctx context.Context, url string, b *crl.Bundle) error {
	if b == nil || b.BaseCRL == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[url]; !ok && len(c.entries) >= maxCachedCRLs {
		victim := ""
		for u, e := range c.entries {
			if victim == "" || !c.current(e) || e.BaseCRL.NextUpdate.Before(c.entries[victim].BaseCRL.NextUpdate) {
				victim = u
				if !c.current(e) {
					break
				}
			}
		}
		delete(c.entries, victim)
	}
	c.entries[url] = b
	return nil
}

// current reports whether b may still be used: a CRL without NextUpdate
// is never reused, since nothing says how long it holds.
func (c *memoryCRLCache) current(b *crl.Bundle) bool {
	now := c.now()
	if b.BaseCRL.NextUpdate.IsZero() || !now.Before(b.BaseCRL.NextUpdate) {
		return false
	}
	return b.DeltaCRL == nil || (!b.DeltaCRL.NextUpdate.IsZero() && now.Before(b.DeltaCRL.NextUpdate))
}
