package truststore

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

var (
	// ErrInvalid means a trust store directory or certificate is unusable.
	// The error from Load is an *Error listing every problem.
	ErrInvalid = errors.New("invalid trust store")

	// ErrNotFound means a trust store named by a trust policy has no
	// certificates.
	ErrNotFound = errors.New("trust store not found")
)

// Problem is one thing wrong with a trust store, located by the path of the
// file or directory it concerns.
type Problem = strict.Problem

// Error reports every problem found while loading a trust store.
type Error struct {
	// Source is the trust store directory.
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *Error) Error() string {
	return strict.List("trust store", e.Source, e.Problems)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
