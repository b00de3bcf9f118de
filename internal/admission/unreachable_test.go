package admission

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/truststore"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// TestUnreachableCauseOnlyInLog: a pod naming a registry that cannot be
// reached is denied with the reason of an image not verified in time, as
// one whose registry hangs; what kept it unreachable (here a refused
// connection) is in the server's log only.
func TestUnreachableCauseOnlyInLog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, "prod", selfSignedCA(t)); err != nil {
		t.Fatal(err)
	}
	client, err := oci.New(oci.Options{MaxRetries: -1, CredentialsStore: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := verify.NewEngine(doc, store, oci.Repositories{Client: client}, verify.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := New(engine, nil, Policy{}.WithDefaults(), Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	d := a.Decide(context.Background(), podRequest("default", closed+"/app:v1"))
	if d.Allowed || !strings.Contains(d.Message, closed+"/app:v1 was not verified within") {
		t.Fatalf("decision %+v; want a denial saying the image was not verified in time", d)
	}
	if strings.Contains(strings.ToLower(d.Message), "refused") {
		t.Errorf("the denial names the cause: %s", d.Message)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the log lacks the cause:\n%s", logs.String())
	}
}

func selfSignedCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "root", Organization: []string{"Test"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
