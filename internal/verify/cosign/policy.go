package cosign

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// Wildcard is the registry scope that covers every repository.
const Wildcard = "*"

// Identity is the signer a keyless signature must come from: the
// certificate's subject alternative name (an e-mail address, a URI such as a
// GitHub Actions workflow) and the OIDC issuer that vouched for it. Each of
// the two is given exactly, or as a regular expression (Go syntax, matched
// against the whole value as cosign does: anchor it with ^ and $).
type Identity struct {
	// Subject is the certificate identity, exactly. Empty: SubjectRegExp.
	Subject string
	// SubjectRegExp matches the certificate identity. Empty: Subject.
	SubjectRegExp string
	// Issuer is the OIDC issuer URL, exactly. Empty: IssuerRegExp.
	Issuer string
	// IssuerRegExp matches the OIDC issuer. Empty: Issuer.
	IssuerRegExp string
}

func (id Identity) String() string {
	s, i := id.Subject, id.Issuer
	if s == "" {
		s = "~" + id.SubjectRegExp
	}
	if i == "" {
		i = "~" + id.IssuerRegExp
	}
	return fmt.Sprintf("identity %s from issuer %s", s, i)
}

// validate checks that exactly one of each pair is set and that the
// regular expressions compile.
func (id Identity) validate() error {
	if (id.Subject == "") == (id.SubjectRegExp == "") {
		return fmt.Errorf("set exactly one of subject and subjectRegExp")
	}
	if (id.Issuer == "") == (id.IssuerRegExp == "") {
		return fmt.Errorf("set exactly one of issuer and issuerRegExp")
	}
	for _, re := range []string{id.SubjectRegExp, id.IssuerRegExp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("regular expression %q: %v", re, err)
		}
	}
	return nil
}

func (id Identity) sigstore() (sgverify.CertificateIdentity, error) {
	return sgverify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegExp, id.Subject, id.SubjectRegExp)
}

// Policy says which cosign signatures an image in its scopes must carry:
// one made with any of Keys, or a keyless one whose certificate matches any
// of Identities. The zero value accepts nothing.
type Policy struct {
	// Name identifies the policy in reasons and reports.
	Name string
	// Scopes are the repositories (registry/repository, as in a Notary
	// Project trust policy's registryScopes) the policy covers, or "*" for
	// every repository not named by another policy.
	Scopes []string
	// Keys are the public keys keyed signatures are checked against.
	Keys []Key
	// Identities are the signers keyless signatures are accepted from.
	// Keyless verification needs TrustedRoot.
	Identities []Identity
	// Revoked names the keys the policy's configuration names that their
	// owner revoked where they are kept (a Key Vault: every version it
	// would accept disabled, or the key deleted), so none is in Keys. A
	// policy left without keys by them is valid, accepts no keyed
	// signature, and says why.
	Revoked []string
	// TrustedRoot holds the Fulcio CAs, Rekor logs and timestamping
	// authorities that keyless signatures, and keyed ones with
	// RequireTransparencyLog or RequireSignedTimestamp, are checked against.
	// Nil: keyed verification only, with neither requirement.
	TrustedRoot root.TrustedMaterial
	// RequireTransparencyLog requires a Rekor entry, verified against
	// TrustedRoot, for every accepted signature. False: keyed signatures
	// need none (like cosign verify --insecure-ignore-tlog); keyless ones
	// still need a Rekor entry or a signed timestamp.
	RequireTransparencyLog bool
	// RequireSignedTimestamp requires an RFC 3161 timestamp from one of
	// TrustedRoot's timestamping authorities for every accepted signature.
	RequireSignedTimestamp bool
}

// Validate reports every problem with the policy at once.
func (p *Policy) Validate() error {
	var problems []string
	if len(p.Scopes) == 0 {
		problems = append(problems, "scopes is empty: name the repositories it covers, or \"*\"")
	}
	for _, s := range p.Scopes {
		if s == "" || strings.ContainsAny(s, " \t@") || (s != Wildcard && strings.Contains(s, "*")) {
			problems = append(problems, fmt.Sprintf("scope %q is not registry/repository or \"*\"", s))
		}
	}
	if len(p.Keys) == 0 && len(p.Identities) == 0 && len(p.Revoked) == 0 {
		problems = append(problems, "it has neither keys nor keyless identities, so it accepts nothing")
	}
	for i, k := range p.Keys {
		if err := CheckPublicKey(k.Public); err != nil {
			problems = append(problems, fmt.Sprintf("keys[%d]: %v", i, err))
		}
	}
	for i, id := range p.Identities {
		if err := id.validate(); err != nil {
			problems = append(problems, fmt.Sprintf("keyless identities[%d]: %v", i, err))
		}
	}
	if p.TrustedRoot == nil {
		switch {
		case len(p.Identities) > 0:
			problems = append(problems, "keyless identities need a trusted root (Fulcio CAs, Rekor logs)")
		case p.RequireTransparencyLog:
			problems = append(problems, "requiring a transparency-log entry needs a trusted root with the Rekor log keys")
		case p.RequireSignedTimestamp:
			problems = append(problems, "requiring a signed timestamp needs a trusted root with the timestamping authorities")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Errorf("%w %s: %s", ErrInvalidPolicy, name, strings.Join(problems, "; "))
}

// covers reports how p covers repoPath: 2 by name, 1 by "*", 0 not.
func (p *Policy) covers(repoPath string) int {
	best := 0
	for _, s := range p.Scopes {
		if s == repoPath {
			return 2
		}
		if s == Wildcard {
			best = 1
		}
	}
	return best
}
