package admission

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

const (
	signedA   = "ghcr.io/org/app:v1"
	signedB   = "ghcr.io/org/sidecar:v2"
	unsigned  = "ghcr.io/org/unsigned:v1"
	exempted  = "registry.k8s.io/pause:3.9"
	untrusted = "ghcr.io/org/untrusted:v1"
)

func newFakeVerifier() *fakeVerifier {
	withWarning := verified(digestA, "CN=Builder")
	withWarning.Warnings = []string{"revocation could not be checked (logged)"}
	return &fakeVerifier{results: map[string]verify.Result{
		signedA:                  verified(digestA, "CN=Builder"),
		signedB:                  withWarning,
		"localhost:5000/app:dev": verified(digestB, "CN=Dev"),
		untrusted: {
			Digest: digestB,
			Code:   verify.CodeUntrustedSigner,
			Reason: "signature made by CN=Mallory is not trusted by policy prod; add the certificate to trust store ca:prod",
		},
	}}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		// requireDigest keeps Policy.AllowUnpinnedTags false; the other
		// cases name tags for brevity and allow them.
		requireDigest bool
		req           Request
		want          Decision
		calls         int // verifications expected
	}{
		{
			name:          "deny mode refuses a verified tag without its digest",
			requireDigest: true,
			req:           podRequest("team-a", signedA, signedA+"@"+digestA),
			calls:         2,
			want: Decision{
				Mode:       ModeDeny,
				StatusCode: http.StatusForbidden,
				Message: "hallmark: 1 of 2 images of Pod team-a/web is not verified:\n" +
					"- ghcr.io/org/app:v1: image ghcr.io/org/app:v1 names a tag without a digest; in deny mode hallmark admits only images pinned to the digest that verified, because the kubelet pulls the tag again later and may get other content",
				AuditAnnotations: map[string]string{
					"unverified-image-0": "ghcr.io/org/app:v1: image ghcr.io/org/app:v1 names a tag without a digest; in deny mode hallmark admits only images pinned to the digest that verified, because the kubelet pulls the tag again later and may get other content",
				},
			},
		},
		{
			name:          "deny mode admits the pinned forms",
			requireDigest: true,
			req:           podRequest("team-a", signedA+"@"+digestA, "ghcr.io/org/app@"+digestA),
			calls:         2,
			want:          Decision{Allowed: true, Mode: ModeDeny},
		},
		{
			name:          "deny mode keeps the reason of a tag that failed",
			requireDigest: true,
			req:           podRequest("team-a", unsigned),
			calls:         1,
			want: Decision{
				Mode:             ModeDeny,
				StatusCode:       http.StatusForbidden,
				Message:          "hallmark: 1 of 1 images of Pod team-a/web is not verified:\n- ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1",
				AuditAnnotations: map[string]string{"unverified-image-0": "ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1"},
			},
		},
		{
			name:          "audit mode admits a verified tag",
			requireDigest: true,
			policy:        Policy{Mode: ModeAudit},
			req:           podRequest("team-a", signedA),
			calls:         1,
			want:          Decision{Allowed: true, Mode: ModeAudit},
		},
		{
			name:  "deny mode, all verified",
			req:   podRequest("team-a", signedA, signedA, signedB),
			calls: 2,
			want: Decision{
				Allowed:  true,
				Mode:     ModeDeny,
				Warnings: []string{"image ghcr.io/org/sidecar:v2: revocation could not be checked (logged)"},
			},
		},
		{
			name:  "deny mode lists every failing image",
			req:   podRequest("team-a", signedA, unsigned, untrusted),
			calls: 3,
			want: Decision{
				Mode:       ModeDeny,
				StatusCode: http.StatusForbidden,
				Message: "hallmark: 2 of 3 images of Pod team-a/web are not verified:\n" +
					"- ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1\n" +
					"- ghcr.io/org/untrusted:v1: the signature is not from a signer this cluster trusts; sign the image with a key this cluster trusts, and ask the cluster's administrators which signers it trusts (hallmark's server log has the details)",
				AuditAnnotations: map[string]string{
					"unverified-image-0": "ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1",
					"unverified-image-1": "ghcr.io/org/untrusted:v1: the signature is not from a signer this cluster trusts; sign the image with a key this cluster trusts, and ask the cluster's administrators which signers it trusts (hallmark's server log has the details)",
				},
			},
		},
		{
			name:   "audit mode allows with warnings and annotations",
			policy: Policy{Mode: ModeAudit},
			req:    podRequest("team-a", signedA, unsigned),
			calls:  2,
			want: Decision{
				Allowed:  true,
				Mode:     ModeAudit,
				Warnings: []string{"image ghcr.io/org/unsigned:v1 is not verified (allowed in audit mode): no Notary Project signature found for ghcr.io/org/unsigned:v1"},
				AuditAnnotations: map[string]string{
					"unverified-image-0": "ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1",
				},
			},
		},
		{
			name:   "namespace mode overrides the default",
			policy: Policy{Mode: ModeAudit, NamespaceModes: map[string]Mode{"prod": ModeDeny}},
			req:    podRequest("prod", unsigned),
			calls:  1,
			want: Decision{
				Mode:             ModeDeny,
				StatusCode:       http.StatusForbidden,
				Message:          "hallmark: 1 of 1 images of Pod prod/web is not verified:\n- ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1",
				AuditAnnotations: map[string]string{"unverified-image-0": "ghcr.io/org/unsigned:v1: no Notary Project signature found for ghcr.io/org/unsigned:v1"},
			},
		},
		{
			name: "kube-system is excluded by default and not even read",
			req:  Request{Namespace: "kube-system", Kind: "Pod", Object: []byte("not json")},
			want: Decision{Allowed: true, Mode: ModeDeny, Message: "namespace kube-system is excluded"},
		},
		{
			name:   "namespace not included",
			policy: Policy{IncludeNamespaces: []string{"prod"}},
			req:    podRequest("dev", unsigned),
			want:   Decision{Allowed: true, Mode: ModeDeny, Message: "namespace dev is not included"},
		},
		{
			name:   "exempt images are not verified",
			policy: Policy{ExemptImages: []string{"registry.k8s.io/**"}},
			req:    podRequest("team-a", exempted, signedA),
			calls:  1,
			want:   Decision{Allowed: true, Mode: ModeDeny},
		},
		{
			name:  "a container without an image fails closed",
			req:   Request{Namespace: "team-a", Kind: "Pod", Object: []byte(`{"spec":{"containers":[{"name":"x"}]}}`)},
			calls: 1,
			want: Decision{
				Mode:             ModeDeny,
				StatusCode:       http.StatusForbidden,
				Message:          "hallmark: 1 of 1 images of Pod in namespace team-a is not verified:\n- : no Notary Project signature found for ",
				AuditAnnotations: map[string]string{"unverified-image-0": ": no Notary Project signature found for "},
			},
		},
		{
			name: "unsupported kind is denied in deny mode",
			req:  Request{Namespace: "team-a", Name: "s", Group: "autoscaling", Kind: "Scale", Object: []byte(`{}`)},
			want: Decision{
				Mode:       ModeDeny,
				StatusCode: http.StatusBadRequest,
				Message:    `cannot read the images of Scale team-a/s: unsupported kind "autoscaling/Scale": hallmark reads Pods and the pod templates of ReplicationControllers, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs`,
			},
		},
		{
			name:   "malformed object is allowed with a warning in audit mode",
			policy: Policy{Mode: ModeAudit},
			req:    Request{Namespace: "team-a", Name: "web", Group: "apps", Kind: "Deployment", Object: []byte(`{"spec":{"template":{"spec":{"containers":"x"}}}}`)},
			want: Decision{
				Allowed:  true,
				Mode:     ModeAudit,
				Warnings: []string{"cannot read the images of Deployment team-a/web: malformed object: /spec/template/spec/containers is not a list (allowed unverified in audit mode)"},
			},
		},
		{
			name: "no images, nothing to verify",
			req:  Request{Namespace: "team-a", Kind: "Pod", Object: []byte(`{"spec":{}}`)},
			want: Decision{Allowed: true, Mode: ModeDeny},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newFakeVerifier()
			p := tt.policy
			p.AllowUnpinnedTags = !tt.requireDigest
			a := New(v, nil, p, Options{})
			got := a.Decide(context.Background(), tt.req)
			got.Images = nil // checked in TestDecideImages
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
			if n := v.totalCalls(); n != tt.calls {
				t.Errorf("Verify called %d times, want %d", n, tt.calls)
			}
		})
	}
}

func TestWarningsHaveNoControlCharacters(t *testing.T) {
	a := New(newFakeVerifier(), nil, Policy{Mode: ModeAudit}, Options{})
	d := a.Decide(context.Background(), podRequest("team-a", "ghcr.io/org/evil:v1\r\nX-Injected: 1\t"))
	if len(d.Warnings) != 1 || strings.ContainsAny(d.Warnings[0], "\r\n\t") {
		t.Errorf("Decide().Warnings = %q, want one warning without control characters", d.Warnings)
	}
}

func TestDecideImages(t *testing.T) {
	a := New(newFakeVerifier(), nil, Policy{ExemptImages: []string{"registry.k8s.io/*"}, AllowUnpinnedTags: true}, Options{})
	obj := []byte(`{"spec":{"template":{"spec":{
		"initContainers":[{"image":"` + exempted + `"}],
		"containers":[{"image":"` + signedA + `"},{"image":"` + unsigned + `"},{"image":"` + signedA + `"}]}}}}`)
	d := a.Decide(context.Background(), Request{Namespace: "team-a", Group: "apps", Kind: "Deployment", Object: obj})
	type summary struct {
		Image, Skipped string
		Paths          []string
		Verified       bool
		Digest         string
	}
	var got []summary
	for _, v := range d.Images {
		got = append(got, summary{v.Image, v.Skipped, v.Paths, v.Result.Verified, v.Result.Digest})
	}
	want := []summary{
		{Image: exempted, Skipped: "matches exemption registry.k8s.io/*", Paths: []string{"/spec/template/spec/initContainers/0/image"}},
		{Image: signedA, Paths: []string{"/spec/template/spec/containers/0/image", "/spec/template/spec/containers/2/image"}, Verified: true, Digest: digestA},
		{Image: unsigned, Paths: []string{"/spec/template/spec/containers/1/image"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decide().Images mismatch (-want +got):\n%s", diff)
	}
	if d.Allowed {
		t.Error("Decide() allowed an unsigned image in deny mode")
	}
}

func TestDecideDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newFakeVerifier()
		// The hanging verifier ignores ctx, as a broken one might.
		v.hang = map[string]time.Duration{unsigned: time.Hour}
		a := New(v, nil, Policy{Deadline: 2 * time.Second, AllowUnpinnedTags: true}, Options{})

		start := time.Now()
		d := a.Decide(context.Background(), podRequest("team-a", signedA, unsigned))
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("Decide() returned after %v, want exactly the 2s deadline", elapsed)
		}
		if d.Allowed {
			t.Fatal("Decide() allowed an image that was not verified in time")
		}
		r := d.Images[1].Result
		if r.Verified || !r.Transient || r.Code != verify.CodeTimeout {
			t.Errorf("late image result = %+v, want a transient timeout failure", r)
		}
		want := "ghcr.io/org/unsigned:v1: image ghcr.io/org/unsigned:v1 was not verified within 2000 ms"
		if !strings.Contains(d.Message, want) {
			t.Errorf("Decide().Message = %q, want it to contain %q", d.Message, want)
		}
		if !d.Images[0].Result.Verified {
			t.Error("the image verified in time was not kept")
		}
		time.Sleep(time.Hour) // let the abandoned verification finish
	})
}

func TestDecideDeadlineAudit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newFakeVerifier()
		v.hang = map[string]time.Duration{signedA: time.Hour}
		a := New(v, nil, Policy{Mode: ModeAudit}, Options{})
		d := a.Decide(context.Background(), podRequest("team-a", signedA))
		want := []string{"image ghcr.io/org/app:v1 is not verified (allowed in audit mode): image ghcr.io/org/app:v1 was not verified within 2500 ms"}
		if !d.Allowed || !cmp.Equal(d.Warnings, want) {
			t.Errorf("Decide() = allowed %v, warnings %q; want allowed with %q", d.Allowed, d.Warnings, want)
		}
		time.Sleep(time.Hour)
	})
}

func TestDecideCallerDeadlineIsShorter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newFakeVerifier()
		v.hang = map[string]time.Duration{signedA: time.Hour}
		a := New(v, nil, Policy{Deadline: 5 * time.Second}, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		defer cancel()
		start := time.Now()
		d := a.Decide(ctx, podRequest("team-a", signedA))
		if elapsed := time.Since(start); elapsed != 800*time.Millisecond {
			t.Errorf("Decide() returned after %v, want the caller's 800ms", elapsed)
		}
		if !strings.Contains(d.Message, "not verified within 800 ms") {
			t.Errorf("Decide().Message = %q, want the caller's budget", d.Message)
		}
		time.Sleep(time.Hour)
	})
}

func TestDecideBoundsParallelism(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		running, peak := 0, 0
		v := &countingVerifier{enter: func() {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
		}, leave: func() {
			mu.Lock()
			running--
			mu.Unlock()
		}}
		images := make([]string, 3*maxParallel)
		for i := range images {
			images[i] = "ghcr.io/org/app:v" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		}
		d := New(v, nil, Policy{Deadline: time.Minute, AllowUnpinnedTags: true}, Options{}).Decide(context.Background(), podRequest("team-a", images...))
		if !d.Allowed {
			t.Fatalf("Decide() = %+v, want allowed", d)
		}
		if peak > maxParallel {
			t.Errorf("%d verifications ran at once, want at most %d", peak, maxParallel)
		}
	})
}

// countingVerifier verifies everything after a second, reporting entry and
// exit.
type countingVerifier struct{ enter, leave func() }

func (c *countingVerifier) Verify(ctx context.Context, ref string) verify.Result {
	c.enter()
	defer c.leave()
	time.Sleep(time.Second)
	return verified(digestA, "CN=x")
}

func TestDecidePanicFailsClosed(t *testing.T) {
	v := newFakeVerifier()
	v.panics = map[string]bool{signedB: true}
	log, buf := recordLogger()
	a := New(v, nil, Policy{}, Options{Logger: log})
	d := a.Decide(context.Background(), podRequest("team-a", signedA, signedB))
	if d.Allowed || d.StatusCode != http.StatusForbidden {
		t.Fatalf("Decide() = %+v, want denied", d)
	}
	if !strings.Contains(d.Message, "could not be verified because of an internal error in hallmark") {
		t.Errorf("Decide().Message = %q", d.Message)
	}
	if strings.Contains(d.Message, "boom") {
		t.Errorf("Decide().Message leaks the panic value: %q", d.Message)
	}
	found := false
	for _, r := range records(t, buf) {
		if r["msg"] == "verifier panicked" && strings.Contains(r["stack"].(string), "fakeVerifier") {
			found = true
		}
	}
	if !found {
		t.Error("the panic was not logged with its stack")
	}
}

func TestDecideCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := New(newFakeVerifier(), nil, Policy{}, Options{}).Decide(ctx, podRequest("team-a", signedA))
	if d.Allowed {
		t.Error("Decide() with a cancelled context allowed the object")
	}
}

func TestDecideHooksAndLogs(t *testing.T) {
	log, buf := recordLogger()
	var mu sync.Mutex
	var images []string
	var decisions []string
	a := New(newFakeVerifier(), nil, Policy{NamespaceModes: map[string]Mode{"team-a": ModeAudit}, ExemptImages: []string{exempted}}, Options{
		Logger: log,
		OnImage: func(res verify.Result, mode Mode) {
			mu.Lock()
			defer mu.Unlock()
			images = append(images, res.Reference+" "+string(res.Code)+" "+string(mode))
		},
		OnDecision: func(kind string, mode Mode, allowed bool) {
			decisions = append(decisions, kind+" "+string(mode)+" "+map[bool]string{true: "allowed", false: "denied"}[allowed])
		},
	})
	a.Decide(context.Background(), Request{UID: "u-1", Namespace: "team-a", Name: "web", Kind: "Pod",
		Object: podJSON(signedA, unsigned, signedA, exempted)})
	a.Decide(context.Background(), Request{UID: "u-2", Namespace: "kube-system", Kind: "Pod", Object: podJSON(unsigned)})

	wantImages := map[string]bool{signedA + " verified audit": true, unsigned + " noSignature audit": true}
	if len(images) != 2 || !wantImages[images[0]] || !wantImages[images[1]] {
		t.Errorf("OnImage calls = %q, want one per verified distinct image", images)
	}
	if want := []string{"Pod audit allowed", "Pod deny allowed"}; !cmp.Equal(decisions, want) {
		t.Errorf("OnDecision calls = %q, want %q", decisions, want)
	}

	var verdicts, decided, skipped int
	for _, r := range records(t, buf) {
		switch r["msg"] {
		case "image verdict":
			verdicts++
			for _, k := range []string{"uid", "namespace", "kind", "name", "image", "digest", "verdict", "reason", "signer", "cached", "duration"} {
				if _, ok := r[k]; !ok {
					t.Errorf("image verdict record lacks %q: %v", k, r)
				}
			}
			if r["image"] == signedA && (r["verdict"] != "verified" || r["signer"] != "CN=Builder" || r["digest"] != digestA) {
				t.Errorf("verdict record for %s = %v", signedA, r)
			}
			if r["image"] == unsigned && (r["verdict"] != "failed" || r["level"] != "WARN") {
				t.Errorf("verdict record for %s = %v", unsigned, r)
			}
		case "image not verified by policy":
			skipped++
		case "admission decision":
			decided++
			for _, k := range []string{"uid", "namespace", "kind", "name", "mode", "allowed", "images", "duration"} {
				if _, ok := r[k]; !ok {
					t.Errorf("decision record lacks %q: %v", k, r)
				}
			}
		}
	}
	if verdicts != 2 || skipped != 1 || decided != 2 {
		t.Errorf("logged %d verdicts, %d skips, %d decisions; want 2, 1, 2", verdicts, skipped, decided)
	}
}

// qualifiedName is the API server's rule for the name part of an audit
// annotation key (apimachinery validation.IsQualifiedName).
var qualifiedName = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

func TestAuditAnnotationKeysAreValid(t *testing.T) {
	for _, i := range []int{0, 1, 9, 10, MaxContainers} {
		key := AuditAnnotationKey(i)
		if strings.Contains(key, "/") || len(key) > 63 || !qualifiedName.MatchString(key) {
			t.Errorf("AuditAnnotationKey(%d) = %q is not a valid qualified name", i, key)
		}
	}
}

func TestVerifyImages(t *testing.T) {
	v := newFakeVerifier()
	a := New(v, nil, Policy{ExemptImages: []string{"registry.k8s.io/*"}, AllowUnpinnedTags: true}, Options{})
	got := a.VerifyImages(context.Background(), []NamespacedImage{
		{Namespace: "team-a", Image: signedA},
		{Namespace: "kube-system", Image: unsigned},
		{Namespace: "team-b", Image: signedA},
		{Image: exempted},
		{Namespace: "team-b", Image: unsigned},
	})
	type summary struct {
		Image, Namespace, Skipped string
		Allowed                   bool
	}
	var sums []summary
	for _, g := range got {
		sums = append(sums, summary{g.Image, g.Namespace, g.Skipped, g.Allowed()})
	}
	want := []summary{
		{signedA, "team-a", "", true},
		{unsigned, "kube-system", "namespace kube-system is excluded", true},
		{signedA, "team-b", "", true},
		{exempted, "", "matches exemption registry.k8s.io/*", true},
		{unsigned, "team-b", "", false},
	}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("VerifyImages() mismatch (-want +got):\n%s", diff)
	}
	if v.callCount(signedA) != 1 || v.callCount(unsigned) != 1 {
		t.Errorf("each distinct image must be verified once: calls %v", v.calls)
	}
}

// keptVerifier is a fakeVerifier that also answers some images from memory,
// as the result cache does.
type keptVerifier struct {
	*fakeVerifier
	kept    map[string]verify.Result
	lookups sync.Map // ref -> struct{}
}

func (k *keptVerifier) Lookup(ref string) (verify.Result, bool) {
	k.lookups.Store(ref, struct{}{})
	r, ok := k.kept[ref]
	if ok {
		r.Reference, r.Cached = ref, true
	}
	return r, ok
}

// TestVerifyImagesLookup: images a lookuper answers from memory are not
// verified again, the others are, and each verdict lands on its own image,
// whichever path it took; a kept failure stays a failure, and a miss that
// panics or runs out of time is still reported.
func TestVerifyImagesLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slow = "ghcr.io/org/slow:v1"
		fake := newFakeVerifier()
		fake.panics = map[string]bool{"ghcr.io/org/panics:v1": true}
		fake.hang = map[string]time.Duration{slow: 2 * time.Second} // past the deadline
		v := &keptVerifier{fakeVerifier: fake, kept: map[string]verify.Result{
			signedA:   verified(digestA, "CN=Builder"),
			untrusted: {Digest: digestB, Code: verify.CodeUntrustedSigner, Reason: "kept: untrusted"},
		}}
		a := New(v, nil, Policy{ExemptImages: []string{"registry.k8s.io/*"}, Deadline: time.Second, AllowUnpinnedTags: true}, Options{})
		got := a.VerifyImages(context.Background(), []NamespacedImage{
			{Namespace: "team-a", Image: signedA},
			{Namespace: "team-a", Image: signedB},
			{Namespace: "team-a", Image: untrusted},
			{Namespace: "team-a", Image: exempted},
			{Namespace: "team-a", Image: "ghcr.io/org/panics:v1"},
			{Namespace: "team-b", Image: signedA},
			{Namespace: "team-a", Image: unsigned},
			{Namespace: "team-a", Image: slow},
		})
		type summary struct {
			Image   string
			Allowed bool
			Cached  bool
			Code    verify.Code
		}
		var sums []summary
		for _, g := range got {
			sums = append(sums, summary{g.Image, g.Allowed(), g.Result.Cached, g.Result.Code})
		}
		want := []summary{
			{signedA, true, true, verify.CodeVerified},
			{signedB, true, false, verify.CodeVerified},
			{untrusted, false, true, verify.CodeUntrustedSigner},
			{exempted, true, false, ""},
			{"ghcr.io/org/panics:v1", false, false, verify.CodeError},
			{signedA, true, true, verify.CodeVerified},
			{unsigned, false, false, verify.CodeNoSignature},
			{slow, false, false, verify.CodeTimeout},
		}
		if diff := cmp.Diff(want, sums); diff != "" {
			t.Errorf("VerifyImages() mismatch (-want +got):\n%s", diff)
		}
		if n := fake.callCount(signedA) + fake.callCount(untrusted); n != 0 {
			t.Errorf("images answered from memory were verified again (%d calls)", n)
		}
		for _, ref := range []string{signedB, unsigned, "ghcr.io/org/panics:v1", slow} {
			if fake.callCount(ref) != 1 {
				t.Errorf("%s verified %d times; want once", ref, fake.callCount(ref))
			}
		}
		if _, ok := v.lookups.Load(exempted); ok {
			t.Errorf("an exempt image was looked up")
		}
		time.Sleep(2 * time.Second) // let the abandoned verification end
	})
}

// TestVerdictLogLevels: a fresh pass is logged at info and every failure at
// warn, cached or not; a pass from the cache repeats a record already
// written, so it is logged at debug only.
func TestVerdictLogLevels(t *testing.T) {
	v := &keptVerifier{fakeVerifier: newFakeVerifier(), kept: map[string]verify.Result{
		signedA:   verified(digestA, "CN=Builder"),
		untrusted: {Digest: digestB, Code: verify.CodeUntrustedSigner, Reason: "kept: untrusted"},
	}}
	for _, tc := range []struct {
		level slog.Level
		want  map[string]string // image -> level of its verdict record; absent: no record
	}{
		{slog.LevelDebug, map[string]string{signedA: "DEBUG", signedB: "INFO", untrusted: "WARN", unsigned: "WARN"}},
		{slog.LevelInfo, map[string]string{signedB: "INFO", untrusted: "WARN", unsigned: "WARN"}},
		{slog.LevelWarn, map[string]string{untrusted: "WARN", unsigned: "WARN"}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: tc.level}))
			a := New(v, nil, Policy{Deadline: time.Second, AllowUnpinnedTags: true}, Options{Logger: log})
			a.VerifyImages(context.Background(), []NamespacedImage{
				{Namespace: "team-a", Image: signedA},
				{Namespace: "team-a", Image: signedB},
				{Namespace: "team-a", Image: untrusted},
				{Namespace: "team-a", Image: unsigned},
			})
			got := map[string]string{}
			for _, r := range records(t, &buf) {
				if r["msg"] == "image verdict" {
					got[r["image"].(string)] = r["level"].(string)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("verdict record levels (-want +got):\n%s", diff)
			}
		})
	}
}
