package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/notaryproject/notation-core-go/signature"
)

func TestNewRawSignerKeySpec(t *testing.T) {
	tests := []struct {
		spec string
		want signature.Algorithm
	}{
		{signingtest.RSA2048, signature.AlgorithmPS256},
		{signingtest.RSA3072, signature.AlgorithmPS384},
		{signingtest.RSA4096, signature.AlgorithmPS512},
		{signingtest.EC256, signature.AlgorithmES256},
		{signingtest.EC384, signature.AlgorithmES384},
		{signingtest.EC521, signature.AlgorithmES512},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			key := signingtest.Key(t, tt.spec)
			cert := signingtest.SelfSigned(t, key, "keyspec "+tt.spec)
			s, err := NewRawSigner(signingtest.Opaque(key), []*x509.Certificate{cert})
			if err != nil {
				t.Fatal(err)
			}
			ks, err := s.KeySpec()
			if err != nil {
				t.Fatal(err)
			}
			if got := ks.SignatureAlgorithm(); got != tt.want {
				t.Errorf("algorithm = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewRawSignerRejects(t *testing.T) {
	ec := signingtest.Key(t, signingtest.EC256)
	other := signingtest.Key(t, signingtest.EC384)
	ecCert := signingtest.SelfSigned(t, ec, "ec")

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		signer  crypto.Signer
		chain   []*x509.Certificate
		wantErr error
		wantMsg string
	}{
		{"empty chain", ec, nil, ErrInvalidChain, "chain is empty"},
		{"other key", other, []*x509.Certificate{ecCert}, ErrKeyMismatch, "ECDSA P-384"},
		{"opaque other key", signingtest.Opaque(other), []*x509.Certificate{ecCert}, ErrKeyMismatch, "pick the certificate"},
		{"RSA 1024", rsa1024, []*x509.Certificate{signingtest.SelfSigned(t, rsa1024, "small")}, ErrUnsupportedKey, "RSA 1024-bit"},
		{"Ed25519", edKey, []*x509.Certificate{signingtest.SelfSigned(t, edKey, "ed")}, ErrUnsupportedKey, "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRawSigner(tt.signer, tt.chain)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

// TestRawSignerECDSAPadding signs many times per curve so that r or s with
// leading zero bytes occur (about 1 in 128 signatures for P-256 and P-384,
// most of them for P-521), and checks each raw signature is full width and
// verifies. P-384 is slow under -race, so it runs fewer rounds and is not
// required to hit a short value; P-256 and P-521 are, and they share the
// conversion code.
func TestRawSignerECDSAPadding(t *testing.T) {
	tests := []struct {
		spec         string
		size         int
		iters        int
		requireShort bool
	}{
		{signingtest.EC256, 32, 3000, true}, // P(no short value) is about 1e-10
		{signingtest.EC384, 48, 200, false},
		{signingtest.EC521, 66, 40, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			key := signingtest.Key(t, tt.spec)
			cert := signingtest.SelfSigned(t, key, "padding")
			s, err := NewRawSigner(signingtest.Opaque(key), []*x509.Certificate{cert})
			if err != nil {
				t.Fatal(err)
			}
			pub := key.Public().(*ecdsa.PublicKey)
			h := s.hash
			short := 0
			for i := range tt.iters {
				msg := []byte{byte(i), byte(i >> 8)}
				sig, _, err := s.Sign(msg)
				if err != nil {
					t.Fatal(err)
				}
				if len(sig) != 2*tt.size {
					t.Fatalf("signature %d is %d bytes, want %d", i, len(sig), 2*tt.size)
				}
				if sig[0] == 0 || sig[tt.size] == 0 {
					short++
				}
				r := new(big.Int).SetBytes(sig[:tt.size])
				sv := new(big.Int).SetBytes(sig[tt.size:])
				d := h.New()
				d.Write(msg)
				if !ecdsa.Verify(pub, d.Sum(nil), r, sv) {
					t.Fatalf("signature %d does not verify", i)
				}
			}
			t.Logf("%d of %d signatures had a short r or s", short, tt.iters)
			if tt.requireShort && short == 0 {
				t.Errorf("no signature in %d had a short r or s; the padding path went untested", tt.iters)
			}
		})
	}
}

func TestECDSADERToRaw(t *testing.T) {
	der := func(r, s *big.Int) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big1 := big.NewInt(1)
	max32 := new(big.Int).Sub(new(big.Int).Lsh(big1, 256), big1)
	tooBig := new(big.Int).Lsh(big1, 256)

	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr bool
	}{
		{"tiny r and s", der(big.NewInt(1), big.NewInt(0x0203)),
			append(append(bytes.Repeat([]byte{0}, 31), 1), append(bytes.Repeat([]byte{0}, 30), 2, 3)...), false},
		{"full width", der(max32, max32), bytes.Repeat([]byte{0xff}, 64), false},
		{"r too big", der(tooBig, big1), nil, true},
		{"zero s", der(big1, big.NewInt(0)), nil, true},
		{"negative r", der(big.NewInt(-5), big1), nil, true},
		{"trailing data", append(der(big1, big1), 0), nil, true},
		{"raw not DER", bytes.Repeat([]byte{7}, 64), nil, true},
		{"empty", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ecdsaDERToRaw(tt.in, 32)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %x, want %x", got, tt.want)
			}
		})
	}
}

// misbehavingSigner stands for a key store that signs, but not as asked.
type misbehavingSigner struct {
	crypto.Signer
	sign func(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (m misbehavingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return m.sign(r, d, o)
}

func TestRawSignerBadKeyStore(t *testing.T) {
	rsaKey := signingtest.Key(t, signingtest.RSA2048).(*rsa.PrivateKey)
	ecKey := signingtest.Key(t, signingtest.EC256).(*ecdsa.PrivateKey)
	errHSM := errors.New("CKR_DEVICE_ERROR")

	tests := []struct {
		name    string
		key     crypto.Signer
		sign    func(io.Reader, []byte, crypto.SignerOpts) ([]byte, error)
		wantErr error
	}{
		{"RSA PKCS#1 v1.5 instead of PSS", rsaKey, func(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
			return rsa.SignPKCS1v15(r, rsaKey, o.HashFunc(), d)
		}, ErrBadSignature},
		{"RSA PSS with maximum salt", rsaKey, func(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
			return rsa.SignPSS(r, rsaKey, o.HashFunc(), d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}, ErrBadSignature},
		{"ECDSA raw r||s instead of DER", ecKey, func(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
			rr, ss, err := ecdsa.Sign(r, ecKey, d)
			if err != nil {
				return nil, err
			}
			out := make([]byte, 64)
			rr.FillBytes(out[:32])
			ss.FillBytes(out[32:])
			return out, nil
		}, ErrBadSignature},
		{"ECDSA over the wrong digest", ecKey, func(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
			other := sha256.Sum256([]byte("something else"))
			return ecdsa.SignASN1(r, ecKey, other[:])
		}, ErrBadSignature},
		{"key store error", ecKey, func(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
			return nil, errHSM
		}, errHSM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := signingtest.SelfSigned(t, tt.key, "bad key store")
			s, err := NewRawSigner(misbehavingSigner{Signer: tt.key, sign: tt.sign}, []*x509.Certificate{cert})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Sign([]byte("payload")); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestRawSignerRSAOptions checks the key store is asked for RSASSA-PSS with
// salt length equal to the hash length and the hash the key size dictates,
// over a digest (not the payload).
func TestRawSignerRSAOptions(t *testing.T) {
	tests := []struct {
		spec string
		hash crypto.Hash
	}{
		{signingtest.RSA2048, crypto.SHA256},
		{signingtest.RSA3072, crypto.SHA384},
		{signingtest.RSA4096, crypto.SHA512},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			key := signingtest.Key(t, tt.spec)
			var gotOpts crypto.SignerOpts
			var gotDigest []byte
			spy := misbehavingSigner{Signer: key, sign: func(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
				gotOpts, gotDigest = o, d
				return key.Sign(r, d, o)
			}}
			s, err := NewRawSigner(spy, []*x509.Certificate{signingtest.SelfSigned(t, key, "rsa opts")})
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte("signing input")
			if _, _, err := s.Sign(payload); err != nil {
				t.Fatal(err)
			}
			pss, ok := gotOpts.(*rsa.PSSOptions)
			if !ok {
				t.Fatalf("opts = %T, want *rsa.PSSOptions", gotOpts)
			}
			if pss.Hash != tt.hash || pss.SaltLength != rsa.PSSSaltLengthEqualsHash {
				t.Errorf("opts = %+v, want hash %v and salt length = hash length", pss, tt.hash)
			}
			h := tt.hash.New()
			h.Write(payload)
			if !bytes.Equal(gotDigest, h.Sum(nil)) {
				t.Error("key store was not given the payload's digest")
			}
		})
	}
}
