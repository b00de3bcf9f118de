// Package acrtest is a test double of the Azure endpoints hallmark's ACR
// credentials talk to, for tests only: Microsoft Entra ID's token endpoint
// (client credentials with a federated client assertion, as AKS workload
// identity uses) and Azure Container Registry's token service
// (/oauth2/exchange and /oauth2/token), in front of a registry.
//
// Nothing of Azure can run here, so it is written from Microsoft's REST
// documentation, and it checks every request hallmark sends against it
// (method, content type, form fields, grant types, headers), failing the
// test on any difference, not only answering:
//
//   - Entra token request with a federated credential:
//     https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential
//   - Entra error responses (error, error_description with AADSTS code,
//     error_codes, trace_id, correlation_id):
//     https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#error-response
//   - OpenID Connect discovery document an authority serves:
//     https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
//   - ACR's exchange of an Entra token for a refresh token, and of the
//     refresh token for an access token:
//     https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md
//     (published as https://azure.github.io/acr/AAD-OAuth.html),
//     https://learn.microsoft.com/en-us/rest/api/containerregistry/refresh-tokens/get-from-exchange,
//     https://learn.microsoft.com/en-us/rest/api/containerregistry/access-tokens/get-from-login,
//     https://learn.microsoft.com/en-us/rest/api/containerregistry/access-tokens/get
//
// With SignTokens, the access tokens are JWTs the distribution registry's
// token authentication accepts (auth: token, with the realm at this
// service's /oauth2/token), so that a real registry can sit behind it:
// https://distribution.github.io/distribution/spec/auth/jwt/ and
// https://distribution.github.io/distribution/about/configuration/#token.
package acrtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ACRScope is the only scope ACR's exchange accepts tokens for.
const ACRScope = "https://containerregistry.azure.net/.default"

// VaultScope is the scope of Key Vault's data plane.
const VaultScope = "https://vault.azure.net/.default"

// ACRUsername is the user name ACR expects with a refresh token.
const ACRUsername = "00000000-0000-0000-0000-000000000000"

// assertionType is the client_assertion_type of a federated credential.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// TB is the part of testing.TB the fakes use.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Entra is a fake Microsoft Entra ID authority for one tenant and one
// application with a federated credential.
type Entra struct {
	t TB
	// Host is the authority's host (what AZURE_AUTHORITY_HOST names).
	Host string

	mu sync.Mutex
	// TenantID, ClientID and Assertion are what a token request must
	// carry: the assertion is the projected service account token.
	TenantID, ClientID, Assertion string
	// AssertionExpired makes Entra refuse the assertion as expired
	// (AADSTS700024).
	AssertionExpired bool
	// TokenLifetime is expires_in of issued tokens. Zero: one hour.
	TokenLifetime time.Duration
	// Requests counts token requests.
	Requests int
	issued   map[string]string // token -> scope
}

// NewEntra returns an Entra for host ("127.0.0.1:port"), to be served by
// Handler.
func NewEntra(t TB, host, tenantID, clientID, assertion string) *Entra {
	return &Entra{t: t, Host: host, TenantID: tenantID, ClientID: clientID, Assertion: assertion, issued: map[string]string{}}
}

// Valid reports whether Entra issued token for ACR's scope.
func (e *Entra) Valid(token string) bool { return e.ValidFor(token, ACRScope) }

// ValidFor reports whether Entra issued token for scope.
func (e *Entra) ValidFor(token, scope string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.issued[token] == scope
}

// TokenRequests returns how many token requests Entra answered.
func (e *Entra) TokenRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Requests
}

// Revoke makes every token issued so far invalid.
func (e *Entra) Revoke() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.issued = map[string]string{}
}

// ServeHTTP answers the discovery, instance-discovery and token endpoints.
func (e *Entra) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[1] == "discovery" && parts[2] == "instance":
		// MSAL asks the authority which hosts are aliases of it.
		base := "https://" + e.Host
		writeJSON(w, http.StatusOK, map[string]any{
			"tenant_discovery_endpoint": base + "/" + parts[0] + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata":                  []any{map[string]any{"preferred_network": e.Host, "preferred_cache": e.Host, "aliases": []string{e.Host}}},
		})
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		if r.Method != http.MethodGet {
			e.t.Errorf("entra: %s %s: the discovery document is read with GET", r.Method, r.URL.Path)
		}
		if parts[0] != e.tenant() && parts[0] != "organizations" && parts[0] != "common" {
			e.tenantNotFound(w, parts[0])
			return
		}
		base := "https://" + e.Host + "/" + parts[0]
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		})
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		e.token(w, r, parts[0])
	default:
		e.t.Errorf("entra: unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// SetAssertionExpired sets AssertionExpired while requests may be served.
func (e *Entra) SetAssertionExpired(expired bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.AssertionExpired = expired
}

func (e *Entra) tenant() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.TenantID
}

// token is the token endpoint: POST, form-encoded, client credentials with
// the federated assertion.
func (e *Entra) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		e.t.Errorf("entra: token request with %s, the documentation says POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		e.t.Errorf("entra: token request Content-Type %q, the documentation says application/x-www-form-urlencoded", ct)
	}
	if err := r.ParseForm(); err != nil {
		e.t.Errorf("entra: token request form: %v", err)
	}
	f := r.PostForm
	// MSAL adds the OpenID scopes to every request; Entra accepts them
	// alongside one resource's .default scope.
	var resource []string
	for _, sc := range strings.Fields(f.Get("scope")) {
		switch sc {
		case "openid", "offline_access", "profile":
		default:
			resource = append(resource, sc)
		}
	}
	if len(resource) != 1 || (resource[0] != ACRScope && resource[0] != VaultScope) {
		e.t.Errorf("entra: token request scope %q, want one of %s or %s (and OpenID scopes)", f.Get("scope"), ACRScope, VaultScope)
	}
	for field, want := range map[string]string{
		"grant_type":            "client_credentials",
		"client_assertion_type": assertionType,
	} {
		if got := f.Get(field); got != want {
			e.t.Errorf("entra: token request %s = %q, want %q", field, got, want)
		}
	}
	if f.Get("client_secret") != "" {
		e.t.Errorf("entra: token request carries a client_secret; a federated credential sends only the assertion")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Requests++
	switch {
	case tenant != e.TenantID:
		e.tenantNotFound(w, tenant)
	case f.Get("client_id") != e.ClientID:
		entraError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", f.Get("client_id"), tenant))
	case f.Get("client_assertion") != e.Assertion:
		entraError(w, http.StatusBadRequest, "invalid_client", 700213,
			"No matching federated identity record found for presented assertion subject. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")
	case e.AssertionExpired:
		entraError(w, http.StatusBadRequest, "invalid_client", 700024,
			"Client assertion is not within its valid time range. Current time: 2026-12-04T13:00:00Z, assertion valid from 2026-12-03T11:00:00Z, expiry time of assertion 2026-12-03T12:00:00Z.")
	default:
		life := e.TokenLifetime
		if life == 0 {
			life = time.Hour
		}
		tok := "entra-" + randomHex()
		if len(resource) == 1 {
			e.issued[tok] = resource[0]
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     int(life.Seconds()),
			"ext_expires_in": int(life.Seconds()),
			"access_token":   tok,
		})
	}
}

func (e *Entra) tenantNotFound(w http.ResponseWriter, tenant string) {
	entraError(w, http.StatusBadRequest, "invalid_tenant", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
}

// entraError writes Entra's documented error body.
func entraError(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: 2026-12-04 13:00:00Z", aadsts, msg, randomHex(), randomHex()),
		"error_codes":       []int{aadsts},
		"timestamp":         "2026-12-04 13:00:00Z",
		"trace_id":          randomHex(),
		"correlation_id":    randomHex(),
	})
}

// ACR is a fake of Azure Container Registry's token service for one
// registry host: it exchanges Entra tokens for refresh tokens and refresh
// tokens for access tokens, which the registry in front of it accepts
// (CheckAccess).
type ACR struct {
	t TB
	// Host is the registry's host, the "service" of every request.
	Host  string
	entra *Entra

	mu sync.Mutex
	// TenantID is the tenant the registry belongs to.
	TenantID string
	// RefuseExchange makes the exchange answer 401 as ACR does for an
	// identity without access.
	RefuseExchange bool
	// Exchanges and TokenRequests count requests.
	Exchanges, TokenRequests int
	exchangeForms            []url.Values
	tokens                   []TokenRequest
	refresh                  map[string][]string // refresh token -> actions granted
	access                   map[string]string   // token -> scope
	signer                   *TokenSigner
}

// ExchangeCount returns Exchanges, read under the lock the handler writes
// it under: for tests whose exchanges run in the background.
func (a *ACR) ExchangeCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Exchanges
}

// Log returns the forms of the exchange requests and the token requests
// so far, in order: for tests to check what a client sent beyond what
// every request is checked for.
func (a *ACR) Log() (exchanges []url.Values, tokens []TokenRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.exchangeForms), slices.Clone(a.tokens)
}

// TokenRequest is one request for an access token.
type TokenRequest struct {
	// Method is GET ("Access Tokens - Get From Login", basic auth) or
	// POST ("Access Tokens - Get", a refresh_token grant).
	Method string
	// Username is the basic-auth user of a GET.
	Username string
	// GrantType is the grant_type of a POST.
	GrantType string
	// Service and Scopes are the request's service and scope parameters.
	Service string
	Scopes  []string
}

// pullActions is what the exchange's refresh tokens grant: the identity of
// hallmark's pod has the AcrPull role, as in the reference setup.
var pullActions = []string{"pull"}

// NewACR returns an ACR token service for host, trusting entra.
func NewACR(t TB, host, tenantID string, entra *Entra) *ACR {
	return &ACR{t: t, Host: host, entra: entra, TenantID: tenantID, refresh: map[string][]string{}, access: map[string]string{}}
}

// SetRefuseExchange sets RefuseExchange while requests may be served.
func (a *ACR) SetRefuseExchange(refuse bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.RefuseExchange = refuse
}

// RevokeRefreshTokens makes every refresh token issued so far invalid, as
// when ACR stops honouring one before its expiry.
func (a *ACR) RevokeRefreshTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refresh = map[string][]string{}
	a.access = map[string]string{}
}

// RefreshToken issues a refresh token granting actions (e.g. "pull",
// "push") on every repository, as `az acr login --expose-token` gives one
// to a user with the AcrPush role: for tests that push to the registry.
func (a *ACR) RefreshToken(actions ...string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	tok := jwtLike(map[string]any{"exp": time.Now().Add(3 * time.Hour).Unix(), "grant_type": "refresh_token", "service": a.Host})
	a.refresh[tok] = actions
	return tok
}

// Handles reports whether r is for the token service.
func (a *ACR) Handles(r *http.Request) bool {
	return r.URL.Path == "/oauth2/exchange" || r.URL.Path == "/oauth2/token"
}

// ServeHTTP answers /oauth2/exchange and /oauth2/token.
func (a *ACR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth2/exchange":
		a.exchange(w, r)
	case "/oauth2/token":
		a.token(w, r)
	default:
		a.t.Errorf("acr: unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// exchange: POST form grant_type=access_token, service, tenant (optional),
// access_token (the Entra token) -> {"refresh_token": ...}.
func (a *ACR) exchange(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		a.t.Errorf("acr: exchange with %s, the documentation says POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		a.t.Errorf("acr: exchange Content-Type %q, want application/x-www-form-urlencoded", ct)
	}
	if err := r.ParseForm(); err != nil {
		a.t.Errorf("acr: exchange form: %v", err)
	}
	f := r.PostForm
	a.mu.Lock()
	a.exchangeForms = append(a.exchangeForms, f)
	a.mu.Unlock()
	if got := f.Get("grant_type"); got != "access_token" {
		a.t.Errorf("acr: exchange grant_type = %q, want access_token (an Entra access token is exchanged)", got)
	}
	if got := f.Get("service"); got != a.Host {
		a.t.Errorf("acr: exchange service = %q, want the registry's host %q", got, a.Host)
	}
	if f.Get("access_token") == "" {
		a.t.Errorf("acr: exchange without access_token")
	}
	if r.URL.RawQuery != "" {
		a.t.Errorf("acr: exchange carries a query string %q; the token belongs in the form body", r.URL.RawQuery)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Exchanges++
	if tenant := f.Get("tenant"); tenant != "" && tenant != a.TenantID {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "the tenant does not match the registry's tenant")
		return
	}
	if a.RefuseExchange || !a.entra.Valid(f.Get("access_token")) {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
		return
	}
	tok := jwtLike(map[string]any{"exp": time.Now().Add(3 * time.Hour).Unix(), "grant_type": "refresh_token", "service": a.Host})
	a.refresh[tok] = pullActions
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": tok})
}

// token: GET with basic auth (user ACRUsername, password the refresh
// token), or POST form grant_type=refresh_token; service and scope either
// way -> {"access_token": ...}. The scopes are the registry's
// (repository:NAME:ACTIONS, from its challenge); the token grants those of
// the requested actions the refresh token allows.
func (a *ACR) token(w http.ResponseWriter, r *http.Request) {
	var service, refresh string
	var scopes []string
	req := TokenRequest{Method: r.Method}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		service, scopes = q.Get("service"), q["scope"]
		user, pass, ok := r.BasicAuth()
		if !ok {
			a.t.Errorf("acr: GET /oauth2/token without basic auth")
		} else if user != ACRUsername {
			a.t.Errorf("acr: GET /oauth2/token user %q, want %s with the refresh token as password", user, ACRUsername)
		}
		req.Username, refresh = user, pass
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			a.t.Errorf("acr: POST /oauth2/token Content-Type %q, want application/x-www-form-urlencoded", ct)
		}
		if err := r.ParseForm(); err != nil {
			a.t.Errorf("acr: token form: %v", err)
		}
		f := r.PostForm
		req.GrantType = f.Get("grant_type")
		if req.GrantType != "refresh_token" {
			a.t.Errorf("acr: POST /oauth2/token grant_type = %q, want refresh_token", req.GrantType)
		}
		service, scopes, refresh = f.Get("service"), f["scope"], f.Get("refresh_token")
		if refresh == "" {
			a.t.Errorf("acr: POST /oauth2/token without refresh_token (required)")
		}
	default:
		a.t.Errorf("acr: /oauth2/token with %s", r.Method)
	}
	if service != a.Host {
		a.t.Errorf("acr: token service = %q, want %q", service, a.Host)
	}
	if len(scopes) == 0 {
		a.t.Errorf("acr: %s /oauth2/token without scope (required)", r.Method)
	}
	var access []ResourceActions
	for _, sc := range scopes {
		ra, err := ParseScope(sc)
		if err != nil {
			a.t.Errorf("acr: %s /oauth2/token scope %q: %v", r.Method, sc, err)
			continue
		}
		access = append(access, ra)
	}
	req.Service, req.Scopes = service, scopes
	a.mu.Lock()
	defer a.mu.Unlock()
	a.TokenRequests++
	a.tokens = append(a.tokens, req)
	granted, ok := a.refresh[refresh]
	if !ok {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
		return
	}
	for i := range access {
		access[i].Actions = intersect(access[i].Actions, granted)
	}
	tok := "acr-access-" + randomHex()
	if a.signer != nil {
		var err error
		if tok, err = a.signer.Sign(service, access); err != nil {
			a.t.Errorf("acr: sign an access token: %v", err)
		}
	}
	var grants []string
	for _, ra := range access {
		grants = append(grants, ra.Type+":"+ra.Name+":"+strings.Join(ra.Actions, ","))
	}
	a.access[tok] = strings.Join(grants, " ")
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

// CheckAccess reports whether the Authorization header carries an access
// token this service issued with a scope that allows pulling repository.
func (a *ACR) CheckAccess(authorization, repository string) bool {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	scope, ok := a.access[tok]
	return ok && strings.Contains(scope, "repository:"+repository+":") && strings.Contains(scope, "pull")
}

// acrError writes ACR's error body ({"errors": [{code, message}]}).
func acrError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// jwtLike builds an unsigned token shaped as a JWT, so that a client may
// read its expiry as ACR's refresh tokens allow.
func jwtLike(claims map[string]any) string {
	claims["jti"] = randomHex()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + ".sig"
}

// Challenge is the WWW-Authenticate header ACR sends with a 401 for
// repository.
func (a *ACR) Challenge(scheme, repository string) string {
	realm := url.URL{Scheme: scheme, Host: a.Host, Path: "/oauth2/token"}
	return fmt.Sprintf(`Bearer realm=%q,service=%q,scope="repository:%s:pull"`, realm.String(), a.Host, repository)
}
