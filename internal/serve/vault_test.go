package serve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvtest"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// A Key Vault trust store source is read with the Azure identity it names
// (workload identity with its clientID and tenantID), not the pod's
// default: Entra, the vault's challenge and its certificate API are fakes
// written from Microsoft's documentation (see acrtest and kvtest, which
// cite the pages and check every request hallmark sends against them).
//
// azidentity and the vault client reach Azure with the system roots and
// the proxy settings, which Go reads once per process: the test runs in a
// process of its own, where SSL_CERT_FILE and HTTPS_PROXY are set first.
func TestVaultTrustStoreAzureIdentity(t *testing.T) {
	if !inOwnProcess(t, "TestVaultTrustStoreAzureIdentity") {
		return
	}
	vault, entra, tenant, client := startVault(t)
	ca := verifytest.NewRootCA(t, "hallmark signing")
	version := kvtest.NewVersion()
	vault.Add("hallmark-signing", version, ca.Cert)

	store := func(key, clientID string) *config.Config {
		return withVaultStore(t, base(t), config.CertificateSource{Key: key, Azure: &config.AzureCredentials{ClientID: clientID, TenantID: tenant}})
	}
	ref := vault.URL + "/certificates/hallmark-signing/" + version
	tokens := entra.TokenRequests()
	ts, err := TrustStore(context.Background(), store(ref, client))
	if err != nil {
		t.Fatal(err)
	}
	// Each trust refresh builds the trust stores anew; the identity's
	// credential is kept for the process, so its token is asked of Entra
	// once, not at every refresh.
	for range 2 {
		if _, err := TrustStore(context.Background(), store(ref, client)); err != nil {
			t.Fatal(err)
		}
	}
	if n := entra.TokenRequests() - tokens; n != 1 {
		t.Errorf("a build and two refreshes asked Entra for %d tokens, want 1", n)
	}
	got, err := ts.GetCertificates(context.Background(), "ca", "prod")
	if err != nil || len(got) != 1 || !got[0].Equal(ca.Cert) {
		t.Fatalf("trust store ca:prod = %v, %v; want the vault's certificate", got, err)
	}
	if want := "GET /certificates/hallmark-signing/" + version; !slices.Contains(vault.Requests, want) {
		t.Errorf("vault requests %v, want %s", vault.Requests, want)
	}

	// currentVersionOnly: the certificate named without a version is read
	// as its current version only, and follows a rotation; a disabled
	// current version trusts nothing (Ratify's reading of a certificate
	// without a version).
	var sources []config.TrustSource
	current := func() ([]*x509.Certificate, error) {
		c := withVaultStore(t, base(t), config.CertificateSource{
			Key: vault.URL + "/certificates/hallmark-signing", CurrentVersionOnly: true,
			Azure: &config.AzureCredentials{ClientID: client, TenantID: tenant},
		})
		sources = nil
		ts, err := trustStore(context.Background(), c, func(s config.TrustSource) { sources = append(sources, s) }, nil)
		if err != nil {
			return nil, err
		}
		got, err := ts.GetCertificates(context.Background(), "ca", "prod")
		if errors.Is(err, tstore.ErrNotFound) {
			return nil, nil // the store is empty
		}
		return got, err
	}
	if got, err := current(); err != nil || len(got) != 1 || !got[0].Equal(ca.Cert) {
		t.Fatalf("current version: %v, %v; want the one version", got, err)
	}
	// The version read is reported (a certificate store's status shows it).
	if len(sources) != 1 || !slices.Equal(sources[0].Versions, []string{version}) {
		t.Errorf("trust sources %+v, want the version read, %s", sources, version)
	}
	if want := "GET /certificates/hallmark-signing"; !slices.ContainsFunc(vault.Requests, func(r string) bool { return strings.TrimSuffix(r, "/") == want }) {
		t.Errorf("vault requests %v, want %s (no version)", vault.Requests, want)
	}
	rotated := verifytest.NewRootCA(t, "hallmark signing, rotated")
	v2 := kvtest.NewVersion()
	vault.Add("hallmark-signing", v2, rotated.Cert)
	if got, err := current(); err != nil || len(got) != 1 || !got[0].Equal(rotated.Cert) {
		t.Fatalf("after rotation: %v, %v; want only the new version", got, err)
	}
	// A disabled current version is the vault's answer, not a failure:
	// nothing of it is trusted, not even the version before it, and the
	// source says which version is disabled.
	vault.Disable("hallmark-signing", v2)
	if got, err := current(); err != nil || len(got) != 0 {
		t.Fatalf("disabled current version: %v, %v; want a store without it", got, err)
	}
	if len(sources) != 1 || sources[0].Err != nil || len(sources[0].Versions) != 0 || !slices.Equal(sources[0].Disabled, []string{v2}) {
		t.Errorf("trust sources %+v, want %s disabled and nothing trusted", sources, v2)
	}

	// So is a version named that the vault has disabled, as Ratify trusts
	// no disabled version.
	off := kvtest.NewVersion()
	vault.Add("hallmark-signing", off, verifytest.NewRootCA(t, "hallmark signing, disabled").Cert)
	vault.Disable("hallmark-signing", off)
	sources = nil
	ts, err = trustStore(context.Background(), store(vault.URL+"/certificates/hallmark-signing/"+off, client), func(s config.TrustSource) { sources = append(sources, s) }, nil)
	if err != nil {
		t.Fatalf("a disabled version named: %v; want a store without it", err)
	}
	if got, err := ts.GetCertificates(context.Background(), "ca", "prod"); !errors.Is(err, tstore.ErrNotFound) {
		t.Errorf("a disabled version named: the store holds %v, %v; want nothing", got, err)
	}
	if len(sources) != 1 || sources[0].Err != nil || !slices.Equal(sources[0].Disabled, []string{off}) {
		t.Errorf("trust sources %+v, want %s disabled", sources, off)
	}

	for _, tc := range []struct {
		name    string
		setup   func()
		key     string
		client  string
		want    []string
		cleanup func()
	}{
		{name: "wrong client ID", client: "not-the-app", key: ref,
			want: []string{"client ID not-the-app", "AADSTS700016", "hallmark-signing", "check clientID and tenantID"}},
		{name: "expired federated token", client: client, key: ref,
			// As in a process started with the token expired: the
			// credential kept holds a token still good.
			setup: func() { resetAzureCredentials(); entra.SetAssertionExpired(true) }, cleanup: func() { entra.SetAssertionExpired(false) },
			want: []string{"client ID " + client, "AADSTS700024", "hallmark-signing", "projected token file"}},
		{name: "version not found", client: client, key: vault.URL + "/certificates/hallmark-signing/" + kvtest.NewVersion(),
			want: []string{"no certificate hallmark-signing version", "in Key Vault " + vault.URL, "check the vault URI, the certificate's name and version"}},
		{name: "vault unreachable", client: client, key: ref,
			setup: func() { vault.SetDown(true) }, cleanup: func() { vault.SetDown(false) },
			want: []string{"could not reach Key Vault " + vault.URL, "client ID " + client, "check the vault URI"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
				defer tc.cleanup()
			}
			_, err := TrustStore(context.Background(), store(tc.key, tc.client))
			if err == nil {
				t.Fatal("built a trust store")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Count(strings.TrimSpace(msg), "\n") > 1 {
				t.Errorf("error is not one problem line:\n%s", msg)
			}
		})
	}
}

// inOwnProcess runs the test named in a child process of its own and
// reports false in the parent, which is then done; in the child it reports
// true. azidentity and the vault client read SSL_CERT_FILE and HTTPS_PROXY
// once per process, so a test that sets them needs its own.
func inOwnProcess(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("HALLMARK_TEST_VAULT_CHILD") == "1" {
		return true
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "HALLMARK_TEST_VAULT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("the test did not run in its own process:\n%s", out)
	}
	return false
}

// startVault starts Entra and the vault fakes, with this process's Azure
// environment set for a pod whose own identity is not the one the vault
// grants: sources must name theirs (client, in tenant).
func startVault(t *testing.T) (vault *kvtest.Vault, entra *acrtest.Entra, tenant, client string) {
	t.Helper()
	const assertion = "projected-sa-token"
	tenant, client = "72f988bf-86f1-41af-91ab-2d7cd011db47", "1b3b2c4d-0000-4000-8000-000000000001"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { entra.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	entra = acrtest.NewEntra(t, strings.TrimPrefix(srv.URL, "https://"), tenant, client, assertion)
	vault = kvtest.New(t, "hallmark-akv", entra, srv.URL, tenant)
	dir := t.TempDir()
	roots := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})) + string(vault.CAPEM)
	t.Setenv("SSL_CERT_FILE", writeFile(t, filepath.Join(dir, "roots.pem"), roots))
	t.Setenv("HTTPS_PROXY", vault.Proxy())
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", writeFile(t, filepath.Join(dir, "token"), assertion))
	// The pod's own identity is another one: the source's must be used.
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000beef")
	t.Setenv("AZURE_TENANT_ID", tenant)
	t.Setenv("AZURE_AUTHORITY_HOST", srv.URL+"/")
	return vault, entra, tenant, client
}

// TestVaultCosignKeys: a cosign key named by a vault keys URL, as Ratify's
// KeyManagementProvider keys import, is read with the keys API (Get Key,
// Get Key Versions), so a key with no certificate verifies, with the
// identity the key names (a KeyManagementProvider's clientID).
func TestVaultCosignKeys(t *testing.T) {
	if !inOwnProcess(t, "TestVaultCosignKeys") {
		return
	}
	vault, _, tenant, client := startVault(t)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v1, v2 := kvtest.NewVersion(), kvtest.NewVersion()
	vault.AddKey("cosign-release", v1, old.Public())
	vault.AddKey("cosign-release", v2, signer.Public())
	policies := func(key string) ([]cosign.Policy, error) {
		c := base(t)
		c.Cosign = config.Cosign{Policies: []config.CosignPolicy{{Name: "release", Scopes: []string{"*"}, Keys: []config.CosignKey{{Key: key, Azure: &config.AzureCredentials{ClientID: client, TenantID: tenant}}}}}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		return CosignPolicies(context.Background(), c)
	}
	ps, err := policies(vault.URL + "/keys/cosign-release/" + v2)
	if err != nil || len(ps) != 1 || len(ps[0].Keys) != 1 || !signer.PublicKey.Equal(ps[0].Keys[0].Public) {
		t.Fatalf("one version: %+v, %v", ps, err)
	}
	if want := "GET /keys/cosign-release/" + v2; !slices.Contains(vault.Requests, want) {
		t.Errorf("vault requests %v, want %s", vault.Requests, want)
	}
	// No version: every enabled version, so a rotation keeps the old
	// signatures verifying; a disabled one is left out.
	vault.Disable("cosign-release", v1)
	ps, err = policies(vault.URL + "/keys/cosign-release")
	if err != nil || len(ps[0].Keys) != 1 || !signer.PublicKey.Equal(ps[0].Keys[0].Public) {
		t.Fatalf("every enabled version: %+v, %v", ps, err)
	}
	// currentVersionOnly (a Ratify key without a version): the current
	// version alone, and none when the vault has it disabled.
	current := func() ([]cosign.Policy, error) {
		c := base(t)
		c.Cosign = config.Cosign{Policies: []config.CosignPolicy{{Name: "release", Scopes: []string{"*"}, Keys: []config.CosignKey{{
			Key: vault.URL + "/keys/cosign-release", CurrentVersionOnly: true, Azure: &config.AzureCredentials{ClientID: client, TenantID: tenant}}}}}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		return CosignPolicies(context.Background(), c)
	}
	v3 := kvtest.NewVersion()
	rotated, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vault.AddKey("cosign-release", v3, rotated.Public())
	if ps, err := current(); err != nil || len(ps[0].Keys) != 1 || !rotated.PublicKey.Equal(ps[0].Keys[0].Public) {
		t.Fatalf("current version: %+v, %v; want the rotated key alone", ps, err)
	}
	// A disabled version is revoked, not a failure to read: the policy
	// accepts no key of it, and names the key it lost.
	vault.Disable("cosign-release", v3)
	if ps, err := current(); err != nil || len(ps[0].Keys) != 0 || !slices.Equal(ps[0].Revoked, []string{vault.URL + "/keys/cosign-release"}) {
		t.Errorf("a disabled current version: %+v, %v; want no key, the key named disabled", ps, err)
	}
	if ps, err := policies(vault.URL + "/keys/cosign-release/" + v1); err != nil || len(ps[0].Keys) != 0 || len(ps[0].Revoked) != 1 {
		t.Errorf("a disabled version named: %+v, %v; want no key, the key named disabled", ps, err)
	}
	if _, err := policies(vault.URL + "/keys/absent/" + v1); err == nil || !strings.Contains(err.Error(), `key not found: key "absent"`) {
		t.Errorf("an absent key: %v", err)
	}
	// Absent from the vault after the configuration in force read it:
	// deleted, so revoked, not a problem.
	absent := vault.URL + "/keys/absent/" + v1
	c := base(t)
	c.Cosign = config.Cosign{Policies: []config.CosignPolicy{{Name: "release", Scopes: []string{"*"}, Keys: []config.CosignKey{{Key: absent, Azure: &config.AzureCredentials{ClientID: client, TenantID: tenant}}}}}}
	if ps, err := cosignPolicies(context.Background(), c, revocableKeys(c)); err != nil || len(ps[0].Keys) != 0 || !slices.Equal(ps[0].Revoked, []string{absent}) {
		t.Errorf("a key deleted since it was read: %+v, %v; want no key, the key revoked", ps, err)
	}
}

// resetAzureCredentials forgets the credentials kept for the process.
func resetAzureCredentials() {
	azureCredentials.mu.Lock()
	defer azureCredentials.mu.Unlock()
	azureCredentials.m = nil
}

// reportingSource is a memorySource that keeps the trust reports, and
// the generation in force when each arrived.
type reportingSource struct {
	memorySource
	rmu     sync.Mutex
	reports []config.TrustReport
	gens    []uint64
	r       atomic.Pointer[Runtime]
}

func (s *reportingSource) TrustBuilt(_ context.Context, rep config.TrustReport) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.reports = append(s.reports, rep)
	var gen uint64
	if r := s.r.Load(); r != nil {
		gen = r.Generation()
	}
	s.gens = append(s.gens, gen)
}

// inForceAtReport is the generation that was in force when the last
// report arrived.
func (s *reportingSource) inForceAtReport() uint64 {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.gens[len(s.gens)-1]
}

func (s *reportingSource) last() config.TrustReport {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.reports[len(s.reports)-1]
}

// withVaultStore gives c one trust store, ca:prod, read from src alone,
// and checks c.
func withVaultStore(t *testing.T, c *config.Config, src config.CertificateSource) *config.Config {
	t.Helper()
	c.TrustStores = []config.TrustStore{{Name: "prod", Type: "ca", Certificates: []config.CertificateSource{src}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// vaultRuntimeConfig is runtimeConfig with its trust store ca:prod read
// from the vault certificate key, as the workload identity client.
func vaultRuntimeConfig(t *testing.T, key, client, tenant string) *config.Config {
	t.Helper()
	return withVaultStore(t, runtimeConfig(t), config.CertificateSource{Key: key, Azure: &config.AzureCredentials{ClientID: client, TenantID: tenant}})
}

// TestRefreshDropsDisabledVersion: disabling a trusted version in the
// vault is how its owner revokes it. The next trust refresh puts a
// generation in force that no longer trusts it (it kept the previous trust
// in force before, as for a vault that cannot be read), and says which
// version is disabled; enabling it again trusts it again.
func TestRefreshDropsDisabledVersion(t *testing.T) {
	if !inOwnProcess(t, "TestRefreshDropsDisabledVersion") {
		return
	}
	vault, _, tenant, client := startVault(t)
	version := kvtest.NewVersion()
	vault.Add("hallmark-signing", version, verifytest.NewRootCA(t, "hallmark signing").Cert)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := &reportingSource{memorySource: memorySource{cfg: vaultRuntimeConfig(t, vault.URL+"/certificates/hallmark-signing/"+version, client, tenant)}}
	var logs bytes.Buffer
	r, err := Start(ctx, src, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	src.r.Store(r)
	trusted := func() []config.TrustSource {
		t.Helper()
		rep := src.last()
		if !rep.InForce || rep.Err != nil || len(rep.Sources) != 1 {
			t.Fatalf("trust report %+v: want one source, in force", rep)
		}
		return rep.Sources
	}
	if s := trusted(); len(s[0].Certificates) != 1 || !slices.Equal(s[0].Versions, []string{version}) {
		t.Fatalf("at start: %+v; want the version trusted", s)
	}

	vault.Disable("hallmark-signing", version)
	r.refreshTrust(ctx)
	if r.Generation() != 2 {
		t.Fatalf("after the version was disabled, generation %d is in force; want a new one without it\n%s", r.Generation(), logs.String())
	}
	if s := trusted(); len(s[0].Certificates) != 0 || !slices.Equal(s[0].Disabled, []string{version}) {
		t.Fatalf("after the version was disabled: %+v; want nothing trusted, the version disabled", s)
	}
	// A status never says more than admission does: the report comes once
	// the new generation is in force.
	if g := src.inForceAtReport(); g != 2 {
		t.Errorf("the trust report saying the version is disabled came while generation %d was in force, before the generation without it", g)
	}
	// Said once, at warn (nothing of the source is trusted), not at every
	// refresh.
	r.refreshTrust(ctx)
	if n := strings.Count(logs.String(), `"level":"WARN","msg":"Key Vault certificate versions disabled`); n != 1 {
		t.Errorf("the disabled version was logged %d times at warn, want once:\n%s", n, logs.String())
	}
	if r.Generation() != 2 {
		t.Errorf("a refresh with nothing changed made generation %d", r.Generation())
	}

	vault.Enable("hallmark-signing", version)
	r.refreshTrust(ctx)
	if s := trusted(); r.Generation() != 3 || len(s[0].Certificates) != 1 {
		t.Fatalf("after the version was enabled again: generation %d, %+v; want it trusted", r.Generation(), s)
	}
}

// TestRefreshDropsDeletedCertificate: a certificate the configuration in
// force read, deleted from the vault since, is revoked at the next trust
// refresh, as a disabled version is (it kept the previous trust in force
// before, as for a vault that cannot be read). A configuration naming a
// certificate that was never read is still refused when the vault does not
// have it, even while another is in force, so a typo never takes effect.
func TestRefreshDropsDeletedCertificate(t *testing.T) {
	if !inOwnProcess(t, "TestRefreshDropsDeletedCertificate") {
		return
	}
	vault, _, tenant, client := startVault(t)
	version := kvtest.NewVersion()
	vault.Add("hallmark-signing", version, verifytest.NewRootCA(t, "hallmark signing").Cert)
	configFor := func(name string) *config.Config {
		return vaultRuntimeConfig(t, vault.URL+"/certificates/"+name+"/"+version, client, tenant)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := &reportingSource{memorySource: memorySource{cfg: configFor("hallmark-signing")}}
	var logs bytes.Buffer
	r, err := Start(ctx, src, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}

	// A new configuration naming a certificate the vault never had: refused,
	// the one in force stays.
	src.mu.Lock()
	src.cfg = configFor("hallmark-signing-typo")
	src.mu.Unlock()
	if err := r.Reload(ctx); err == nil || !strings.Contains(err.Error(), "no certificate hallmark-signing-typo") {
		t.Fatalf("a configuration naming a certificate the vault does not have: %v; want refused", err)
	}
	r.refreshTrust(ctx)
	if r.Generation() != 1 {
		t.Fatalf("a trust refresh put generation %d in force with a certificate the vault never had", r.Generation())
	}
	src.mu.Lock()
	src.cfg = configFor("hallmark-signing")
	src.mu.Unlock()

	// The certificate in force is deleted: revoked at the next refresh.
	vault.Delete("hallmark-signing")
	r.refreshTrust(ctx)
	if r.Generation() != 2 {
		t.Fatalf("after the certificate was deleted, generation %d is in force; want a new one without it\n%s", r.Generation(), logs.String())
	}
	rep := src.last()
	if !rep.InForce || len(rep.Sources) != 1 || len(rep.Sources[0].Certificates) != 0 || rep.Sources[0].Missing == nil {
		t.Fatalf("trust report %+v: want the source in force, trusting nothing, the certificate missing", rep)
	}
	if n := strings.Count(logs.String(), "no longer in the vault (deleted)"); n != 1 {
		t.Errorf("the deletion was logged %d times, want once:\n%s", n, logs.String())
	}
	r.refreshTrust(ctx)
	if r.Generation() != 2 || strings.Count(logs.String(), "no longer in the vault (deleted)") != 1 {
		t.Errorf("a refresh with nothing changed: generation %d, or the deletion logged again", r.Generation())
	}
}
