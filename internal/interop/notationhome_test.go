package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestVerifyWithNotationsSetup: a notation user's setup, made by the notation
// CLI itself in a fresh HOME (notation cert add, notation policy import),
// gives `hallmark verify IMAGE` with no flags the same verdict as `notation
// verify IMAGE`, for a signed, an unsigned and a wrongly signed image.
func TestVerifyWithNotationsSetup(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	// No NOTATION_CONFIG: notation and hallmark both find notation's folder
	// through XDG_CONFIG_HOME, as on a user's machine.
	environ := proctest.HomeEnviron(dir, "notation home passphrase")
	run := func(bin string, args ...string) result {
		t.Helper()
		return proctest.Run(t, environ, bin, args...)
	}
	must := func(bin string, args ...string) result {
		t.Helper()
		r := run(bin, args...)
		if r.Code != 0 {
			t.Fatalf("%s %s: %s", filepath.Base(bin), strings.Join(args, " "), r)
		}
		return r
	}
	notation := testpeers.Path(t, "notation")
	host := testpeers.StartDistribution(t)

	must(hallmarkBin, "key", "create", "release", "--subject", "CN=release,O=Acme,ST=WA,C=US", "--key-type", "EC")
	must(hallmarkBin, "key", "create", "intruder", "--subject", "CN=intruder,O=Acme,ST=WA,C=US", "--key-type", "EC")
	root := filepath.Join(dir, "release-root.pem")
	must(hallmarkBin, "key", "export-cert", "release", "--root-only", "--out", root)

	signed := pushImage(t, host, "app", "signed", "notation-home-signed")
	unsigned := pushImage(t, host, "app", "unsigned", "notation-home-unsigned")
	wrong := pushImage(t, host, "app", "wrong", "notation-home-wrong")
	must(hallmarkBin, "sign", signed, "--key", "release", "--plain-http")
	must(hallmarkBin, "sign", wrong, "--key", "intruder", "--plain-http")

	// notation's own commands write its trust store and trust policy.
	must(notation, "cert", "add", "--type", "ca", "--store", "release", root)
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, trustPolicy("strict", []string{"ca:release"}, []string{"x509.subject: C=US, ST=WA, O=Acme, CN=release"}), 0o600); err != nil {
		t.Fatal(err)
	}
	must(notation, "policy", "import", policy)
	// notation v1.3 writes trustpolicy.json; later releases may write
	// trustpolicy.oci.json, which hallmark reads first, as notation does.
	var written string
	for _, name := range []string{"trustpolicy.oci.json", "trustpolicy.json"} {
		p := filepath.Join(dir, "home", ".config", "notation", name)
		if _, err := os.Stat(p); err == nil {
			written = p
			break
		}
	}
	if written == "" {
		t.Fatal("notation policy import wrote no trust policy in the notation folder")
	}

	for _, tc := range []struct {
		name, ref string
		pass      bool
	}{
		{"signed", signed, true},
		{"unsigned", unsigned, false},
		{"wrongly signed", wrong, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nv := run(notation, "verify", "--insecure-registry", tc.ref)
			hv := run(hallmarkBin, "verify", tc.ref, "--plain-http")
			if (nv.Code == 0) != tc.pass {
				t.Fatalf("notation verify: want pass=%v\n%s", tc.pass, nv)
			}
			if (hv.Code == 0) != tc.pass {
				t.Fatalf("hallmark verify with no flags disagrees with notation verify (pass=%v):\nnotation: %s\nhallmark: %s", tc.pass, nv, hv)
			}
			if !tc.pass && hv.Code != 1 {
				t.Errorf("hallmark verify exit code %d for a failed verification, want 1", hv.Code)
			}
			if want := "Using notation's trust policy " + written; !strings.Contains(hv.Stderr, want) {
				t.Errorf("hallmark verify does not say %q:\n%s", want, hv)
			}
		})
	}
}
