package kinds_test

import (
	"context"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/kinds"
)

// fixed is a verifier seam that answers one verdict and counts calls.
type fixed struct {
	res   verify.Result
	calls *int
}

func (f fixed) Verify(_ context.Context, ref string) verify.Result {
	*f.calls++
	r := f.res
	r.Reference = ref
	return r
}

func pass(d string) verify.Result {
	return verify.Result{Verified: true, Code: verify.CodeVerified, Digest: d, Reason: "ok"}
}

func fail(code verify.Code) verify.Result {
	return verify.Failed(verify.Result{Digest: "sha256:a"}, code, string(code), "fix", false, nil)
}

func TestCombined(t *testing.T) {
	tests := []struct {
		name   string
		req    kinds.Requirement
		n, c   verify.Result
		ok     bool
		code   verify.Code
		nC, cC int // calls expected
	}{
		{"notation only passes", kinds.Notation, pass("sha256:a"), fail(verify.CodeNoSignature), true, verify.CodeVerified, 1, 0},
		{"notation required, cosign only", kinds.Notation, fail(verify.CodeNoSignature), pass("sha256:a"), false, verify.CodeNoSignature, 1, 0},
		{"cosign required, cosign only", kinds.Cosign, fail(verify.CodeNoSignature), pass("sha256:a"), true, verify.CodeVerified, 0, 1},
		{"any, cosign only", kinds.Any, fail(verify.CodeNoSignature), pass("sha256:a"), true, verify.CodeVerified, 1, 1},
		{"any, notation passes first", kinds.Any, pass("sha256:a"), fail(verify.CodeNoSignature), true, verify.CodeVerified, 1, 0},
		{"any, neither: the telling failure", kinds.Any, fail(verify.CodeNoSignature), fail(verify.CodeIdentityMismatch), false, verify.CodeIdentityMismatch, 1, 1},
		{"all, both", kinds.All, pass("sha256:a"), pass("sha256:a"), true, verify.CodeVerified, 1, 1},
		{"all, cosign missing", kinds.All, pass("sha256:a"), fail(verify.CodeNoSignature), false, verify.CodeNoSignature, 1, 1},
		{"all, notation missing", kinds.All, fail(verify.CodeNoSignature), pass("sha256:a"), false, verify.CodeNoSignature, 1, 0},
		{"all, tag moved", kinds.All, pass("sha256:a"), pass("sha256:b"), false, verify.CodeRegistryError, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nc, cc int
			c, err := kinds.New(fixed{tt.n, &nc}, fixed{tt.c, &cc}, []kinds.Rule{{Scopes: []string{"r.io/app"}, Require: tt.req}}, kinds.Notation)
			if err != nil {
				t.Fatal(err)
			}
			res := c.Verify(t.Context(), "r.io/app:v1")
			if res.Verified != tt.ok || res.Code != tt.code || nc != tt.nC || cc != tt.cC {
				t.Fatalf("Verify = %v %s (%s), calls %d/%d; want %v %s, calls %d/%d", res.Verified, res.Code, res.Reason, nc, cc, tt.ok, tt.code, tt.nC, tt.cC)
			}
			// Another repository falls back to the default.
			nc, cc = 0, 0
			c.Verify(t.Context(), "r.io/other:v1")
			if nc != 1 || cc != 0 {
				t.Fatalf("default requirement called %d/%d", nc, cc)
			}
		})
	}
}

func TestNewRefusesWhatCannotBeMet(t *testing.T) {
	var n int
	v := fixed{pass("sha256:a"), &n}
	for name, tc := range map[string]struct {
		notation, cosign kinds.Verifier
		rules            []kinds.Rule
		fallback         kinds.Requirement
	}{
		"unknown kind":          {v, v, nil, "both"},
		"cosign not configured": {v, nil, []kinds.Rule{{Scopes: []string{"*"}, Require: kinds.Cosign}}, kinds.Notation},
		"all without notation":  {nil, v, nil, kinds.All},
		"duplicate scope":       {v, v, []kinds.Rule{{Scopes: []string{"a/b"}, Require: kinds.Any}, {Scopes: []string{"a/b"}, Require: kinds.All}}, kinds.Notation},
		"rule without scopes":   {v, v, []kinds.Rule{{Require: kinds.Any}}, kinds.Notation},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := kinds.New(tc.notation, tc.cosign, tc.rules, tc.fallback); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func transient() verify.Result {
	return verify.Failed(verify.Result{Digest: "sha256:a"}, verify.CodeRegistryUnavailable, "registry down", "retry", true, nil)
}

func skipped() verify.Result {
	return verify.Result{Verified: true, Code: verify.CodeSkipped, Reason: "level skip"}
}

// TestEach: under each, an image passes only when at least one kind was
// found and every kind found passed; a kind with no policy for the
// repository, or a level skip, is not judged. Whatever each admits, any
// admits too.
func TestEach(t *testing.T) {
	var (
		absent   = fail(verify.CodeNoSignature)
		noPolicy = fail(verify.CodeNoApplicablePolicy)
		bad      = fail(verify.CodeUntrustedSigner)
		ok       = pass("sha256:a")
	)
	tests := []struct {
		name      string
		n, c      verify.Result
		ok        bool
		code      verify.Code
		transient bool
		nC, cC    int
	}{
		{"notation only, passes", ok, absent, true, verify.CodeVerified, false, 1, 1},
		{"cosign only, passes", absent, ok, true, verify.CodeVerified, false, 1, 1},
		{"both pass", ok, ok, true, verify.CodeVerified, false, 1, 1},
		{"notation passes, cosign fails", ok, bad, false, verify.CodeUntrustedSigner, false, 1, 1},
		{"notation fails, cosign passes: cosign not asked", bad, ok, false, verify.CodeUntrustedSigner, false, 1, 0},
		{"notation fails, cosign absent", bad, absent, false, verify.CodeUntrustedSigner, false, 1, 0},
		{"absent, cosign fails", absent, bad, false, verify.CodeUntrustedSigner, false, 1, 1},
		{"neither found", absent, absent, false, verify.CodeNoSignature, false, 1, 1},
		{"notation has no policy, cosign passes", noPolicy, ok, true, verify.CodeVerified, false, 1, 1},
		{"notation passes, cosign has no policy", ok, noPolicy, true, verify.CodeVerified, false, 1, 1},
		{"no policy of either kind", noPolicy, noPolicy, false, verify.CodeNoApplicablePolicy, false, 1, 1},
		{"no policy and absent: no signature", noPolicy, absent, false, verify.CodeNoSignature, false, 1, 1},
		{"notation skipped, cosign absent: nothing found", skipped(), absent, false, verify.CodeNoSignature, false, 1, 1},
		{"notation skipped, cosign passes", skipped(), ok, true, verify.CodeVerified, false, 1, 1},
		{"notation skipped, cosign fails", skipped(), bad, false, verify.CodeUntrustedSigner, false, 1, 1},
		{"notation transient, cosign passes", transient(), ok, false, verify.CodeRegistryUnavailable, true, 1, 1},
		{"notation passes, cosign transient", ok, transient(), false, verify.CodeRegistryUnavailable, true, 1, 1},
		{"notation transient, cosign absent", transient(), absent, false, verify.CodeRegistryUnavailable, true, 1, 1},
		{"notation transient, cosign fails: still transient", transient(), bad, false, verify.CodeRegistryUnavailable, true, 1, 1},
		{"both transient", transient(), transient(), false, verify.CodeRegistryUnavailable, true, 1, 1},
		{"tag moved", ok, pass("sha256:b"), false, verify.CodeRegistryError, true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nc, cc int
			c, err := kinds.New(fixed{tt.n, &nc}, fixed{tt.c, &cc}, []kinds.Rule{{Scopes: []string{"r.io/app"}, Require: kinds.Each}}, kinds.Any)
			if err != nil {
				t.Fatal(err)
			}
			res := c.Verify(t.Context(), "r.io/app:v1")
			if res.Verified != tt.ok || res.Code != tt.code || res.Transient != tt.transient || nc != tt.nC || cc != tt.cC {
				t.Fatalf("Verify = %v %s transient %v (%s), calls %d/%d; want %v %s transient %v, calls %d/%d",
					res.Verified, res.Code, res.Transient, res.Reason, nc, cc, tt.ok, tt.code, tt.transient, tt.nC, tt.cC)
			}
			if res.Verified && res.Digest != "sha256:a" {
				t.Errorf("digest %q, want sha256:a", res.Digest)
			}
			// each denies all that any denies.
			if anyRes := c.Verify(t.Context(), "r.io/other:v1"); res.Verified && !anyRes.Verified {
				t.Errorf("each admitted what any denies: %s", anyRes.Reason)
			}
		})
	}
}

// TestEachOneKindConfigured: with only Notary Project verification, each
// is notation without skip: a signature must be found and pass.
func TestEachOneKindConfigured(t *testing.T) {
	for _, tt := range []struct {
		n  verify.Result
		ok bool
	}{{pass("sha256:a"), true}, {fail(verify.CodeNoSignature), false}, {skipped(), false}, {transient(), false}} {
		var nc int
		c, err := kinds.New(fixed{tt.n, &nc}, nil, nil, kinds.Each)
		if err != nil {
			t.Fatal(err)
		}
		if res := c.Verify(t.Context(), "r.io/app:v1"); res.Verified != tt.ok || nc != 1 {
			t.Errorf("%s: Verify = %v (%s), %d calls; want %v", tt.n.Code, res.Verified, res.Reason, nc, tt.ok)
		}
	}
	if _, err := kinds.New(nil, nil, nil, kinds.Each); err == nil {
		t.Error("New accepted each with no kind configured")
	}
}
