package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// notarySignatureType is the artifact type of a Notary Project signature
// manifest, as the referrers index lists it.
const notarySignatureType = "application/vnd.cncf.notary.signature"

// ceilingClient makes exactly the registry requests a cold verification of a
// digest reference needs on a registry without the referrers API, and
// verifies nothing: resolve the reference (HEAD of the manifest), read the
// referrers tag (the index of the image's referrers), fetch the signature
// manifest and fetch the envelope. Whatever rate it reaches, with the same
// concurrency as the servers' load, is the registry-bound ceiling for any
// verifier on this machine.
type ceilingClient struct {
	host   string
	client *http.Client
	// bearer, if set, is sent as the Authorization of every request: a
	// token obtained beforehand, for a registry with token authentication.
	bearer string
}

func newCeilingClient(host string) *ceilingClient {
	// One kept-alive connection per request in flight, as a verifier's
	// registry client keeps.
	tr := &http.Transport{MaxIdleConnsPerHost: clients * batchSize, MaxConnsPerHost: clients * batchSize}
	return &ceilingClient{host: host, client: &http.Client{Timeout: requestTimeout, Transport: tr}}
}

// fetch is one registry request: it returns the body of a 200 answer.
func (c *ceilingClient) fetch(ctx context.Context, method, path, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.host+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return body, nil
}

// image makes the four requests for one digest reference host/repo@digest.
// It checks only what it needs to find the next request, so a broken
// harness fails instead of measuring 404s.
func (c *ceilingClient) image(ctx context.Context, ref string) error {
	name, digest, ok := strings.Cut(strings.TrimPrefix(ref, c.host+"/"), "@")
	if !ok {
		return fmt.Errorf("%s: not a digest reference on %s", ref, c.host)
	}
	const manifestTypes = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
	if _, err := c.fetch(ctx, http.MethodHead, "/v2/"+name+"/manifests/"+digest, manifestTypes); err != nil {
		return err
	}
	body, err := c.fetch(ctx, http.MethodGet, "/v2/"+name+"/manifests/"+strings.Replace(digest, ":", "-", 1), "application/vnd.oci.image.index.v1+json")
	if err != nil {
		return err
	}
	var index struct {
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		return fmt.Errorf("referrers index of %s: %w", ref, err)
	}
	sig := ""
	for _, m := range index.Manifests {
		if m.ArtifactType == notarySignatureType {
			sig = m.Digest
			break
		}
	}
	if sig == "" {
		return fmt.Errorf("%s: no signature in its referrers index", ref)
	}
	body, err = c.fetch(ctx, http.MethodGet, "/v2/"+name+"/manifests/"+sig, "application/vnd.oci.image.manifest.v1+json")
	if err != nil {
		return err
	}
	var manifest struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body, &manifest); err != nil || len(manifest.Layers) == 0 {
		return fmt.Errorf("signature manifest %s of %s: no envelope (%v)", sig, ref, err)
	}
	_, err = c.fetch(ctx, http.MethodGet, "/v2/"+name+"/blobs/"+manifest.Layers[0].Digest, "*/*")
	return err
}

// runCeiling sends the images as the servers' load does (clients workers,
// each with one batch of batchSize images in flight), each batch's images
// fetched concurrently, and counts images whose four requests all succeeded
// as verified.
func runCeiling(t *testing.T, c *ceilingClient, refs []string) pass {
	t.Helper()
	ctx := context.Background()
	var (
		mu   sync.Mutex
		p    pass
		next atomic.Int64
		wg   sync.WaitGroup
	)
	var chunks [][]string
	for i := 0; i < len(refs); i += batchSize {
		chunks = append(chunks, refs[i:min(i+batchSize, len(refs))])
	}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(chunks); i = int(next.Add(1)) - 1 {
				t0 := time.Now()
				var ok atomic.Int64
				var batch sync.WaitGroup
				var lastErr atomic.Value
				for _, ref := range chunks[i] {
					batch.Go(func() {
						if err := c.image(ctx, ref); err != nil {
							lastErr.Store(err.Error())
							return
						}
						ok.Add(1)
					})
				}
				batch.Wait()
				d := time.Since(t0)
				mu.Lock()
				p.latencies = append(p.latencies, d)
				p.images += len(chunks[i])
				p.verified += int(ok.Load())
				if e, _ := lastErr.Load().(string); e != "" {
					p.failed++
					p.lastErr = e
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}
