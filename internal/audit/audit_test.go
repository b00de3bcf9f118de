package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// tableVerifier passes the images listed as good and fails the others.
type tableVerifier map[string]bool

func (v tableVerifier) Verify(_ context.Context, ref string) verify.Result {
	if v[ref] {
		return verify.Result{Reference: ref, Verified: true, Code: verify.CodeVerified, Reason: "verified"}
	}
	return verify.Result{Reference: ref, Code: verify.CodeNoSignature, Reason: "no Notary Project signature found for " + ref}
}

type noResolver struct{}

func (noResolver) Resolve(context.Context, string) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{}, nil
}

// TestCheck covers the verdicts, the policy's exclusions, unreadable
// objects and the order of findings; the Kubernetes side is tested against
// a real API server in internal/kubee2e.
func TestCheck(t *testing.T) {
	a := admission.New(tableVerifier{"good:v1": true}, noResolver{}, admission.Policy{
		ExcludeNamespaces: []string{"kube-system"},
		ExemptImages:      []string{"exempt/**"},
		AllowUnpinnedTags: true, // TestUnpinnedTags checks the default
	}, admission.Options{})
	objs := []Object{
		{Kind: "Pod", Namespace: "b", Name: "p", JSON: []byte(`{"spec":{"initContainers":[{"name":"i","image":"bad:v1"}],"containers":[{"name":"c","image":"good:v1"},{"name":"d","image":"exempt/x:1"}]}}`)},
		{Group: "apps", Kind: "Deployment", Namespace: "a", Name: "d", JSON: []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"good:v1"}]}}}}`)},
		{Kind: "Pod", Namespace: "kube-system", Name: "s", JSON: []byte(`{"spec":{"containers":[{"name":"c","image":"bad:v1"}]}}`)},
		{Group: "batch", Kind: "Job", Namespace: "a", Name: "broken", JSON: []byte(`{"spec":{"template":{"spec":{"containers":"nope"}}}}`)},
		{Kind: "Pod", Namespace: "a", Name: "empty", JSON: []byte(`{"spec":{}}`)},
	}
	r := Check(context.Background(), a, objs)
	type row struct {
		ns, kind, name, image string
		v                     Verdict
	}
	want := []row{
		{"a", "Deployment", "d", "good:v1", VerdictPass},
		{"a", "Job", "broken", "", VerdictFail},
		{"b", "Pod", "p", "bad:v1", VerdictFail},
		{"b", "Pod", "p", "exempt/x:1", VerdictSkipped},
		{"b", "Pod", "p", "good:v1", VerdictPass},
		{"kube-system", "Pod", "s", "bad:v1", VerdictSkipped},
	}
	if len(r.Findings) != len(want) {
		t.Fatalf("got %d findings, want %d: %+v", len(r.Findings), len(want), r.Findings)
	}
	for i, w := range want {
		f := r.Findings[i]
		if got := (row{f.Namespace, f.Kind, f.Name, f.Image, f.Verdict}); got != w {
			t.Errorf("finding %d: got %+v, want %+v", i, got, w)
		}
	}
	if r.Compliant || r.Failed != 2 || r.Objects != len(objs) {
		t.Errorf("got compliant=%v failed=%d objects=%d, want false, 2, %d", r.Compliant, r.Failed, r.Objects, len(objs))
	}
	if f := r.Findings[2]; !strings.Contains(f.Reason, "no Notary Project signature") || f.Paths[0] != "/spec/initContainers/0/image" {
		t.Errorf("failing init container finding: %+v", f)
	}
	if f := r.Findings[1]; !strings.Contains(f.Reason, "cannot read") {
		t.Errorf("unreadable object finding: %+v", f)
	}
}

// TestCheckProgress: done is called once per object, counting up to all of
// them, and the report is Check's.
func TestCheckProgress(t *testing.T) {
	a := admission.New(tableVerifier{"good:v1": true}, noResolver{}, admission.Policy{AllowUnpinnedTags: true}, admission.Options{})
	var objs []Object
	for i := range 3 * Workers {
		objs = append(objs, Object{Kind: "Pod", Namespace: "a", Name: fmt.Sprint("p", i), JSON: []byte(`{"spec":{"containers":[{"name":"c","image":"good:v1"}]}}`)})
	}
	var seen []int
	r := CheckProgress(context.Background(), a, objs, func(n int) { seen = append(seen, n) })
	if len(seen) != len(objs) {
		t.Fatalf("done called %d times for %d objects", len(seen), len(objs))
	}
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("done counts %v, want 1..%d in order", seen, len(objs))
		}
	}
	if !r.Compliant || len(r.Findings) != len(objs) {
		t.Errorf("report: compliant=%v, %d findings", r.Compliant, len(r.Findings))
	}
}

// TestUnpinnedTags: in deny mode an image named by a tag alone fails even
// when the tag verifies, as admission would refuse it: the kubelet pulls
// the tag again when the pod restarts or moves.
func TestUnpinnedTags(t *testing.T) {
	const pinned = "reg.example/good:v1@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	a := admission.New(tableVerifier{"reg.example/good:v1": true, pinned: true}, noResolver{}, admission.Policy{}, admission.Options{})
	r := Check(context.Background(), a, []Object{
		{Kind: "Pod", Namespace: "a", Name: "p", JSON: []byte(`{"spec":{"containers":[{"name":"c","image":"reg.example/good:v1"},{"name":"d","image":"` + pinned + `"}]}}`)},
	})
	if len(r.Findings) != 2 || r.Failed != 1 {
		t.Fatalf("findings %+v, want the tag failing and the pinned image passing", r.Findings)
	}
	if f := r.Findings[0]; f.Image != "reg.example/good:v1" || f.Verdict != VerdictFail || f.Code != string(admission.CodeNotPinned) {
		t.Errorf("tag-only finding %+v, want a failure with code %s", f, admission.CodeNotPinned)
	}
	if f := r.Findings[1]; f.Verdict != VerdictPass {
		t.Errorf("pinned finding %+v, want a pass", f)
	}
}

// TestPublicReason: a finding carries the full reason for the auditor and
// a public one, without the trust policy's contents, for Events that the
// namespace's users read.
func TestPublicReason(t *testing.T) {
	const ref = "reg.example/x@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	a := admission.New(untrustedVerifier{}, noResolver{}, admission.Policy{}, admission.Options{})
	r := Check(context.Background(), a, []Object{{Kind: "Pod", Namespace: "a", Name: "p", JSON: []byte(`{"spec":{"containers":[{"name":"c","image":"` + ref + `"}]}}`)}})
	f := r.Findings[0]
	if !strings.Contains(f.Reason, "ca:prod") {
		t.Errorf("full reason %q lost the trust store", f.Reason)
	}
	if strings.Contains(f.PublicReason, "ca:prod") || !strings.Contains(f.PublicReason, "not from a signer this cluster trusts") {
		t.Errorf("public reason %q", f.PublicReason)
	}
}

type untrustedVerifier struct{}

func (untrustedVerifier) Verify(_ context.Context, ref string) verify.Result {
	return verify.Result{Reference: ref, Code: verify.CodeUntrustedSigner, Reason: "signature by CN=x does not chain to any certificate in trust store(s) ca:prod"}
}
