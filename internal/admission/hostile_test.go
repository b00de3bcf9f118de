package admission

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

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
