package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/softhsmtest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestPKCS11SignaturesVerifyWithNotation makes RSA-2048 and EC P-256 keys on
// a SoftHSM2 token with hallmark key create --provider pkcs11, signs images in
// the distribution registry with them (COSE and JWS), and checks that the
// notation CLI verifies each signature; the same keys' cosign signatures
// verify with the cosign CLI.
func TestPKCS11SignaturesVerifyWithNotation(t *testing.T) {
	skipShort(t)
	tok := softhsmtest.New(t, "interop-pin", "interop-hsm")[0]
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	var stores, identities []string
	for _, k := range []struct{ name, keyProps string }{
		{"hsm-rsa2048", `{"keyType": "RSA-HSM", "keySize": 2048, "exportable": false}`},
		{"hsm-ec256", `{"keyType": "EC-HSM", "curve": "P-256", "exportable": false}`},
	} {
		policy := e.writeFile(k.name+".json", []byte(fmt.Sprintf(`{
  "issuerParameters": {"name": "Self"},
  "keyProperties": %s,
  "x509CertificateProperties": {"ekus": ["1.3.6.1.5.5.7.3.3"], "keyUsage": ["digitalSignature"],
    "subject": "CN=%s,O=Interop,ST=WA,C=US", "validityInMonths": 12}
}`, k.keyProps, k.name)))
		created := e.hallmark("key", "create", k.name, "--provider", "pkcs11", "--pkcs11-uri", tok.URI(""), "--policy", policy)
		if !strings.Contains(created.Stdout, "Created key "+k.name+"/1") || strings.Contains(created.Stdout, tok.PIN) {
			t.Fatalf("key create printed:\n%s", created.Stdout)
		}
		root := e.hallmark("key", "export-cert", tok.URI(k.name), "--root-only").Stdout
		e.writeFile(filepath.Join("notation", "truststore", "x509", "ca", k.name, "root.pem"), []byte(root))
		stores = append(stores, "ca:"+k.name)
		identities = append(identities, "x509.subject: C=US, ST=WA, O=Interop, CN="+k.name)
	}
	e.writeFile(filepath.Join("notation", "trustpolicy.json"), trustPolicy("strict", stores, identities))

	// The key list of the token shows both keys, and no private material.
	list := e.hallmark("key", "list", "--provider", "pkcs11", "--pkcs11-uri", tok.URI(""))
	for _, name := range []string{"hsm-rsa2048", "hsm-ec256"} {
		if !strings.Contains(list.Stdout, name) {
			t.Fatalf("key list does not show %s:\n%s", name, list.Stdout)
		}
	}

	for _, name := range []string{"hsm-rsa2048", "hsm-ec256"} {
		for _, format := range []string{"cose", "jws"} {
			t.Run(name+"-"+format, func(t *testing.T) {
				e.t = t
				ref := pushImage(t, host, "pkcs11-signed", name+"-"+format, name+format)
				e.hallmark("sign", ref, "--key", tok.URI(name), "--signature-format", format, "--plain-http")
				nv := e.notationCmd("verify", "--insecure-registry", ref)
				if nv.Code != 0 || !strings.Contains(nv.Stdout, "Successfully verified") {
					t.Fatalf("notation verify of a %s signature made on SoftHSM2 by %s failed:\n%s", format, name, nv)
				}
			})
		}
		// The same token key makes cosign signatures the cosign CLI
		// verifies with the public key hallmark prints.
		t.Run(name+"-cosign", func(t *testing.T) {
			e.t = t
			ref := pushImage(t, host, "pkcs11-signed", name+"-cosign", name+"cosign")
			e.hallmark("sign", ref, "--key", tok.URI(name), "--signature-format", "cosign", "--plain-http")
			pub := e.writeFile(name+".pub", []byte(e.hallmark("key", "export-cert", tok.URI(name), "--public-key").Stdout))
			e.cosign("verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", ref)
		})
	}
}
