// Package kvtest is a test double of Azure Key Vault's certificate API, for
// tests only: it serves certificates by name and version to a client that
// authenticates the way Key Vault asks, with an Entra token (acrtest.Entra)
// for Key Vault's resource.
//
// Nothing of Azure can run here, so it is written from Microsoft's REST
// documentation, and it checks what hallmark sends against it (method,
// path, api-version, Host, the bearer token's audience), failing the test on
// any difference:
//
//   - Get Certificate (GET {vaultBaseUrl}/certificates/{name}/{version}?api-version=...,
//     the CertificateBundle answered, the error body):
//     https://learn.microsoft.com/en-us/rest/api/keyvault/certificates/get-certificate/get-certificate
//   - Get Key (GET {vaultBaseUrl}/keys/{name}/{version}?api-version=..., the
//     KeyBundle with its JSON Web Key) and Get Key Versions (GET
//     {vaultBaseUrl}/keys/{name}/versions, KeyListResult), for cosign keys
//     that have no certificate:
//     https://learn.microsoft.com/en-us/rest/api/keyvault/keys/get-key/get-key
//     https://learn.microsoft.com/en-us/rest/api/keyvault/keys/get-key-versions/get-key-versions
//   - the authentication challenge (401 with WWW-Authenticate: Bearer
//     authorization="{authority}/{tenant}", resource="https://vault.azure.net"),
//     and the Host header that must name the vault:
//     https://learn.microsoft.com/en-us/azure/key-vault/general/authentication-requests-and-responses
//     https://learn.microsoft.com/en-us/azure/key-vault/general/common-parameters-and-headers
//   - error codes (401 without a token, 403, 404 CertificateNotFound):
//     https://learn.microsoft.com/en-us/azure/key-vault/general/rest-error-codes
//
// The Azure SDK accepts a challenge only when the vault's host ends with
// "." and the challenge resource's host (vault.azure.net for a vault at
// NAME.vault.azure.net): a vault reached as 127.0.0.1 cannot name a
// resource that passes. So the fake is reached as what a real vault is
// called, https://NAME.vault.azure.net, through Proxy, an HTTP CONNECT
// proxy (HTTPS_PROXY) that sends that one host to the fake (and the hosts
// given to Tunnel to theirs) and refuses any other; nothing in hallmark
// changes for the test.
package kvtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
)

// Resource is what the challenge names: Key Vault's resource in the public
// cloud, whose .default scope is acrtest.VaultScope.
const Resource = "https://vault.azure.net"

// apiVersion is what the documented api-versions look like: 7.0 ... 7.6,
// then date-named ones (2025-07-01, which azkeys v1.4 sends).
var apiVersion = regexp.MustCompile(`^(7\.[0-9]+|20[0-9]{2}-[01][0-9]-[0-3][0-9])(-preview)?$`)

// Vault is a fake Key Vault named Host (NAME.vault.azure.net), listening
// on a loopback port and reached through Proxy.
type Vault struct {
	t TB
	// Host is the vault's name as clients address it.
	Host string
	// URL is https://Host.
	URL string
	// CAPEM is the CA of the vault's TLS certificate.
	CAPEM []byte
	// Authority is the Entra authority the challenge names
	// (https://HOST/TENANT).
	Authority string

	entra *acrtest.Entra
	srv   *httptest.Server
	proxy *httptest.Server

	mu sync.Mutex
	// certs by name, then version.
	certs map[string]map[string]*x509.Certificate
	// latest version of each name.
	latest map[string]string
	// disabled holds "NAME/VERSION" of the versions Disable switched off.
	disabled map[string]bool
	// keys by name, then version, in the order added (the last is the
	// latest): vault keys without a certificate.
	keys map[string][]vaultKey
	// Requests are the authenticated requests ("GET /certificates/N/V").
	Requests []string
	// Down makes the vault unreachable: the proxy refuses the tunnel as a
	// vault that does not answer.
	Down    bool
	tunnels []net.Conn
	// routes are the other hosts (host:port) the proxy tunnels, to
	// loopback addresses.
	routes map[string]string
}

// TB is the part of testing.TB the fake uses.
type TB interface {
	acrtest.TB
	Cleanup(func())
	Fatal(args ...any)
}

// New starts a vault called name (NAME.vault.azure.net) whose tokens come
// from entra for tenant, at authority (https://ENTRA_HOST).
func New(t TB, name string, entra *acrtest.Entra, authority, tenant string) *Vault {
	v := &Vault{t: t, Host: name + ".vault.azure.net", entra: entra,
		certs: map[string]map[string]*x509.Certificate{}, latest: map[string]string{}}
	v.URL = "https://" + v.Host
	v.Authority = strings.TrimSuffix(authority, "/") + "/" + tenant
	cert, caPEM, err := serving(v.Host)
	if err != nil {
		t.Fatal(err)
	}
	v.CAPEM = caPEM
	v.srv = httptest.NewUnstartedServer(http.HandlerFunc(v.serve))
	v.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	v.srv.StartTLS()
	t.Cleanup(v.srv.Close)
	v.proxy = httptest.NewServer(http.HandlerFunc(v.connect))
	t.Cleanup(v.proxy.Close)
	return v
}

// Proxy is the URL of the CONNECT proxy to set as HTTPS_PROXY. Go does not
// proxy loopback addresses, so the Entra and registry fakes on 127.0.0.1
// are reached directly.
func (v *Vault) Proxy() string { return v.proxy.URL }

// Tunnel makes the proxy tunnel CONNECTs to host (host:port) to addr as
// well, for another fake reached by a public name (an ACR at
// NAME.azurecr.io:443); any host neither the vault nor one given here is
// still refused. Down does not apply to it.
func (v *Vault) Tunnel(host, addr string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.routes == nil {
		v.routes = map[string]string{}
	}
	v.routes[host] = addr
}

// Add stores cert as version of certificate name; the last added is the
// latest.
func (v *Vault) Add(name, version string, cert *x509.Certificate) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.certs[name] == nil {
		v.certs[name] = map[string]*x509.Certificate{}
	}
	v.certs[name][version] = cert
	v.latest[name] = version
}

// vaultKey is one version of a key without a certificate.
type vaultKey struct {
	version string
	pub     crypto.PublicKey
}

// AddKey stores pub as version of key name, a key with no certificate;
// the last added is the latest.
func (v *Vault) AddKey(name, version string, pub crypto.PublicKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil {
		v.keys = map[string][]vaultKey{}
	}
	v.keys[name] = append(v.keys[name], vaultKey{version, pub})
}

// Disable sets version of certificate name disabled (attributes.enabled
// false): Get Certificate still answers it, saying so.
func (v *Vault) Disable(name, version string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.disabled == nil {
		v.disabled = map[string]bool{}
	}
	v.disabled[name+"/"+version] = true
}

// Delete deletes certificate name, every version, as Delete Certificate
// does (https://learn.microsoft.com/rest/api/keyvault/certificates/delete-certificate/delete-certificate):
// Get Certificate then answers 404 for it, as for a name never added.
func (v *Vault) Delete(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.certs, name)
	delete(v.latest, name)
}

// Enable undoes Disable.
func (v *Vault) Enable(name, version string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.disabled, name+"/"+version)
}

// SetDown makes the vault unreachable (true) or reachable again.
func (v *Vault) SetDown(down bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.Down = down
	if down {
		// Connections kept alive break as the vault's would.
		for _, c := range v.tunnels {
			c.Close()
		}
		v.tunnels = nil
	}
}

// connect is the proxy: a CONNECT to the vault's host:443 is tunnelled to
// the fake; anything else is a test failure.
func (v *Vault) connect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		v.t.Errorf("kvtest proxy: %s %s; only CONNECT tunnels to %s are expected", r.Method, r.URL, v.Host)
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	v.mu.Lock()
	addr, routed := v.routes[r.Host]
	down := v.Down
	v.mu.Unlock()
	if !routed {
		if r.Host != v.Host+":443" {
			v.t.Errorf("kvtest proxy: CONNECT %s; only the vault %s:443 is expected through the proxy", r.Host, v.Host)
			http.Error(w, "unknown host", http.StatusBadGateway)
			return
		}
		if down {
			http.Error(w, "vault unreachable", http.StatusBadGateway)
			return
		}
		addr = v.srv.Listener.Addr().String()
	}
	upstream, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	client, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if !routed {
		v.mu.Lock()
		v.tunnels = append(v.tunnels, client, upstream)
		v.mu.Unlock()
	}
	go func() {
		defer upstream.Close()
		defer client.Close()
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Reader.Peek(n)
			upstream.Write(b)
		}
		go io.Copy(client, upstream)
		io.Copy(upstream, client)
	}()
}

func (v *Vault) serve(w http.ResponseWriter, r *http.Request) {
	if r.Host != v.Host {
		v.t.Errorf("kvtest: Host %q; Key Vault needs the vault's host name, %s", r.Host, v.Host)
	}
	if av := r.URL.Query().Get("api-version"); !apiVersion.MatchString(av) {
		v.t.Errorf("kvtest: %s %s: api-version %q is not a Key Vault data-plane version (7.x or date-named)", r.Method, r.URL.Path, av)
		vaultError(w, http.StatusBadRequest, "BadParameter", "The api-version query parameter is missing or not valid.")
		return
	}
	tok, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasToken || !v.entra.ValidFor(tok, acrtest.VaultScope) {
		if hasToken && (v.entra.ValidFor(tok, acrtest.ACRScope)) {
			v.t.Errorf("kvtest: a token for %s was sent to Key Vault; the challenge names %s", acrtest.ACRScope, Resource)
		}
		// The challenge of the documentation: where to get a token, and
		// for which resource.
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s", resource="%s"`, v.Authority, Resource))
		vaultError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodGet && len(parts) >= 2 && len(parts) <= 3 && parts[0] == "keys" {
		v.serveKey(w, r, parts[1:])
		return
	}
	if r.Method != http.MethodGet || len(parts) < 2 || len(parts) > 3 || parts[0] != "certificates" {
		v.t.Errorf("kvtest: unexpected request %s %s; hallmark reads certificates with GET /certificates/NAME[/VERSION] and keys with GET /keys/NAME[/VERSION|/versions]", r.Method, r.URL.Path)
		vaultError(w, http.StatusBadRequest, "BadParameter", "unexpected request")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.Requests = append(v.Requests, r.Method+" "+r.URL.Path)
	name, version := parts[1], ""
	if len(parts) == 3 {
		version = parts[2]
	} else {
		version = v.latest[name]
	}
	cert := v.certs[name][version]
	if cert == nil {
		msg := fmt.Sprintf("A certificate with (name/id) %s was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name)
		if len(parts) == 3 {
			msg = fmt.Sprintf("A certificate with (name/id) %s/%s was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name, version)
		}
		vaultError(w, http.StatusNotFound, "CertificateNotFound", msg)
		return
	}
	sum := sha1.Sum(cert.Raw)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":  v.URL + "/certificates/" + name + "/" + version,
		"kid": v.URL + "/keys/" + name + "/" + version,
		"sid": v.URL + "/secrets/" + name + "/" + version,
		"x5t": base64.RawURLEncoding.EncodeToString(sum[:]),
		"cer": base64.StdEncoding.EncodeToString(cert.Raw),
		"attributes": map[string]any{
			"enabled": !v.disabled[name+"/"+version], "nbf": cert.NotBefore.Unix(), "exp": cert.NotAfter.Unix(),
			"created": cert.NotBefore.Unix(), "updated": cert.NotBefore.Unix(), "recoveryLevel": "Recoverable+Purgeable",
		},
	})
}

// serveKey answers Get Key (NAME[/VERSION]) and Get Key Versions
// (NAME/versions) for keys AddKey stored.
func (v *Vault) serveKey(w http.ResponseWriter, r *http.Request, parts []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.Requests = append(v.Requests, r.Method+" "+r.URL.Path)
	name := parts[0]
	versions := v.keys[name]
	notFound := func() {
		vaultError(w, http.StatusNotFound, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", strings.Join(parts, "/")))
	}
	if len(versions) == 0 {
		notFound()
		return
	}
	attributes := func(version string) map[string]any {
		return map[string]any{"enabled": !v.disabled[name+"/"+version], "created": 1700000000, "updated": 1700000000, "recoveryLevel": "Recoverable+Purgeable"}
	}
	if len(parts) == 2 && parts[1] == "versions" {
		var items []any
		for _, k := range versions {
			items = append(items, map[string]any{"kid": v.URL + "/keys/" + name + "/" + k.version, "attributes": attributes(k.version)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": items, "nextLink": nil})
		return
	}
	k := versions[len(versions)-1]
	if len(parts) == 2 {
		found := false
		for _, kk := range versions {
			if kk.version == parts[1] {
				k, found = kk, true
			}
		}
		if !found {
			notFound()
			return
		}
	}
	jwk := JWK(k.pub)
	if jwk == nil {
		v.t.Errorf("kvtest: key %s holds a %T, which the fake cannot write as a JSON Web Key", name, k.pub)
		jwk = map[string]any{}
	}
	jwk["kid"], jwk["key_ops"] = v.URL+"/keys/"+name+"/"+k.version, []string{"verify"}
	writeJSON(w, http.StatusOK, map[string]any{"key": jwk, "attributes": attributes(k.version)})
}

// vaultError writes Key Vault's error body ({"error": {code, message}}).
func vaultError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// NewVersion returns a version ID shaped as the vault's (32 hex digits).
func NewVersion() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serving makes a CA and a TLS certificate for host.
func serving(host string) (tls.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kvtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// JWK is the public part of a JSON Web Key (RFC 7517, 7518) for an RSA or
// EC public key, as Key Vault writes it in a KeyBundle; nil for another
// kind of key.
func JWK(pub crypto.PublicKey) map[string]any {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		x, y := JWKCoordinates(k)
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y)}
	}
	return nil
}

// JWKCoordinates are the x and y of an EC public key as a JSON Web Key
// writes them, each the curve's size.
func JWKCoordinates(pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes()
	if err != nil {
		return nil, nil
	}
	size := (len(b) - 1) / 2
	return b[1 : 1+size], b[1+size:]
}
