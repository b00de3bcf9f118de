package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// classifyRegistryError puts a registry failure into words a person can act
// on, and says whether a retry may succeed. It looks at the causes oras-go
// and net/http produce, which internal/oci keeps in its error chains too.
// The reason names the registry host and repository only: error texts from
// the HTTP stack carry URLs, which may hold internal addresses or pre-signed
// credentials, so they stay in Result.Err and out of Reason.
func classifyRegistryError(ctx context.Context, err error, host, repoPath, what string) explanation {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return classifyStatus(resp, host, repoPath, what)
	}
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		return explanation{
			code:        CodeImageNotFound,
			reason:      fmt.Sprintf("%s in %s failed: not found; check the image reference", what, repoPath),
			remediation: "check the image reference: registry, repository, tag or digest",
		}
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("%s in %s failed: the registry sent more data than hallmark accepts", what, repoPath),
			remediation: "check what the registry serves for this image",
		}
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
	case isTLSError(err):
		return explanation{
			code:        CodeRegistryError,
			reason:      fmt.Sprintf("TLS with registry %s failed (while %s); trust the registry's CA, or check that it speaks HTTPS", host, what),
			remediation: fmt.Sprintf("add the CA of registry %s to the trusted CAs, or configure plain HTTP for it if it has no TLS", host),
		}
	case isNetworkError(err):
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("cannot reach registry %s (while %s); retry, and check the network path to it", host, what),
			remediation: fmt.Sprintf("check that registry %s is up and reachable from here", host),
			transient:   true,
		}
	}
	return explanation{
		code:        CodeRegistryError,
		reason:      fmt.Sprintf("%s in %s failed; see the logs for the registry's answer", what, repoPath),
		remediation: "check the registry and the image reference",
	}
}

func classifyStatus(resp *errcode.ErrorResponse, host, repoPath, what string) explanation {
	code := resp.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusUnauthorized:
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s refused access to %s (%s while %s); configure credentials for %s", host, repoPath, status, what, host),
			remediation: fmt.Sprintf("configure credentials for %s (`hallmark login %s`, or an image pull secret)", host, host),
		}
	case code == http.StatusForbidden:
		return explanation{
			code:        CodeRegistryAccess,
			reason:      fmt.Sprintf("registry %s denied access to %s (%s while %s); the credentials lack pull permission for it", host, repoPath, status, what),
			remediation: fmt.Sprintf("grant the credentials used for %s pull access to %s", host, repoPath),
		}
	case code == http.StatusNotFound:
		what := fmt.Sprintf("%s in %s failed: not found", what, repoPath)
		for _, e := range resp.Errors {
			if e.Code == errcode.ErrorCodeNameUnknown {
				what = fmt.Sprintf("repository %s not found", repoPath)
			}
		}
		return explanation{
			code:        CodeImageNotFound,
			reason:      what + "; check the image reference",
			remediation: "check the image reference: registry, repository, tag or digest",
		}
	case code == http.StatusTooManyRequests:
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("registry %s is rate limiting requests (%s while %s); retry later", host, status, what),
			remediation: fmt.Sprintf("retry later, or raise the rate limit or use a mirror for %s", host),
			transient:   true,
		}
	case code == http.StatusRequestTimeout || code >= 500:
		return explanation{
			code:        CodeRegistryUnavailable,
			reason:      fmt.Sprintf("registry %s failed with %s while %s; retry later", host, status, what),
			remediation: fmt.Sprintf("retry later; check the health of registry %s", host),
			transient:   true,
		}
	}
	return explanation{
		code:        CodeRegistryError,
		reason:      fmt.Sprintf("registry %s answered %s while %s in %s", host, status, what, repoPath),
		remediation: "check the registry and the image reference",
	}
}

// urlPattern matches URLs in error texts from the HTTP stack.
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"']+`)

// safeDetail is err's text without URLs, which may name internal addresses
// or carry pre-signed credentials in their query, for use inside a Reason.
func safeDetail(err error) string {
	return urlPattern.ReplaceAllString(err.Error(), "<url>")
}

// isTLSError matches failures of TLS setup, which fail the same way on
// every retry.
func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verification) || errors.As(err, &record) ||
		// net/http has no typed error for an HTTPS request answered in HTTP.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// isNetworkError matches failures to reach the registry or to read its
// whole answer.
func isNetworkError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
