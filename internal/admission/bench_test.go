package admission

import (
	"context"
	"testing"
)

// BenchmarkDecidePinned measures the decision on a pod of five pinned
// images whose verdicts the verifier has at once: the admission's own cost,
// including the digest check deny mode makes on every verified image.
func BenchmarkDecidePinned(b *testing.B) {
	v := newFakeVerifier()
	a := New(v, nil, Policy{}, Options{})
	pinned := signedA + "@" + digestA
	req := podRequest("team-a", pinned, "ghcr.io/org/app@"+digestA, pinned, signedA+"@"+digestA, "ghcr.io/org/app@"+digestA)
	b.ReportAllocs()
	for b.Loop() {
		if d := a.Decide(context.Background(), req); !d.Allowed {
			b.Fatal(d.Message)
		}
	}
}

// BenchmarkMutateTags measures pinning a pod of two tags: resolution and
// the verification of each digest, against fakes that answer at once.
func BenchmarkMutateTags(b *testing.B) {
	a := New(newFakeVerifier(), newFakeResolver(), Policy{}, Options{})
	req := podRequest("team-a", signedA, "localhost:5000/app:dev")
	b.ReportAllocs()
	for b.Loop() {
		if m := a.Mutate(context.Background(), req); !m.Allowed || len(m.Patch) != 2 {
			b.Fatalf("%+v", m)
		}
	}
}
