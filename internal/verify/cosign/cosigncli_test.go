package cosign_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// cosignCLI runs the real cosign v2.6.5 in a home of its own, with an
// empty key password and no network but the registry.
type cosignCLI struct {
	bin, home string
}

func newCosignCLI(t *testing.T) cosignCLI {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the cosign CLI (tools/cosign)")
	}
	return cosignCLI{bin: testpeers.CosignPath(t), home: t.TempDir()}
}

func (c cosignCLI) run(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.home
	cmd.Env = append(os.Environ(), "HOME="+c.home, "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(c.home, "tuf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %v: %v\n%s", args, err, out)
	}
}

// keyPair makes a cosign key pair named prefix.key / prefix.pub and
// returns the public key.
func (c cosignCLI) keyPair(t *testing.T, prefix string) []cosign.Key {
	t.Helper()
	c.run(t, "generate-key-pair", "--output-key-prefix", prefix)
	data, err := os.ReadFile(filepath.Join(c.home, prefix+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cosign.ParsePublicKeys(prefix+".pub", data)
	if err != nil {
		t.Fatalf("ParsePublicKeys(cosign's own key) = %v", err)
	}
	return keys
}

// TestCosignCLIInterop signs images with the real cosign CLI against the
// distribution registry (no referrers API: bundles land in the
// sha256-<hex> tag index, with cosign's empty artifact type on the index
// entry) and verifies them with hallmark: a .sig simple signature and a
// Sigstore bundle, each with the right key, a wrong key, and none.
func TestCosignCLIInterop(t *testing.T) {
	cli := newCosignCLI(t)
	host := testpeers.StartDistribution(t)
	client, err := oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	good := cli.keyPair(t, "good")
	wrong := cli.keyPair(t, "wrong")

	forms := []struct {
		name  string
		flags []string
	}{
		{"simpleSigning", nil},
		{"bundle", []string{"--new-bundle-format"}},
	}
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			repo := "app-" + strings.ToLower(form.name)
			img, err := devregistry.PushSampleImage(t.Context(), host, repo, "v1", form.name)
			if err != nil {
				t.Fatal(err)
			}
			ref := host + "/" + repo + "@" + img.Digest.String()
			args := append([]string{"sign", "--key", "good.key", "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", "-y"}, form.flags...)
			cli.run(t, append(args, ref)...)
			if form.name == "bundle" {
				// What makes reading the manifest necessary: the index entry
				// cosign writes does not name the bundle type.
				refs, err := client.Referrers(t.Context(), ref, img, "")
				if err != nil || len(refs) != 1 || refs[0].ArtifactType != "application/vnd.oci.empty.v1+json" {
					t.Fatalf("referrers of the cosign bundle = %+v, %v; want one entry with the empty artifact type", refs, err)
				}
			}

			unsigned, err := devregistry.PushSampleImage(t.Context(), host, repo, "unsigned", form.name+"-unsigned")
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				keys []cosign.Key
				ref  string
				code verify.Code
			}{
				{"right key", good, host + "/" + repo + ":v1", verify.CodeVerified},
				{"wrong key", wrong, ref, verify.CodeUntrustedSigner},
				{"unsigned", good, host + "/" + repo + "@" + unsigned.Digest.String(), verify.CodeNoSignature},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v, err := cosign.NewVerifier([]cosign.Policy{{Name: "cli", Scopes: []string{"*"}, Keys: tt.keys}}, client, cosign.Options{})
					if err != nil {
						t.Fatal(err)
					}
					res := v.Verify(t.Context(), tt.ref)
					t.Logf("%s: %s", res.Code, res.Reason)
					if res.Code != tt.code {
						t.Fatalf("Verify(%s) = %s: %s; want %s", tt.ref, res.Code, res.Reason, tt.code)
					}
					if tt.code == verify.CodeVerified {
						s := res.Signatures[len(res.Signatures)-1]
						wantFormat := cosign.MediaTypeSimpleSigning
						if form.name == "bundle" {
							wantFormat = "application/vnd.dev.sigstore.bundle.v0.3+json"
						}
						if s.Format != wantFormat {
							t.Errorf("verified signature format %q, want %q", s.Format, wantFormat)
						}
					}
				})
			}
		})
	}
}
