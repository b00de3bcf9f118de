// Package postbody reads the JSON body of a POSTed admission request, for both
// of hallmark's admission encodings (webhook AdmissionReviews and Gatekeeper
// ProviderRequests): the method, the content type and a size cap are checked
// the same way, and a refusal says which HTTP status to answer and why.
package postbody

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Refusal is why a request was not read: the HTTP status to answer and a
// message safe to send back.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Read returns the body of r, which must be a POST of application/json of at
// most max bytes. what names the request in messages ("admission reviews").
// With allowNoContentType, a request without a Content-Type is read as JSON
// (Gatekeeper's external-data client sends none in some versions); a declared
// other type is always refused. On a refusal the Allow header is set for 405.
func Read(w http.ResponseWriter, r *http.Request, max int64, what string, allowNoContentType bool) ([]byte, *Refusal) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Refusal{http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: %s are POSTed", r.Method, what)}
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" || !allowNoContentType {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, &Refusal{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q not supported: want application/json", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", max)}
		}
		return nil, &Refusal{http.StatusBadRequest, "cannot read the request body"}
	}
	return body, nil
}
