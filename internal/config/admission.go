package config

import (
	"strings"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// exemptPatternProblem checks an exemption pattern with admission's own
// rules (admission.MatchImage), so that what Validate accepts is what
// admission will match; it returns "" for a good pattern.
func exemptPatternProblem(pattern string) string {
	err := admission.Policy{ExemptImages: []string{pattern}}.Validate()
	if err == nil {
		return ""
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "exemptImages[0]: "); ok {
		msg = after
	}
	return msg
}
