package serve

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// TestConfigAgreesWithRuntime: the configuration spells out the modes and
// defaults of the packages it must not link; each must equal the one the
// runtime hands it to.
func TestConfigAgreesWithRuntime(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"ModeDeny", admission.Mode(config.ModeDeny), admission.ModeDeny},
		{"ModeAudit", admission.Mode(config.ModeAudit), admission.ModeAudit},
		{"DefaultMaxSignatures", config.DefaultMaxSignatures, verify.DefaultMaxSignatures},
		{"MaxSignaturesLimit", config.MaxSignaturesLimit, verify.MaxSignaturesLimit},
		{"DefaultPositiveTTL", config.DefaultPositiveTTL, cache.DefaultPositiveTTL},
		{"DefaultNegativeTTL", config.DefaultNegativeTTL, cache.DefaultNegativeTTL},
		{"DefaultMaxEntries", config.DefaultMaxEntries, cache.DefaultMaxEntries},
	} {
		if c.got != c.want {
			t.Errorf("config.%s = %v; the runtime's is %v", c.name, c.got, c.want)
		}
	}
	// Every mode Validate accepts is one admission accepts.
	for _, m := range []config.Mode{config.ModeDeny, config.ModeAudit} {
		if err := (admission.Policy{Mode: admission.Mode(m)}).Validate(); err != nil {
			t.Errorf("mode %q: %v", m, err)
		}
	}
}
