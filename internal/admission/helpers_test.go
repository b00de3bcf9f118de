package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Digests used by the fakes.
const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// fakeVerifier answers from a table; images not in it fail with
// CodeNoSignature. It is a seam for this package's own logic: the real
// engine is tested in verify and end to end by the server.
type fakeVerifier struct {
	results map[string]verify.Result
	// hang makes Verify of these images ignore ctx and take this long.
	hang map[string]time.Duration
	// panics makes Verify of these images panic.
	panics map[string]bool

	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeVerifier) Verify(ctx context.Context, ref string) verify.Result {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[ref]++
	f.mu.Unlock()
	if f.panics[ref] {
		panic("boom: " + ref)
	}
	if d, ok := f.hang[ref]; ok {
		time.Sleep(d)
	}
	if r, ok := f.results[ref]; ok {
		r.Reference = ref
		return r
	}
	// A reference pinned to the digest a listed tag verified at
	// (REPO:TAG@DIGEST or REPO@DIGEST) verifies as that tag did.
	if base, d, ok := strings.Cut(ref, "@"); ok {
		for key, r := range f.results {
			repo := key
			if i := strings.LastIndex(key, ":"); i > strings.LastIndex(key, "/") {
				repo = key[:i]
			}
			if r.Digest == d && (key == base || repo == base) {
				r.Reference = ref
				return r
			}
		}
	}
	return verify.Result{
		Reference: ref,
		Code:      verify.CodeNoSignature,
		Reason:    "no Notary Project signature found for " + ref,
	}
}

func (f *fakeVerifier) callCount(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[ref]
}

func (f *fakeVerifier) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func verified(digest, signer string) verify.Result {
	return verify.Result{
		Digest:   digest,
		Verified: true,
		Code:     verify.CodeVerified,
		Reason:   "signature by " + signer + " verified",
		Signatures: []verify.SignatureResult{{
			Digest:        digestB,
			SignerSubject: signer,
			SignerIssuer:  "CN=Test CA",
			Verified:      true,
			Code:          verify.CodeVerified,
		}},
	}
}

// fakeResolver resolves tags from a table; others are not found.
type fakeResolver struct {
	digests map[string]string
	errs    map[string]error
	hang    map[string]time.Duration

	mu    sync.Mutex
	calls int
}

func (f *fakeResolver) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if d, ok := f.hang[ref]; ok {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ocispec.Descriptor{}, ctx.Err()
		}
	}
	if err, ok := f.errs[ref]; ok {
		return ocispec.Descriptor{}, err
	}
	if d, ok := f.digests[ref]; ok {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(d), Size: 1}, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("tag of %s not found", ref)
}

// recordLogger returns a logger that writes JSON records into the buffer.
func recordLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// records decodes the JSON log lines in buf.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// podJSON builds a Pod with the given container images.
func podJSON(images ...string) []byte {
	var cs []string
	for i, img := range images {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":%q}`, i, img))
	}
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"team-a"},"spec":{"containers":[` + strings.Join(cs, ",") + `]}}`)
}

func podRequest(ns string, images ...string) Request {
	return Request{UID: "uid-1", Namespace: ns, Name: "web", Kind: "Pod", Object: podJSON(images...)}
}

// applyPatch applies replace operations to a JSON document, as the API
// server would.
func applyPatch(t *testing.T, doc []byte, ops []PatchOp) []byte {
	t.Helper()
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Op != "replace" {
			t.Fatalf("unexpected op %q", op.Op)
		}
		parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
		node := root
		for _, p := range parts[:len(parts)-1] {
			switch n := node.(type) {
			case map[string]any:
				node = n[p]
			case []any:
				i, err := strconv.Atoi(p)
				if err != nil || i >= len(n) {
					t.Fatalf("bad path %s", op.Path)
				}
				node = n[i]
			default:
				t.Fatalf("bad path %s", op.Path)
			}
		}
		m, ok := node.(map[string]any)
		last := parts[len(parts)-1]
		if !ok {
			t.Fatalf("bad path %s", op.Path)
		}
		if _, exists := m[last]; !exists {
			t.Fatalf("replace of missing %s", op.Path)
		}
		m[last] = op.Value
	}
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
