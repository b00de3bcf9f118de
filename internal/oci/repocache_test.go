package oci

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

// TestReferrersCapabilityLearnedOnce: against a registry without the
// referrers API, listing the signatures of many images in one repository
// probes the API once, not once per image.
func TestReferrersCapabilityLearnedOnce(t *testing.T) {
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: false})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var probes atomic.Int32
	backend, _ := url.Parse("http://" + reg.Host())
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/") {
			probes.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	c, err := New(Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"a", "b", "c", "d"} {
		desc, err := devregistry.PushSampleImage(ctx, host, "app", label, label)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ListSignatures(ctx, host+"/app@"+desc.Digest.String()); err != nil {
			t.Fatal(err)
		}
	}
	if n := probes.Load(); n != 1 {
		t.Fatalf("the referrers API was asked %d times for 4 images of one repository, want 1", n)
	}
}

// TestReferrersProbeOncePerRegistry: the first verifications of a registry
// without the referrers API, started together, ask the API once between
// them, whatever their repositories: the others wait for the first answer.
// The registry holds the first API request until a second one arrives (or a
// while has passed), so a client that lets them race is caught every time.
func TestReferrersProbeOncePerRegistry(t *testing.T) {
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: false})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var (
		probes   atomic.Int32
		failNext atomic.Bool
		second   = make(chan struct{})
		once     sync.Once
	)
	backend, _ := url.Parse("http://" + reg.Host())
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/") {
			if failNext.CompareAndSwap(true, false) {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			if probes.Add(1) == 1 {
				select {
				case <-second:
				case <-time.After(time.Second):
				}
			} else {
				once.Do(func() { close(second) })
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	c, err := New(Options{PlainHTTP: true, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	push := func(repo string) string {
		desc, err := devregistry.PushSampleImage(ctx, host, repo, "v1", repo)
		if err != nil {
			t.Fatal(err)
		}
		return host + "/" + repo + "@" + desc.Digest.String()
	}

	// A failed first listing teaches nothing: the next one asks again.
	failNext.Store(true)
	if _, _, err := c.ListSignatures(ctx, push("failing")); err == nil {
		t.Fatal("the listing passed through a registry answering 503")
	}

	var refs []string
	for i := range 8 {
		refs = append(refs, push(fmt.Sprintf("app%d", i)))
	}
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Go(func() {
			repo, err := c.NotationRepository(ctx, ref)
			if err == nil {
				_, d, _ := strings.Cut(ref, "@")
				err = repo.ListSignatures(ctx, ocispec.Descriptor{Digest: digest.Digest(d)}, func([]ocispec.Descriptor) error { return nil })
			}
			if err != nil {
				t.Errorf("%s: %v", ref, err)
			}
		})
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Fatalf("the referrers API was asked %d times by 8 concurrent first listings in 8 repositories, want 1", n)
	}
	// A repository first seen after the answer does not ask either.
	if _, _, err := c.ListSignatures(ctx, push("later")); err != nil {
		t.Fatal(err)
	}
	if n := probes.Load(); n != 1 {
		t.Fatalf("a new repository asked the referrers API again (%d requests)", n)
	}
}
