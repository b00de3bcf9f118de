package trustpolicy

import (
	"fmt"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// policyBuilder turns the JSON tree into a trustpolicy.Document and records
// structural problems: wrong JSON types, unknown and repeated fields.
// typeErr remembers the paths whose value could not be read, so that the
// semantic checks do not report them a second time as "missing".
type policyBuilder struct {
	problems []Problem
	typeErr  map[string]bool
}

func (b *policyBuilder) add(path, format string, args ...any) {
	b.problems = append(b.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (b *policyBuilder) wrongType(path string, n *strict.Node, want string) {
	b.typeErr[path] = true
	if path == "" {
		b.add(path, "the document must be %s, not %s", want, n.Describe())
		return
	}
	b.add(path, "must be %s, not %s", want, n.Describe())
}

// object checks that n is an object with only known fields.
func (b *policyBuilder) object(path string, n *strict.Node, known []string) bool {
	if n.Kind != strict.Object {
		b.wrongType(path, n, "an object")
		return false
	}
	for _, k := range n.Dups {
		b.add(strict.Field(path, k), "appears more than once; keep one (JSON readers disagree on which one wins)")
	}
	for _, k := range n.Keys {
		if !contains(known, k) {
			b.add(strict.Field(path, k), "%s", strict.UnknownField(k, known))
		}
	}
	return true
}

func (b *policyBuilder) str(path string, n *strict.Node) string {
	if n.Kind != strict.String {
		b.wrongType(path, n, "a string")
		return ""
	}
	return n.Str
}

// strs reads an array of strings. An element of the wrong type keeps its
// index with an empty placeholder so that later paths stay right.
func (b *policyBuilder) strs(path string, n *strict.Node) []string {
	if n.Kind != strict.Array {
		b.wrongType(path, n, "an array of strings")
		return nil
	}
	out := make([]string, len(n.Elems))
	for i, e := range n.Elems {
		out[i] = b.str(fmt.Sprintf("%s[%d]", path, i), e)
	}
	return out
}

func (b *policyBuilder) document(root *strict.Node) *trustpolicy.Document {
	doc := &trustpolicy.Document{}
	if !b.object("", root, documentFields) {
		return doc
	}
	if v, ok := root.Vals["version"]; ok {
		doc.Version = b.str("version", v)
	}
	if v, ok := root.Vals["trustPolicies"]; ok {
		if v.Kind != strict.Array {
			b.wrongType("trustPolicies", v, "an array of trust policy statements")
		} else {
			doc.TrustPolicies = make([]trustpolicy.TrustPolicy, len(v.Elems))
			for i, e := range v.Elems {
				doc.TrustPolicies[i] = b.statement(fmt.Sprintf("trustPolicies[%d]", i), e)
			}
		}
	}
	return doc
}

func (b *policyBuilder) statement(path string, n *strict.Node) trustpolicy.TrustPolicy {
	var st trustpolicy.TrustPolicy
	if !b.object(path, n, statementFields) {
		return st
	}
	if v, ok := n.Vals["name"]; ok {
		st.Name = b.str(path+".name", v)
	}
	if v, ok := n.Vals["registryScopes"]; ok {
		st.RegistryScopes = b.strs(path+".registryScopes", v)
	}
	if v, ok := n.Vals["trustStores"]; ok {
		st.TrustStores = b.strs(path+".trustStores", v)
	}
	if v, ok := n.Vals["trustedIdentities"]; ok {
		st.TrustedIdentities = b.strs(path+".trustedIdentities", v)
	}
	if v, ok := n.Vals["signatureVerification"]; ok {
		svPath := path + ".signatureVerification"
		if b.object(svPath, v, sigVerifyFields) {
			if l, ok := v.Vals["level"]; ok {
				st.SignatureVerification.VerificationLevel = b.str(svPath+".level", l)
			}
			if t, ok := v.Vals["verifyTimestamp"]; ok {
				st.SignatureVerification.VerifyTimestamp = trustpolicy.TimestampOption(b.str(svPath+".verifyTimestamp", t))
			}
			if o, ok := v.Vals["override"]; ok {
				st.SignatureVerification.Override = b.override(svPath+".override", o)
			}
		}
	}
	return st
}

func (b *policyBuilder) override(path string, n *strict.Node) map[trustpolicy.ValidationType]trustpolicy.ValidationAction {
	if n.Kind != strict.Object {
		b.wrongType(path, n, `an object such as {"revocation": "log"}`)
		return nil
	}
	for _, k := range n.Dups {
		b.add(strict.Field(path, k), "appears more than once; keep one")
	}
	out := make(map[trustpolicy.ValidationType]trustpolicy.ValidationAction, len(n.Keys))
	for _, k := range n.Keys {
		out[trustpolicy.ValidationType(k)] = trustpolicy.ValidationAction(b.str(strict.Field(path, k), n.Vals[k]))
	}
	return out
}
