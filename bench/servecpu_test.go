package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// serveImages is how many signed images the in-process server benchmarks
// push: enough 10-image requests per cache generation that the connections
// a new generation opens to the registry are a small part of a cold pass.
const serveImages = 300

// serveFixture is `hallmark serve` in this process (the runtime, its HTTPS
// server and its admission routes, built from a configuration file as the
// command builds them) in front of the distribution registry, a process of
// its own, holding serveImages signed images. The CPU this process uses is
// then the server's plus the load client's, and none of the registry's.
type serveFixture struct {
	runtime *serve.Runtime
	handler http.Handler // the admission routes, without TLS or the server's middleware
	url     string       // the Gatekeeper verify endpoint over HTTPS
	client  *http.Client
	bodies  [][]byte // ProviderRequests of batchSize distinct images each
	buf     bytes.Buffer
}

func startServe(b *testing.B) *serveFixture {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	dir := b.TempDir()
	host := testpeers.StartDistribution(b)
	refs, rootPEM := pushSigned(b, ctx, host, serveImages, dir)
	root := filepath.Join(dir, "root.pem")
	write(b, root, rootPEM)
	certFile, keyFile, pool := testpeers.ServingCertFiles(b, dir)
	configFile := filepath.Join(dir, "config.yaml")
	write(b, configFile, fmt.Appendf(nil, `tls: {certFile: %q, keyFile: %q}
registries:
  - hosts: ["127.0.0.1:*"]
    plainHTTP: true
trustStores:
  - {name: bench, type: ca, certificates: [{file: %q}]}
trustPolicy:
  inline:
    version: "1.0"
    trustPolicies:
      - name: bench
        registryScopes: ["*"]
        signatureVerification: {level: strict}
        trustStores: ["ca:bench"]
        trustedIdentities: ["*"]
`, certFile, keyFile, root))
	// JSON records at level info, `hallmark serve`'s default, written
	// nowhere: the cost of building them counts, not that of a terminal.
	// HALLMARK_BENCH_LOG_LEVEL=warn measures without the records of
	// verdicts and requests, as bench/ratify.sh runs the server.
	var level slog.Level
	if err := level.UnmarshalText([]byte(envString("HALLMARK_BENCH_LOG_LEVEL", "info"))); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
	rt, err := serve.Start(ctx, &serve.FileSource{Path: configFile}, serve.Options{Logger: log, Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := rt.NewServer()
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Listen(ctx); err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ctx)
	return &serveFixture{
		runtime: rt,
		handler: rt.Handler(),
		url:     "https://" + srv.Addr() + serve.GatekeeperVerifyPath,
		client:  newClient(pool),
		bodies:  batches(refs),
	}
}

// post sends one ProviderRequest over HTTPS and fails b unless every image
// verified. The answer is checked by counting its isSuccess results rather
// than by decoding it, so that the load client's share of the process CPU
// stays small.
func (f *serveFixture) post(b *testing.B, body []byte) {
	resp, err := f.client.Post(f.url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	f.buf.Reset()
	_, err = f.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("HTTP %d, %v: %.300s", resp.StatusCode, err, f.buf.Bytes())
	}
	if n := bytes.Count(f.buf.Bytes(), []byte(`"version":"0.2.0","isSuccess":true`)); n != batchSize {
		b.Fatalf("%d of %d images verified: %.300s", n, batchSize, f.buf.Bytes())
	}
}

// warm fills the cache of the generation in force with every image.
func (f *serveFixture) warm(b *testing.B) {
	for _, body := range f.bodies {
		f.post(b, body)
	}
}

// profile writes a CPU profile of what follows, to the file
// HALLMARK_BENCH_CPUPROFILE names, until b ends: unlike -cpuprofile, it
// leaves out the setup (creating the key, signing and pushing the images).
func profile(b *testing.B) {
	path := os.Getenv("HALLMARK_BENCH_CPUPROFILE")
	if path == "" {
		return
	}
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pprof.StopCPUProfile(); out.Close() })
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per image of cpu spent on n
// requests of batchSize images.
func reportCPU(b *testing.B, cpu time.Duration, n int) {
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*batchSize), "cpu-µs/img")
}

// BenchmarkServeCold sends ProviderRequests of 10 images that the server
// has not verified yet, one at a time, over HTTPS: each image is a cold
// verification (a digest reference: the manifest, the referrers, the
// signature manifest and the envelope from the registry, then notation's
// checks under a strict policy). When every image has been sent, a reload
// (not timed) puts a new generation with an empty cache in force, as a
// configuration change would. cpu-µs/img is this process's CPU per image:
// the server's and the load client's.
//
//	go test -run '^$' -bench BenchmarkServeCold -benchtime 100x ./bench
func BenchmarkServeCold(b *testing.B) {
	f := startServe(b)
	ctx := context.Background()
	var cpu time.Duration
	profile(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%len(f.bodies) == 0 {
			b.StopTimer()
			if err := f.runtime.Reload(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		c := processCPU()
		f.post(b, f.bodies[i%len(f.bodies)])
		cpu += processCPU() - c
	}
	reportCPU(b, cpu, b.N)
}

// BenchmarkServeWarm sends ProviderRequests of 10 cached images one at a
// time: over HTTPS with a kept-alive connection (server and client CPU),
// and to the admission routes' handler directly (the server's decoding,
// admission and encoding alone, no TLS or HTTP).
//
//	go test -run '^$' -bench BenchmarkServeWarm -benchtime 2000x ./bench
func BenchmarkServeWarm(b *testing.B) {
	f := startServe(b)
	f.warm(b)
	b.Run("https", func(b *testing.B) {
		var cpu time.Duration
		profile(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c := processCPU()
			f.post(b, f.bodies[i%len(f.bodies)])
			cpu += processCPU() - c
		}
		reportCPU(b, cpu, b.N)
	})
	b.Run("handler", func(b *testing.B) {
		var cpu time.Duration
		profile(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c := processCPU()
			req := httptest.NewRequest(http.MethodPost, serve.GatekeeperVerifyPath, bytes.NewReader(f.bodies[i%len(f.bodies)]))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, req)
			cpu += processCPU() - c
			if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"isSuccess":true`)) {
				b.Fatalf("HTTP %d: %.300s", w.Code, w.Body.Bytes())
			}
		}
		reportCPU(b, cpu, b.N)
	})
}

// BenchmarkServeWarmLatency is one client sending one ProviderRequest of 10
// cached images at a time over loopback HTTPS, as Gatekeeper does for one
// admission at a time; it reports the median and the 99th percentile of the
// request latency. Latency on shared cores depends on their load: report
// `uptime` with the figures.
//
//	go test -run '^$' -bench BenchmarkServeWarmLatency -benchtime 5000x ./bench
func BenchmarkServeWarmLatency(b *testing.B) {
	f := startServe(b)
	f.warm(b)
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		f.post(b, f.bodies[i%len(f.bodies)])
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
