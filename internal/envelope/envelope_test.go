package envelope

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func testArtifact() ocispec.Descriptor {
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
}

// signed makes a real envelope with the signing package.
func signed(t testing.TB, key crypto.Signer, chain []*x509.Certificate, format string) ([]byte, string) {
	t.Helper()
	env, mt, err := signing.SignEnvelope(context.Background(), key, chain, testArtifact(), signing.Options{
		Format:       format,
		Expiry:       48 * time.Hour,
		UserMetadata: map[string]string{"buildId": "42"},
		SigningAgent: "hallmark/test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return env, mt
}

func TestDescribe(t *testing.T) {
	ecKey := signingtest.Key(t, signingtest.EC384)
	rsaKey := signingtest.Key(t, signingtest.RSA2048)
	ecChain := signingtest.Chain(t, ecKey, "describe ec")
	rsaChain := []*x509.Certificate{signingtest.SelfSigned(t, rsaKey, "describe rsa")}

	tests := []struct {
		name         string
		key          crypto.Signer
		chain        []*x509.Certificate
		format       string
		mediaType    string
		envelopeType string
		alg          string
		keyTypes     []string
	}{
		{"COSE EC chain", ecKey, ecChain, "cose", "application/cose", "cose", "ECDSA-SHA-384", []string{"EC-384", "EC-256"}},
		{"JWS EC chain", ecKey, ecChain, "jws", "application/jose+json", "jws", "ECDSA-SHA-384", []string{"EC-384", "EC-256"}},
		{"COSE RSA", rsaKey, rsaChain, "cose", "application/cose", "cose", "RSASSA-PSS-SHA-256", []string{"RSA-2048"}},
		{"JWS RSA", rsaKey, rsaChain, "jws", "application/jose+json", "jws", "RSASSA-PSS-SHA-256", []string{"RSA-2048"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			env, mt := signed(t, tt.key, tt.chain, tt.format)
			d, err := Describe(mt, env)
			if err != nil {
				t.Fatal(err)
			}
			if d.SignedAttributes.SigningTime == nil || d.SignedAttributes.SigningTime.Before(before) {
				t.Fatalf("signing time = %v, want at or after %v", d.SignedAttributes.SigningTime, before)
			}
			st := *d.SignedAttributes.SigningTime
			expiry := st.Add(48 * time.Hour)
			art := testArtifact()

			var certs []Certificate
			for i, c := range tt.chain {
				sum := sha256.Sum256(c.Raw)
				certs = append(certs, Certificate{
					Subject:          c.Subject.String(),
					Issuer:           c.Issuer.String(),
					SerialNumber:     c.SerialNumber.Text(16),
					SHA256Thumbprint: hex.EncodeToString(sum[:]),
					NotBefore:        c.NotBefore,
					NotAfter:         c.NotAfter,
					KeyType:          tt.keyTypes[i],
				})
			}
			want := &Description{
				MediaType:          tt.mediaType,
				EnvelopeType:       tt.envelopeType,
				SignatureAlgorithm: tt.alg,
				SigningScheme:      "notary.x509",
				SignedAttributes: SignedAttributes{
					ContentType: "application/vnd.cncf.notary.payload.v1+json",
					SigningTime: &st,
					Expiry:      &expiry,
				},
				UserDefinedAttributes: map[string]string{"buildId": "42"},
				UnsignedAttributes:    UnsignedAttributes{SigningAgent: "hallmark/test"},
				SignedArtifact:        Artifact{MediaType: art.MediaType, Digest: art.Digest.String(), Size: art.Size},
				Certificates:          certs,
			}
			if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Describe (-want +got):\n%s", diff)
			}
			for _, c := range d.Certificates {
				if c.SHA256Thumbprint != strings.ToLower(c.SHA256Thumbprint) || len(c.SHA256Thumbprint) != 64 {
					t.Errorf("thumbprint %q is not 64 lowercase hex digits", c.SHA256Thumbprint)
				}
			}
		})
	}
}

// TestDescribeJSON pins the JSON field names scripts read.
func TestDescribeJSON(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC256)
	env, mt := signed(t, key, signingtest.Chain(t, key, "json"), "jws")
	d, err := Describe(mt, env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		return ks
	}
	sorted := cmp.Transformer("sort", func(in []string) map[string]bool {
		out := map[string]bool{}
		for _, s := range in {
			out[s] = true
		}
		return out
	})
	checks := []struct {
		name string
		obj  any
		want []string
	}{
		{"top level", got, []string{"mediaType", "envelopeType", "signatureAlgorithm", "signingScheme", "signedAttributes",
			"userDefinedAttributes", "unsignedAttributes", "signedArtifact", "certificates"}},
		{"signedAttributes", got["signedAttributes"], []string{"contentType", "signingTime", "expiry"}},
		{"unsignedAttributes", got["unsignedAttributes"], []string{"signingAgent"}},
		{"signedArtifact", got["signedArtifact"], []string{"mediaType", "digest", "size"}},
		{"certificate", got["certificates"].([]any)[0], []string{"subject", "issuer", "serialNumber", "sha256Thumbprint", "notBefore", "notAfter", "keyType"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, keys(c.obj), sorted); diff != "" {
				t.Errorf("JSON keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDescribeErrors(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC256)
	chain := []*x509.Certificate{signingtest.SelfSigned(t, key, "errors")}
	coseEnv, _ := signed(t, key, chain, "cose")
	jwsEnv, _ := signed(t, key, chain, "jws")
	garbage := make([]byte, 512)
	if _, err := rand.Read(garbage); err != nil {
		t.Fatal(err)
	}

	var jwsMap map[string]any
	if err := json.Unmarshal(jwsEnv, &jwsMap); err != nil {
		t.Fatal(err)
	}
	jwsMap["header"] = map[string]any{}
	noChain, err := json.Marshal(jwsMap)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		mediaType string
		env       []byte
		wantErr   error
		wantMsg   string
	}{
		{"unknown media type", "application/pgp-signature", coseEnv, ErrUnsupportedMediaType, "want application/cose"},
		{"COSE bytes declared JWS", "application/jose+json", coseEnv, ErrMalformed, "signature envelope is not valid JWS: "},
		{"JWS bytes declared COSE", "application/cose", jwsEnv, ErrMalformed, "signature envelope is not valid COSE: "},
		{"truncated COSE", "application/cose", coseEnv[:len(coseEnv)/2], ErrMalformed, "signature envelope is not valid COSE: "},
		{"truncated JWS", "application/jose+json", jwsEnv[:len(jwsEnv)-10], ErrMalformed, "signature envelope is not valid JWS: "},
		{"garbage as COSE", "application/cose", garbage, ErrMalformed, "not valid COSE"},
		{"garbage as JWS", "application/jose+json", garbage, ErrMalformed, "not valid JWS"},
		{"empty", "application/cose", nil, ErrMalformed, "empty"},
		{"JWS without certificate chain", "application/jose+json", noChain, ErrMalformed, "not valid JWS"},
		{"too large", "application/cose", make([]byte, MaxEnvelopeSize+1), ErrTooLarge, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Describe(tt.mediaType, tt.env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Describe err = %v, want %v", err, tt.wantErr)
			}
			if d != nil {
				t.Errorf("Describe returned a description with an error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestDescribeTimestampUnreadable(t *testing.T) {
	ts := describeTimestamp([]byte("not a token"), []byte("sig"))
	if ts.Error == "" || !ts.GenTime.IsZero() {
		t.Errorf("describeTimestamp(garbage) = %+v, want only an error", ts)
	}
}

func TestKeyType(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{signingtest.RSA3072, "RSA-3072"},
		{signingtest.EC521, "EC-521"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			if got := keyType(signingtest.Key(t, tt.spec).Public()); got != tt.want {
				t.Errorf("keyType = %q, want %q", got, tt.want)
			}
		})
	}
	if got := keyType(nil); got != "unknown" {
		t.Errorf("keyType(nil) = %q", got)
	}
}

func TestDescribeTimestamp(t *testing.T) {
	tsa := signingtest.NewTSA(t)
	tsa.Accuracy = 1500 * time.Millisecond
	key := signingtest.Key(t, signingtest.EC256)
	chain := signingtest.Chain(t, key, "describe timestamp")
	for _, format := range []string{"cose", "jws"} {
		t.Run(format, func(t *testing.T) {
			env, mt, err := signing.SignEnvelope(context.Background(), key, chain, testArtifact(), signing.Options{
				Format: format, TimestampURL: tsa.URL, TimestampRootCAs: tsa.RootPool(),
			})
			if err != nil {
				t.Fatal(err)
			}
			d, err := Describe(mt, env)
			if err != nil {
				t.Fatal(err)
			}
			ts := d.UnsignedAttributes.Timestamp
			if ts == nil {
				t.Fatal("no timestamp described")
			}
			if ts.Error != "" {
				t.Errorf("timestamp error: %s", ts.Error)
			}
			if ts.Accuracy != "1.5s" {
				t.Errorf("accuracy = %q, want 1.5s", ts.Accuracy)
			}
			if d := time.Since(ts.GenTime); d < 0 || d > time.Minute {
				t.Errorf("genTime %v is not about now", ts.GenTime)
			}
			if !ts.Earliest.Equal(ts.GenTime.Add(-1500*time.Millisecond)) || !ts.Latest.Equal(ts.GenTime.Add(1500*time.Millisecond)) {
				t.Errorf("bounds [%v, %v] are not genTime %v ± 1.5s", ts.Earliest, ts.Latest, ts.GenTime)
			}
			if len(ts.Certificates) != 1 || ts.Certificates[0].Subject != tsa.Cert.Subject.String() {
				t.Errorf("timestamp certificates = %+v, want the TSA's", ts.Certificates)
			}
		})
	}
}
