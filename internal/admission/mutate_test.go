package admission

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

const pinnedDebug = "ghcr.io/org/debug@" + digestB

func newFakeResolver() *fakeResolver {
	return &fakeResolver{
		digests: map[string]string{
			signedA:                  digestA,
			"localhost:5000/app:dev": digestB,
			exempted:                 digestB,
		},
		errs: map[string]error{
			"ghcr.io/org/private:v1": &oci.Error{Kind: oci.ErrUnauthorized, Registry: "ghcr.io", StatusCode: 401,
				Summary: "ghcr.io requires credentials (401): run hallmark login ghcr.io",
				Err:     errors.New("GET https://ghcr.io/token?secret=abc: 401")},
			"ghcr.io/org/weird:v1": errors.New("dial tcp 10.0.0.7:443: connection refused"),
		},
		hang: map[string]time.Duration{"ghcr.io/org/slow:v1": time.Hour},
	}
}

func TestMutate(t *testing.T) {
	tests := []struct {
		name      string
		policy    Policy
		req       Request
		wantPatch []PatchOp
		wantWarn  []string
		resolves  int
	}{
		{
			name: "tags are pinned keeping the tag",
			req: Request{Namespace: "team-a", Group: "apps", Kind: "Deployment", Object: []byte(`{"spec":{"template":{"spec":{
				"initContainers":[{"image":"localhost:5000/app:dev"}],
				"containers":[{"image":"` + signedA + `"},{"image":"` + pinnedDebug + `"},{"image":"` + signedA + `"}]}}}}`)},
			wantPatch: []PatchOp{
				{Op: "replace", Path: "/spec/template/spec/initContainers/0/image", Value: "localhost:5000/app:dev@" + digestB},
				{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: signedA + "@" + digestA},
				{Op: "replace", Path: "/spec/template/spec/containers/2/image", Value: signedA + "@" + digestA},
			},
			resolves: 2,
		},
		{
			name:   "digest only",
			policy: Policy{PinDigestOnly: true},
			req:    Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(signedA, "localhost:5000/app:dev")},
			wantPatch: []PatchOp{
				{Op: "replace", Path: "/spec/containers/0/image", Value: "ghcr.io/org/app@" + digestA},
				{Op: "replace", Path: "/spec/containers/1/image", Value: "localhost:5000/app@" + digestB},
			},
			resolves: 2,
		},
		{
			name: "pinned images are untouched",
			req:  Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(pinnedDebug, signedA+"@"+digestA)},
		},
		{
			name: "excluded namespace",
			req:  Request{Namespace: "kube-system", Kind: "Pod", Object: podJSON(signedA)},
		},
		{
			name:   "exempt image",
			policy: Policy{ExemptImages: []string{"registry.k8s.io/*"}},
			req:    Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(exempted)},
		},
		{
			name:   "in audit mode, resolution failures leave the image and warn, safely",
			policy: Policy{Mode: ModeAudit},
			req:    Request{Namespace: "team-a", Kind: "Pod", Object: podJSON("ghcr.io/org/private:v1", "ghcr.io/org/weird:v1", signedA)},
			wantPatch: []PatchOp{
				{Op: "replace", Path: "/spec/containers/2/image", Value: signedA + "@" + digestA},
			},
			wantWarn: []string{
				"cannot pin ghcr.io/org/private:v1 to a digest: ghcr.io requires credentials (401): run hallmark login ghcr.io",
				"cannot pin ghcr.io/org/weird:v1 to a digest: the registry lookup failed",
			},
			resolves: 3,
		},
		{
			name:   "in audit mode, references that cannot be pinned are left with a warning",
			policy: Policy{Mode: ModeAudit},
			req:    Request{Namespace: "team-a", Kind: "Pod", Object: podJSON("nginx:1.25", "ghcr.io/org/app")},
			wantWarn: []string{
				`cannot pin nginx:1.25 to a digest: reference "nginx:1.25" has no registry: write it in full, e.g. myregistry.azurecr.io/app:v1`,
				"cannot pin ghcr.io/org/app to a digest: the reference has neither a tag nor a digest",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeResolver()
			a := New(newFakeVerifier(), r, tt.policy, Options{})
			m := a.Mutate(context.Background(), tt.req)
			if !m.Allowed || m.StatusCode != 0 {
				t.Errorf("Mutate() = allowed %v, status %d; want allowed", m.Allowed, m.StatusCode)
			}
			if diff := cmp.Diff(tt.wantPatch, m.Patch); diff != "" {
				t.Errorf("Mutate().Patch mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarn, m.Warnings); diff != "" {
				t.Errorf("Mutate().Warnings mismatch (-want +got):\n%s", diff)
			}
			for _, w := range m.Warnings {
				if strings.Contains(w, "secret") || strings.Contains(w, "10.0.0.7") || strings.Contains(w, "https://") {
					t.Errorf("warning leaks internal detail: %q", w)
				}
			}
			if r.calls != tt.resolves {
				t.Errorf("Resolve called %d times, want %d", r.calls, tt.resolves)
			}

			// Mutating the mutated object changes nothing.
			if len(m.Patch) > 0 {
				again := tt.req
				again.Object = applyPatch(t, tt.req.Object, m.Patch)
				if m2 := a.Mutate(context.Background(), again); len(m2.Patch) != 0 {
					t.Errorf("second Mutate() patch = %v, want none", m2.Patch)
				}
			}
		})
	}
}

// TestMutateDeny: in deny mode a tag that cannot be pinned refuses the
// object, saying why, safely; a tag that resolved to a digest that did not
// verify is left as it is for validation to refuse with its reason.
func TestMutateDeny(t *testing.T) {
	a := New(newFakeVerifier(), newFakeResolver(), Policy{}, Options{})
	m := a.Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON("ghcr.io/org/private:v1", "ghcr.io/org/weird:v1", signedA)})
	want := "hallmark: 2 of 3 images of Pod in namespace team-a cannot be pinned to a verified digest:\n" +
		"- cannot pin ghcr.io/org/private:v1 to a digest: ghcr.io requires credentials (401): run hallmark login ghcr.io\n" +
		"- cannot pin ghcr.io/org/weird:v1 to a digest: the registry lookup failed"
	if m.Allowed || m.StatusCode != http.StatusForbidden || m.Message != want || len(m.Patch) != 0 {
		t.Errorf("Mutate() = %+v; want refused with status 403 and message %q", m, want)
	}

	// Unpinned tags accepted: the tag stays, with a warning.
	m = New(newFakeVerifier(), newFakeResolver(), Policy{AllowUnpinnedTags: true}, Options{}).Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON("ghcr.io/org/weird:v1")})
	if !m.Allowed || len(m.Warnings) != 1 || len(m.Patch) != 0 {
		t.Errorf("Mutate() with unpinned tags allowed = %+v; want allowed with a warning", m)
	}

	r := newFakeResolver()
	r.digests[unsigned] = digestB
	v := newFakeVerifier()
	m = New(v, r, Policy{}, Options{}).Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(unsigned, signedA)})
	if !m.Allowed || len(m.Warnings) != 0 || len(m.Patch) != 1 || m.Patch[0].Value != signedA+"@"+digestA {
		t.Errorf("Mutate() = %+v; want allowed, only the verified image pinned", m)
	}
	if v.callCount(unsigned+"@"+digestB) != 1 {
		t.Errorf("the digest of the unsigned tag was verified %d times, want once", v.callCount(unsigned+"@"+digestB))
	}
	if !errors.Is(m.Pins[0].Err, ErrNotVerified) || !errors.Is(m.Pins[0].Err, ErrNotPinned) || m.Pins[0].Pinned != unsigned {
		t.Errorf("pin of the unsigned tag = %+v, want it unpinned with ErrNotVerified", m.Pins[0])
	}
}

func TestMutatePinnedImagesPassValidationByDigest(t *testing.T) {
	// The pinned reference keeps the tag for people, but both the verifier
	// and the kubelet read the digest.
	a := New(newFakeVerifier(), newFakeResolver(), Policy{}, Options{})
	m := a.Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(signedA)})
	if len(m.Patch) != 1 {
		t.Fatalf("Mutate().Patch = %v", m.Patch)
	}
	ref, err := oci.ParseReference(m.Patch[0].Value)
	if err != nil {
		t.Fatalf("pinned reference %q does not parse: %v", m.Patch[0].Value, err)
	}
	if ref.Reference != digestA {
		t.Errorf("pinned reference resolves to %q, want %q", ref.Reference, digestA)
	}
}

func TestMutateUnreadable(t *testing.T) {
	tests := []struct {
		name    string
		mode    Mode
		allowed bool
		status  int
	}{
		{"deny mode refuses", ModeDeny, false, http.StatusBadRequest},
		{"audit mode warns", ModeAudit, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(newFakeVerifier(), newFakeResolver(), Policy{Mode: tt.mode}, Options{})
			m := a.Mutate(context.Background(), Request{Namespace: "team-a", Group: "batch", Kind: "CronJob", Object: []byte(`{"spec":{"jobTemplate":[]}}`)})
			if m.Allowed != tt.allowed || m.StatusCode != tt.status || len(m.Patch) != 0 {
				t.Errorf("Mutate() = %+v, want allowed %v status %d", m, tt.allowed, tt.status)
			}
			text := m.Message + strings.Join(m.Warnings, "")
			if !strings.Contains(text, "/spec/jobTemplate is not a JSON object") {
				t.Errorf("Mutate() does not say what is wrong: %+v", m)
			}
		})
	}
}

func TestMutateDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := New(newFakeVerifier(), newFakeResolver(), Policy{Mode: ModeAudit, Deadline: time.Second}, Options{})
		start := time.Now()
		m := a.Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON("ghcr.io/org/slow:v1", signedA)})
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("Mutate() took %v, want the 1s deadline", elapsed)
		}
		want := []string{"cannot pin ghcr.io/org/slow:v1 to a digest: the tag was not resolved within 1000 ms"}
		if diff := cmp.Diff(want, m.Warnings); diff != "" {
			t.Errorf("Mutate().Warnings mismatch (-want +got):\n%s", diff)
		}
		if len(m.Patch) != 1 || m.Patch[0].Value != signedA+"@"+digestA {
			t.Errorf("Mutate().Patch = %v, want the fast image pinned", m.Patch)
		}
	})
}

func TestMutateRejectsInvalidDigest(t *testing.T) {
	r := newFakeResolver()
	r.digests[signedA] = "sha256:not-hex"
	m := New(newFakeVerifier(), r, Policy{Mode: ModeAudit}, Options{}).Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(signedA)})
	if len(m.Patch) != 0 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "invalid digest") {
		t.Errorf("Mutate() = %+v, want no patch and an invalid-digest warning", m)
	}
}

func TestMutateWithoutResolver(t *testing.T) {
	m := New(newFakeVerifier(), nil, Policy{Mode: ModeAudit}, Options{}).Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(signedA)})
	if !m.Allowed || len(m.Patch) != 0 || len(m.Warnings) != 1 {
		t.Errorf("Mutate() = %+v, want allowed, unpatched, warned", m)
	}
	m = New(newFakeVerifier(), nil, Policy{}, Options{}).Mutate(context.Background(), Request{Namespace: "team-a", Kind: "Pod", Object: podJSON(signedA)})
	if m.Allowed || !strings.Contains(m.Message, "no registry client") {
		t.Errorf("Mutate() = %+v, want refused in deny mode", m)
	}
}

func TestPinImages(t *testing.T) {
	r := newFakeResolver()
	a := New(newFakeVerifier(), r, Policy{ExemptImages: []string{"registry.k8s.io/*"}}, Options{})
	pins := a.PinImages(context.Background(), []NamespacedImage{
		{Image: signedA},
		{Image: pinnedDebug},
		{Image: exempted},
		{Namespace: "kube-system", Image: signedA},
		{Namespace: "team-a", Image: signedA},
		{Image: "not a reference"},
	})
	type summary struct {
		Image, Pinned, Skipped string
		Failed                 bool
	}
	var got []summary
	for _, p := range pins {
		got = append(got, summary{p.Image, p.Pinned, p.Skipped, p.Err != nil})
	}
	want := []summary{
		{signedA, signedA + "@" + digestA, "", false},
		{pinnedDebug, pinnedDebug, "", false},
		{exempted, exempted, "matches exemption registry.k8s.io/*", false},
		{signedA, signedA, "namespace kube-system is excluded", false},
		{signedA, signedA + "@" + digestA, "", false},
		{"not a reference", "not a reference", "", true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PinImages() mismatch (-want +got):\n%s", diff)
	}
	if r.calls != 1 {
		t.Errorf("Resolve called %d times, want 1 (one distinct tag)", r.calls)
	}
	if !errors.Is(pins[5].Err, ErrNotPinned) || !errors.Is(pins[5].Err, oci.ErrInvalidReference) {
		t.Errorf("pin error %v does not match ErrNotPinned and its cause", pins[5].Err)
	}
}
