package cosign_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// FuzzParsePayload: whatever parses writes back to a payload that parses to
// the same digest and reference (the round trip cosign's own payloads take).
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r.io/app"},"image":{"docker-manifest-digest":"` + goodDigest + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"critical":{"type":"Cosign Container Image Signature","image":{"docker-manifest-digest":"sha512:00"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := cosign.ParsePayload(data)
		if err != nil {
			return
		}
		if p.Digest.Validate() != nil {
			t.Fatalf("accepted invalid digest %q", p.Digest)
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		q, err := cosign.ParsePayload(out)
		if err != nil {
			t.Fatalf("own output %s does not parse: %v", out, err)
		}
		if q.Digest != p.Digest || q.DockerReference != p.DockerReference {
			t.Fatalf("round trip changed %+v into %+v", p, q)
		}
	})
}

// FuzzParsePublicKeys: every key accepted re-encodes to a PEM that parses
// to an equal key.
func FuzzParsePublicKeys(f *testing.F) {
	_, _, pemKey := newKey(f)
	f.Add(pemKey)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := cosign.ParsePublicKeys("f", data)
		if err != nil {
			return
		}
		for _, k := range keys {
			der, err := x509.MarshalPKIXPublicKey(k.Public)
			if err != nil {
				t.Fatalf("accepted key does not marshal: %v", err)
			}
			back, err := cosign.ParsePublicKeys("g", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			if err != nil || len(back) != 1 || back[0].Fingerprint() != k.Fingerprint() {
				t.Fatalf("round trip of %s failed: %v", k.Fingerprint(), err)
			}
		}
	})
}

// FuzzParseTrustedRoot: a parsed trusted root marshals to JSON that parses
// to the same material.
func FuzzParseTrustedRoot(f *testing.F) {
	f.Add(newSigstore(f).rootJSON)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := cosign.ParseTrustedRoot(data)
		if err != nil {
			return
		}
		out, err := tr.MarshalJSON()
		if err != nil {
			return // material sigstore-go reads but cannot write back
		}
		again, err := cosign.ParseTrustedRoot(out)
		if err != nil {
			t.Fatalf("own output does not parse: %v", err)
		}
		if len(again.RekorLogs()) != len(tr.RekorLogs()) || len(again.FulcioCertificateAuthorities()) != len(tr.FulcioCertificateAuthorities()) ||
			len(again.TimestampingAuthorities()) != len(tr.TimestampingAuthorities()) || len(again.CTLogs()) != len(tr.CTLogs()) {
			t.Fatal("round trip changed the material")
		}
	})
}

// FuzzParseSimpleSignature: an accepted signature layer keeps exactly the
// signature bytes its annotation encodes.
func FuzzParseSimpleSignature(f *testing.F) {
	f.Add("MEUCIQ==", "", `{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}`, `{"SignedRFC3161Timestamp":"AA=="}`)
	f.Fuzz(func(t *testing.T, sig, cert, rekor, ts string) {
		ann := map[string]string{cosign.AnnotationSignature: sig}
		for k, v := range map[string]string{cosign.AnnotationCertificate: cert, cosign.AnnotationRekorBundle: rekor, cosign.AnnotationTimestamp: ts} {
			if v != "" {
				ann[k] = v
			}
		}
		s, err := cosign.ParseSimpleSignature([]byte("{}"), ann)
		if err != nil {
			return
		}
		if want, _ := base64.StdEncoding.DecodeString(sig); string(want) != string(s.Signature) {
			t.Fatalf("signature %q parsed to %x", sig, s.Signature)
		}
		if (s.TlogEntry != nil) != (rekor != "") || (len(s.SignedTimestamps) > 0) != (ts != "") || (s.Certificate != nil) != (cert != "") {
			t.Fatal("parsed material does not match the annotations present")
		}
	})
}

// FuzzParseBundle: an accepted bundle marshals to JSON that parses back to
// a bundle of the same version and content kind.
func FuzzParseBundle(f *testing.F) {
	f.Add(newSigstore(f).keylessBundle(f, alice, issuer, digest.Digest(goodDigest), "https://sigstore.dev/cosign/sign/v1"))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := cosign.ParseBundle(data)
		if err != nil {
			return
		}
		out, err := b.MarshalJSON()
		if err != nil {
			t.Fatalf("accepted bundle does not marshal: %v", err)
		}
		again, err := cosign.ParseBundle(out)
		if err != nil {
			t.Fatalf("own output does not parse: %v", err)
		}
		v1, _ := b.Version()
		v2, _ := again.Version()
		_, e1 := b.Envelope()
		_, e2 := again.Envelope()
		if v1 != v2 || (e1 == nil) != (e2 == nil) {
			t.Fatalf("round trip changed version %s→%s or content kind", v1, v2)
		}
	})
}
