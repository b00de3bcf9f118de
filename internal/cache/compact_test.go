package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// ignoreUnexported leaves out the engine's bookkeeping (a signature's logged
// checks, already turned into the Result's Warnings), which nothing outside
// package verify reads. A Result's cause is compared through Cause.
var ignoreUnexported = cmpopts.IgnoreUnexported(verify.Result{}, verify.SignatureResult{})

// kept is r as the cache keeps it: Reference and Duration are set per
// answer.
func kept(r verify.Result) verify.Result {
	r.Reference, r.Duration = "", 0
	return r
}

func checkRoundTrip(t *testing.T, r verify.Result) verdict {
	t.Helper()
	v := compact(r)
	got := v.result(r.Digest)
	if diff := cmp.Diff(kept(r), got, ignoreUnexported); diff != "" {
		t.Fatalf("compact round trip changed the result (-kept +rebuilt):\n%s", diff)
	}
	if got.Cause() != r.Cause() {
		t.Fatalf("cause %v rebuilt as %v", r.Cause(), got.Cause())
	}
	return v
}

func TestCompactRoundTrip(t *testing.T) {
	ref := img("team/app", 1)
	withSigs := func(r verify.Result, sigs ...verify.SignatureResult) verify.Result {
		r.Signatures = sigs
		return r
	}
	untrusted := verify.SignatureResult{Digest: dg(7), Format: "application/cose", Code: verify.CodeUntrustedSigner,
		Reason: "signature " + dg(7) + " is signed by CN=other, which no trust store trusts", Remediation: "add it",
		SignerSubject: "CN=other", Validations: realistic(ref).Signatures[0].Validations[:2]}
	tests := []struct {
		name     string
		r        verify.Result
		wantFull bool
	}{
		{"verified, engine-shaped", realistic(ref), false},
		{"verified, no signatures", passed(ref), false},
		{"skipped with a warning", func() verify.Result {
			r := passed(ref)
			r.Code, r.Warnings = verify.CodeSkipped, []string{"skips signature verification"}
			return r
		}(), false},
		{"verified under audit: warnings and remediation", func() verify.Result {
			r := realistic(ref)
			r.Warnings = []string{"authenticity check failed, but level audit only logs it: x", "expiry check failed, but level audit only logs it: y"}
			r.Remediation = "add the signer"
			return r
		}(), false},
		{"failed, several signatures", withSigs(failed(ref, verify.CodeUntrustedSigner, false), untrusted, realistic(ref).Signatures[0], untrusted), false},
		{"cosign signature", withSigs(passed(ref), verify.SignatureResult{Verifier: "cosign", Digest: dg(9), SigningScheme: "sigstore.key", Verified: true, Code: verify.CodeVerified}), false},
		{"a tag kept", func() verify.Result { r := passed(ref); r.Tag = "v1"; return r }(), false},
		{"with a cause: kept whole", verify.Failed(passed(ref), verify.CodeImageNotFound, "not found", "push it", false, errors.New("registry said 404")), true},
		{"empty warnings: kept whole", func() verify.Result { r := passed(ref); r.Warnings = []string{}; return r }(), true},
		{"six warnings: kept whole", func() verify.Result { r := passed(ref); r.Warnings = strings.Split("a b c d e f", " "); return r }(), true},
		{"empty signatures: kept whole", withSigs(passed(ref), []verify.SignatureResult{}...), true},
		{"six validations: kept whole", func() verify.Result {
			r := realistic(ref)
			r.Signatures[0].Validations = append(r.Signatures[0].Validations, verify.Validation{Type: "extra"})
			return r
		}(), true},
		{"empty validations: kept whole", func() verify.Result {
			r := realistic(ref)
			r.Signatures[0].Validations = []verify.Validation{}
			return r
		}(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Duration = time.Second
			v := checkRoundTrip(t, tc.r)
			if full := v.full != nil; full != tc.wantFull {
				t.Errorf("kept whole: %v, want %v", full, tc.wantFull)
			}
			if v.full != nil && v.full.Reference != "" {
				t.Errorf("a result kept whole keeps its reference %q", v.full.Reference)
			}
		})
	}
}

// TestCompactShares: two images signed by one key under one statement
// share everything but their digests and signing times.
func TestCompactShares(t *testing.T) {
	a, b := compact(realistic(img("team/app", 1))), compact(realistic(img("team/application", 2)))
	if a.head != b.head {
		t.Error("two verdicts that say the same keep two heads")
	}
	if a.sigs[0].shape != b.sigs[0].shape {
		t.Error("two signatures by one key under one statement keep two shapes")
	}
	if a.sigs[0].digest == b.sigs[0].digest {
		t.Fatal("test images share a signature digest")
	}
}

// TestCachedEqualsFresh: through the cache, the answer for a cached verdict
// is the fresh one, but for Cached, Duration and the cap on kept signatures.
func TestCachedEqualsFresh(t *testing.T) {
	results := map[string]verify.Result{}
	f := newFake(nil)
	f.outcome = func(_ context.Context, ref string) verify.Result { return results[ref] }
	c := New(f, Options{})
	refs := []string{img("a/app", 1), img("a/app", 2), img("b/app", 3), img("b/app", 4)}
	results[refs[0]] = realistic(refs[0])
	results[refs[1]] = func() verify.Result {
		r := realistic(refs[1])
		r.Warnings, r.Remediation = []string{"expiry check failed, but level permissive only logs it: expired"}, "re-sign"
		return r
	}()
	results[refs[2]] = func() verify.Result {
		r := failed(refs[2], verify.CodeUntrustedSigner, false)
		r.Signatures = realistic(refs[2]).Signatures
		r.Signatures[0].Verified, r.Signatures[0].Code, r.Signatures[0].Reason = false, verify.CodeUntrustedSigner, "untrusted"
		return r
	}()
	results[refs[3]] = verify.Failed(failed(refs[3], verify.CodeImageNotFound, false), verify.CodeImageNotFound, "no such image", "push it", false, errors.New("404"))
	for _, ref := range refs {
		fresh := c.Verify(t.Context(), ref)
		cached := c.Verify(t.Context(), ref)
		if fresh.Cached || !cached.Cached {
			t.Fatalf("%s: Cached %v then %v, want false then true", ref, fresh.Cached, cached.Cached)
		}
		fresh.Cached, cached.Cached, fresh.Duration, cached.Duration = true, true, 0, 0
		if diff := cmp.Diff(fresh, cached, ignoreUnexported); diff != "" {
			t.Errorf("%s: cached answer differs from the fresh one (-fresh +cached):\n%s", ref, diff)
		}
		if fresh.Cause() != cached.Cause() || (fresh.Err() == nil) != (cached.Err() == nil) {
			t.Errorf("%s: cause %v / err %v fresh, %v / %v cached", ref, fresh.Cause(), fresh.Err(), cached.Cause(), cached.Err())
		}
	}
	if f.total() != len(refs) {
		t.Fatalf("%d verifications for %d images: something was not cached", f.total(), len(refs))
	}
}

// FuzzCompactRoundTrip: whatever a Result holds, the cache answers it
// exactly as it was kept.
func FuzzCompactRoundTrip(f *testing.F) {
	f.Add("CN=a", "reason", "msg", true, uint8(1), uint8(5), uint8(0), false)
	f.Add("", "", "", false, uint8(0), uint8(0), uint8(6), true)
	f.Add("CN=b,O=x", "untrusted", "", false, uint8(3), uint8(7), uint8(2), false)
	f.Fuzz(func(t *testing.T, subject, reason, message string, verified bool, nSigs, nVals, nWarn uint8, times bool) {
		ref := img("fuzz/app", int(nSigs))
		r := verify.Result{Reference: ref, Digest: digestOf(ref), Verified: verified, Code: verify.CodeUntrustedSigner, Reason: reason, Level: "strict", Policy: subject}
		if verified {
			r.Code = verify.CodeVerified
		}
		for i := range int(nWarn % 8) {
			r.Warnings = append(r.Warnings, reason+string(rune('a'+i)))
		}
		for i := range int(nSigs % 4) {
			s := verify.SignatureResult{Digest: dg(i), SignerSubject: subject, Reason: reason, Verified: verified && i == int(nSigs%4)-1}
			if times {
				at := time.Unix(int64(i), 0).UTC()
				s.SignedAt, s.ExpiresAt = &at, &at
			}
			for j := range int(nVals % 8) {
				s.Validations = append(s.Validations, verify.Validation{Type: message, Checked: j%2 == 0, Message: message + reason})
			}
			r.Signatures = append(r.Signatures, s)
		}
		checkRoundTrip(t, r)
	})
}
