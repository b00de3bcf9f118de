package testpeers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// Ratify v1.4.6 is the Gatekeeper external-data provider hallmark replaces.
// It lives in its own module, tools/ratify, so that its large dependency graph
// (Kubernetes, controller-runtime, cloud SDKs) cannot move the versions the
// other tools build with; and it is built only when a test asks for it,
// because that build takes minutes.
const ratifyPackage = "github.com/ratify-project/ratify/cmd/ratify"

// Paths of Ratify v1's Gatekeeper external-data endpoints, below the URL that
// StartRatify returns.
const (
	RatifyVerifyPath = "/ratify/gatekeeper/v1/verify"
	RatifyMutatePath = "/ratify/gatekeeper/v1/mutate"
)

// ratifyBuildEnv is what building Ratify needs: the checksum database does
// not know the pseudo-version of open-policy-agent/frameworks that Ratify
// v1.4.6 requires, so that module is checked against tools/ratify/go.sum only.
var ratifyBuildEnv = []string{"GONOSUMDB=github.com/open-policy-agent/frameworks"}

var ratify = &tool{name: "ratify", module: "ratify", pkg: ratifyPackage, env: ratifyBuildEnv}

// BuildRatify builds Ratify if the cache lacks it and returns the path of the
// binary. A ratify binary in HALLMARK_TOOLS_BIN is used as it is; otherwise
// it is built under the user cache folder, keyed by tools/ratify/go.mod and
// go.sum.
func BuildRatify() (string, error) { return ratify.build() }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// RatifyPath returns the path of the Ratify binary, building it if needed.
func RatifyPath(t testing.TB) string {
	t.Helper()
	return ratify.path(t)
}

// RatifyOptions configures a standalone Ratify started by StartRatify.
//
// Ratify v1 in standalone mode has no named trust stores: every certificate
// found in TrustStoreDir, CertificateFiles and CertificatePEM is trusted under
// every trust store the trust policy names ("ca:anything",
// "signingAuthority:anything" alike), and self-signed leaf certificates count
// as roots.
type RatifyOptions struct {
	// Registry is the host:port of the registry the images are in. It must be
	// a loopback address: Ratify's ORAS store has a single useHttp switch for
	// all registries, and it is set, so Ratify talks plain HTTP.
	Registry string

	// TrustStoreDir is a folder searched recursively for PEM certificates,
	// such as a notation truststore/x509 folder. Empty: none.
	TrustStoreDir string
	// CertificateFiles are PEM certificate files to trust. Nil: none.
	CertificateFiles []string
	// CertificatePEM holds PEM certificates to trust; StartRatify writes them
	// to a file in a temporary folder. Nil: none.
	CertificatePEM []byte

	// TrustPolicy is the notation trust policy document, any Go value that
	// marshals to it (a trustpolicy.Document, a map). TrustPolicyJSON is the
	// same as JSON; set at most one. Both nil: one strict policy for every
	// registry ("*"), trust store "ca:certs", any identity ("*").
	TrustPolicy     any
	TrustPolicyJSON []byte

	// Cache turns on Ratify's in-memory caches as its Helm chart does: the
	// verify-result cache (ristretto, --cache-enabled) and the ORAS store's
	// referrers and subject-descriptor cache, both with CacheTTL. Off, every
	// request goes to the registry, except for signature manifests and blobs:
	// Ratify v1.4.6 always keeps those in an on-disk OCI layout, here a fresh
	// temporary folder per process.
	Cache bool
	// CacheTTL is the lifetime of cache entries. Zero: 10 s, Ratify's
	// default and its chart's.
	CacheTTL time.Duration

	// VerifyTimeout and MutateTimeout bound one request to each endpoint;
	// past them Ratify answers 500 with a systemError. Zero: 4.9 s and
	// 1.95 s, what Ratify's chart sets for Gatekeeper timeouts of 5 s and 2 s
	// (Ratify's own defaults, for Gatekeeper's 3 s and 1 s, are 2.9 s and
	// 0.95 s).
	VerifyTimeout, MutateTimeout time.Duration

	// VerifierName names the notation verifier; it is the verifierName of
	// every report. Empty: "verifier-notation", the name of the Verifier
	// resource Ratify's Helm chart installs, so reports look as they do
	// behind Gatekeeper.
	VerifierName string

	// ArtifactVerificationPolicies is the config policy's
	// artifactVerificationPolicies: artifact type (or "default") to "any" or
	// "all". Nil: {"application/vnd.cncf.notary.signature": "any"}, any
	// notation signature that verifies passes an image.
	ArtifactVerificationPolicies map[string]string

	// CosignEnabled makes the ORAS store list cosign signatures (the
	// sha256-DIGEST.sig tag) as artifacts of type
	// application/vnd.dev.cosign.artifact.sig.v1+json.
	CosignEnabled bool
	// Verifiers are more verifier plugins, beside the notation one, as
	// Ratify's config.json writes them (for a cosign verifier: name, type
	// "cosign", artifactTypes, trustPolicies). Nil: none.
	Verifiers []map[string]any

	// LogLevel is Ratify's log level (RATIFY_LOG_LEVEL: debug, info, warn,
	// error). Empty: info, Ratify's default, which logs every verification
	// result as indented JSON.
	LogLevel string
}

// Ratify is a running standalone Ratify process.
type Ratify struct {
	// URL is the server's base URL, http://127.0.0.1:PORT; the endpoints are
	// URL+RatifyVerifyPath and URL+RatifyMutatePath.
	URL string
	// PID is the process id, for reading its memory use from /proc.
	PID int
	// ConfigPath is the config.json Ratify was started with.
	ConfigPath string

	logPath string
}

// Logs returns what Ratify has logged so far.
func (r *Ratify) Logs() string {
	b, _ := os.ReadFile(r.logPath)
	return string(b)
}

// StartRatify runs Ratify standalone (`ratify serve --http 127.0.0.1:PORT -c
// config.json`) with a config.json made from opts and returns its base URL
// once it answers a ProviderRequest. The process stops with the test.
func StartRatify(t testing.TB, opts RatifyOptions) (url string) {
	t.Helper()
	return RunRatify(t, opts).URL
}

// RunRatify is StartRatify, returning the process for tests that also need
// its PID or logs.
func RunRatify(t testing.TB, opts RatifyOptions) *Ratify {
	t.Helper()
	bin := RatifyPath(t)
	dir := t.TempDir()
	cfg, err := ratifyConfig(opts, dir)
	if err != nil {
		t.Fatalf("ratify config: %v", err)
	}
	r := &Ratify{
		ConfigPath: filepath.Join(dir, "config.json"),
		logPath:    filepath.Join(dir, "ratify.log"),
	}
	if err := os.WriteFile(r.ConfigPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	args := []string{"serve", "--http", addr, "-c", r.ConfigPath}
	if opts.Cache {
		ttl := opts.CacheTTL
		if ttl == 0 {
			ttl = 10 * time.Second
		}
		args = append(args, "--cache-enabled", "--cache-ttl", ttl.String())
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = ratifyEnv(dir, opts.LogLevel)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ratify: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// SIGKILL: on SIGTERM Ratify waits up to 6 s for connections and then
	// sleeps 5 s more, which tests need not pay for.
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	r.PID = cmd.Process.Pid
	r.URL = "http://" + addr

	// Ratify standalone has no health endpoint; an empty ProviderRequest
	// answered with 200 shows that the config loaded and the handlers run.
	probe := []byte(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[]}}`)
	client := &http.Client{Timeout: time.Second}
	if !proctest.Eventually(60*time.Second, 50*time.Millisecond, func() bool {
		select {
		case <-exited:
			t.Fatalf("ratify exited before answering (%v); config:\n%s\nlogs:\n%s", cmd.ProcessState, cfg, r.Logs())
		default:
		}
		var resp *http.Response
		if resp, err = client.Post(r.URL+RatifyVerifyPath, "application/json", bytes.NewReader(probe)); err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
			return false
		}
		return true
	}) {
		t.Fatalf("ratify did not answer on %s: %v\nlogs:\n%s", addr, err, r.Logs())
	}
	return r
}

// ratifyEnv isolates Ratify from the user's files: its home (where it
// always adds ~/.ratify/ratify-certs/notation/truststore to the trusted
// certificates), its config folder, the docker credentials it reads, and
// any RATIFY_* settings of the environment.
func ratifyEnv(dir, logLevel string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", name == "DOCKER_CONFIG", strings.HasPrefix(name, "XDG_"), strings.HasPrefix(name, "RATIFY_"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+filepath.Join(dir, "home"),
		"RATIFY_CONFIG="+filepath.Join(dir, "home", ".ratify"),
		"DOCKER_CONFIG="+filepath.Join(dir, "docker"),
	)
	if logLevel != "" {
		env = append(env, "RATIFY_LOG_LEVEL="+logLevel)
	}
	return env
}

// ratifyConfig returns Ratify v1's config.json for opts, writing any
// certificates it needs into dir.
func ratifyConfig(opts RatifyOptions, dir string) ([]byte, error) {
	host, _, err := net.SplitHostPort(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %v", opts.Registry, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("registry %q is not on loopback; Ratify would reach every registry over plain HTTP", opts.Registry)
	}

	var policy json.RawMessage
	switch {
	case opts.TrustPolicy != nil && opts.TrustPolicyJSON != nil:
		return nil, fmt.Errorf("set TrustPolicy or TrustPolicyJSON, not both")
	case opts.TrustPolicy != nil:
		if policy, err = json.Marshal(opts.TrustPolicy); err != nil {
			return nil, fmt.Errorf("trust policy: %v", err)
		}
	case opts.TrustPolicyJSON != nil:
		if !json.Valid(opts.TrustPolicyJSON) {
			return nil, fmt.Errorf("TrustPolicyJSON is not JSON")
		}
		policy = opts.TrustPolicyJSON
	default:
		policy = json.RawMessage(`{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],` +
			`"signatureVerification":{"level":"strict"},"trustStores":["ca:certs"],"trustedIdentities":["*"]}]}`)
	}

	// verificationCerts takes folders and files alike. The other way to give
	// the notation verifier certificates, verificationCertStores, names
	// KeyManagementProvider resources, which exist only in Kubernetes mode.
	certs := []string{}
	if opts.TrustStoreDir != "" {
		certs = append(certs, opts.TrustStoreDir)
	}
	certs = append(certs, opts.CertificateFiles...)
	if len(opts.CertificatePEM) > 0 {
		p := filepath.Join(dir, "certs", "trusted.pem")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, opts.CertificatePEM, 0o600); err != nil {
			return nil, err
		}
		certs = append(certs, p)
	}

	verify, mutate := opts.VerifyTimeout, opts.MutateTimeout
	if verify == 0 {
		verify = 4900 * time.Millisecond
	}
	if mutate == 0 {
		mutate = 1950 * time.Millisecond
	}
	ttl := opts.CacheTTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}

	avp := opts.ArtifactVerificationPolicies
	if avp == nil {
		avp = map[string]string{"application/vnd.cncf.notary.signature": "any"}
	}

	verifierName := opts.VerifierName
	if verifierName == "" {
		verifierName = "verifier-notation"
	}
	store := map[string]any{
		"name":           "oras",
		"useHttp":        true,
		"localCachePath": filepath.Join(dir, "oras-cache"),
	}
	if opts.CosignEnabled {
		store["cosignEnabled"] = true
	}
	if opts.Cache {
		// Read only when the global cache is on (--cache-enabled); the TTL
		// is whole seconds.
		store["cacheEnabled"] = true
		store["ttl"] = max(1, int(ttl/time.Second))
	}
	verifiers := []any{map[string]any{
		"name":              verifierName,
		"type":              "notation",
		"artifactTypes":     "application/vnd.cncf.notary.signature",
		"verificationCerts": certs,
		"trustPolicyDoc":    policy,
	}}
	for _, v := range opts.Verifiers {
		verifiers = append(verifiers, v)
	}
	cfg := map[string]any{
		"executor": map[string]any{
			"verificationRequestTimeout": verify.Milliseconds(),
			"mutationRequestTimeout":     mutate.Milliseconds(),
		},
		"store": map[string]any{
			"version": "1.0.0",
			"plugins": []any{store},
		},
		// configPolicy gives the 0.2.0 result format, the chart's default
		// (policy.useRego: false).
		"policy": map[string]any{
			"version": "1.0.0",
			"plugin": map[string]any{
				"name":                         "configPolicy",
				"artifactVerificationPolicies": avp,
			},
		},
		"verifier": map[string]any{
			"version": "1.0.0",
			"plugins": verifiers,
		},
	}
	return json.MarshalIndent(cfg, "", "  ")
}
