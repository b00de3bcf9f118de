package trustpolicy

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
)

// FuzzParseTrustPolicy checks that no input panics, that every rejection is
// a *PolicyError, and that an accepted policy is one notation-go accepts and
// reads exactly as hallmark does.
func FuzzParseTrustPolicy(f *testing.F) {
	f.Add([]byte(validPolicy))
	for _, c := range policyProblemCases() {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("rejection is not a *PolicyError with problems: %#v", err)
			}
			return
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("accepted a policy notation-go rejects: %v", err)
		}
		var theirs trustpolicy.Document
		if err := json.Unmarshal(data, &theirs); err != nil {
			t.Fatalf("accepted a policy encoding/json cannot read: %v", err)
		}
		if diff := cmp.Diff(&theirs, doc); diff != "" {
			t.Fatalf("hallmark and encoding/json read the policy differently (-json +hallmark):\n%s", diff)
		}
	})
}
