package verify

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// fixture is a registry with one image per scenario, the PKI that signed
// them, and an engine whose trust policy has a statement per scenario.
type fixture struct {
	reg    *testRegistry
	root   *verifytest.CA // in trust store ca:prod
	other  *verifytest.CA // trusted by nobody
	store  *tstore.Store
	policy *trustpolicy.Document
	engine *Engine
	images map[string]ocispec.Descriptor
}

// repositories under the strict statement.
var strictRepos = []string{"valid-jws", "valid-cose", "unsigned", "untrusted", "expired-sig", "expired-cert", "tampered", "other-digest", "multi-pass", "multi-fail", "by-tag", "odd-format"}

func fixturePolicy(host string) *trustpolicy.Document {
	var strict []string
	for _, r := range strictRepos {
		strict = append(strict, host+"/"+r)
	}
	scopes := func(names ...string) string {
		var q []string
		for _, n := range names {
			q = append(q, fmt.Sprintf("%q", n))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	policy := fmt.Sprintf(`{
	  "version": "1.0",
	  "trustPolicies": [
	    {"name": "strict", "registryScopes": %s, "signatureVerification": {"level": "strict"},
	     "trustStores": ["ca:prod"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme"]},
	    {"name": "release-only", "registryScopes": ["%[2]s/identity"], "signatureVerification": {"level": "strict"},
	     "trustStores": ["ca:prod"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme, CN=release"]},
	    {"name": "lenient", "registryScopes": ["%[2]s/permissive"], "signatureVerification": {"level": "permissive"},
	     "trustStores": ["ca:prod"], "trustedIdentities": ["*"]},
	    {"name": "observe", "registryScopes": ["%[2]s/audit"], "signatureVerification": {"level": "audit"},
	     "trustStores": ["ca:prod"], "trustedIdentities": ["*"]},
	    {"name": "third-party", "registryScopes": ["%[2]s/skipped"], "signatureVerification": {"level": "skip"}},
	    {"name": "needs-absent", "registryScopes": ["%[2]s/missing-store"], "signatureVerification": {"level": "strict"},
	     "trustStores": ["ca:absent"], "trustedIdentities": ["*"]}
	  ]
	}`, scopes(strict...), host)
	doc, err := tpolicy.Parse([]byte(policy))
	if err != nil {
		panic(err)
	}
	return doc
}

func newFixture(t testing.TB, referrersAPI bool) *fixture {
	t.Helper()
	f := &fixture{
		reg:    newTestRegistry(t, referrersAPI),
		root:   verifytest.NewRootCA(t, "Acme Root"),
		other:  verifytest.NewRootCA(t, "Mallory Root"),
		images: map[string]ocispec.Descriptor{},
	}
	f.store = tstore.New()
	if err := f.store.Add(truststore.TypeCA, "prod", f.root.Cert); err != nil {
		t.Fatal(err)
	}
	f.policy = fixturePolicy(f.reg.host)
	var err error
	f.engine, err = NewEngine(f.policy, f.store, plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}

	key, leaf := f.root.ValidLeaf(t, "builder")
	good := []*x509.Certificate{leaf, f.root.Cert}
	badKey, badLeaf := f.other.ValidLeaf(t, "builder")
	bad := []*x509.Certificate{badLeaf, f.other.Cert}
	now := time.Now()

	for _, name := range append(strictRepos, "identity", "permissive", "audit", "skipped", "missing-store") {
		f.images[name] = f.reg.pushImage(t, name, "v1", "image "+name)
	}
	f.reg.sign(t, "valid-jws", f.images["valid-jws"], key, good, jws.MediaTypeEnvelope)
	f.reg.sign(t, "valid-cose", f.images["valid-cose"], key, good, cose.MediaTypeEnvelope)
	f.reg.sign(t, "by-tag", f.images["by-tag"], key, good, jws.MediaTypeEnvelope)
	f.reg.sign(t, "untrusted", f.images["untrusted"], badKey, bad, jws.MediaTypeEnvelope)
	f.reg.sign(t, "identity", f.images["identity"], key, good, cose.MediaTypeEnvelope)
	f.reg.sign(t, "audit", f.images["audit"], badKey, bad, jws.MediaTypeEnvelope)
	f.reg.sign(t, "missing-store", f.images["missing-store"], key, good, jws.MediaTypeEnvelope)

	// A signature whose expiry has passed.
	expired := envelope(t, cose.MediaTypeEnvelope, key, good, f.images["expired-sig"], now.Add(-2*time.Hour), now.Add(-time.Hour))
	f.reg.pushEnvelope(t, "expired-sig", f.images["expired-sig"], cose.MediaTypeEnvelope, expired, good)
	expiredP := envelope(t, jws.MediaTypeEnvelope, key, good, f.images["permissive"], now.Add(-2*time.Hour), now.Add(-time.Hour))
	f.reg.pushEnvelope(t, "permissive", f.images["permissive"], jws.MediaTypeEnvelope, expiredP, good)

	// A signature made while its certificate was valid; it has expired since.
	oldKey, oldLeaf := f.root.Leaf(t, "builder", now.Add(-72*time.Hour), now.Add(-24*time.Hour))
	oldChain := []*x509.Certificate{oldLeaf, f.root.Cert}
	old := envelope(t, jws.MediaTypeEnvelope, oldKey, oldChain, f.images["expired-cert"], now.Add(-48*time.Hour), time.Time{})
	f.reg.pushEnvelope(t, "expired-cert", f.images["expired-cert"], jws.MediaTypeEnvelope, old, oldChain)

	// A valid envelope changed after signing.
	f.reg.pushEnvelope(t, "tampered", f.images["tampered"], jws.MediaTypeEnvelope,
		tamper(t, envelope(t, jws.MediaTypeEnvelope, key, good, f.images["tampered"], now.Add(-time.Minute), time.Time{})), good)

	// A valid signature of another image, copied onto this one.
	otherImage := f.reg.pushImage(t, "other-digest", "a", "another image")
	copied := envelope(t, jws.MediaTypeEnvelope, key, good, otherImage, now.Add(-time.Minute), time.Time{})
	f.reg.pushEnvelope(t, "other-digest", f.images["other-digest"], jws.MediaTypeEnvelope, copied, good)

	// Something else stored as a Notary Project signature.
	f.reg.pushEnvelope(t, "odd-format", f.images["odd-format"], "application/vnd.example.sig", []byte("not an envelope"), good)

	// Two signatures, one untrusted and one good.
	f.reg.sign(t, "multi-pass", f.images["multi-pass"], badKey, bad, jws.MediaTypeEnvelope)
	f.reg.sign(t, "multi-pass", f.images["multi-pass"], key, good, cose.MediaTypeEnvelope)
	// Two signatures, both failing: untrusted, and expired.
	f.reg.sign(t, "multi-fail", f.images["multi-fail"], badKey, bad, jws.MediaTypeEnvelope)
	expiredM := envelope(t, cose.MediaTypeEnvelope, key, good, f.images["multi-fail"], now.Add(-2*time.Hour), now.Add(-time.Hour))
	f.reg.pushEnvelope(t, "multi-fail", f.images["multi-fail"], cose.MediaTypeEnvelope, expiredM, good)
	return f
}

// tamper changes the payload of a JWS envelope, leaving its signature.
func tamper(t testing.TB, blob []byte) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(blob, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"size":`, `"size":1`, 1))
	env["payload"] = base64.RawURLEncoding.EncodeToString(payload)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func validation(r Result, sig int, typ string) Validation {
	if sig >= len(r.Signatures) {
		return Validation{}
	}
	for _, v := range r.Signatures[sig].Validations {
		if v.Type == typ {
			return v
		}
	}
	return Validation{}
}

func TestEngineVerify(t *testing.T) {
	for _, referrersAPI := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrersAPI=%v", referrersAPI), func(t *testing.T) {
			f := newFixture(t, referrersAPI)
			byDigest := func(name string) string { return f.reg.ref(name, f.images[name]) }

			tests := []struct {
				name        string
				ref         string
				wantCode    Code
				wantOK      bool
				wantLevel   string
				wantReason  []string // substrings of Reason
				wantErrIs   error    // for failures: what Result.Err matches
				wantSigs    int
				check       func(t *testing.T, r Result)
				wantWarning string
			}{
				{
					name: "valid JWS", ref: byDigest("valid-jws"), wantCode: CodeVerified, wantOK: true, wantLevel: "strict", wantSigs: 1,
					wantReason: []string{"signature by CN=builder,O=Acme,ST=WA,C=US, issued by CN=Acme Root", `trust policy statement "strict" (level strict)`},
					check: func(t *testing.T, r Result) {
						s := r.Signatures[0]
						if s.Format != jws.MediaTypeEnvelope || s.SigningScheme != "notary.x509" || s.Thumbprint == "" || s.SignerSerial == "" || s.SignedAt == nil {
							t.Errorf("signature details missing: %+v", s)
						}
						for _, v := range s.Validations {
							switch v.Type {
							case ValidationRevocation, ValidationIntegrity, ValidationAuthenticity, ValidationExpiry, ValidationAuthenticTimestamp:
								if !v.Checked || !v.Passed || v.Action != ActionEnforced {
									t.Errorf("validation %+v: want checked, passed, enforced", v)
								}
							}
						}
						if len(s.Validations) != 5 {
							t.Errorf("got %d validations, want 5", len(s.Validations))
						}
					},
				},
				{
					name: "valid COSE", ref: byDigest("valid-cose"), wantCode: CodeVerified, wantOK: true, wantSigs: 1,
					check: func(t *testing.T, r Result) {
						if r.Signatures[0].Format != cose.MediaTypeEnvelope {
							t.Errorf("format = %q", r.Signatures[0].Format)
						}
					},
				},
				{
					name: "tag resolved to digest", ref: f.reg.host + "/by-tag:v1", wantCode: CodeVerified, wantOK: true, wantSigs: 1,
					check: func(t *testing.T, r Result) {
						if r.Tag != "v1" || r.Digest != f.images["by-tag"].Digest.String() {
							t.Errorf("Tag, Digest = %q, %q; want v1, %s", r.Tag, r.Digest, f.images["by-tag"].Digest)
						}
					},
				},
				{
					name: "unsigned", ref: byDigest("unsigned"), wantCode: CodeNoSignature, wantErrIs: ErrNoSignature,
					wantReason: []string{"no Notary Project signature found for " + byDigest("unsigned") + "; sign it with `hallmark sign` or check the registry"},
				},
				{
					name: "untrusted signer", ref: byDigest("untrusted"), wantCode: CodeUntrustedSigner, wantErrIs: ErrSignatureInvalid, wantSigs: 1,
					wantReason: []string{"signature by CN=builder,O=Acme,ST=WA,C=US, issued by CN=Mallory Root,O=Acme,ST=WA,C=US, does not chain to any certificate in trust store(s) ca:prod; add its root/CA certificate"},
					check: func(t *testing.T, r Result) {
						if v := validation(r, 0, ValidationAuthenticity); !v.Checked || v.Passed {
							t.Errorf("authenticity = %+v, want checked and failed", v)
						}
						if v := validation(r, 0, ValidationExpiry); v.Checked || !strings.Contains(v.Message, "not checked: the enforced authenticity check failed first") {
							t.Errorf("expiry = %+v, want not checked after authenticity", v)
						}
					},
				},
				{
					name: "identity not in trustedIdentities", ref: byDigest("identity"), wantCode: CodeIdentityMismatch, wantSigs: 1,
					wantReason: []string{`signer CN=builder,O=Acme,ST=WA,C=US is trusted by ca:prod but not listed in trustedIdentities of policy "release-only": x509.subject: C=US, ST=WA, O=Acme, CN=release; add "x509.subject: CN=builder,O=Acme,ST=WA,C=US"`},
				},
				{
					name: "expired signature", ref: byDigest("expired-sig"), wantCode: CodeSignatureExpired, wantSigs: 1,
					wantReason: []string{"signature expired at "},
				},
				{
					name: "expired certificate", ref: byDigest("expired-cert"), wantCode: CodeCertificateExpired, wantSigs: 1,
					wantReason: []string{"certificate CN=builder,O=Acme,ST=WA,C=US in the signature's chain expired at"},
				},
				{
					name: "tampered envelope", ref: byDigest("tampered"), wantCode: CodeIntegrity, wantSigs: 1,
					wantReason: []string{"failed the integrity check: the envelope was modified after signing or is corrupted"},
					check: func(t *testing.T, r Result) {
						if r.Signatures[0].SignerSubject != "" {
							t.Errorf("a tampered envelope must not name a signer, got %q", r.Signatures[0].SignerSubject)
						}
					},
				},
				{
					name: "unsupported envelope type", ref: byDigest("odd-format"), wantCode: CodeUnsupportedFormat, wantSigs: 1,
					wantReason: []string{`has envelope type "application/vnd.example.sig"; Notary Project signatures are`},
				},
				{
					name: "signature of another image", ref: byDigest("other-digest"), wantCode: CodeDigestMismatch, wantSigs: 1,
					wantReason: []string{"was made for sha256:", "not for " + byDigest("other-digest"), "copied from another image"},
				},
				{
					name: "permissive logs an expired signature", ref: byDigest("permissive"), wantCode: CodeVerified, wantOK: true, wantLevel: "permissive", wantSigs: 1,
					wantWarning: "expiry check failed, but level permissive only logs it: signature expired at",
					check: func(t *testing.T, r Result) {
						if v := validation(r, 0, ValidationExpiry); !v.Checked || v.Passed || v.Action != ActionLogged {
							t.Errorf("expiry = %+v, want checked, failed, logged", v)
						}
					},
				},
				{
					name: "audit logs an untrusted signer", ref: byDigest("audit"), wantCode: CodeVerified, wantOK: true, wantLevel: "audit", wantSigs: 1,
					wantReason:  []string{"only because level audit logs the failed authenticity check", "does not chain to any certificate in trust store(s) ca:prod"},
					wantWarning: "authenticity check failed, but level audit only logs it: signature by CN=builder",
					check: func(t *testing.T, r Result) {
						if v := validation(r, 0, ValidationAuthenticity); !v.Checked || v.Passed || v.Action != ActionLogged {
							t.Errorf("authenticity = %+v, want checked, failed, logged", v)
						}
						if r.Remediation == "" {
							t.Error("an audit pass with a failed check needs a remediation")
						}
					},
				},
				{
					name: "skip", ref: byDigest("skipped"), wantCode: CodeSkipped, wantOK: true, wantLevel: "skip",
					wantReason:  []string{`trust policy statement "third-party" skips signature verification`},
					wantWarning: "skips signature verification",
				},
				{
					name: "no applicable trust policy", ref: f.reg.host + "/nobody@" + f.images["unsigned"].Digest.String(), wantCode: CodeNoApplicablePolicy, wantErrIs: ErrNoApplicablePolicy,
					wantReason: []string{"no trust policy statement covers " + f.reg.host + `/nobody; add it to registryScopes or add a "*" statement`},
				},
				{
					name: "trust store missing", ref: byDigest("missing-store"), wantCode: CodeTrustStoreMissing, wantErrIs: ErrTrustStoreNotFound,
					wantReason: []string{`trust store ca:absent named by trust policy statement "needs-absent" has no certificates`},
				},
				{
					name: "one of two signatures verifies", ref: byDigest("multi-pass"), wantCode: CodeVerified, wantOK: true,
					check: func(t *testing.T, r Result) {
						last := r.Signatures[len(r.Signatures)-1]
						if !last.Verified || last.SignerIssuer != f.root.Cert.Subject.String() {
							t.Errorf("last signature = %+v, want the verified one from Acme Root", last)
						}
					},
				},
				{
					name: "both signatures fail", ref: byDigest("multi-fail"), wantCode: CodeSignatureExpired, wantSigs: 2,
					wantReason: []string{"none of the 2 signatures of " + byDigest("multi-fail") + " verified; the closest: signature expired at"},
				},
				{
					name: "tag not found", ref: f.reg.host + "/valid-jws:nope", wantCode: CodeImageNotFound, wantErrIs: ErrRegistry,
					wantReason: []string{"resolving tag nope in " + f.reg.host + "/valid-jws failed: not found"},
				},
				{
					name: "no registry", ref: "library/nginx:1.27", wantCode: CodeInvalidReference, wantErrIs: ErrInvalidReference,
					wantReason: []string{"names no registry"},
				},
				{
					name: "no tag or digest", ref: f.reg.host + "/valid-jws", wantCode: CodeInvalidReference,
					wantReason: []string{"has neither a tag nor a digest"},
				},
				{
					// A tag next to a digest is checked, not dropped: the
					// digest alone would verify.
					name: "invalid tag next to a valid digest", ref: f.reg.host + "/valid-jws:v1!" + byDigest("valid-jws")[strings.Index(byDigest("valid-jws"), "@"):],
					wantCode: CodeInvalidReference, wantErrIs: ErrInvalidReference,
					wantReason: []string{`invalid tag "v1!"`},
				},
				{
					name: "over the length cap", ref: f.reg.host + "/" + strings.Repeat("a/", 2100) + "app:v1", wantCode: CodeInvalidReference, wantErrIs: ErrInvalidReference,
					wantReason: []string{"is longer than the 4096 allowed"},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := f.engine.Verify(context.Background(), tt.ref)
					if r.Code != tt.wantCode || r.Verified != tt.wantOK {
						t.Fatalf("Code, Verified = %s, %v; want %s, %v\nreason: %s", r.Code, r.Verified, tt.wantCode, tt.wantOK, r.Reason)
					}
					if r.Transient {
						t.Errorf("Transient = true for a definitive result")
					}
					if r.Reference != tt.ref || r.Duration <= 0 {
						t.Errorf("Reference, Duration = %q, %v", r.Reference, r.Duration)
					}
					if tt.wantLevel != "" && r.Level != tt.wantLevel {
						t.Errorf("Level = %q, want %q", r.Level, tt.wantLevel)
					}
					for _, w := range tt.wantReason {
						if !strings.Contains(r.Reason, w) {
							t.Errorf("Reason does not contain %q:\n%s", w, r.Reason)
						}
					}
					if tt.wantSigs > 0 && len(r.Signatures) != tt.wantSigs {
						t.Errorf("got %d signatures, want %d", len(r.Signatures), tt.wantSigs)
					}
					if tt.wantWarning != "" && (len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], tt.wantWarning)) {
						t.Errorf("Warnings = %q, want one containing %q", r.Warnings, tt.wantWarning)
					}
					if tt.wantWarning == "" && len(r.Warnings) > 0 {
						t.Errorf("unexpected warnings %q", r.Warnings)
					}
					err := r.Err()
					switch {
					case r.Verified && err != nil:
						t.Errorf("Err() = %v for a verified result", err)
					case !r.Verified:
						if !errors.Is(err, ErrNotVerified) || err.Error() != r.Reason {
							t.Errorf("Err() = %v, want ErrNotVerified with the reason as text", err)
						}
						if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
							t.Errorf("Err() does not match %v", tt.wantErrIs)
						}
						if r.Remediation == "" {
							t.Errorf("no remediation for %s", r.Code)
						}
					}
					if r.Verified && r.Code != CodeSkipped && r.Digest == "" {
						t.Error("verified without a digest")
					}
					if tt.check != nil {
						tt.check(t, r)
					}
				})
			}
		})
	}
}

func TestEngineMaxSignatures(t *testing.T) {
	f := newFixture(t, true)
	e, err := NewEngine(f.policy, f.store, plainHTTPRepositories{}, EngineOptions{MaxSignatures: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Verify(context.Background(), f.reg.ref("multi-fail", f.images["multi-fail"]))
	if r.Verified || len(r.Signatures) != 1 || !strings.Contains(r.Reason, "none of the first 1 signatures") || !strings.Contains(r.Reason, "more exist beyond the limit of 1") {
		t.Fatalf("Verified=%v, %d signatures, reason %q", r.Verified, len(r.Signatures), r.Reason)
	}
	if !strings.Contains(r.Remediation, "delete stale signatures") {
		t.Errorf("Remediation = %q", r.Remediation)
	}

	for _, n := range []int{-1, MaxSignaturesLimit + 1} {
		if _, err := NewEngine(f.policy, f.store, plainHTTPRepositories{}, EngineOptions{MaxSignatures: n}); err == nil {
			t.Errorf("MaxSignatures %d accepted", n)
		}
	}
}

func TestNewEngineRejectsBadInput(t *testing.T) {
	good := fixturePolicy("registry.example.com")
	bad := fixturePolicy("registry.example.com")
	bad.TrustPolicies[0].TrustedIdentities = []string{"x509.subject: CN=only"}
	tests := []struct {
		name   string
		policy *trustpolicy.Document
		store  truststore.X509TrustStore
		repos  Repositories
		want   string
	}{
		{name: "invalid policy", policy: bad, store: tstore.New(), repos: plainHTTPRepositories{}, want: "lacks C, ST and O"},
		{name: "nil policy", policy: nil, store: tstore.New(), repos: plainHTTPRepositories{}, want: "no trust policy given"},
		{name: "nil store", policy: good, repos: plainHTTPRepositories{}, want: "needs a trust store"},
		{name: "nil repositories", policy: good, store: tstore.New(), want: "needs Repositories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(tt.policy, tt.store, tt.repos, EngineOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewEngine error = %v, want %q", err, tt.want)
			}
		})
	}

	// The engine copies the policy: changing the caller's copy later must
	// not change verdicts.
	doc := fixturePolicy("registry.example.com")
	e, err := NewEngine(doc, tstore.New(), plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc.TrustPolicies[4].RegistryScopes[0] = "registry.example.com/other"
	if r := e.Verify(context.Background(), "registry.example.com/skipped:v1"); r.Code != CodeSkipped {
		t.Fatalf("after changing the caller's policy: %s %s", r.Code, r.Reason)
	}
}

// strictAll is a policy that verifies everything in any repository with
// trust store ca:prod, for the registry-failure tests.
func strictAll(t *testing.T) (*trustpolicy.Document, *tstore.Store) {
	t.Helper()
	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := tstore.New()
	if err := s.Add(truststore.TypeCA, "prod", verifytest.NewRootCA(t, "root").Cert); err != nil {
		t.Fatal(err)
	}
	return doc, s
}

func TestEngineRegistryFailures(t *testing.T) {
	doc, store := strictAll(t)
	e, err := NewEngine(doc, store, plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	status := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}

	tests := []struct {
		name          string
		host          string
		wantCode      Code
		wantTransient bool
		wantReason    string
	}{
		{"registry down", closed, CodeTimeout, true, "could not reach registry " + closed + " (while resolving tag v1)"},
		{"401", status(401, `{"errors":[{"code":"UNAUTHORIZED"}]}`), CodeRegistryAccess, false, "(401 Unauthorized while resolving tag v1); configure credentials for"},
		{"403", status(403, `{"errors":[{"code":"DENIED"}]}`), CodeRegistryAccess, false, "(403 Forbidden while resolving tag v1); the credentials lack pull permission"},
		{"404 repository", status(404, `{"errors":[{"code":"NAME_UNKNOWN"}]}`), CodeImageNotFound, false, "/app failed: not found; check the image reference"},
		{"429", status(429, `{"errors":[{"code":"TOOMANYREQUESTS"}]}`), CodeRegistryUnavailable, true, "is rate limiting requests (429 Too Many Requests"},
		{"500", status(500, ``), CodeRegistryUnavailable, true, "failed with 500 Internal Server Error while resolving tag v1; retry later"},
		{"503", status(503, ``), CodeRegistryUnavailable, true, "failed with 503 Service Unavailable"},
		{"400", status(400, `{"errors":[{"code":"NAME_INVALID"}]}`), CodeRegistryError, false, "answered 400 Bad Request while resolving tag v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Verify(context.Background(), tt.host+"/app:v1")
			if r.Verified || r.Code != tt.wantCode || r.Transient != tt.wantTransient {
				t.Fatalf("Verified, Code, Transient = %v, %s, %v; want false, %s, %v\nreason: %s", r.Verified, r.Code, r.Transient, tt.wantCode, tt.wantTransient, r.Reason)
			}
			if !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Reason does not contain %q:\n%s", tt.wantReason, r.Reason)
			}
			if strings.Contains(r.Reason, "http://") {
				t.Errorf("Reason leaks a URL: %s", r.Reason)
			}
			if err := r.Err(); !errors.Is(err, ErrRegistry) {
				t.Errorf("Err() = %v, want ErrRegistry", err)
			}
		})
	}
}

func TestEngineDeadline(t *testing.T) {
	f := newFixture(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := f.engine.Verify(ctx, f.reg.ref("valid-jws", f.images["valid-jws"]))
	if r.Verified || !r.Transient || r.Code != CodeTimeout {
		t.Fatalf("with a cancelled context: Verified=%v Transient=%v Code=%s reason=%s", r.Verified, r.Transient, r.Code, r.Reason)
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want it to wrap context.Canceled", r.Err())
	}
}

// TestResultJSON pins the shape `hallmark verify -o json` prints.
func TestResultJSON(t *testing.T) {
	f := newFixture(t, true)
	r := f.engine.Verify(context.Background(), f.reg.ref("permissive", f.images["permissive"]))
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reference", "digest", "verified", "level", "policy", "code", "reason", "remediation", "warnings", "signatures", "transient", "durationNs", "cached"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, data)
		}
	}
	sig := got["signatures"].([]any)[0].(map[string]any)
	for _, k := range []string{"digest", "format", "signingScheme", "signerSubject", "signerIssuer", "signerSerial", "thumbprint", "signedAt", "expiresAt", "validations", "verified", "code"} {
		if _, ok := sig[k]; !ok {
			t.Errorf("signature JSON lacks %q: %v", k, sig)
		}
	}
	v := sig["validations"].([]any)[3].(map[string]any)
	want := map[string]any{"type": "expiry", "action": "logged", "checked": true, "passed": false}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("validation %q = %v, want %v", k, v[k], w)
		}
	}
}

func BenchmarkEngineVerify(b *testing.B) {
	reg := newTestRegistry(b, true)
	root := verifytest.NewRootCA(b, "root")
	key, leaf := root.ValidLeaf(b, "builder")
	desc := reg.pushImage(b, "app", "v1", "bench")
	reg.sign(b, "app", desc, key, []*x509.Certificate{leaf, root.Cert}, jws.MediaTypeEnvelope)
	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, "prod", root.Cert); err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(doc, store, plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ref := reg.ref("app", desc)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := e.Verify(ctx, ref); !r.Verified {
			b.Fatal(r.Reason)
		}
	}
}
