package oci

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

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
