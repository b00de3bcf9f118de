package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// DefaultMaxSignatureBytes bounds, when Options.MaxSignatureBytes is zero,
// the signature manifests and envelopes that verifications hold at once
// across a client. Real envelopes are a few KiB, so 32 MiB serves thousands
// of verifications at once; what it stops is registries that send
// notation's per-envelope maximum (32 MiB) to many verifications at the
// same time, which would exhaust a server's memory (the chart gives it
// 256 MiB).
const DefaultMaxSignatureBytes = 32 << 20

// firstChunk is the buffer a capped read starts with. It grows as content
// arrives, never to the size a registry declares before the bytes exist.
const firstChunk = 32 << 10

// byteBudget counts bytes held against a bound. A nil budget bounds
// nothing.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports false when that would pass the bound.
func (b *byteBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *byteBudget) give(n int64) {
	if b != nil && n != 0 {
		b.used.Add(-n)
	}
}

// holding is what one verification has taken from the budget.
type holding struct {
	budget *byteBudget
	held   atomic.Int64
}

func (h *holding) take(n int64) bool {
	if h == nil {
		return true
	}
	if !h.budget.take(n) {
		return false
	}
	h.held.Add(n)
	return true
}

// release gives back everything held.
func (h *holding) release() {
	if h != nil {
		h.budget.give(h.held.Swap(0))
	}
}

// errOverBudget is returned by readCapped when the budget is spent.
var errOverBudget = errors.New("over the signature data budget")

// fetchCapped fetches desc from fetcher through readCapped.
func fetchCapped(ctx context.Context, fetcher content.Fetcher, desc ocispec.Descriptor, limit int64, h *holding) ([]byte, error) {
	rc, err := fetcher.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readCapped(rc, desc, limit, h)
}

// readCapped reads the content desc describes, of at most limit bytes. The
// declared size is checked against limit but never allocated: the buffer
// starts small and grows as bytes arrive, each growth taken from h first,
// so a registry that declares a huge size and sends little costs little,
// and one that sends a lot is bounded by limit and the budget. The content
// must match desc's size and digest.
func readCapped(r io.Reader, desc ocispec.Descriptor, limit int64, h *holding) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%w: declared size %d is outside 0 to %d", ErrTooLarge, desc.Size, limit)
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest: %w", err)
	}
	verifier := desc.Digest.Verifier()
	// One byte past the declared size shows a registry sending more.
	lr := io.LimitReader(r, desc.Size+1)
	initial := min(desc.Size+1, firstChunk)
	if !h.take(initial) {
		return nil, errOverBudget
	}
	buf := make([]byte, 0, initial)
	for {
		if len(buf) == cap(buf) {
			grown := min(int64(cap(buf))*2, desc.Size+1)
			if !h.take(grown - int64(cap(buf))) {
				return nil, errOverBudget
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(buf)) < desc.Size {
		return nil, fmt.Errorf("content of %s ended after %d of the %d bytes declared: %w", desc.Digest, len(buf), desc.Size, io.ErrUnexpectedEOF)
	}
	if int64(len(buf)) > desc.Size {
		return nil, fmt.Errorf("content of %s is longer than the %d bytes declared: %w", desc.Digest, desc.Size, content.ErrTrailingData)
	}
	_, _ = verifier.Write(buf)
	if !verifier.Verified() {
		return nil, fmt.Errorf("content does not match digest %s: %w", desc.Digest, content.ErrMismatchedDigest)
	}
	return buf, nil
}
