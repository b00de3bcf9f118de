package verify

import (
	"context"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
)

// offlineChains is the code-signing revocation check without a second
// validation of a chain that has nothing to check online.
//
// notation-core-go's checker starts by validating the chain
// (ValidateCodeSigningCertChain without a signing time: three RSA or ECDSA
// verifications for a leaf and a root) and then answers "non-revokable" for
// every certificate that names no OCSP responder and no CRL, and for the
// root. notation-go asks it only from its revocation step, which runs after
// the integrity step has validated that very chain (the one in the
// envelope) with the same function and the signing time, a check that is
// at least as strict; a chain that fails it never reaches revocation. So
// for a chain whose certificates below the root name neither OCSP nor CRL
// (most private PKIs), the answer is known without the second validation,
// which was a tenth of the CPU of a cold verification. Any other chain goes
// to notation-core-go's checker unchanged, and TestOfflineChains holds the
// two answers equal.
//
// It is built for the code-signing chain only: the timestamping checker is
// left as it is.
type offlineChains struct {
	revocation.Validator
}

// ValidateContext implements revocation.Validator.
func (v offlineChains) ValidateContext(ctx context.Context, opts revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	chain := opts.CertChain
	if len(chain) == 0 {
		return v.Validator.ValidateContext(ctx, opts)
	}
	for _, c := range chain[:len(chain)-1] {
		if c == nil || len(c.OCSPServer) > 0 || len(c.CRLDistributionPoints) > 0 {
			return v.Validator.ValidateContext(ctx, opts)
		}
	}
	out := make([]*result.CertRevocationResult, len(chain))
	for i := range out {
		// What notation-core-go answers for a certificate it cannot
		// check, word for word.
		out[i] = &result.CertRevocationResult{
			Result: result.ResultNonRevokable,
			ServerResults: []*result.ServerResult{{
				Result:           result.ResultNonRevokable,
				RevocationMethod: result.RevocationMethodUnknown,
			}},
			RevocationMethod: result.RevocationMethodUnknown,
		}
	}
	return out, nil
}
