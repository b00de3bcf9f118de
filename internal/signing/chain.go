package signing

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// checkChain applies notation-core-go's own certificate rules at the signing
// time, before the key store is asked to sign: the same check runs again
// inside the envelope code, but only after the signature has been made, and
// its message names the rule without saying what to do about it.
func checkChain(chain []*x509.Certificate, at time.Time) error {
	if err := nx509.ValidateCodeSigningCertChain(chain, &at); err != nil {
		return chainError(err)
	}
	return nil
}

// chainError wraps a rule violation found by notation-core-go in
// ErrInvalidChain with a hint about the rule that was broken.
func chainError(err error) error {
	return fmt.Errorf("%w: %v. %s", ErrInvalidChain, err, chainHint(err.Error()))
}

// chainHint picks the remedy for the rule a notation-core-go message names.
// The messages are not an API, so an unrecognised one gets the full rule set.
func chainHint(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "extended key usage"):
		return "A Notary Project signing certificate may list only codeSigning (1.3.6.1.5.5.7.3.3) as extended key usage, or none; " +
			"serverAuth, clientAuth, emailProtection, timeStamping and OCSPSigning are refused, so a TLS certificate " +
			"(mkcert, openssl defaults, ACME) cannot sign. Issue a certificate with the codeSigning EKU."
	case strings.Contains(m, "key usage"):
		return "The signing certificate needs a critical keyUsage extension with digitalSignature and no other usage " +
			"(no keyEncipherment, keyCertSign, ...); CA certificates need a critical keyUsage with keyCertSign."
	case strings.Contains(m, "basic constraints"):
		return "CA certificates need a critical basicConstraints extension with cA=true; the signing certificate must not be a CA."
	case strings.Contains(m, "at signing time"):
		return "Every certificate in the chain must be valid now: renew the expired or not-yet-valid certificate, or check the clock."
	case strings.Contains(m, "self-signed"), strings.Contains(m, "issued by"), strings.Contains(m, "root"):
		return "Order the chain leaf first, then each intermediate, and end it with the self-signed root; " +
			"a single certificate must be a self-signed signing certificate."
	default:
		return "The Notary Project requires a chain ordered leaf to root that ends in a self-signed root, " +
			"a signing certificate with critical keyUsage digitalSignature and at most the codeSigning EKU, and CA certificates with critical basicConstraints cA=true and keyUsage keyCertSign."
	}
}
