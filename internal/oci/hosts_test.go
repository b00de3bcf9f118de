package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

func TestBlockedAddress(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"169.254.169.254", true}, // AWS, GCP, Azure, OpenStack metadata
		{"169.254.0.1", true},
		{"169.254.255.255", true},
		{"::ffff:169.254.169.254", true}, // IPv4-mapped
		{"fe80::1", true},
		{"febf:ffff::1", true},
		{"ff02::1", true}, // link-local multicast
		{"fd00:ec2::254", true},
		{"100.100.100.200", true},
		{"168.63.129.16", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.0.0.1", false},
		{"192.168.1.10", false},
		{"169.255.0.1", false},
		{"fec0::1", false},
		{"fd00:ec2::253", false},
		{"8.8.8.8", false},
	}
	for _, tt := range tests {
		if got := blockedAddress(netip.MustParseAddr(tt.addr)); got != tt.blocked {
			t.Errorf("blockedAddress(%s) = %v, want %v", tt.addr, got, tt.blocked)
		}
	}
}

// fakeDNS maps names to addresses for the dialer's resolver seam. Blocked
// addresses are refused before any dial, so no packet is ever sent to them.
func fakeDNS(names map[string][]string) func(ctx context.Context, host string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		as, ok := names[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, a := range as {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

// countingRegistry is a loopback HTTP server that counts requests and
// answers each one 404 (which reaching it looks like to the client).
func countingRegistry(t *testing.T) (port string, requests *atomic.Int64) {
	requests = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, requests
}

func TestDialGuard(t *testing.T) {
	port, requests := countingRegistry(t)
	c, err := New(Options{
		PlainHTTP:        true,
		MaxRetries:       -1,
		CredentialsStore: credentials.NewMemoryStore(),
		lookup: fakeDNS(map[string][]string{
			"registry.test":    {"127.0.0.1"},
			"metadata.test":    {"169.254.169.254"},
			"mapped.test":      {"::ffff:169.254.169.254"},
			"ec2v6.test":       {"fd00:ec2::254"},
			"linklocal6.test":  {"fe80::1"},
			"mixed.test":       {"169.254.169.254", "127.0.0.1"},
			"onlyblocked.test": {"169.254.169.254", "fe80::1"},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"metadata.test", "mapped.test", "ec2v6.test", "linklocal6.test", "onlyblocked.test", "169.254.169.254", "[fe80::1]", "[fd00:ec2::254]"} {
		_, err := c.Resolve(t.Context(), host+":"+port+"/app:v1")
		if !errors.Is(err, ErrBlockedAddress) || IsTransient(err) {
			t.Errorf("Resolve on %s: %v; want ErrBlockedAddress, not transient", host, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the loopback registry got %d requests before any allowed host was asked", n)
	}
	// A host with an allowed address among blocked ones uses the allowed one.
	for _, host := range []string{"registry.test", "mixed.test"} {
		if _, err := c.Resolve(t.Context(), host+":"+port+"/app:v1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve on %s: %v; want the registry's not found", host, err)
		}
	}
	if requests.Load() == 0 {
		t.Fatal("the allowed hosts never reached the registry")
	}
}

func TestAllowedRegistries(t *testing.T) {
	port, requests := countingRegistry(t)
	c, err := New(Options{
		PlainHTTP:         true,
		MaxRetries:        -1,
		CredentialsStore:  credentials.NewMemoryStore(),
		AllowedRegistries: []string{"Registry.test:" + port, "*.example.com"},
		lookup:            fakeDNS(map[string][]string{"registry.test": {"127.0.0.1"}, "other.test": {"127.0.0.1"}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(t.Context(), "other.test:"+port+"/app:v1")
	if !errors.Is(err, ErrNotAllowed) || IsTransient(err) || !strings.Contains(err.Error(), "not one of the allowed registries") {
		t.Fatalf("Resolve on an unlisted registry: %v; want ErrNotAllowed", err)
	}
	if _, _, err := c.ListSignatures(t.Context(), "other.test:"+port+"/app:v1"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("ListSignatures on an unlisted registry: %v; want ErrNotAllowed", err)
	}
	if _, err := c.NotationRepository(t.Context(), "other.test:"+port+"/app:v1"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("NotationRepository on an unlisted registry: %v; want ErrNotAllowed", err)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("an unlisted registry was contacted %d times", n)
	}
	if _, err := c.Resolve(t.Context(), "REGISTRY.test:"+port+"/app:v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve on an allowed registry: %v; want the registry's not found", err)
	}
}

// TestHostLabelsBounded sends requests to 100,000 distinct registry hosts,
// as pod specs can name, and counts the series of a Prometheus counter
// labelled by the host OnResponse reports: one per configured pattern and
// one for the rest, not one per host.
func TestHostLabelsBounded(t *testing.T) {
	const n = 100_000
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"host", "code"})
	var mu sync.Mutex
	c, err := New(Options{
		MaxRetries:       -1,
		CredentialsStore: credentials.NewMemoryStore(),
		Hosts:            []HostSettings{{Patterns: []string{"ghcr.io"}}, {Patterns: []string{"*.azurecr.io"}}},
		// Every request answered 404 at once, without a network.
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
		})},
		OnResponse: func(host string, status int) {
			mu.Lock()
			defer mu.Unlock()
			counter.WithLabelValues(host, fmt.Sprint(status)).Inc()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		host := fmt.Sprintf("h%d.attacker.example", i)
		switch i % 3 {
		case 1:
			host = fmt.Sprintf("team%d.azurecr.io", i)
		case 2:
			host = "ghcr.io"
		}
		_, _ = c.Resolve(t.Context(), host+"/app:v1")
	}
	if got := testutil.CollectAndCount(counter); got > 3 {
		t.Fatalf("%d series after requests to %d hosts; want at most 3 (ghcr.io, *.azurecr.io, other)", got, n)
	}
	if got := testutil.ToFloat64(counter.WithLabelValues(OtherHost, "404")); got == 0 {
		t.Fatal("no request counted as other")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestGuardedTransport: the transport verification uses for OCSP and CRL
// requests, whose addresses signatures choose, refuses the same addresses
// as the registry client, before dialing them.
func TestGuardedTransport(t *testing.T) {
	c := &http.Client{Transport: GuardedTransport()}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[fe80::1]:8080/crl"} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s answered %s; want it refused", u, resp.Status)
		}
		var blocked *blockedError
		if !errors.As(err, &blocked) {
			t.Errorf("GET %s: %v; want the blocked-address refusal", u, err)
		}
	}
	port, requests := countingRegistry(t)
	resp, err := c.Get("http://127.0.0.1:" + port + "/ocsp")
	if err != nil {
		t.Fatalf("GET on loopback: %v", err)
	}
	resp.Body.Close()
	if requests.Load() != 1 {
		t.Fatal("the loopback responder was not reached")
	}
}
