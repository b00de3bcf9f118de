package gatekeeper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Gatekeeper external data wire constants. Gatekeeper sends requests as
// v1beta1 (v1alpha1 before 3.11); Ratify v1 always answers v1alpha1, and so
// does hallmark, to be a drop-in replacement. Gatekeeper does not check the
// answer's apiVersion.
const (
	apiVersionV1alpha1 = "externaldata.gatekeeper.sh/v1alpha1"
	apiVersionV1beta1  = "externaldata.gatekeeper.sh/v1beta1"
	responseAPIVersion = apiVersionV1alpha1
	kindRequest        = "ProviderRequest"
	kindResponse       = "ProviderResponse"
)

// The wire types are written here, not imported from
// open-policy-agent/frameworks, whose externaldata package pulls in the
// Kubernetes API machinery for three small structs. The JSON tags follow
// it: every Item field and every Response field is omitempty, so a verify
// answer has no "idempotent" key and an empty answer no "items".

// providerRequest is what Gatekeeper POSTs.
type providerRequest struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Request    *requestBody `json:"request"`
}

type requestBody struct {
	Keys []string `json:"keys,omitempty"`
}

// providerResponse is the answer.
type providerResponse struct {
	APIVersion string       `json:"apiVersion,omitempty"`
	Kind       string       `json:"kind,omitempty"`
	Response   responseBody `json:"response"`
}

type responseBody struct {
	// Idempotent must be true for mutation and only for mutation.
	Idempotent  bool   `json:"idempotent,omitempty"`
	Items       []item `json:"items,omitempty"`
	SystemError string `json:"systemError,omitempty"`
}

// item answers one key: a value, or an error.
type item struct {
	Key   string `json:"key,omitempty"`
	Value any    `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// decodeRequest parses a ProviderRequest body. Every error matches
// ErrBadRequest and says what is wrong. Keys are returned as sent.
func decodeRequest(body []byte) ([]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadRequest)
	}
	var req providerRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: not a JSON ProviderRequest: %v", ErrBadRequest, err)
	}
	if req.Kind != kindRequest {
		return nil, fmt.Errorf("%w: kind %q, want %q", ErrBadRequest, req.Kind, kindRequest)
	}
	if req.APIVersion != apiVersionV1beta1 && req.APIVersion != apiVersionV1alpha1 {
		return nil, fmt.Errorf("%w: apiVersion %q, want %q or %q", ErrBadRequest, req.APIVersion, apiVersionV1beta1, apiVersionV1alpha1)
	}
	if req.Request == nil {
		return nil, fmt.Errorf("%w: no request", ErrBadRequest)
	}
	if len(req.Request.Keys) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, more than the %d accepted in one request", ErrTooManyKeys, len(req.Request.Keys), MaxKeys)
	}
	return req.Request.Keys, nil
}

// splitKey separates the optional "[namespace]" prefix of a key from the
// image reference, as Ratify v1.2+ does for multi-tenant constraints: the
// namespace is what lies between a leading '[' and the first ']'. A key
// without a leading '[' or without a ']' is all image, and cluster-wide.
func splitKey(key string) (namespace, image string) {
	if rest, ok := strings.CutPrefix(key, "["); ok {
		if ns, img, found := strings.Cut(rest, "]"); found {
			return ns, img
		}
	}
	return "", key
}
