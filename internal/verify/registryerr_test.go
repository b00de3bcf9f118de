package verify

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

func TestSafeDetail(t *testing.T) {
	tests := []struct{ in, want string }{
		{`GET "https://10.0.0.5:5000/v2/app/blobs/sha256:ab?X-Amz-Signature=secret": response status code 404`, `GET "<url>": response status code 404`},
		{"dial tcp: lookup registry.internal: no such host", "dial tcp: lookup registry.internal: no such host"},
		{"see http://user:pw@host/x and oci://y", "see <url> and <url>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := safeDetail(errors.New(tt.in)); got != tt.want {
				t.Errorf("safeDetail = %q, want %q", got, tt.want)
			}
		})
	}
}

// A credential source's own one-line reason (which identity, which
// registry, what to check) is the verdict's reason, and the failure is not
// cached; the identity provider's whole answer stays in the cause.
func TestCredentialsReason(t *testing.T) {
	cause := errors.New("AADSTS700016: Application with identifier 'x' was not found. Trace ID: 1")
	err := fmt.Errorf("HEAD manifest: %w", &oci.Error{
		Kind:     oci.ErrCredentials,
		Registry: "myacr.azurecr.io",
		Summary:  "could not get an Azure token for workload identity (client ID x) to read registry myacr.azurecr.io (AADSTS700016): check clientID and tenantID",
		Err:      cause,
	})
	e := classifyRegistryError(context.Background(), err, "myacr.azurecr.io", "myacr.azurecr.io/app", "resolving the tag")
	if e.reason != "could not get an Azure token for workload identity (client ID x) to read registry myacr.azurecr.io (AADSTS700016): check clientID and tenantID" {
		t.Errorf("reason %q", e.reason)
	}
	if !e.transient || e.code != CodeRegistryAccess {
		t.Errorf("transient %v, code %s", e.transient, e.code)
	}
}
