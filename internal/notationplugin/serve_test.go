package notationplugin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11"
)

// newStore makes a local store with one EC P-384 key "k" and returns a
// plugin that reads it through the environment, as notation-hallmark does.
func newStore(t *testing.T) (*Hallmark, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := local.Open(dir, local.Options{Passphrase: []byte("pass")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := certpolicy.Parse([]byte(`{"keyProperties":{"keyType":"EC","curve":"P-384"},"x509CertificateProperties":{"subject":"CN=k,O=Acme,ST=WA,C=US"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), "k", p); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HALLMARK_HOME": dir, "HALLMARK_PASSPHRASE": "pass"}
	return &Hallmark{Version: "test", Getenv: func(k string) string { return env[k] }}, dir
}

func serve(t *testing.T, h *Hallmark, cmd string, req string) (string, *plugin.Error) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Serve(context.Background(), []string{cmd}, strings.NewReader(req), &out, &errb, h)
	if code == 0 {
		if errb.Len() != 0 {
			t.Fatalf("exit 0 with stderr %s", errb.String())
		}
		return out.String(), nil
	}
	if out.Len() != 0 {
		t.Fatalf("exit %d with stdout %s", code, out.String())
	}
	var pe plugin.Error
	if err := json.Unmarshal(errb.Bytes(), &pe); err != nil {
		t.Fatalf("stderr is not a protocol error: %q", errb.String())
	}
	return "", &pe
}

func TestServeSigns(t *testing.T) {
	h, _ := newStore(t)
	out, perr := serve(t, h, "get-plugin-metadata", `{}`)
	if perr != nil || !strings.Contains(out, `"name":"hallmark"`) || !strings.Contains(out, "SIGNATURE_GENERATOR.RAW") {
		t.Fatalf("get-plugin-metadata = %s, %v", out, perr)
	}
	out, perr = serve(t, h, "describe-key", `{"contractVersion":"1.0","keyId":"k"}`)
	if perr != nil || out != `{"keyId":"k","keySpec":"EC-384"}` {
		t.Fatalf("describe-key = %s, %v", out, perr)
	}
	payload := []byte("the signing input")
	req, _ := json.Marshal(plugin.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: "EC-384", Hash: "SHA-384", Payload: payload})
	out, perr = serve(t, h, "generate-signature", string(req))
	if perr != nil {
		t.Fatal(perr)
	}
	var resp plugin.GenerateSignatureResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.KeyID != "k" || resp.SigningAlgorithm != plugin.SignatureAlgorithmECDSA_SHA384 || len(resp.CertificateChain) != 1 || len(resp.Signature) != 96 {
		t.Fatalf("generate-signature = %+v", resp)
	}
	cert, err := x509.ParseCertificate(resp.CertificateChain[0])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha512.Sum384(payload)
	r, s := new(big.Int).SetBytes(resp.Signature[:48]), new(big.Int).SetBytes(resp.Signature[48:])
	if !ecdsa.Verify(cert.PublicKey.(*ecdsa.PublicKey), digest[:], r, s) {
		t.Fatal("the raw signature does not verify over the SHA-384 of the payload")
	}
}

func TestServeErrors(t *testing.T) {
	h, dir := newStore(t)
	wrongPass := &Hallmark{Getenv: func(k string) string {
		return map[string]string{"HALLMARK_HOME": dir, "HALLMARK_PASSPHRASE": "wrong"}[k]
	}}
	sig := func(mod func(*plugin.GenerateSignatureRequest)) string {
		r := plugin.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: "EC-384", Hash: "SHA-384", Payload: []byte("x")}
		mod(&r)
		b, _ := json.Marshal(r)
		return string(b)
	}
	for _, tc := range []struct {
		name, cmd, req string
		h              *Hallmark
		code           plugin.ErrorCode
		msg            string
	}{
		{"garbage", "describe-key", "hello", h, plugin.ErrorCodeValidation, "not a valid JSON"},
		{"too large", "describe-key", strings.Repeat(" ", maxRequestSize+1), h, plugin.ErrorCodeValidation, "larger"},
		{"unknown command", "verify-signature", "{}", h, plugin.ErrorCodeValidation, "unsupported command"},
		{"no key ID", "describe-key", `{"contractVersion":"1.0"}`, h, plugin.ErrorCodeValidation, "keyId"},
		{"contract version", "describe-key", `{"contractVersion":"2.0","keyId":"k"}`, h, plugin.ErrorCodeUnsupportedContractVersion, "2.0"},
		{"missing key", "describe-key", `{"contractVersion":"1.0","keyId":"nope"}`, h, plugin.ErrorCodeValidation, "nope"},
		{"bad key ID", "describe-key", `{"contractVersion":"1.0","keyId":"../x"}`, h, plugin.ErrorCodeValidation, "neither"},
		{"bad PKCS#11 URI", "describe-key", `{"contractVersion":"1.0","keyId":"pkcs11:tokn=x"}`, h, plugin.ErrorCodeValidation, "tokn"},
		{"unknown config", "describe-key", `{"contractVersion":"1.0","keyId":"k","pluginConfig":{"passphrase":"x"}}`, h, plugin.ErrorCodeValidation, "unknown plugin configuration"},
		{"missing store", "describe-key", `{"contractVersion":"1.0","keyId":"k","pluginConfig":{"store":"/nonexistent"}}`, h, plugin.ErrorCodeValidation, "/nonexistent"},
		{"wrong passphrase", "generate-signature", sig(func(*plugin.GenerateSignatureRequest) {}), wrongPass, plugin.ErrorCodeAccessDenied, "passphrase"},
		{"wrong key spec", "generate-signature", sig(func(r *plugin.GenerateSignatureRequest) { r.KeySpec = "RSA-2048" }), h, plugin.ErrorCodeValidation, "EC-384"},
		{"wrong hash", "generate-signature", sig(func(r *plugin.GenerateSignatureRequest) { r.Hash = "SHA-256" }), h, plugin.ErrorCodeValidation, "SHA-384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := serve(t, tc.h, tc.cmd, tc.req)
			if perr == nil || perr.ErrCode != tc.code || !strings.Contains(perr.Message, tc.msg) {
				t.Fatalf("got %+v; want %s mentioning %q", perr, tc.code, tc.msg)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Serve(context.Background(), nil, strings.NewReader(""), &out, &errb, h); code != 1 || !strings.Contains(errb.String(), "exactly one argument") {
		t.Fatalf("no command: exit %d %s", code, errb.String())
	}
}

// FuzzServe: the request on stdin comes from whatever runs the plugin.
// notFound is a key provider with no keys: the fuzz target's stand-in for
// whatever store or token a request names.
type notFound struct{}

func (notFound) Create(context.Context, string, *certpolicy.Policy) (keys.Info, error) {
	return keys.Info{}, keys.ErrUnsupported
}
func (notFound) Rotate(context.Context, string, *certpolicy.Policy) (keys.Info, error) {
	return keys.Info{}, keys.ErrUnsupported
}
func (notFound) List(context.Context) ([]keys.Info, error) { return nil, nil }
func (notFound) Get(_ context.Context, r keys.Ref) (keys.Info, error) {
	return keys.Info{}, fmt.Errorf("%w: %s", keys.ErrNotFound, r)
}
func (notFound) Signer(_ context.Context, r keys.Ref) (*keys.Key, error) {
	return nil, fmt.Errorf("%w: %s", keys.ErrNotFound, r)
}

// FuzzServe runs any request through the protocol. The providers are
// replaced through the plugin's seam, so a key ID naming a PKCS#11 module or
// a configuration naming a passphrase file is exercised like any other
// instead of loading or reading what the fuzzer wrote. Properties: exactly
// one of stdout (success) and stderr (failure, a protocol error in JSON
// with a known code) is written, and a provider is only opened for a
// request that names a key.
func FuzzServe(f *testing.F) {
	f.Add("describe-key", `{"contractVersion":"1.0","keyId":"k"}`)
	f.Add("describe-key", `{"contractVersion":"1.0","keyId":"pkcs11:token=t;object=k?module-path=/dev/stdin&pin-source=/dev/stdin"}`)
	f.Add("generate-signature", `{"contractVersion":"1.0","keyId":"k","keySpec":"EC-256","hashAlgorithm":"SHA-256","payload":"eA==","pluginConfig":{"passphrase-file":"/dev/stdin","store":"/"}}`)
	f.Add("get-plugin-metadata", `{"pluginConfig":{"a":"b"}}`)
	codes := []string{"VALIDATION_ERROR", "UNSUPPORTED_CONTRACT_VERSION", "ACCESS_DENIED", "TIMEOUT", "THROTTLED", "ERROR"}
	f.Fuzz(func(t *testing.T, cmd, req string) {
		opened := 0
		h := &Hallmark{
			Getenv: func(string) string { return "" },
			openPKCS11: func(context.Context, pkcs11.Config) (keys.Provider, func(), error) {
				opened++
				return notFound{}, func() {}, nil
			},
			openLocal: func(string, string) (keys.Provider, error) { opened++; return notFound{}, nil },
		}
		var out, errb bytes.Buffer
		code := Serve(context.Background(), []string{cmd}, strings.NewReader(req), &out, &errb, h)
		if code == 0 && (out.Len() == 0 || errb.Len() != 0) || code != 0 && (out.Len() != 0 || !json.Valid(errb.Bytes())) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
		}
		if code != 0 {
			var e struct {
				ErrorCode string `json:"errorCode"`
			}
			if err := json.Unmarshal(errb.Bytes(), &e); err != nil || !slices.Contains(codes, e.ErrorCode) {
				t.Fatalf("stderr %q is not a protocol error with a known code", errb.String())
			}
		}
		if opened > 0 && !strings.Contains(strings.ToLower(req), "keyid") && !strings.Contains(req, `\u`) {
			t.Fatalf("%s opened a key provider for a request naming no key: %q", cmd, req)
		}
		if opened > 1 {
			t.Fatalf("%s opened %d providers for one request", cmd, opened)
		}
	})
}
