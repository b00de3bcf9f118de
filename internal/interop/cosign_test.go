package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// cosign runs the real cosign v2.6.5 CLI in the env, with an empty key
// password, and fails the test unless it exits 0.
func (e *env) cosign(args ...string) result {
	e.t.Helper()
	r := proctest.Run(e.t, append(e.environ(), "COSIGN_PASSWORD="), testpeers.CosignPath(e.t), args...)
	if r.Code != 0 {
		e.t.Fatalf("cosign %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// cosignSign signs ref with the key pair prefix (prefix.key) and no
// transparency-log upload, in the .sig form or, with bundle, as a Sigstore
// bundle referrer.
func (e *env) cosignSign(prefix, ref string, bundle bool) {
	e.t.Helper()
	args := []string{"sign", "--key", prefix + ".key", "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", "-y"}
	if bundle {
		args = append(args, "--new-bundle-format")
	}
	e.cosign(append(args, ref)...)
}

// TestCosignSignaturesVerifyWithHallmark: images signed only by the real
// cosign CLI (.sig tag and bundle referrer, against the distribution
// registry) verify with `hallmark verify --cosign-key`, fail with another
// key, and go through `hallmark serve` by the configuration's signature
// kinds: admitted where the scope accepts cosign, denied where it requires
// Notary Project signatures, in the webhook and the Gatekeeper encodings;
// `hallmark verify --config` agrees.
func TestCosignSignaturesVerifyWithHallmark(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	good, other := filepath.Join(e.dir, "good"), filepath.Join(e.dir, "other")
	e.cosign("generate-key-pair", "--output-key-prefix", good)
	e.cosign("generate-key-pair", "--output-key-prefix", other)

	sigImg := pushImage(t, host, "app", "sig", "cosign-sig")
	e.cosignSign(good, sigImg, false)
	bundleImg := pushImage(t, host, "app", "bundle", "cosign-bundle")
	e.cosignSign(good, bundleImg, true)
	notaryOnly := pushImage(t, host, "notary-only", "v1", "cosign-notary-only")
	e.cosignSign(good, notaryOnly, false)
	unsigned := pushImage(t, host, "app", "unsigned", "cosign-unsigned")

	t.Run("verify --cosign-key", func(t *testing.T) {
		for _, img := range []string{sigImg, bundleImg} {
			r := e.run(hallmarkBin, "verify", img, "--cosign-key", good+".pub", "--plain-http")
			if r.Code != 0 || !strings.HasPrefix(r.Stdout, "PASS") {
				t.Errorf("verify %s with the signing key: %s", img, r)
			}
			r = e.run(hallmarkBin, "verify", img, "--cosign-key", other+".pub", "--plain-http")
			if r.Code != 1 || !strings.Contains(r.Stdout, "was not made with any key") {
				t.Errorf("verify %s with another key: %s", img, r)
			}
		}
		r := e.run(hallmarkBin, "verify", unsigned, "--cosign-key", good+".pub", "--plain-http")
		if r.Code != 1 || !strings.Contains(r.Stdout, "has no cosign signature") {
			t.Errorf("verify unsigned: %s", r)
		}
	})

	// A Notary Project setup beside cosign, as a cluster that runs both has.
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.writeFile(filepath.Join("ts", "x509", "ca", "trusted", "root.pem"), []byte(e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout))
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:trusted"}, []string{"*"}))
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	cfg := e.writeFile("config.yaml", fmt.Appendf(nil, `
tls: {certFile: %s, keyFile: %s}
registries: [{hosts: ["*"], plainHTTP: true}]
trustStoreDir: %s
trustPolicy: {file: %s}
cosign:
  policies:
  - name: release
    scopes: ["*"]
    keys: [{file: %s}]
signatureKinds:
  default: any
  rules:
  - scopes: [%s/notary-only]
    require: notation
`, certFile, keyFile, filepath.Join(e.dir, "ts"), policy, good+".pub", host))

	t.Run("verify --config", func(t *testing.T) {
		if r := e.run(hallmarkBin, "verify", sigImg, bundleImg, "--config", cfg); r.Code != 0 {
			t.Errorf("cosign-signed images under default any: %s", r)
		}
		if r := e.run(hallmarkBin, "verify", notaryOnly, "--config", cfg); r.Code != 1 || !strings.Contains(r.Stdout, "no Notary Project signature") {
			t.Errorf("cosign-signed image where Notary Project signatures are required: %s", r)
		}
	})

	s := e.serve(t, pool, "--config", cfg)
	t.Run("webhook", func(t *testing.T) {
		if r := s.review(t, "/validate", podReview("c-1", "default", sigImg, bundleImg)); !r.Response.Allowed {
			t.Fatalf("pod with cosign-signed images denied where cosign is accepted: %+v", r.Response)
		}
		r := s.review(t, "/validate", podReview("c-2", "default", notaryOnly))
		if r.Response.Allowed || r.Response.Status == nil || !strings.Contains(r.Response.Status.Message, "no Notary Project signature") {
			t.Fatalf("pod with a cosign-only image admitted where Notary Project signatures are required: %+v", r.Response)
		}
	})
	t.Run("gatekeeper", func(t *testing.T) {
		body := fmt.Sprintf(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[%q,%q]}}`, sigImg, notaryOnly)
		resp, err := s.client.Post(s.url+"/ratify/gatekeeper/v1/verify", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var pr struct {
			Response struct {
				Items []struct {
					Key   string `json:"key"`
					Value struct {
						IsSuccess       bool `json:"isSuccess"`
						VerifierReports []struct {
							VerifierName string `json:"verifierName"`
							ArtifactType string `json:"artifactType"`
							IsSuccess    bool   `json:"isSuccess"`
						} `json:"verifierReports"`
					} `json:"value"`
				} `json:"items"`
			} `json:"response"`
		}
		if err := json.Unmarshal(data, &pr); err != nil || len(pr.Response.Items) != 2 {
			t.Fatalf("not a 2-item ProviderResponse (%v): %s", err, data)
		}
		ok, denied := pr.Response.Items[0].Value, pr.Response.Items[1].Value
		found := false
		for _, r := range ok.VerifierReports {
			found = found || r.VerifierName == "cosign" && r.IsSuccess && r.ArtifactType == "application/vnd.dev.cosign.artifact.sig.v1+json"
		}
		if !ok.IsSuccess || !found {
			t.Errorf("cosign-signed image: want isSuccess with a passing cosign report: %s", data)
		}
		if denied.IsSuccess {
			t.Errorf("cosign-only image where Notary Project signatures are required is isSuccess: %s", data)
		}
	})
}

// TestHallmarkCosignSignaturesVerifyWithCosign: `hallmark sign
// --signature-format cosign` with keys of the local store (ECDSA and RSA)
// writes signatures the real cosign CLI verifies with the key `hallmark
// key export-cert --public-key` prints, and hallmark verifies too; a
// signature cosign made first stays in the same .sig manifest and still
// verifies; the wrong key fails in both; the signed annotations are in
// the payload cosign prints.
func TestHallmarkCosignSignaturesVerifyWithCosign(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	img := pushImage(t, host, "app", "v1", "hallmark-cosign")
	tagged := host + "/app:v1"

	// cosign signs first: hallmark adds to its manifest.
	theirs := filepath.Join(e.dir, "theirs")
	e.cosign("generate-key-pair", "--output-key-prefix", theirs)
	e.cosignSign(theirs, img, false)

	pubs := map[string]string{}
	for _, k := range []struct{ name, keyType string }{{"release-ec", "EC"}, {"release-rsa", "RSA"}} {
		e.hallmark("key", "create", k.name, "--subject", "CN="+k.name+",O=Interop,ST=WA,C=US", "--key-type", k.keyType)
		r := e.hallmark("sign", tagged, "--key", k.name, "--signature-format", "cosign", "-m", "build=42", "--plain-http", "-o", "json")
		var out signOutput
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.Format != "cosign" || out.Reference != img || out.SignatureManifest == "" {
			t.Fatalf("sign -o json: %v %+v\n%s", err, out, r)
		}
		pubs[k.name] = e.writeFile(k.name+".pub", []byte(e.hallmark("key", "export-cert", k.name, "--public-key").Stdout))
	}
	pubs["theirs"] = theirs + ".pub"

	for name, pub := range pubs {
		t.Run("cosign verify with "+name, func(t *testing.T) {
			r := e.cosign("verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", img)
			if name != "theirs" && !strings.Contains(r.Stdout, `"build":"42"`) {
				t.Errorf("cosign's verified payloads lack the signed annotation: %s", r.Stdout)
			}
			if r := e.run(hallmarkBin, "verify", img, "--cosign-key", pub, "--plain-http"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "PASS") {
				t.Errorf("hallmark verify --cosign-key %s: %s", name, r)
			}
		})
	}
	// The key store's name for the key, in place of a public key file.
	for _, ref := range []string{"release-ec", "release-rsa/*"} {
		if r := e.run(hallmarkBin, "verify", img, "--cosign-key", ref, "--plain-http"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "PASS") {
			t.Errorf("hallmark verify --cosign-key %s (a key reference): %s", ref, r)
		}
	}
	if r := e.run(hallmarkBin, "verify", img, "--cosign-key", "no-such-key", "--plain-http"); r.Code == 0 || !strings.Contains(r.Stderr, "no such file, and as a key") {
		t.Errorf("hallmark verify --cosign-key with neither a file nor a key: %s", r)
	}
	other := filepath.Join(e.dir, "other")
	e.cosign("generate-key-pair", "--output-key-prefix", other)
	r := proctest.Run(t, append(e.environ(), "COSIGN_PASSWORD="), testpeers.CosignPath(t), "verify", "--key", other+".pub", "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", img)
	if r.Code == 0 {
		t.Errorf("cosign verify with a key that signed nothing passed: %s", r)
	}
	if r := e.run(hallmarkBin, "verify", img, "--cosign-key", other+".pub", "--plain-http"); r.Code != 1 {
		t.Errorf("hallmark verify with a key that signed nothing: %s", r)
	}

	// Flags of Notary Project signing are refused, not ignored.
	if r := e.run(hallmarkBin, "sign", img, "--key", "release-ec", "--signature-format", "cosign", "--expiry", "24h", "--plain-http"); r.Code != 2 || !strings.Contains(r.Stderr, "--expiry is for Notary Project signatures") {
		t.Errorf("sign --signature-format cosign --expiry: %s", r)
	}
}

// signOutput is `hallmark sign -o json` for one image.
type signOutput struct {
	Reference         string `json:"reference"`
	SignatureManifest string `json:"signatureManifest"`
	Format            string `json:"format"`
}
