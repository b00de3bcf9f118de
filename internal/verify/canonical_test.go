package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// TestAliasDoesNotEscapeStatement: a repository with a statement of its own
// is judged by it whatever spelling the image uses; no spelling the
// container runtime pulls alike falls through to the "*" statement (here
// one that skips verification, so escaping it would admit anything).
func TestAliasDoesNotEscapeStatement(t *testing.T) {
	const d = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [
		{"name": "pinned", "registryScopes": ["localhost:5000/app", "registry.example.com/team/app", "docker.io/library/nginx"],
		 "signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]},
		{"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(doc, tstore.New(), plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{
		"LOCALHOST:5000/app:v1",
		"localhost:05000/app" + d,
		"registry.example.com:443/team/app:v1",
		"Registry.Example.COM/team/app" + d,
		"registry.example.com./team/app:v1",
		"docker.io/nginx:1.27",
		"index.docker.io/library/nginx:1.27",
		"registry-1.docker.io/nginx" + d,
		"index.docker.io:443/nginx:1.27",
	} {
		r := e.Verify(context.Background(), ref)
		if r.Policy != "pinned" || r.Verified {
			t.Errorf("Verify(%q): statement %q, verified %v (%s); want statement \"pinned\", not verified", ref, r.Policy, r.Verified, r.Reason)
		}
	}
	// Other repositories still go to "*".
	if r := e.Verify(context.Background(), "registry.example.com:5000/team/app:v1"); r.Policy != "rest" {
		t.Errorf("another port: statement %q, want \"rest\"", r.Policy)
	}
}

// TestNonCanonicalScopeRefused: a scope spelled otherwise than images are
// matched would never match; it is refused with the spelling to use.
func TestNonCanonicalScopeRefused(t *testing.T) {
	tests := []struct{ scope, want string }{
		{"LOCALHOST:5000/app", "localhost:5000/app"},
		{"registry.example.com:443/team/app", "registry.example.com/team/app"},
		{"index.docker.io/library/nginx", "docker.io/library/nginx"},
		{"registry-1.docker.io/library/nginx", "docker.io/library/nginx"},
		{"docker.io/nginx", "docker.io/library/nginx"},
	}
	for _, tt := range tests {
		doc := fmt.Sprintf(`{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": [%q],
			"signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`, tt.scope)
		_, err := tpolicy.Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "registryScopes[0]") || !strings.Contains(err.Error(), fmt.Sprintf("write %q", tt.want)) {
			t.Errorf("scope %q: error %v; want it refused, naming %q", tt.scope, err, tt.want)
		}
	}
}
