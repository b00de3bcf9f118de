// Package gatekeeper serves hallmark's verdicts as a Gatekeeper external
// data provider, in the shape Ratify v1 answers them, so that Ratify's
// ConstraintTemplate, its Assign mutators and Azure Policy's built-in work
// unchanged with hallmark in Ratify's place: POST
// /ratify/gatekeeper/v1/verify and /ratify/gatekeeper/v1/mutate take a
// ProviderRequest and answer a ProviderResponse.
//
// It is an encoding of the admission package's verdicts and holds no
// verification logic. Keys may carry Ratify's "[namespace]" prefix, which
// selects the namespace's exclusions; it is honoured only from a caller
// authenticated by its client certificate (Gatekeeper under mutual TLS) or
// when the policy trusts every caller with it, and is otherwise part of the
// reference, which then fails to parse. A key that is not an image reference
// gets a per-item error; a body that is not a ProviderRequest gets a
// systemError. Deny versus audit is the constraint's enforcementAction:
// hallmark reports the verdict, and anything but a positive verification
// (a registry failure, a timeout) is isSuccess:false; so, in deny mode, is
// an image named by a tag without a digest (admission.CodeNotPinned), which
// the mutate endpoint pins only to a digest that verified.
package gatekeeper

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/postbody"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// Paths Ratify v1 serves; the server mounts the handlers there.
const (
	VerifyPath = "/ratify/gatekeeper/v1/verify"
	MutatePath = "/ratify/gatekeeper/v1/mutate"
)

// MaxRequestBytes caps a ProviderRequest body. Gatekeeper sends the images
// of one object, or batches of them during audit; with references of ~100
// bytes, 1 MiB holds about ten times MaxKeys, and the largest legal
// reference (4 KiB) still fits MaxKeys/4 times.
const MaxRequestBytes = 1 << 20

// MaxKeys caps the keys of one request. Every distinct key may cost a
// verification; past this a request is a flood, not a pod.
const MaxKeys = 1024

// DefaultVerifierName is the verifierName of reports when
// Options.VerifierName is empty: the name of the Notation verifier in
// Ratify's Helm chart.
const DefaultVerifierName = "verifier-notation"

// DefaultMutateTimeout bounds a mutate request when Options.Timeout is
// zero: Gatekeeper's mutating webhook gives up after 1 s by default, and
// Ratify keeps 50 ms of it for the answer.
const DefaultMutateTimeout = 950 * time.Millisecond

// Verifier checks images; *admission.Admitter implements it.
type Verifier interface {
	VerifyImages(ctx context.Context, images []admission.NamespacedImage) []admission.ImageVerdict
}

// Pinner pins images to digests; *admission.Admitter implements it.
type Pinner interface {
	PinImages(ctx context.Context, images []admission.NamespacedImage) []admission.Pin
}

// policySource is a Verifier or Pinner that tells the policy in force;
// *admission.Admitter is one. The handlers ask it whether every caller may
// set a key's namespace; without it, only an authenticated caller may.
type policySource interface {
	Policy() admission.Policy
}

// honourPrefix reports whether the "[namespace]" prefix of the keys of r
// names the namespace. The namespace selects exclusions, and a pod author
// can write any prefix into an image field (Ratify's default template and
// Assign mutators send image fields as keys, unprefixed), so the prefix is
// believed only from a caller whose client certificate the TLS handshake
// verified (the server requires it of every caller once a client CA is
// configured), or when the policy explicitly trusts every caller.
func honourPrefix(r *http.Request, impl any) bool {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	ps, ok := impl.(policySource)
	return ok && ps.Policy().TrustNamespacePrefixFromAnyCaller
}

// Options tune the handlers. The zero value is ready to use.
type Options struct {
	// Logger receives one record per request. Nil means no logging.
	Logger *slog.Logger
	// VerifierName names the verifier in reports (verifierName and its
	// deprecated twin name), for constraints that test it. Empty means
	// DefaultVerifierName; set it to the name Ratify was configured with
	// when replacing a Ratify that used another.
	VerifierName string
	// Timeout bounds one request, on top of the admission Policy's
	// deadline; set it a little under the Provider's spec.timeout. Zero
	// means no extra bound for verify, and DefaultMutateTimeout for mutate.
	Timeout time.Duration
	// TraceIDHeader names a request header whose value becomes the traceID
	// of the results (Ratify's logger.requestHeaders.traceIDHeaderName, e.g.
	// "x-ms-correlation-request-id"). Empty, or absent from a request,
	// means a random UUID.
	TraceIDHeader string
	// Now returns the current time, for the results' timestamp. Nil means
	// time.Now.
	Now func() time.Time
}

// NewVerifyHandler returns the handler for POST /ratify/gatekeeper/v1/verify.
// Each key gets a value with Ratify's verification result, or an error if
// it is not an image reference.
func NewVerifyHandler(v Verifier, opts Options) http.Handler {
	h := newHandler(opts, false, opts.Timeout)
	h.answer = func(ctx context.Context, r *http.Request, keys []string) (items []item, invalid, failed int) {
		items, images, index, _ := parseKeys(keys, honourPrefix(r, v))
		verdicts := v.VerifyImages(ctx, images)
		traceID := h.traceID(r)
		timestamp := h.now().UTC().Format(time.RFC3339Nano)
		for i, k := range index {
			if k < 0 {
				invalid++
				continue
			}
			if !verdicts[k].Allowed() {
				failed++
			}
			items[i].Value = report(verdicts[k], h.verifierName, traceID, timestamp)
		}
		return items, invalid, failed
	}
	return h
}

// NewMutateHandler returns the handler for POST /ratify/gatekeeper/v1/mutate.
// Each key's value is the image pinned to the digest its tag resolves to
// (or the key, unchanged, when it already has a digest or the policy
// exempts it); a key that cannot be resolved gets an error, and the key as
// its value. The answer is marked idempotent, as Gatekeeper requires of
// mutation providers.
func NewMutateHandler(p Pinner, opts Options) http.Handler {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultMutateTimeout
	}
	h := newHandler(opts, true, timeout)
	h.answer = func(ctx context.Context, r *http.Request, keys []string) (items []item, invalid, failed int) {
		items, images, index, prefixes := parseKeys(keys, honourPrefix(r, p))
		pins := p.PinImages(ctx, images)
		for i, k := range index {
			// As in Ratify, a key that cannot be pinned keeps itself as its
			// value next to the error. A value differs from its key only by
			// the digest added: an honoured "[namespace]" prefix stays, so
			// that no mutation can turn one reference into another.
			switch {
			case k < 0:
				items[i].Value = keys[i]
				invalid++
			case pins[k].Err != nil:
				items[i].Value = keys[i]
				items[i].Error = pins[k].Err.Error()
				failed++
			default:
				items[i].Value = prefixes[i] + pins[k].Pinned
			}
		}
		return items, invalid, failed
	}
	return h
}

// parseKeys makes one item per key and collects the images to check.
// index[i] is the position of key i in images, or -1 when the key is not
// an image reference, in which case items[i] already carries the error.
// prefixes[i] is the "[namespace]" prefix taken off key i, when
// withPrefix says prefixes are honoured; otherwise the whole key is the
// image.
func parseKeys(keys []string, withPrefix bool) (items []item, images []admission.NamespacedImage, index []int, prefixes []string) {
	items = make([]item, len(keys))
	index = make([]int, len(keys))
	prefixes = make([]string, len(keys))
	for i, key := range keys {
		items[i].Key = key
		ns, image := "", key
		if withPrefix {
			ns, image = splitKey(key)
			prefixes[i] = key[:len(key)-len(image)]
		}
		if _, err := oci.ParseReference(image); err != nil {
			items[i].Error = keyError(err)
			index[i] = -1
			continue
		}
		index[i] = len(images)
		images = append(images, admission.NamespacedImage{Namespace: ns, Image: image})
	}
	return items, images, index, prefixes
}

// keyError is the item error for a key that is not an image reference: the
// parser's summary, which quotes the key and says what is wrong with it.
func keyError(err error) string {
	var oe *oci.Error
	if errors.As(err, &oe) && oe.Summary != "" {
		return oe.Summary
	}
	return "not a valid image reference"
}

// handler does the HTTP and ProviderRequest work shared by both endpoints.
type handler struct {
	log          *slog.Logger
	mutate       bool
	timeout      time.Duration
	verifierName string
	traceHeader  string
	now          func() time.Time
	// answer returns an item per key, in order, and how many keys were
	// not image references and how many failed.
	answer func(ctx context.Context, r *http.Request, keys []string) (items []item, invalid, failed int)
}

func newHandler(opts Options, mutate bool, timeout time.Duration) *handler {
	h := &handler{
		log:          opts.Logger,
		mutate:       mutate,
		timeout:      timeout,
		verifierName: opts.VerifierName,
		traceHeader:  opts.TraceIDHeader,
		now:          opts.Now,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.verifierName == "" {
		h.verifierName = DefaultVerifierName
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

func (h *handler) endpoint() string {
	if h.mutate {
		return "mutate"
	}
	return "verify"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Gatekeeper sends application/json; a request without a content type
	// is read as JSON too, as Ratify does, but a declared other type is not.
	body, refusal := postbody.Read(w, r, MaxRequestBytes, "provider requests", true)
	if refusal != nil {
		h.systemError(w, r, refusal.Status, refusal.Message)
		return
	}
	keys, err := decodeRequest(body)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrTooManyKeys) {
			code = http.StatusRequestEntityTooLarge
		}
		h.systemError(w, r, code, err.Error())
		return
	}

	ctx := r.Context()
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	items, invalid, failed := h.answer(ctx, r, keys)
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "external data request",
		slog.String("endpoint", h.endpoint()),
		slog.Int("keys", len(keys)),
		slog.Int("invalidKeys", invalid),
		slog.Int("failed", failed),
		slog.Duration("duration", time.Since(start)))
	h.write(w, http.StatusOK, responseBody{Idempotent: h.mutate, Items: items})
}

// systemError answers a request that could not be read at all. Ratify
// answers these with HTTP 500; hallmark says 4xx, since the fault is the
// request's. Either way Gatekeeper surfaces systemError, which Ratify's
// template turns into a violation.
func (h *handler) systemError(w http.ResponseWriter, r *http.Request, code int, message string) {
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "external data request refused",
		slog.String("endpoint", h.endpoint()),
		slog.Int("status", code),
		slog.String("error", message),
		slog.String("remote", r.RemoteAddr))
	h.write(w, code, responseBody{Idempotent: h.mutate, SystemError: message})
}

func (h *handler) write(w http.ResponseWriter, code int, body responseBody) {
	out, err := marshalResponse(providerResponse{APIVersion: responseAPIVersion, Kind: kindResponse, Response: body})
	if err != nil {
		http.Error(w, "cannot encode the ProviderResponse", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// A declared length spares the chunked encoding of answers larger than
	// the server's write buffer.
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(code)
	_, _ = w.Write(out)
}

// traceID returns the trace ID of a request: the configured header, else a
// random UUID (version 4).
func (h *handler) traceID(r *http.Request) string {
	if h.traceHeader != "" {
		if v := r.Header.Get(h.traceHeader); v != "" && len(v) <= maxTraceIDLength {
			return v
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// maxTraceIDLength caps a trace ID taken from a header, which is echoed in
// every item: correlation IDs are UUIDs or similar, and a longer header is
// not one.
const maxTraceIDLength = 128
