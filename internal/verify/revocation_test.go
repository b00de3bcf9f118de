package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go/verifier/truststore"

	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// TestEngineRevocation runs revocation checks against a real CRL server:
// the validators the engine builds must reach it, read the CRL, and keep
// it in the cache.
func TestEngineRevocation(t *testing.T) {
	reg := newTestRegistry(t, true)
	root := verifytest.NewRootCA(t, "Acme Root")

	var crlDER atomic.Value
	var crlHits atomic.Int32
	crlSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		crlHits.Add(1)
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(crlDER.Load().([]byte))
	}))
	t.Cleanup(crlSrv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + l.Addr().String() + "/root.crl"
	l.Close()

	now := time.Now()
	withCDP := func(url string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.CRLDistributionPoints = []string{url} }
	}
	revokedKey, revokedLeaf := root.Leaf(t, "revoked", now.Add(-time.Hour), now.Add(time.Hour), withCDP(crlSrv.URL+"/root.crl"))
	goodKey, goodLeaf := root.Leaf(t, "good", now.Add(-time.Hour), now.Add(time.Hour), withCDP(crlSrv.URL+"/root.crl"))
	lostKey, lostLeaf := root.Leaf(t, "lost", now.Add(-time.Hour), now.Add(time.Hour), withCDP(unreachable))
	crlDER.Store(root.CRL(t, revokedLeaf.SerialNumber))

	images := map[string]string{}
	for name, signer := range map[string]struct {
		key  any
		leaf *x509.Certificate
	}{
		"revoked": {revokedKey, revokedLeaf}, "good": {goodKey, goodLeaf}, "lost": {lostKey, lostLeaf}, "lost-logged": {lostKey, lostLeaf},
	} {
		desc := reg.pushImage(t, name, "v1", name)
		reg.sign(t, name, desc, signer.key, []*x509.Certificate{signer.leaf, root.Cert}, jws.MediaTypeEnvelope)
		images[name] = reg.ref(name, desc)
	}

	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [
	  {"name": "all", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]},
	  {"name": "lenient-revocation", "registryScopes": ["` + reg.host + `/lost-logged"], "signatureVerification": {"level": "strict", "override": {"revocation": "log"}},
	   "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, "prod", root.Cert); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(doc, store, plainHTTPRepositories{}, EngineOptions{CRLTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		image         string
		wantCode      Code
		wantOK        bool
		wantTransient bool
		want          string
	}{
		{"revoked", CodeCertificateRevoked, false, false, "a certificate of the signature's chain is revoked"},
		{"good", CodeVerified, true, false, "verified under trust policy statement \"all\""},
		{"lost", CodeRevocationUnknown, false, true, "revocation status of the signature's certificates could not be determined"},
		{"lost-logged", CodeVerified, true, false, "only because level custom logs the failed revocation check"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			r := e.Verify(context.Background(), images[tt.image])
			if r.Code != tt.wantCode || r.Verified != tt.wantOK || r.Transient != tt.wantTransient {
				t.Fatalf("Code, Verified, Transient = %s, %v, %v; want %s, %v, %v\nreason: %s", r.Code, r.Verified, r.Transient, tt.wantCode, tt.wantOK, tt.wantTransient, r.Reason)
			}
			if !strings.Contains(r.Reason, tt.want) {
				t.Errorf("Reason does not contain %q:\n%s", tt.want, r.Reason)
			}
			if v := validation(r, 0, ValidationRevocation); !v.Checked {
				t.Errorf("revocation validation = %+v, want checked", v)
			}
		})
	}

	// "revoked" and "good" share a CRL: after both, and again, it was
	// downloaded once.
	before := crlHits.Load()
	e.Verify(context.Background(), images["good"])
	if got := crlHits.Load(); got != before || got != 1 {
		t.Errorf("CRL downloaded %d times in all, %d for the repeated verification; want 1 and 0 (cached)", got, got-before)
	}
}

func TestMemoryCRLCache(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	c := newMemoryCRLCache()
	c.now = func() time.Time { return now }
	bundle := func(next time.Time) *crl.Bundle {
		return &crl.Bundle{BaseCRL: &x509.RevocationList{NextUpdate: next}}
	}

	if _, err := c.Get(ctx, "a"); !errors.Is(err, crl.ErrCacheMiss) {
		t.Fatalf("empty cache: %v", err)
	}
	c.Set(ctx, "a", bundle(now.Add(time.Hour)))
	if b, err := c.Get(ctx, "a"); err != nil || b == nil {
		t.Fatalf("Get after Set = %v, %v", b, err)
	}
	c.Set(ctx, "stale", bundle(now.Add(-time.Second)))
	if _, err := c.Get(ctx, "stale"); !errors.Is(err, crl.ErrCacheMiss) {
		t.Errorf("a CRL past its NextUpdate was served")
	}
	c.Set(ctx, "forever", bundle(time.Time{}))
	if _, err := c.Get(ctx, "forever"); !errors.Is(err, crl.ErrCacheMiss) {
		t.Errorf("a CRL without NextUpdate was served")
	}

	// Full: the entry that expires first makes room.
	c = newMemoryCRLCache()
	c.now = func() time.Time { return now }
	for i := 0; i < maxCachedCRLs; i++ {
		c.Set(ctx, fmt.Sprint(i), bundle(now.Add(time.Duration(i+1)*time.Hour)))
	}
	c.Set(ctx, "new", bundle(now.Add(100*time.Hour)))
	if len(c.entries) != maxCachedCRLs {
		t.Fatalf("cache holds %d entries, want %d", len(c.entries), maxCachedCRLs)
	}
	if _, err := c.Get(ctx, "0"); !errors.Is(err, crl.ErrCacheMiss) {
		t.Errorf("the entry expiring first was kept")
	}
	if _, err := c.Get(ctx, "new"); err != nil {
		t.Errorf("the new entry was not stored: %v", err)
	}
}
