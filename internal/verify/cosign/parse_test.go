package cosign_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

const goodDigest = "sha256:7471bc2ae0b668858dce3c69b79dad0c3710345a6c70b72f12817b4d5ad0529e"

func TestParsePayload(t *testing.T) {
	good := `{"critical":{"identity":{"docker-reference":"r.io/app"},"image":{"docker-manifest-digest":"` + goodDigest + `"},"type":"cosign container image signature"},"optional":{"a":"b"}}`
	p, err := cosign.ParsePayload([]byte(good))
	if err != nil || p.Digest != digest.Digest(goodDigest) || p.DockerReference != "r.io/app" || p.Optional["a"] != "b" {
		t.Fatalf("ParsePayload(good) = %+v, %v", p, err)
	}
	bad := map[string]string{
		"not JSON":         `{"critical":`,
		"trailing data":    good + `{}`,
		"wrong type":       strings.Replace(good, "cosign container image signature", "atomic container signature", 1),
		"no digest":        `{"critical":{"type":"cosign container image signature"}}`,
		"malformed digest": strings.Replace(good, goodDigest, "sha256:xyz", 1),
		"too large":        `{"critical":{},"optional":{"x":"` + strings.Repeat("a", cosign.MaxPayloadBytes) + `"}}`,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := cosign.ParsePayload([]byte(in)); err == nil {
				t.Fatal("ParsePayload accepted it")
			}
		})
	}
}

func TestParsePublicKeys(t *testing.T) {
	_, _, pemA := newKey(t)
	_, _, pemB := newKey(t)
	keys, err := cosign.ParsePublicKeys("k.pub", append(append([]byte{}, pemA...), pemB...))
	if err != nil || len(keys) != 2 || keys[0].Name != "k.pub" || keys[1].Name != "k.pub#2" {
		t.Fatalf("ParsePublicKeys(two keys) = %+v, %v", keys, err)
	}
	bad := map[string][]byte{
		"empty":       nil,
		"not PEM":     []byte("hello"),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}),
		"garbage key": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"too large":   bytes.Repeat([]byte("a"), cosign.MaxKeyPEMBytes+1),
		// A key cut at a line end before a good one, and text after the
		// last key: read block by block, both would pass unnoticed.
		"key that lost its end": append(bytes.Clone(pemA[:bytes.LastIndexByte(pemA[:len(pemA)/2], '\n')+1]), pemB...),
		"trailing text":         append(bytes.Clone(pemA), "junk"...),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := cosign.ParsePublicKeys("k.pub", in)
			if !errors.Is(err, cosign.ErrInvalidKey) {
				t.Fatalf("ParsePublicKeys = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), "k.pub") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseTrustedRoot(t *testing.T) {
	ss := newSigstore(t)
	if len(ss.root.FulcioCertificateAuthorities()) == 0 || len(ss.root.RekorLogs()) == 0 || len(ss.root.TimestampingAuthorities()) == 0 {
		t.Fatal("trusted root lost material in a round trip")
	}
	bad := map[string]string{
		"not JSON":     "{",
		"wrong media":  `{"mediaType":"application/json"}`,
		"bad tlog key": strings.Replace(string(ss.rootJSON), `"rawBytes":"`, `"rawBytes":"AAAA`, 1),
		"too large":    strings.Repeat(" ", cosign.MaxTrustedRootBytes+1),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := cosign.ParseTrustedRoot([]byte(in)); !errors.Is(err, cosign.ErrInvalidTrustedRoot) {
				t.Fatalf("ParseTrustedRoot = %v, want ErrInvalidTrustedRoot", err)
			}
		})
	}
}

func TestParseSimpleSignature(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString([]byte{1, 2, 3})
	bad := map[string]map[string]string{
		"no signature":         {},
		"signature not base64": {cosign.AnnotationSignature: "%%%"},
		"certificate garbage":  {cosign.AnnotationSignature: sig, cosign.AnnotationCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		"rekor bundle garbage": {cosign.AnnotationSignature: sig, cosign.AnnotationRekorBundle: `{"Payload":{"body":"!!"}}`},
		"timestamp garbage":    {cosign.AnnotationSignature: sig, cosign.AnnotationTimestamp: `{}`},
		"huge annotation":      {cosign.AnnotationSignature: sig, "x": strings.Repeat("a", 1<<20)},
	}
	for name, ann := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := cosign.ParseSimpleSignature([]byte("{}"), ann); err == nil {
				t.Fatal("ParseSimpleSignature accepted it")
			}
		})
	}
}

func TestParseBundle(t *testing.T) {
	ss := newSigstore(t)
	good := ss.keylessBundle(t, alice, issuer, digest.Digest(goodDigest), "https://sigstore.dev/cosign/sign/v1")
	if _, err := cosign.ParseBundle(good); err != nil {
		t.Fatalf("ParseBundle(good) = %v", err)
	}
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json"
	future, _ := json.Marshal(m)
	for name, in := range map[string][]byte{"not JSON": []byte("{"), "empty": []byte("{}"), "unknown version": future, "too large": bytes.Repeat([]byte(" "), cosign.MaxBundleBytes+1)} {
		t.Run(name, func(t *testing.T) {
			if _, err := cosign.ParseBundle(in); err == nil {
				t.Fatal("ParseBundle accepted it")
			}
		})
	}
}
