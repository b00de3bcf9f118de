package ratify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

const skipTrustPolicy = `{"version": "1.0", "trustPolicies": [{"name": "default", "registryScopes": ["*"],
  "signatureVerification": {"level": "skip"}}]}`

// TestSkipLevelAgainstRatify pins what the import's problem about level
// skip says of Ratify v1.4.6: under a statement of level skip it denies an
// image without a signature and stops on one with a signature, so nothing
// there was admitted; hallmark would admit both unchecked, so the import
// refuses the statement rather than loosen what was enforced.
func TestSkipLevelAgainstRatify(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Ratify v1.4.6 (tools/ratify) and the distribution registry")
	}
	ctx := t.Context()
	w := newParityWorld(t)
	host, root, certDir, client := w.host, w.root, w.certDir, w.client
	key, leaf := root.ValidLeaf(t, "builder")
	push := func(name string) string {
		desc, err := devregistry.PushSampleImage(ctx, host, "skip/"+name, "v1", name)
		if err != nil {
			t.Fatal(err)
		}
		return host + "/skip/" + name + "@" + desc.Digest.String()
	}
	unsigned, signed := push("unsigned"), push("signed")
	repo, err := client.NotationRepository(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.Sign(ctx, key, []*x509.Certificate{leaf, root.Cert}, repo, signed, signing.Options{}); err != nil {
		t.Fatal(err)
	}

	resources := notationResources(certDir, skipTrustPolicy, false)
	rs, ps := ratify.Decode("resources.yaml", []byte(resources))
	res := ratify.Convert(rs, ratify.Options{})
	found := false
	for _, p := range res.Problems {
		found = found || strings.Contains(p.Message, `statement "default" has level skip: Ratify v1.4.6 admits nothing`)
	}
	if len(ps) > 0 || res.OK() || !found {
		t.Errorf("import of a skip statement: problems %v %v, want the one on level skip", ps, res.Problems)
	}

	r := testpeers.RunRatify(t, testpeers.RatifyOptions{Registry: host, TrustStoreDir: certDir,
		TrustPolicyJSON: []byte(skipTrustPolicy), ArtifactVerificationPolicies: map[string]string{"default": "all"}, LogLevel: "warn"})
	if ok, answer, err := askRatifyOne(r.URL, unsigned); err != nil || ok {
		t.Errorf("Ratify on the unsigned image: isSuccess %v, %s, %v; want a denial", ok, answer, err)
	}
	if ok, answer, err := askRatifyOne(r.URL, signed); err == nil {
		t.Errorf("Ratify on the signed image answered (isSuccess %v, %s); the import's problem says it stops", ok, answer)
	}
	if !strings.Contains(r.Logs(), "nil pointer dereference") {
		t.Errorf("Ratify's log does not show it stopping:\n%.2000s", r.Logs())
	}
}

// askRatifyOne asks Ratify's Gatekeeper endpoint about one image.
func askRatifyOne(url, ref string) (ok bool, answer []byte, err error) {
	body, _ := json.Marshal(map[string]any{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": map[string]any{"keys": []string{ref}}})
	resp, err := http.Post(url+testpeers.RatifyVerifyPath, "application/json", bytes.NewReader(body))
	if err != nil {
		return false, nil, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(resp.Body)
	return err == nil && bytes.Contains(answer, []byte(`"isSuccess":true`)), answer, err
}
