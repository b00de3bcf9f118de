package azurekv

import (
	"context"
	"testing"
)

// TestVault is the fake vault (vault_test.go) for tests outside the
// package, such as the trust store's reading of versions through
// providers, which imports this package.
type TestVault struct {
	v *fakeVault
	// Provider reads the fake vault.
	Provider *Provider
}

// NewTestVault starts a fake vault with a provider for it.
func NewTestVault(t *testing.T) *TestVault {
	v := newFakeVault(t)
	return &TestVault{v: v, Provider: v.provider(t)}
}

// AddVersion makes a new version of certificate name and returns its ID.
func (tv *TestVault) AddVersion(t *testing.T, name string) string {
	t.Helper()
	pol := policyFile(t, "../certpolicy/testdata/policy/notation.json")
	info, err := tv.Provider.Create(context.Background(), name, pol)
	if err != nil {
		info, err = tv.Provider.Rotate(context.Background(), name, pol)
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Version
}

// Disable sets version of name disabled (attributes.enabled false).
func (tv *TestVault) Disable(name, version string) {
	tv.v.mu.Lock()
	defer tv.v.mu.Unlock()
	for _, ver := range tv.v.certs[name] {
		if ver.id == version {
			ver.disabled = true
		}
	}
}

// Requests returns the authenticated requests the vault answered so far
// ("GET /certificates/NAME/VERSION").
func (tv *TestVault) Requests() []string {
	tv.v.mu.Lock()
	defer tv.v.mu.Unlock()
	return append([]string(nil), tv.v.requests...)
}
