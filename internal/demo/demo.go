// Package demo runs hallmark end to end on one machine, with no cluster, no
// cloud and no network: the reference "AKS Image Integrity" walkthrough
// (certificate from a Key Vault certificate policy, notation sign, Ratify and
// a Kubernetes admission check) replayed with hallmark's own parts. It backs
// `hallmark demo`, the README's first command, and CI runs it to prove that
// the whole path works from a clean clone.
//
// Start sets everything up: the embedded registry (referrers API on,
// loopback only), a key store in a temporary folder with a certificate made
// from the walkthrough's certificate policy, a signed and an unsigned sample
// image, and the admission server over TLS with a trust policy that trusts
// that certificate. Check then sends what the API server would send for
// `kubectl run demo-pass` (the signed image, by digest) and `kubectl run
// demo-fail` (the unsigned one), first in audit mode and then in deny mode,
// and one Gatekeeper external data request, and compares every verdict with
// the expected one.
package demo

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper"
	"github.com/hallmark-dev/hallmark/internal/admission/webhook"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/server"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/verify"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// certPolicyJSON is the certificate policy of the reference walkthrough, as
// given to `az keyvault certificate create -p @policy.json`.
//
//go:embed certpolicy.json
var certPolicyJSON []byte

// trustPolicyJSON is the strict trust policy that trusts the walkthrough's
// certificate, as the walkthrough writes it for notation and Ratify.
//
//go:embed trustpolicy.json
var trustPolicyJSON []byte

// StepCount is how many steps Start and Check report together.
const StepCount = 8

// Names used throughout, as in the reference walkthrough.
const (
	keyName        = "brooklyn"
	trustStoreName = "brooklyn"
	repository     = "net-monitor"
	signedTag      = "v1"
	unsignedTag    = "v2"
	passPod        = "demo-pass"
	failPod        = "demo-fail"
)

// Verdicts an AdmissionReview answer or a provider item can have.
const (
	Allowed            = "allowed"
	AllowedWithWarning = "allowed with warning"
	Denied             = "denied"
	IsSuccessTrue      = "isSuccess true"
	IsSuccessFalse     = "isSuccess false"
)

// Options configure a demo. The zero value runs it in os.TempDir() without
// logs or progress callbacks.
type Options struct {
	// TempDir is where the demo's own folder is made. Empty means
	// os.TempDir().
	TempDir string

	// Logger receives the admission server's records (one per image
	// verdict, one per decision) and the registry's. Nil discards them.
	Logger *slog.Logger

	// OnStep, if set, is called on the caller's goroutine as each step
	// ends, in order.
	OnStep func(Step)

	// OnServerImage, if set, is called with each image verdict the server
	// reaches outside Check: while `hallmark demo --keep` lets it run, so a
	// person trying the printed commands sees what the server decided. It
	// runs on the server's goroutines.
	OnServerImage func(ImageVerdict)

	// SkipSigning leaves the image that should be signed unsigned, so the
	// demo's own expectations fail. Tests use it to prove that a wrong
	// verdict fails the demo; nobody else should.
	SkipSigning bool
}

// Report is what the demo did and whether every verdict was the expected
// one; `hallmark demo -o json` prints it.
type Report struct {
	// OK is true when every step worked and every verdict was expected.
	OK bool `json:"ok"`
	// Dir is the demo's temporary folder (key store, trust policy, trust
	// store, CA certificate); it is removed by Close.
	Dir string `json:"dir"`
	// Registry is the embedded registry's host:port.
	Registry string `json:"registry"`
	// Server is the admission server's base URL.
	Server string `json:"server"`
	// SignedImage is the signed image by digest; UnsignedImage the unsigned
	// one by tag.
	SignedImage   string `json:"signedImage"`
	UnsignedImage string `json:"unsignedImage"`
	// Signer is the signing certificate's subject.
	Signer   string    `json:"signer"`
	Steps    []Step    `json:"steps"`
	Verdicts []Verdict `json:"verdicts"`
}

// Step is one step of the demo.
type Step struct {
	// Name is a stable identifier: registry, key, images, sign, server,
	// audit, deny, gatekeeper.
	Name string `json:"name"`
	// Title says what the step does, for people.
	Title string `json:"title"`
	// Lines are what a person watching would see: addresses, digests,
	// one line per image verdict and one per admission verdict.
	Lines []string `json:"lines"`
	// OK is false when the step failed or a verdict in it was not the
	// expected one.
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"durationNs"`
}

// Verdict is the answer to one admission request (or one image of the
// Gatekeeper request), with the expected answer.
type Verdict struct {
	// Mode is audit or deny for the webhook, gatekeeper for the provider.
	Mode string `json:"mode"`
	// Name is the pod's name (demo-pass, demo-fail) or, for the provider,
	// the image's role (signed, unsigned).
	Name  string `json:"name"`
	Image string `json:"image"`
	// Got and Expected are one of the verdict constants (Allowed, Denied,
	// IsSuccessTrue, ...).
	Got      string `json:"got"`
	Expected string `json:"expected"`
	// Message is the denial message, the warning, or the provider's
	// report message.
	Message string `json:"message,omitempty"`
	// Images are the server's verdicts on the images of the request.
	Images []ImageVerdict `json:"images"`
	OK     bool           `json:"ok"`
}

// ImageVerdict is the server's verdict on one image, as its log records it.
type ImageVerdict struct {
	Image    string      `json:"image"`
	Verified bool        `json:"verified"`
	Code     verify.Code `json:"code"`
	Reason   string      `json:"reason"`
	Signer   string      `json:"signer,omitempty"`
	Cached   bool        `json:"cached"`
}

// Demo is a running demo: registry, key store and admission server. Close
// it to stop them and remove its folder.
type Demo struct {
	opts     Options
	log      *slog.Logger
	dir      string
	reg      *devregistry.Registry
	oci      *oci.Client
	http     *http.Client
	url      string
	stop     context.CancelFunc
	served   chan error
	live     liveAdmitter
	audit    *admission.Admitter
	deny     *admission.Admitter
	images   imageRecorder
	report   Report
	close    sync.Once
	closeErr error
}

// Start sets the demo up: registry, key and certificate, images, signature,
// trust material and admission server (in audit mode). On error it undoes
// what it did.
func Start(ctx context.Context, opts Options) (_ *Demo, err error) {
	d := &Demo{opts: opts, log: opts.Logger}
	d.images.outside = opts.OnServerImage
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.dir, err = os.MkdirTemp(opts.TempDir, "hallmark-demo-")
	if err != nil {
		return nil, err
	}
	d.report.Dir = d.dir
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	if err := d.step("registry", "Start the embedded OCI registry", func(s *Step) error {
		reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true, Logger: d.log})
		if err != nil {
			return fmt.Errorf("starting the embedded registry: %w", err)
		}
		d.reg, d.report.Registry = reg, reg.Host()
		s.add("registry  %s (in memory, loopback only, OCI referrers API on)", reg.Host())
		d.oci, err = oci.New(oci.Options{PlainHTTP: true, UserAgent: "hallmark-demo"})
		return err
	}); err != nil {
		return nil, err
	}

	var key *keys.Key
	if err := d.step("key", "Create the signing key and certificate from the walkthrough's certificate policy", func(s *Step) error {
		k, err := d.createKey(ctx, s)
		key = k
		return err
	}); err != nil {
		return nil, err
	}

	if err := d.step("images", "Build and push two sample images", func(s *Step) error {
		return d.pushImages(ctx, s)
	}); err != nil {
		return nil, err
	}

	if err := d.step("sign", "Sign "+repository+":"+signedTag+" (COSE)", func(s *Step) error {
		if opts.SkipSigning {
			s.add("sign      skipped: %s is left unsigned (test seam), so the demo must fail", d.report.SignedImage)
			return nil
		}
		repo, err := d.oci.NotationRepository(ctx, d.report.SignedImage)
		if err != nil {
			return err
		}
		sig, err := signing.Sign(ctx, key.Signer, key.Chain, repo, d.report.SignedImage, signing.Options{Format: signing.FormatCOSE})
		if err != nil {
			return fmt.Errorf("signing %s: %w", d.report.SignedImage, err)
		}
		s.add("sign      %s signed by %s", shortRef(d.report.SignedImage), d.report.Signer)
		s.add("          signature %s (COSE envelope) pushed as its referrer", shortDigest(sig.Digest.String()))
		return nil
	}); err != nil {
		return nil, err
	}

	if err := d.step("server", "Start the admission server (webhook and Gatekeeper provider) over TLS", func(s *Step) error {
		return d.startServer(ctx, s, key)
	}); err != nil {
		return nil, err
	}
	return d, nil
}

// createKey makes the key store and the walkthrough's certificate.
func (d *Demo) createKey(ctx context.Context, s *Step) (*keys.Key, error) {
	policy, err := certpolicy.Parse(certPolicyJSON)
	if err != nil {
		return nil, err
	}
	// A random passphrase in a file lets the copy-paste commands of --keep
	// open the store with --passphrase-file, whatever $HALLMARK_PASSPHRASE
	// the user's shell holds.
	var pass [24]byte
	_, _ = rand.Read(pass[:])
	passphrase := hex.EncodeToString(pass[:])
	if err := os.WriteFile(filepath.Join(d.dir, "passphrase"), []byte(passphrase+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.dir, "certpolicy.json"), certPolicyJSON, 0o600); err != nil {
		return nil, err
	}
	store, err := local.Open(filepath.Join(d.dir, "keys"), local.Options{Passphrase: []byte(passphrase)})
	if err != nil {
		return nil, err
	}
	if _, err := store.Create(ctx, keyName, policy); err != nil {
		return nil, fmt.Errorf("creating key %s: %w", keyName, err)
	}
	key, err := store.Signer(ctx, keys.Ref{Name: keyName})
	if err != nil {
		return nil, err
	}
	leaf := key.Chain[0]
	d.report.Signer = leaf.Subject.String()
	s.add("key       %s: %s, not exportable, encrypted in %s", keyName, key.KeyType, store.Dir())
	s.add("cert      %s, self-signed, code signing, valid until %s", d.report.Signer, leaf.NotAfter.UTC().Format(time.DateOnly))
	return key, nil
}

// pushImages pushes the image to sign and the one left unsigned.
func (d *Demo) pushImages(ctx context.Context, s *Step) error {
	host := d.reg.Host()
	desc, err := devregistry.PushSampleImage(ctx, host, repository, signedTag, "hallmark demo: signed")
	if err != nil {
		return fmt.Errorf("pushing the sample image: %w", err)
	}
	d.report.SignedImage = host + "/" + repository + "@" + desc.Digest.String()
	if _, err := devregistry.PushSampleImage(ctx, host, repository, unsignedTag, "hallmark demo: unsigned"); err != nil {
		return fmt.Errorf("pushing the sample image: %w", err)
	}
	d.report.UnsignedImage = host + "/" + repository + ":" + unsignedTag
	s.add("image     %s/%s:%s = %s (to sign)", host, repository, signedTag, shortRef(d.report.SignedImage))
	s.add("image     %s (left unsigned)", d.report.UnsignedImage)
	return nil
}

// startServer writes the trust material, builds the admitters and starts
// the HTTPS server on a loopback port.
func (d *Demo) startServer(ctx context.Context, s *Step, key *keys.Key) error {
	policy, err := tpolicy.Parse(trustPolicyJSON)
	if err != nil {
		return err
	}
	root := key.Chain[len(key.Chain)-1]
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, trustStoreName, root); err != nil {
		return err
	}
	pki, err := newServingPKI(time.Now())
	if err != nil {
		return err
	}
	// The same trust material on disk, for the commands `--keep` prints.
	files := map[string][]byte{
		"trustpolicy.json": trustPolicyJSON,
		filepath.Join("truststore", "x509", "ca", trustStoreName, "root.pem"): pemCert(root.Raw),
		"ca.pem":                                    pki.caPEM,
		"review-" + passPod + ".json":               podReview(passPod, d.report.SignedImage),
		"review-" + failPod + ".json":               podReview(failPod, d.report.UnsignedImage),
		"provider-request.json":                     providerRequest(d.report.SignedImage, d.report.UnsignedImage),
		"provider-request-" + unsignedTag + ".json": providerRequest(d.report.UnsignedImage),
	}
	for name, data := range files {
		p := filepath.Join(d.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}

	engine, err := verify.NewEngine(policy, store, oci.Repositories{Client: d.oci}, verify.EngineOptions{})
	if err != nil {
		return err
	}
	// Failures are not kept, so that an image signed while --keep runs
	// passes at the next request instead of after the negative TTL.
	verifier := cache.New(engine, cache.Options{NegativeTTL: -1, Resolver: d.oci})
	aopts := admission.Options{Logger: d.log, OnImage: d.images.add}
	d.audit = admission.New(verifier, d.oci, admission.Policy{Mode: admission.ModeAudit}, aopts)
	d.deny = admission.New(verifier, d.oci, admission.Policy{Mode: admission.ModeDeny}, aopts)
	d.live.p.Store(d.audit)

	mux := http.NewServeMux()
	wopts := webhook.Options{Logger: d.log}
	mux.Handle(validatePath, webhook.NewValidateHandler(&d.live, wopts))
	mux.Handle("/mutate", webhook.NewMutateHandler(&d.live, wopts))
	gopts := gatekeeper.Options{Logger: d.log}
	mux.Handle(gatekeeper.VerifyPath, gatekeeper.NewVerifyHandler(&d.live, gopts))
	mux.Handle(gatekeeper.MutatePath, gatekeeper.NewMutateHandler(&d.live, gopts))

	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", Certificate: &pki.cert, Handler: mux, Logger: d.log})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	if err := srv.Listen(sctx); err != nil {
		stop()
		return err
	}
	d.stop, d.served = stop, make(chan error, 1)
	go func() { d.served <- srv.Serve(sctx) }()
	d.url = "https://" + srv.Addr()
	d.report.Server = d.url
	d.http = &http.Client{
		Transport: &http.Transport{TLSClientConfig: pki.tlsClientConfig()},
		Timeout:   30 * time.Second,
	}
	s.add("server    %s (serving certificate for 127.0.0.1 from a CA made just now)", d.url)
	s.add("policy    strict; trust store ca:%s; trusted identity %s", trustStoreName, d.report.Signer)
	return nil
}

// Check sends the admission requests and compares each verdict with the
// expected one. It returns the whole report; Report.OK says whether every
// step and verdict was as expected. It leaves the server in deny mode.
func (d *Demo) Check(ctx context.Context) Report {
	d.images.record(true)
	defer d.images.record(false)
	run := func(mode admission.Mode, a *admission.Admitter, title string) {
		d.live.p.Store(a)
		_ = d.step(string(mode), title, func(s *Step) error {
			failWant := AllowedWithWarning
			if mode == admission.ModeDeny {
				failWant = Denied
			}
			if err := d.kubectlRun(ctx, s, mode, passPod, d.report.SignedImage, Allowed); err != nil {
				return err
			}
			return d.kubectlRun(ctx, s, mode, failPod, d.report.UnsignedImage, failWant)
		})
	}
	run(admission.ModeAudit, d.audit, "kubectl run, admission in audit mode")
	run(admission.ModeDeny, d.deny, "kubectl run, admission in deny mode")
	_ = d.step("gatekeeper", "Gatekeeper external data request (Ratify's provider API)", func(s *Step) error {
		return d.providerCheck(ctx, s)
	})
	d.report.OK = true
	for _, s := range d.report.Steps {
		d.report.OK = d.report.OK && s.OK
	}
	return d.Report()
}

// kubectlRun sends the AdmissionReview of `kubectl run NAME --image=IMAGE`.
func (d *Demo) kubectlRun(ctx context.Context, s *Step, mode admission.Mode, name, image, want string) error {
	var rr reviewResponse
	if err := post(ctx, d.http, d.url+validatePath+"?timeout=10s", podReview(name, image), &rr); err != nil {
		s.OK = false
		return err
	}
	r := rr.Response
	v := Verdict{Mode: string(mode), Name: name, Image: image, Expected: want}
	switch {
	case !r.Allowed:
		v.Got = Denied
		if r.Status != nil {
			v.Message = r.Status.Message
		}
	case len(r.Warnings) > 0:
		v.Got = AllowedWithWarning
		v.Message = strings.Join(r.Warnings, "; ")
	default:
		v.Got = Allowed
	}
	v.Images = d.images.take([]string{image})
	d.addVerdict(s, v)
	return nil
}

// providerCheck sends one ProviderRequest naming both images.
func (d *Demo) providerCheck(ctx context.Context, s *Step) error {
	images := []string{d.report.SignedImage, d.report.UnsignedImage}
	var pr providerResponse
	if err := post(ctx, d.http, d.url+verifyPath, providerRequest(images...), &pr); err != nil {
		s.OK = false
		return err
	}
	if pr.Response.SystemError != "" {
		s.OK = false
		return fmt.Errorf("provider system error: %s", pr.Response.SystemError)
	}
	results := d.images.take(images)
	roles := []string{"signed", "unsigned"}
	wants := []string{IsSuccessTrue, IsSuccessFalse}
	for i, image := range images {
		v := Verdict{Mode: "gatekeeper", Name: roles[i], Image: image, Expected: wants[i], Got: "no answer"}
		for _, it := range pr.Response.Items {
			if it.Key != image {
				continue
			}
			v.Got = IsSuccessFalse
			if it.Value.IsSuccess {
				v.Got = IsSuccessTrue
			}
			switch {
			case it.Error != "":
				v.Message = it.Error
			case len(it.Value.VerifierReports) > 0:
				v.Message = it.Value.VerifierReports[0].Message
			}
		}
		for _, r := range results {
			if r.Image == image {
				v.Images = append(v.Images, r)
			}
		}
		d.addVerdict(s, v)
	}
	return nil
}

// addVerdict records v, with the lines a person would watch: the server's
// verdict on each image, then the admission verdict.
func (d *Demo) addVerdict(s *Step, v Verdict) {
	v.OK = v.Got == v.Expected
	tag := fmt.Sprintf("%-10s %-9s", v.Mode, v.Name)
	for _, img := range v.Images {
		s.add("%s  %s", tag, img)
	}
	line := tag + "  " + v.Got
	if !v.OK {
		line += " <-- WRONG, expected " + v.Expected
		s.OK = false
	}
	// A denial lists one failing image per line; keep them under the tag.
	msg := strings.Split(v.Message, "\n")
	if msg[0] != "" {
		line += ": " + msg[0]
	}
	s.add("%s", line)
	for _, m := range msg[1:] {
		s.add("%s  %s", strings.Repeat(" ", len(tag)), m)
	}
	d.report.Verdicts = append(d.report.Verdicts, v)
}

// Report returns what the demo did so far.
func (d *Demo) Report() Report {
	r := d.report
	r.Steps = append([]Step(nil), r.Steps...)
	r.Verdicts = append([]Verdict(nil), r.Verdicts...)
	return r
}

// Commands returns shell commands to try against the running demo (see
// `hallmark demo --keep`), one per line, with comments.
func (d *Demo) Commands() string {
	dir := d.dir
	q := shellQuote
	var b strings.Builder
	fmt.Fprintf(&b, "# Without hallmark installed, from the clone: alias hallmark='go run ./cmd/hallmark'\n")
	fmt.Fprintf(&b, "D=%s\n\n", q(dir))
	fmt.Fprintf(&b, "# The webhook denies the unsigned image (deny mode is in force):\n")
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/review-%s.json\" %s%s\n\n", failPod, d.url, validatePath)
	fmt.Fprintf(&b, "# Sign it with the demo's key; verify it as notation would:\n")
	fmt.Fprintf(&b, "hallmark sign %s --key %s --plain-http --store \"$D/keys\" --passphrase-file \"$D/passphrase\"\n", d.report.UnsignedImage, keyName)
	fmt.Fprintf(&b, "hallmark verify %s --plain-http --trust-policy \"$D/trustpolicy.json\" --trust-store \"$D/truststore\"\n\n", d.report.UnsignedImage)
	fmt.Fprintf(&b, "# Now the Gatekeeper provider and the webhook accept it:\n")
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/provider-request-%s.json\" %s%s\n", unsignedTag, d.url, verifyPath)
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/review-%s.json\" %s%s\n\n", failPod, d.url, validatePath)
	fmt.Fprintf(&b, "# The signatures, as notation ls and notation inspect show them:\n")
	fmt.Fprintf(&b, "hallmark ls %s --plain-http\n", d.report.SignedImage)
	fmt.Fprintf(&b, "hallmark inspect %s --plain-http\n", d.report.SignedImage)
	return b.String()
}

// Close stops the server and the registry and removes the demo's folder.
// It is safe to call more than once.
func (d *Demo) Close() error {
	d.close.Do(func() {
		var errs []error
		if d.http != nil {
			d.http.CloseIdleConnections()
		}
		if d.stop != nil {
			d.stop()
			if err := <-d.served; err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		}
		if d.reg != nil {
			errs = append(errs, d.reg.Close())
		}
		errs = append(errs, os.RemoveAll(d.dir))
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// step runs fn as the named step, times it, records it and reports it.
func (d *Demo) step(name, title string, fn func(*Step) error) error {
	s := &Step{Name: name, Title: title, OK: true}
	start := time.Now()
	err := fn(s)
	s.Duration = time.Since(start)
	if err != nil {
		s.OK = false
		s.add("error: %v", err)
	}
	d.report.Steps = append(d.report.Steps, *s)
	if d.opts.OnStep != nil {
		d.opts.OnStep(*s)
	}
	return err
}

func (s *Step) add(format string, args ...any) {
	s.Lines = append(s.Lines, fmt.Sprintf(format, args...))
}

// liveAdmitter serves the webhook and provider handlers from the admitter
// in force, so the demo can switch from audit to deny mode as an operator
// would after watching the warnings.
type liveAdmitter struct {
	p atomic.Pointer[admission.Admitter]
}

func (l *liveAdmitter) Decide(ctx context.Context, req admission.Request) admission.Decision {
	return l.p.Load().Decide(ctx, req)
}

func (l *liveAdmitter) Mutate(ctx context.Context, req admission.Request) admission.Mutation {
	return l.p.Load().Mutate(ctx, req)
}

func (l *liveAdmitter) VerifyImages(ctx context.Context, images []admission.NamespacedImage) []admission.ImageVerdict {
	return l.p.Load().VerifyImages(ctx, images)
}

func (l *liveAdmitter) PinImages(ctx context.Context, images []admission.NamespacedImage) []admission.Pin {
	return l.p.Load().PinImages(ctx, images)
}

// imageRecorder collects the server's image verdicts (admission's OnImage
// hook) while Check runs, so each can be shown next to the request that
// caused it; at other times it hands them to outside, if set.
type imageRecorder struct {
	outside func(ImageVerdict)

	mu        sync.Mutex
	recording bool
	results   []verify.Result
}

func (r *imageRecorder) record(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording, r.results = on, nil
}

func (r *imageRecorder) add(res verify.Result, _ admission.Mode) {
	r.mu.Lock()
	if r.recording {
		r.results = append(r.results, res)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	if r.outside != nil {
		r.outside(imageVerdict(res))
	}
}

// take returns the verdicts recorded since the last call, in the order of
// images (verifications of one request run concurrently).
func (r *imageRecorder) take(images []string) []ImageVerdict {
	r.mu.Lock()
	results := r.results
	r.results = nil
	r.mu.Unlock()
	var out []ImageVerdict
	for _, img := range images {
		for _, res := range results {
			if res.Reference == img {
				out = append(out, imageVerdict(res))
			}
		}
	}
	return out
}

func imageVerdict(res verify.Result) ImageVerdict {
	v := ImageVerdict{Image: res.Reference, Verified: res.Verified, Code: res.Code, Reason: res.Reason, Cached: res.Cached}
	for _, sig := range res.Signatures {
		if sig.Verified {
			v.Signer = sig.SignerSubject
		}
	}
	return v
}

// String is the line a person watching the server reads.
func (v ImageVerdict) String() string {
	what := v.Reason
	if v.Verified {
		what = "signature verification success, signed by " + v.Signer
	}
	if v.Cached {
		what += " (cached)"
	}
	return "image " + shortRef(v.Image) + ": " + what
}
