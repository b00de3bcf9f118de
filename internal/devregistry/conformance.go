package devregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxManifestBytes caps a manifest the registry accepts or reads back while
// answering a referrers request. 4 MiB is what common registries accept and
// what oras-go allows for metadata, so nothing legitimate is refused, and a
// client cannot make the registry buffer an unbounded body.
const maxManifestBytes = 4 << 20

// Header names from the OCI distribution spec v1.1.
const (
	headerOCISubject        = "OCI-Subject"
	headerOCIFiltersApplied = "OCI-Filters-Applied"
)

// conformance sits in front of go-containerregistry's registry when the
// referrers API is on and adds the parts of distribution-spec v1.1 it lacks:
//
//   - On a manifest PUT with a subject, the registry answers with the
//     OCI-Subject header. Without it, clients (oras-go included) conclude the
//     registry ignored the subject and write the referrers tag index too, so
//     the referrers-API mode would never be exercised on its own.
//   - The referrers list reports each referrer's artifactType as the spec
//     says (the manifest's artifactType, else its config.mediaType); the
//     upstream handler always reports config.mediaType, which hides
//     artifacts packed the OCI 1.1 way behind the empty config type.
//   - The artifactType query filter is applied and announced with
//     OCI-Filters-Applied, and referrers come back in a stable order.
type conformance struct {
	next http.Handler
}

func (c *conformance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, kind, _, ok := splitPath(r.URL.Path)
	switch {
	case ok && kind == "manifests" && r.Method == http.MethodPut:
		c.putManifest(w, r)
	case ok && kind == "referrers" && r.Method == http.MethodGet:
		c.referrers(w, r, name)
	default:
		c.next.ServeHTTP(w, r)
	}
}

// putManifest passes the PUT on, and adds OCI-Subject to a 201 answer when
// the manifest has a subject.
func (c *conformance) putManifest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID",
			fmt.Sprintf("manifest larger than %d bytes", maxManifestBytes))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))

	var m struct {
		Subject *ocispec.Descriptor `json:"subject"`
	}
	if json.Unmarshal(body, &m) != nil || m.Subject == nil {
		c.next.ServeHTTP(w, r)
		return
	}
	c.next.ServeHTTP(&subjectWriter{ResponseWriter: w, subject: m.Subject.Digest.String()}, r)
}

// subjectWriter sets OCI-Subject just before a 201 status goes out.
type subjectWriter struct {
	http.ResponseWriter
	subject string
}

func (s *subjectWriter) WriteHeader(code int) {
	if code == http.StatusCreated {
		s.Header().Set(headerOCISubject, s.subject)
	}
	s.ResponseWriter.WriteHeader(code)
}

// referrers answers the referrers API from the upstream answer, with each
// artifactType corrected from the manifest itself.
func (c *conformance) referrers(w http.ResponseWriter, r *http.Request, name string) {
	up := c.capture(r)
	if up.status != http.StatusOK {
		up.replay(w)
		return
	}
	var index ocispec.Index
	if err := json.Unmarshal(up.body.Bytes(), &index); err != nil {
		up.replay(w)
		return
	}

	filter := r.URL.Query().Get("artifactType")
	referrers := make([]ocispec.Descriptor, 0, len(index.Manifests))
	for _, desc := range index.Manifests {
		desc.ArtifactType = c.artifactType(r, name, desc)
		if filter != "" && desc.ArtifactType != filter {
			continue
		}
		referrers = append(referrers, desc)
	}
	// The upstream handler walks a map; sort so that clients and tests see
	// the same order on every call.
	slices.SortFunc(referrers, func(a, b ocispec.Descriptor) int {
		return strings.Compare(a.Digest.String(), b.Digest.String())
	})
	index.Manifests = referrers

	out, err := json.Marshal(index)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if filter != "" {
		w.Header().Set(headerOCIFiltersApplied, "artifactType")
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// artifactType reads the referrer's manifest back from the upstream registry
// and returns its artifactType, else its config.mediaType, as the spec
// defines it. If the manifest cannot be read, the upstream value stands.
func (c *conformance) artifactType(r *http.Request, name string, desc ocispec.Descriptor) string {
	get, err := http.NewRequestWithContext(r.Context(), http.MethodGet,
		"/v2/"+name+"/manifests/"+desc.Digest.String(), nil)
	if err != nil {
		return desc.ArtifactType
	}
	up := c.capture(get)
	if up.status != http.StatusOK {
		return desc.ArtifactType
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(up.body.Bytes(), &m) != nil {
		return desc.ArtifactType
	}
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config.MediaType != "" {
		return m.Config.MediaType
	}
	return desc.ArtifactType
}

// capture runs r through the upstream handler and keeps the answer in memory.
// Upstream answers are manifests and indexes, which the registry itself
// accepted under maxManifestBytes, so buffering them is bounded.
func (c *conformance) capture(r *http.Request) *captured {
	rec := &captured{header: http.Header{}, status: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	return rec
}

// captured is a minimal in-memory http.ResponseWriter.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header         { return c.header }
func (c *captured) WriteHeader(code int)        { c.status = code }
func (c *captured) Write(p []byte) (int, error) { return c.body.Write(p) }

// replay writes the captured answer to w unchanged.
func (c *captured) replay(w http.ResponseWriter) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body.Bytes())
}

// splitPath splits "/v2/<name>/<kind>/<ref>" into its parts. Repository names
// may contain slashes, so kind is the second-to-last element, as the
// upstream registry routes it.
func splitPath(p string) (name, kind, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", "", false
	}
	elems := strings.Split(rest, "/")
	if len(elems) < 3 {
		return "", "", "", false
	}
	n := len(elems)
	return strings.Join(elems[:n-2], "/"), elems[n-2], elems[n-1], true
}

// writeError writes an error in the distribution spec's JSON shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
