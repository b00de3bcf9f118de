package cosign_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// testRegistry is an in-process registry, with or without the referrers
// API, and hallmark's client for it.
type testRegistry struct {
	host   string
	client *oci.Client
}

func startRegistry(t testing.TB, referrers bool) testRegistry {
	t.Helper()
	reg, err := devregistry.Start(t.Context(), devregistry.Options{Referrers: referrers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	c, err := oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	return testRegistry{host: reg.Host(), client: c}
}

func (r testRegistry) pushImage(t testing.TB, repo, label string) ocispec.Descriptor {
	t.Helper()
	d, err := devregistry.PushSampleImage(t.Context(), r.host, repo, "v1", label)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (r testRegistry) repo(t testing.TB, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(r.host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = http.DefaultClient
	return repo
}

func pushBlob(t testing.TB, repo *remote.Repository, mediaType string, data []byte, annotations map[string]string) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data)), Annotations: annotations}
	if err := repo.Push(t.Context(), d, bytes.NewReader(data)); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	return d
}

var emptyConfig = []byte("{}")

// pushSimpleSignatures writes a cosign .sig manifest for subject with one
// layer per signature, tagged sha256-<hex>.sig, as cosign sign does.
func (r testRegistry) pushSimpleSignatures(t testing.TB, repoName string, subject ocispec.Descriptor, sigs ...simpleSig) {
	t.Helper()
	repo := r.repo(t, repoName)
	cfg := pushBlob(t, repo, ocispec.MediaTypeImageConfig, emptyConfig, nil)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg}
	for _, s := range sigs {
		m.Layers = append(m.Layers, pushBlob(t, repo, cosign.MediaTypeSimpleSigning, s.payload, s.annotations))
	}
	raw, _ := json.Marshal(m)
	tag := strings.Replace(subject.Digest.String(), ":", "-", 1) + ".sig"
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if err := repo.PushReference(t.Context(), d, bytes.NewReader(raw), tag); err != nil {
		t.Fatal(err)
	}
}

// pushBundle attaches a Sigstore bundle to subject as an OCI referrer, as
// cosign sign --new-bundle-format does.
func (r testRegistry) pushBundle(t testing.TB, repoName string, subject ocispec.Descriptor, bundleJSON []byte) ocispec.Descriptor {
	t.Helper()
	repo := r.repo(t, repoName)
	const bt = "application/vnd.dev.sigstore.bundle.v0.3+json"
	empty := pushBlob(t, repo, ocispec.MediaTypeEmptyJSON, emptyConfig, nil)
	layer := pushBlob(t, repo, bt, bundleJSON, nil)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: bt, Config: empty, Layers: []ocispec.Descriptor{layer}, Subject: &subject,
		Annotations: map[string]string{"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}}
	raw, _ := json.Marshal(m)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)), ArtifactType: bt}
	if err := repo.Push(t.Context(), d, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return d
}

type simpleSig struct {
	payload     []byte
	annotations map[string]string
}

func payloadFor(t testing.TB, ref string, d digest.Digest) []byte {
	t.Helper()
	p, err := cosign.Payload{DockerReference: ref, Digest: d}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// keyedSig signs subject's payload with key, as cosign sign --key does
// with --tlog-upload=false.
func keyedSig(t testing.TB, key *ecdsa.PrivateKey, ref string, d digest.Digest) simpleSig {
	t.Helper()
	p := payloadFor(t, ref, d)
	sum := sha256.Sum256(p)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return simpleSig{payload: p, annotations: map[string]string{cosign.AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}}
}

func newKey(t testing.TB) (*ecdsa.PrivateKey, cosign.Key, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return k, cosign.Key{Name: "test.pub", Public: &k.PublicKey}, pemBytes
}

// sigstore is a virtual Fulcio, Rekor and TSA (sigstore-go's test CA) and
// its trusted root as JSON, read back through ParseTrustedRoot.
type sigstore struct {
	ca       *ca.VirtualSigstore
	rootJSON []byte
	root     *root.TrustedRoot
}

func newSigstore(t testing.TB) sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The virtual Rekor names its log by the hex of its key ID and keeps
	// that text as the ID; a trusted root file holds the raw ID.
	logs := map[string]*root.TransparencyLog{}
	for k, l := range vs.RekorLogs() {
		c := *l
		if raw, err := hex.DecodeString(string(l.ID)); err == nil {
			c.ID = raw
		}
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(), vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	js, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := cosign.ParseTrustedRoot(js)
	if err != nil {
		t.Fatalf("ParseTrustedRoot(own output) = %v", err)
	}
	return sigstore{ca: vs, rootJSON: js, root: parsed}
}

// keylessSimpleSig signs subject's payload keyless, with the Rekor entry
// and timestamp as cosign's annotations. withTlog and withTimestamp leave
// them out when false.
func (s sigstore) keylessSimpleSig(t testing.TB, identity, issuer, ref string, d digest.Digest, withTlog, withTimestamp bool) simpleSig {
	t.Helper()
	p := payloadFor(t, ref, d)
	e, err := s.ca.Sign(identity, issuer, p)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := e.SignatureContent()
	vc, _ := e.VerificationContent()
	ann := map[string]string{
		cosign.AnnotationSignature:   base64.StdEncoding.EncodeToString(sc.Signature()),
		cosign.AnnotationCertificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
	}
	if withTlog {
		entries, _ := e.TlogEntries()
		tle := entries[0].TransparencyLogEntry()
		rb := map[string]any{
			"SignedEntryTimestamp": s.set(t, tle),
			"Payload": map[string]any{
				"body":           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
				"integratedTime": tle.GetIntegratedTime(),
				"logIndex":       tle.GetLogIndex(),
				"logID":          hex.EncodeToString(tle.GetLogId().GetKeyId()),
			},
		}
		js, _ := json.Marshal(rb)
		ann[cosign.AnnotationRekorBundle] = string(js)
	}
	if withTimestamp {
		ts, _ := e.Timestamps()
		js, _ := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts[0]})
		ann[cosign.AnnotationTimestamp] = string(js)
	}
	return simpleSig{payload: p, annotations: ann}
}

// keylessBundle makes a cosign-sign bundle (DSSE, in-toto statement with
// the cosign sign predicate) for d, signed keyless.
func (s sigstore) keylessBundle(t testing.TB, identity, issuer string, d digest.Digest, predicateType string) []byte {
	t.Helper()
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"digest": map[string]string{d.Algorithm().String(): d.Encoded()}}},
		"predicateType": predicateType,
	})
	e, err := s.ca.AttestAtTime(identity, issuer, stmt, nowPlus5(), true)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := e.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	vc, _ := e.VerificationContent()
	entries, _ := e.TlogEntries()
	tle := proto.Clone(entries[0].TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	// sigstore-go's test entries leave out what a bundle carries beside the
	// body: the entry's kind and version and the log's promise.
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: s.set(t, tle)}
	ts, _ := e.Timestamps()
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts[0]}}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig, Keyid: env.Signatures[0].KeyID}},
		}},
	}
	js, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

var _ = context.Background

// set is the virtual Rekor's signed entry timestamp over tle, which
// sigstore-go's test entries keep to themselves.
func (s sigstore) set(t testing.TB, tle *protorekor.TransparencyLogEntry) []byte {
	t.Helper()
	set, err := s.ca.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
		IntegratedTime: tle.GetIntegratedTime(),
		LogIndex:       tle.GetLogIndex(),
		LogID:          hex.EncodeToString(tle.GetLogId().GetKeyId()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func nowPlus5() time.Time { return time.Now().Add(5 * time.Minute) }
