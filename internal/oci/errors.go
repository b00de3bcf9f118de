package oci

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
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Sentinel errors. Every error the package returns for one of these causes
// matches it with errors.Is, and keeps the underlying cause in its chain.
var (
	// ErrInvalidReference: the image reference cannot be parsed.
	ErrInvalidReference = errors.New("invalid reference")

	// ErrNoRegistry: the reference names no registry host. hallmark never
	// guesses docker.io, so that an image is always looked up where the
	// person who wrote it meant. It also matches ErrInvalidReference.
	ErrNoRegistry = fmt.Errorf("%w: no registry", ErrInvalidReference)

	// ErrUnauthorized: the registry answered 401 (no credentials, or wrong
	// ones).
	ErrUnauthorized = errors.New("unauthorized")

	// ErrForbidden: the registry answered 403 (the credentials lack
	// permission).
	ErrForbidden = errors.New("forbidden")

	// ErrCredentials: the credentials for the registry could not be
	// obtained (an identity provider or token exchange refused, or could
	// not be reached). The error's Summary says which identity, which
	// registry and what to check, and is safe to show to anyone; the whole
	// cause is in the error for the log.
	ErrCredentials = errors.New("registry credentials unavailable")

	// ErrNotFound: the repository, tag, manifest or blob does not exist. The
	// error text says which.
	ErrNotFound = errors.New("not found")

	// ErrTooLarge: the registry declared or sent more bytes than hallmark
	// accepts for that kind of content.
	ErrTooLarge = errors.New("too large")

	// ErrUnavailable: a transient failure (a network error, a timeout, a
	// cancelled request, 408, 429 or 5xx). Retrying later may succeed, so
	// callers must not cache it as a definitive answer.
	ErrUnavailable = errors.New("registry unavailable")

	// ErrOverloaded: hallmark itself is at a bound it keeps (the signature
	// data verifications may hold at once), so it refused the request at
	// once instead of queueing it. It also matches ErrUnavailable: a retry
	// later may succeed.
	ErrOverloaded = fmt.Errorf("%w: overloaded", ErrUnavailable)

	// ErrTLS: the TLS connection failed (an untrusted or mismatched
	// certificate, or a registry that speaks plain HTTP). This is a
	// configuration problem, not a transient one.
	ErrTLS = errors.New("TLS failure")

	// ErrPlainHTTP: the registry answered the TLS handshake in plain HTTP,
	// so it has no TLS and is to be reached over plain HTTP. It also
	// matches ErrTLS.
	ErrPlainHTTP = fmt.Errorf("%w: registry answered in plain HTTP", ErrTLS)

	// ErrNotAllowed: the registry is not one of Options.AllowedRegistries,
	// so it was not contacted.
	ErrNotAllowed = errors.New("registry not allowed")

	// ErrBlockedAddress: the registry (or a host it sent the client to)
	// resolves to a link-local or cloud metadata address, which the client
	// never connects to.
	ErrBlockedAddress = errors.New("blocked address")

	// ErrNotSignature: a manifest offered as a Notary Project signature is
	// not one (wrong media type or artifact type, or not exactly one
	// envelope layer).
	ErrNotSignature = errors.New("not a Notary Project signature")

	// ErrPlaintextCredentials: Login found no credential helper and
	// Options.AllowPlaintextCredentials is false, so it refused to write the
	// password into the docker config file.
	ErrPlaintextCredentials = errors.New("refusing to store credentials in plaintext")
)

// Error is a failure sorted into one of the sentinel errors. Callers match it
// with errors.Is against Kind, and errors.Is/As still reach the original
// cause (for example context.DeadlineExceeded or *errcode.ErrorResponse).
//
// Summary is written for a person: it says what failed and what to do, and
// names at most the registry host and repository, never URLs or credentials.
// Error() adds the cause, with URL query strings and user info removed.
type Error struct {
	// Kind is the sentinel this error matches, e.g. ErrNotFound.
	Kind error
	// Registry is the registry host:port, if known.
	Registry string
	// StatusCode is the HTTP status the registry answered, or 0 if there
	// was no HTTP answer.
	StatusCode int
	// Summary is the message for a person; see the type comment.
	Summary string
	// Err is the underlying cause; it may be nil.
	Err error
}

var _ error = (*Error)(nil)

// Error returns the summary followed by the redacted cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Summary
	}
	return e.Summary + ": " + redact(e.Err.Error())
}

// Unwrap returns the sentinel and the cause, so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// IsTransient reports whether err is a failure that may go away on retry
// (ErrUnavailable after classification). A transient failure must never be
// cached as a verdict.
func IsTransient(err error) bool {
	return errors.Is(Classify(err), ErrUnavailable)
}

// Classify sorts an error from oras-go, net/http or notation-go's registry
// layer onto the sentinel errors, returning an *Error that keeps err as its
// cause. Errors this package already returned are passed through. Errors it
// cannot place (bad input, protocol violations) are returned unchanged.
func Classify(err error) error {
	return classify(err, target{})
}

// target names what was asked for, so that error text can say "tag v1 not
// found in example.com/app" instead of a bare "not found".
type target struct {
	registry   string // host:port
	repository string // without the registry
	tag        string // or
	digest     string // or neither
	blob       bool   // the digest names a blob, not a manifest
	plainHTTP  bool   // the client reaches the registry over plain HTTP
}

func (t target) repoName() string {
	if t.repository == "" {
		return t.registry
	}
	return t.registry + "/" + t.repository
}

func (t target) notFound() string {
	switch {
	case t.tag != "":
		return fmt.Sprintf("tag %q not found in %s", t.tag, t.repoName())
	case t.digest != "" && t.blob:
		return fmt.Sprintf("blob %s not found in %s", t.digest, t.repoName())
	case t.digest != "":
		return fmt.Sprintf("manifest %s not found in %s", t.digest, t.repoName())
	case t.repository != "":
		return fmt.Sprintf("not found in %s", t.repoName())
	case t.registry != "":
		return fmt.Sprintf("not found on registry %s", t.registry)
	}
	return "not found"
}

// classify does the work of Classify with what the caller knows about the
// request.
func classify(err error, t target) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}

	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		if t.registry == "" && resp.URL != nil {
			t.registry = resp.URL.Host
		}
		return classifyStatus(err, resp, t)
	}

	host := t.registry
	if host == "" {
		host = "the registry"
	}
	var blocked *blockedError
	switch {
	case errors.As(err, &blocked):
		return &Error{Kind: ErrBlockedAddress, Registry: t.registry,
			Summary: fmt.Sprintf("%s resolves to a link-local or cloud metadata address (%s), which hallmark never contacts", host, blocked.addr),
			Err:     err}
	case errors.Is(err, auth.ErrBasicCredentialNotFound) || isMissingBasicCredential(err):
		// The registry asked for basic auth and no credentials were
		// found for it: oras-go gives up before a second 401.
		return &Error{Kind: ErrUnauthorized, Registry: t.registry, StatusCode: http.StatusUnauthorized,
			Summary: fmt.Sprintf("%s requires credentials (401): %s", host, loginHint(t)),
			Err:     err}
	case errors.Is(err, errdef.ErrNotFound):
		return &Error{Kind: ErrNotFound, Registry: t.registry, StatusCode: http.StatusNotFound, Summary: t.notFound(), Err: err}
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return &Error{Kind: ErrTooLarge, Registry: t.registry, Summary: fmt.Sprintf("%s sent more data than hallmark accepts", host), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: ErrUnavailable, Registry: t.registry, Summary: fmt.Sprintf("%s did not answer in time", host), Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: ErrUnavailable, Registry: t.registry, Summary: fmt.Sprintf("request to %s was cancelled", host), Err: err}
	case isPlainHTTPAnswer(err):
		return &Error{Kind: ErrPlainHTTP, Registry: t.registry, Summary: PlainHTTPHint(t.registry), Err: err}
	case isTLSError(err):
		return &Error{Kind: ErrTLS, Registry: t.registry, Summary: tlsSummary(host, err), Err: err}
	case isNetworkError(err):
		return &Error{Kind: ErrUnavailable, Registry: t.registry, Summary: fmt.Sprintf("cannot reach %s", host), Err: err}
	}
	return err
}

// classifyStatus sorts an HTTP error answer by its status code.
func classifyStatus(err error, resp *errcode.ErrorResponse, t target) error {
	e := &Error{Registry: t.registry, StatusCode: resp.StatusCode, Err: err}
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
		e.Summary = fmt.Sprintf("registry %s refused the credentials (401): %s", t.registry, loginHint(t))
	case code == http.StatusForbidden:
		e.Kind = ErrForbidden
		e.Summary = fmt.Sprintf("registry %s denied access to %s (403): the credentials lack permission for it",
			t.registry, t.repoName())
	case code == http.StatusNotFound:
		e.Kind = ErrNotFound
		e.Summary = t.notFound()
		if hasErrorCode(resp, errcode.ErrorCodeNameUnknown) && t.repository != "" {
			e.Summary = fmt.Sprintf("repository %s not found", t.repoName())
		}
	case code == http.StatusTooManyRequests:
		e.Kind = ErrUnavailable
		e.Summary = fmt.Sprintf("registry %s is rate limiting requests (429): try again later", t.registry)
	case code == http.StatusRequestTimeout || code >= 500:
		e.Kind = ErrUnavailable
		e.Summary = fmt.Sprintf("registry %s failed with %d %s: try again later", t.registry, code, http.StatusText(code))
	default:
		return err
	}
	return e
}

// loginHint says how to give hallmark credentials for t's registry.
// It is a command that runs as printed, with --plain-http when the client
// reaches the registry that way.
func loginHint(t target) string {
	if t.registry == "" {
		return "run `hallmark login REGISTRY` or check the docker config"
	}
	flags := ""
	if t.plainHTTP {
		flags = " --plain-http"
	}
	return fmt.Sprintf("run `hallmark login %s%s` or check the docker config", t.registry, flags)
}

func hasErrorCode(resp *errcode.ErrorResponse, code string) bool {
	for _, e := range resp.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

// isMissingBasicCredential matches oras-go's error for stored credentials
// that lack a username or password, which has no sentinel, only this text.
func isMissingBasicCredential(err error) bool {
	return strings.Contains(err.Error(), "missing username or password for basic auth")
}

// isTLSError reports failures that come from TLS setup rather than from the
// network: they will fail the same way on every retry.
func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) ||
		errors.As(err, &hostname) ||
		errors.As(err, &invalid) ||
		errors.As(err, &verification) ||
		errors.As(err, &record)
}

// isPlainHTTPAnswer matches net/http's error for an HTTPS request answered in
// plain HTTP: crypto/tls reads the first bytes of the answer as a record
// header, and net/http, finding "HTTP/" there, says so. It has no typed
// error for it, only this text.
func isPlainHTTPAnswer(err error) bool {
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

func tlsSummary(host string, _ error) string {
	return fmt.Sprintf("TLS with %s failed: trust its CA, or for testing only use --insecure-skip-tls-verify", host)
}

// PlainHTTPHint is hallmark's one diagnosis for a registry that answered a
// TLS handshake in plain HTTP, with what to do about it on the command line
// and in the server configuration.
func PlainHTTPHint(registry string) string {
	who := "the registry"
	if registry != "" {
		who = "registry " + registry
	}
	return who + " answered in plain HTTP: add --plain-http (or `plainHTTP: true` for this host)"
}

// isNetworkError reports failures to reach the registry or to finish reading
// its answer: refused or reset connections, DNS failures, timeouts and
// truncated bodies.
func isNetworkError(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// The parts of a URL that can carry secrets: user info, and the query
// (registries redirect blob downloads to pre-signed URLs whose query is a
// bearer credential).
var (
	urlUserInfo = regexp.MustCompile(`(https?://)[^/\s"@]*@`)
	urlQuery    = regexp.MustCompile(`(https?://[^\s"?]*)\?[^\s"]*`)
)

// redact removes user info and query strings from every URL in s.
func redact(s string) string {
	s = urlUserInfo.ReplaceAllString(s, "$1")
	return urlQuery.ReplaceAllString(s, "$1")
}
