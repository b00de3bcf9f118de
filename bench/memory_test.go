package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// pushers is how many images are pushed and signed at once: enough to keep
// the registry busy while a signature is computed.
const pushers = 16

// TestMemory measures what `hallmark serve` holds in memory with a cache
// big enough for every image it has verified: the real binary, with
// verification.cache.maxEntries set to the number of images, answers
// Gatekeeper provider requests for N distinct signed images held by a real
// distribution registry, and at each checkpoint the harness reads VmRSS and
// VmHWM from /proc/PID/status, the Go heap from /metrics and the live heap
// after the last collection from the runtime's GC trace. A warm pass at the
// end checks that every verdict was still cached. It takes many minutes, so
// it runs only with HALLMARK_BENCH_MEM=1; bench/memory.sh runs it.
// HALLMARK_BENCH_IMAGES sets N (default 100000), HALLMARK_BENCH_CHECKPOINTS
// the image counts to measure at (default 20000,50000,100000; N is always
// one).
func TestMemory(t *testing.T) {
	if os.Getenv("HALLMARK_BENCH_MEM") != "1" {
		t.Skip("set HALLMARK_BENCH_MEM=1 to measure hallmark serve's memory with N cached verdicts (takes many minutes)")
	}
	n := envInt(t, "HALLMARK_BENCH_IMAGES", 100000)
	var checkpoints []int
	for _, f := range strings.Split(envString("HALLMARK_BENCH_CHECKPOINTS", "20000,50000,100000"), ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			t.Fatalf("HALLMARK_BENCH_CHECKPOINTS: %q is not a positive integer", f)
		}
		if c < n {
			checkpoints = append(checkpoints, c)
		}
	}
	checkpoints = append(checkpoints, n)
	ctx := context.Background()
	dir := t.TempDir()
	loadStart := loadAverage()

	host := testpeers.StartDistribution(t)
	start := time.Now()
	refs, rootPEM := pushSignedShared(t, ctx, host, n, dir)
	pushTime := time.Since(start)
	t.Logf("pushed and signed %d images in %v", n, pushTime.Round(time.Second))

	policy := []byte(`{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`)
	// A positive TTL longer than the run, so that every verdict is live
	// when the warm pass checks it.
	cacheYAML := fmt.Sprintf("{maxEntries: %d, positiveTTL: 1h}", n)
	tgt, logs := startHallmarkWith(t, dir, policy, rootPEM, "verification:\n  cache: "+cacheYAML+"\n", []string{"GODEBUG=gctrace=1"})
	idle := measureMemory(t, tgt, logs, 0)
	t.Logf("idle: %s", idle)

	rows := []memoryRow{idle}
	done := 0
	var cold pass
	for _, cp := range checkpoints {
		p := run(t, tgt, batches(refs[done:cp]), 1)
		cold.images += p.images
		cold.verified += p.verified
		cold.failed += p.failed
		cold.elapsed += p.elapsed
		if p.verified != p.images {
			// On a loaded machine some verifications outlast the
			// deadline; finished late, they are still cached, which the
			// warm pass checks.
			t.Logf("images %d to %d: %d of %d verified inside the deadline; last error: %s", done, cp, p.verified, p.images, p.lastErr)
		}
		// Top up: what a loaded machine left uncached (a verification
		// past its own time limit, or refused while 256 ran) is verified
		// again, so that the checkpoint holds cp verdicts.
		for round := 1; round <= 3; round++ {
			before := cacheLookups(t, tgt)
			run(t, tgt, batches(refs[done:cp]), 1)
			missed := cacheLookups(t, tgt)[1] - before[1]
			t.Logf("checkpoint %d, top-up %d: %d images were not cached", cp, round, missed)
			if missed == 0 {
				break
			}
		}
		done = cp
		row := measureMemory(t, tgt, logs, cp)
		t.Logf("%s (cold pass: %s)", row, p)
		rows = append(rows, row)
	}
	hits0 := cacheLookups(t, tgt)
	warm := run(t, tgt, batches(refs), 1)
	hits := cacheLookups(t, tgt)
	final := measureMemory(t, tgt, logs, n)
	final.label = "after the warm pass"
	rows = append(rows, final)
	t.Logf("warm pass: %s; cache hits %d, misses %d", warm, hits[0]-hits0[0], hits[1]-hits0[1])
	if missed := hits[1] - hits0[1]; missed != 0 || warm.verified != warm.images {
		t.Errorf("warm pass: %d cache misses, %d of %d verified: the cache did not keep every verdict", missed, warm.verified, warm.images)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n%d distinct images (pushed and signed in %v), `verification.cache.maxEntries: %d`, batches of %d keys, %d concurrent clients\n",
		n, pushTime.Round(time.Second), n, batchSize, clients)
	fmt.Fprintf(&b, "cold: %d of %d verified in %v (%.0f images/s); warm: %d cache hits, %d misses\n\n",
		cold.verified, cold.images, cold.elapsed.Round(time.Second), cold.rate(), hits[0]-hits0[0], hits[1]-hits0[1])
	b.WriteString("| cached verdicts | VmRSS | VmHWM | live heap after last GC | heap in use | Go runtime total (sys) |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		label := strconv.Itoa(r.images)
		if r.label != "" {
			label += " (" + r.label + ")"
		}
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB | %d MiB | %.1f MiB | %.1f MiB |\n",
			label, kib(r.rss), kib(r.hwm), r.liveMiB, mib(r.heapInuse), mib(r.sys))
	}
	if len(rows) > 2 {
		first, last := rows[1], rows[len(rows)-2]
		if d := last.images - first.images; d > 0 {
			fmt.Fprintf(&b, "\nslope from %d to %d verdicts: RSS %.0f B, live heap %.0f B, heap in use %.0f B per verdict\n",
				first.images, last.images,
				float64(last.rss-first.rss)*1024/float64(d),
				float64(last.liveMiB-first.liveMiB)*(1<<20)/float64(d),
				float64(last.heapInuse-first.heapInuse)/float64(d))
		}
	}
	fmt.Print(b.String())
	fmt.Printf("\nload average (1, 5, 15 min) at the start: %s; at the end: %s\n", loadStart, loadAverage())
}

// memoryRow is what one checkpoint measured.
type memoryRow struct {
	images   int
	label    string
	rss, hwm int // KiB, from /proc/PID/status
	// liveMiB is the heap marked live by the last collection, from the
	// runtime's gctrace line ("A->B->C MB": C).
	liveMiB int
	// heapInuse and sys are go_memstats_heap_inuse_bytes and
	// go_memstats_sys_bytes.
	heapInuse, sys float64
}

func (r memoryRow) String() string {
	return fmt.Sprintf("%d cached: VmRSS %.1f MiB, VmHWM %.1f MiB, live heap %d MiB, heap in use %.1f MiB, sys %.1f MiB",
		r.images, kib(r.rss), kib(r.hwm), r.liveMiB, mib(r.heapInuse), mib(r.sys))
}

func kib(v int) float64     { return float64(v) / 1024 }
func mib(v float64) float64 { return v / (1 << 20) }

// gcLive matches the heap sizes of a gctrace line: at the start of the
// collection, at its end, and marked live.
var gcLive = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB`)

func measureMemory(t *testing.T, tgt target, logs *syncBuffer, images int) memoryRow {
	t.Helper()
	r := memoryRow{images: images}
	r.rss, r.hwm = memory(t, tgt.pid)
	if m := gcLive.FindAllStringSubmatch(logs.String(), -1); len(m) > 0 {
		r.liveMiB, _ = strconv.Atoi(m[len(m)-1][3])
	}
	metrics := scrape(t, tgt)
	r.heapInuse, r.sys = metrics["go_memstats_heap_inuse_bytes"], metrics["go_memstats_sys_bytes"]
	return r
}

// scrape reads the unlabelled samples of the server's /metrics.
func scrape(t *testing.T, tgt target) map[string]float64 {
	t.Helper()
	resp, err := tgt.client.Get(tgt.metrics)
	if err != nil {
		t.Fatalf("reading %s: %v", tgt.metrics, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// cacheLookups returns hallmark's cache hits and misses so far.
func cacheLookups(t *testing.T, tgt target) [2]int {
	t.Helper()
	m := scrape(t, tgt)
	return [2]int{
		int(m[`hallmark_verification_cache_lookups_total{result="hit"}`]),
		int(m[`hallmark_verification_cache_lookups_total{result="miss"}`]),
	}
}

// pushSignedShared pushes n distinct images to host and signs each once
// with one RSA-2048 key (COSE), in process, pushers at a time. The images
// differ only in an annotation of their manifest and share one config and
// one layer, so pushing one costs one manifest upload before its
// signature. It returns the images' digest references and the PEM of the
// key's root certificate.
func pushSignedShared(t *testing.T, ctx context.Context, host string, n int, dir string) ([]string, []byte) {
	t.Helper()
	key, rootPEM := benchKey(t, ctx, dir)
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := remote.NewRepository(host + "/bench")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: pushers}}
	base, err := devregistry.PushSampleImageTo(ctx, repo, "", "shared")
	if err != nil {
		t.Fatal(err)
	}
	data, err := content.FetchAll(ctx, repo, base)
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}

	refs := make([]string, n)
	var next, pushed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, pushers)
	start := time.Now()
	for range pushers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				m := manifest
				m.Annotations = map[string]string{"dev.hallmark.bench.image": strconv.Itoa(i)}
				body, err := json.Marshal(m)
				if err != nil {
					errs <- err
					return
				}
				desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, body)
				if err := repo.Push(ctx, desc, bytes.NewReader(body)); err != nil {
					errs <- fmt.Errorf("pushing image %d: %w", i, err)
					return
				}
				ref := fmt.Sprintf("%s/bench@%s", host, desc.Digest)
				if err := signImage(ctx, client, key, ref); err != nil {
					errs <- err
					return
				}
				refs[i] = ref
				if p := pushed.Add(1); p%10000 == 0 {
					t.Logf("pushed and signed %d images in %v", p, time.Since(start).Round(time.Second))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return refs, rootPEM
}
