// Package imagepattern is the grammar of the image patterns admission
// exempts (admission.exemptImages): path.Match globs on the whole reference,
// with a trailing "/**" for everything below a prefix. It stands apart from
// admission so that a configuration's patterns are checked by the same rules
// without linking the admission machinery.
package imagepattern

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Match reports whether the image reference matches pattern; see
// admission.MatchImage for the rules. An invalid pattern matches nothing.
func Match(pattern, image string) bool {
	if Check(pattern) != nil {
		return false
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		depth := strings.Count(prefix, "/") + 1
		parts := strings.SplitN(image, "/", depth+1)
		if len(parts) <= depth || parts[depth] == "" {
			return false
		}
		matched, err := path.Match(prefix, strings.Join(parts[:depth], "/"))
		return err == nil && matched
	}
	matched, err := path.Match(pattern, image)
	return err == nil && matched
}

// Check reports why pattern is not a valid exemption pattern; nil for a
// good one.
func Check(pattern string) error {
	if pattern == "" {
		return errors.New("empty pattern")
	}
	body, _ := strings.CutSuffix(pattern, "/**")
	if body == "" || strings.Contains(body, "**") {
		return fmt.Errorf("pattern %q: '**' is only allowed as the last path element, after a prefix (e.g. registry.k8s.io/**)", pattern)
	}
	if _, err := path.Match(body, ""); err != nil {
		return fmt.Errorf("pattern %q: %v", pattern, err)
	}
	return nil
}
