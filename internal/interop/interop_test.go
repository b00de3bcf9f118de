package interop

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// verifyOutput is the part of `hallmark verify -o json` these tests read.
type verifyOutput struct {
	Verified bool `json:"verified"`
	Results  []struct {
		Reference string `json:"reference"`
		Digest    string `json:"digest"`
		Verified  bool   `json:"verified"`
		Code      string `json:"code"`
		Reason    string `json:"reason"`
		Level     string `json:"level"`
		Policy    string `json:"policy"`
		Sigs      []struct {
			Format        string `json:"format"`
			SignerSubject string `json:"signerSubject"`
			Validations   []struct {
				Type   string `json:"type"`
				Action string `json:"action"`
				Passed bool   `json:"passed"`
			} `json:"validations"`
		} `json:"signatures"`
	} `json:"results"`
}

func (e *env) verifyJSON(policy, store string, refs ...string) (verifyOutput, result) {
	e.t.Helper()
	args := append([]string{"verify", "--plain-http", "--trust-policy", policy, "--trust-store", store, "-o", "json"}, refs...)
	r := e.run(hallmarkBin, args...)
	var out verifyOutput
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		e.t.Fatalf("hallmark verify -o json printed no JSON: %v\n%s", err, r)
	}
	if len(out.Results) != len(refs) {
		e.t.Fatalf("hallmark verify: %d results for %d references\n%s", len(out.Results), len(refs), r)
	}
	return out, r
}

// TestHallmarkSignaturesVerifyWithNotation signs with hallmark, COSE and JWS,
// with RSA-2048/3072 and EC P-256/P-384 keys, self-signed and CA-issued, on
// both registry paths, and checks that the notation CLI verifies each one.
func TestHallmarkSignaturesVerifyWithNotation(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	subject := func(cn string) string { return "CN=" + cn + ",O=Interop,ST=WA,C=US" }
	e.hallmark("key", "create", "interop-ca", "--ca", "--subject", subject("interop-ca"), "--key-type", "EC", "--curve", "P-384", "--validity-months", "24")
	keyArgs := []struct {
		name     string
		args     []string
		caIssued bool
	}{
		{"rsa2048-self", []string{"--key-type", "RSA", "--key-size", "2048"}, false},
		{"rsa3072-ca", []string{"--key-type", "RSA", "--key-size", "3072", "--issuer", "interop-ca"}, true},
		{"ec256-self", []string{"--key-type", "EC", "--curve", "P-256"}, false},
		{"ec384-ca", []string{"--key-type", "EC", "--curve", "P-384", "--issuer", "interop-ca"}, true},
	}
	stores := []string{"ca:interop-ca"}
	var identities []string
	for _, k := range keyArgs {
		e.hallmark(append([]string{"key", "create", k.name, "--subject", subject(k.name)}, k.args...)...)
		identities = append(identities, "x509.subject: C=US, ST=WA, O=Interop, CN="+k.name)
		// notation trusts the root of each chain: the key itself when
		// self-signed, the CA otherwise.
		root := k.name
		if k.caIssued {
			root = "interop-ca"
		} else {
			stores = append(stores, "ca:"+k.name)
		}
		pemChain := e.hallmark("key", "export-cert", root, "--root-only").Stdout
		e.writeFile(filepath.Join("notation", "truststore", "x509", "ca", root, "root.pem"), []byte(pemChain))
	}
	// A CA-issued key's chain is leaf then CA, ending in the root.
	chain := e.hallmark("key", "export-cert", "ec384-ca").Stdout
	if n := strings.Count(chain, "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("export-cert of a CA-issued key printed %d certificates, want leaf and CA:\n%s", n, chain)
	}
	e.writeFile(filepath.Join("notation", "trustpolicy.json"), trustPolicy("strict", stores, identities))

	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			host := reg.start(t)
			e.t = t
			for _, k := range keyArgs {
				for _, format := range []string{"cose", "jws"} {
					name := k.name + "-" + format
					t.Run(name, func(t *testing.T) {
						e.t = t
						ref := pushImage(t, host, "hallmark-signed", name, name)
						signed := e.hallmark("sign", ref, "--key", k.name, "--signature-format", format, "--plain-http", "-o", "json")
						var sr struct{ Format, Digest string }
						if err := json.Unmarshal([]byte(signed.Stdout), &sr); err != nil || sr.Format != format {
							t.Fatalf("sign -o json = %q (%v), want format %s", signed.Stdout, err, format)
						}
						nv := e.notationCmd("verify", "--insecure-registry", ref)
						if nv.Code != 0 || !strings.Contains(nv.Stdout, "Successfully verified") {
							t.Fatalf("notation verify of a hallmark %s signature by %s failed:\n%s", format, k.name, nv)
						}
						// The inspect tree shows the format and signer.
						in := e.hallmark("inspect", ref, "--plain-http", "-o", "json")
						if !strings.Contains(in.Stdout, subject(k.name)) {
							t.Fatalf("inspect does not show the signer %s:\n%s", subject(k.name), in.Stdout)
						}
					})
				}
			}
		})
	}
}

// notationEnv prepares notation signing keys made in the test, and a
// hallmark trust store that trusts them.
func notationEnv(t *testing.T) (*env, string) {
	e := newEnv(t)
	rsaKey := newTestKey(t, "RSA-2048", "notation-rsa")
	ecKey := newTestKey(t, "EC-256", "notation-ec")
	e.addNotationKey("notation-rsa", rsaKey)
	e.addNotationKey("notation-ec", ecKey)
	e.writeFile(filepath.Join("ts", "x509", "ca", "notation", "rsa.pem"), certPEM(rsaKey.cert))
	e.writeFile(filepath.Join("ts", "x509", "ca", "notation", "ec.pem"), certPEM(ecKey.cert))
	return e, filepath.Join(e.dir, "ts")
}

// TestNotationSignaturesVerifyWithHallmark signs with the notation CLI and
// verifies with hallmark, on both registry paths.
func TestNotationSignaturesVerifyWithHallmark(t *testing.T) {
	skipShort(t)
	e, store := notationEnv(t)
	policy := e.writeFile("policy.json", trustPolicy("strict", []string{"ca:notation"},
		[]string{"x509.subject: C=US, ST=WA, O=Interop, CN=notation-rsa", "x509.subject: C=US, ST=WA, O=Interop, CN=notation-ec"}))
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			host := reg.start(t)
			for _, key := range []string{"notation-rsa", "notation-ec"} {
				for _, format := range []string{"cose", "jws"} {
					name := key + "-" + format
					t.Run(name, func(t *testing.T) {
						e.t = t
						ref := pushImage(t, host, "notation-signed", name, name)
						if r := e.notationCmd("sign", "--insecure-registry", "--signature-format", format, "-k", key, ref); r.Code != 0 {
							t.Fatalf("notation sign: %s", r)
						}
						out, r := e.verifyJSON(policy, store, ref)
						res := out.Results[0]
						if r.Code != 0 || !out.Verified || !res.Verified || res.Code != "verified" {
							t.Fatalf("hallmark verify of a notation %s signature by %s: %s", format, key, r)
						}
						if len(res.Sigs) == 0 || !strings.Contains(res.Sigs[len(res.Sigs)-1].SignerSubject, "CN="+key) {
							t.Fatalf("verify result does not name the signer %s: %s", key, r.Stdout)
						}
						if res.Level != "strict" || res.Policy != "interop" {
							t.Fatalf("verify result level %q policy %q, want strict / interop", res.Level, res.Policy)
						}
					})
				}
			}
		})
	}
}

// TestHallmarkVerifyRejects checks that hallmark refuses, with the right
// reason, notation signatures that must not pass, and an unsigned image.
func TestHallmarkVerifyRejects(t *testing.T) {
	skipShort(t)
	e, store := notationEnv(t)
	strict := e.writeFile("strict.json", trustPolicy("strict", []string{"ca:notation"}, []string{"*"}))
	other := newTestKey(t, "RSA-2048", "someone-else")
	otherStore := filepath.Join(e.dir, "other-ts")
	e.writeFile(filepath.Join("other-ts", "x509", "ca", "other", "other.pem"), certPEM(other.cert))
	otherPolicy := e.writeFile("other.json", trustPolicy("strict", []string{"ca:other"}, []string{"*"}))
	wrongIdentity := e.writeFile("identity.json", trustPolicy("strict", []string{"ca:notation"},
		[]string{"x509.subject: C=US, ST=WA, O=Interop, CN=someone-else"}))

	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			e.t = t
			host := reg.start(t)
			client, err := oci.New(oci.Options{PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			sign := func(ref string, extra ...string) {
				t.Helper()
				args := append([]string{"sign", "--insecure-registry", "--signature-format", "jws", "-k", "notation-rsa"}, extra...)
				if r := e.notationCmd(append(args, ref)...); r.Code != 0 {
					t.Fatalf("notation sign %s: %s", ref, r)
				}
			}
			signed := pushImage(t, host, "rejects", "signed", "signed")
			sign(signed)
			expiring := pushImage(t, host, "rejects", "expiring", "expiring")
			sign(expiring, "--expiry", "1s")
			signedAt := time.Now()

			// A signature made for image A, pushed as a referrer of image B.
			imageA := pushImage(t, host, "rejects-scratch", "a", "image-a")
			sign(imageA)
			imageB := pushImage(t, host, "rejects", "b", "image-b")
			copySignature(t, client, imageA, imageB, nil)

			// A valid signature with one bit of its signature value flipped,
			// pushed as the only signature of the same image in another
			// repository.
			scratch := pushImage(t, host, "rejects-scratch", "tampered", "tampered")
			sign(scratch)
			tampered := pushImage(t, host, "rejects", "tampered", "tampered")
			copySignature(t, client, scratch, tampered, flipJWSSignatureBit)

			unsigned := pushImage(t, host, "rejects", "unsigned", "unsigned")

			// The expiring signature must be past its expiry.
			if d := time.Until(signedAt.Add(2 * time.Second)); d > 0 {
				time.Sleep(d)
			}

			cases := []struct {
				name, policy, store, ref, code, reasonHas string
			}{
				{"valid signature passes", strict, store, signed, "verified", "verified"},
				{"signer not in the trust store", otherPolicy, otherStore, signed, "untrustedSigner", "trust store"},
				{"trustedIdentities mismatch", wrongIdentity, store, signed, "identityMismatch", "trustedIdentities"},
				{"expired signature", strict, store, expiring, "signatureExpired", "expired"},
				{"tampered envelope", strict, store, tampered, "integrityFailed", ""},
				{"signature of another digest", strict, store, imageB, "digestMismatch", ""},
				{"unsigned image", strict, store, unsigned, "noSignature", "no Notary Project signature"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					out, r := e.verifyJSON(tc.policy, tc.store, tc.ref)
					res := out.Results[0]
					if res.Code != tc.code {
						t.Fatalf("code %q, want %q\n%s", res.Code, tc.code, r)
					}
					wantPass := tc.code == "verified"
					if res.Verified != wantPass || out.Verified != wantPass || (r.Code == 0) != wantPass {
						t.Fatalf("verified=%v exit=%d, want verified=%v\n%s", res.Verified, r.Code, wantPass, r)
					}
					if res.Reason == "" || !strings.Contains(res.Reason, tc.reasonHas) {
						t.Fatalf("reason %q does not say %q", res.Reason, tc.reasonHas)
					}
					// The text output says the same, for a person.
					text := e.run(hallmarkBin, "verify", "--plain-http", "--trust-policy", tc.policy, "--trust-store", tc.store, tc.ref)
					if !strings.Contains(text.Stdout, res.Reason) || (text.Code == 0) != wantPass {
						t.Fatalf("text output does not match the JSON verdict:\n%s", text)
					}
				})
			}
		})
	}
}

// copySignature pushes the first signature of from as a signature of to,
// after passing its envelope through change (if not nil).
func copySignature(t *testing.T, client *oci.Client, from, to string, change func(*testing.T, []byte) []byte) {
	t.Helper()
	ctx := context.Background()
	_, sigs, err := client.ListSignatures(ctx, from)
	if err != nil || len(sigs) == 0 {
		t.Fatalf("list signatures of %s: %v (%d found)", from, err, len(sigs))
	}
	manifest, mediaType, envelope, err := client.FetchSignature(ctx, from, sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		envelope = change(t, envelope)
	}
	subject, err := client.Resolve(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.NotationRepository(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.PushSignature(ctx, mediaType, envelope, subject, manifest.Annotations); err != nil {
		t.Fatalf("push copied signature to %s: %v", to, err)
	}
}

// flipJWSSignatureBit flips one bit of a flattened JWS envelope's signature.
func flipJWSSignatureBit(t *testing.T, env []byte) []byte {
	t.Helper()
	var jws map[string]any
	if err := json.Unmarshal(env, &jws); err != nil {
		t.Fatalf("not a JWS envelope: %v", err)
	}
	s, _ := jws["signature"].(string)
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(sig) == 0 {
		t.Fatalf("JWS signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	jws["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, err := json.Marshal(jws)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
