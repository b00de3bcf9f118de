package azurekv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"

	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvtest"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// fakeVault implements the parts of the Azure Key Vault REST API the
// provider uses, as documented (learn.microsoft.com/rest/api/keyvault):
// the bearer challenge (401 with WWW-Authenticate), certificates create,
// pending operation, get, list and list versions, and keys sign. It holds
// real keys and signs with them, so signatures can be verified. It is
// written from the documentation, not recorded from a live vault.
type fakeVault struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	certs    map[string][]*fakeVersion // by name, oldest first
	pending  map[string]int            // polls left before an operation completes
	requests []string                  // "METHOD path" of authenticated requests
	deny     bool                      // answer 403 to everything
}

type fakeVersion struct {
	id      string
	created time.Time
	key     crypto.Signer
	cer     []byte
	policy  *certpolicy.Policy
	// disabled is the version's attributes.enabled set to false: Get
	// Certificate still returns it, saying so (Certificate Attributes,
	// learn.microsoft.com/rest/api/keyvault/certificates/get-certificate/get-certificate).
	disabled bool
}

func newFakeVault(t *testing.T) *fakeVault {
	v := &fakeVault{t: t, certs: map[string][]*fakeVersion{}, pending: map[string]int{}}
	v.srv = httptest.NewTLSServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (v *fakeVault) provider(t *testing.T) *Provider {
	p, err := New(v.srv.URL, Options{
		Credential:                           fakeCredential{},
		ClientOptions:                        &azcore.ClientOptions{Transport: v.srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
		DisableChallengeResourceVerification: true,
		PollInterval:                         time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (v *fakeVault) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (v *fakeVault) reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (v *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("api-version") == "" {
		v.fail(w, 400, "BadParameter", "api-version is required")
		return
	}
	if r.Header.Get("Authorization") != "Bearer fake-token" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		v.fail(w, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests = append(v.requests, r.Method+" "+r.URL.Path)
	if v.deny {
		v.fail(w, 403, "Forbidden", "The user does not have certificates get permission")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "certificates" && parts[2] == "create":
		v.create(w, r, parts[1])
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "certificates" && parts[2] == "pending":
		v.operation(w, parts[1])
	case r.Method == "GET" && len(parts) == 1 && parts[0] == "certificates":
		var items []any
		for name, vs := range v.certs {
			items = append(items, map[string]any{"id": v.srv.URL + "/certificates/" + name, "attributes": v.attributes(vs[len(vs)-1])})
		}
		v.reply(w, 200, map[string]any{"value": items, "nextLink": nil})
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "certificates" && parts[2] == "versions":
		vs, ok := v.certs[parts[1]]
		if !ok {
			v.fail(w, 404, "CertificateNotFound", "A certificate with (name/id) "+parts[1]+" was not found in this key vault.")
			return
		}
		var items []any
		for _, ver := range vs {
			items = append(items, map[string]any{"id": v.srv.URL + "/certificates/" + parts[1] + "/" + ver.id, "attributes": v.attributes(ver)})
		}
		v.reply(w, 200, map[string]any{"value": items, "nextLink": nil})
	case r.Method == "GET" && (len(parts) == 2 || len(parts) == 3) && parts[0] == "certificates":
		version := ""
		if len(parts) == 3 {
			version = parts[2]
		}
		ver := v.find(parts[1], version)
		if ver == nil {
			v.fail(w, 404, "CertificateNotFound", "A certificate with (name/id) "+parts[1]+" was not found in this key vault.")
			return
		}
		pol, _ := json.Marshal(toVault(ver.policy))
		v.reply(w, 200, map[string]any{
			"policy":     json.RawMessage(pol),
			"id":         v.srv.URL + "/certificates/" + parts[1] + "/" + ver.id,
			"kid":        v.srv.URL + "/keys/" + parts[1] + "/" + ver.id,
			"sid":        v.srv.URL + "/secrets/" + parts[1] + "/" + ver.id,
			"cer":        base64.StdEncoding.EncodeToString(ver.cer),
			"attributes": v.attributes(ver),
		})
	case r.Method == "POST" && len(parts) == 4 && parts[0] == "keys" && parts[3] == "sign":
		v.sign(w, r, parts[1], parts[2])
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "keys" && parts[2] == "versions":
		// Get Key Versions: https://learn.microsoft.com/en-us/rest/api/keyvault/keys/get-key-versions/get-key-versions
		vs, ok := v.certs[parts[1]]
		if !ok {
			v.fail(w, 404, "KeyNotFound", "A key with (name/id) "+parts[1]+" was not found in this key vault.")
			return
		}
		var items []any
		for _, ver := range vs {
			items = append(items, map[string]any{"kid": v.srv.URL + "/keys/" + parts[1] + "/" + ver.id, "attributes": v.attributes(ver)})
		}
		v.reply(w, 200, map[string]any{"value": items, "nextLink": nil})
	case r.Method == "GET" && (len(parts) == 2 || len(parts) == 3) && parts[0] == "keys":
		// Get Key: https://learn.microsoft.com/en-us/rest/api/keyvault/keys/get-key/get-key
		version := ""
		if len(parts) == 3 {
			version = parts[2]
		}
		ver := v.find(parts[1], version)
		if ver == nil {
			v.fail(w, 404, "KeyNotFound", "A key with (name/id) "+parts[1]+" was not found in this key vault.")
			return
		}
		jwk := kvtest.JWK(ver.key.Public())
		jwk["kid"], jwk["key_ops"] = v.srv.URL+"/keys/"+parts[1]+"/"+ver.id, []string{"sign", "verify"}
		v.reply(w, 200, map[string]any{"key": jwk, "attributes": v.attributes(ver)})
	default:
		v.fail(w, 400, "BadParameter", "unexpected request "+r.Method+" "+r.URL.Path)
	}
}

func (v *fakeVault) attributes(ver *fakeVersion) map[string]any {
	return map[string]any{"enabled": !ver.disabled, "created": ver.created.Unix(), "updated": ver.created.Unix(), "recoveryLevel": "Recoverable+Purgeable"}
}

func (v *fakeVault) find(name, version string) *fakeVersion {
	vs := v.certs[name]
	if len(vs) == 0 {
		return nil
	}
	if version == "" {
		return vs[len(vs)-1]
	}
	for _, ver := range vs {
		if ver.id == version {
			return ver
		}
	}
	return nil
}

func (v *fakeVault) create(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Policy json.RawMessage `json:"policy"`
	}
	data, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(data, &body); err != nil {
		v.fail(w, 400, "BadParameter", err.Error())
		return
	}
	var pol *certpolicy.Policy
	if len(body.Policy) > 0 {
		var cp azcertificates.CertificatePolicy
		if err := json.Unmarshal(body.Policy, &cp); err != nil {
			v.fail(w, 400, "BadParameter", err.Error())
			return
		}
		// The REST API names the fields key_props, x509_props, issuer.
		if !strings.Contains(string(body.Policy), `"key_props"`) || !strings.Contains(string(body.Policy), `"x509_props"`) {
			v.fail(w, 400, "BadParameter", "policy without key_props or x509_props: "+string(body.Policy))
			return
		}
		pol = fromVault(&cp)
	} else if vs := v.certs[name]; len(vs) > 0 {
		pol = vs[len(vs)-1].policy
	} else {
		v.fail(w, 400, "BadParameter", "a new certificate needs a policy")
		return
	}
	soft := *pol
	soft.Key.KeyType = strings.TrimSuffix(soft.Key.KeyType, "-HSM") // the fake vault keeps keys in memory
	key, err := certpolicy.GenerateKey(&soft)
	if err != nil {
		v.fail(w, 400, "BadParameter", err.Error())
		return
	}
	chain, err := certpolicy.IssueCertificate(pol, key, nil, time.Now())
	if err != nil {
		v.fail(w, 400, "BadParameter", err.Error())
		return
	}
	id := make([]byte, 16)
	rand.Read(id)
	v.certs[name] = append(v.certs[name], &fakeVersion{id: hex.EncodeToString(id), created: time.Now().Add(time.Duration(len(v.certs[name])) * time.Second), key: key, cer: chain[0].Raw, policy: pol})
	v.pending[name] = 1 // the first poll says inProgress
	v.reply(w, 202, map[string]any{"id": v.srv.URL + "/certificates/" + name + "/pending", "status": "inProgress", "request_id": "r1"})
}

func (v *fakeVault) operation(w http.ResponseWriter, name string) {
	status := "completed"
	if v.pending[name] > 0 {
		v.pending[name]--
		status = "inProgress"
	}
	v.reply(w, 200, map[string]any{"id": v.srv.URL + "/certificates/" + name + "/pending", "status": status,
		"target": v.srv.URL + "/certificates/" + name})
}

func (v *fakeVault) sign(w http.ResponseWriter, r *http.Request, name, version string) {
	ver := v.find(name, version)
	if ver == nil {
		v.fail(w, 404, "KeyNotFound", "key not found: "+name)
		return
	}
	var req struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	digest, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(req.Value, "="))
	if err != nil {
		v.fail(w, 400, "BadParameter", "value is not base64url")
		return
	}
	hash := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[req.Alg[2:]]
	var sig []byte
	switch k := ver.key.(type) {
	case *rsa.PrivateKey:
		if !strings.HasPrefix(req.Alg, "PS") && !strings.HasPrefix(req.Alg, "RS") {
			v.fail(w, 400, "BadParameter", "algorithm "+req.Alg+" for an RSA key")
			return
		}
		if strings.HasPrefix(req.Alg, "PS") {
			sig, err = rsa.SignPSS(rand.Reader, k, hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, digest)
		}
	case *ecdsa.PrivateKey:
		if !strings.HasPrefix(req.Alg, "ES") {
			v.fail(w, 400, "BadParameter", "algorithm "+req.Alg+" for an EC key")
			return
		}
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest)
		if err == nil {
			size := (k.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	}
	if err != nil {
		v.fail(w, 400, "BadParameter", err.Error())
		return
	}
	v.reply(w, 200, map[string]any{"kid": v.srv.URL + "/keys/" + name + "/" + ver.id, "value": base64.RawURLEncoding.EncodeToString(sig)})
}
