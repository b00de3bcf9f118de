package gatekeeper

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// mtlsServer serves h over TLS that requires a client certificate from the
// returned client's CA, as `hallmark serve` does with tls.clientCAFile; the
// second client presents no certificate and reaches a plain-TLS twin of
// the server.
func mtlsServer(t *testing.T, h http.Handler) (mtlsURL string, gatekeeper *http.Client, plainURL string, anyone *http.Client) {
	t.Helper()
	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("gatekeeper", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)

	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	gk := srv.Client()
	gk.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}

	plain := httptest.NewTLSServer(h)
	t.Cleanup(plain.Close)
	return srv.URL, gk, plain.URL, plain.Client()
}

func postTo(t *testing.T, c *http.Client, url, path string, body []byte) decoded {
	t.Helper()
	resp, err := c.Post(url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return decode(t, data)
}

// TestNamespacePrefixOnlyFromGatekeeper: the "[namespace]" prefix selects
// a namespace's exclusions, so it is taken only from Gatekeeper proven by
// its client certificate, or when the policy says every caller may set it.
// From anyone else the prefix is part of the reference, which is then not
// an image reference: a pod author who names "[kube-system]reg/x:v2" in
// team-a gets no exemption, and mutation never strips the prefix.
func TestNamespacePrefixOnlyFromGatekeeper(t *testing.T) {
	key := "[kube-system]" + unsigned
	for _, tt := range []struct {
		name      string
		trustAny  bool
		authentic bool
		honoured  bool
	}{
		{name: "unauthenticated caller", honoured: false},
		{name: "Gatekeeper's client certificate", authentic: true, honoured: true},
		{name: "policy trusts any caller", trustAny: true, honoured: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{TrustNamespacePrefixFromAnyCaller: tt.trustAny})
			mux := http.NewServeMux()
			mux.Handle(VerifyPath, NewVerifyHandler(a, testOptions()))
			mux.Handle(MutatePath, NewMutateHandler(a, testOptions()))
			mtlsURL, gk, plainURL, anyone := mtlsServer(t, mux)
			url, c := plainURL, anyone
			if tt.authentic {
				url, c = mtlsURL, gk
			}

			d := postTo(t, c, url, VerifyPath, providerRequestBody(key))
			it := d.Response.Items[0]
			value, _ := it.Value.(map[string]any)
			passed := it.Error == "" && value["isSuccess"] == true
			if passed != tt.honoured {
				t.Errorf("verify %q: passed = %v, want %v (item %+v)", key, passed, tt.honoured, it)
			}

			m := postTo(t, c, url, MutatePath, providerRequestBody(key, "[team-a]"+signed))
			for i, it := range m.Response.Items {
				got, _ := it.Value.(string)
				k := it.Key
				if got != k && !strings.HasPrefix(got, k+"@sha256:") {
					t.Errorf("mutate item %d: value %q differs from its key %q by more than an added digest", i, got, k)
				}
			}
		})
	}
}
