package serve

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// TestCosignPolicies: a policy's keys come from PEM files, inline PEM and
// hallmark's key store, whose keys give their own certificate's public key
// (the signing key, not the CA that issued it), every version for NAME/*.
func TestCosignPolicies(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	ksDir := filepath.Join(dir, "keys")
	ks, err := local.Open(ksDir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const subj = ",O=Example,ST=WA,C=US"
	self1, err := ks.Create(ctx, "self", ecPolicy(t, "CN=self"+subj, "", false))
	if err != nil {
		t.Fatal(err)
	}
	self2, err := ks.Rotate(ctx, "self", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Create(ctx, "corp-ca", ecPolicy(t, "CN=Corp CA"+subj, "", true)); err != nil {
		t.Fatal(err)
	}
	issued, err := ks.Create(ctx, "release", ecPolicy(t, "CN=release"+subj, "corp-ca", false))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(self1.Chain[0].PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pubFile := writeFile(t, filepath.Join(dir, "cosign.pub"), pubPEM)

	c := base(t)
	c.KeyStore.Dir = ksDir
	c.Cosign.Policies = []config.CosignPolicy{{Name: "p", Scopes: []string{"*"}, Keys: []config.CosignKey{
		{File: pubFile}, {PEM: pubPEM}, {Key: "self/*"}, {Key: "release"},
	}}}
	ps, err := CosignPolicies(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []*x509.Certificate{self1.Chain[0], self1.Chain[0], self2.Chain[0], issued.Chain[0]}
	got := ps[0].Keys
	if len(got) != 5 {
		t.Fatalf("keys = %d, want 5 (file, pem, self v1 and v2, release)", len(got))
	}
	fp := func(k cosign.Key) string { return k.Fingerprint() }
	for _, w := range want {
		found := false
		for _, k := range got {
			found = found || fp(k) == fp(cosign.Key{Public: w.PublicKey})
		}
		if !found {
			t.Errorf("no key for certificate %s", w.Subject)
		}
	}

	c.Cosign.Policies[0].Keys = []config.CosignKey{{Key: "nope"}, {PEM: "not pem"}}
	_, err = CosignPolicies(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "cosign.policies[0].keys[0]") || !strings.Contains(err.Error(), "cosign.policies[0].keys[1]") {
		t.Fatalf("CosignPolicies(bad keys) = %v, want both problems with their paths", err)
	}
}

// TestTrustRefreshFollowsCosignKeys: a cosign key named NAME/* in the key
// store that is rotated puts a new generation in force at the next trust
// refresh, as a Notary Project trust store's key does; nothing rotated, the
// generation stays.
func TestTrustRefreshFollowsCosignKeys(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ksDir := filepath.Join(t.TempDir(), "keys")
	ks, err := local.Open(ksDir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Create(ctx, "release", ecPolicy(t, "CN=release,O=Example,ST=WA,C=US", "", false)); err != nil {
		t.Fatal(err)
	}
	c := runtimeConfig(t)
	c.KeyStore.Dir = ksDir
	c.Cosign.Policies = []config.CosignPolicy{{Name: "p", Scopes: []string{"*"}, Keys: []config.CosignKey{{Key: "release/*"}}}}
	r, err := Start(ctx, &memorySource{cfg: c}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.refreshTrust(ctx)
	if r.Generation() != 1 {
		t.Fatalf("a refresh with nothing rotated made generation %d", r.Generation())
	}
	if _, err := ks.Rotate(ctx, "release", nil); err != nil {
		t.Fatal(err)
	}
	r.refreshTrust(ctx)
	if r.Generation() != 2 {
		t.Fatalf("a rotated cosign key left generation %d in force", r.Generation())
	}
}
