package verify

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
)

// TestEngineRequireAllSignatures: with RequireAllSignatures an image passes
// only when it has signatures and each one verifies, whichever order the
// registry lists them in; without it, one that verifies is enough.
func TestEngineRequireAllSignatures(t *testing.T) {
	for _, referrersAPI := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrersAPI=%v", referrersAPI), func(t *testing.T) {
			f := newFixture(t, referrersAPI)
			key, leaf := f.root.ValidLeaf(t, "builder")
			good := []*x509.Certificate{leaf, f.root.Cert}
			badKey, badLeaf := f.other.ValidLeaf(t, "builder")
			bad := []*x509.Certificate{badLeaf, f.other.Cert}
			// Repositories under the strict statement, new tags.
			goodThenBad := f.reg.pushImage(t, "multi-pass", "good-then-bad", "good, then bad")
			f.reg.sign(t, "multi-pass", goodThenBad, key, good, jws.MediaTypeEnvelope)
			f.reg.sign(t, "multi-pass", goodThenBad, badKey, bad, cose.MediaTypeEnvelope)
			twoGood := f.reg.pushImage(t, "multi-pass", "two-good", "two good")
			f.reg.sign(t, "multi-pass", twoGood, key, good, jws.MediaTypeEnvelope)
			f.reg.sign(t, "multi-pass", twoGood, key, good, cose.MediaTypeEnvelope)

			all, err := NewEngine(f.policy, f.store, plainHTTPRepositories{}, EngineOptions{RequireAllSignatures: true})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name    string
				ref     string
				anyOK   bool // without RequireAllSignatures
				allCode Code
				reason  string // in the Reason under RequireAllSignatures
				orCode  Code   // also right: the first failure in the registry's order decides
			}{
				{"one good", f.reg.ref("valid-jws", f.images["valid-jws"]), true, CodeVerified, "verified under trust policy statement", ""},
				{"bad, then good", f.reg.ref("multi-pass", f.images["multi-pass"]), true, CodeUntrustedSigner, "and every signature must (verification.requireAllSignatures)", ""},
				{"good, then bad", f.reg.ref("multi-pass", goodThenBad), true, CodeUntrustedSigner, "and every signature must", ""},
				{"two good", f.reg.ref("multi-pass", twoGood), true, CodeVerified, "all 2 signatures verified", ""},
				{"both bad", f.reg.ref("multi-fail", f.images["multi-fail"]), false, CodeUntrustedSigner, "does not verify", CodeSignatureExpired},
				{"unsigned", f.reg.ref("unsigned", f.images["unsigned"]), false, CodeNoSignature, "no Notary Project signature found", ""},
				{"not an envelope", f.reg.ref("odd-format", f.images["odd-format"]), false, CodeUnsupportedFormat, "does not verify", ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if r := f.engine.Verify(context.Background(), tt.ref); r.Verified != tt.anyOK {
						t.Errorf("without RequireAllSignatures: Verified=%v (%s), want %v", r.Verified, r.Reason, tt.anyOK)
					}
					r := all.Verify(context.Background(), tt.ref)
					codeOK := r.Code == tt.allCode || (tt.orCode != "" && r.Code == tt.orCode)
					if !codeOK || r.Verified != (tt.allCode == CodeVerified) || !strings.Contains(r.Reason, tt.reason) {
						t.Fatalf("with RequireAllSignatures: %s (Verified=%v): %s; want %s saying %q", r.Code, r.Verified, r.Reason, tt.allCode, tt.reason)
					}
					if !r.Verified && r.Transient {
						t.Errorf("a signature that does not verify is not transient")
					}
				})
			}
			// A limit that leaves signatures unread cannot say all verified.
			limited, err := NewEngine(f.policy, f.store, plainHTTPRepositories{}, EngineOptions{RequireAllSignatures: true, MaxSignatures: 1})
			if err != nil {
				t.Fatal(err)
			}
			if r := limited.Verify(context.Background(), f.reg.ref("multi-pass", twoGood)); r.Verified || !strings.Contains(r.Reason, "more than 1 signatures") {
				t.Errorf("two good signatures over a limit of 1: Verified=%v: %s", r.Verified, r.Reason)
			}
		})
	}
}
