package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// classifyRegistryError puts a registry failure into words a person can act
// on, and says whether a retry may succeed. internal/oci sorts the cause
// (oci.Classify); this turns its kind into a verification code and a reason
// that says what verification was doing. The reason names the registry host
// and repository only: error texts from the HTTP stack carry URLs, which may
// hold internal addresses or pre-signed credentials, so they stay in
// Result.Err and out of Reason.
func classifyRegistryError(ctx context.Context, err error, host, repoPath, what string) explanation {
	// The caller's own deadline is a verdict of its own: oci counts it as
	// an unavailable registry, but the registry may be fine.
	switch {
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return explanation{
			code:        CodeTimeout,
			reason:      fmt.Sprintf("verification of %s did not finish in time (while %s); retry, or allow more time", repoPath, what),
			remediation: "retry, or allow more time for verification",
			transient:   true,
		}
	case errors.Is(err, context.Canceled):
		return explanation{
			code:        CodeTimeout,
			reason:      fmt.Sprintf("verification of %s was cancelled (while %s)", repoPath, what),
			remediation: "retry",
			transient:   true,
		}
	}
	sorted := oci.Classify(err)
	status := ""
	var oe *oci.Error
	if errors.As(sorted, &oe) && oe.StatusCode != 0 {
		status = fmt.Sprintf("%d %s", oe.StatusCode, http.StatusText(oe.StatusCode))
	}
	switch {
	case errors.Is(sorted, oci.ErrCredentials) && oe != nil:
		// The credential source wrote the reason (identity, registry, what
		// to check); the identity provider's full answer stays in Err.
		// Not cached: fixing the identity must take effect at once.
		return explanation{
			code:        CodeRegistryAccess,
			reason:      oe.Summary,
			remediation: "fix the registry's credentials as the reason says",
			transient:   true,
		}
	case errors.Is(sorted, oci.ErrUnauthorized):
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s refused access to %s (%s while %s); configure credentials for %s", host, repoPath, status, what, host),
			remediation: fmt.Sprintf("configure credentials for %s (`hallmark login %s`, or an image pull secret)", host, host),
		}
	case errors.Is(sorted, oci.ErrForbidden):
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s denied access to %s (%s while %s); the credentials lack pull permission for it", host, repoPath, status, what),
			remediation: fmt.Sprintf("grant the credentials used for %s pull access to %s", host, repoPath),
		}
	case errors.Is(sorted, oci.ErrNotFound):
		reason := fmt.Sprintf("%s in %s failed: not found", what, repoPath)
		if repositoryUnknown(err) {
			reason = fmt.Sprintf("repository %s not found", repoPath)
		}
		return explanation{
			code:        CodeImageNotFound,
			reason:      reason + "; check the image reference",
			remediation: "check the image reference: registry, repository, tag or digest",
		}
	case errors.Is(sorted, oci.ErrTooLarge):
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("%s in %s failed: the registry sent more data than hallmark accepts", what, repoPath),
			remediation: "check what the registry serves for this image",
		}
	case errors.Is(sorted, oci.ErrNotAllowed):
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s is not one of the registries this cluster allows images from (%s); use an image from an allowed registry", host, repoPath),
			remediation: fmt.Sprintf("use an image from an allowed registry, or ask the cluster's operators to add %s to allowedRegistries", host),
		}
	case errors.Is(sorted, oci.ErrBlockedAddress):
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s resolves to a link-local or cloud metadata address, which hallmark never contacts (while %s)", host, what),
			remediation: fmt.Sprintf("check the name and DNS of registry %s", host),
		}
	case errors.Is(sorted, oci.ErrOverloaded):
		return explanation{
			code:        CodeError,
			reason:      fmt.Sprintf("hallmark is at its limit of signature data held at once while %s in %s; retry", what, repoPath),
			remediation: "retry; if it persists, the server verifies more images at once than it is sized for",
			transient:   true,
		}
	case errors.Is(sorted, oci.ErrPlainHTTP):
		return explanation{
			code:        CodeRegistryError,
			reason:      oci.PlainHTTPHint(host) + " (while " + what + ")",
			remediation: "add --plain-http (or `plainHTTP: true` for this host)",
		}
	case errors.Is(sorted, oci.ErrTLS):
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("TLS with registry %s failed (while %s); trust the registry's CA, or check that it speaks HTTPS", host, what),
			remediation: fmt.Sprintf("add the CA of registry %s to the trusted CAs, or configure plain HTTP for it if it has no TLS", host),
		}
	case errors.Is(sorted, oci.ErrUnavailable) && oe != nil && oe.StatusCode == http.StatusTooManyRequests:
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("registry %s is rate limiting requests (%s while %s); retry later", host, status, what),
			remediation: fmt.Sprintf("retry later, or raise the rate limit or use a mirror for %s", host),
			transient:   true,
		}
	case errors.Is(sorted, oci.ErrUnavailable) && status != "":
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("registry %s failed with %s while %s; retry later", host, status, what),
			remediation: fmt.Sprintf("retry later; check the health of registry %s", host),
			transient:   true,
		}
	case errors.Is(sorted, oci.ErrUnavailable):
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("cannot reach registry %s (while %s); retry, and check the network path to it", host, what),
			remediation: fmt.Sprintf("check that registry %s is up and reachable from here", host),
			transient:   true,
		}
	case status != "":
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("registry %s answered %s while %s in %s", host, status, what, repoPath),
			remediation: "check the registry and the image reference",
		}
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("registry %s answered %d %s while %s in %s", host, resp.StatusCode, http.StatusText(resp.StatusCode), what, repoPath),
			remediation: "check the registry and the image reference",
		}
	}
	return explanation{
		code:        CodeRegistryError,
		reason:      fmt.Sprintf("%s in %s failed; see the logs for the registry's answer", what, repoPath),
		remediation: "check the registry and the image reference",
	}
}

// unreachable reports failures to reach the registry at all: a refused or
// reset connection, a DNS failure, a TLS failure, a blocked address, and,
// when the registry has not answered yet (first), the deadline. Telling
// these apart to whoever picked the image would let them map the network
// from admission denials.
func unreachable(ctx context.Context, err error, first bool) bool {
	if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		return first && !errors.Is(err, context.Canceled)
	}
	sorted := oci.Classify(err)
	var oe *oci.Error
	hasStatus := errors.As(sorted, &oe) && oe.StatusCode != 0
	switch {
	case errors.Is(sorted, oci.ErrPlainHTTP), errors.Is(sorted, oci.ErrOverloaded):
		return false // a configuration mistake, or hallmark's own bound
	case errors.Is(sorted, oci.ErrBlockedAddress), errors.Is(sorted, oci.ErrTLS):
		return true
	case errors.Is(sorted, oci.ErrUnavailable):
		return !hasStatus
	}
	return false
}

// unreachableExplanation is the one reason given for a registry that could
// not be reached, whatever the cause (see unreachable). Its code is the
// deadline's, so that callers that word a deadline their own way (the
// admitter: "not verified within N ms") word every cause alike, a registry
// that hangs as one that refuses.
func unreachableExplanation(host, what string) explanation {
	return explanation{
		code:        CodeTimeout,
		reason:      fmt.Sprintf("could not reach registry %s (while %s); retry, and if it persists, ask the cluster's operators: hallmark's log has the cause", host, what),
		remediation: fmt.Sprintf("retry; if registry %s stays unreachable, the cause is in hallmark's log", host),
		transient:   true,
	}
}

// repositoryUnknown reports a 404 whose body says the repository itself is
// missing, so the reason can say that instead of a bare "not found".
func repositoryUnknown(err error) bool {
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	for _, e := range resp.Errors {
		if e.Code == errcode.ErrorCodeNameUnknown {
			return true
		}
	}
	return false
}

// urlPattern matches URLs in error texts from the HTTP stack.
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"']+`)

// safeDetail is err's text without URLs, which may name internal addresses
// or carry pre-signed credentials in their query, for use inside a Reason.
func safeDetail(err error) string {
	return urlPattern.ReplaceAllString(err.Error(), "<url>")
}
