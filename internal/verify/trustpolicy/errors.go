package trustpolicy

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// ErrInvalidPolicy means a trust policy document is malformed or breaks a
// Notary Project rule. The error is a *PolicyError listing every problem.
var ErrInvalidPolicy = errors.New("invalid trust policy")

// Problem is one thing wrong with a trust policy, located by its JSON field
// path such as "trustPolicies[1].registryScopes[0]".
type Problem = strict.Problem

// PolicyError reports every problem found in a trust policy at once, so a
// person can fix them in one edit instead of one per run.
type PolicyError struct {
	// Source names the input (a file path), or is empty for bytes in memory.
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *PolicyError) Error() string {
	return strict.List("trust policy", e.Source, e.Problems)
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }
