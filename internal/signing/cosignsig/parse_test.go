package cosignsig

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

const sigLayer = `{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":235,"digest":"sha256:022c53171e72666a9d16f8ae2688425098dc5a0197c4c8331c10aa20974fa226","annotations":{"dev.cosignproject.cosign/signature":"MEQ="}}`

func TestSignatureLayersMalformed(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"not JSON", `{"schemaVersion":2,`, "not a cosign signature manifest"},
		{"an index", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, "not a cosign signature manifest"},
		{"schema 1", `{"schemaVersion":1,"layers":[]}`, "not a cosign signature manifest"},
		{"a JSON list", `[]`, "not a cosign signature manifest"},
		{"an image layer", `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":"sha256:022c53171e72666a9d16f8ae2688425098dc5a0197c4c8331c10aa20974fa226"}]}`, "not a cosign simple signature"},
		{"a bad digest", `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":1,"digest":"sha256:xyz"}]}`, "not valid"},
		{"a long media type", `{"schemaVersion":2,"layers":[{"mediaType":"` + strings.Repeat("x", 5000) + `"}]}`, "xxx..."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signatureLayers([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 1000 {
				t.Fatalf("signatureLayers = %v, want a short error saying %q", err, tt.want)
			}
		})
	}
	layers, err := signatureLayers([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[` + sigLayer + `,` + sigLayer + `]}`))
	if err != nil || len(layers) != 2 || layers[0].Annotations[cosign.AnnotationSignature] != "MEQ=" {
		t.Fatalf("cosign's manifest: %v %+v", err, layers)
	}
}

// FuzzSignatureLayers: whatever a registry holds at the .sig tag, the
// layers taken from it are all simple signatures with valid digests, and
// the config written for them lists exactly their digests, in order.
func FuzzSignatureLayers(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"layers":[` + sigLayer + `]}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		layers, err := signatureLayers(data)
		if err != nil {
			return
		}
		for _, l := range layers {
			if l.MediaType != cosign.MediaTypeSimpleSigning || l.Digest.Validate() != nil {
				t.Fatalf("layer %+v taken", l)
			}
		}
		cfg, err := imageConfig(layers)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			RootFS struct {
				DiffIDs []digest.Digest `json:"diff_ids"`
			} `json:"rootfs"`
			History []json.RawMessage `json:"history"`
		}
		if err := json.Unmarshal(cfg, &got); err != nil || len(got.RootFS.DiffIDs) != len(layers) || len(got.History) != len(layers) {
			t.Fatalf("config %s for %d layers: %v", cfg, len(layers), err)
		}
		for i, l := range layers {
			if got.RootFS.DiffIDs[i] != l.Digest {
				t.Fatalf("diff_ids[%d] = %s, layer %s", i, got.RootFS.DiffIDs[i], l.Digest)
			}
		}
	})
}
