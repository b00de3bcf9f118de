package admission

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Hostile inputs: objects and requests built by someone with the right to
// create pods who wants an image to run that did not verify. Every case
// states the one property that must hold, whatever else the answer says:
// in deny mode, nothing is admitted, and nothing is pinned, that did not
// verify.

const (
	hostileRepo     = "registry.example/org/app"
	hostileSigned   = hostileRepo + ":v1"
	hostileUnsigned = "registry.example/org/tools:v1"
)

// workloadJSON wraps a pod spec in an object of the kind, at the place the
// kind keeps its pod spec.
func workloadJSON(t *testing.T, group, kind string, spec map[string]any) []byte {
	t.Helper()
	path, ok := podSpecPaths[group+"/"+kind]
	if !ok {
		t.Fatalf("no pod spec path for %s/%s", group, kind)
	}
	var node any = spec
	for i := len(path) - 1; i >= 0; i-- {
		node = map[string]any{path[i]: node}
	}
	obj := node.(map[string]any)
	obj["kind"], obj["metadata"] = kind, map[string]any{"name": "w", "namespace": "team-a"}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// workloadKinds are every kind Images reads, as group and kind.
func workloadKinds() [][2]string {
	var kinds [][2]string
	for k := range podSpecPaths {
		group, kind, _ := strings.Cut(k, "/")
		kinds = append(kinds, [2]string{group, kind})
	}
	slices.SortFunc(kinds, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	return kinds
}

func hostileVerifier() *fakeVerifier {
	return &fakeVerifier{results: map[string]verify.Result{
		hostileSigned:                   verified(digestA, "CN=Builder"),
		hostileSigned + "@" + digestA:   verified(digestA, "CN=Builder"),
		hostileRepo + "@" + digestA:     verified(digestA, "CN=Builder"),
		hostileUnsigned + "@" + digestB: {Digest: digestB, Code: verify.CodeNoSignature, Reason: "no Notary Project signature"},
	}}
}

func hostileResolver() *fakeResolver {
	return &fakeResolver{digests: map[string]string{hostileSigned: digestA, hostileUnsigned: digestB}}
}

// TestHostileImageVolumes: an unsigned image mounted as an image volume
// (volumes[].image.reference) next to a signed container, in every kind of
// workload, is denied by Decide.
func TestHostileImageVolumes(t *testing.T) {
	spec := map[string]any{
		"containers": []any{map[string]any{"name": "app", "image": hostileSigned + "@" + digestA}},
		"volumes": []any{
			map[string]any{"name": "scratch", "emptyDir": map[string]any{}},
			map[string]any{"name": "tools", "image": map[string]any{"reference": hostileUnsigned}},
		},
	}
	for _, gk := range workloadKinds() {
		t.Run(describeKind(gk[0], gk[1]), func(t *testing.T) {
			a := New(hostileVerifier(), hostileResolver(), Policy{}, Options{})
			req := Request{UID: "u", Namespace: "team-a", Group: gk[0], Kind: gk[1], Object: workloadJSON(t, gk[0], gk[1], spec)}
			d := a.Decide(context.Background(), req)
			if d.Allowed || !strings.Contains(d.Message, hostileUnsigned) {
				t.Errorf("Decide: allowed %v, message %q; want a denial naming the image volume %s", d.Allowed, d.Message, hostileUnsigned)
			}
		})
	}
}

// TestHostileMutateNeverPinsUnverified: mutation pins only what verified;
// an unsigned image volume or container keeps its tag (and validation then
// denies it), in every kind of workload.
func TestHostileMutateNeverPinsUnverified(t *testing.T) {
	spec := map[string]any{
		"containers": []any{map[string]any{"name": "app", "image": hostileSigned}},
		"volumes":    []any{map[string]any{"name": "tools", "image": map[string]any{"reference": hostileUnsigned}}},
	}
	for _, gk := range workloadKinds() {
		t.Run(describeKind(gk[0], gk[1]), func(t *testing.T) {
			a := New(hostileVerifier(), hostileResolver(), Policy{}, Options{})
			req := Request{UID: "u", Namespace: "team-a", Group: gk[0], Kind: gk[1], Object: workloadJSON(t, gk[0], gk[1], spec)}
			m := a.Mutate(context.Background(), req)
			pinnedSigned := false
			for _, op := range m.Patch {
				if strings.HasPrefix(op.Value, hostileUnsigned) {
					t.Errorf("Mutate pinned the unsigned image: %+v", op)
				}
				pinnedSigned = pinnedSigned || op.Value == hostileSigned+"@"+digestA
			}
			if !pinnedSigned {
				t.Errorf("Mutate did not pin the signed container: %+v", m)
			}
		})
	}
}

// driftingResolver is a registry that answers hallmark's first lookup of a
// tag too late, and later ones with another manifest than the one it
// serves the kubelet.
type driftingResolver struct {
	mu    sync.Mutex
	calls int
	later string // the digest of the second and later answers
}

func (r *driftingResolver) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	r.mu.Lock()
	r.calls++
	first := r.calls == 1
	r.mu.Unlock()
	if first {
		<-ctx.Done() // slower than any deadline
		return ocispec.Descriptor{}, ctx.Err()
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(r.later), Size: 1}, nil
}

// TestHostileTagDrift: a registry that is slow for the first lookup and
// answers the second differently must not get a tag admitted in deny
// mode: either mutation pins the tag to a digest that verified, or the
// object is refused. Validation never admits a tag without the pinned
// digest, whatever the tag resolves to when validation looks.
func TestHostileTagDrift(t *testing.T) {
	for _, tt := range []struct {
		name  string
		later string // what the registry answers after the slow first lookup
	}{
		{"slow first lookup, then the signed manifest", digestA},
		{"slow first lookup, then an unsigned manifest", digestB},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := hostileVerifier()
			a := New(v, &driftingResolver{later: tt.later}, Policy{Deadline: 50 * time.Millisecond}, Options{})
			req := Request{UID: "u", Namespace: "team-a", Kind: "Pod", Object: podJSON(hostileSigned)}

			m := a.Mutate(context.Background(), req)
			if m.Allowed && len(m.Patch) == 0 {
				t.Errorf("Mutate admitted the tag unpinned after the lookup timed out: %+v", m)
			}
			for _, op := range m.Patch {
				if !v.results[op.Value].Verified {
					t.Errorf("Mutate pinned %s, which did not verify", op.Value)
				}
			}
			// The second mutation sees the later answer; validation of the
			// object as it is after that must be consistent with it.
			m2 := a.Mutate(context.Background(), req)
			obj := req.Object
			if m2.Allowed {
				obj = applyPatch(t, req.Object, m2.Patch)
			}
			for _, op := range m2.Patch {
				if !v.results[op.Value].Verified {
					t.Errorf("second Mutate pinned %s, which did not verify", op.Value)
				}
			}
			d := a.Decide(context.Background(), Request{UID: "u", Namespace: "team-a", Kind: "Pod", Object: obj})
			images, _ := Images("", "Pod", obj)
			for _, img := range images {
				if d.Allowed && !strings.Contains(img.Ref, "@") {
					t.Errorf("Decide admitted %s without a digest in deny mode", img.Ref)
				}
			}
			// And the tag as written, had mutation never run.
			if d := a.Decide(context.Background(), req); d.Allowed {
				t.Errorf("Decide admitted the tag-only %s in deny mode: %+v", hostileSigned, d)
			}
		})
	}
}
