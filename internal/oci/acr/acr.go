// Package acr gives hallmark's registry client credentials for Azure
// Container Registry from an Azure identity (AKS workload identity or a
// managed identity), so that a private registry can be read without pull
// secrets.
//
// The flow is the one ACR documents for Microsoft Entra ID
// (https://azure.github.io/acr/AAD-OAuth.html): an Entra access token for
// https://containerregistry.azure.net/.default is exchanged at
// POST https://REGISTRY/oauth2/exchange for an ACR refresh token, which the
// registry client then presents, with the user name
// 00000000-0000-0000-0000-000000000000, to the registry's own token service.
//
// Refresh tokens are cached per registry and renewed in the background well
// before they expire, so that the exchange (half a second against real
// Azure) stays off the admission path once a registry has been seen.
package acr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/registryname"
)

// Scope is the Entra scope of tokens ACR accepts for the exchange.
const Scope = "https://containerregistry.azure.net/.default"

// Username is the user name ACR expects with a refresh token as password.
const Username = "00000000-0000-0000-0000-000000000000"

// DefaultEndpoints are the host patterns of ACR in Azure's public, US
// government and China clouds; only these get Azure credentials unless
// Options.Endpoints says otherwise.
var DefaultEndpoints = []string{"*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"}

// Timing of the refresh token cache.
const (
	// maxLifetime caps how long a refresh token is used: ACR's refresh
	// tokens live about three hours, and one whose expiry cannot be read
	// is treated as living that long.
	maxLifetime = 3 * time.Hour
	// renewBefore is how long before expiry a background renewal starts:
	// long enough that a slow or briefly failing Entra or registry still
	// leaves a usable token in the cache.
	renewBefore = 30 * time.Minute
	// expiryMargin is how long before expiry a token is no longer handed
	// out, so that one is not used as it expires in flight.
	expiryMargin = time.Minute
	// renewTimeout bounds one background renewal.
	renewTimeout = 30 * time.Second
	// failureBackoff is how long after a failed exchange the failure is
	// returned again without asking Entra, so that every admission request
	// during an outage does not hit Entra.
	failureBackoff = 10 * time.Second
)

// maxExchangeResponse caps the exchange's response body: a refresh token is
// a few kilobytes, and an error a few hundred bytes.
const maxExchangeResponse = 1 << 20

// Options configures a Source.
type Options struct {
	// Credential is the Azure identity. Required.
	Credential azcore.TokenCredential
	// Identity describes the identity for people, e.g. "workload identity
	// (client ID 1234..., tenant 5678...)"; it goes into error messages.
	Identity string
	// TenantID is sent with the exchange. Empty: not sent (ACR then uses
	// the token's own tenant).
	TenantID string
	// Endpoints are path.Match patterns on registry hosts that get Azure
	// credentials; other hosts get none. Empty: DefaultEndpoints.
	Endpoints []string
	// HTTPClient sends the exchange. Nil: http.DefaultClient. It should
	// trust the registries' certificates as the registry client does.
	HTTPClient *http.Client
	// PlainHTTP sends the exchange over plain HTTP: for test registries.
	PlainHTTP bool
	// OnError, if set, receives every failure whole (Entra's AADSTS text
	// included), for the log; the error returned to the registry client
	// is one line for people.
	OnError func(host string, err error)
	// Now is the clock; nil: time.Now. A seam for tests.
	Now func() time.Time
}

// Source is a read-only credentials store (oras-go's credentials.Store)
// answering for ACR hosts with a refresh token exchanged from an Azure
// identity. It is safe for concurrent use.
type Source struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*entry
	wg      sync.WaitGroup
}

// entry is the cache of one registry.
type entry struct {
	mu       sync.Mutex
	token    string
	expires  time.Time
	renewing bool
	failed   error
	failedAt time.Time
}

// New builds a Source.
func New(opts Options) (*Source, error) {
	if opts.Credential == nil {
		return nil, errors.New("acr: Options.Credential is required")
	}
	if len(opts.Endpoints) == 0 {
		opts.Endpoints = DefaultEndpoints
	}
	for _, p := range opts.Endpoints {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("acr: endpoint pattern %q: %w", p, err)
		}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Identity == "" {
		opts.Identity = "the Azure identity"
	}
	return &Source{opts: opts, entries: make(map[string]*entry)}, nil
}

// Matches reports whether host gets Azure credentials.
func (s *Source) Matches(host string) bool {
	host = registryname.CanonicalHost(host)
	for _, p := range s.opts.Endpoints {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// Get returns the credential for serverAddress: the user name Username and
// a refresh token as password, for an ACR host; the empty credential
// (anonymous) for any other. The first call for a registry exchanges a
// token; later calls are answered from the cache, which is renewed in the
// background before it expires.
func (s *Source) Get(ctx context.Context, serverAddress string) (auth.Credential, error) {
	host := registryname.CanonicalHost(serverAddress)
	if !s.Matches(host) {
		return auth.EmptyCredential, nil
	}
	e := s.entry(host)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.opts.Now()
	if e.token != "" && now.Before(e.expires.Add(-expiryMargin)) {
		if !e.renewing && now.After(e.expires.Add(-renewBefore)) {
			e.renewing = true
			s.wg.Add(1)
			go s.renewInBackground(host, e)
		}
		return auth.Credential{Username: Username, Password: e.token}, nil
	}
	if e.failed != nil && now.Sub(e.failedAt) < failureBackoff {
		return auth.EmptyCredential, e.failed
	}
	if err := s.exchangeLocked(ctx, host, e); err != nil {
		return auth.EmptyCredential, err
	}
	return auth.Credential{Username: Username, Password: e.token}, nil
}

// Renew drops host's cached refresh token and exchanges a new one now: the
// registry client calls it once when the registry refuses the token (401),
// before retrying the request once. Renewals are serialized per registry.
func (s *Source) Renew(ctx context.Context, host string) error {
	host = registryname.CanonicalHost(host)
	if !s.Matches(host) {
		return nil
	}
	e := s.entry(host)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failed = nil
	return s.exchangeLocked(ctx, host, e)
}

// Wait waits for background renewals to finish: for tests and shutdown.
func (s *Source) Wait() { s.wg.Wait() }

// Put refuses: these credentials come from the identity.
func (s *Source) Put(context.Context, string, auth.Credential) error {
	return errors.New("acr: credentials from an Azure identity cannot be stored; they are exchanged as needed")
}

// Delete refuses, as Put.
func (s *Source) Delete(context.Context, string) error {
	return errors.New("acr: credentials from an Azure identity cannot be removed; they are exchanged as needed")
}

func (s *Source) entry(host string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[host]
	if !ok {
		e = &entry{}
		s.entries[host] = e
	}
	return e
}

// renewInBackground exchanges a new token for host while the current one
// is still handed out; a failure keeps the current one until it expires.
func (s *Source) renewInBackground(host string, e *entry) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), renewTimeout)
	defer cancel()
	token, expires, err := s.exchange(ctx, host)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.renewing = false
	if err != nil {
		return // reported through OnError; the current token stays
	}
	e.token, e.expires = token, expires
}

// exchangeLocked exchanges a token for host into e, whose lock is held.
func (s *Source) exchangeLocked(ctx context.Context, host string, e *entry) error {
	token, expires, err := s.exchange(ctx, host)
	if err != nil {
		e.failed, e.failedAt = err, s.opts.Now()
		return err
	}
	e.token, e.expires = token, expires
	e.failed = nil
	return nil
}

// exchange gets an Entra token and exchanges it at host for an ACR refresh
// token, returning it and when to stop using it.
func (s *Source) exchange(ctx context.Context, host string) (string, time.Time, error) {
	at, err := s.opts.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		s.report(host, err)
		return "", time.Time{}, s.entraError(host, err)
	}
	token, err := s.postExchange(ctx, host, at.Token)
	if err != nil {
		s.report(host, err)
		return "", time.Time{}, err
	}
	now := s.opts.Now()
	expires := now.Add(maxLifetime)
	if exp, ok := jwtExpiry(token); ok && exp.Before(expires) {
		expires = exp
	}
	if !at.ExpiresOn.IsZero() && at.ExpiresOn.Before(expires) {
		// ACR ties the refresh token to the Entra token's validity.
		expires = at.ExpiresOn
	}
	return token, expires, nil
}

func (s *Source) report(host string, err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(host, err)
	}
}

// postExchange does POST /oauth2/exchange at host.
func (s *Source) postExchange(ctx context.Context, host, accessToken string) (string, error) {
	scheme := "https"
	if s.opts.PlainHTTP {
		scheme = "http"
	}
	form := url.Values{
		"grant_type":   {"access_token"},
		"service":      {host},
		"access_token": {accessToken},
	}
	if s.opts.TenantID != "" {
		form.Set("tenant", s.opts.TenantID)
	}
	u := scheme + "://" + host + "/oauth2/exchange"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("acr: build the exchange request for %s: %w", host, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return "", &oci.Error{
			Kind:     oci.ErrUnavailable,
			Registry: host,
			Summary:  fmt.Sprintf("could not reach registry %s to exchange the Azure token of %s for a registry token", host, s.opts.Identity),
			Err:      err,
		}
	}
	defer resp.Body.Close()
	body, err := capped.Read(resp.Body, maxExchangeResponse)
	if errors.Is(err, capped.ErrTooLarge) {
		return "", &oci.Error{Kind: oci.ErrUnavailable, Registry: host, Summary: fmt.Sprintf("registry %s answered the token exchange with more than %d bytes", host, maxExchangeResponse)}
	}
	if err != nil {
		return "", &oci.Error{Kind: oci.ErrUnavailable, Registry: host, Summary: fmt.Sprintf("registry %s broke off the token exchange", host), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return "", s.exchangeRefused(host, resp.StatusCode, body)
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.RefreshToken == "" {
		return "", &oci.Error{
			Kind:     oci.ErrUnauthorized,
			Registry: host,
			Summary:  fmt.Sprintf("registry %s answered the token exchange without a refresh token: is it an Azure Container Registry?", host),
		}
	}
	return out.RefreshToken, nil
}

// exchangeRefused says why the registry refused the exchange, in one line.
func (s *Source) exchangeRefused(host string, status int, body []byte) error {
	var acrErr struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	detail := ""
	if json.Unmarshal(body, &acrErr) == nil && len(acrErr.Errors) > 0 {
		detail = oneLine(acrErr.Errors[0].Code + ": " + acrErr.Errors[0].Message)
	}
	kind := oci.ErrCredentials
	what := "check that the identity has the AcrPull role on the registry, and that the registry belongs to the tenant configured"
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		kind = oci.ErrUnavailable
		what = "the registry may be down; hallmark retries"
	}
	summary := fmt.Sprintf("registry %s refused to exchange the Azure token of %s for a registry token (%d): %s", host, s.opts.Identity, status, what)
	var cause error
	if detail != "" {
		cause = errors.New(detail)
	}
	return &oci.Error{Kind: kind, Registry: host, StatusCode: status, Summary: summary, Err: cause}
}

// aadCode finds Entra's error code (AADSTS followed by digits).
var aadCode = regexp.MustCompile(`AADSTS\d+`)

// EntraAdvice reads Entra's error code (AADSTS...) in a failure to get a
// token, and says what to check; code is "" when the failure has none.
// Registries and Key Vault share it, as the identity is the same.
func EntraAdvice(err error) (code, check string) {
	code = aadCode.FindString(err.Error())
	check = "check the identity's client ID and tenant, and that the pod's service account is federated with it"
	switch code {
	case "AADSTS700016":
		check = "no application with this client ID in the tenant: check clientID and tenantID"
	case "AADSTS700024", "AADSTS700027":
		check = "the service account token is expired or not valid: check that the projected token file is being refreshed"
	case "AADSTS70021", "AADSTS700213", "AADSTS700212":
		check = "no federated credential matches the service account: check the identity's federated credential (issuer, subject namespace and name)"
	case "AADSTS90002":
		check = "the tenant does not exist: check tenantID"
	}
	return code, check
}

// entraError turns a failure to get an Entra token into one line saying
// which identity, which registry, and what to check; the whole error goes to
// OnError.
func (s *Source) entraError(host string, err error) error {
	code, check := EntraAdvice(err)
	if code != "" {
		code = " (" + code + ")"
	}
	// The whole answer (AADSTS text, trace and correlation IDs) stays in
	// Err, for the log; Summary is the one line shown in admission.
	return &oci.Error{
		Kind:     oci.ErrCredentials,
		Registry: host,
		Summary:  fmt.Sprintf("could not get an Azure token for %s to read registry %s%s: %s", s.opts.Identity, host, code, check),
		Err:      err,
	}
}

// jwtExpiry reads the exp claim of a JWT without verifying it: only to time
// the renewal, never to trust anything.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}

// oneLine keeps the first line of s, capped.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	const maxLen = 200
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return s
}
