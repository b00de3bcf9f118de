package azurekv

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// TestCurrent: Current reads the certificate by name alone, which the
// vault answers with its newest version (Get Certificate: "If not
// specified, the latest version of the certificate is returned",
// learn.microsoft.com/rest/api/keyvault/certificates/get-certificate/get-certificate),
// follows a rotation, and refuses a current version that is disabled
// rather than fall back to an older one.
func TestCurrent(t *testing.T) {
	v := newFakeVault(t)
	p := v.provider(t)
	ctx := context.Background()
	pol := policyFile(t, "../certpolicy/testdata/policy/notation.json")
	first, err := p.Create(ctx, "signer", pol)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Current(ctx, "signer")
	if err != nil || got.Version != first.Version || !got.Chain[0].Equal(first.Chain[0]) {
		t.Fatalf("Current = %s, %v; want version %s", got.Version, err, first.Version)
	}
	v.mu.Lock()
	last := v.requests[len(v.requests)-1]
	v.mu.Unlock()
	// The SDK ends the path with the empty version's "/".
	if strings.TrimSuffix(last, "/") != "GET /certificates/signer" {
		t.Errorf("Current sent %q, want GET /certificates/signer/ (no version)", last)
	}

	second, err := p.Rotate(ctx, "signer", pol)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Current(ctx, "signer"); err != nil || got.Version != second.Version || got.Chain[0].Equal(first.Chain[0]) {
		t.Fatalf("after rotation Current = %s, %v; want version %s", got.Version, err, second.Version)
	}

	v.mu.Lock()
	vs := v.certs["signer"]
	vs[len(vs)-1].disabled = true
	v.mu.Unlock()
	if got, err := p.Current(ctx, "signer"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("current version disabled: Current = %s, %v; want ErrDisabled", got.Version, err)
	}

	if _, err := p.Current(ctx, "absent"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("absent certificate: %v, want ErrNotFound", err)
	}
	if _, err := p.Current(ctx, "no/slash"); !errors.Is(err, keys.ErrInvalidRef) {
		t.Errorf("bad name: %v, want ErrInvalidRef", err)
	}
}
