package cosign

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
)

// Annotations cosign puts on each layer of a sha256-<hex>.sig manifest.
const (
	AnnotationSignature   = "dev.cosignproject.cosign/signature"
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationRekorBundle = "dev.sigstore.cosign/bundle"
	AnnotationTimestamp   = "dev.sigstore.cosign/rfc3161timestamp"
)

// MediaTypeSimpleSigning is the media type of a simple-signing payload
// layer.
const MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"

// maxAnnotationBytes caps each annotation decoded from a signature layer:
// a certificate chain is a few KiB, a Rekor bundle with its entry body
// under 10 KiB.
const maxAnnotationBytes = 64 << 10

// SimpleSignature is one signature from a sha256-<hex>.sig manifest layer:
// the payload it signs and the verification material cosign attached to it
// as annotations. It is a sigstore-go SignedEntity, so the same verifier
// checks it as checks bundles.
type SimpleSignature struct {
	Payload   []byte
	Signature []byte
	// Certificate is the signing certificate of a keyless (or
	// certificate-backed) signature; nil for a bare key.
	Certificate *x509.Certificate
	// Chain is the certificate chain cosign attached, leaf first, if any.
	Chain []*x509.Certificate
	// TlogEntry is the Rekor entry from the bundle annotation, with its
	// signed entry timestamp; nil without one.
	TlogEntry *tlog.Entry
	// SignedTimestamps are RFC 3161 timestamp responses over the signature.
	SignedTimestamps [][]byte
}

// ParseSimpleSignature builds a SimpleSignature from a layer's payload and
// annotations. Malformed verification material is an error; absent
// material is not (a keyed signature has none).
func ParseSimpleSignature(payload []byte, annotations map[string]string) (*SimpleSignature, error) {
	for k, v := range annotations {
		if len(v) > maxAnnotationBytes {
			return nil, fmt.Errorf("annotation %s is %d bytes, more than the %d accepted", k, len(v), maxAnnotationBytes)
		}
	}
	b64, ok := annotations[AnnotationSignature]
	if !ok {
		return nil, fmt.Errorf("layer has no %s annotation", AnnotationSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("annotation %s is not a base64 signature", AnnotationSignature)
	}
	s := &SimpleSignature{Payload: payload, Signature: sig}
	if c := annotations[AnnotationCertificate]; c != "" {
		// The certificate and chain a keyless signature is trusted by are
		// read with the strict rules of every certificate bundle.
		certs, err := certbundle.ParsePEM([]byte(c))
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("annotation %s is not one PEM certificate", AnnotationCertificate)
		}
		s.Certificate = certs[0]
	}
	if c := annotations[AnnotationChain]; c != "" {
		if s.Chain, err = certbundle.ParsePEM([]byte(c)); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationChain, err)
		}
	}
	if b := annotations[AnnotationRekorBundle]; b != "" {
		if s.TlogEntry, err = parseRekorBundle([]byte(b)); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationRekorBundle, err)
		}
	}
	if t := annotations[AnnotationTimestamp]; t != "" {
		var ts struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(t), &ts); err != nil || len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("annotation %s is not a timestamp", AnnotationTimestamp)
		}
		s.SignedTimestamps = [][]byte{ts.SignedRFC3161Timestamp}
	}
	return s, nil
}

// rekorBundle is cosign's bundle annotation: a Rekor entry and the log's
// signed entry timestamp over it (an inclusion promise).
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

func parseRekorBundle(data []byte) (*tlog.Entry, error) {
	var rb rekorBundle
	if err := json.Unmarshal(data, &rb); err != nil {
		return nil, fmt.Errorf("not a Rekor bundle: %v", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("entry body is not base64: %v", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("log ID is not hex: %v", err)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no signed entry timestamp")
	}
	// cosign's simple-signing Bundle annotation is a Rekor v1 entry, the one
	// form NewEntry reads (its successor takes a protobuf log entry).
	//lint:ignore SA1019 a Rekor v1 entry is what this annotation holds
	e, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil)
	if err != nil {
		return nil, fmt.Errorf("entry body: %v", err)
	}
	return e, nil
}

var _ sgverify.SignedEntity = (*SimpleSignature)(nil)

// HasInclusionPromise implements sgverify.SignedEntity.
func (s *SimpleSignature) HasInclusionPromise() bool { return s.TlogEntry != nil }

// HasInclusionProof implements sgverify.SignedEntity: cosign's bundle
// annotation carries a promise, not a proof.
func (s *SimpleSignature) HasInclusionProof() bool { return false }

// SignatureContent implements sgverify.SignedEntity: a signature over the
// payload's SHA-256.
func (s *SimpleSignature) SignatureContent() (sgverify.SignatureContent, error) {
	sum := sha256.Sum256(s.Payload)
	return bundle.NewMessageSignature(sum[:], "SHA2_256", s.Signature), nil
}

// VerificationContent implements sgverify.SignedEntity.
func (s *SimpleSignature) VerificationContent() (sgverify.VerificationContent, error) {
	if s.Certificate != nil {
		return bundle.NewCertificate(s.Certificate), nil
	}
	return keyContent{}, nil
}

// Timestamps implements sgverify.SignedEntity.
func (s *SimpleSignature) Timestamps() ([][]byte, error) { return s.SignedTimestamps, nil }

// TlogEntries implements sgverify.SignedEntity.
func (s *SimpleSignature) TlogEntries() ([]*tlog.Entry, error) {
	if s.TlogEntry == nil {
		return nil, nil
	}
	return []*tlog.Entry{s.TlogEntry}, nil
}

// Version implements sgverify.SignedEntity. Simple signatures predate
// bundles; v0.1 is the bundle version with the same material (an
// inclusion promise, no proof).
func (s *SimpleSignature) Version() (string, error) { return "v0.1", nil }

// keyContent is the verification material of a signature checked against
// a configured key rather than a certificate: the trusted material holds
// the one key being tried, under any hint.
type keyContent struct{}

func (keyContent) CompareKey(key any, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier("")
	if err != nil {
		return false
	}
	pub, err := v.PublicKey()
	if err != nil {
		return false
	}
	eq, ok := key.(interface{ Equal(x any) bool })
	return ok && eq.Equal(pub)
}

func (keyContent) ValidAtTime(t time.Time, tm root.TrustedMaterial) bool {
	v, err := tm.PublicKeyVerifier("")
	return err == nil && v.ValidAtTime(t)
}

func (keyContent) Certificate() *x509.Certificate        { return nil }
func (keyContent) Intermediates() []*x509.Certificate    { return nil }
func (keyContent) PublicKey() sgverify.PublicKeyProvider { return hint("") }

type hint string

func (h hint) Hint() string { return string(h) }
