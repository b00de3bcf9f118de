// Package webhook serves Kubernetes validating and mutating admission
// webhooks: it decodes AdmissionReview requests (admission.k8s.io/v1 and
// v1beta1), hands the object to the admission package, and encodes the
// Decision or Mutation back in the version asked. It holds no verification
// logic: that is the admission package's, shared with the Gatekeeper
// encoding.
//
// Requests that are not admission reviews get an HTTP error: 405 for a
// method other than POST, 415 for a body that is not application/json, 413
// past MaxReviewBytes, 400 for anything that does not decode. An admission
// review always gets HTTP 200 and an AdmissionReview answer echoing its
// uid; a denial carries status code 403 (400 for an object hallmark cannot
// read) and a message listing every failing image.
package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/postbody"
)

// MaxReviewBytes caps an AdmissionReview body. The API server refuses
// request bodies over 3 MiB, so the object under review is at most that;
// on UPDATE the review also carries the old object (stored objects are at
// most 1.5 MiB in etcd, but allow it the same 3 MiB), and the rest of the
// review is small. 7 MiB holds both with room to spare and refuses only
// bodies the API server could never send.
const MaxReviewBytes = 7 << 20

// DefaultTimeoutMargin is how much of the API server's webhook timeout is
// kept back for encoding the answer and the trip back, when
// Options.TimeoutMargin is zero. An answer that arrives after the API
// server gave up is wasted, and the failurePolicy decides instead.
const DefaultTimeoutMargin = 200 * time.Millisecond

// maxWebhookTimeout is the longest timeout the API server allows a webhook
// (timeoutSeconds is at most 30). A longer ?timeout is not from the API
// server and is ignored.
const maxWebhookTimeout = 30 * time.Second

// patchTypeJSONPatch is the only patch type the API server accepts.
const patchTypeJSONPatch = "JSONPatch"

// Decider decides on an object; *admission.Admitter implements it. The
// server may pass a wrapper that picks the Admitter of the current
// configuration.
type Decider interface {
	Decide(ctx context.Context, req admission.Request) admission.Decision
}

// Mutator computes the mutation of an object; *admission.Admitter
// implements it.
type Mutator interface {
	Mutate(ctx context.Context, req admission.Request) admission.Mutation
}

// Options tune the handlers. The zero value is ready to use.
type Options struct {
	// Logger receives a record for each request refused before it reached
	// the admission decision (which logs itself). Nil means no logging.
	Logger *slog.Logger
	// TimeoutMargin is subtracted from the timeout the API server sends in
	// the ?timeout query parameter to get the request's deadline. Zero
	// means DefaultTimeoutMargin.
	TimeoutMargin time.Duration
}

// NewValidateHandler returns the handler for POST /validate.
func NewValidateHandler(d Decider, opts Options) http.Handler {
	return newHandler(opts, func(ctx context.Context, req admission.Request) *response {
		dec := d.Decide(ctx, req)
		resp := &response{
			Allowed:          dec.Allowed,
			Warnings:         dec.Warnings,
			AuditAnnotations: dec.AuditAnnotations,
		}
		if !dec.Allowed {
			resp.Status = failure(dec.StatusCode, dec.Message)
		}
		return resp
	})
}

// NewMutateHandler returns the handler for POST /mutate. The patch is a
// JSON Patch that replaces each image given by tag with the same reference
// pinned to a digest.
func NewMutateHandler(m Mutator, opts Options) http.Handler {
	return newHandler(opts, func(ctx context.Context, req admission.Request) *response {
		mut := m.Mutate(ctx, req)
		resp := &response{Allowed: mut.Allowed, Warnings: mut.Warnings}
		if !mut.Allowed {
			resp.Status = failure(mut.StatusCode, mut.Message)
			return resp
		}
		if len(mut.Patch) > 0 {
			patch, err := json.Marshal(mut.Patch)
			if err != nil {
				// []PatchOp of strings always marshals; refuse rather than
				// answer with a broken patch if it ever does not.
				resp.Allowed = false
				resp.Status = failure(http.StatusInternalServerError, "hallmark could not encode the patch")
				return resp
			}
			pt := patchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
		return resp
	})
}

// handler does the HTTP and AdmissionReview work shared by both webhooks;
// answer turns one admission request into a response.
type handler struct {
	log    *slog.Logger
	margin time.Duration
	answer func(ctx context.Context, req admission.Request) *response
}

func newHandler(opts Options, answer func(context.Context, admission.Request) *response) *handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	margin := opts.TimeoutMargin
	if margin <= 0 {
		margin = DefaultTimeoutMargin
	}
	return &handler{log: log, margin: margin, answer: answer}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, refusal := postbody.Read(w, r, MaxReviewBytes, "admission reviews", false)
	if refusal != nil {
		h.refuse(w, r, refusal.Status, refusal.Message)
		return
	}
	rv, err := decodeReview(body)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	req := rv.Request

	resp := &response{Allowed: true}
	switch req.Operation {
	case opCreate, opUpdate:
		ctx := r.Context()
		if budget, ok := h.budget(r); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, budget)
			defer cancel()
		}
		resp = h.answer(ctx, admission.Request{
			UID:       req.UID,
			Namespace: req.Namespace,
			Name:      req.Name,
			Group:     req.Kind.Group,
			Kind:      req.Kind.Kind,
			Object:    req.Object,
			DryRun:    req.DryRun != nil && *req.DryRun,
		})
	default:
		// Deleting or connecting to an object starts no container.
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "admission review allowed without verification",
			slog.String("uid", req.UID), slog.String("operation", req.Operation))
	}
	resp.UID = req.UID
	writeReview(w, http.StatusOK, &review{APIVersion: rv.APIVersion, Kind: kindReview, Response: resp})
}

// budget returns the deadline of a request from the API server's ?timeout
// parameter, less the margin. A missing or implausible value gives none,
// and the Policy's deadline applies alone.
func (h *handler) budget(r *http.Request) (time.Duration, bool) {
	raw := r.URL.Query().Get("timeout")
	if raw == "" {
		return 0, false
	}
	timeout, err := time.ParseDuration(raw)
	if err != nil || timeout <= 0 || timeout > maxWebhookTimeout {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "ignoring implausible timeout parameter", slog.String("timeout", raw))
		return 0, false
	}
	return deadline(timeout, h.margin), true
}

// deadline is timeout less margin, but never less than half the timeout: a
// margin meant for a 10 s webhook must not eat a 1 s one.
func deadline(timeout, margin time.Duration) time.Duration {
	return max(timeout-margin, timeout/2)
}

// failure is the status of a refused request.
func failure(code int, message string) *status {
	if code == 0 {
		code = http.StatusForbidden
	}
	if message == "" {
		message = "hallmark refused the request"
	}
	return &status{Status: "Failure", Code: int32(code), Reason: reasonFor(code), Message: message}
}

// reasonFor maps an HTTP status to the metav1.StatusReason Kubernetes uses
// for it.
func reasonFor(code int) string {
	switch code {
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	case http.StatusRequestEntityTooLarge:
		return "RequestEntityTooLarge"
	case http.StatusUnsupportedMediaType:
		return "UnsupportedMediaType"
	}
	return "InternalError"
}

// refuse answers a request that never reached a decision with an HTTP
// error whose body is still an AdmissionReview (v1, as the version asked
// may be unknown), so that the API server's log shows the reason.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, code int, message string) {
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "admission review refused",
		slog.Int("status", code),
		slog.String("error", message),
		slog.String("remote", r.RemoteAddr))
	writeReview(w, code, &review{
		APIVersion: APIVersionV1,
		Kind:       kindReview,
		Response:   &response{Status: failure(code, message)},
	})
}

func writeReview(w http.ResponseWriter, code int, rv *review) {
	body, err := json.Marshal(rv)
	if err != nil {
		http.Error(w, "cannot encode the AdmissionReview", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
