package certbundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func newCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func TestParse(t *testing.T) {
	a, b := newCert(t, "a"), newCert(t, "b")
	good := pemOf(a, b)
	half := pemOf(a)
	half = half[:len(half)/2]
	keyBlock := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	var many []byte
	for range MaxCerts + 1 {
		many = append(many, pemOf(a)...)
	}
	tests := []struct {
		name    string
		in      []byte
		der     bool // Parse rather than ParsePEM
		want    int
		wantErr string
	}{
		{name: "two certificates", in: good, want: 2},
		{name: "explanatory text before each block", in: append(append([]byte("Root A\n======\n"), pemOf(a)...), append([]byte("Root B\n"), pemOf(b)...)...), want: 2},
		{name: "trailing newlines", in: append(bytes.Clone(good), "\n\n"...), want: 2},
		{name: "DER", in: append(bytes.Clone(a.Raw), b.Raw...), der: true, want: 2},
		{name: "empty", in: nil, wantErr: "holds no PEM certificate"},
		{name: "not PEM", in: []byte("hello"), wantErr: "holds no PEM certificate"},
		{name: "DER where PEM is required", in: a.Raw, wantErr: "holds no PEM certificate"},
		{name: "neither PEM nor DER", in: []byte("hello"), der: true, wantErr: "holds neither PEM nor DER certificates"},
		{name: "empty where DER is allowed", in: nil, der: true, wantErr: "holds no certificate"},
		{name: "trailing junk", in: append(bytes.Clone(good), "extra"...), wantErr: "has data after the last PEM block (a damaged block, or the wrong file)"},
		{name: "half-written last block", in: append(pemOf(a), half...), wantErr: "PEM block 2 is truncated or malformed"},
		{name: "malformed block before a good one", in: append(bytes.Clone(half), pemOf(b)...), wantErr: "PEM block 1 is truncated or malformed"},
		{name: "private key", in: append(pemOf(a), keyBlock...), wantErr: "holds a EC PRIVATE KEY block; a certificate file holds certificates only"},
		{name: "private key in a DER-or-PEM file", in: append(keyBlock, pemOf(a)...), der: true, wantErr: "holds a EC PRIVATE KEY block"},
		{name: "other block", in: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1}}), wantErr: `holds a "X509 CRL" PEM block; only CERTIFICATE blocks belong here`},
		{name: "certificate that does not parse", in: append(pemOf(a), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})...), wantErr: "certificate 2 cannot be parsed"},
		{name: "too many", in: many, wantErr: "holds more than 100 certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParsePEM
			if tt.der {
				parse = Parse
			}
			certs, err := parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.want {
				t.Fatalf("got %d certificates, want %d", len(certs), tt.want)
			}
		})
	}
}

func TestPool(t *testing.T) {
	a := newCert(t, "a")
	pool, err := Pool(pemOf(a))
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AddCert(a)
	if !pool.Equal(want) {
		t.Fatal("pool does not hold exactly the bundle's certificate")
	}
	if _, err := Pool(append(pemOf(a), "junk"...)); err == nil {
		t.Fatal("Pool accepted trailing junk")
	}
}

// FuzzParsePEM checks two properties on any input. Agreement: what
// ParsePEM accepts, the standard library's lenient AppendCertsFromPEM reads
// to the same pool (the strict reader only ever refuses more). Round trip:
// the certificates re-encoded as PEM parse back to the same certificates.
func FuzzParsePEM(f *testing.F) {
	a, b := newCert(f, "a"), newCert(f, "b")
	f.Add(pemOf(a, b))
	f.Add(append([]byte("title\n"), pemOf(a)...))
	f.Add(append(pemOf(a), "junk"...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add(a.Raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParsePEM(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || len(certs) > MaxCerts {
			t.Fatalf("accepted %d certificates", len(certs))
		}
		lenient := x509.NewCertPool()
		if !lenient.AppendCertsFromPEM(data) {
			t.Fatal("ParsePEM accepted a bundle AppendCertsFromPEM reads nothing from")
		}
		strict := x509.NewCertPool()
		for _, c := range certs {
			strict.AddCert(c)
		}
		if !strict.Equal(lenient) {
			t.Fatal("ParsePEM and AppendCertsFromPEM read different certificates")
		}
		again, err := ParsePEM(pemOf(certs...))
		if err != nil {
			t.Fatalf("re-encoded bundle refused: %v", err)
		}
		for i := range certs {
			if !again[i].Equal(certs[i]) {
				t.Fatalf("certificate %d changed in a round trip", i+1)
			}
		}
	})
}

// FuzzParse checks that Parse reads DER input as the standard library does
// and never returns certificates for input both forms refuse.
func FuzzParse(f *testing.F) {
	a := newCert(f, "a")
	f.Add(a.Raw)
	f.Add(append(bytes.Clone(a.Raw), a.Raw...))
	f.Add(pemOf(a))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := Parse(data)
		if bytes.Contains(data, []byte("-----BEGIN")) {
			pemCerts, pemErr := ParsePEM(data)
			if (err == nil) != (pemErr == nil) || len(certs) != len(pemCerts) {
				t.Fatalf("Parse and ParsePEM disagree on PEM input: %v / %v", err, pemErr)
			}
			return
		}
		std, stdErr := x509.ParseCertificates(data)
		if err != nil {
			if stdErr == nil && len(std) > 0 && len(std) <= MaxCerts {
				t.Fatalf("Parse refused DER the standard library reads: %v", err)
			}
			return
		}
		if stdErr != nil || len(std) != len(certs) {
			t.Fatalf("Parse read %d certificates, the standard library %d (%v)", len(certs), len(std), stdErr)
		}
	})
}

func TestBlocks(t *testing.T) {
	a := newCert(t, "a")
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	cut := pemOf(a)
	cut = cut[:bytes.LastIndexByte(cut[:len(cut)/2], '\n')+1]
	tests := []struct {
		name    string
		in      []byte
		want    int
		wantErr string
	}{
		{name: "chain and key", in: append(pemOf(a, a), key...), want: 3},
		{name: "no PEM", in: []byte("text"), want: 0},
		{name: "block cut at a line end before a good one", in: append(bytes.Clone(cut), pemOf(a)...), wantErr: "PEM block 1 is truncated or malformed"},
		{name: "half-written last block", in: append(pemOf(a), cut...), wantErr: "PEM block 2 is truncated or malformed"},
		{name: "trailing text", in: append(pemOf(a), "x"...), wantErr: "has data after the last PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, err := Blocks(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(blocks) != tt.want {
				t.Fatalf("Blocks = %d blocks, %v; want %d", len(blocks), err, tt.want)
			}
		})
	}
}
