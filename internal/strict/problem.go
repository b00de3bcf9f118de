// Package strict reads the JSON and YAML documents people write for hallmark
// (configuration, trust policies, certificate policies) with one set of
// rules: unknown and repeated fields are refused, every problem is reported
// with its field path ("trustPolicies[1].registryScopes[0]"), a misspelt
// field gets a "did you mean" suggestion, and a syntax error says its line
// and column. Each document's own rules stay with the package that owns the
// document; this package only reads.
//
// It imports nothing of hallmark, so any package may use it.
package strict

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with an input, located by Path: a field path
// such as "trustPolicies[1].registryScopes[0]", or a file path for inputs
// made of files. Path is empty when the problem is about the input as a
// whole.
type Problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems collects Problems in the order they are found.
type Problems []Problem

// Add records a problem at path.
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Under reports whether a problem was recorded at path or below it.
func (ps Problems) Under(path string) bool {
	for _, p := range ps {
		if p.Path == path || strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"[") {
			return true
		}
	}
	return false
}

// List renders problems the way every hallmark input error shows them:
// "WHAT SOURCE has N problems:" followed by one indented problem a line.
// source may be empty (bytes in memory).
func List(what, source string, problems []Problem) string {
	var b strings.Builder
	b.WriteString(what)
	if source != "" {
		fmt.Fprintf(&b, " %s", source)
	}
	if len(problems) == 1 {
		b.WriteString(" has 1 problem:")
	} else {
		fmt.Fprintf(&b, " has %d problems:", len(problems))
	}
	for _, p := range problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Clip shortens user input echoed in a message, so a pasted file does not
// become a screenful of error.
func Clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
