// Package cache keeps verification results so that admission answers inside
// its deadline: a verdict on an image digest is reused for a while, and
// concurrent requests for the same image share one verification.
//
// The cache sits in front of a verify.Engine and has the same Verify method.
// Its rules, each tested:
//
//   - Results are keyed by (registry/repository, digest). Never by tag: a
//     tag can move. The repository is part of the key
//     because trust policy statements and signatures are both per repository:
//     the same digest may be trusted in one repository and not in another.
//   - Only definitive results are kept: verified (for PositiveTTL), or failed
//     for a reason a retry will not change (for the shorter NegativeTTL).
//     Transient failures (timeouts, registry 5xx or 429, network errors,
//     unreachable revocation responders) are never kept.
//   - A result is served exactly as it was verified, failures included: the
//     cache never turns a failure into a pass.
//   - A verification shared by concurrent callers runs detached from any one
//     caller's context, under its own VerifyTimeout, so one caller giving up
//     does not fail the others; each caller still returns at its own deadline.
package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"
	"unique"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Defaults for Options fields left zero.
const (
	// DefaultPositiveTTL is how long a verified result is reused. A
	// certificate revoked after the verification is noticed only when the
	// entry expires, so this is also the longest a revocation takes to bite.
	DefaultPositiveTTL = 5 * time.Minute
	// DefaultNegativeTTL is how long a definitive failure is reused. It is
	// short because the usual cure (pushing the signature that was missing)
	// happens minutes after the failure, and the person fixing it is waiting.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultMaxEntries bounds the number of results kept. A verified
	// result costs about 435 bytes of heap (BenchmarkCacheFill: the parts
	// that are the same for every image signed by one key are kept once, see
	// verdict), so 10,000 entries (a large cluster's distinct images) cost
	// about 4 MiB.
	DefaultMaxEntries = 10000
	// DefaultVerifyTimeout bounds a verification shared by concurrent callers.
	// It is longer than an admission deadline on purpose: a slow verification
	// that finishes after its first caller gave up is still stored, so the API
	// server's retry finds it in the cache.
	DefaultVerifyTimeout = 10 * time.Second
	// DefaultMaxVerifications bounds the verifications running at once
	// when Options.MaxVerifications is zero. One admission request runs at
	// most 16; 256 lets 16 such requests (or Gatekeeper's audit) verify at
	// full speed, while a flood of images that each need the registry
	// cannot pile up goroutines, connections and signature data without
	// end: past it, images fail at once instead of queueing past their
	// deadline.
	DefaultMaxVerifications = 256
)

// maxCachedSignatures caps the signature outcomes kept with a cached result.
// A failed result lists every signature tried (up to the engine's
// MaxSignatures, 100 by default), and anyone who can push to a repository
// can add signatures; without the cap, 10,000 such entries could take
// gigabytes. The last ones are kept, since a verified result ends with the
// signature that passed. Fresh results are returned whole.
const maxCachedSignatures = 8

// Verifier verifies one image reference. *verify.Engine implements it, and
// so does *Cache.
type Verifier interface {
	Verify(ctx context.Context, ref string) verify.Result
}

// Resolver resolves a tag to the descriptor of the manifest it names now.
// *oci.Client implements it.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error)
}

// Options tunes a Cache. The zero value is usable: default TTLs and size,
// and tag references passed through uncached.
type Options struct {
	// PositiveTTL is how long a verified result is served from the cache.
	// Zero means DefaultPositiveTTL; negative means verified results are
	// not kept.
	PositiveTTL time.Duration
	// NegativeTTL is how long a definitive failure is served from the
	// cache. Zero means DefaultNegativeTTL; negative means failures are not
	// kept.
	NegativeTTL time.Duration
	// MaxEntries is how many results the cache is sized to keep; the least
	// recently used is dropped first. Caches of 1024 entries or more are split
	// into independently evicted shards, each sized with headroom for uneven
	// hashing, so that MaxEntries distinct images all fit: each of the 16
	// shards holds ceil(MaxEntries/16) plus five square roots of that, so
	// such a cache may hold more (at most 1,664 for 1,024; 12,000 for
	// 10,000; 106,336 for 100,000). Zero means
	// DefaultMaxEntries; negative means nothing is kept (singleflight still
	// applies).
	MaxEntries int
	// VerifyTimeout bounds one verification shared by concurrent callers.
	// Zero means DefaultVerifyTimeout.
	VerifyTimeout time.Duration
	// MaxVerifications bounds the verifier calls running at once, across
	// all callers (a call shared by several counts once). A Verify that
	// would pass it does not wait: it returns at once a transient failure
	// saying hallmark is busy. Zero means DefaultMaxVerifications; negative
	// means no bound.
	MaxVerifications int
	// Resolver resolves tag references to digests so that they can be
	// cached by digest. Nil means a tag reference is handed to the
	// verifier as it is, and its result is not cached.
	//
	// Resolved tags are not cached themselves: every Verify of a tag asks
	// the registry what the tag names now. A tag cache would keep verifying
	// the old digest after the tag moved, while the kubelet (unless the
	// mutating webhook pinned the digest) pulls the new one: admission would
	// then approve an image it never looked at.
	Resolver Resolver
	// OnLookup, if set, is called once for every Verify that consulted the
	// cache, with whether it found a result. Calls for references that
	// bypass the cache (invalid ones, tags without a Resolver, tags that
	// did not resolve) are not lookups. It must be fast and safe for
	// concurrent use; it is meant for metrics.
	OnLookup func(hit bool)
}

// Cache is a verification result cache in front of a Verifier. It is safe
// for concurrent use.
//
// Results it returns may share their slices (Warnings, Signatures, a
// signature's Validations) and a signature's SignedAt and ExpiresAt with the
// cache and with other callers: treat them as read-only. Appending is safe.
type Cache struct {
	positiveTTL   time.Duration
	negativeTTL   time.Duration
	maxEntries    int
	verifyTimeout time.Duration
	// slots holds a token per verifier call running; nil: no bound.
	slots    chan struct{}
	resolver Resolver
	onLookup func(hit bool)

	// next is the verifier behind the cache. A cache serves one
	// configuration generation: a reload builds a new cache with its new
	// verifier, so no result outlives the configuration it was made under.
	next Verifier

	flights singleflight.Group

	seed   maphash.Seed
	shards []shard
	// epoch is the origin of entry.expires.
	epoch time.Time
}

// shard is one part of the cache with its own lock and LRU list, so that
// concurrent hits on different images do not queue on one mutex.
type shard struct {
	mu      sync.Mutex
	entries map[key]*entry
	lru     entry // sentinel of a circular list; lru.next is the most recent
	max     int
	_       [64]byte // keeps neighbouring shards' locks off one cache line
}

// Sharding splits the LRU order: each shard evicts its own least recently
// used entry. Below shardThreshold entries the cache is one shard, so small
// caches keep exact LRU order.
const (
	numShards      = 16
	shardThreshold = 1024
)

// shardCapacity sizes each of n shards for total entries. Keys hash to shards
// like balls into bins: with total/n expected per shard, some shard gets
// several standard deviations (sqrt of total/n) more, so a shard sized at
// exactly total/n would evict while the cache as a whole is not full. Five
// standard deviations of headroom make that vanishingly rare.
func shardCapacity(total, n int) int {
	per := (total + n - 1) / n
	if n == 1 {
		return per
	}
	return per + int(math.Ceil(5*math.Sqrt(float64(per))))
}

// key identifies a cached result: repo is REGISTRY/REPOSITORY.
type key struct {
	repo   string
	digest string
}

// name is the reference the verifier is given for k.
func (k key) name() string { return k.repo + "@" + k.digest }

// entry is one cached verdict. Its strings are shared: repo with every
// entry of the repository, digest with the map key, and most of the verdict
// with every entry that says the same (see verdict).
type entry struct {
	repo, digest string
	// expires is when the entry stops being served, on the cache's
	// monotonic clock (nanoseconds since Cache.epoch).
	expires    int64
	prev, next *entry
	verdict    verdict
}

func (e *entry) key() key { return key{e.repo, e.digest} }

// New returns a cache in front of next.
func New(next Verifier, opts Options) *Cache {
	c := &Cache{
		positiveTTL:   orDefault(opts.PositiveTTL, DefaultPositiveTTL),
		negativeTTL:   orDefault(opts.NegativeTTL, DefaultNegativeTTL),
		maxEntries:    opts.MaxEntries,
		verifyTimeout: orDefault(opts.VerifyTimeout, DefaultVerifyTimeout),
		resolver:      opts.Resolver,
		onLookup:      opts.OnLookup,
		seed:          maphash.MakeSeed(),
		epoch:         time.Now(),
	}
	switch {
	case opts.MaxVerifications == 0:
		c.slots = make(chan struct{}, DefaultMaxVerifications)
	case opts.MaxVerifications > 0:
		c.slots = make(chan struct{}, opts.MaxVerifications)
	}
	if c.maxEntries == 0 {
		c.maxEntries = DefaultMaxEntries
	}
	n := 1
	if c.maxEntries >= shardThreshold {
		n = numShards
	}
	c.shards = make([]shard, n)
	for i := range c.shards {
		s := &c.shards[i]
		s.entries = map[key]*entry{}
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.max = shardCapacity(c.maxEntries, n)
	}
	c.next = next
	return c
}

func (c *Cache) shard(k key) *shard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, k.digest)%uint64(len(c.shards))]
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Len returns the number of results kept, expired ones included until they
// are looked up or evicted.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// Verify returns the verdict on ref: from the cache when a definitive one
// is kept for its digest (with Cached set),
// else from the verifier, shared with concurrent callers for the same
// digest. The Result's Reference is ref, and Tag its tag when a tag was
// resolved; Duration is how long this call took.
//
// Verify returns when ctx is done even if the shared verification is still
// running; the Result then says that verification did not finish in time.
func (c *Cache) Verify(ctx context.Context, ref string) verify.Result {
	start := time.Now()
	if r, ok := c.lookupAt(ref, start); ok {
		return r
	}

	parsed, err := oci.ParseReference(ref)
	if err != nil {
		// The verifier explains the reference's problem; nothing is cached.
		return finish(c.verifyBounded(ctx, c.next, ref), ref, "", start)
	}
	tag := ""
	var subject *ocispec.Descriptor
	if parsed.ValidateReferenceAsDigest() != nil {
		if c.resolver == nil {
			return finish(c.verifyBounded(ctx, c.next, ref), ref, "", start)
		}
		desc, err := c.resolver.Resolve(ctx, ref)
		if err != nil || desc.Digest.Validate() != nil {
			// The verifier resolves the tag again and words the registry's
			// failure (or succeeds, if the failure passed); either way the
			// result is not cached, since it is not keyed by a digest.
			return finish(c.verifyBounded(ctx, c.next, ref), ref, "", start)
		}
		tag = parsed.Reference
		parsed.Reference = desc.Digest.String()
		subject = &desc
	}
	k := key{parsed.Registry + "/" + parsed.Repository, parsed.Reference}
	if r, ok := c.get(k, start); ok {
		c.lookup(true)
		return finish(r, ref, tag, start)
	}
	c.lookup(false)
	return finish(c.verifyShared(ctx, k, subject), ref, tag, start)
}

// Lookup returns the verdict kept for ref when ref is written with its
// digest (REGISTRY/REPOSITORY[:TAG]@DIGEST) and a definitive verdict is
// kept for that digest, as Verify would
// return it. It never calls the verifier, never waits and never resolves a
// tag; on a miss (ok false) call Verify, which counts the lookup. Callers
// answering many images use it to skip per-image goroutines for hits.
func (c *Cache) Lookup(ref string) (r verify.Result, ok bool) {
	start := time.Now()
	return c.lookupAt(ref, start)
}

// lookupAt is Verify's fast path: a reference already written as
// REGISTRY/REPOSITORY@DIGEST (possibly with a tag) is looked up without a
// full parse. A hit proves the name valid, since only names the slow path
// built are stored. Only hits are counted.
func (c *Cache) lookupAt(ref string, start time.Time) (verify.Result, bool) {
	repo, digest, ok := quickDigestName(ref)
	if !ok {
		return verify.Result{}, false
	}
	r, ok := c.get(key{repo, digest}, start)
	if !ok {
		return verify.Result{}, false
	}
	c.lookup(true)
	return finish(r, ref, "", start), true
}

func (c *Cache) lookup(hit bool) {
	if c.onLookup != nil {
		c.onLookup(hit)
	}
}

// verifyShared runs one verification of k for every concurrent caller and
// stores a definitive result. subject, if not nil, is the descriptor the
// registry gave for k's digest when the tag was resolved: a verifier that
// takes it (verify.SubjectVerifier) does not read the manifest again, which
// saves a tag reference one registry request.
func (c *Cache) verifyShared(ctx context.Context, k key, subject *ocispec.Descriptor) verify.Result {
	name := k.name()
	ch := c.flights.DoChan(name, func() (any, error) {
		// A flight for k may have finished just before this one started.
		if r, ok := c.get(k, time.Now()); ok {
			return r, nil
		}
		// Detached from the caller that happened to start the flight: its
		// context values stay (for tracing), its cancellation does not.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.verifyTimeout)
		defer cancel()
		var r verify.Result
		if sv, ok := c.next.(verify.SubjectVerifier); ok && subject != nil {
			r = c.verifyBoundedSubject(vctx, sv, name, subject)
		} else {
			r = c.verifyBounded(vctx, c.next, name)
		}
		c.store(k, r)
		return r, nil
	})
	select {
	case res := <-ch:
		return res.Val.(verify.Result)
	case <-ctx.Done():
		return unfinished(ctx, k)
	}
}

// verifyBounded calls v unless MaxVerifications calls are running already;
// then it answers at once that hallmark is busy, a transient failure that is
// never cached, rather than queue a caller past its deadline.
func (c *Cache) verifyBounded(ctx context.Context, v Verifier, ref string) verify.Result {
	if busy, ok := c.acquire(ref); !ok {
		return busy
	}
	defer c.releaseSlot()
	return v.Verify(ctx, ref)
}

// verifyBoundedSubject is verifyBounded handing v the subject.
func (c *Cache) verifyBoundedSubject(ctx context.Context, v verify.SubjectVerifier, ref string, subject *ocispec.Descriptor) verify.Result {
	if busy, ok := c.acquire(ref); !ok {
		return busy
	}
	defer c.releaseSlot()
	// A copy: what the verifier writes into it stays in this flight.
	d := *subject
	return v.VerifySubject(ctx, ref, &d)
}

// acquire takes a verification slot, or returns the busy result.
func (c *Cache) acquire(ref string) (verify.Result, bool) {
	if c.slots == nil {
		return verify.Result{}, true
	}
	select {
	case c.slots <- struct{}{}:
		return verify.Result{}, true
	default:
		return verify.Result{
			Reference:   ref,
			Code:        verify.CodeError,
			Reason:      fmt.Sprintf("hallmark is running as many verifications as it allows at once (%d), so %s was not verified; retry", cap(c.slots), ref),
			Remediation: "retry; if it persists, the server verifies more images at once than it is sized for",
			Transient:   true,
		}, false
	}
}

func (c *Cache) releaseSlot() {
	if c.slots != nil {
		<-c.slots
	}
}

// unfinished is the result for a caller whose context ended before the
// shared verification did. It is transient, as a retry may well succeed.
func unfinished(ctx context.Context, k key) verify.Result {
	repo := k.repo
	r := verify.Result{
		Reference: k.name(),
		Digest:    k.digest,
		Code:      verify.CodeTimeout,
		Transient: true,
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		r.Reason = fmt.Sprintf("verification of %s was cancelled", repo)
		r.Remediation = "retry"
	} else {
		r.Reason = fmt.Sprintf("verification of %s did not finish in time; retry, or allow more time", repo)
		r.Remediation = "retry, or allow more time for verification"
	}
	return r
}

// finish makes r the answer to this call.
func finish(r verify.Result, ref, tag string, start time.Time) verify.Result {
	r.Reference = ref
	if tag != "" {
		r.Tag = tag
	}
	r.Duration = time.Since(start)
	// Full slices: a caller's append copies instead of writing into the
	// array shared with the cache and other callers.
	r.Warnings = r.Warnings[:len(r.Warnings):len(r.Warnings)]
	r.Signatures = r.Signatures[:len(r.Signatures):len(r.Signatures)]
	return r
}

// get returns the live result for k, marking it recently used. The Result
// is rebuilt outside the shard's lock: a verdict is never changed in place
// (store replaces it whole), so the copy taken under the lock stays valid.
func (c *Cache) get(k key, now time.Time) (verify.Result, bool) {
	s := c.shard(k)
	s.mu.Lock()
	e := s.entries[k]
	if e == nil {
		s.mu.Unlock()
		return verify.Result{}, false
	}
	if int64(now.Sub(c.epoch)) >= e.expires {
		s.remove(e)
		s.mu.Unlock()
		return verify.Result{}, false
	}
	unlink(e)
	s.pushFront(e)
	v, digest := e.verdict, e.digest
	s.mu.Unlock()
	r := v.result(digest)
	r.Cached = true
	return r, true
}

// store keeps r under k if it is definitive and was made for k's digest.
func (c *Cache) store(k key, r verify.Result) {
	if !definitive(r) || r.Digest != k.digest || c.maxEntries < 0 {
		return
	}
	ttl := c.negativeTTL
	if r.Verified {
		ttl = c.positiveTTL
	}
	if ttl <= 0 {
		return
	}
	if n := len(r.Signatures); n > maxCachedSignatures {
		r.Signatures = r.Signatures[n-maxCachedSignatures:]
	}
	v := compact(r)
	// The entry's strings are the result's digest (not k's, which may be
	// part of a caller's longer reference) and the repository's canonical
	// name, one copy for all its images.
	repo := unique.Make(k.repo).Value()
	expires := int64(time.Since(c.epoch) + ttl)

	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[k]; e != nil {
		e.verdict, e.expires = v, expires
		unlink(e)
		s.pushFront(e)
		return
	}
	e := &entry{repo: repo, digest: r.Digest, expires: expires, verdict: v}
	s.entries[e.key()] = e
	s.pushFront(e)
	for len(s.entries) > s.max {
		s.remove(s.lru.prev)
	}
}

// definitive reports whether r may be reused: a verdict that a retry would
// repeat. Anything the engine marks transient is not, and neither are the
// outcomes that are transient by nature, whatever the flag says, nor
// unexpected errors and results that contradict themselves.
func definitive(r verify.Result) bool {
	if r.Transient {
		return false
	}
	switch r.Code {
	case verify.CodeVerified, verify.CodeSkipped:
		return r.Verified
	case "", verify.CodeTimeout, verify.CodeRegistryUnavailable, verify.CodeRevocationUnknown, verify.CodeError:
		return false
	default:
		return !r.Verified
	}
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *shard) remove(e *entry) {
	unlink(e)
	delete(s.entries, e.key())
}

// quickDigestName splits a reference of the form REPO[:TAG]@DIGEST, where
// REPO is REGISTRY/REPOSITORY, without validating REPO or DIGEST: the caller
// only uses them to look up keys that were validated when stored, and needs
// no allocation to do so. The tag, which oci.ParseReference checks but does
// not use, is checked the same way here, so that a reference the slow path
// refuses is never a hit.
func quickDigestName(ref string) (repo, digest string, ok bool) {
	at := strings.LastIndexByte(ref, '@')
	if at < 0 {
		return "", "", false
	}
	repo, digest = ref[:at], ref[at+1:]
	slash := strings.LastIndexByte(repo, '/')
	if slash < 0 {
		return "", "", false
	}
	if colon := strings.LastIndexByte(repo[slash:], ':'); colon >= 0 {
		if !oci.ValidTag(repo[slash+colon+1:]) {
			return "", "", false
		}
		repo = repo[:slash+colon]
	}
	return repo, digest, true
}
