package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testArtifact is the descriptor of an image manifest that is never
// fetched: SignEnvelope only signs its descriptor.
func testArtifact() ocispec.Descriptor {
	manifest := []byte(`{"schemaVersion":2}`)
	return ocispec.Descriptor{
		MediaType:   ocispec.MediaTypeImageManifest,
		Digest:      digest.FromBytes(manifest),
		Size:        int64(len(manifest)),
		Annotations: map[string]string{"org.opencontainers.image.title": "app"},
		URLs:        []string{"https://example.test/dropped"},
	}
}

// TestSignEnvelopeVerifies signs with every supported key type, as the
// in-memory key and as an opaque crypto.Signer, in both envelope formats,
// then parses and verifies each envelope with notation-core-go and checks
// the signed and unsigned attributes.
func TestSignEnvelopeVerifies(t *testing.T) {
	specs := []struct {
		spec string
		alg  signature.Algorithm
	}{
		{signingtest.RSA2048, signature.AlgorithmPS256},
		{signingtest.RSA3072, signature.AlgorithmPS384},
		{signingtest.EC256, signature.AlgorithmES256},
		{signingtest.EC384, signature.AlgorithmES384},
		{signingtest.EC521, signature.AlgorithmES512},
	}
	formats := []struct {
		format    string
		mediaType string
	}{
		{"", cose.MediaTypeEnvelope},
		{FormatCOSE, cose.MediaTypeEnvelope},
		{FormatJWS, jws.MediaTypeEnvelope},
	}
	for _, ks := range specs {
		key := signingtest.Key(t, ks.spec)
		chains := map[string][]*x509.Certificate{
			"self-signed": {signingtest.SelfSigned(t, key, "hallmark signer "+ks.spec)},
			"root+leaf":   signingtest.Chain(t, key, "hallmark signer "+ks.spec),
		}
		for chainName, chain := range chains {
			for _, signer := range []struct {
				name string
				s    crypto.Signer
			}{{"in-memory", key}, {"crypto.Signer only", signingtest.Opaque(key)}} {
				for _, f := range formats {
					name := fmt.Sprintf("%s/%s/%s/%q", ks.spec, chainName, signer.name, f.format)
					t.Run(name, func(t *testing.T) {
						desc := testArtifact()
						opts := Options{
							Format:       f.format,
							Expiry:       2 * time.Hour,
							UserMetadata: map[string]string{"buildId": "42", "commit": "abc123"},
						}
						before := time.Now().Truncate(time.Second)
						env, mt, err := SignEnvelope(context.Background(), signer.s, chain, desc, opts)
						if err != nil {
							t.Fatal(err)
						}
						if mt != f.mediaType {
							t.Errorf("media type = %q, want %q", mt, f.mediaType)
						}
						checkEnvelope(t, env, mt, envelopeWant{
							alg:         ks.alg,
							chain:       chain,
							desc:        desc,
							annotations: map[string]string{"org.opencontainers.image.title": "app", "buildId": "42", "commit": "abc123"},
							expiry:      2 * time.Hour,
							agent:       DefaultSigningAgent(),
							notBefore:   before,
						})
					})
				}
			}
		}
	}
}

type envelopeWant struct {
	alg         signature.Algorithm
	chain       []*x509.Certificate
	desc        ocispec.Descriptor
	annotations map[string]string
	expiry      time.Duration // 0: no expiry attribute
	agent       string
	notBefore   time.Time // signing time must not be earlier
}

func checkEnvelope(t *testing.T, env []byte, mediaType string, want envelopeWant) {
	t.Helper()
	parsed, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	content, err := parsed.Verify()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	si := content.SignerInfo
	if si.SignatureAlgorithm != want.alg {
		t.Errorf("signature algorithm = %v, want %v", si.SignatureAlgorithm, want.alg)
	}
	if content.Payload.ContentType != MediaTypePayload {
		t.Errorf("content type = %q, want %q", content.Payload.ContentType, MediaTypePayload)
	}
	if si.SignedAttributes.SigningScheme != signature.SigningSchemeX509 {
		t.Errorf("signing scheme = %q, want %q", si.SignedAttributes.SigningScheme, signature.SigningSchemeX509)
	}
	st := si.SignedAttributes.SigningTime
	if st.Before(want.notBefore) || st.After(time.Now()) {
		t.Errorf("signing time %v is not between %v and now", st, want.notBefore)
	}
	if want.expiry == 0 {
		if !si.SignedAttributes.Expiry.IsZero() {
			t.Errorf("expiry = %v, want none", si.SignedAttributes.Expiry)
		}
	} else if got := si.SignedAttributes.Expiry.Sub(st); got != want.expiry {
		t.Errorf("expiry - signing time = %v, want %v", got, want.expiry)
	}
	if si.UnsignedAttributes.SigningAgent != want.agent {
		t.Errorf("signing agent = %q, want %q", si.UnsignedAttributes.SigningAgent, want.agent)
	}
	if len(si.CertificateChain) != len(want.chain) {
		t.Fatalf("chain has %d certificates, want %d", len(si.CertificateChain), len(want.chain))
	}
	for i := range want.chain {
		if !si.CertificateChain[i].Equal(want.chain[i]) {
			t.Errorf("chain[%d] = %q, want %q", i, si.CertificateChain[i].Subject, want.chain[i].Subject)
		}
	}

	var p struct {
		TargetArtifact map[string]any `json:"targetArtifact"`
	}
	if err := json.Unmarshal(content.Payload.Content, &p); err != nil {
		t.Fatalf("payload: %v", err)
	}
	wantTarget := map[string]any{
		"mediaType": want.desc.MediaType,
		"digest":    want.desc.Digest.String(),
		"size":      float64(want.desc.Size),
	}
	if len(want.annotations) > 0 {
		a := map[string]any{}
		for k, v := range want.annotations {
			a[k] = v
		}
		wantTarget["annotations"] = a
	}
	if diff := cmp.Diff(wantTarget, p.TargetArtifact); diff != "" {
		t.Errorf("payload targetArtifact (-want +got):\n%s", diff)
	}
}

func TestSignEnvelopeOptions(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC256)
	chain := []*x509.Certificate{signingtest.SelfSigned(t, key, "options")}

	tests := []struct {
		name string
		opts Options
		want envelopeWant
	}{
		{"zero options", Options{}, envelopeWant{
			alg: signature.AlgorithmES256, agent: DefaultSigningAgent(),
			annotations: map[string]string{"org.opencontainers.image.title": "app"},
		}},
		{"custom agent, no expiry, JWS", Options{Format: FormatJWS, SigningAgent: "hallmark/1.2.3 ci"}, envelopeWant{
			alg: signature.AlgorithmES256, agent: "hallmark/1.2.3 ci",
			annotations: map[string]string{"org.opencontainers.image.title": "app"},
		}},
		{"expiry", Options{Expiry: 90 * 24 * time.Hour}, envelopeWant{
			alg: signature.AlgorithmES256, agent: DefaultSigningAgent(), expiry: 90 * 24 * time.Hour,
			annotations: map[string]string{"org.opencontainers.image.title": "app"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc := testArtifact()
			tt.want.chain, tt.want.desc, tt.want.notBefore = chain, desc, time.Now().Truncate(time.Second)
			env, mt, err := SignEnvelope(context.Background(), key, chain, desc, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkEnvelope(t, env, mt, tt.want)
			if _, ok := desc.Annotations["buildId"]; ok {
				t.Error("SignEnvelope changed the caller's annotations")
			}
		})
	}
}

func TestDefaultSigningAgent(t *testing.T) {
	got := DefaultSigningAgent()
	if !strings.HasPrefix(got, "hallmark/") || len(got) == len("hallmark/") {
		t.Errorf("DefaultSigningAgent() = %q, want hallmark/<version>", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	pool := x509.NewCertPool()
	tests := []struct {
		name    string
		opts    Options
		wantMsg []string // empty: valid
	}{
		{"zero", Options{}, nil},
		{"cose", Options{Format: "cose"}, nil},
		{"jws with everything", Options{Format: "jws", Expiry: time.Hour, UserMetadata: map[string]string{"a": "b"},
			TimestampURL: "http://tsa.test/", TimestampRootCAs: pool, SigningAgent: "x/1"}, nil},
		{"unknown format", Options{Format: "pgp"}, []string{`unknown signature format "pgp": use cose or jws`}},
		{"upper-case format", Options{Format: "COSE"}, []string{`unknown signature format "COSE"`}},
		{"negative expiry", Options{Expiry: -time.Second}, []string{"expiry -1s is negative"}},
		{"sub-second expiry", Options{Expiry: 1500 * time.Millisecond}, []string{"whole number of seconds"}},
		{"reserved metadata", Options{UserMetadata: map[string]string{"io.cncf.notary.x": "1"}}, []string{`"io.cncf.notary.x"`, "reserves"}},
		{"empty metadata key", Options{UserMetadata: map[string]string{"": "1"}}, []string{"key is empty"}},
		{"TSA without roots", Options{TimestampURL: "https://tsa.test"}, []string{"no TSA root certificates"}},
		{"roots without TSA", Options{TimestampRootCAs: pool}, []string{"no timestamp URL"}},
		{"TSA bad scheme", Options{TimestampURL: "ftp://tsa.test", TimestampRootCAs: pool}, []string{"scheme must be http or https"}},
		{"TSA no host", Options{TimestampURL: "http:///x", TimestampRootCAs: pool}, []string{"has no host"}},
		{"every problem at once", Options{Format: "x", Expiry: -1, UserMetadata: map[string]string{"io.cncf.notary": ""}, TimestampURL: "x"},
			[]string{"unknown signature format", "negative", "reserves", "scheme", "no TSA root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if len(tt.wantMsg) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Validate() = %v, want ErrInvalidOptions", err)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Validate() = %q, want it to contain %q", err, m)
				}
			}
		})
	}
}

// countingSigner counts how often the key store is asked to sign.
type countingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (c *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, d, o)
}

// TestSignEnvelopeRejectsChain checks that chains breaking the Notary
// Project certificate rules are refused with an actionable reason, before
// the key store is used.
func TestSignEnvelopeRejectsChain(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC256)
	rootKey := signingtest.Key(t, signingtest.EC384)
	root := signingtest.Root(t, rootKey, "Test Root")
	past := time.Now().Add(-48 * time.Hour)

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		wantMsg []string
	}{
		{"serverAuth leaf", []*x509.Certificate{signingtest.SelfSigned(t, key, "tls.example", signingtest.WithEKU(x509.ExtKeyUsageServerAuth))},
			[]string{"ServerAuth", "codeSigning", "TLS certificate"}},
		{"serverAuth leaf under root", []*x509.Certificate{
			signingtest.Leaf(t, key.Public(), "tls.example", root, rootKey, signingtest.WithEKU(x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageClientAuth)), root},
			[]string{"ClientAuth", "codeSigning"}},
		{"key encipherment", []*x509.Certificate{signingtest.SelfSigned(t, key, "enc", signingtest.WithKeyUsage(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment))},
			[]string{"KeyEncipherment", "digitalSignature and no other usage"}},
		{"expired", []*x509.Certificate{signingtest.SelfSigned(t, key, "old", signingtest.WithValidity(past, past.Add(time.Hour)))},
			[]string{"invalid at signing time", "renew"}},
		{"root first", []*x509.Certificate{root, signingtest.Leaf(t, key.Public(), "leaf", root, rootKey)}, nil}, // key mismatch, see below
		{"missing root", []*x509.Certificate{signingtest.Leaf(t, key.Public(), "orphan", root, rootKey)},
			[]string{"self-signed", "end it with the self-signed root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &countingSigner{Signer: key}
			_, _, err := SignEnvelope(context.Background(), spy, tt.chain, testArtifact(), Options{})
			if tt.wantMsg == nil {
				// A chain in the wrong order puts a certificate that is not
				// the signer's first; the key check catches it.
				if !errors.Is(err, ErrKeyMismatch) {
					t.Fatalf("err = %v, want ErrKeyMismatch", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidChain) {
				t.Fatalf("err = %v, want ErrInvalidChain", err)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err = %q, want it to contain %q", err, m)
				}
			}
			if n := spy.n.Load(); n != 0 {
				t.Errorf("key store signed %d times for a chain that cannot be used", n)
			}
		})
	}
}

func TestSignEnvelopeArguments(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC256)
	chain := []*x509.Certificate{signingtest.SelfSigned(t, key, "args")}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	noDigest := testArtifact()
	noDigest.Digest = "sha256:short"
	noMediaType := testArtifact()
	noMediaType.MediaType = ""

	tests := []struct {
		name    string
		ctx     context.Context
		desc    ocispec.Descriptor
		opts    Options
		wantErr error
		wantMsg string
	}{
		{"metadata collides with annotation", context.Background(), testArtifact(),
			Options{UserMetadata: map[string]string{"org.opencontainers.image.title": "x"}}, ErrInvalidOptions, "already an annotation"},
		{"invalid options", context.Background(), testArtifact(), Options{Format: "xml"}, ErrInvalidOptions, "use cose or jws"},
		{"canceled", canceled, testArtifact(), Options{}, context.Canceled, ""},
		{"bad digest", context.Background(), noDigest, Options{}, nil, "digest"},
		{"no media type", context.Background(), noMediaType, Options{}, nil, "media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SignEnvelope(tt.ctx, key, chain, tt.desc, tt.opts)
			if err == nil {
				t.Fatal("SignEnvelope succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestRequireDigest(t *testing.T) {
	d := digest.FromString("x").String()
	tests := []struct {
		ref  string
		want bool
	}{
		{"registry.test/app@" + d, true},
		{"localhost:5000/team/app@" + d, true},
		{d, true},
		{"registry.test/app:v1", false},
		{"registry.test/app", false},
		{"v1", false},
		{"", false},
		{"sha256:abc", false},
		{"registry.test/app:-bad@" + d, false}, // a tag next to the digest is checked, as oci.ParseReference checks it
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			err := requireDigest(tt.ref)
			if (err == nil) != tt.want {
				t.Fatalf("requireDigest(%q) = %v, want ok=%v", tt.ref, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrNotDigest) {
				t.Errorf("err = %v, want ErrNotDigest", err)
			}
		})
	}
}

func TestTargetArtifactKeepsOnlyPayloadFields(t *testing.T) {
	desc := testArtifact()
	desc.ArtifactType = "application/vnd.example"
	desc.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	desc.Data = []byte("inline")
	got := targetArtifact(desc)
	want := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: maps.Clone(desc.Annotations)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targetArtifact (-want +got):\n%s", diff)
	}
}
