package ratify_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

const policyTrustPolicy = `{"version": "1.0", "trustPolicies": [{"name": "default", "registryScopes": ["*"],
  "signatureVerification": {"level": "strict"}, "trustStores": ["ca:certs"], "trustedIdentities": ["*"]}]}`

// TestImportedConfigPolicyVerifiesAsRatify: Ratify v1.4.6 and the
// configuration its resources import to give the same verdict on the same
// images, under the config policy "all" (the chart's, and what no Policy
// imports as), under "any", and with Ratify's built-in default. The
// image with one good and one bad Notary Project signature is what tells
// them apart: denied under all, admitted under any. The Verifier's
// certificates come from verificationCerts, a folder both read.
func TestImportedConfigPolicyVerifiesAsRatify(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Ratify v1.4.6 (tools/ratify) and the distribution registry")
	}
	ctx := t.Context()
	w := newParityWorld(t)
	host, root, certDir, client := w.host, w.root, w.certDir, w.client
	other := verifytest.NewRootCA(t, "Mallory Root")
	goodKey, goodLeaf := root.ValidLeaf(t, "builder")
	badKey, badLeaf := other.ValidLeaf(t, "builder")
	type signer struct {
		key   crypto.Signer
		chain []*x509.Certificate
	}
	good := signer{goodKey, []*x509.Certificate{goodLeaf, root.Cert}}
	bad := signer{badKey, []*x509.Certificate{badLeaf, other.Cert}}
	images := map[string]string{}
	for _, img := range []struct {
		name    string
		signers []signer
	}{
		{"one-good", []signer{good}},
		{"good-and-bad", []signer{good, bad}},
		{"bad-and-good", []signer{bad, good}},
		{"two-good", []signer{good, good}},
		{"bad", []signer{bad}},
		{"unsigned", nil},
	} {
		desc, err := devregistry.PushSampleImage(ctx, host, "policy/"+img.name, "v1", img.name)
		if err != nil {
			t.Fatal(err)
		}
		ref := host + "/policy/" + img.name + "@" + desc.Digest.String()
		repo, err := client.NotationRepository(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range img.signers {
			if _, err := signing.Sign(ctx, s.key, s.chain, repo, ref, signing.Options{}); err != nil {
				t.Fatalf("sign %s: %v", ref, err)
			}
		}
		images[img.name] = ref
	}

	resources := notationResources(certDir, policyTrustPolicy, false)
	for _, tt := range []struct {
		name   string
		policy map[string]string // nil: no Policy resource (Ratify: the chart's)
		admits map[string]bool
	}{
		{"no Policy, the chart's all", nil, map[string]bool{"one-good": true, "two-good": true}},
		{"default all", map[string]string{"default": "all"}, map[string]bool{"one-good": true, "two-good": true}},
		{"notation any", map[string]string{ratify.NotationArtifactType: "any"}, map[string]bool{"one-good": true, "two-good": true, "good-and-bad": true, "bad-and-good": true}},
		{"built-in default", map[string]string{}, map[string]bool{"one-good": true, "two-good": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, ratifyPolicy := convertWithPolicy(t, resources, tt.policy)
			gen, err := serve.Build(ctx, res.Config, serve.BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := testpeers.RunRatify(t, testpeers.RatifyOptions{Registry: host, TrustStoreDir: certDir,
				TrustPolicyJSON: []byte(policyTrustPolicy), ArtifactVerificationPolicies: ratifyPolicy, LogLevel: "warn"})
			ratifySays := ratifyVerdicts(t, r.URL, images)
			for name, ref := range images {
				got := gen.Cache.Verify(ctx, ref)
				if got.Verified != tt.admits[name] || ratifySays[name] != tt.admits[name] {
					t.Errorf("%s: hallmark %v (%s), Ratify %v; want %v", name, got.Verified, got.Reason, ratifySays[name], tt.admits[name])
				}
			}
		})
	}
}

// ratifyVerdicts asks Ratify's Gatekeeper endpoint about every image and
// returns isSuccess per image name.
func ratifyVerdicts(t *testing.T, url string, images map[string]string) map[string]bool {
	t.Helper()
	var keys []string
	byRef := map[string]string{}
	for name, ref := range images {
		keys = append(keys, ref)
		byRef[ref] = name
	}
	body, _ := json.Marshal(map[string]any{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": map[string]any{"keys": keys}})
	resp, err := http.Post(url+testpeers.RatifyVerifyPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var pr struct {
		Response struct {
			Items []struct {
				Key   string `json:"key"`
				Error string `json:"error"`
				Value struct {
					IsSuccess bool `json:"isSuccess"`
				} `json:"value"`
			} `json:"items"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &pr); err != nil || len(pr.Response.Items) != len(keys) {
		t.Fatalf("Ratify's answer %s: %v", data, err)
	}
	out := map[string]bool{}
	for _, it := range pr.Response.Items {
		out[byRef[it.Key]] = it.Error == "" && it.Value.IsSuccess
	}
	return out
}

// convertWithPolicy converts resources with a config-policy Policy whose
// artifactVerificationPolicies are avp added, or with none when avp is nil,
// failing t on any problem; it returns the result and the policy Ratify
// applies (with none, its chart's: default all).
func convertWithPolicy(t *testing.T, resources string, avp map[string]string) (*ratify.Result, map[string]string) {
	t.Helper()
	text := resources
	ratifyPolicy := avp
	if avp != nil {
		b, _ := json.Marshal(avp)
		text += "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n    artifactVerificationPolicies: " + string(b) + "\n"
	} else {
		ratifyPolicy = map[string]string{"default": "all"}
	}
	rs, ps := ratify.Decode("resources.yaml", []byte(text))
	res := ratify.Convert(rs, ratify.Options{})
	if len(ps) > 0 || !res.OK() {
		t.Fatalf("problems: %v %v", ps, res.Problems)
	}
	return res, ratifyPolicy
}

// notationResources is the Store (plain HTTP, cosign signatures listed when
// cosign says so) and the notation Verifier the parity tests against Ratify
// share: certificates from certDir, the trust policy document given.
func notationResources(certDir, trustPolicy string, cosign bool) string {
	return `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata: {name: store-oras}
spec:
  name: oras
  parameters: {useHttp: true` + map[bool]string{true: ", cosignEnabled: true"}[cosign] + `}
---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-notation}
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCerts: [` + certDir + `]
    trustPolicyDoc: ` + strings.ReplaceAll(trustPolicy, "\n", "") + `
`
}

// parityWorld is what the parity tests against Ratify share: the
// distribution registry, a root CA whose certificate is the one file of
// certDir (the Verifier's verificationCerts), and a plain-HTTP client.
type parityWorld struct {
	host    string
	root    *verifytest.CA
	certDir string
	client  *oci.Client
}

func newParityWorld(t *testing.T) parityWorld {
	t.Helper()
	w := parityWorld{host: testpeers.StartDistribution(t), root: verifytest.NewRootCA(t, "Acme Root"), certDir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(w.certDir, "root.pem"), verifytest.PEM(w.root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.client, err = oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// cosignCLI returns a runner of the real cosign CLI in a home of its own
// (empty key password, no TUF fetch), failing t on an error, and that home.
func cosignCLI(t *testing.T) (func(args ...string), string) {
	t.Helper()
	bin, home := testpeers.CosignPath(t), t.TempDir()
	return func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "HOME="+home, "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(home, "tuf"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign %v: %v\n%s", args, err, out)
		}
	}, home
}
