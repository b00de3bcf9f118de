package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// The load shape of Ratify's published numbers: Gatekeeper sends the images
// of one admission request as one ProviderRequest, and several admission
// requests are in flight at once.
const (
	batchSize = 10
	clients   = 8
)

// gatekeeperTimeout is Gatekeeper's default external-data provider timeout:
// an answer later than this is a timeout at admission, whatever it says.
const gatekeeperTimeout = 3 * time.Second

// requestTimeout bounds every request the harness sends, so a server that
// never answers cannot hang the run.
const requestTimeout = 30 * time.Second

// TestRatifyComparison runs `hallmark serve` and Ratify v1.4.6, one after the
// other, against the same distribution registry process holding the same
// signed images, under the same load, and prints a side-by-side table. It
// takes minutes, so it runs only with HALLMARK_BENCH_RATIFY=1; bench/ratify.sh
// runs it. HALLMARK_BENCH_IMAGES sets the number of distinct images (default
// 1000), HALLMARK_BENCH_WARM_ROUNDS how often the warm pass repeats them
// (default 20), HALLMARK_BENCH_SERVERS which servers run (default
// "hallmark,ratify"), HALLMARK_BENCH_CACHE_ENTRIES hallmark's
// verification.cache.maxEntries (default: its own default).
func TestRatifyComparison(t *testing.T) {
	if os.Getenv("HALLMARK_BENCH_RATIFY") != "1" {
		t.Skip("set HALLMARK_BENCH_RATIFY=1 to compare hallmark with Ratify (takes minutes)")
	}
	n := envInt(t, "HALLMARK_BENCH_IMAGES", 1000)
	rounds := envInt(t, "HALLMARK_BENCH_WARM_ROUNDS", 20)
	servers := strings.Split(envString("HALLMARK_BENCH_SERVERS", "hallmark,ratify"), ",")
	ctx := context.Background()
	dir := t.TempDir()
	loadStart := loadAverage()

	host := testpeers.StartDistribution(t)
	registry := childPID(t, "registry")
	start := time.Now()
	refs, rootPEM := pushSigned(t, ctx, host, n, dir)
	t.Logf("pushed and signed %d images in %v", n, time.Since(start).Round(time.Millisecond))

	policy := []byte(`{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`)
	hang := testpeers.HangingRegistry(t)
	// Distinct repositories, so no server can answer one from another's
	// cached failure.
	var hangKeys []string
	for i := range 2 * clients * batchSize {
		hangKeys = append(hangKeys, fmt.Sprintf("%s/hang-%d:v1", hang, i))
	}

	// The registry-bound ceiling, measured before and after the servers so
	// that a change in the machine's load during the run shows.
	ceiling := newCeilingClient(host)
	measureCeiling := func() pass {
		reg0, self0 := cpuTime(t, registry), cpuTime(t, os.Getpid())
		p := runCeiling(t, ceiling, refs)
		p.registryCPU, p.clientCPU = cpuTime(t, registry)-reg0, cpuTime(t, os.Getpid())-self0
		if p.verified != p.images {
			t.Fatalf("ceiling client: %d of %d images fetched; last error: %s", p.verified, p.images, p.lastErr)
		}
		t.Logf("ceiling client: %s, own CPU %v", p, p.clientCPU)
		return p
	}
	ceilings := []pass{measureCeiling()}

	var results []result
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			var tgt target
			switch name {
			case "hallmark":
				tgt = startHallmark(t, dir, policy, rootPEM)
			case "ratify":
				r := testpeers.RunRatify(t, testpeers.RatifyOptions{
					Registry: host, CertificatePEM: rootPEM, TrustPolicyJSON: policy,
					Cache: true,
					// Long enough that no entry expires between the cold and
					// the warm pass; Ratify's default of 10 s would expire
					// them while its cold pass still runs.
					CacheTTL: time.Hour,
					// Ratify's own default for Gatekeeper's 3 s timeout.
					VerifyTimeout: 2900 * time.Millisecond,
					LogLevel:      "warn",
				})
				tgt = target{name: "Ratify v1.4.6", url: r.URL + testpeers.RatifyVerifyPath, pid: r.PID, client: newClient(nil)}
			default:
				t.Fatalf("HALLMARK_BENCH_SERVERS: unknown server %q", name)
			}
			res := result{name: tgt.name, images: n}
			self := os.Getpid()
			cpu0, reg0, self0 := cpuTime(t, tgt.pid), cpuTime(t, registry), cpuTime(t, self)
			res.cold = run(t, tgt, batches(refs), 1)
			cpu1, reg1, self1 := cpuTime(t, tgt.pid), cpuTime(t, registry), cpuTime(t, self)
			if tgt.metrics != "" {
				t.Logf("%s after the cold pass: %s", tgt.name, registryRequests(t, tgt))
			}
			res.warm = run(t, tgt, batches(refs), rounds)
			res.cold.cpu, res.warm.cpu = cpu1-cpu0, cpuTime(t, tgt.pid)-cpu1
			res.cold.registryCPU, res.warm.registryCPU = reg1-reg0, cpuTime(t, registry)-reg1
			res.cold.clientCPU, res.warm.clientCPU = self1-self0, cpuTime(t, self)-self1
			if tgt.metrics != "" {
				t.Logf("%s after the warm pass: %s", tgt.name, registryRequests(t, tgt))
			}
			res.rss, res.hwm = memory(t, tgt.pid)
			res.hang = run(t, tgt, batches(hangKeys), 1)
			t.Logf("%s: cold %s; warm %s; RSS %d KiB (peak %d KiB); hanging registry %s", tgt.name, res.cold, res.warm, res.rss, res.hwm, res.hang)
			results = append(results, res)
		})
	}
	ceilings = append(ceilings, measureCeiling())
	printTable(n, rounds, results, ceilings)
	fmt.Printf("\nload average (1, 5, 15 min) at the start: %s; at the end: %s\n", loadStart, loadAverage())
}

// loadAverage reads /proc/loadavg: other work on the machine moves every
// rate this harness measures, so the report says how busy it was.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// pushSigned pushes n distinct images to host and signs each once with one
// RSA-2048 key (COSE, hallmark's default), in process. It returns the
// images' digest references and the PEM of the key's root certificate.
func pushSigned(t testing.TB, ctx context.Context, host string, n int, dir string) ([]string, []byte) {
	t.Helper()
	key, rootPEM := benchKey(t, ctx, dir)
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				desc, err := devregistry.PushSampleImage(ctx, host, "bench", "", fmt.Sprintf("bench-%d", i))
				if err != nil {
					errs <- err
					return
				}
				ref := fmt.Sprintf("%s/bench@%s", host, desc.Digest)
				if err := signImage(ctx, client, key, ref); err != nil {
					errs <- err
					return
				}
				refs[i] = ref
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

// benchKey creates the benchmark's RSA-2048 signing key in a local key
// store under dir and returns it with the PEM of its root certificate.
func benchKey(t testing.TB, ctx context.Context, dir string) (*keys.Key, []byte) {
	t.Helper()
	store, err := local.Open(filepath.Join(dir, "store"), local.Options{Passphrase: []byte("bench")})
	if err != nil {
		t.Fatal(err)
	}
	p := certpolicy.Default()
	p.X509.Subject = "CN=bench,O=Hallmark,ST=WA,C=US"
	p.ApplyDefaults()
	if _, err := store.Create(ctx, "bench", p); err != nil {
		t.Fatal(err)
	}
	key, err := store.Signer(ctx, keys.Ref{Name: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	root := key.Chain[len(key.Chain)-1]
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
}

// signImage signs the digest reference ref once (COSE) and pushes the
// signature.
func signImage(ctx context.Context, client *oci.Client, key *keys.Key, ref string) error {
	repo, err := client.NotationRepository(ctx, ref)
	if err == nil {
		_, err = signing.Sign(ctx, key.Signer, key.Chain, repo, ref, signing.Options{})
	}
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	return nil
}

// target is a running server under test.
type target struct {
	name string
	url  string // the verify endpoint
	// metrics is the Prometheus endpoint, if the server has one.
	metrics string
	pid     int
	client  *http.Client
}

// startHallmark builds hallmark and runs `hallmark serve` over HTTPS with a
// generated serving certificate, the same trust policy and root, plain HTTP
// to the registry and log level warn.
func startHallmark(t *testing.T, dir string, policy, rootPEM []byte) target {
	t.Helper()
	cacheYAML := ""
	if entries := os.Getenv("HALLMARK_BENCH_CACHE_ENTRIES"); entries != "" {
		// The default of 10,000 entries is split into shards that a pass
		// over 10,000 distinct images overflows; this measures a cache
		// that holds them all.
		cacheYAML = "{maxEntries: " + entries + "}"
	}
	if cacheYAML != "" {
		cacheYAML = "verification:\n  cache: " + cacheYAML + "\n"
	}
	tgt, _ := startHallmarkWith(t, dir, policy, rootPEM, cacheYAML, nil)
	return tgt
}

// startHallmarkWith is startHallmark with extraYAML added to its
// configuration file (top-level YAML; "" leaves the defaults and runs the
// server with flags only) and env added to the server's environment. It
// also returns the server's output.
func startHallmarkWith(t *testing.T, dir string, policy, rootPEM []byte, extraYAML string, env []string) (target, *syncBuffer) {
	t.Helper()
	bin := filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hallmark-dev/hallmark/cmd/hallmark").CombinedOutput(); err != nil {
		t.Fatalf("building hallmark: %v\n%s", err, out)
	}
	ts := filepath.Join(dir, "ts", "x509", "ca", "bench")
	if err := os.MkdirAll(ts, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ts, "root.pem"), rootPEM)
	policyFile := filepath.Join(dir, "trustpolicy.json")
	write(t, policyFile, policy)
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, dir)
	port := testpeers.FreePort(t)
	// warn, as Ratify runs; LOG_LEVEL=info measures hallmark's default,
	// whose records of fresh verdicts and requests the server writes (to a
	// file here, not a terminal).
	args := []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", envString("HALLMARK_BENCH_LOG_LEVEL", "warn")}
	if extraYAML != "" {
		// The cache and cosign have no flags, so the whole setup goes in
		// a config file: the same as the flags below.
		configFile := filepath.Join(dir, "config.yaml")
		write(t, configFile, []byte(fmt.Sprintf(`tls: {certFile: %q, keyFile: %q}
registries:
  - hosts: ["127.0.0.1:*"]
    plainHTTP: true
trustStores:
  - {name: bench, type: ca, certificates: [{file: %q}]}
trustPolicy: {file: %q}
%s`, certFile, keyFile, filepath.Join(ts, "root.pem"), policyFile, extraYAML)))
		args = append(args, "--config", configFile)
	} else {
		args = append(args, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--trust-policy", policyFile, "--trust-store", filepath.Join(dir, "ts"), "--plain-http")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "HALLMARK_HOME="+filepath.Join(dir, "serve-home")), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	client := newClient(pool)
	for i := 0; ; i++ {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 200 {
			t.Fatalf("hallmark serve never became ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return target{name: "hallmark", url: base + testpeers.RatifyVerifyPath, metrics: base + "/metrics", pid: cmd.Process.Pid, client: client}, logs
}

// syncBuffer is a bytes.Buffer that a running process may write while the
// harness reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newClient keeps one connection per concurrent client alive, as Gatekeeper
// does with its provider.
func newClient(pool *x509.CertPool) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	if pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Timeout: requestTimeout, Transport: tr}
}

// batches splits keys into ProviderRequest bodies of batchSize keys each.
func batches(keys []string) [][]byte {
	var out [][]byte
	for chunk := range slices.Chunk(keys, batchSize) {
		body, _ := json.Marshal(map[string]any{
			"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
			"request": map[string]any{"keys": chunk},
		})
		out = append(out, body)
	}
	return out
}

// pass is what one load pass measured.
type pass struct {
	images    int           // keys sent
	verified  int           // items with isSuccess true
	failed    int           // requests with no ProviderResponse (transport error, non-200)
	elapsed   time.Duration // wall time of the pass
	latencies []time.Duration
	cpu       time.Duration // the server's CPU time (user+system) during the pass
	// registryCPU is the distribution registry's CPU time during the pass.
	registryCPU time.Duration
	// clientCPU is this process's CPU time during the pass: the load
	// generator, which shares the machine with the servers.
	clientCPU time.Duration
	lastErr   string
}

func (p pass) rate() float64 { return float64(p.images) / p.elapsed.Seconds() }

func (p pass) quantile(q float64) time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	s := slices.Clone(p.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (p pass) String() string {
	s := fmt.Sprintf("%d images (%d isSuccess, %d requests failed) in %v: %.0f images/s, p50 %v, p99 %v, max %v, server CPU %v, registry CPU %v",
		p.images, p.verified, p.failed, p.elapsed.Round(time.Millisecond), p.rate(),
		p.quantile(0.50).Round(time.Microsecond), p.quantile(0.99).Round(time.Microsecond), p.quantile(1).Round(time.Microsecond), p.cpu, p.registryCPU)
	if p.lastErr != "" {
		s += "; last error: " + p.lastErr
	}
	return s
}

// run sends bodies, rounds times over, from clients concurrent workers, each
// with one request in flight, and times every request.
func run(t *testing.T, tgt target, bodies [][]byte, rounds int) pass {
	t.Helper()
	var (
		mu   sync.Mutex
		p    pass
		next atomic.Int64
		wg   sync.WaitGroup
	)
	total := len(bodies) * rounds
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < total; i = int(next.Add(1)) - 1 {
				body := bodies[i%len(bodies)]
				t0 := time.Now()
				verified, keys, err := post(tgt, body)
				d := time.Since(t0)
				mu.Lock()
				p.latencies = append(p.latencies, d)
				p.images += keys
				p.verified += verified
				if err != nil {
					p.failed++
					p.lastErr = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}

// post sends one ProviderRequest and counts the keys it asked about and the
// items that came back isSuccess.
func post(tgt target, body []byte) (verified, keys int, err error) {
	var req struct {
		Request struct {
			Keys []string `json:"keys"`
		} `json:"request"`
	}
	json.Unmarshal(body, &req)
	keys = len(req.Request.Keys)
	resp, err := tgt.client.Post(tgt.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, keys, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, keys, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, keys, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, data)
	}
	var pr struct {
		Response struct {
			SystemError string `json:"systemError"`
			Items       []struct {
				Value struct {
					IsSuccess bool `json:"isSuccess"`
				} `json:"value"`
			} `json:"items"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &pr); err != nil {
		return 0, keys, fmt.Errorf("not a ProviderResponse: %v: %.200s", err, data)
	}
	for _, it := range pr.Response.Items {
		if it.Value.IsSuccess {
			verified++
		}
	}
	return verified, keys, nil
}

// memory reads the resident set size and its peak, in KiB, from
// /proc/PID/status.
func memory(t *testing.T, pid int) (rss, hwm int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm
}

// registryRequests sums hallmark's registry request counters by status code.
func registryRequests(t *testing.T, tgt target) string {
	t.Helper()
	resp, err := tgt.client.Get(tgt.metrics)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "hallmark_registry_requests_total") || strings.HasPrefix(line, "hallmark_verification_cache_lookups_total") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}

// childPID finds the child process of this test named comm: the registry
// that testpeers.StartDistribution started, which does not report its PID.
func childPID(t *testing.T, comm string) int {
	t.Helper()
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(data[close+1:]))
		if string(data[open+1:close]) == comm && len(f) > 1 && f[1] == strconv.Itoa(self) {
			pid, _ := strconv.Atoi(strings.Fields(string(data))[0])
			return pid
		}
	}
	t.Fatalf("no child process named %q", comm)
	return 0
}

// cpuTime reads the user and system CPU time pid has used from
// /proc/PID/stat. Clock ticks are taken as 100 Hz, the value of USER_HZ on
// every Linux architecture Go supports.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces; count fields after it.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// result is one server's row of the table.
type result struct {
	name       string
	images     int
	cold, warm pass
	rss, hwm   int // KiB
	hang       pass
}

// printTable writes the comparison as a Markdown table to standard output,
// where bench/ratify.sh picks it up.
func printTable(n, rounds int, results []result, ceilings []pass) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d distinct images, batches of %d keys, %d concurrent clients, warm pass %d× over the same images\n\n", n, batchSize, clients, rounds)
	// The ceiling is the mean of the runs before and after the servers.
	var ceiling float64
	for _, c := range ceilings {
		ceiling += c.rate() / float64(len(ceilings))
		fmt.Fprintf(&b, "ceiling client (4 registry requests per image, nothing verified): %.0f images/s, registry CPU per image %.2f ms, own CPU per image %.2f ms\n",
			c.rate(), float64(c.registryCPU)/float64(c.images)/float64(time.Millisecond), float64(c.clientCPU)/float64(c.images)/float64(time.Millisecond))
	}
	fmt.Fprintf(&b, "ceiling (mean): %.0f images/s\n\n", ceiling)
	b.WriteString("| measure |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", r.name)
	}
	b.WriteString("\n|---|")
	for range results {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(label string, f func(r result) string) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, r := range results {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		b.WriteString("\n")
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	row("cold: images/s", func(r result) string { return fmt.Sprintf("%.0f", r.cold.rate()) })
	row("cold: % of the ceiling", func(r result) string { return fmt.Sprintf("%.0f %%", 100*r.cold.rate()/ceiling) })
	row("cold: p50 / p99 per request", func(r result) string { return ms(r.cold.quantile(.5)) + " / " + ms(r.cold.quantile(.99)) })
	row("cold: isSuccess / images (failed requests)", func(r result) string {
		return fmt.Sprintf("%d / %d (%d)", r.cold.verified, r.cold.images, r.cold.failed)
	})
	row("cold: server CPU per image", func(r result) string { return ms(r.cold.cpu / time.Duration(r.cold.images)) })
	row("cold: registry CPU per image", func(r result) string { return ms(r.cold.registryCPU / time.Duration(r.cold.images)) })
	row("cold: load generator CPU per image", func(r result) string { return ms(r.cold.clientCPU / time.Duration(r.cold.images)) })
	row("warm: images/s", func(r result) string { return fmt.Sprintf("%.0f", r.warm.rate()) })
	row("warm: p50 / p99 per request", func(r result) string { return ms(r.warm.quantile(.5)) + " / " + ms(r.warm.quantile(.99)) })
	row("warm: isSuccess / images (failed requests)", func(r result) string {
		return fmt.Sprintf("%d / %d (%d)", r.warm.verified, r.warm.images, r.warm.failed)
	})
	row("warm: server CPU per image", func(r result) string {
		return fmt.Sprintf("%.1f µs", float64(r.warm.cpu)/float64(r.warm.images)/float64(time.Microsecond))
	})
	row("warm: load generator CPU per image", func(r result) string {
		return fmt.Sprintf("%.1f µs", float64(r.warm.clientCPU)/float64(r.warm.images)/float64(time.Microsecond))
	})
	row("RSS after the runs (peak)", func(r result) string {
		return fmt.Sprintf("%.1f MiB (%.1f MiB)", float64(r.rss)/1024, float64(r.hwm)/1024)
	})
	row("hanging registry: slowest answer", func(r result) string { return ms(r.hang.quantile(1)) })
	row(fmt.Sprintf("hanging registry: answers inside %v / requests", gatekeeperTimeout), func(r result) string {
		in := 0
		for _, d := range r.hang.latencies {
			if d <= gatekeeperTimeout {
				in++
			}
		}
		return fmt.Sprintf("%d / %d (%d HTTP errors, %d isSuccess)", in, len(r.hang.latencies), r.hang.failed, r.hang.verified)
	})
	fmt.Print(b.String())
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
