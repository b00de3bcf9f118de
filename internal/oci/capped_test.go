package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// hostileRegistry serves one signature manifest, whose envelope layer
// declares envelopeSize bytes, and answers every blob with blob. Bodies are
// sent without a Content-Length, so that only the declared sizes speak.
func hostileRegistry(t *testing.T, envelopeSize int64, blob []byte) (host string, sigManifest ocispec.Descriptor, declaredManifest int64) {
	t.Helper()
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ArtifactTypeSignature, Digest: digest.FromString("{}"), Size: 2},
		Layers:    []ocispec.Descriptor{{MediaType: "application/jose+json", Digest: digest.FromBytes(blob), Size: envelopeSize}},
	}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			w.Write(raw)
		case strings.Contains(r.URL.Path, "/blobs/"):
			w.Write(blob)
		default:
			http.NotFound(w, r)
		}
		// Flushing makes the answer chunked: no Content-Length.
		w.(http.Flusher).Flush()
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	return host, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}, maxSignatureManifestBytes
}

// allocated returns the bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDeclaredSizesNotTrusted: a registry that declares a signature
// manifest and an envelope at the size caps, and sends a few bytes, costs
// a few bytes, not the declared sizes; the reads fail for the short
// content, through FetchSignature and the verification path alike.
func TestDeclaredSizesNotTrusted(t *testing.T) {
	const budget = 2 << 20 // well under the 4 MiB and 32 MiB caps
	c, err := New(Options{PlainHTTP: true, MaxRetries: -1, CredentialsStore: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("manifest", func(t *testing.T) {
		host, sig, declared := hostileRegistry(t, 100, []byte("tiny"))
		sig.Size = declared // the manifest is a few hundred bytes
		var err error
		n := allocated(func() { _, _, _, err = c.FetchSignature(t.Context(), host+"/app:v1", sig) })
		if err == nil {
			t.Fatal("FetchSignature accepted a manifest shorter than declared")
		}
		if n > budget {
			t.Errorf("FetchSignature allocated %d bytes for a manifest declared at %d and %d bytes long", n, declared, 300)
		}
	})
	for name, fetch := range map[string]func(ctx context.Context, host string, sig ocispec.Descriptor) error{
		"FetchSignature": func(ctx context.Context, host string, sig ocispec.Descriptor) error {
			_, _, _, err := c.FetchSignature(ctx, host+"/app:v1", sig)
			return err
		},
		"NotationRepository": func(ctx context.Context, host string, sig ocispec.Descriptor) error {
			repo, err := c.NotationRepository(ctx, host+"/app:v1")
			if err != nil {
				return err
			}
			defer repo.Release()
			_, _, err = repo.FetchSignatureBlob(ctx, sig)
			return err
		},
	} {
		t.Run("envelope via "+name, func(t *testing.T) {
			host, sig, _ := hostileRegistry(t, maxEnvelopeBytes, []byte("tiny"))
			var err error
			n := allocated(func() { err = fetch(t.Context(), host, sig) })
			if err == nil {
				t.Fatal("accepted an envelope shorter than declared")
			}
			if n > budget {
				t.Errorf("allocated %d bytes for an envelope declared at %d and 4 bytes long", n, maxEnvelopeBytes)
			}
		})
	}
}

// TestSignatureBudget: verifications hold signature data against one
// client-wide bound; past it a fetch fails at once with ErrOverloaded, and
// Release gives the data back.
func TestSignatureBudget(t *testing.T) {
	envelope := []byte(strings.Repeat("x", 100<<10))
	host, sig, _ := hostileRegistry(t, int64(len(envelope)), envelope)
	c, err := New(Options{PlainHTTP: true, MaxRetries: -1, CredentialsStore: credentials.NewMemoryStore(), MaxSignatureBytes: 300 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var held []*NotationRepository
	fetch := func() error {
		repo, err := c.NotationRepository(t.Context(), host+"/app:v1")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, repo)
		blob, _, err := repo.FetchSignatureBlob(t.Context(), sig)
		if err == nil && len(blob) != len(envelope) {
			t.Fatalf("got %d bytes, want %d", len(blob), len(envelope))
		}
		return err
	}
	// Each holds about 130 KiB (the envelope, the buffer's growth, the
	// manifest): two fit in 300 KiB, the third does not.
	for i := range 2 {
		if err := fetch(); err != nil {
			t.Fatalf("fetch %d within the budget: %v", i, err)
		}
	}
	err = fetch()
	if !errors.Is(err, ErrOverloaded) || !IsTransient(err) {
		t.Fatalf("fetch over the budget: %v; want ErrOverloaded, transient", err)
	}
	for _, r := range held {
		r.Release()
	}
	if used := c.budget.used.Load(); used != 0 {
		t.Fatalf("%d bytes still held after every Release", used)
	}
	if err := fetch(); err != nil {
		t.Fatalf("fetch after Release: %v", err)
	}
}

// TestReadCapped covers the reader's edge cases on its own.
func TestReadCapped(t *testing.T) {
	content := []byte(strings.Repeat("abc", 50000))
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		body    []byte
		desc    ocispec.Descriptor
		limit   int64
		wantErr string
	}{
		{"exact", content, desc, 1 << 20, ""},
		{"short", content[:100], desc, 1 << 20, "ended after 100"},
		{"long", append(append([]byte{}, content...), 'x'), desc, 1 << 20, "longer than"},
		{"wrong digest", append(append([]byte{}, content[:len(content)-1]...), 'x'), desc, 1 << 20, "does not match digest"},
		{"over the limit", content, desc, 1000, "outside 0 to 1000"},
		{"negative size", content, ocispec.Descriptor{Digest: desc.Digest, Size: -1}, 1000, "outside"},
		{"bad digest", content, ocispec.Descriptor{Digest: "sha256:xyz", Size: desc.Size}, 1 << 20, "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCapped(strings.NewReader(string(tt.body)), tt.desc, tt.limit, nil)
			if tt.wantErr == "" {
				if err != nil || string(got) != string(content) {
					t.Fatalf("readCapped: %d bytes, %v", len(got), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("readCapped error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzReadCapped: readCapped returns exactly the content whose size and
// digest the descriptor gives, or an error; never other bytes.
func FuzzReadCapped(f *testing.F) {
	f.Add([]byte("hello"), int64(5), true)
	f.Add([]byte("hello"), int64(4), true)
	f.Add([]byte(""), int64(0), false)
	f.Fuzz(func(t *testing.T, body []byte, size int64, rightDigest bool) {
		d := digest.FromBytes(body)
		if !rightDigest {
			d = digest.FromString(fmt.Sprint(len(body)))
		}
		got, err := readCapped(strings.NewReader(string(body)), ocispec.Descriptor{Digest: d, Size: size}, 1<<16, &holding{budget: &byteBudget{max: 1 << 20}})
		if err != nil {
			return
		}
		if int64(len(got)) != size || digest.FromBytes(got) != d || string(got) != string(body) {
			t.Fatalf("readCapped accepted %d bytes for size %d, digest %s", len(got), size, d)
		}
	})
}
