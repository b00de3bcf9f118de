package verify

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/oci"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// TestUnreachableIsUniform: whatever keeps a registry from being reached (a
// closed port, a TLS failure, no answer before the deadline, a link-local
// address), the reason is one message, so that a pod author cannot map the
// network from denials; the cause stays in Result.Err. ExplainUnreachable
// gives the cause, for the command line.
func TestUnreachableIsUniform(t *testing.T) {
	doc, store := strictAll(t)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	untrusted := strings.TrimPrefix(tlsSrv.URL, "https://")

	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hang.Close() })
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	hanging := hang.Addr().String()

	// Never dialed: the client refuses link-local addresses before connecting.
	metadata := "169.254.169.254:80"

	client, err := oci.New(oci.Options{MaxRetries: -1, CredentialsStore: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	reasons := func(explain bool) map[string]string {
		e, err := NewEngine(doc, store, oci.Repositories{Client: client}, EngineOptions{ExplainUnreachable: explain})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for name, host := range map[string]string{"refused": closed, "tls": untrusted, "no answer": hanging, "link-local": metadata} {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			r := e.Verify(ctx, host+"/app:v1")
			cancel()
			if r.Verified || r.Err() == nil {
				t.Fatalf("%s: verified %v, Err %v; want a failure with its cause", name, r.Verified, r.Err())
			}
			if !explain && r.Code != CodeTimeout {
				t.Errorf("%s: code %s; want %s, the deadline's, for every cause", name, r.Code, CodeTimeout)
			}
			out[name] = strings.ReplaceAll(r.Reason, host, "HOST")
		}
		return out
	}

	uniform := reasons(false)
	want := "could not reach registry HOST (while resolving tag v1)"
	for name, reason := range uniform {
		if !strings.HasPrefix(reason, want) || reason != uniform["refused"] {
			t.Errorf("%s: reason %q; want the same %q… for every cause", name, reason, want)
		}
	}
	// A registry that speaks plain HTTP is a configuration mistake, said as
	// such to everyone, pod authors included.
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	e, err := NewEngine(doc, store, oci.Repositories{Client: client}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Verify(context.Background(), strings.TrimPrefix(plain.URL, "http://")+"/app:v1")
	if !strings.Contains(r.Reason, "answered in plain HTTP: add --plain-http (or `plainHTTP: true` for this host)") {
		t.Errorf("plain HTTP registry: reason %q; want the plain HTTP diagnosis", r.Reason)
	}

	explained := reasons(true)
	if explained["refused"] == explained["tls"] || explained["tls"] == explained["link-local"] {
		t.Errorf("with ExplainUnreachable the causes read alike: %q", explained)
	}
}

// TestAllowListDeniesEvenSkip: an image from a registry outside the
// client's allow-list is denied, saying so, even under a statement that
// skips verification; one from an allowed registry is not affected.
func TestAllowListDeniesEvenSkip(t *testing.T) {
	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	client, err := oci.New(oci.Options{AllowedRegistries: []string{"registry.example.com"}, CredentialsStore: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(doc, tstore.New(), oci.Repositories{Client: client}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Verify(context.Background(), "other.example.com/app:v1")
	if r.Verified || r.Code != CodeRegistryAccess || !strings.Contains(r.Reason, "not one of the registries this cluster allows") {
		t.Fatalf("unlisted registry: verified %v, %s: %s", r.Verified, r.Code, r.Reason)
	}
	if r := e.Verify(context.Background(), "Registry.Example.com:443/app:v1"); !r.Verified || r.Code != CodeSkipped {
		t.Fatalf("allowed registry: verified %v, %s: %s", r.Verified, r.Code, r.Reason)
	}
}
