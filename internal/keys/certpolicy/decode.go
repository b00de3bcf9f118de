package certpolicy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// policyEnvelope is the {"policy": {...}} form the vault returns.
type policyEnvelope struct {
	Policy *Policy `json:"policy"`
}

// snakeCaseHints maps the vault REST API's field names to the CLI's, which
// are the ones hallmark reads.
var snakeCaseHints = map[string]string{
	"key_props":        "keyProperties",
	"secret_props":     "secretProperties",
	"x509_props":       "x509CertificateProperties",
	"lifetime_actions": "lifetimeActions",
	"issuer":           "issuerParameters",
}

// Parse reads a certificate policy (see Policy) in JSON, bare or
// wrapped in {"policy": {...}}, applies defaults and validates it. Every
// error wraps ErrInvalidPolicy and is a *PolicyError listing every problem
// with its JSON field path: syntax errors with line and column, unknown or
// duplicate fields, values of the wrong type, and everything Validate
// reports. Field names are matched exactly, unlike encoding/json, so a typo
// such as "keysize" is an error rather than silently the default.
func Parse(data []byte) (*Policy, error) {
	fail := func(probs ...Problem) (*Policy, error) { return nil, &PolicyError{Problems: probs} }
	if len(data) > MaxSize {
		return fail(Problem{Message: fmt.Sprintf("policy is larger than %d bytes; a certificate policy is a few hundred bytes of JSON", MaxSize)})
	}

	root, err := strict.ParseJSON(data)
	if errors.Is(err, strict.ErrEmpty) {
		return fail(Problem{Message: "policy is empty; expected a JSON object"})
	}
	if err != nil {
		return fail(Problem{Message: err.Error()})
	}
	if root.Kind != strict.Object {
		return fail(Problem{Message: "policy must be a JSON object, not " + root.Describe()})
	}

	// A bare policy has no "policy" field, so its presence means the
	// wrapped form.
	var (
		p      *Policy
		prefix string
	)
	opts := strict.DecodeOptions{Unknown: unknownFieldMessage, IntBits: 32}
	if _, wrapped := root.Vals["policy"]; wrapped {
		var env policyEnvelope
		if probs := strict.Decode(root, &env, opts); len(probs) > 0 {
			return fail(probs...)
		}
		if env.Policy == nil {
			return fail(Problem{Path: "policy", Message: "must be an object, not null"})
		}
		p, prefix = env.Policy, "policy."
	} else {
		p = &Policy{}
		if probs := strict.Decode(root, p, opts); len(probs) > 0 {
			return fail(probs...)
		}
	}

	p.ApplyDefaults()
	if probs := p.problems(); len(probs) > 0 {
		for i := range probs {
			probs[i].Path = prefix + probs[i].Path
		}
		return fail(probs...)
	}
	return p, nil
}

// unknownFieldMessage words an unknown field for a certificate policy:
// fields next to a wrapped policy (the rest of a certificate bundle) and
// the vault REST API's names get advice of their own.
func unknownFieldMessage(key string, known []string) string {
	if len(known) == 1 && known[0] == "policy" {
		return "unknown field next to \"policy\"; give the policy object alone " +
			"(for example the output of az keyvault certificate show --query policy)"
	}
	if hint, ok := snakeCaseHints[key]; ok {
		if slices.Contains(known, hint) {
			return fmt.Sprintf("unknown field; hallmark reads the Azure CLI's camelCase form: use %q", hint)
		}
	}
	return strict.UnknownField(key, known)
}
