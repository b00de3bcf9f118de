// Package cosignsig makes cosign signatures with hallmark's keys: a
// simple-signing payload for an image digest, signed by any crypto.Signer
// (the local key store, a PKCS#11 token, Azure Key Vault), pushed as a
// layer of the image's sha256-<hex>.sig manifest, as `cosign sign --key`
// writes it (cosign v2's default storage, which cosign v2 and v3 and
// hallmark verify). No transparency-log entry is made: verifiers check it
// with the public key, as `cosign verify --key K --insecure-ignore-tlog`.
package cosignsig

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes HashFor names
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/strict"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// Registry is what signing needs of a registry client (oci.Client).
type Registry interface {
	FetchTagged(ctx context.Context, ref string, limit int64) (ocispec.Descriptor, []byte, error)
	PushBlob(ctx context.Context, ref, mediaType string, data []byte) (ocispec.Descriptor, error)
	PushManifest(ctx context.Context, ref, tag, mediaType string, data []byte) (ocispec.Descriptor, error)
}

// maxSignatureManifest caps the .sig manifest read before a layer is
// added: cosign's has a few hundred bytes a signature.
const maxSignatureManifest = 4 << 20

// maxLayers caps the signatures kept in one .sig manifest. A manifest with
// more is being flooded; adding to it would only feed the flood.
const maxLayers = 1000

// Result is what Sign pushed.
type Result struct {
	// Manifest is the .sig manifest now tagged, holding every signature.
	Manifest ocispec.Descriptor
	// Tag is its tag, sha256-<hex>.sig.
	Tag string
	// Signatures is how many signatures the manifest holds, this one
	// included.
	Signatures int
}

// Sign signs the image ref names by digest (REGISTRY/REPOSITORY@DIGEST, a
// tag beside the digest is ignored) with signer, whose key must be RSA or
// ECDSA, and adds the signature to the image's sha256-<hex>.sig manifest,
// keeping the signatures already there. annotations are signed into the
// payload's optional section, as `cosign sign -a KEY=VALUE` signs them.
func Sign(ctx context.Context, signer crypto.Signer, reg Registry, ref string, annotations map[string]string) (Result, error) {
	r, err := oci.ParseReference(ref)
	if err != nil {
		return Result{}, err
	}
	d, err := digest.Parse(r.Reference)
	if err != nil {
		return Result{}, fmt.Errorf("%s names no digest: resolve its tag first, since the digest is what gets signed", ref)
	}
	repoRef := r.Registry + "/" + r.Repository
	p := cosign.Payload{DockerReference: repoRef, Digest: d}
	if len(annotations) > 0 {
		p.Optional = map[string]any{}
		for k, v := range annotations {
			p.Optional[k] = v
		}
	}
	payload, err := p.MarshalJSON()
	if err != nil {
		return Result{}, err
	}
	sig, err := signPayload(signer, payload)
	if err != nil {
		return Result{}, err
	}

	tag := strings.Replace(d.String(), ":", "-", 1) + ".sig"
	layers, err := existingLayers(ctx, reg, repoRef+":"+tag)
	if err != nil {
		return Result{}, err
	}
	if len(layers) >= maxLayers {
		return Result{}, fmt.Errorf("%s already holds %d signatures, the most hallmark adds to; delete stale ones first", repoRef+":"+tag, len(layers))
	}
	layer, err := reg.PushBlob(ctx, repoRef, cosign.MediaTypeSimpleSigning, payload)
	if err != nil {
		return Result{}, fmt.Errorf("pushing the signature payload: %w", err)
	}
	layer.Annotations = map[string]string{cosign.AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}
	layers = append(layers, layer)

	cfg, err := imageConfig(layers)
	if err != nil {
		return Result{}, err
	}
	cfgDesc, err := reg.PushBlob(ctx, repoRef, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("pushing the signature manifest's config: %w", err)
	}
	m, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    layers,
	})
	if err != nil {
		return Result{}, err
	}
	desc, err := reg.PushManifest(ctx, repoRef, tag, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return Result{}, fmt.Errorf("pushing the signature manifest: %w", err)
	}
	return Result{Manifest: desc, Tag: tag, Signatures: len(layers)}, nil
}

// signPayload signs payload as cosign does (ECDSA, ASN.1 DER; RSA,
// PKCS #1 v1.5) and checks the signature with the signer's public key
// before it is pushed: a token or vault that answers wrongly must not leave
// a signature nobody can verify.
func signPayload(signer crypto.Signer, payload []byte) ([]byte, error) {
	hash, err := HashFor(signer.Public())
	if err != nil {
		return nil, err
	}
	hh := hash.New()
	hh.Write(payload)
	h := hh.Sum(nil)
	sig, err := signer.Sign(rand.Reader, h, hash)
	if err != nil {
		return nil, fmt.Errorf("signing the cosign payload: %w", err)
	}
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, h, sig) {
			return nil, errors.New("the key's ECDSA signature does not verify with its own public key; check the key provider")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, hash, h, sig); err != nil {
			return nil, errors.New("the key's RSA signature does not verify with its own public key; check the key provider")
		}
	}
	return sig, nil
}

// HashFor is the digest cosign signs with for a key, and sigstore-go (so
// hallmark) verifies with: SHA-256 for RSA and P-256, SHA-384 for P-384,
// SHA-512 for P-521. `cosign verify --key` assumes SHA-256 unless told
// otherwise (--signature-digest-algorithm), for cosign's own signatures
// as for these.
func HashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return crypto.SHA256, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return crypto.SHA256, nil
		case 384:
			return crypto.SHA384, nil
		case 521:
			return crypto.SHA512, nil
		}
		return 0, fmt.Errorf("cosign signatures need an ECDSA key on P-256, P-384 or P-521, not %s", k.Curve.Params().Name)
	}
	return 0, fmt.Errorf("cosign signatures need an RSA or ECDSA key, not %T", pub)
}

// existingLayers returns the signature layers of the .sig manifest ref
// names, none when the tag does not exist. A manifest there that is not
// cosign's is an error rather than something to overwrite.
func existingLayers(ctx context.Context, reg Registry, ref string) ([]ocispec.Descriptor, error) {
	_, data, err := reg.FetchTagged(ctx, ref, maxSignatureManifest)
	if errors.Is(err, oci.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the signatures already at %s: %w", ref, err)
	}
	layers, err := signatureLayers(data)
	if err != nil {
		return nil, fmt.Errorf("%s %w; hallmark does not overwrite it", ref, err)
	}
	return layers, nil
}

// signatureLayers reads a .sig manifest's layers, each of which must be a
// cosign simple signature.
func signatureLayers(data []byte) ([]ocispec.Descriptor, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || (m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest) || m.SchemaVersion != 2 {
		return nil, errors.New("holds a manifest that is not a cosign signature manifest")
	}
	for _, l := range m.Layers {
		if l.MediaType != cosign.MediaTypeSimpleSigning {
			return nil, fmt.Errorf("has a layer of type %q, not a cosign simple signature", strict.Clip(l.MediaType))
		}
		if l.Digest.Validate() != nil {
			return nil, fmt.Errorf("has a layer whose digest %q is not valid", strict.Clip(string(l.Digest)))
		}
	}
	return m.Layers, nil
}

// imageConfig is the config cosign writes for a .sig manifest: an empty
// image whose layers are the signature payloads.
func imageConfig(layers []ocispec.Descriptor) ([]byte, error) {
	type history struct {
		Created string `json:"created"`
	}
	cfg := struct {
		Architecture string    `json:"architecture"`
		Created      string    `json:"created"`
		History      []history `json:"history"`
		OS           string    `json:"os"`
		RootFS       struct {
			Type    string          `json:"type"`
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
		Config struct{} `json:"config"`
	}{Created: "0001-01-01T00:00:00Z"}
	cfg.RootFS.Type = "layers"
	for _, l := range layers {
		cfg.History = append(cfg.History, history{Created: "0001-01-01T00:00:00Z"})
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
	}
	return json.Marshal(cfg)
}
