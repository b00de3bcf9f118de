package oci

import (
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry"
)

// benchReferences are the shapes admission requests carry most: a tag, a
// digest, both, a port, a Docker Hub image.
var benchReferences = []string{
	"registry.example.com/team/app:v1.2.3",
	"registry.example.com/team/app@" + plainDigestValue,
	"registry.example.com/team/app:v1@" + plainDigestValue,
	"localhost:5000/app:latest",
	"docker.io/library/nginx:1.27",
}

// BenchmarkParseReference measures ParseReference as it is and as it would
// be without the hand-written fast path (parsePlain), on the references
// above; docs/benchmarks.md records the figures and the decision.
func BenchmarkParseReference(b *testing.B) {
	b.Run("with fast path", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ParseReference(benchReferences[i%len(benchReferences)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full parse only", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s := benchReferences[i%len(benchReferences)]
			ref, err := registry.ParseReference(s)
			if err != nil {
				b.Fatal(err)
			}
			_, rest, _ := strings.Cut(s, "/")
			if name, _, hasDigest := strings.Cut(rest, "@"); hasDigest {
				if j := strings.Index(name, ":"); j >= 0 && !ValidTag(name[j+1:]) {
					b.Fatal("invalid tag")
				}
			}
			if _, err := canonicalOrRefuse(s, ref, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
