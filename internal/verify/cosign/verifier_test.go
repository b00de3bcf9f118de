package cosign_test

import (
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

const (
	alice  = "alice@example.com"
	issuer = "https://issuer.example.com"
)

func newVerifier(t *testing.T, r testRegistry, p cosign.Policy) *cosign.Verifier {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	if p.Scopes == nil {
		p.Scopes = []string{"*"}
	}
	v, err := cosign.NewVerifier([]cosign.Policy{p}, r.client, cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeyedSimpleSigning(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrersAPI", false: "tagSchema"}[referrers], func(t *testing.T) {
			r := startRegistry(t, referrers)
			key, pub, _ := newKey(t)
			_, other, _ := newKey(t)
			other.Name = "other.pub"

			signed := r.pushImage(t, "app", "signed")
			r.pushSimpleSignatures(t, "app", signed, keyedSig(t, key, r.host+"/app", signed.Digest))
			r.pushImage(t, "bare", "unsigned")
			copied := r.pushImage(t, "copy", "copied")
			// A signature of another image, copied under this one's tag.
			r.pushSimpleSignatures(t, "copy", copied, keyedSig(t, key, r.host+"/app", signed.Digest))

			tests := []struct {
				name string
				keys []cosign.Key
				ref  string
				code verify.Code
			}{
				{"right key", []cosign.Key{pub}, r.host + "/app:v1", verify.CodeVerified},
				{"right key among others", []cosign.Key{other, pub}, r.host + "/app@" + signed.Digest.String(), verify.CodeVerified},
				{"wrong key", []cosign.Key{other}, r.host + "/app:v1", verify.CodeUntrustedSigner},
				{"no signature", []cosign.Key{pub}, r.host + "/bare:v1", verify.CodeNoSignature},
				{"signature of another image", []cosign.Key{pub}, r.host + "/copy:v1", verify.CodeDigestMismatch},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res := newVerifier(t, r, cosign.Policy{Keys: tt.keys}).Verify(t.Context(), tt.ref)
					if res.Code != tt.code || res.Verified != (tt.code == verify.CodeVerified) {
						t.Fatalf("Verify(%s) = %v %s: %s; want %s", tt.ref, res.Verified, res.Code, res.Reason, tt.code)
					}
					if res.Reason == "" {
						t.Error("no reason")
					}
					if tt.code == verify.CodeVerified && (len(res.Signatures) == 0 || res.Signatures[len(res.Signatures)-1].SigningScheme != cosign.SchemeKey || res.Signatures[0].Verifier != cosign.VerifierName) {
						t.Errorf("signatures = %+v", res.Signatures)
					}
				})
			}
		})
	}
}

// TestRevokedKeysAcceptNothing: a policy whose every key is disabled or
// deleted in its vault is valid (the keys were revoked, the configuration
// is right) and accepts no keyed signature, saying why.
func TestRevokedKeysAcceptNothing(t *testing.T) {
	r := startRegistry(t, true)
	key, _, _ := newKey(t)
	img := r.pushImage(t, "app", "signed")
	r.pushSimpleSignatures(t, "app", img, keyedSig(t, key, r.host+"/app", img.Digest))
	const revoked = "https://hallmark-akv.vault.azure.net/keys/cosign-release"
	res := newVerifier(t, r, cosign.Policy{Revoked: []string{revoked}}).Verify(t.Context(), r.host+"/app:v1")
	if res.Verified || res.Code != verify.CodeUntrustedSigner || !strings.Contains(res.Reason, "revoked") || !strings.Contains(res.Reason, revoked) {
		t.Fatalf("Verify = %v %s: %s; want untrusted, naming the disabled key", res.Verified, res.Code, res.Reason)
	}
	if err := (&cosign.Policy{Name: "p", Scopes: []string{"*"}}).Validate(); err == nil {
		t.Error("a policy with neither keys, keyless identities nor revoked keys is valid")
	}
}

func TestKeyedRequiresTransparencyLogWhenAsked(t *testing.T) {
	r := startRegistry(t, true)
	ss := newSigstore(t)
	key, pub, _ := newKey(t)
	img := r.pushImage(t, "app", "signed")
	r.pushSimpleSignatures(t, "app", img, keyedSig(t, key, r.host+"/app", img.Digest))
	res := newVerifier(t, r, cosign.Policy{Keys: []cosign.Key{pub}, TrustedRoot: ss.root, RequireTransparencyLog: true}).Verify(t.Context(), r.host+"/app:v1")
	if res.Verified || res.Code != verify.CodeTransparencyLogMissing {
		t.Fatalf("Verify = %v %s: %s; want %s", res.Verified, res.Code, res.Reason, verify.CodeTransparencyLogMissing)
	}
}

func TestKeyless(t *testing.T) {
	ss := newSigstore(t)
	other := newSigstore(t)
	for _, form := range []string{"simpleSigning", "bundle"} {
		for _, referrers := range []bool{true, false} {
			name := form + map[bool]string{true: "/referrersAPI", false: "/tagSchema"}[referrers]
			t.Run(name, func(t *testing.T) {
				r := startRegistry(t, referrers)
				img := r.pushImage(t, "app", "keyless")
				if form == "bundle" {
					r.pushBundle(t, "app", img, ss.keylessBundle(t, alice, issuer, img.Digest, "https://sigstore.dev/cosign/sign/v1"))
				} else {
					r.pushSimpleSignatures(t, "app", img, ss.keylessSimpleSig(t, alice, issuer, r.host+"/app", img.Digest, true, true))
				}
				ref := r.host + "/app:v1"
				tests := []struct {
					name string
					id   cosign.Identity
					root *sigstore
					code verify.Code
				}{
					{"exact identity and issuer", cosign.Identity{Subject: alice, Issuer: issuer}, &ss, verify.CodeVerified},
					{"regexp identity and issuer", cosign.Identity{SubjectRegExp: `^.*@example\.com$`, IssuerRegExp: `^https://issuer\.example\.com$`}, &ss, verify.CodeVerified},
					{"wrong identity", cosign.Identity{Subject: "mallory@example.com", Issuer: issuer}, &ss, verify.CodeIdentityMismatch},
					{"wrong issuer", cosign.Identity{Subject: alice, Issuer: "https://other.example.com"}, &ss, verify.CodeIdentityMismatch},
					{"identity regexp not matching", cosign.Identity{SubjectRegExp: `^bob@`, Issuer: issuer}, &ss, verify.CodeIdentityMismatch},
					{"another Sigstore's trusted root", cosign.Identity{Subject: alice, Issuer: issuer}, &other, ""},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						res := newVerifier(t, r, cosign.Policy{Identities: []cosign.Identity{tt.id}, TrustedRoot: tt.root.root}).Verify(t.Context(), ref)
						t.Logf("%s: %s", res.Code, res.Reason)
						wantOK := tt.code == verify.CodeVerified
						if res.Verified != wantOK || (tt.code != "" && res.Code != tt.code) {
							t.Fatalf("Verify = %v %s: %s; want %v %s", res.Verified, res.Code, res.Reason, wantOK, tt.code)
						}
						if wantOK {
							s := res.Signatures[len(res.Signatures)-1]
							if s.SignerSubject != alice || s.SignerIssuer != issuer || s.SigningScheme != cosign.SchemeKeyless {
								t.Errorf("signature = %+v", s)
							}
						}
					})
				}
			})
		}
	}
}

func TestKeylessWithoutProof(t *testing.T) {
	ss := newSigstore(t)
	r := startRegistry(t, true)
	id := []cosign.Identity{{Subject: alice, Issuer: issuer}}

	noProof := r.pushImage(t, "noproof", "x")
	r.pushSimpleSignatures(t, "noproof", noProof, ss.keylessSimpleSig(t, alice, issuer, r.host+"/noproof", noProof.Digest, false, false))
	res := newVerifier(t, r, cosign.Policy{Identities: id, TrustedRoot: ss.root}).Verify(t.Context(), r.host+"/noproof:v1")
	if res.Verified || res.Code != verify.CodeTransparencyLogMissing {
		t.Fatalf("no tlog, no timestamp: Verify = %v %s: %s", res.Verified, res.Code, res.Reason)
	}

	// A signed timestamp alone is enough, unless the policy requires the log.
	tsOnly := r.pushImage(t, "tsonly", "y")
	r.pushSimpleSignatures(t, "tsonly", tsOnly, ss.keylessSimpleSig(t, alice, issuer, r.host+"/tsonly", tsOnly.Digest, false, true))
	if res := newVerifier(t, r, cosign.Policy{Identities: id, TrustedRoot: ss.root}).Verify(t.Context(), r.host+"/tsonly:v1"); !res.Verified {
		t.Fatalf("timestamp only: Verify = %s: %s", res.Code, res.Reason)
	}
	res = newVerifier(t, r, cosign.Policy{Identities: id, TrustedRoot: ss.root, RequireTransparencyLog: true}).Verify(t.Context(), r.host+"/tsonly:v1")
	if res.Verified || res.Code != verify.CodeTransparencyLogMissing {
		t.Fatalf("timestamp only, log required: Verify = %v %s: %s", res.Verified, res.Code, res.Reason)
	}
}

func TestBundleAttestationIsNotASignature(t *testing.T) {
	ss := newSigstore(t)
	r := startRegistry(t, true)
	img := r.pushImage(t, "app", "attested")
	r.pushBundle(t, "app", img, ss.keylessBundle(t, alice, issuer, img.Digest, "https://slsa.dev/provenance/v1"))
	res := newVerifier(t, r, cosign.Policy{Identities: []cosign.Identity{{Subject: alice, Issuer: issuer}}, TrustedRoot: ss.root}).Verify(t.Context(), r.host+"/app:v1")
	if res.Verified || res.Code != verify.CodeUnsupportedFormat {
		t.Fatalf("Verify = %v %s: %s", res.Verified, res.Code, res.Reason)
	}
}

func TestPolicyValidate(t *testing.T) {
	_, pub, _ := newKey(t)
	ss := newSigstore(t)
	tests := []struct {
		name string
		p    cosign.Policy
		ok   bool
	}{
		{"keys", cosign.Policy{Name: "a", Scopes: []string{"*"}, Keys: []cosign.Key{pub}}, true},
		{"keyless", cosign.Policy{Name: "a", Scopes: []string{"r.io/app"}, Identities: []cosign.Identity{{Subject: alice, Issuer: issuer}}, TrustedRoot: ss.root}, true},
		{"nothing accepted", cosign.Policy{Name: "a", Scopes: []string{"*"}}, false},
		{"no scopes", cosign.Policy{Name: "a", Keys: []cosign.Key{pub}}, false},
		{"partial wildcard scope", cosign.Policy{Name: "a", Scopes: []string{"r.io/*"}, Keys: []cosign.Key{pub}}, false},
		{"keyless without root", cosign.Policy{Name: "a", Scopes: []string{"*"}, Identities: []cosign.Identity{{Subject: alice, Issuer: issuer}}}, false},
		{"subject and regexp", cosign.Policy{Name: "a", Scopes: []string{"*"}, Identities: []cosign.Identity{{Subject: alice, SubjectRegExp: "x", Issuer: issuer}}, TrustedRoot: ss.root}, false},
		{"no issuer", cosign.Policy{Name: "a", Scopes: []string{"*"}, Identities: []cosign.Identity{{Subject: alice}}, TrustedRoot: ss.root}, false},
		{"bad regexp", cosign.Policy{Name: "a", Scopes: []string{"*"}, Identities: []cosign.Identity{{SubjectRegExp: "(", Issuer: issuer}}, TrustedRoot: ss.root}, false},
		{"tlog without root", cosign.Policy{Name: "a", Scopes: []string{"*"}, Keys: []cosign.Key{pub}, RequireTransparencyLog: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestKeylessExpiredCertificateWithoutTimestamp: a short-lived certificate
// that has expired, with neither a Rekor entry nor a signed timestamp to
// show the signature was made while it was valid, is refused saying so.
func TestKeylessExpiredCertificateWithoutTimestamp(t *testing.T) {
	ss := newSigstore(t)
	r := startRegistry(t, true)
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _, _ := newKey(t)
	// Valid from two hours ago for ten minutes.
	leaf, err := ca.GenerateLeafCert(alice, issuer, time.Now().Add(-2*time.Hour), leafKey, inter, interKey)
	if err != nil {
		t.Fatal(err)
	}
	img := r.pushImage(t, "expired", "expired")
	s := keyedSig(t, leafKey, r.host+"/expired", img.Digest)
	s.annotations[cosign.AnnotationCertificate] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	r.pushSimpleSignatures(t, "expired", img, s)

	res := newVerifier(t, r, cosign.Policy{Identities: []cosign.Identity{{Subject: alice, Issuer: issuer}}, TrustedRoot: ss.root}).Verify(t.Context(), r.host+"/expired:v1")
	if res.Verified || res.Code != verify.CodeCertificateExpired || !strings.Contains(res.Reason, "expired at") {
		t.Fatalf("Verify = %v %s: %s", res.Verified, res.Code, res.Reason)
	}
}
