package watch

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/ratify"
)

// What the trust builds fetched reaches the status of the resource it
// came from: lastfetchedtime and Ratify's properties on success; on a
// failure the one-line error, and, when an earlier fetch succeeded, that
// its certificates stay in force (the time and properties of that fetch
// kept). A failure no source explains goes to the verifiers.
func TestTrustBuiltStatus(t *testing.T) {
	const version = "c53ad379d88d4cbe87c2bd3af2c29140"
	objs := []runtime.Object{
		obj(ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv", map[string]any{
			"provider": "azurekeyvault",
			"parameters": map[string]any{
				"vaultURI":     "https://hallmark-akv.vault.azure.net/",
				"certificates": "array:\n  - |\n    certificateName: hallmark-signing\n    certificateVersion: " + version + "\n",
				"tenantID":     "72f988bf-86f1-41af-91ab-2d7cd011db47",
				"clientID":     "1b3b2c4d-0000-4000-8000-000000000001",
			},
		}),
		notationVerifier("certstore-akv"),
	}
	scheme := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range kinds {
		lists[gvr(k)] = k + "List"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, lists, objs...)
	ctx := context.Background()
	src := &Source{Client: dyn, Namespace: "gatekeeper-system"}
	cfg, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := func(kind, ns, name string) map[string]any {
		t.Helper()
		var o *unstructured.Unstructured
		if ns != "" {
			o, err = dyn.Resource(gvr(kind)).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		} else {
			o, err = dyn.Resource(gvr(kind)).Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		st, _ := o.Object["status"].(map[string]any)
		return st
	}
	store := func() map[string]any {
		return status(ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv")
	}
	if st := store(); st["issuccess"] != true || st["lastfetchedtime"] != nil {
		t.Fatalf("before any fetch: %v", st)
	}

	t0 := time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)
	cert := testCert(t)
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t0, InForce: true,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Certificates: cert}}})
	st := store()
	if st["issuccess"] != true || st["lastfetchedtime"] != "2026-12-04T13:00:00Z" {
		t.Errorf("after a fetch: %v", st)
	}
	want := map[string]any{"Certificates": []any{map[string]any{"CertificateName": "hallmark-signing", "Version": version, "LastRefreshed": "2026-12-04T13:00:00Z"}}}
	if !sameStatus(st["properties"].(map[string]any), want) {
		t.Errorf("properties %v, want %v", st["properties"], want)
	}

	fail := errors.New("could not reach Key Vault https://hallmark-akv.vault.azure.net to read certificate hallmark-signing")
	t1 := t0.Add(time.Minute)
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t1,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Err: fail}},
		Err:     &config.Error{Problems: []config.Problem{{Path: "trustStores[0].certificates[0].key", Message: fail.Error()}}}})
	st = store()
	msg, _ := st["error"].(string)
	if st["issuccess"] != false || !strings.HasPrefix(msg, fail.Error()) || !strings.Contains(msg, "the certificates fetched at 2026-12-04T13:00:00Z stay in force") {
		t.Errorf("after a failed refresh: %v", st)
	}
	if st["lastfetchedtime"] != "2026-12-04T13:00:00Z" || st["properties"] == nil {
		t.Errorf("the last good fetch is not kept: %v", st)
	}
	if v := status(ratify.KindVerifier, "", "verifier-notation"); v["issuccess"] != true {
		t.Errorf("a certificate store's failure is on the verifier: %v", v)
	}

	// A build failure no source explains is the verifier's.
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t1.Add(time.Minute), InForce: false,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Certificates: cert}},
		Err:     &config.Error{Problems: []config.Problem{{Path: "registries[0].credentials.azure", Message: "workload identity needs AZURE_FEDERATED_TOKEN_FILE"}}}})
	if st := store(); st["issuccess"] != true {
		t.Errorf("certificate store after a good fetch: %v", st)
	}
	if v := status(ratify.KindVerifier, "", "verifier-notation"); v["issuccess"] != false || !strings.Contains(v["error"].(string), "AZURE_FEDERATED_TOKEN_FILE") {
		t.Errorf("verifier status %v", v)
	}

	// The version disabled in the vault: a fetch that trusts nothing, and
	// says which version, with Enabled "false".
	t2 := t1.Add(2 * time.Minute)
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t2, InForce: true,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Disabled: []string{version}}}})
	st = store()
	want = map[string]any{"Certificates": []any{map[string]any{"CertificateName": "hallmark-signing", "Version": version, "Enabled": "false", "LastRefreshed": "2026-12-04T13:03:00Z"}}}
	props, _ := st["properties"].(map[string]any)
	if st["issuccess"] != true || st["lastfetchedtime"] != "2026-12-04T13:03:00Z" || !sameStatus(props, want) {
		t.Errorf("disabled: %v, want properties %v", st, want)
	}

	// The certificate deleted from the vault since it was read: nothing
	// of it is trusted, which the status says as an error, without the
	// "stay in force" of a failed fetch.
	t3 := t2.Add(time.Minute)
	gone := errors.New("no certificate hallmark-signing version " + version + " in Key Vault https://hallmark-akv.vault.azure.net")
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t3, InForce: true,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Missing: gone}}})
	st = store()
	msg, _ = st["error"].(string)
	if st["issuccess"] != false || !strings.HasPrefix(msg, gone.Error()) || !strings.Contains(msg, "nothing of it is trusted") || strings.Contains(msg, "stay in force") || st["lastfetchedtime"] != "2026-12-04T13:04:00Z" {
		t.Errorf("deleted: %v", st)
	}
}

func obj(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ratify.GroupV1 + "/" + ratify.VersionBeta1, "kind": kind,
		"metadata": map[string]any{"name": name}, "spec": spec,
	}}
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}

func testCert(t *testing.T) []*x509.Certificate {
	t.Helper()
	certs, err := certbundle.ParsePEM(testCA(t))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// A Key Vault certificate named without a version is read as its current
// version (currentVersionOnly); the status properties name the version
// that was read, as Ratify's do, not the empty one of the reference.
func TestTrustBuiltStatusCurrentVersion(t *testing.T) {
	const version = "0f3c7a1e5b2d4c6e8a9b1c2d3e4f5a6b"
	objs := []runtime.Object{
		obj(ratify.KindKeyManagementProvider, "gatekeeper-system", "kmp-akv", map[string]any{
			"type": "azurekeyvault",
			"parameters": map[string]any{
				"vaultURI":     "https://hallmark-akv.vault.azure.net/",
				"certificates": []any{map[string]any{"name": "hallmark-signing"}},
				"tenantID":     "72f988bf-86f1-41af-91ab-2d7cd011db47",
				"clientID":     "1b3b2c4d-0000-4000-8000-000000000001",
			},
		}),
		notationVerifier("kmp-akv"),
	}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range kinds {
		lists[gvr(k)] = k + "List"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, objs...)
	ctx := context.Background()
	src := &Source{Client: dyn, Namespace: "gatekeeper-system"}
	cfg, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs := cfg.TrustStores[0].Certificates[0]; !cs.CurrentVersionOnly {
		t.Fatalf("source %+v is not currentVersionOnly", cs)
	}
	t0 := time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t0, InForce: true,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Certificates: testCert(t), Versions: []string{version}}}})
	o, err := dyn.Resource(gvr(ratify.KindKeyManagementProvider)).Namespace("gatekeeper-system").Get(ctx, "kmp-akv", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := o.Object["status"].(map[string]any)
	want := map[string]any{"Certificates": []any{map[string]any{"Name": "hallmark-signing", "Version": version, "Enabled": "true", "LastRefreshed": "2026-12-04T13:00:00Z"}}}
	props, _ := st["properties"].(map[string]any)
	if !sameStatus(props, want) {
		t.Errorf("properties %v, want %v", st["properties"], want)
	}

	// The current version disabled in the vault: nothing trusted, and the
	// status says which version, with Enabled "false", as Ratify's.
	t1 := t0.Add(time.Minute)
	src.TrustBuilt(ctx, config.TrustReport{Config: cfg, Time: t1, InForce: true,
		Sources: []config.TrustSource{{Path: "trustStores[0].certificates[0]", Disabled: []string{version}}}})
	o, err = dyn.Resource(gvr(ratify.KindKeyManagementProvider)).Namespace("gatekeeper-system").Get(ctx, "kmp-akv", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ = o.Object["status"].(map[string]any)
	want = map[string]any{"Certificates": []any{map[string]any{"Name": "hallmark-signing", "Version": version, "Enabled": "false", "LastRefreshed": "2026-12-04T13:01:00Z"}}}
	props, _ = st["properties"].(map[string]any)
	if st["issuccess"] != true || !sameStatus(props, want) {
		t.Errorf("disabled: issuccess %v, properties %v, want %v", st["issuccess"], st["properties"], want)
	}
}

// notationVerifier is the walkthrough's notation Verifier, its ca:certs
// store being the certificate store or key management provider named.
func notationVerifier(store string) runtime.Object {
	return obj(ratify.KindVerifier, "", "verifier-notation", map[string]any{
		"name":          "notation",
		"artifactTypes": "application/vnd.cncf.notary.signature",
		"parameters": map[string]any{
			"verificationCertStores": map[string]any{"certs": []any{store}},
			"trustPolicyDoc": map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
				"name": "default", "registryScopes": []any{"*"}, "signatureVerification": map[string]any{"level": "strict"},
				"trustStores": []any{"ca:certs"}, "trustedIdentities": []any{"*"},
			}}},
		},
	})
}
