package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// AdmissionPolicy returns the admission policy the configuration asks for:
// mode, namespaces, exemptions, deadline and pinning. Its slices and map are
// copies, so the policy does not change with the configuration. Call it on
// a configuration that passed Validate; mutate is not part of the policy
// (the server applies it).
func (c *Config) AdmissionPolicy() admission.Policy {
	a := &c.Admission
	return admission.Policy{
		Mode:              c.Mode,
		NamespaceModes:    maps.Clone(a.NamespaceModes),
		IncludeNamespaces: slices.Clone(a.IncludeNamespaces),
		ExcludeNamespaces: slices.Clone(a.ExcludeNamespaces),
		ExemptImages:      slices.Clone(a.ExemptImages),
		Deadline:          c.Verification.Deadline.Duration,
		PinDigestOnly:     a.PinDigestOnly,

		TrustNamespacePrefixFromAnyCaller: a.TrustNamespacePrefixFromAnyCaller,
	}
}

// exemptPatternProblem checks an exemption pattern with admission's own
// rules (admission.MatchImage), so that what Validate accepts is what
// admission will match; it returns "" for a good pattern.
func exemptPatternProblem(pattern string) string {
	err := admission.Policy{ExemptImages: []string{pattern}}.Validate()
	if err == nil {
		return ""
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "exemptImages[0]: "); ok {
		msg = after
	}
	return msg
}
