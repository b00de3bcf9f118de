package config

import (
	"errors"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// ErrInvalidConfig means a configuration cannot be used. The error is an
// *Error listing every problem with its field path.
var ErrInvalidConfig = errors.New("invalid configuration")

// Problem is one thing wrong with a configuration, located by its field
// path, such as "registries[1].hosts[0]" or "trustPolicy.inline.trustPolicies[0].name".
// It is the one Problem type of every hallmark input (strict.Problem), so a
// trust policy's problems are copied into a configuration's as they are.
type Problem = strict.Problem

// Error reports every problem found in a configuration at once, so that a
// person fixes them in one edit instead of one per run.
type Error struct {
	// Source names the input: a file path, or empty for bytes in memory.
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration")
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": " + e.Problems[0].String())
		return b.String()
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *Error) Is(target error) bool { return target == ErrInvalidConfig }

// problems collects Problems.
type problems []Problem

func (ps *problems) add(path, msg string) {
	*ps = append(*ps, Problem{Path: path, Message: msg})
}

// err returns nil for no problems, else an *Error.
func (ps problems) err(source string) error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Source: source, Problems: ps}
}
