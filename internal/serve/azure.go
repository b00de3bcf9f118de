package serve

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/acr"
)

// azureExchangeTimeout bounds one token exchange with a registry.
const azureExchangeTimeout = 30 * time.Second

// azureSource builds the ACR credential source of a registries entry, its
// exchange sent with the entry's TLS settings.
func azureSource(az *config.AzureCredentials, h oci.HostSettings) (*acr.Source, error) {
	cred, identity, err := azureCredential(az)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    h.RootCAs,
		// Loudly named in the configuration and reported by Warnings.
		InsecureSkipVerify: h.InsecureSkipTLSVerify, //nolint:gosec // asked for by name
	}
	tenant := az.TenantID
	if tenant == "" {
		tenant = os.Getenv("AZURE_TENANT_ID")
	}
	endpoints := az.Endpoints
	if len(endpoints) == 0 {
		endpoints = acr.DefaultEndpoints
	}
	return acr.New(acr.Options{
		Credential: cred,
		Identity:   identity,
		TenantID:   tenant,
		Endpoints:  endpoints,
		HTTPClient: &http.Client{Transport: t, Timeout: azureExchangeTimeout},
		PlainHTTP:  h.PlainHTTP,
	})
}

// azureCredentials holds one credential per Azure identity for the life of
// the process. A credential keeps its tokens in its own cache: one made
// anew at each build or trust refresh would ask Entra for a token every
// time, per source. Failures are not kept, so a fixed environment is
// retried at the next build.
var azureCredentials struct {
	mu sync.Mutex
	m  map[credentialKey]cachedCredential
}

// credentialKey is everything an identity's credential is built from,
// the environment included, so a changed setting builds a new one.
type credentialKey struct {
	defaultChain, managed                    bool
	clientID, tenantID, tokenFile, authority string
}

type cachedCredential struct {
	cred     azcore.TokenCredential
	identity string
}

// sharedCredential returns the credential kept for key, or builds it with
// build and keeps it.
func sharedCredential(key credentialKey, build func() (azcore.TokenCredential, string, error)) (azcore.TokenCredential, string, error) {
	azureCredentials.mu.Lock()
	defer azureCredentials.mu.Unlock()
	if c, ok := azureCredentials.m[key]; ok {
		return c.cred, c.identity, nil
	}
	cred, identity, err := build()
	if err != nil {
		return nil, "", err
	}
	if azureCredentials.m == nil {
		azureCredentials.m = map[credentialKey]cachedCredential{}
	}
	azureCredentials.m[key] = cachedCredential{cred: cred, identity: identity}
	return cred, identity, nil
}

// defaultAzureCredential is the default Azure credential chain, one for
// the process (see azureCredentials).
func defaultAzureCredential() (azcore.TokenCredential, error) {
	key := credentialKey{defaultChain: true, clientID: os.Getenv("AZURE_CLIENT_ID"), tenantID: os.Getenv("AZURE_TENANT_ID"),
		tokenFile: os.Getenv("AZURE_FEDERATED_TOKEN_FILE"), authority: os.Getenv("AZURE_AUTHORITY_HOST")}
	cred, _, err := sharedCredential(key, func() (azcore.TokenCredential, string, error) {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		return cred, "the default Azure credential chain", err
	})
	return cred, err
}

// azureCredential returns the Azure identity az names, one credential per
// identity for the process (see azureCredentials), and describes it for
// error messages (IDs only, never secrets).
func azureCredential(az *config.AzureCredentials) (azcore.TokenCredential, string, error) {
	key := credentialKey{managed: az.ManagedIdentity, clientID: az.ClientID, tenantID: az.TenantID}
	if !az.ManagedIdentity {
		if key.clientID == "" {
			key.clientID = os.Getenv("AZURE_CLIENT_ID")
		}
		if key.tenantID == "" {
			key.tenantID = os.Getenv("AZURE_TENANT_ID")
		}
		key.tokenFile, key.authority = os.Getenv("AZURE_FEDERATED_TOKEN_FILE"), os.Getenv("AZURE_AUTHORITY_HOST")
	}
	return sharedCredential(key, func() (azcore.TokenCredential, string, error) { return newAzureCredential(az) })
}

// newAzureCredential builds the Azure identity az names.
func newAzureCredential(az *config.AzureCredentials) (azcore.TokenCredential, string, error) {
	if az.ManagedIdentity {
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		identity := "the system-assigned managed identity"
		if az.ClientID != "" {
			opts.ID = azidentity.ClientID(az.ClientID)
			identity = fmt.Sprintf("managed identity (client ID %s)", az.ClientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(opts)
		if err != nil {
			return nil, "", fmt.Errorf("managed identity: %w", err)
		}
		return cred, identity, nil
	}
	clientID, tenantID := az.ClientID, az.TenantID
	if clientID == "" {
		clientID = os.Getenv("AZURE_CLIENT_ID")
	}
	if tenantID == "" {
		tenantID = os.Getenv("AZURE_TENANT_ID")
	}
	tokenFile := os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
	var missing []string
	if clientID == "" {
		missing = append(missing, "a client ID (clientID, or AZURE_CLIENT_ID)")
	}
	if tenantID == "" {
		missing = append(missing, "a tenant ID (tenantID, or AZURE_TENANT_ID)")
	}
	if tokenFile == "" {
		missing = append(missing, "AZURE_FEDERATED_TOKEN_FILE")
	}
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("workload identity needs %s: label the pod azure.workload.identity/use=true with a federated service account, or set managedIdentity", joinAnd(missing))
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientID:      clientID,
		TenantID:      tenantID,
		TokenFilePath: tokenFile,
		// Instance discovery asks login.microsoftonline.com about the
		// authority; an authority of another host (a sovereign or private
		// cloud, chosen by the operator through AZURE_AUTHORITY_HOST) is
		// not in its list, and that host may not be reachable at all.
		DisableInstanceDiscovery: !microsoftAuthority(os.Getenv("AZURE_AUTHORITY_HOST")),
	})
	if err != nil {
		return nil, "", fmt.Errorf("workload identity: %w", err)
	}
	return cred, fmt.Sprintf("workload identity (client ID %s, tenant %s)", clientID, tenantID), nil
}

// microsoftAuthority reports whether authority (a URL; empty: the public
// cloud's) is one of Microsoft's own authority hosts.
func microsoftAuthority(authority string) bool {
	if authority == "" {
		return true
	}
	u, err := url.Parse(authority)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoft.com", "login.windows.net":
		return true
	}
	return false
}

func joinAnd(items []string) string {
	switch len(items) {
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	out := ""
	for i, it := range items {
		switch {
		case i == len(items)-1:
			out += ", and " + it
		case i > 0:
			out += ", " + it
		default:
			out = it
		}
	}
	return out
}
