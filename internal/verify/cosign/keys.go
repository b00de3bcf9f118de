package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
)

// MaxKeyPEMBytes caps a PEM document of public keys. A P-256 public key is
// under 200 bytes and an RSA-4096 one under 1 KiB; a file this large is
// the wrong file.
const MaxKeyPEMBytes = 256 << 10

// Key is a public key that cosign signatures may be made with.
type Key struct {
	// Name identifies the key in reasons and reports: a file name, a key
	// reference, or "inline key N". Empty: its fingerprint.
	Name string
	// Public is an *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey.
	Public crypto.PublicKey
}

// Fingerprint is the SHA-256 of the key's DER SubjectPublicKeyInfo in hex,
// which is how reasons name a key that has no name.
func (k Key) Fingerprint() string {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func (k Key) label() string {
	if k.Name != "" {
		return k.Name
	}
	return "key sha256:" + k.Fingerprint()
}

// ParsePublicKeys reads every PUBLIC KEY block of a PEM document (what
// `cosign generate-key-pair` writes to cosign.pub) and the public key of
// every CERTIFICATE block, naming them name, name#2, ... Anything else in
// the document, no key at all, or more than MaxKeyPEMBytes is an error
// matching ErrInvalidKey.
func ParsePublicKeys(name string, data []byte) ([]Key, error) {
	if len(data) > MaxKeyPEMBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d accepted for a PEM public key", ErrInvalidKey, name, len(data), MaxKeyPEMBytes)
	}
	// The blocks are read with the rules of every PEM file hallmark reads:
	// a block cut short or data after the last one is refused, not skipped.
	blocks, err := certbundle.Blocks(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %v", ErrInvalidKey, name, err)
	}
	var keys []Key
	for _, block := range blocks {
		var pub crypto.PublicKey
		switch block.Type {
		case "PUBLIC KEY":
			p, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: PUBLIC KEY block %d: %v", ErrInvalidKey, name, len(keys)+1, err)
			}
			pub = p
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: CERTIFICATE block %d: %v", ErrInvalidKey, name, len(keys)+1, err)
			}
			pub = c.PublicKey
		default:
			return nil, fmt.Errorf("%w: %s holds a %q PEM block; give the public key (cosign.pub), not a private key or another object", ErrInvalidKey, name, block.Type)
		}
		if err := CheckPublicKey(pub); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKey, name, err)
		}
		n := name
		if len(keys) > 0 {
			n = fmt.Sprintf("%s#%d", name, len(keys)+1)
		}
		keys = append(keys, Key{Name: n, Public: pub})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no PEM PUBLIC KEY or CERTIFICATE block", ErrInvalidKey, name)
	}
	return keys, nil
}

// CheckPublicKey reports whether pub is a key type sigstore-go verifies
// with: ECDSA, RSA or Ed25519.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("public key of type %T is not ECDSA, RSA or Ed25519", pub)
}
