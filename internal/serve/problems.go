package serve

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/config"
)

// problems collects what is wrong with the files and keys a configuration
// names, reported as a *config.Error like Validate's own problems.
type problems []config.Problem

func (ps *problems) add(path, msg string) {
	*ps = append(*ps, config.Problem{Path: path, Message: msg})
}

// err returns nil for no problems, else a *config.Error.
func (ps problems) err(source string) error {
	if len(ps) == 0 {
		return nil
	}
	return &config.Error{Source: source, Problems: ps}
}

// collect adds a *config.Error's problems, or the error itself, to ps.
func collect(ps *problems, err error) {
	var e *config.Error
	if errors.As(err, &e) {
		*ps = append(*ps, e.Problems...)
		return
	}
	ps.add("", err.Error())
}

// addPolicyProblems copies a trust policy's problems, prefixing their paths.
func addPolicyProblems(ps *problems, prefix string, err error) {
	*ps = append(*ps, config.PolicyProblems(prefix, err)...)
}
