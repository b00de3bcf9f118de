package acrtest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		scope string
		want  ResourceActions
		err   bool
	}{
		{"repository:app:pull", ResourceActions{"repository", "app", []string{"pull"}}, false},
		{"repository:team/app:pull,push", ResourceActions{"repository", "team/app", []string{"pull", "push"}}, false},
		{"registry:catalog:*", ResourceActions{"registry", "catalog", []string{"*"}}, false},
		{"", ResourceActions{}, true},
		{"repository", ResourceActions{}, true},
		{"repository:app", ResourceActions{}, true},
		{"repository:app:", ResourceActions{}, true},
		{":app:pull", ResourceActions{}, true},
		{"repository:app:pull,,push", ResourceActions{}, true},
		{"blob:app:pull", ResourceActions{}, true},
	} {
		got, err := ParseScope(tc.scope)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParseScope(%q) = %+v, %v; want %+v, error %v", tc.scope, got, err, tc.want, tc.err)
		}
	}
}

// A scope that parses is written back the same way.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:app:pull", "repository:a/b:pull,push", "registry:catalog:*", "x::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, scope string) {
		ra, err := ParseScope(scope)
		if err != nil {
			return
		}
		if back := ra.Type + ":" + ra.Name + ":" + strings.Join(ra.Actions, ","); back != scope {
			t.Fatalf("ParseScope(%q) = %+v, written back as %q", scope, ra, back)
		}
	})
}

// The signed access token carries the claims the distribution registry
// reads and verifies with the key of the certificate in its x5c header,
// which is the root certificate SignTokens returns.
func TestSignTokens(t *testing.T) {
	a := NewACR(t, "registry.example", "tenant", nil)
	rootPEM, err := a.SignTokens("issuer.example")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.signer.Sign("registry.example", []ResourceActions{{"repository", "app", []string{"pull"}}})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	var claims struct {
		Iss, Sub, Aud, Jti string
		Exp, Nbf, Iat      int64
		Access             []ResourceActions
	}
	decode(t, parts[0], &header)
	decode(t, parts[1], &claims)
	block, _ := pem.Decode(rootPEM)
	der, _ := base64.StdEncoding.DecodeString(header.X5c[0])
	if header.Alg != "ES256" || block == nil || string(der) != string(block.Bytes) {
		t.Fatalf("header %+v does not carry the root certificate", header)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(cert.PublicKey.(*ecdsa.PublicKey), digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the signature does not verify with the certificate's key")
	}
	if claims.Iss != "issuer.example" || claims.Aud != "registry.example" || claims.Sub != ACRUsername || claims.Jti == "" ||
		claims.Nbf > claims.Iat || claims.Exp <= claims.Iat || !reflect.DeepEqual(claims.Access, []ResourceActions{{"repository", "app", []string{"pull"}}}) {
		t.Fatalf("claims %+v", claims)
	}
}

func decode(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
