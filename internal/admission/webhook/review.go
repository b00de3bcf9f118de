package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// API versions and kind of the AdmissionReview this package speaks. v1beta1
// has the same fields; the answer is written in the version asked.
const (
	APIVersionV1      = "admission.k8s.io/v1"
	APIVersionV1beta1 = "admission.k8s.io/v1beta1"
	kindReview        = "AdmissionReview"
)

// Operations of an admission request.
const (
	opCreate  = "CREATE"
	opUpdate  = "UPDATE"
	opDelete  = "DELETE"
	opConnect = "CONNECT"
)

// The wire types below are the parts of admission.k8s.io/v1 AdmissionReview
// that hallmark reads and writes. They are written here rather than taken
// from k8s.io/api, whose dependency tree is many times the size of the few
// fields used; testdata/ pins the shape with golden files.

// review is an AdmissionReview, carrying either a request or a response.
type review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *request  `json:"request,omitempty"`
	Response   *response `json:"response,omitempty"`
}

// groupVersionKind names the kind of the object under review.
type groupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// request is an AdmissionRequest. Fields hallmark does not use (resource,
// userInfo, oldObject, options, ...) are skipped by the decoder.
type request struct {
	UID       string           `json:"uid"`
	Kind      groupVersionKind `json:"kind"`
	Name      string           `json:"name,omitempty"`
	Namespace string           `json:"namespace,omitempty"`
	Operation string           `json:"operation"`
	Object    json.RawMessage  `json:"object,omitempty"`
	DryRun    *bool            `json:"dryRun,omitempty"`
}

// response is an AdmissionResponse.
type response struct {
	UID              string            `json:"uid"`
	Allowed          bool              `json:"allowed"`
	Status           *status           `json:"status,omitempty"`
	Patch            []byte            `json:"patch,omitempty"` // base64 on the wire
	PatchType        *string           `json:"patchType,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
}

// status is the part of a metav1.Status the API server shows when it
// refuses a request: "admission webhook ... denied the request: MESSAGE".
type status struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Code    int32  `json:"code,omitempty"`
}

// decodeReview parses an AdmissionReview request body and checks what the
// handlers rely on: the kind and a known apiVersion, a request with a uid,
// the kind of its object, and a known operation. Every error matches
// ErrBadReview and says what is wrong.
func decodeReview(body []byte) (*review, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadReview)
	}
	var rv review
	if err := json.Unmarshal(body, &rv); err != nil {
		return nil, fmt.Errorf("%w: not a JSON AdmissionReview: %v", ErrBadReview, err)
	}
	if rv.Kind != kindReview {
		return nil, fmt.Errorf("%w: kind %q, want %q", ErrBadReview, rv.Kind, kindReview)
	}
	if rv.APIVersion != APIVersionV1 && rv.APIVersion != APIVersionV1beta1 {
		return nil, fmt.Errorf("%w: apiVersion %q, want %q or %q", ErrBadReview, rv.APIVersion, APIVersionV1, APIVersionV1beta1)
	}
	req := rv.Request
	switch {
	case req == nil:
		return nil, fmt.Errorf("%w: no request", ErrBadReview)
	case req.UID == "":
		return nil, fmt.Errorf("%w: request.uid is empty", ErrBadReview)
	case req.Kind.Kind == "":
		return nil, fmt.Errorf("%w: request.kind.kind is empty", ErrBadReview)
	}
	switch req.Operation {
	case opCreate, opUpdate, opDelete, opConnect:
	default:
		return nil, fmt.Errorf("%w: request.operation %q, want CREATE, UPDATE, DELETE or CONNECT", ErrBadReview, req.Operation)
	}
	// The response is for the server to write.
	rv.Response = nil
	return &rv, nil
}
