package verify

import "context"

// Failed returns res marked not verified with code, reason, remediation and
// transient, keeping cause for Err and logs. It is for verifiers of other
// signature formats (internal/verify/cosign) that produce Results of their
// own.
func Failed(res Result, code Code, reason, remediation string, transient bool, cause error) Result {
	res.Verified = false
	res.Code, res.Reason, res.Remediation, res.Transient, res.cause = code, reason, remediation, transient, cause
	return res
}

// RegistryFailed is Failed for a registry error met while doing what (for
// example "resolving tag v1") on repoPath at host: the same codes, reasons
// and transience as the Notary Project engine gives.
func RegistryFailed(ctx context.Context, res Result, err error, host, repoPath, what string) Result {
	ex := classifyRegistryError(ctx, err, host, repoPath, what)
	return Failed(res, ex.code, ex.reason, ex.remediation, ex.transient, err)
}
