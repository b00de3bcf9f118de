package config

import (
	"github.com/hallmark-dev/hallmark/internal/admission/imagepattern"
)

// exemptPatternProblem checks an exemption pattern with admission's own
// grammar (imagepattern, which admission.MatchImage uses), so that what
// Validate accepts is what admission will match; it returns "" for a good
// pattern.
func exemptPatternProblem(pattern string) string {
	if err := imagepattern.Check(pattern); err != nil {
		return err.Error()
	}
	return ""
}
