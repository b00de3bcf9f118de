package azurekv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// PublicKeys reads a vault key's public key with the keys API (Get Key),
// so that a key with no certificate, as cosign verifies with, is read too:
// the version ref names (ErrDisabled if the vault has it disabled), or,
// with none, every enabled version, oldest first, so that a rotation does
// not drop the signatures of the version before.
func (p *Provider) PublicKeys(ctx context.Context, ref keys.Ref) ([]keys.PublicKey, error) {
	if err := keys.ValidateName(ref.Name); err != nil {
		return nil, err
	}
	if ref.Version != "" {
		k, enabled, err := p.publicKey(ctx, ref.Name, ref.Version)
		if err != nil {
			return nil, err
		}
		if !enabled {
			return nil, fmt.Errorf("%w: key %q version %s in %s", ErrDisabled, ref.Name, ref.Version, p)
		}
		return []keys.PublicKey{k}, nil
	}
	var versions []string
	pager := p.keys.NewListKeyPropertiesVersionsPager(ref.Name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, p.wrapKey(ref.Name, err)
		}
		for _, kp := range page.Value {
			if kp.KID == nil || (kp.Attributes != nil && kp.Attributes.Enabled != nil && !*kp.Attributes.Enabled) {
				continue
			}
			versions = append(versions, kp.KID.Version())
		}
	}
	var out []keys.PublicKey
	for _, v := range versions {
		k, enabled, err := p.publicKey(ctx, ref.Name, v)
		if err != nil {
			return nil, err
		}
		if enabled {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: key %q in %s has no enabled version", ErrDisabled, ref.Name, p)
	}
	return out, nil
}

// CurrentPublicKey reads a key's current version (what the vault returns
// for the name alone), anew on each call; a current version disabled in
// the vault is ErrDisabled, not an older version.
func (p *Provider) CurrentPublicKey(ctx context.Context, name string) (keys.PublicKey, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.PublicKey{}, err
	}
	k, enabled, err := p.publicKey(ctx, name, "")
	if err != nil {
		return keys.PublicKey{}, err
	}
	if !enabled {
		return keys.PublicKey{}, fmt.Errorf("%w: key %q version %s in %s", ErrDisabled, name, k.Version, p)
	}
	return k, nil
}

// publicKey reads one version of a key, and whether it is enabled.
func (p *Provider) publicKey(ctx context.Context, name, version string) (keys.PublicKey, bool, error) {
	resp, err := p.keys.GetKey(ctx, name, version, nil)
	if err != nil {
		return keys.PublicKey{}, false, p.wrapKey(name, err)
	}
	if resp.Key == nil || resp.Key.KID == nil {
		return keys.PublicKey{}, false, fmt.Errorf("%w: key %q in %s: the vault answered without the key", keys.ErrCorrupt, name, p)
	}
	pub, err := jwkPublicKey(resp.Key)
	if err != nil {
		return keys.PublicKey{}, false, fmt.Errorf("%w: key %q version %s in %s: %v", keys.ErrCorrupt, name, resp.Key.KID.Version(), p, err)
	}
	enabled := resp.Attributes == nil || resp.Attributes.Enabled == nil || *resp.Attributes.Enabled
	return keys.PublicKey{Version: resp.Key.KID.Version(), Key: pub}, enabled, nil
}

// wrapKey is wrap for reading keys.
func (p *Provider) wrapKey(name string, err error) error {
	return p.wrapObject("key", name, "keys get and list", err)
}

// jwkPublicKey is the public key of a JSON Web Key as Key Vault writes it
// (RFC 7517, 7518): RSA (n, e) or EC (crv P-256, P-384, P-521; x, y).
func jwkPublicKey(k *azkeys.JSONWebKey) (crypto.PublicKey, error) {
	if k.Kty == nil {
		return nil, errors.New("no key type")
	}
	switch *k.Kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		if len(k.N) == 0 || len(k.E) == 0 || len(k.E) > 4 {
			return nil, errors.New("an RSA key without a usable modulus and exponent")
		}
		e := new(big.Int).SetBytes(k.E)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64()%2 == 0 {
			return nil, fmt.Errorf("RSA exponent %v is not an odd number above 2", e)
		}
		n := new(big.Int).SetBytes(k.N)
		if n.Sign() == 0 {
			return nil, errors.New("an RSA key whose modulus is zero")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case azkeys.KeyTypeEC, azkeys.KeyTypeECHSM:
		if k.Crv == nil {
			return nil, errors.New("an EC key without a curve")
		}
		var curve elliptic.Curve
		switch *k.Crv {
		case azkeys.CurveNameP256:
			curve = elliptic.P256()
		case azkeys.CurveNameP384:
			curve = elliptic.P384()
		case azkeys.CurveNameP521:
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %s is not one hallmark verifies with (P-256, P-384, P-521)", *k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(k.X) == 0 || len(k.Y) == 0 || len(k.X) > size || len(k.Y) > size {
			return nil, errors.New("an EC key without usable coordinates")
		}
		// The uncompressed point, 0x04 || X || Y, each padded to the
		// curve's size; parsing refuses a point not on the curve.
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(k.X):1+size], k.X)
		copy(point[1+2*size-len(k.Y):], k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("an EC key whose point is not on %s", *k.Crv)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("key type %s is not one cosign verifies with (RSA, EC)", *k.Kty)
}
