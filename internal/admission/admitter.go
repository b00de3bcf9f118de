package admission

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Verifier verifies one image. *verify.Engine satisfies it, and so does the
// result cache in front of it. Verify must never return a Verified result
// for an error.
type Verifier interface {
	Verify(ctx context.Context, ref string) verify.Result
}

// lookuper is a Verifier that can also answer from memory, at once, for
// some references; the result cache is one. verifyImages answers those
// images without a goroutine each and sends only the rest to Verify.
type lookuper interface {
	// Lookup returns what Verify would return for ref without verifying,
	// or ok false.
	Lookup(ref string) (r verify.Result, ok bool)
}

// Resolver resolves an image reference to the descriptor of its manifest.
// *oci.Client satisfies it.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error)
}

// Options are the optional parts of an Admitter. The zero value is ready to
// use.
type Options struct {
	// Logger receives one record per image verdict and one per decision.
	// Nil means no logging.
	Logger *slog.Logger
	// OnImage, if set, is called once per image that was verified
	// (successfully or not) with the mode of its namespace; exempt images
	// and skipped namespaces do not call it. It lets the server count
	// verdicts without this package knowing about metrics. It must be safe
	// for concurrent use and return quickly.
	OnImage func(res verify.Result, mode Mode)
	// OnDecision, if set, is called once per Decide with the object's kind,
	// the mode and whether the object is allowed. Mutate does not call it:
	// a mutation pins, it does not decide, and counting it would count
	// every object twice.
	OnDecision func(kind string, mode Mode, allowed bool)
}

// Admitter applies one Policy with one Verifier and Resolver. It is safe
// for concurrent use. Build a new Admitter when the policy changes.
type Admitter struct {
	verifier   Verifier
	resolver   Resolver
	policy     Policy
	log        *slog.Logger
	onImage    func(verify.Result, Mode)
	onDecision func(string, Mode, bool)
}

// New returns an Admitter for the policy p with its defaults applied (see
// Policy.WithDefaults). Validate p first: New does not refuse an invalid
// policy, it fails closed on it. r may be nil if Mutate and PinImages are
// never called.
func New(v Verifier, r Resolver, p Policy, opts Options) *Admitter {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Admitter{
		verifier:   v,
		resolver:   r,
		policy:     p.WithDefaults(),
		log:        log,
		onImage:    opts.OnImage,
		onDecision: opts.OnDecision,
	}
}

// Policy returns the policy in force, with defaults applied.
func (a *Admitter) Policy() Policy {
	return a.policy
}

// Request is an object to admit.
type Request struct {
	// UID identifies the admission request, for logs.
	UID string
	// Namespace and Name identify the object; Name may be empty (an object
	// created with generateName).
	Namespace string
	Name      string
	// Group ("" for the core group) and Kind say what the object is, e.g.
	// "apps" and "Deployment".
	Group string
	Kind  string
	// Object is the object as JSON.
	Object []byte
	// DryRun is logged; a dry run is decided like any other request.
	DryRun bool
}

// ImageVerdict is the outcome for one image.
type ImageVerdict struct {
	// Image is the reference as written in the object or request.
	Image string
	// Namespace is the namespace the image was checked for.
	Namespace string
	// Paths are the JSON pointers of the fields that hold Image; empty for
	// images that did not come from an object.
	Paths []string
	// Skipped says why the image was allowed without verification: it
	// matches an exemption pattern, or its namespace is excluded. Empty when
	// it was verified.
	Skipped string
	// Result is the verification result; zero when Skipped is set.
	Result verify.Result
}

// Allowed reports whether the image may run: it was skipped by the policy,
// or positively verified.
func (v ImageVerdict) Allowed() bool {
	return v.Skipped != "" || v.Result.Verified
}

// Reason says why the image is allowed or not: why the policy skipped it,
// or the verification reason in full, which may name the trust policy's
// trust stores and trusted identities (for administrators: logs, hallmark
// audit). A failure always has a reason, even when the Verifier gave none.
func (v ImageVerdict) Reason() string {
	if v.Skipped != "" {
		return v.Skipped
	}
	return reasonOf(v.Result)
}

// PublicReason is Reason as it may be shown to anyone, such as the author
// of a refused workload: which check failed and what to do, without the
// trust policy's contents (see verify.Result.PublicReason).
func (v ImageVerdict) PublicReason() string {
	if v.Skipped != "" {
		return v.Skipped
	}
	return publicReasonOf(v.Result)
}

// Decision is the verdict on one Request.
type Decision struct {
	// Allowed says whether the object may be admitted.
	Allowed bool
	// Mode is the mode that applied.
	Mode Mode
	// StatusCode is 0 when allowed, http.StatusForbidden (403) when images
	// are not verified in deny mode, and http.StatusBadRequest (400) when
	// the object cannot be read in deny mode.
	StatusCode int
	// Message says why the request is denied, listing every failing image
	// with its reason, or why it was allowed without verification (an
	// excluded namespace). It is safe to show to anyone.
	Message string
	// Warnings are for the person who made the request: every unverified
	// image in audit mode, and warnings of verified images.
	Warnings []string
	// AuditAnnotations record each unverified image, in both modes, under
	// keys valid for the API server's audit annotations ("unverified-image-0",
	// ...; the API server prefixes them with the webhook name).
	AuditAnnotations map[string]string
	// Images holds the verdict on each distinct image, in document order.
	Images []ImageVerdict
}

// Decide verifies the images of req.Object and decides whether it may be
// admitted. Objects in excluded namespaces are allowed without being read.
// The images are verified concurrently under Policy.Deadline (or ctx's
// deadline, if sooner); an image not verified in time is a failure, as is
// any result that is not Verified, and a panic in the Verifier. Deny mode
// allows the object only if every image is verified or exempt and, unless
// Policy.AllowUnpinnedTags, every verified image names its digest (see
// CodeNotPinned); audit mode
// always allows it, with a warning and an audit annotation per failure.
// An object that cannot be read (unsupported kind, malformed) is denied
// with StatusCode 400 in deny mode and allowed with a warning in audit mode.
func (a *Admitter) Decide(ctx context.Context, req Request) Decision {
	start := time.Now()
	log := a.requestLogger(req)
	mode := a.policy.ModeFor(req.Namespace)
	d := a.decide(ctx, log, req, mode)
	log.LogAttrs(ctx, slog.LevelInfo, "admission decision",
		slog.String("mode", string(d.Mode)),
		slog.Bool("allowed", d.Allowed),
		slog.Int("images", len(d.Images)),
		slog.Int("unverified", countFailed(d.Images)),
		slog.String("message", d.Message),
		slog.Duration("duration", time.Since(start)),
	)
	if a.onDecision != nil {
		a.onDecision(req.Kind, d.Mode, d.Allowed)
	}
	return d
}

func (a *Admitter) decide(ctx context.Context, log *slog.Logger, req Request, mode Mode) Decision {
	d := Decision{Mode: mode}
	if why := a.policy.skipNamespace(req.Namespace); why != "" {
		d.Allowed = true
		d.Message = why
		return d
	}
	images, err := Images(req.Group, req.Kind, req.Object)
	if err != nil {
		return unreadable(d, describe(req), err)
	}
	refs := make([]NamespacedImage, len(images))
	for i, img := range images {
		refs[i] = NamespacedImage{Namespace: req.Namespace, Image: img.Ref}
	}
	d.Images = a.verifyImages(ctx, log, refs)
	for i := range d.Images {
		d.Images[i].Paths = images[i].Paths
	}

	var failed []ImageVerdict
	for _, v := range d.Images {
		if !v.Allowed() {
			failed = append(failed, v)
			continue
		}
		for _, w := range v.Result.PublicWarnings() {
			d.Warnings = append(d.Warnings, warning("image %s: %s", v.Image, w))
		}
	}
	if len(failed) > 0 {
		d.AuditAnnotations = make(map[string]string, len(failed))
		for i, v := range failed {
			d.AuditAnnotations[AuditAnnotationKey(i)] = v.Image + ": " + publicReasonOf(v.Result)
		}
	}
	switch {
	case len(failed) == 0:
		d.Allowed = true
	case mode == ModeAudit:
		d.Allowed = true
		for _, v := range failed {
			d.Warnings = append(d.Warnings, warning("image %s is not verified (allowed in audit mode): %s", v.Image, publicReasonOf(v.Result)))
		}
	default:
		d.StatusCode = http.StatusForbidden
		d.Message = denial(describe(req), failed, len(d.Images))
	}
	return d
}

// unreadable decides on an object whose images cannot be found.
func unreadable(d Decision, what string, err error) Decision {
	msg := fmt.Sprintf("cannot read the images of %s: %v", what, err)
	if d.Mode == ModeAudit {
		d.Allowed = true
		d.Warnings = []string{warning("%s (allowed unverified in audit mode)", msg)}
		return d
	}
	d.StatusCode = http.StatusBadRequest
	d.Message = msg
	return d
}

// warning formats a warning for the API client. The API server drops a
// warning that holds control characters (it travels in an HTTP header), and
// an image string in an object not yet validated may hold anything; so they
// become spaces.
func warning(format string, args ...any) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, fmt.Sprintf(format, args...))
}

// AuditAnnotationKey is the audit annotation key for the i-th unverified
// image of a request. The API server prefixes keys with the webhook's name
// and a '/', and requires the result to be a qualified name: so the key
// itself has no '/', at most 63 characters, and starts and ends with an
// alphanumeric character.
func AuditAnnotationKey(i int) string {
	return "unverified-image-" + strconv.Itoa(i)
}

// NamespacedImage is an image to check in the context of a namespace, whose
// exclusions and mode apply. Namespace may be empty (cluster scope).
type NamespacedImage struct {
	Namespace string
	Image     string
}

// VerifyImages checks a list of images as Decide does the images of
// an object: an image in an excluded namespace or matching an exemption is
// skipped, every other distinct image is verified once, concurrently, under
// Policy.Deadline (or ctx's deadline, if sooner). The verdicts are in the
// order of images. It serves Gatekeeper's external data, where the
// constraint, not hallmark, decides what a failure means.
func (a *Admitter) VerifyImages(ctx context.Context, images []NamespacedImage) []ImageVerdict {
	return a.verifyImages(ctx, a.log, images)
}

func (a *Admitter) verifyImages(ctx context.Context, log *slog.Logger, images []NamespacedImage) []ImageVerdict {
	ctx, cancel, start, budget := a.withBudget(ctx)
	defer cancel()

	verdicts := make([]ImageVerdict, len(images))
	var todo []string        // distinct images to verify
	var todoMode []Mode      // the mode of the first namespace that named each
	seen := map[string]int{} // image -> index in todo
	for i, img := range images {
		verdicts[i] = ImageVerdict{Image: img.Image, Namespace: img.Namespace}
		if why := a.policy.skip(img.Namespace, img.Image); why != "" {
			verdicts[i].Skipped = why
			continue
		}
		if _, ok := seen[img.Image]; !ok {
			seen[img.Image] = len(todo)
			todo = append(todo, img.Image)
			todoMode = append(todoMode, a.policy.ModeFor(img.Namespace))
		}
	}

	// Answers kept in memory first; the others (misses) run concurrently.
	results := make([]verify.Result, len(todo))
	done := make([]bool, len(todo))
	misses := make([]int, 0, len(todo))
	lk, _ := a.verifier.(lookuper)
	for i, ref := range todo {
		if lk != nil {
			if r, ok := lk.Lookup(ref); ok {
				results[i], done[i] = r, true
				continue
			}
		}
		misses = append(misses, i)
	}
	missed, missDone := runAll(ctx, len(misses),
		func(ctx context.Context, j int) verify.Result {
			return a.verifier.Verify(ctx, todo[misses[j]])
		},
		func(j int, p any) verify.Result {
			ref := todo[misses[j]]
			log.LogAttrs(ctx, slog.LevelError, "verifier panicked",
				slog.String("image", ref),
				slog.Any("panic", p),
				slog.String("stack", string(debug.Stack())))
			return verify.Result{
				Reference:   ref,
				Code:        verify.CodeError,
				Reason:      fmt.Sprintf("image %s could not be verified because of an internal error in hallmark", ref),
				Remediation: "retry; if it persists, report the error logged by hallmark",
				Transient:   true,
			}
		})
	for j, i := range misses {
		results[i], done[i] = missed[j], missDone[j]
	}
	for i, ref := range todo {
		// The Verifier reports the deadline as CodeTimeout; give it the same
		// reason as an image runAll stopped waiting for, whichever noticed
		// first.
		if !done[i] || (!results[i].Verified && results[i].Code == verify.CodeTimeout) {
			late := notInTime(ref, budget, time.Since(start))
			if done[i] {
				// The verifier's result, reworded: what it knows (the
				// digest, the cause for the log) stays.
				r := results[i]
				r.Reference, r.Reason, r.Remediation, r.Transient, r.Warnings = late.Reference, late.Reason, late.Remediation, true, nil
				late = r
			}
			results[i] = late
		}
	}

	for i := range verdicts {
		if verdicts[i].Skipped != "" {
			logVerdict(ctx, log, verdicts[i])
			continue
		}
		verdicts[i].Result = a.requirePin(verdicts[i].Image, images[i].Namespace, results[seen[verdicts[i].Image]])
	}
	// Log and count each distinct image once, however many keys named it.
	for i, ref := range todo {
		logVerdict(ctx, log, ImageVerdict{Image: ref, Result: results[i]})
		if a.onImage != nil {
			a.onImage(results[i], todoMode[i])
		}
	}
	return verdicts
}

// CodeNotPinned is the code of an image refused in deny mode because it
// names a tag without a digest (see Policy.AllowUnpinnedTags), although the
// tag verified when hallmark looked.
const CodeNotPinned verify.Code = "notPinned"

// requirePin turns the verified result of an image named by a tag alone
// into a failure in deny mode, unless the policy allows unpinned tags. A
// tag is looked up again by the kubelet, later and perhaps elsewhere, so
// what hallmark verified is not what would run; only the digest, which
// mutation writes into the object, ties the two together. A failed result
// is kept as it is: its reason says more than "not pinned".
func (a *Admitter) requirePin(image, ns string, r verify.Result) verify.Result {
	// A verified image parsed as a reference, and in a valid reference '@'
	// only introduces the digest: no second parse on the warm path.
	if !r.Verified || a.policy.AllowUnpinnedTags || a.policy.ModeFor(ns) != ModeDeny || strings.IndexByte(image, '@') >= 0 {
		return r
	}
	return verify.Result{
		Reference: r.Reference,
		Digest:    r.Digest,
		Tag:       r.Tag,
		Policy:    r.Policy,
		Level:     r.Level,
		Code:      CodeNotPinned,
		Reason: fmt.Sprintf("image %s names a tag without a digest; in deny mode hallmark admits only images pinned to the digest that verified, "+
			"because the kubelet pulls the tag again later and may get other content", image),
		Remediation: "let hallmark's mutating webhook or Gatekeeper's mutation pin the tag, or write the reference as REPO@DIGEST",
		Duration:    r.Duration,
		Cached:      r.Cached,
	}
}

// withBudget bounds ctx by Policy.Deadline, and returns when the work
// starts and how long it has: the deadline of ctx may be sooner, and
// "not verified within N ms" must name the budget that applied.
func (a *Admitter) withBudget(ctx context.Context) (context.Context, context.CancelFunc, time.Time, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, a.policy.Deadline)
	start := time.Now()
	budget := a.policy.Deadline
	if dl, ok := ctx.Deadline(); ok {
		budget = dl.Sub(start)
	}
	return ctx, cancel, start, budget
}

// notInTime is the failure for an image whose verification did not finish
// within the budget.
func notInTime(ref string, budget, elapsed time.Duration) verify.Result {
	return verify.Result{
		Reference:   ref,
		Code:        verify.CodeTimeout,
		Reason:      fmt.Sprintf("image %s was not verified within %d ms", ref, budget.Milliseconds()),
		Remediation: "retry; if it persists, check that the registry is reachable and answers quickly, or raise the verification deadline",
		Transient:   true,
		Duration:    elapsed,
	}
}

// logVerdict writes the one record of an image verdict.
func logVerdict(ctx context.Context, log *slog.Logger, v ImageVerdict) {
	if v.Skipped != "" {
		log.LogAttrs(ctx, slog.LevelInfo, "image not verified by policy",
			slog.String("image", v.Image),
			slog.String("verdict", "skipped"),
			slog.String("reason", v.Skipped))
		return
	}
	r := v.Result
	verdict, level := "verified", slog.LevelInfo
	switch {
	case !r.Verified:
		verdict, level = "failed", slog.LevelWarn
	case r.Cached:
		// A pass from the cache repeats the record of the verification
		// that made it (same digest, signer and reason), logged at info
		// then; at info on every admission it was a quarter of the warm
		// path's CPU. A failure is logged each time.
		level = slog.LevelDebug
	}
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("image", v.Image),
		slog.String("digest", r.Digest),
		slog.String("verdict", verdict),
		slog.String("code", string(r.Code)),
		slog.String("reason", r.Reason),
		slog.String("signer", signerOf(r)),
		slog.Bool("transient", r.Transient),
		slog.Bool("cached", r.Cached),
		slog.Duration("duration", r.Duration),
	}
	if cause := r.Cause(); cause != nil {
		// What the reason shown to the pod author leaves out on purpose
		// (which of refused, timed out, TLS or DNS kept the registry
		// unreachable) is here, for the operator.
		attrs = append(attrs, slog.String("cause", cause.Error()))
	}
	log.LogAttrs(ctx, level, "image verdict", attrs...)
}

// signerOf names the signer that verified the image or, failing that, the
// last signer examined.
func signerOf(r verify.Result) string {
	signer := ""
	for _, s := range r.Signatures {
		if s.Verified {
			return s.SignerSubject
		}
		if s.SignerSubject != "" {
			signer = s.SignerSubject
		}
	}
	return signer
}

// reasonOf is the reason shown for a failed image. A Verifier should always
// give one; a blank reason still must not read as success.
func reasonOf(r verify.Result) string {
	if r.Reason != "" {
		return r.Reason
	}
	if r.Code != "" {
		return "not verified (" + string(r.Code) + ")"
	}
	return "not verified"
}

// publicReasonOf is reasonOf as it may be shown to the author of a
// workload. Where the verifier's reason names the trust policy's contents
// it is replaced by which check failed, followed by what to do.
func publicReasonOf(r verify.Result) string {
	reason, remediation := r.PublicReason()
	if reason == r.Reason || (r.Verified && r.Reason == "") {
		return reasonOf(r)
	}
	if remediation != "" {
		return reason + "; " + remediation
	}
	return reason
}

// denial is the message of a denied request.
func denial(what string, failed []ImageVerdict, total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hallmark: %d of %d images of %s %s not verified:", len(failed), total, what, plural(len(failed), "is", "are"))
	for _, v := range failed {
		fmt.Fprintf(&b, "\n- %s: %s", v.Image, publicReasonOf(v.Result))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// describe names the object of a request for messages: "Deployment
// team-a/web", or "Pod in namespace team-a" when it has no name yet.
func describe(req Request) string {
	switch {
	case req.Name != "" && req.Namespace != "":
		return req.Kind + " " + req.Namespace + "/" + req.Name
	case req.Name != "":
		return req.Kind + " " + req.Name
	case req.Namespace != "":
		return req.Kind + " in namespace " + req.Namespace
	}
	return req.Kind
}

func countFailed(vs []ImageVerdict) int {
	n := 0
	for _, v := range vs {
		if !v.Allowed() {
			n++
		}
	}
	return n
}

// requestLogger returns the logger for one request, carrying its identity.
func (a *Admitter) requestLogger(req Request) *slog.Logger {
	return a.log.With(
		slog.String("uid", req.UID),
		slog.String("namespace", req.Namespace),
		slog.String("kind", describeKind(req.Group, req.Kind)),
		slog.String("name", req.Name),
		slog.Bool("dryRun", req.DryRun))
}
