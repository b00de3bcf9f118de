package devregistry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

const notarySignature = "application/vnd.cncf.notary.signature"

// modes runs every registry scenario with and without the referrers API,
// since hallmark has to work against both kinds of registry.
var modes = []struct {
	name      string
	referrers bool
}{
	{"referrers-api", true},
	{"tag-schema", false},
}

func start(t *testing.T, referrers bool) *devregistry.Registry {
	t.Helper()
	reg, err := devregistry.Start(t.Context(), devregistry.Options{Referrers: referrers})
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return reg
}

func repository(t *testing.T, host, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(host + "/" + name)
	if err != nil {
		t.Fatalf("NewRepository() error = %v", err)
	}
	repo.PlainHTTP = true
	return repo
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestPushAndResolve(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			reg := start(t, mode.referrers)
			ctx := t.Context()

			desc, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "one")
			if err != nil {
				t.Fatalf("PushSampleImage() error = %v", err)
			}
			if desc.MediaType != ocispec.MediaTypeImageManifest {
				t.Errorf("PushSampleImage() media type = %q, want %q", desc.MediaType, ocispec.MediaTypeImageManifest)
			}

			repo := repository(t, reg.Host(), "app")
			got, err := repo.Resolve(ctx, "v1")
			if err != nil {
				t.Fatalf("Resolve(v1) error = %v", err)
			}
			if got.Digest != desc.Digest {
				t.Errorf("Resolve(v1) digest = %s, want %s", got.Digest, desc.Digest)
			}

			// The image is complete: config and layer are fetchable and the
			// config names the label.
			manifestBytes, err := content.FetchAll(ctx, repo, desc)
			if err != nil {
				t.Fatalf("fetch manifest: %v", err)
			}
			var manifest ocispec.Manifest
			if err := json.Unmarshal(manifestBytes, &manifest); err != nil {
				t.Fatal(err)
			}
			if len(manifest.Layers) != 1 {
				t.Fatalf("manifest has %d layers, want 1", len(manifest.Layers))
			}
			if _, err := content.FetchAll(ctx, repo, manifest.Layers[0]); err != nil {
				t.Errorf("fetch layer: %v", err)
			}
			configBytes, err := content.FetchAll(ctx, repo, manifest.Config)
			if err != nil {
				t.Fatalf("fetch config: %v", err)
			}
			var config ocispec.Image
			if err := json.Unmarshal(configBytes, &config); err != nil {
				t.Fatal(err)
			}
			if got := config.Config.Labels[devregistry.SampleLabelKey]; got != "one" {
				t.Errorf("config label = %q, want %q", got, "one")
			}
		})
	}
}

func TestSampleImageDigests(t *testing.T) {
	ctx := t.Context()
	push := func(label string) ocispec.Descriptor {
		t.Helper()
		desc, err := devregistry.PushSampleImageTo(ctx, memory.New(), "", label)
		if err != nil {
			t.Fatalf("PushSampleImageTo(%q) error = %v", label, err)
		}
		return desc
	}
	if a, b := push("a"), push("a"); a.Digest != b.Digest {
		t.Errorf("same label gave digests %s and %s, want equal", a.Digest, b.Digest)
	}
	if a, b := push("a"), push("b"); a.Digest == b.Digest {
		t.Errorf("labels a and b gave the same digest %s", a.Digest)
	}
}

func TestReferrersEndpoint(t *testing.T) {
	tests := []struct {
		name      string
		referrers bool
		want      int
	}{
		{"on", true, http.StatusOK},
		{"off", false, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := start(t, tt.referrers)
			desc, err := devregistry.PushSampleImage(t.Context(), reg.Host(), "app", "v1", "one")
			if err != nil {
				t.Fatalf("PushSampleImage() error = %v", err)
			}
			resp, _ := get(t, "http://"+reg.Host()+"/v2/app/referrers/"+desc.Digest.String())
			if resp.StatusCode != tt.want {
				t.Errorf("GET referrers status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// pushReferrer attaches an artifact to subject the OCI 1.1 way
// (artifactType plus the empty config), or the legacy way (a config media
// type and no artifactType) when legacy is true.
func pushReferrer(t *testing.T, repo *remote.Repository, subject ocispec.Descriptor, artifactType string, legacy bool) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	layer, err := oras.PushBytes(ctx, repo, "application/octet-stream", []byte(artifactType))
	if err != nil {
		t.Fatal(err)
	}
	opts := oras.PackManifestOptions{Subject: &subject, Layers: []ocispec.Descriptor{layer}}
	packType := artifactType
	if legacy {
		config, err := oras.PushBytes(ctx, repo, artifactType, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		opts.ConfigDescriptor = &config
		packType = ""
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, packType, opts)
	if err != nil {
		t.Fatalf("PackManifest() error = %v", err)
	}
	return desc
}

func TestReferrersConformance(t *testing.T) {
	reg := start(t, true)
	ctx := t.Context()
	subject, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "one")
	if err != nil {
		t.Fatal(err)
	}

	// A raw PUT shows the OCI-Subject header that tells clients the
	// registry indexed the subject itself.
	t.Run("OCI-Subject", func(t *testing.T) {
		body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
			`"artifactType":"application/example","config":{"mediaType":"application/vnd.oci.empty.v1+json",` +
			`"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
			`"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
			subject.Digest.String() + `","size":` + strconv.FormatInt(subject.Size, 10) + `}}`)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut,
			"http://"+reg.Host()+"/v2/app/manifests/"+digest.FromBytes(body).String(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ocispec.MediaTypeImageManifest)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT manifest status = %d, want 201", resp.StatusCode)
		}
		if got := resp.Header.Get("OCI-Subject"); got != subject.Digest.String() {
			t.Errorf("OCI-Subject = %q, want %q", got, subject.Digest)
		}
	})

	repo := repository(t, reg.Host(), "app")
	modern := pushReferrer(t, repo, subject, notarySignature, false)
	legacy := pushReferrer(t, repo, subject, notarySignature, true)
	sbom := pushReferrer(t, repo, subject, "application/spdx+json", false)

	// oras-go saw OCI-Subject, so it must not have written a tag index.
	if _, err := repo.Resolve(ctx, "sha256-"+subject.Digest.Encoded()); err == nil {
		t.Errorf("referrers tag index exists, want none with the referrers API on")
	}

	tests := []struct {
		name   string
		filter string
		want   map[string]string // digest -> artifactType
	}{
		{"all", "", map[string]string{
			modern.Digest.String(): notarySignature,
			legacy.Digest.String(): notarySignature,
			sbom.Digest.String():   "application/spdx+json",
		}},
		{"filtered", notarySignature, map[string]string{
			modern.Digest.String(): notarySignature,
			legacy.Digest.String(): notarySignature,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://" + reg.Host() + "/v2/app/referrers/" + subject.Digest.String()
			if tt.filter != "" {
				url += "?artifactType=" + tt.filter
			}
			resp, body := get(t, url)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if tt.filter != "" && resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
				t.Errorf("OCI-Filters-Applied = %q, want artifactType", resp.Header.Get("OCI-Filters-Applied"))
			}
			var index ocispec.Index
			if err := json.Unmarshal(body, &index); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, d := range index.Manifests {
				got[d.Digest.String()] = d.ArtifactType
				if tt.filter != "" && d.ArtifactType != tt.filter {
					t.Errorf("filtered list has %s of type %q", d.Digest, d.ArtifactType)
				}
			}
			// The OCI-Subject sub-test pushed one more referrer.
			for dgst, want := range tt.want {
				if got[dgst] != want {
					t.Errorf("referrer %s artifactType = %q, want %q", dgst, got[dgst], want)
				}
			}
		})
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	tests := []struct {
		name string
		addr string
	}{
		{"all interfaces", ":0"},
		{"wildcard v4", "0.0.0.0:0"},
		{"routable", "192.0.2.1:0"},
		{"hostname", "example.com:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := devregistry.Start(t.Context(), devregistry.Options{Addr: tt.addr})
			if err == nil {
				reg.Close()
				t.Fatalf("Start(%q) error = nil, want ErrNotLoopback", tt.addr)
			}
			if !errors.Is(err, devregistry.ErrNotLoopback) {
				t.Errorf("Start(%q) error = %v, want ErrNotLoopback", tt.addr, err)
			}
		})
	}
}

func TestCloseOnContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	// Close after the context closed the registry is harmless.
	if err := reg.Close(); err != nil {
		t.Errorf("Close() error = %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+reg.Host()+"/v2/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("GET /v2/ after close succeeded, want a connection error")
	}
}
