package bench

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
	"github.com/hallmark-dev/hallmark/internal/signing/cosignsig"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestRoundTrips puts a proxy that delays every byte by
// HALLMARK_BENCH_DELAY (default 10ms) each way between the servers and the
// distribution registry, and measures the cold latency of one request at a
// time in round trips of the registry. A latency in round trips does not
// depend on how busy the machine is, as long as the CPU work is small next
// to a round trip. Its floor: 3 round trips for a digest reference (list
// the referrers, fetch the signature manifest, fetch the envelope), 4 for a
// tag (resolve first). Each phase uses images no server has seen, and the
// first request (not measured) lets each server meet the registry. It runs
// only with HALLMARK_BENCH_RTT=1: bench/roundtrips.sh runs it. With
// HALLMARK_BENCH_AUTH=token the registry uses token authentication, with
// the token service in bench/tokenserver_test.go.
func TestRoundTrips(t *testing.T) {
	if os.Getenv("HALLMARK_BENCH_RTT") != "1" {
		t.Skip("set HALLMARK_BENCH_RTT=1 to measure round trips through a delaying proxy")
	}
	delay := 10 * time.Millisecond
	if v := os.Getenv("HALLMARK_BENCH_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("HALLMARK_BENCH_DELAY=%q: want a positive duration such as 10ms", v)
		}
		delay = d
	}
	rtt := 2 * delay
	servers := strings.Split(envString("HALLMARK_BENCH_SERVERS", "hallmark,ratify"), ",")
	ctx := context.Background()
	dir := t.TempDir()
	// HALLMARK_BENCH_AUTH=token: the registry takes only bearer tokens,
	// from a token service as far away as the registry (behind a proxy of
	// its own with the same delay).
	var tokens *tokenServer
	var host string
	switch mode := os.Getenv("HALLMARK_BENCH_AUTH"); mode {
	case "":
		host = testpeers.StartDistribution(t)
	case "token":
		const service = "hallmark-bench-registry"
		tokens = startTokenServer(t, service)
		tokenProxy := startDelayProxy(t, tokens.Host(), delay)
		host = testpeers.StartDistributionTokenAuth(t, testpeers.TokenAuth{
			Realm: "http://" + tokenProxy.Host() + "/token", Service: service, Issuer: tokens.issuer, RootCertBundle: tokens.certFile,
		})
	default:
		t.Fatalf("HALLMARK_BENCH_AUTH=%q: want token, or nothing", mode)
	}
	tokenRequests := func() int64 {
		if tokens == nil {
			return 0
		}
		return tokens.requests.Load()
	}
	proxy := startDelayProxy(t, host, delay)
	// The harness pushes through a client of its own, with a token cache.
	pusher := &auth.Client{Cache: auth.NewCache()}
	key, rootPEM := benchKey(t, ctx, dir)
	// A key nobody trusts: its signatures fail authenticity, so a verifier
	// must fetch them and go on to the next.
	untrusted, _ := benchKey(t, ctx, t.TempDir())
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	type phase struct {
		name     string
		requests int
		perReq   int  // images per request
		byTag    bool // tag references
		extra    int  // untrusted signatures before the trusted one
		newRepo  bool // each image in a repository of its own
		cosign   bool // signed with cosign instead
		floor    int  // round trips
	}
	images := 0
	// push pushes a fresh image as ph says, signs it with the untrusted key
	// ph.extra times and then the trusted key (with cosign if ph.cosign),
	// and returns its reference through the proxy: by digest, or by tag if
	// ph.byTag. The zero phase is one image by digest, signed once.
	push := func(ph phase) string {
		t.Helper()
		images++
		tag := ""
		if ph.byTag {
			tag = fmt.Sprintf("t%d", images)
		}
		name := "rtt"
		if ph.newRepo {
			name = fmt.Sprintf("rtt-%d", images)
		}
		repo, err := remote.NewRepository(host + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		repo.PlainHTTP, repo.Client = true, pusher
		desc, err := devregistry.PushSampleImageTo(ctx, repo, tag, fmt.Sprintf("rtt-%d", images))
		if err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("%s/%s@%s", host, name, desc.Digest)
		for range ph.extra {
			if err := signImage(ctx, client, untrusted, ref); err != nil {
				t.Fatal(err)
			}
		}
		if ph.cosign {
			if _, err := cosignsig.Sign(ctx, key.Signer, client, ref, nil); err != nil {
				t.Fatal(err)
			}
		} else if err := signImage(ctx, client, key, ref); err != nil {
			t.Fatal(err)
		}
		if ph.byTag {
			return fmt.Sprintf("%s/%s:%s", proxy.Host(), name, tag)
		}
		return fmt.Sprintf("%s/%s@%s", proxy.Host(), name, desc.Digest)
	}
	phases := []phase{
		{name: "digest, 1 image per request", requests: 10, perReq: 1, floor: 3},
		{name: "digest, 10 images per request", requests: 10, perReq: 10, floor: 3},
		{name: "tag, 1 image per request", requests: 10, perReq: 1, byTag: true, floor: 4},
		{name: "digest, 3 signatures (2 untrusted first)", requests: 5, perReq: 1, extra: 2, floor: 3},
		// Signature kinds "any": the Notary Project listing finds nothing,
		// then the .sig manifest (beside the bundle referrers and the
		// image manifest) and the payload.
		{name: "digest, cosign signature", requests: 10, perReq: 1, cosign: true, floor: 3},
	}
	if tokens != nil {
		// A repository not seen before needs a token of its own scope: at
		// least one round trip to the token service before the first
		// request to the registry.
		phases = append(phases, phase{name: "tag, a new repository per image", requests: 10, perReq: 1, byTag: true, newRepo: true, floor: 5})
	}
	policy := []byte(`{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`)

	var b strings.Builder
	fmt.Fprintf(&b, "\nregistry behind a proxy delaying %v each way (round trip %v); one request at a time, every image cold\n", delay, rtt)
	if tokens != nil {
		b.WriteString("token authentication: the token service behind a proxy with the same delay; registry requests include token requests\n")
	}
	b.WriteString("\n| server | references | floor | p50 round trips | min / max | registry requests per image | token requests per image | new connections per image | isSuccess / images |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	// Calibration: the ceiling client's four requests, one after the other,
	// show what four round trips measure on this machine, with its load.
	{
		c := newCeilingClient(proxy.Host())
		if tokens != nil {
			// Its token is obtained beforehand: the row calibrates the
			// registry's four requests, nothing else.
			tok, err := tokens.signer.Sign(tokens.service, []acrtest.ResourceActions{{Type: "repository", Name: "rtt", Actions: []string{"pull"}}})
			if err != nil {
				t.Fatal(err)
			}
			c.bearer = tok
		}
		var lat []time.Duration
		refs := []string{}
		for range 10 {
			refs = append(refs, push(phase{}))
		}
		conns0 := proxy.conns.Load()
		for _, ref := range refs {
			t0 := time.Now()
			if err := c.image(ctx, ref); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		fmt.Fprintf(&b, "| ceiling client: 4 requests one after the other, nothing verified | digest, 1 image | 4 | **%.2f** | %.2f / %.2f | 4.00 | 0.00 | %.2f | |\n",
			float64(lat[len(lat)/2])/float64(rtt), float64(lat[0])/float64(rtt), float64(lat[len(lat)-1])/float64(rtt), float64(proxy.conns.Load()-conns0)/float64(len(refs)))

		// The same for 10 images at once, as in a 10-image request: what
		// the registry's and the machine's work for 10 images adds to the
		// four round trips, before any verifier's.
		lat = lat[:0]
		var batchesOf10 [][]string
		for range 10 {
			var batch []string
			for range 10 {
				batch = append(batch, push(phase{}))
			}
			batchesOf10 = append(batchesOf10, batch)
		}
		conns0 = proxy.conns.Load()
		for _, batch := range batchesOf10 {
			t0 := time.Now()
			var wg sync.WaitGroup
			for _, ref := range batch {
				wg.Go(func() {
					if err := c.image(ctx, ref); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		fmt.Fprintf(&b, "| ceiling client: the same, 10 images at once | digest, 10 images | 4 | **%.2f** | %.2f / %.2f | 4.00 | 0.00 | %.2f | |\n",
			float64(lat[len(lat)/2])/float64(rtt), float64(lat[0])/float64(rtt), float64(lat[len(lat)-1])/float64(rtt), float64(proxy.conns.Load()-conns0)/100)
	}
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			var tgt target
			switch name {
			case "hallmark":
				// The cosign key accepts the cosign phase's signatures;
				// the Notary Project ones pass first, as before.
				der, err := x509.MarshalPKIXPublicKey(key.Signer.Public())
				if err != nil {
					t.Fatal(err)
				}
				pub := filepath.Join(dir, "cosign.pub")
				write(t, pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
				tgt, _ = startHallmarkWith(t, dir, policy, rootPEM, fmt.Sprintf("cosign:\n  policies: [{name: bench, scopes: [\"*\"], keys: [{file: %q}]}]\n", pub), nil)
			case "ratify":
				if tokens != nil {
					t.Skip("token authentication is measured for hallmark only")
				}
				r := testpeers.RunRatify(t, testpeers.RatifyOptions{
					Registry: proxy.Host(), CertificatePEM: rootPEM, TrustPolicyJSON: policy,
					Cache: true, CacheTTL: time.Hour, VerifyTimeout: 2900 * time.Millisecond, LogLevel: "warn",
				})
				tgt = target{name: "Ratify v1.4.6", url: r.URL + testpeers.RatifyVerifyPath, pid: r.PID, client: newClient(nil)}
			default:
				t.Fatalf("HALLMARK_BENCH_SERVERS: unknown server %q", name)
			}
			// Meet the registry: connections, the referrers API probe.
			if v, _, err := post(tgt, batches([]string{push(phase{})})[0]); err != nil || v != 1 {
				t.Fatalf("%s: first image not verified (%d, %v)", tgt.name, v, err)
			}
			for _, ph := range phases {
				var bodies [][]byte
				for range ph.requests {
					var refs []string
					for range ph.perReq {
						refs = append(refs, push(ph))
					}
					bodies = append(bodies, batches(refs)...)
				}
				conns0, reqs0, tokens0 := proxy.conns.Load(), registryRequestCount(t, tgt), tokenRequests()
				var lat []time.Duration
				verified, sent := 0, 0
				for _, body := range bodies {
					t0 := time.Now()
					v, k, err := post(tgt, body)
					lat = append(lat, time.Since(t0))
					if err != nil {
						t.Errorf("%s, %s: %v", tgt.name, ph.name, err)
					}
					verified, sent = verified+v, sent+k
				}
				slices.Sort(lat)
				rt := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(rtt)) }
				reqs := "n/a"
				if tgt.metrics != "" {
					reqs = fmt.Sprintf("%.2f", (registryRequestCount(t, tgt)-reqs0)/float64(sent))
				}
				row := fmt.Sprintf("| %s | %s | %d | **%s** | %s / %s | %s | %.2f | %.2f | %d / %d |\n", tgt.name, ph.name, ph.floor,
					rt(lat[len(lat)/2]), rt(lat[0]), rt(lat[len(lat)-1]), reqs,
					float64(tokenRequests()-tokens0)/float64(sent),
					float64(proxy.conns.Load()-conns0)/float64(sent), verified, sent)
				t.Log(row)
				b.WriteString(row)
			}
		})
	}
	fmt.Print(b.String())
	fmt.Printf("\nload average (1, 5, 15 min) at the end: %s\n", loadAverage())
}

// registryRequestCount sums hallmark's registry request counters, all
// statuses; 0 for a server without them.
func registryRequestCount(t *testing.T, tgt target) float64 {
	t.Helper()
	if tgt.metrics == "" {
		return 0
	}
	resp, err := tgt.client.Get(tgt.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "hallmark_registry_requests_total") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}
