package azurekv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/signing/cosignsig"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// TestNotationVerifiesVaultSignatures signs an image in the distribution
// registry with a key held by the (fake) vault, from the reference setup's
// certificate policy, and checks that the notation CLI verifies it with the
// certificate read back from the vault as its trust store.
func TestNotationVerifiesVaultSignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with the notation CLI; runs without -short")
	}
	ctx := context.Background()
	v := newFakeVault(t)
	p := v.provider(t)
	if _, err := p.Create(ctx, "brooklyn", policyFile(t, "../certpolicy/testdata/policy/notation.json")); err != nil {
		t.Fatal(err)
	}
	key, err := p.Signer(ctx, keys.Ref{Name: "brooklyn"})
	if err != nil {
		t.Fatal(err)
	}
	host := testpeers.StartDistribution(t)
	desc, err := devregistry.PushSampleImage(ctx, host, "akv", "v1", "akv")
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("%s/akv@%s", host, desc.Digest)
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.NotationRepository(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.Sign(ctx, key.Signer, key.Chain, repo, ref, signing.Options{Format: signing.FormatJWS}); err != nil {
		t.Fatal(err)
	}

	certs, err := p.Certificates(ctx, keys.Ref{Name: "brooklyn"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("truststore/x509/ca/akv/root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[len(certs)-1].Raw}))
	policy, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
		"name": "akv", "registryScopes": []string{"*"}, "signatureVerification": map[string]string{"level": "strict"},
		"trustStores": []string{"ca:akv"}, "trustedIdentities": []string{"x509.subject: C=US, ST=NY, L=Brooklyn, O=Notation, CN=brooklyn.io"},
	}}})
	write("trustpolicy.json", policy)
	cmd := exec.Command(testpeers.Path(t, "notation"), "verify", "--insecure-registry", ref)
	cmd.Env = append(os.Environ(), "NOTATION_CONFIG="+dir, "HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "Successfully verified") {
		t.Fatalf("notation verify of a signature made by the vault's key: %v\n%s", err, out.String())
	}
}

// TestCosignVerifiesVaultSignatures: a cosign signature made with the
// vault's keys (RSA, PKCS #1 v1.5 through the vault's RS256; EC P-256
// through ES256) verifies with the real cosign CLI and the key's public
// key.
func TestCosignVerifiesVaultSignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with the cosign CLI; runs without -short")
	}
	ctx := context.Background()
	v := newFakeVault(t)
	p := v.provider(t)
	host := testpeers.StartDistribution(t)
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range []struct{ name, policy string }{
		{"rsa", "../certpolicy/testdata/policy/notation.json"},
		{"ec", "../certpolicy/testdata/policy/wrapped-ec.json"},
	} {
		t.Run(k.name, func(t *testing.T) {
			if _, err := p.Create(ctx, k.name, policyFile(t, k.policy)); err != nil {
				t.Fatal(err)
			}
			key, err := p.Signer(ctx, keys.Ref{Name: k.name})
			if err != nil {
				t.Fatal(err)
			}
			desc, err := devregistry.PushSampleImage(ctx, host, "akv-cosign", k.name, "akv-cosign-"+k.name)
			if err != nil {
				t.Fatal(err)
			}
			ref := fmt.Sprintf("%s/akv-cosign@%s", host, desc.Digest)
			if _, err := cosignsig.Sign(ctx, key.Signer, client, ref, nil); err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(key.Chain[0].PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pub := filepath.Join(dir, k.name+".pub")
			if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			// The P-384 key signs SHA-384, as cosign itself signs with one,
			// and cosign verifies that only when told.
			hash, err := cosignsig.HashFor(key.Signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			alg := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[hash]
			cmd := exec.Command(testpeers.CosignPath(t), "verify", "--key", pub, "--signature-digest-algorithm", alg, "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", ref)
			cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("cosign verify of a signature made by the vault's %s key: %v\n%s", k.name, err, out.String())
			}
			// hallmark's cosign verifier, with the key read back through
			// the keys API, as a Ratify KeyManagementProvider's keys are.
			pubs, err := p.PublicKeys(ctx, keys.Ref{Name: k.name})
			if err != nil || len(pubs) != 1 {
				t.Fatalf("PublicKeys: %+v, %v", pubs, err)
			}
			cv, err := cosign.NewVerifier([]cosign.Policy{{Name: "vault", Scopes: []string{"*"}, Keys: []cosign.Key{{Name: k.name, Public: pubs[0].Key}}}}, client, cosign.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res := cv.Verify(ctx, ref); !res.Verified {
				t.Errorf("hallmark's cosign verifier with the vault key: %s: %s", res.Code, res.Reason)
			}
		})
	}
}
