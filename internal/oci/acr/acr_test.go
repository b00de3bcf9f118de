package acr_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/acr"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
)

const (
	tenantID  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID  = "1b3b2c4d-0000-4000-8000-000000000001"
	saToken   = "eyJhbGciOiJSUzI1NiJ9.service-account-token.sig"
	repo      = "app"
	manifest  = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`
	mediaType = "application/vnd.oci.image.manifest.v1+json"
)

// world is one TLS server playing Entra ID (under /TENANT/...), and an
// Azure Container Registry (token service and a registry with one
// manifest), as acrtest documents.
type world struct {
	srv      *httptest.Server
	host     string
	entra    *acrtest.Entra
	acr      *acrtest.ACR
	mu       sync.Mutex
	registry int // registry (/v2/) requests
}

func newWorld(t *testing.T) *world {
	w := &world{}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(w.serve))
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	w.host = strings.TrimPrefix(w.srv.URL, "https://")
	w.entra = acrtest.NewEntra(t, w.host, tenantID, clientID, saToken)
	w.acr = acrtest.NewACR(t, w.host, tenantID, w.entra)
	return w
}

func (w *world) serve(rw http.ResponseWriter, r *http.Request) {
	switch {
	case w.acr.Handles(r):
		w.acr.ServeHTTP(rw, r)
	case strings.HasPrefix(r.URL.Path, "/v2/"):
		w.mu.Lock()
		w.registry++
		w.mu.Unlock()
		if !w.acr.CheckAccess(r.Header.Get("Authorization"), repo) {
			rw.Header().Set("WWW-Authenticate", w.acr.Challenge("https", repo))
			http.Error(rw, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v2/"+repo+"/manifests/v1" {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", mediaType)
		rw.Header().Set("Docker-Content-Digest", digestOf(manifest))
		rw.Header().Set("Content-Length", itoa(len(manifest)))
		if r.Method == http.MethodGet {
			_, _ = rw.Write([]byte(manifest))
		}
	default:
		w.entra.ServeHTTP(rw, r)
	}
}

// credential is a real azidentity workload identity credential, as AKS
// configures it, pointed at the fake authority.
func (w *world) credential(t *testing.T, client string) azcore.TokenCredential {
	t.Helper()
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(saToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: w.srv.URL + "/"},
			Transport: w.srv.Client(),
			Retry:     policyNoRetry,
		},
		ClientID:      client,
		TenantID:      tenantID,
		TokenFilePath: file,
		// As hallmark sets it for an authority that is not one of
		// Microsoft's own (config's azureCredential).
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func (w *world) source(t *testing.T, client string, now func() time.Time) *acr.Source {
	t.Helper()
	s, err := acr.New(acr.Options{
		Credential: w.credential(t, client),
		Identity:   "workload identity (client ID " + client + ")",
		TenantID:   tenantID,
		Endpoints:  []string{"127.0.0.1:*"},
		HTTPClient: w.srv.Client(),
		Now:        now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Wait)
	return s
}

func (w *world) client(t *testing.T, s *acr.Source) *oci.Client {
	t.Helper()
	pool := w.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c, err := oci.New(oci.Options{
		Hosts:      []oci.HostSettings{{Patterns: []string{w.host}, RootCAs: pool, Credentials: s}},
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolveWithWorkloadIdentity(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, w.source(t, clientID, nil))
	ctx := context.Background()
	for i := range 3 {
		desc, err := c.Resolve(ctx, w.host+"/"+repo+":v1")
		if err != nil {
			t.Fatalf("resolve %d: %v", i, err)
		}
		if desc.Digest.String() != digestOf(manifest) {
			t.Fatalf("resolved %s", desc.Digest)
		}
	}
	// One Entra token and one exchange serve every request: the refresh
	// token is cached.
	if w.entra.Requests != 1 || w.acr.ExchangeCount() != 1 {
		t.Errorf("Entra requests %d, exchanges %d; want 1 and 1", w.entra.Requests, w.acr.ExchangeCount())
	}
}

func TestOtherHostsGetNoAzureCredentials(t *testing.T) {
	w := newWorld(t)
	s := w.source(t, clientID, nil)
	cred, err := s.Get(context.Background(), "ghcr.io")
	if err != nil || cred.Username != "" || cred.Password != "" {
		t.Fatalf("Get(ghcr.io) = %+v, %v; want the empty credential", cred, err)
	}
	if w.entra.Requests != 0 {
		t.Errorf("Entra was asked for a host outside the endpoints")
	}
	def, err := acr.New(acr.Options{Credential: w.credential(t, clientID)})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"myacr.azurecr.io": true, "MyACR.azurecr.us:443": true, "x.azurecr.cn": true, "azurecr.io": false, "evil.azurecr.io.example.com": false} {
		if got := def.Matches(host); got != want {
			t.Errorf("default endpoints: Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestFailuresSayWhatToCheck(t *testing.T) {
	tests := []struct {
		name    string
		client  string
		setup   func(w *world)
		summary []string // in the one-line summary
		full    string   // in the whole error, for the log
	}{
		{"wrong client ID", "00000000-dead-beef-0000-000000000000", nil,
			[]string{"AADSTS700016", "client ID 00000000-dead-beef-0000-000000000000", "check clientID and tenantID"}, "Application with identifier"},
		{"expired federated token", clientID, func(w *world) { w.entra.AssertionExpired = true },
			[]string{"AADSTS700024", "token is expired"}, "Client assertion is not within its valid time range"},
		{"exchange refused", clientID, func(w *world) { w.acr.SetRefuseExchange(true) },
			[]string{"refused to exchange", "AcrPull", "client ID " + clientID}, "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			c := w.client(t, w.source(t, tt.client, nil))
			_, err := c.Resolve(context.Background(), w.host+"/"+repo+":v1")
			if !errors.Is(err, oci.ErrCredentials) {
				t.Fatalf("err = %v; want ErrCredentials", err)
			}
			var oe *oci.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err %T is not an *oci.Error", err)
			}
			for _, s := range append(tt.summary, w.host) {
				if !strings.Contains(oe.Summary, s) {
					t.Errorf("summary %q lacks %q", oe.Summary, s)
				}
			}
			if strings.ContainsAny(oe.Summary, "\n") || strings.Contains(oe.Summary, "Trace ID") {
				t.Errorf("summary is not one line for people: %q", oe.Summary)
			}
			if !strings.Contains(err.Error(), tt.full) {
				t.Errorf("the whole error lacks %q for the log: %v", tt.full, err)
			}
		})
	}
}

// A refresh token the registry stops honouring early is exchanged again
// once, and the request retried, instead of failing until expiry.
func TestRefusedTokenIsExchangedOnceMoreAndRetried(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, w.source(t, clientID, nil))
	ctx := context.Background()
	if _, err := c.Resolve(ctx, w.host+"/"+repo+":v1"); err != nil {
		t.Fatal(err)
	}
	w.acr.RevokeRefreshTokens()
	if _, err := c.Resolve(ctx, w.host+"/"+repo+":v1"); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := w.acr.ExchangeCount(); n != 2 {
		t.Errorf("exchanges = %d, want 2 (one more after the 401)", n)
	}
	// An identity that lost access is not retried in a loop.
	w.acr.RevokeRefreshTokens()
	w.acr.SetRefuseExchange(true)
	if _, err := c.Resolve(ctx, w.host+"/"+repo+":v1"); err == nil {
		t.Fatal("resolve succeeded with the exchange refused")
	}
	if n := w.acr.ExchangeCount(); n != 3 {
		t.Errorf("exchanges = %d, want 3 (exactly one more)", n)
	}
}

// Renewal happens in the background before expiry: callers keep getting
// the cached token meanwhile, and never wait for the exchange.
func TestRenewsInTheBackgroundBeforeExpiry(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := w.source(t, clientID, clock)
	ctx := context.Background()
	first, err := s.Get(ctx, w.host)
	if err != nil {
		t.Fatal(err)
	}
	if first.Username != acr.Username || first.Password == "" {
		t.Fatalf("credential %+v", first)
	}
	// 45 minutes later (Entra tokens here live an hour): inside the
	// renewal window, still valid.
	mu.Lock()
	now = now.Add(45 * time.Minute)
	mu.Unlock()
	second, err := s.Get(ctx, w.host)
	if err != nil {
		t.Fatal(err)
	}
	if second.Password != first.Password {
		t.Error("the cached token was not handed out while the renewal runs")
	}
	s.Wait()
	if n := w.acr.ExchangeCount(); n != 2 {
		t.Errorf("no background renewal: exchanges %d, want 2", n)
	}
	third, _ := s.Get(ctx, w.host)
	if third.Password == first.Password {
		t.Error("the renewed token is not handed out")
	}
	// The renewed token expires with the Entra token, which azidentity
	// kept from the first exchange: this Get may start another renewal.
	s.Wait()
	// Past expiry with no renewal possible: an error, never the stale token.
	w.acr.SetRefuseExchange(true)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if cred, err := s.Get(ctx, w.host); err == nil {
		t.Errorf("expired token handed out: %+v", cred)
	}
}
