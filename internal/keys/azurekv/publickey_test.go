package azurekv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvtest"
)

// TestPublicKeys reads vault keys through the keys API: a named version,
// every enabled version of a rotated key (oldest first), and a disabled
// version, refused when named and left out otherwise.
func TestPublicKeys(t *testing.T) {
	ctx := context.Background()
	v := newFakeVault(t)
	p := v.provider(t)
	for _, name := range []string{"rsa", "ec"} {
		policy := map[string]string{"rsa": "../certpolicy/testdata/policy/notation.json", "ec": "../certpolicy/testdata/policy/wrapped-ec.json"}[name]
		v1, err := p.Create(ctx, name, policyFile(t, policy))
		if err != nil {
			t.Fatal(err)
		}
		v2, err := p.Rotate(ctx, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.PublicKeys(ctx, keys.Ref{Name: name, Version: v1.Version})
		if err != nil || len(got) != 1 || got[0].Version != v1.Version || !samePublic(got[0].Key, v1.Chain[0].PublicKey) {
			t.Fatalf("%s version 1: %+v, %v", name, got, err)
		}
		all, err := p.PublicKeys(ctx, keys.Ref{Name: name})
		if err != nil || len(all) != 2 || all[0].Version != v1.Version || all[1].Version != v2.Version || !samePublic(all[1].Key, v2.Chain[0].PublicKey) {
			t.Fatalf("%s, every version: %+v, %v", name, all, err)
		}
		v.mu.Lock()
		v.find(name, v1.Version).disabled = true
		v.mu.Unlock()
		if _, err := p.PublicKeys(ctx, keys.Ref{Name: name, Version: v1.Version}); !errors.Is(err, keys.ErrDisabled) {
			t.Errorf("%s disabled version named: %v, want ErrDisabled", name, err)
		}
		if all, err := p.PublicKeys(ctx, keys.Ref{Name: name}); err != nil || len(all) != 1 || all[0].Version != v2.Version {
			t.Errorf("%s with version 1 disabled: %+v, %v", name, all, err)
		}
	}
	v.mu.Lock()
	v.deny = true
	v.mu.Unlock()
	if _, err := p.PublicKeys(ctx, keys.Ref{Name: "ec"}); err == nil || !strings.Contains(err.Error(), "the identity needs keys get and list permissions") {
		t.Errorf("denied: %v", err)
	}
	v.mu.Lock()
	v.deny = false
	v.mu.Unlock()
	if _, err := p.PublicKeys(ctx, keys.Ref{Name: "absent"}); !errors.Is(err, keys.ErrNotFound) || !strings.Contains(err.Error(), `key "absent"`) {
		t.Errorf("absent key: %v", err)
	}
}

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func TestJWKPublicKeyMalformed(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kty := func(k azkeys.KeyType) *azkeys.KeyType { return &k }
	crv := func(c azkeys.CurveName) *azkeys.CurveName { return &c }
	n, e := rsaKey.N.Bytes(), big.NewInt(int64(rsaKey.E)).Bytes()
	x, y := kvtest.JWKCoordinates(&ecKey.PublicKey)
	for _, tt := range []struct {
		name string
		jwk  azkeys.JSONWebKey
		want string
	}{
		{"no type", azkeys.JSONWebKey{N: n, E: e}, "no key type"},
		{"RSA without modulus", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), E: e}, "modulus"},
		{"RSA zero modulus", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), N: []byte{0, 0}, E: e}, "modulus is zero"},
		{"RSA even exponent", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), N: n, E: []byte{2}}, "odd"},
		{"RSA huge exponent", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), N: n, E: []byte{1, 2, 3, 4, 5}}, "modulus and exponent"},
		{"EC without curve", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), X: x, Y: y}, "without a curve"},
		{"EC secp256k1", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(azkeys.CurveNameP256K), X: x, Y: y}, "not one hallmark verifies"},
		{"EC off the curve", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(azkeys.CurveNameP256), X: x, Y: x}, "not on"},
		{"EC long coordinate", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(azkeys.CurveNameP256), X: append([]byte{1}, x...), Y: y}, "coordinates"},
		{"symmetric", azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeOct)}, "not one cosign verifies"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := jwkPublicKey(&tt.jwk); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("jwkPublicKey = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	for _, good := range []azkeys.JSONWebKey{
		{Kty: kty(azkeys.KeyTypeRSAHSM), N: n, E: e},
		{Kty: kty(azkeys.KeyTypeECHSM), Crv: crv(azkeys.CurveNameP256), X: x, Y: y},
	} {
		pub, err := jwkPublicKey(&good)
		if err != nil || !(samePublic(pub, rsaKey.Public()) || samePublic(pub, ecKey.Public())) {
			t.Errorf("%s: %v, %v", *good.Kty, pub, err)
		}
	}
}

// FuzzJWKPublicKey: whatever the vault answers, a key taken from it is an
// RSA key with an odd exponent above 2 or an EC point on a NIST curve.
func FuzzJWKPublicKey(f *testing.F) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x, y := kvtest.JWKCoordinates(&ecKey.PublicKey)
	f.Add("EC", "P-256", []byte(nil), []byte(nil), x, y)
	f.Add("RSA", "", []byte{0xc5, 0x11}, []byte{1, 0, 1}, []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, kt, crvName string, n, e, x, y []byte) {
		k := azkeys.KeyType(kt)
		c := azkeys.CurveName(crvName)
		pub, err := jwkPublicKey(&azkeys.JSONWebKey{Kty: &k, Crv: &c, N: n, E: e, X: x, Y: y})
		if err != nil {
			return
		}
		switch pk := pub.(type) {
		case *rsa.PublicKey:
			if pk.E < 3 || pk.E%2 == 0 || pk.N.Sign() <= 0 {
				t.Fatalf("RSA key taken: e %d, n %v", pk.E, pk.N)
			}
		case *ecdsa.PublicKey:
			if _, err := pk.ECDH(); err != nil {
				t.Fatalf("EC point taken that is not on the curve: %v", err)
			}
		default:
			t.Fatalf("key of type %T taken", pub)
		}
	})
}
