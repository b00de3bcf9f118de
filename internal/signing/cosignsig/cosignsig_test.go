package cosignsig_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing/cosignsig"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// world is a registry with one image, and a client for it.
type world struct {
	host   string
	client *oci.Client
	image  string // host/app@digest
	subj   ocispec.Descriptor
}

func newWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	r, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	desc, err := devregistry.PushSampleImage(ctx, r.Host(), "app", "v1", t.Name())
	if err != nil {
		t.Fatal(err)
	}
	c, err := oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	return world{host: r.Host(), client: c, image: r.Host() + "/app@" + desc.Digest.String(), subj: desc}
}

func (w world) verifyWith(t *testing.T, pub crypto.PublicKey) verify.Result {
	t.Helper()
	v, err := cosign.NewVerifier([]cosign.Policy{{Name: "k", Scopes: []string{"*"}, Keys: []cosign.Key{{Name: "k", Public: pub}}}}, w.client, cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), w.image)
}

// TestSignAddsAndVerifies: each signature is added beside those already in
// the .sig manifest, and hallmark's cosign verifier verifies each key's.
func TestSignAddsAndVerifies(t *testing.T) {
	w := newWorld(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i, s := range []crypto.Signer{ec, ec384, ec521, rk} {
		res, err := cosignsig.Sign(context.Background(), s, w.client, w.image, map[string]string{"build": "42"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Signatures != i+1 || res.Tag != strings.Replace(w.subj.Digest.String(), ":", "-", 1)+".sig" {
			t.Fatalf("signature %d: %+v", i+1, res)
		}
	}
	for name, pub := range map[string]crypto.PublicKey{"P-256": ec.Public(), "P-384": ec384.Public(), "P-521": ec521.Public(), "rsa": rk.Public()} {
		if r := w.verifyWith(t, pub); !r.Verified {
			t.Errorf("%s: %s: %s", name, r.Code, r.Reason)
		}
	}
	if r := w.verifyWith(t, other.Public()); r.Verified || r.Code != verify.CodeUntrustedSigner {
		t.Errorf("another key: %s: %s", r.Code, r.Reason)
	}
}

// liar signs with one key and claims another's public key, as a broken
// token or vault might.
type liar struct {
	crypto.Signer
	claims crypto.PublicKey
}

func (l liar) Public() crypto.PublicKey { return l.claims }

func TestSignRefuses(t *testing.T) {
	w := newWorld(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecOther, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for _, tt := range []struct {
		name   string
		signer crypto.Signer
		ref    string
		want   string
	}{
		{"a tag", ec, w.host + "/app:v1", "names no digest"},
		{"ed25519", ed, w.image, "need an RSA or ECDSA key"},
		{"P-224", p224, w.image, "on P-256, P-384 or P-521"},
		{"ecdsa signature of another key", liar{ec, ecOther.Public()}, w.image, "does not verify with its own public key"},
		{"rsa signature of another key", liar{rk, ec.Public()}, w.image, "does not verify with its own public key"},
		{"not a reference", ec, "app", "no registry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cosignsig.Sign(context.Background(), tt.signer, w.client, tt.ref, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sign = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestSignKeepsOthersManifests: what is at the .sig tag and is not a
// cosign signature manifest is not overwritten.
func TestSignKeepsOthersManifests(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tt := range []struct {
		name     string
		manifest func(w world) []byte
		want     string
	}{
		{"an index", func(world) []byte {
			b, _ := json.Marshal(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
			return b
		}, "not a cosign signature manifest"},
		{"an image layer", func(w world) []byte {
			layer, _ := w.client.PushBlob(context.Background(), w.image, ocispec.MediaTypeImageLayerGzip, []byte("not a signature"))
			cfg, _ := w.client.PushBlob(context.Background(), w.image, ocispec.MediaTypeImageConfig, []byte("{}"))
			b, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
			return append(b[:len(b)-1], []byte(`,"schemaVersion":2}`)...)
		}, "not a cosign simple signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tag := strings.Replace(w.subj.Digest.String(), ":", "-", 1) + ".sig"
			data := tt.manifest(w)
			var mt struct {
				MediaType string `json:"mediaType"`
			}
			_ = json.Unmarshal(data, &mt)
			before, err := w.client.PushManifest(context.Background(), w.image, tag, mt.MediaType, data)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cosignsig.Sign(context.Background(), ec, w.client, w.image, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sign = %v, want an error saying %q", err, tt.want)
			}
			after, err := w.client.Resolve(context.Background(), w.host+"/app:"+tag)
			if err != nil || after.Digest != before.Digest {
				t.Errorf("the tag moved: %v, %v", after.Digest, err)
			}
		})
	}
}
