package signing

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/tspclient-go"
)

// Envelope formats accepted in Options.Format.
const (
	FormatCOSE = "cose"
	FormatJWS  = "jws"
)

// reservedMetadataPrefix is reserved by the Notary Project signature
// specification for its own attributes; notation-go refuses user metadata
// keys with it, and we refuse them up front so every problem is reported at
// once by Validate.
const reservedMetadataPrefix = "io.cncf.notary"

// DefaultTimestampTimeout bounds one request to a timestamp authority when
// Options.TimestampHTTPClient is nil. The notation CLI uses the same 15 s: a
// TSA slower than that is better reported than waited for.
const DefaultTimestampTimeout = 15 * time.Second

// signingAgentName is the product part of the default signing agent.
const signingAgentName = "hallmark"

// Options configure one signature. The zero value is valid: a COSE envelope
// that never expires, without user metadata or timestamp, whose signing agent
// is DefaultSigningAgent().
type Options struct {
	// Format is the envelope format, FormatCOSE or FormatJWS. "" means COSE:
	// it is smaller than JWS (binary certificates, no base64) and every
	// notation-go verifier reads both.
	Format string

	// Expiry is how long after signing the signature expires; it is signed
	// as the io.cncf.notary.expiry attribute. 0 means it never expires. It
	// must be a whole number of seconds, the granularity of the attribute.
	Expiry time.Duration

	// UserMetadata is signed into the payload's targetArtifact.annotations,
	// where verifiers can require it. nil means none. Keys must not start
	// with the reserved "io.cncf.notary" prefix.
	UserMetadata map[string]string

	// TimestampURL is an RFC 3161 timestamp authority (http or https) that
	// countersigns the signature, so it stays verifiable after the signing
	// certificate expires. "" means no timestamp.
	TimestampURL string

	// TimestampRootCAs are the roots the TSA's token must chain to; the token
	// is checked at signing time so a bad TSA fails the signing, not a later
	// verification. Required when TimestampURL is set, and must be nil when it
	// is not.
	TimestampRootCAs *x509.CertPool

	// TimestampHTTPClient talks to the TSA. nil means a client with
	// DefaultTimestampTimeout and the default transport.
	TimestampHTTPClient *http.Client

	// SigningAgent is written, unsigned, into the envelope to say which
	// software made it. "" means DefaultSigningAgent().
	SigningAgent string
}

// DefaultSigningAgent returns "hallmark/<version>", the version taken from the
// binary's build information ("devel" for a build from a work tree). The CLI
// sets Options.SigningAgent when it knows a better version string.
func DefaultSigningAgent() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = strings.TrimPrefix(bi.Main.Version, "v")
	}
	return signingAgentName + "/" + v
}

// Validate reports every problem with the options at once, wrapped in
// ErrInvalidOptions.
func (o Options) Validate() error {
	var problems []string
	if _, err := o.mediaType(); err != nil {
		problems = append(problems, err.Error())
	}
	if o.Expiry < 0 {
		problems = append(problems, fmt.Sprintf("expiry %s is negative: use 0 for a signature that does not expire", o.Expiry))
	} else if o.Expiry%time.Second != 0 {
		problems = append(problems, fmt.Sprintf("expiry %s is not a whole number of seconds", o.Expiry))
	}
	keys := make([]string, 0, len(o.UserMetadata))
	for k := range o.UserMetadata {
		keys = append(keys, k)
	}
	sort.Strings(keys) // stable messages
	for _, k := range keys {
		switch {
		case k == "":
			problems = append(problems, "user metadata key is empty")
		case strings.HasPrefix(k, reservedMetadataPrefix):
			problems = append(problems, fmt.Sprintf("user metadata key %q uses the prefix %q, which the Notary Project reserves", k, reservedMetadataPrefix))
		}
	}
	switch {
	case o.TimestampURL != "":
		if err := checkTSAURL(o.TimestampURL); err != nil {
			problems = append(problems, err.Error())
		}
		if o.TimestampRootCAs == nil {
			problems = append(problems, "timestamp URL is set but no TSA root certificates are: the timestamp token must be checked against the roots you trust for that TSA")
		}
	case o.TimestampRootCAs != nil:
		problems = append(problems, "TSA root certificates are set but no timestamp URL is")
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
}

// mediaType maps Format to the envelope media type.
func (o Options) mediaType() (string, error) {
	switch o.Format {
	case "", FormatCOSE:
		return cose.MediaTypeEnvelope, nil
	case FormatJWS:
		return jws.MediaTypeEnvelope, nil
	default:
		return "", fmt.Errorf("unknown signature format %q: use cose or jws", o.Format)
	}
}

func checkTSAURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("timestamp URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("timestamp URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("timestamp URL %q has no host", raw)
	}
	return nil
}

// signerSignOptions turns validated options into notation-go's form.
func (o Options) signerSignOptions() (notation.SignerSignOptions, error) {
	mt, err := o.mediaType()
	if err != nil {
		return notation.SignerSignOptions{}, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	so := notation.SignerSignOptions{
		SignatureMediaType: mt,
		ExpiryDuration:     o.Expiry,
		SigningAgent:       o.SigningAgent,
	}
	if so.SigningAgent == "" {
		so.SigningAgent = DefaultSigningAgent()
	}
	if o.TimestampURL != "" {
		client := o.TimestampHTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultTimestampTimeout}
		}
		ts, err := tspclient.NewHTTPTimestamper(client, o.TimestampURL)
		if err != nil {
			return notation.SignerSignOptions{}, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
		so.Timestamper = ts
		so.TSARootCAs = o.TimestampRootCAs
	}
	return so, nil
}
