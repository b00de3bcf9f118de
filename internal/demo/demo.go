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
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/signing"
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
	src      *source
	rt       *serve.Runtime
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
	unsigned, err := devregistry.PushSampleImage(ctx, host, repository, unsignedTag, "hallmark demo: unsigned")
	if err != nil {
		return fmt.Errorf("pushing the sample image: %w", err)
	}
	// By digest, as a cluster runs it after mutation: deny mode refuses a
	// tag without its digest even once --keep's user has signed it.
	d.report.UnsignedImage = host + "/" + repository + "@" + unsigned.Digest.String()
	s.add("image     %s/%s:%s = %s (to sign)", host, repository, signedTag, shortRef(d.report.SignedImage))
	s.add("image     %s/%s:%s = %s (left unsigned)", host, repository, unsignedTag, shortRef(d.report.UnsignedImage))
	return nil
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
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/review-%s.json\" %s%s\n\n", failPod, d.url, serve.ValidatePath)
	fmt.Fprintf(&b, "# Sign it with the demo's key; verify it as notation would:\n")
	fmt.Fprintf(&b, "hallmark sign %s --key %s --plain-http --store \"$D/keys\" --passphrase-file \"$D/passphrase\"\n", d.report.UnsignedImage, keyName)
	fmt.Fprintf(&b, "hallmark verify %s --plain-http --trust-policy \"$D/trustpolicy.json\" --trust-store \"$D/truststore\"\n\n", d.report.UnsignedImage)
	fmt.Fprintf(&b, "# Now the Gatekeeper provider and the webhook accept it:\n")
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/provider-request-%s.json\" %s%s\n", unsignedTag, d.url, serve.GatekeeperVerifyPath)
	fmt.Fprintf(&b, "curl -sS --cacert \"$D/ca.pem\" -H 'Content-Type: application/json' --data-binary @\"$D/review-%s.json\" %s%s\n\n", failPod, d.url, serve.ValidatePath)
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
