package envelope

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
)

// FuzzDescribe feeds Describe mutations of real COSE and JWS envelopes. It
// must never panic, and it must either describe the input (in a form that
// marshals to JSON) or fail with one of the package's sentinel errors.
func FuzzDescribe(f *testing.F) {
	mediaTypes := []string{"application/cose", "application/jose+json"}
	ec := signingtest.Key(f, signingtest.EC256)
	rsa := signingtest.Key(f, signingtest.RSA2048)
	for _, format := range []string{"cose", "jws"} {
		for _, chain := range [][]*x509.Certificate{
			{signingtest.SelfSigned(f, rsa, "fuzz rsa")},
			signingtest.Chain(f, ec, "fuzz ec"),
		} {
			key := ec
			if chain[0].PublicKeyAlgorithm == x509.RSA {
				key = rsa
			}
			env, _ := signed(f, key, chain, format)
			isJWS := uint8(0)
			if format == "jws" {
				isJWS = 1
			}
			f.Add(isJWS, env)
			f.Add(isJWS, env[:len(env)/3])
			f.Add(1-isJWS, env)
		}
	}
	// Timestamped envelopes reach the RFC 3161 token parser.
	tsa := signingtest.NewTSA(f)
	for i, format := range []string{"cose", "jws"} {
		env, _, err := signing.SignEnvelope(context.Background(), ec, signingtest.Chain(f, ec, "fuzz ts"), testArtifact(), signing.Options{
			Format: format, TimestampURL: tsa.URL, TimestampRootCAs: tsa.RootPool(),
		})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), env)
	}
	f.Add(uint8(0), []byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40}) // COSE_Sign1 tag with empty fields
	f.Add(uint8(1), []byte(`{"payload":"","protected":"","header":{},"signature":""}`))

	f.Fuzz(func(t *testing.T, which uint8, env []byte) {
		d, err := Describe(mediaTypes[int(which)%len(mediaTypes)], env)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v matches no sentinel", err)
			}
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("description does not marshal: %v", err)
		}
	})
}
