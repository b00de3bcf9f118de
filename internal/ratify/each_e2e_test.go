package ratify_test

import (
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// TestImportedNotationAndCosignVerifyAsRatify: with a notation and a
// cosign Verifier, Ratify v1.4.6 judges each signature kind an image
// carries. The import (signatureKinds each, no problem, no note on kinds)
// gives the same verdict as Ratify on the same images, signed by the real
// cosign CLI and by hallmark's Notary Project signer: the image with a good
// Notary Project signature and a cosign signature by another key is the
// one that tells each from any (denied) and from all (the images with one
// kind only pass).
func TestImportedNotationAndCosignVerifyAsRatify(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Ratify v1.4.6 (tools/ratify), the cosign CLI (tools/cosign) and the distribution registry")
	}
	ctx := t.Context()
	cosignRun, home := cosignCLI(t)
	cosignRun("generate-key-pair", "--output-key-prefix", "good")
	cosignRun("generate-key-pair", "--output-key-prefix", "other")
	pubPath := filepath.Join(home, "good.pub")

	w := newParityWorld(t)
	host, root, certDir, client := w.host, w.root, w.certDir, w.client
	mallory := verifytest.NewRootCA(t, "Mallory Root")
	goodKey, goodLeaf := root.ValidLeaf(t, "builder")
	badKey, badLeaf := mallory.ValidLeaf(t, "builder")
	images := map[string]string{}
	for _, img := range []struct {
		name     string
		notation string // "", good, bad
		cosign   string // "", good.key, other.key
	}{
		{"notation-good", "good", ""},
		{"notation-bad", "bad", ""},
		{"cosign-good", "", "good.key"},
		{"cosign-bad", "", "other.key"},
		{"both-good", "good", "good.key"},
		{"notation-good-cosign-bad", "good", "other.key"},
		{"notation-bad-cosign-good", "bad", "good.key"},
		{"unsigned", "", ""},
	} {
		desc, err := devregistry.PushSampleImage(ctx, host, "kinds/"+img.name, "v1", img.name)
		if err != nil {
			t.Fatal(err)
		}
		ref := host + "/kinds/" + img.name + "@" + desc.Digest.String()
		if img.notation != "" {
			key, chain := goodKey, []*x509.Certificate{goodLeaf, root.Cert}
			if img.notation == "bad" {
				key, chain = badKey, []*x509.Certificate{badLeaf, mallory.Cert}
			}
			repo, err := client.NotationRepository(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signing.Sign(ctx, key, chain, repo, ref, signing.Options{}); err != nil {
				t.Fatalf("sign %s: %v", ref, err)
			}
		}
		if img.cosign != "" {
			cosignRun("sign", "--key", img.cosign, "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", "-y", ref)
		}
		images[img.name] = ref
	}

	cosignVerifier := map[string]any{
		"name": "verifier-cosign", "type": "cosign", "artifactTypes": ratify.CosignArtifactType,
		"trustPolicies": []any{map[string]any{"name": "default", "scopes": []string{"*"}, "keys": []any{map[string]any{"file": pubPath}}, "tLogVerify": false}},
	}
	resources := notationResources(certDir, policyTrustPolicy, true) + `---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-cosign}
spec:
  name: cosign
  artifactTypes: ` + ratify.CosignArtifactType + `
  parameters: {"trustPolicies": ` + string(mustJSON(t, cosignVerifier["trustPolicies"])) + `}
`
	want := map[string]bool{"notation-good": true, "cosign-good": true, "both-good": true}
	for _, tt := range []struct {
		name   string
		policy map[string]string // nil: no Policy resource (Ratify: the chart's)
	}{
		{"no Policy, the chart's all", nil},
		{"default any", map[string]string{"default": "any"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, ratifyPolicy := convertWithPolicy(t, resources, tt.policy)
			if k := res.Config.SignatureKindDefault(); k != config.KindEach {
				t.Fatalf("signatureKinds.default %s, want each", k)
			}
			for _, n := range res.Notes {
				if strings.Contains(n.Message, "signatureKinds") {
					t.Errorf("note on signature kinds: %s", n.Message)
				}
			}
			gen, err := serve.Build(ctx, res.Config, serve.BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := testpeers.RunRatify(t, testpeers.RatifyOptions{Registry: host, TrustStoreDir: certDir,
				TrustPolicyJSON: []byte(policyTrustPolicy), ArtifactVerificationPolicies: ratifyPolicy, LogLevel: "warn",
				CosignEnabled: true, Verifiers: []map[string]any{cosignVerifier}})
			ratifySays := ratifyVerdicts(t, r.URL, images)
			for name, ref := range images {
				got := gen.Cache.Verify(ctx, ref)
				if got.Verified != want[name] || ratifySays[name] != want[name] {
					t.Errorf("%s: hallmark %v (%s), Ratify %v; want %v", name, got.Verified, got.Reason, ratifySays[name], want[name])
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
