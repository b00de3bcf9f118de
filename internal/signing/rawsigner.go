package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/notaryproject/notation-core-go/signature"
)

// RawSigner is a notation-core-go signature.Signer backed by a crypto.Signer
// whose private key may live in an HSM or a cloud key store. It produces the
// raw signatures JWS and COSE carry: RSASSA-PSS with salt length equal to the
// hash length, or ECDSA as fixed-width r||s.
//
// The algorithm is never negotiated: it follows from the leaf certificate's
// public key, as the Notary Project requires, so a verifier derives the same
// one from the same certificate.
type RawSigner struct {
	signer  crypto.Signer
	chain   []*x509.Certificate
	keySpec signature.KeySpec
	hash    crypto.Hash
}

// NewRawSigner checks that the leaf certificate (chain[0]) holds a key type
// the Notary Project allows and that signer's public key is that key. It
// does not check the chain rules, which depend on the signing time; Sign and
// SignEnvelope do.
func NewRawSigner(signer crypto.Signer, chain []*x509.Certificate) (*RawSigner, error) {
	if signer == nil {
		return nil, errors.New("signing: nil signer")
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: the chain is empty; it must start with the signing (leaf) certificate", ErrInvalidChain)
	}
	leaf := chain[0]
	ks, err := signature.ExtractKeySpec(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: leaf certificate %q has %s; the Notary Project allows RSA 2048, 3072 or 4096 bits and ECDSA P-256, P-384 or P-521",
			ErrUnsupportedKey, leaf.Subject, describePublicKey(leaf.PublicKey))
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%w: the signer holds %s but leaf certificate %q certifies %s; pick the certificate issued for this key",
			ErrKeyMismatch, describePublicKey(signer.Public()), leaf.Subject, describePublicKey(leaf.PublicKey))
	}
	return &RawSigner{
		signer:  signer,
		chain:   append([]*x509.Certificate(nil), chain...),
		keySpec: ks,
		hash:    ks.SignatureAlgorithm().Hash(),
	}, nil
}

// KeySpec implements signature.Signer.
func (s *RawSigner) KeySpec() (signature.KeySpec, error) {
	return s.keySpec, nil
}

// Chain returns a copy of the certificate chain, leaf first.
func (s *RawSigner) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), s.chain...)
}

// Sign implements signature.Signer. payload is the unhashed signing input
// (the JWS signing string or the COSE Sig_structure); it is hashed here with
// the hash the key spec dictates, and only the digest goes to the key store.
// The signature is checked against the leaf's public key before it is
// returned, so a key store that signs with the wrong padding or salt length
// fails here with ErrBadSignature rather than in some later verifier.
func (s *RawSigner) Sign(payload []byte) ([]byte, []*x509.Certificate, error) {
	h := s.hash.New()
	h.Write(payload)
	digest := h.Sum(nil)

	var opts crypto.SignerOpts = s.hash
	pssOpts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash}
	if s.keySpec.Type == signature.KeyTypeRSA {
		opts = pssOpts
	}
	sig, err := s.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("key store could not sign: %w", err)
	}

	switch pub := s.chain[0].PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, s.hash, digest, sig, pssOpts); err != nil {
			return nil, nil, fmt.Errorf("%w: RSASSA-PSS signature with salt length %d does not verify with the leaf certificate's key: %v", ErrBadSignature, s.hash.Size(), err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return nil, nil, fmt.Errorf("%w: ECDSA signature is not ASN.1 DER or does not verify with the leaf certificate's key", ErrBadSignature)
		}
		sig, err = ecdsaDERToRaw(sig, (pub.Curve.Params().BitSize+7)/8)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
	}
	return sig, s.Chain(), nil
}

// ecdsaDERToRaw converts the ASN.1 DER ECDSA-Sig-Value that crypto.Signer
// returns into JOSE/COSE's r||s, each left-padded with zeros to size bytes.
// Roughly one signature in 256 has an r or s with a leading zero byte, so the
// padding is not an edge case.
func ecdsaDERToRaw(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return nil, fmt.Errorf("ECDSA signature is not ASN.1 DER: %v", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("ECDSA signature has trailing data after the ASN.1 value")
	}
	for _, n := range []*big.Int{v.R, v.S} {
		if n.Sign() <= 0 || n.BitLen() > size*8 {
			return nil, fmt.Errorf("ECDSA signature value out of range for a %d-byte curve", size)
		}
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}

// describePublicKey names a public key for error messages.
func describePublicKey(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA %d-bit key", k.Size()*8)
	case *ecdsa.PublicKey:
		return fmt.Sprintf("an ECDSA %s key", k.Curve.Params().Name)
	case nil:
		return "no public key"
	default:
		return fmt.Sprintf("a key of type %T", k)
	}
}
