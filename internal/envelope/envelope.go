// Package envelope describes a Notary Project signature envelope (JWS or
// COSE) for `hallmark inspect`: its algorithm, signed and unsigned
// attributes, the artifact it signs and its certificate chain.
//
// Describe reads an envelope; it does not verify it. Nothing it returns is
// trustworthy until the signature has been verified against a trust policy
// (internal/verify): it is what the envelope claims, for a person deciding
// why a verification failed or which key signed an image.
package envelope

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/tspclient-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxEnvelopeSize caps the envelope Describe will parse. Real envelopes are
// a few KiB: a payload of one descriptor, a chain of two to five
// certificates, an optional timestamp token. 1 MiB leaves room for long
// chains and large user metadata while keeping a hostile blob from making
// the CBOR and JSON decoders allocate without bound; it also bounds the
// number of certificates in the chain and in the timestamp token.
// (notation-go fetches envelopes of up to 32 MiB; one that large is not a
// signature anyone should be reading.)
const MaxEnvelopeSize = 1 << 20

// mediaTypePayload is the content type of a Notary Project payload.
const mediaTypePayload = "application/vnd.cncf.notary.payload.v1+json"

// Description is what an envelope says about itself.
type Description struct {
	// MediaType is the envelope media type: application/cose or
	// application/jose+json.
	MediaType string `json:"mediaType"`
	// EnvelopeType is "cose" or "jws".
	EnvelopeType string `json:"envelopeType"`
	// SignatureAlgorithm is the Notary Project name, e.g.
	// "RSASSA-PSS-SHA-256" or "ECDSA-SHA-384".
	SignatureAlgorithm string `json:"signatureAlgorithm"`
	// SigningScheme is "notary.x509" or "notary.x509.signingAuthority".
	SigningScheme string `json:"signingScheme"`
	// SignedAttributes are covered by the signature.
	SignedAttributes SignedAttributes `json:"signedAttributes"`
	// UserDefinedAttributes are the signed payload's
	// targetArtifact.annotations (notation sign -m / hallmark sign
	// metadata). Empty, not null, when there are none.
	UserDefinedAttributes map[string]string `json:"userDefinedAttributes"`
	// UnsignedAttributes are not covered by the signature.
	UnsignedAttributes UnsignedAttributes `json:"unsignedAttributes"`
	// SignedArtifact is the artifact the payload names.
	SignedArtifact Artifact `json:"signedArtifact"`
	// Certificates is the chain, leaf first.
	Certificates []Certificate `json:"certificates"`
}

// SignedAttributes are the envelope's protected headers that the
// Notary Project defines.
type SignedAttributes struct {
	// ContentType is the payload's media type.
	ContentType string `json:"contentType"`
	// SigningTime is the signer's claimed time (notary.x509 only); it is
	// not authenticated.
	SigningTime *time.Time `json:"signingTime,omitempty"`
	// Expiry is when the signature stops being valid; nil means never.
	Expiry *time.Time `json:"expiry,omitempty"`
	// AuthenticSigningTime is the signing time a signing authority vouches
	// for (notary.x509.signingAuthority only).
	AuthenticSigningTime *time.Time `json:"authenticSigningTime,omitempty"`
	// Extended are other signed attributes, e.g. a verification plugin.
	Extended []Attribute `json:"extended,omitempty"`
}

// Attribute is an extended signed attribute. Its value is shown as text
// because COSE allows values JSON cannot carry (maps with integer keys).
type Attribute struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	Critical bool   `json:"critical"`
}

// UnsignedAttributes are the envelope's unprotected headers.
type UnsignedAttributes struct {
	// SigningAgent names the software that made the signature; anyone can
	// change it.
	SigningAgent string `json:"signingAgent,omitempty"`
	// Timestamp is the RFC 3161 countersignature, if any.
	Timestamp *Timestamp `json:"timestamp,omitempty"`
}

// Timestamp describes an RFC 3161 timestamp token. It is read, not verified
// against any TSA root.
type Timestamp struct {
	// GenTime is the time the TSA stated.
	GenTime time.Time `json:"genTime"`
	// Accuracy is the TSA's stated accuracy ("1s", "500ms"); "0s" when none
	// is stated.
	Accuracy string `json:"accuracy"`
	// Earliest and Latest are GenTime minus and plus Accuracy: a verifier
	// only relies on the signature having existed by Latest.
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
	// Certificates are those the token carries, typically the TSA's chain.
	Certificates []Certificate `json:"certificates,omitempty"`
	// Error says why the token could not be read in full, or why it does
	// not cover this envelope's signature.
	Error string `json:"error,omitempty"`
}

// Artifact is the signed artifact's descriptor without annotations (those
// are UserDefinedAttributes).
type Artifact struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// Certificate summarises one X.509 certificate.
type Certificate struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// SerialNumber is lowercase hexadecimal.
	SerialNumber string `json:"serialNumber"`
	// SHA256Thumbprint is the lowercase hex SHA-256 of the DER encoding, as
	// in the io.cncf.notary.x509chain.thumbprint#S256 manifest annotation
	// and trust-store tooling.
	SHA256Thumbprint string    `json:"sha256Thumbprint"`
	NotBefore        time.Time `json:"notBefore"`
	NotAfter         time.Time `json:"notAfter"`
	// KeyType is the public key in Notary Project key-spec form ("RSA-2048",
	// "EC-256"), or the algorithm name for other keys ("Ed25519").
	KeyType string `json:"keyType"`
}

// Describe parses an envelope of the given media type (application/cose or
// application/jose+json) and reports what it contains. It fails with
// ErrTooLarge, ErrUnsupportedMediaType or ErrMalformed.
func Describe(mediaType string, env []byte) (*Description, error) {
	var format string
	switch mediaType {
	case cose.MediaTypeEnvelope:
		format = "COSE"
	case jws.MediaTypeEnvelope:
		format = "JWS"
	default:
		return nil, fmt.Errorf("%w %q: want %s (COSE) or %s (JWS)", ErrUnsupportedMediaType, mediaType, cose.MediaTypeEnvelope, jws.MediaTypeEnvelope)
	}
	if len(env) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(env), MaxEnvelopeSize)
	}
	notValid := "signature envelope is not valid " + format
	if len(env) == 0 {
		return nil, &malformedError{msg: notValid, err: errors.New("it is empty")}
	}

	parsed, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, &malformedError{msg: notValid, err: err}
	}
	content, err := parsed.Content()
	if err != nil {
		var invalid *signature.InvalidSignatureError
		if errors.As(err, &invalid) && strings.HasPrefix(invalid.Msg, "certificate-chain is invalid") {
			// Content applies the certificate rules; say so, rather than
			// blaming the encoding.
			return nil, &malformedError{msg: "signature envelope's certificate chain breaks the Notary Project certificate rules", err: err}
		}
		return nil, &malformedError{msg: notValid, err: err}
	}
	si := content.SignerInfo
	if content.Payload.ContentType != mediaTypePayload {
		return nil, &malformedError{msg: notValid, err: fmt.Errorf("payload content type is %q, want %q", content.Payload.ContentType, mediaTypePayload)}
	}

	d := &Description{
		MediaType:          mediaType,
		EnvelopeType:       strings.ToLower(format),
		SignatureAlgorithm: algorithmName(si.SignatureAlgorithm),
		SigningScheme:      string(si.SignedAttributes.SigningScheme),
		SignedAttributes: SignedAttributes{
			ContentType: content.Payload.ContentType,
			Expiry:      timePtr(si.SignedAttributes.Expiry),
		},
		UserDefinedAttributes: map[string]string{},
		UnsignedAttributes:    UnsignedAttributes{SigningAgent: si.UnsignedAttributes.SigningAgent},
		Certificates:          describeCertificates(si.CertificateChain),
	}
	// notation-core-go keeps the one time header in SigningTime; which one
	// it was depends on the scheme.
	if si.SignedAttributes.SigningScheme == signature.SigningSchemeX509SigningAuthority {
		d.SignedAttributes.AuthenticSigningTime = timePtr(si.SignedAttributes.SigningTime)
	} else {
		d.SignedAttributes.SigningTime = timePtr(si.SignedAttributes.SigningTime)
	}
	for _, a := range si.SignedAttributes.ExtendedAttributes {
		d.SignedAttributes.Extended = append(d.SignedAttributes.Extended, Attribute{
			Key: fmt.Sprint(a.Key), Value: fmt.Sprint(a.Value), Critical: a.Critical,
		})
	}

	var p struct {
		TargetArtifact *ocispec.Descriptor `json:"targetArtifact"`
	}
	if err := json.Unmarshal(content.Payload.Content, &p); err != nil {
		return nil, &malformedError{msg: notValid, err: fmt.Errorf("payload is not JSON: %v", err)}
	}
	if p.TargetArtifact == nil || p.TargetArtifact.MediaType == "" || p.TargetArtifact.Digest == "" {
		return nil, &malformedError{msg: notValid, err: errors.New("payload has no targetArtifact with a media type and digest")}
	}
	d.SignedArtifact = Artifact{
		MediaType: p.TargetArtifact.MediaType,
		Digest:    p.TargetArtifact.Digest.String(),
		Size:      p.TargetArtifact.Size,
	}
	for k, v := range p.TargetArtifact.Annotations {
		d.UserDefinedAttributes[k] = v
	}

	if len(si.UnsignedAttributes.TimestampSignature) > 0 {
		d.UnsignedAttributes.Timestamp = describeTimestamp(si.UnsignedAttributes.TimestampSignature, si.Signature)
	}
	return d, nil
}

// describeTimestamp reads an RFC 3161 token. A token that cannot be read
// does not make the envelope unreadable: the failure is reported in Error.
func describeTimestamp(token, sig []byte) *Timestamp {
	ts := &Timestamp{}
	signed, err := tspclient.ParseSignedToken(token)
	if err != nil {
		ts.Error = fmt.Sprintf("timestamp token is not valid: %v", err)
		return ts
	}
	ts.Certificates = describeCertificates(signed.Certificates)
	info, err := signed.Info()
	if err != nil {
		ts.Error = fmt.Sprintf("timestamp token has no readable TSTInfo: %v", err)
		return ts
	}
	ts.GenTime = info.GenTime
	accuracy := time.Duration(info.Accuracy.Seconds)*time.Second +
		time.Duration(info.Accuracy.Milliseconds)*time.Millisecond +
		time.Duration(info.Accuracy.Microseconds)*time.Microsecond
	// Validate also applies the baseline-policy default accuracy of one
	// second and checks the token covers this signature's bytes.
	if v, err := info.Validate(sig); err != nil {
		ts.Error = fmt.Sprintf("timestamp does not cover this signature: %v", err)
	} else {
		accuracy = v.Accuracy
	}
	ts.Accuracy = accuracy.String()
	ts.Earliest = ts.GenTime.Add(-accuracy)
	ts.Latest = ts.GenTime.Add(accuracy)
	return ts
}

func describeCertificates(certs []*x509.Certificate) []Certificate {
	out := make([]Certificate, 0, len(certs))
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		serial := ""
		if c.SerialNumber != nil {
			serial = c.SerialNumber.Text(16)
		}
		out = append(out, Certificate{
			Subject:          c.Subject.String(),
			Issuer:           c.Issuer.String(),
			SerialNumber:     serial,
			SHA256Thumbprint: hex.EncodeToString(sum[:]),
			NotBefore:        c.NotBefore,
			NotAfter:         c.NotAfter,
			KeyType:          keyType(c.PublicKey),
		})
	}
	return out
}

// keyType names a public key the way the Notary Project names key specs.
func keyType(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "EC"
		}
		return fmt.Sprintf("EC-%d", k.Curve.Params().BitSize)
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return "unknown"
	}
}

// algorithmName uses the Notary Project plugin-contract names.
func algorithmName(a signature.Algorithm) string {
	switch a {
	case signature.AlgorithmPS256:
		return "RSASSA-PSS-SHA-256"
	case signature.AlgorithmPS384:
		return "RSASSA-PSS-SHA-384"
	case signature.AlgorithmPS512:
		return "RSASSA-PSS-SHA-512"
	case signature.AlgorithmES256:
		return "ECDSA-SHA-256"
	case signature.AlgorithmES384:
		return "ECDSA-SHA-384"
	case signature.AlgorithmES512:
		return "ECDSA-SHA-512"
	default:
		return fmt.Sprintf("unknown (%d)", int(a))
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
