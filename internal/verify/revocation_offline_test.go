package verify

import (
	"context"
	"crypto/x509"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-core-go/revocation/result"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// countingValidator answers like inner and counts the calls.
type countingValidator struct {
	inner revocation.Validator
	calls int
}

func (c *countingValidator) ValidateContext(ctx context.Context, o revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	c.calls++
	return c.inner.ValidateContext(ctx, o)
}

// TestOfflineChains: for a valid chain whose certificates below the root
// name no OCSP responder and no CRL, offlineChains answers what
// notation-core-go's checker answers, without calling it; any chain with
// something to check online goes to the checker.
func TestOfflineChains(t *testing.T) {
	now := time.Now()
	root := verifytest.NewRootCA(t, "Offline Root")
	inter := root.Intermediate(t, "Offline Intermediate")
	_, leaf := root.Leaf(t, "leaf", now.Add(-time.Hour), now.Add(time.Hour))
	_, interLeaf := inter.Leaf(t, "leaf under an intermediate", now.Add(-time.Hour), now.Add(time.Hour))
	// Unreachable addresses: a checker that tried them would answer
	// unknown, never non-revokable.
	_, ocspLeaf := root.Leaf(t, "ocsp", now.Add(-time.Hour), now.Add(time.Hour), func(c *x509.Certificate) { c.OCSPServer = []string{"http://127.0.0.1:1/ocsp"} })
	_, crlLeaf := root.Leaf(t, "crl", now.Add(-time.Hour), now.Add(time.Hour), func(c *x509.Certificate) { c.CRLDistributionPoints = []string{"http://127.0.0.1:1/root.crl"} })
	crlInter := *inter.Cert
	crlInter.CRLDistributionPoints = []string{"http://127.0.0.1:1/inter.crl"}
	crlRoot := *root.Cert
	crlRoot.OCSPServer = []string{"http://127.0.0.1:1/root-ocsp"}

	inner, err := revocation.NewWithOptions(revocation.Options{
		OCSPHTTPClient:   &http.Client{Timeout: time.Second},
		CRLFetcher:       newCRLFetcher(EngineOptions{CRLTimeout: time.Second, CRLCache: newMemoryCRLCache()}, http.DefaultTransport),
		CertChainPurpose: purpose.CodeSigning,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		chain   []*x509.Certificate
		offline bool
	}{
		{"leaf and root", []*x509.Certificate{leaf, root.Cert}, true},
		{"leaf, intermediate and root", []*x509.Certificate{interLeaf, inter.Cert, root.Cert}, true},
		{"the root names OCSP, which is never asked about a root", []*x509.Certificate{leaf, &crlRoot}, true},
		{"the leaf names OCSP", []*x509.Certificate{ocspLeaf, root.Cert}, false},
		{"the leaf names a CRL", []*x509.Certificate{crlLeaf, root.Cert}, false},
		{"the intermediate names a CRL", []*x509.Certificate{interLeaf, &crlInter, root.Cert}, false},
		{"no chain", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counting := &countingValidator{inner: inner}
			opts := revocation.ValidateContextOptions{CertChain: tt.chain}
			got, gotErr := offlineChains{counting}.ValidateContext(t.Context(), opts)
			if called := counting.calls == 1; called == tt.offline {
				t.Fatalf("checker called %d times; want it called: %v", counting.calls, !tt.offline)
			}
			if !tt.offline {
				return
			}
			want, wantErr := inner.ValidateContext(t.Context(), opts)
			if gotErr != nil || wantErr != nil {
				t.Fatalf("errors: offlineChains %v, notation-core-go %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("offlineChains answered %s, notation-core-go %s", describeResults(got), describeResults(want))
			}
		})
	}
}

func describeResults(rs []*result.CertRevocationResult) string {
	s := ""
	for _, r := range rs {
		s += r.Result.String() + " "
	}
	return s
}
