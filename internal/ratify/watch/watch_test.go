package watch

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// apply creates the objects of a YAML stream, as kubectl apply would for
// new objects.
func apply(t *testing.T, dyn dynamic.Interface, stream string) {
	t.Helper()
	for _, doc := range strings.Split(stream, "\n---\n") {
		if strings.TrimSpace(strings.TrimPrefix(doc, "---")) == "" {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
		res := schema.GroupVersionResource{Group: gv.Group, Version: gv.Version, Resource: ratify.Plural(u.GetKind())}
		switch u.GetKind() {
		case "CustomResourceDefinition":
			res.Resource = "customresourcedefinitions"
		case "Namespace":
			res.Resource = "namespaces"
		}
		c := dyn.Resource(res)
		var err error
		if u.GetNamespace() != "" {
			_, err = c.Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
		} else {
			_, err = c.Create(context.Background(), u, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

func TestServesRatifyResourcesFromTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real kube-apiserver; runs without -short")
	}
	cp := testpeers.StartControlPlane(t)
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := &Source{Client: dyn, Namespace: "gatekeeper-system", Overlay: func(c *config.Config) {}}
	if _, err := src.Load(ctx); err == nil || !strings.Contains(err.Error(), "hallmark config crds") {
		t.Fatalf("with no CRDs: %v", err)
	}

	apply(t, dyn, string(ratify.CRDs()))
	apply(t, dyn, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gatekeeper-system}\n")
	// CRDs take a moment to be served.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dyn.Resource(gvr(ratify.KindVerifier)).List(ctx, metav1.ListOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRDs not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var kmp bytes.Buffer
	kmp.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata:\n  name: certs-inline\n  namespace: gatekeeper-system\nspec:\n  provider: inline\n  parameters:\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(rootPEM(t))), "\n") {
		kmp.WriteString("      " + line + "\n")
	}
	apply(t, dyn, `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata: {name: store-oras}
spec:
  name: oras
  parameters:
    authProvider: {name: azureWorkloadIdentity, clientID: 1b3b2c4d-0000-4000-8000-000000000001, cosignEnabled: true}
---
`+kmp.String()+`---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-notation}
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      certs: [certs-inline]
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes: ["*"]
          signatureVerification: {level: strict}
          trustStores: ["ca:certs"]
          trustedIdentities: ["*"]
`)
	cfg, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustStores) != 1 || cfg.TrustStores[0].Name != "certs" || cfg.Registries[0].Credentials.Azure == nil {
		t.Fatalf("configuration %+v", cfg)
	}
	status := func(kind, ns, name string) map[string]any {
		t.Helper()
		c := dyn.Resource(gvr(kind))
		var o *unstructured.Unstructured
		var err error
		if ns != "" {
			o, err = c.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		} else {
			o, err = c.Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		s, _ := o.Object["status"].(map[string]any)
		return s
	}
	for _, r := range []struct{ kind, ns, name string }{{ratify.KindStore, "", "store-oras"}, {ratify.KindCertificateStore, "gatekeeper-system", "certs-inline"}, {ratify.KindVerifier, "", "verifier-notation"}} {
		if s := status(r.kind, r.ns, r.name); s["issuccess"] != true {
			t.Errorf("%s/%s status %v, want issuccess true", r.kind, r.name, s)
		}
	}

	// Status writes are not changes; a spec change is.
	fp := src.fingerprint
	if _, _, again, _ := src.list(ctx); again != fp {
		t.Error("writing status changed the fingerprint: every status write would reload")
	}

	// A verifier with an unknown field: no configuration, and its status
	// says why.
	v, err := dyn.Resource(gvr(ratify.KindVerifier)).Get(ctx, "verifier-notation", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(v.Object, "x", "spec", "parameters", "trustPolicyDocs")
	if _, err := dyn.Resource(gvr(ratify.KindVerifier)).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, again, _ := src.list(ctx); again == fp {
		t.Error("a spec change did not change the fingerprint")
	}
	_, err = src.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "spec.parameters.trustPolicyDocs: unknown field") {
		t.Fatalf("Load with an unknown field: %v", err)
	}
	s := status(ratify.KindVerifier, "", "verifier-notation")
	if s["issuccess"] != false || !strings.Contains(s["brieferror"].(string), "trustPolicyDocs") {
		t.Errorf("verifier status %v", s)
	}
}

// rootPEM is a self-signed CA certificate made for the test.
func rootPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hallmark test root", Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
