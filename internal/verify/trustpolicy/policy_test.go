package trustpolicy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
)

const validPolicy = `{
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "prod",
      "registryScopes": ["registry.example.com/team/app", "localhost:5000/app"],
      "signatureVerification": {"level": "strict", "override": {"revocation": "log"}, "verifyTimestamp": "afterCertExpiry"},
      "trustStores": ["ca:prod", "tsa:timestamps"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme, CN=builder", "x509.subject: C=US, S=WA, O=Acme, CN=release"]
    },
    {
      "name": "third-party",
      "registryScopes": ["docker.io/library/nginx"],
      "signatureVerification": {"level": "skip"}
    },
    {
      "name": "default",
      "registryScopes": ["*"],
      "signatureVerification": {"level": "audit"},
      "trustStores": ["ca:prod"],
      "trustedIdentities": ["*"]
    }
  ]
}`

func TestParseTrustPolicyValid(t *testing.T) {
	doc, err := Parse([]byte(validPolicy))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{
			{
				Name:           "prod",
				RegistryScopes: []string{"registry.example.com/team/app", "localhost:5000/app"},
				SignatureVerification: trustpolicy.SignatureVerification{
					VerificationLevel: "strict",
					Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{"revocation": "log"},
					VerifyTimestamp:   "afterCertExpiry",
				},
				TrustStores:       []string{"ca:prod", "tsa:timestamps"},
				TrustedIdentities: []string{"x509.subject: C=US, ST=WA, O=Acme, CN=builder", "x509.subject: C=US, S=WA, O=Acme, CN=release"},
			},
			{
				Name:                  "third-party",
				RegistryScopes:        []string{"docker.io/library/nginx"},
				SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "skip"},
			},
			{
				Name:                  "default",
				RegistryScopes:        []string{"*"},
				SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "audit"},
				TrustStores:           []string{"ca:prod"},
				TrustedIdentities:     []string{"*"},
			},
		},
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("document mismatch (-want +got):\n%s", diff)
	}
}

// statement renders one statement for the malformed-policy table; fields
// are raw JSON so each case can break exactly one thing.
func statement(name, scopes, sv, stores, ids string) string {
	var parts []string
	if name != "" {
		parts = append(parts, `"name": `+name)
	}
	if scopes != "" {
		parts = append(parts, `"registryScopes": `+scopes)
	}
	if sv != "" {
		parts = append(parts, `"signatureVerification": `+sv)
	}
	if stores != "" {
		parts = append(parts, `"trustStores": `+stores)
	}
	if ids != "" {
		parts = append(parts, `"trustedIdentities": `+ids)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func policyOf(statements ...string) string {
	return `{"version": "1.0", "trustPolicies": [` + strings.Join(statements, ", ") + `]}`
}

const (
	okID     = `["x509.subject: C=US, ST=WA, O=Acme, CN=builder"]`
	okStores = `["ca:prod"]`
	strictSV = `{"level": "strict"}`
)

func ok(name, scopes string) string { return statement(`"`+name+`"`, scopes, strictSV, okStores, okID) }

type policyCase struct {
	name string
	in   string
	want []Problem // each Message is a substring of the reported message
}

func policyProblemCases() []policyCase {
	return []policyCase{
		{
			name: "not JSON",
			in:   `{"version": "1.0",`,
			want: []Problem{{Path: "", Message: "ends early"}},
		},
		{
			name: "syntax error with position",
			in:   "{\n  \"version\": \"1.0\"\n  \"trustPolicies\": []\n}",
			want: []Problem{{Path: "", Message: "line 3, column 3"}},
		},
		{
			name: "empty",
			in:   "  ",
			want: []Problem{{Path: "", Message: "empty document"}},
		},
		{
			name: "trailing content",
			in:   policyOf(ok("a", `["*"]`)) + ` {}`,
			want: []Problem{{Path: "", Message: "unexpected content after the JSON document"}},
		},
		{
			name: "document not an object",
			in:   `["1.0"]`,
			want: []Problem{{Path: "", Message: "the document must be an object, not an array"}},
		},
		{
			name: "unsupported version",
			in:   `{"version": "2.0", "trustPolicies": [` + ok("a", `["*"]`) + `]}`,
			want: []Problem{{Path: "version", Message: `"2.0" is not supported; use "1.0"`}},
		},
		{
			name: "version missing",
			in:   `{"trustPolicies": [` + ok("a", `["*"]`) + `]}`,
			want: []Problem{{Path: "version", Message: `missing; add "version": "1.0"`}},
		},
		{
			name: "version is a number",
			in:   `{"version": 1.0, "trustPolicies": [` + ok("a", `["*"]`) + `]}`,
			want: []Problem{{Path: "version", Message: "must be a string, not the number 1.0"}},
		},
		{
			name: "no statements",
			in:   `{"version": "1.0", "trustPolicies": []}`,
			want: []Problem{{Path: "trustPolicies", Message: "no trust policy statements"}},
		},
		{
			name: "trustPolicies is an object",
			in:   `{"version": "1.0", "trustPolicies": {}}`,
			want: []Problem{{Path: "trustPolicies", Message: "must be an array of trust policy statements, not an object"}},
		},
		{
			name: "unknown fields with suggestions",
			in:   `{"Version": "1.0", "version": "1.0", "trustPolicies": [{"name": "a", "registryScope": ["*"], "registryScopes": ["*"], "signatureVerification": {"level": "strict", "verifyTimeStamp": "always"}, "trustStores": ["ca:x"], "trustedIdentities": ["*"], "color": "blue"}]}`,
			want: []Problem{
				{Path: "Version", Message: `unknown field "Version"; did you mean "version"?`},
				{Path: "trustPolicies[0].registryScope", Message: `did you mean "registryScopes"?`},
				{Path: "trustPolicies[0].color", Message: `unknown field "color"; known fields here: name, registryScopes`},
				{Path: "trustPolicies[0].signatureVerification.verifyTimeStamp", Message: `did you mean "verifyTimestamp"?`},
			},
		},
		{
			name: "duplicate key",
			in:   `{"version": "1.0", "version": "1.0", "trustPolicies": [` + ok("a", `["*"]`) + `]}`,
			want: []Problem{{Path: "version", Message: "appears more than once"}},
		},
		{
			name: "statement not an object",
			in:   policyOf(`"prod"`, ok("a", `["*"]`)),
			want: []Problem{{Path: "trustPolicies[0]", Message: `must be an object, not the string "prod"`}},
		},
		{
			name: "wrong types inside a statement",
			in:   policyOf(statement(`7`, `"*"`, `{"level": ["strict"]}`, `[1, "ca:prod"]`, `{"x": 1}`)),
			want: []Problem{
				{Path: "trustPolicies[0].name", Message: "must be a string, not the number 7"},
				{Path: "trustPolicies[0].registryScopes", Message: `must be an array of strings, not the string "*"`},
				{Path: "trustPolicies[0].trustStores[0]", Message: "must be a string, not the number 1"},
				{Path: "trustPolicies[0].trustedIdentities", Message: "must be an array of strings, not an object"},
				{Path: "trustPolicies[0].signatureVerification.level", Message: "must be a string, not an array"},
			},
		},
		{
			name: "null is not an empty value",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "skip"}`, `null`, ``)),
			want: []Problem{{Path: "trustPolicies[0].trustStores", Message: "must be an array of strings, not null"}},
		},
		{
			name: "missing name",
			in:   policyOf(statement(``, `["*"]`, strictSV, okStores, okID)),
			want: []Problem{{Path: "trustPolicies[0].name", Message: "missing"}},
		},
		{
			name: "duplicate names",
			in:   policyOf(ok("prod", `["a.io/x"]`), ok("prod", `["a.io/y"]`)),
			want: []Problem{{Path: "trustPolicies[1].name", Message: `"prod" is already the name of trustPolicies[0]`}},
		},
		{
			name: "wildcard inside repository path",
			in:   policyOf(ok("a", `["registry.example.com/app"]`), ok("b", `["registry.example.com/app2", "docker.io/library/*"]`)),
			want: []Problem{{Path: "trustPolicies[1].registryScopes[1]", Message: `"docker.io/library/*" has a wildcard inside a repository path; use a full repository or "*" alone`}},
		},
		{
			name: "scope format problems",
			in:   policyOf(ok("a", `["nginx", "https://reg.io/app", "reg.io/app:1.0", "reg.io/app@sha256:abc", "reg.io/Team/App", "bad_host/app", "reg.io/a--", ""]`)),
			want: []Problem{
				{Path: "trustPolicies[0].registryScopes[0]", Message: `"nginx" names no registry; write the full repository, for example "docker.io/library/nginx"`},
				{Path: "trustPolicies[0].registryScopes[1]", Message: `includes a scheme; drop "https://"`},
				{Path: "trustPolicies[0].registryScopes[2]", Message: `includes a tag; scopes name repositories, so drop ":1.0"`},
				{Path: "trustPolicies[0].registryScopes[3]", Message: `includes a digest`},
				{Path: "trustPolicies[0].registryScopes[4]", Message: `upper-case letters; repository paths are lower case: "reg.io/team/app"`},
				{Path: "trustPolicies[0].registryScopes[5]", Message: `invalid registry host "bad_host"`},
				{Path: "trustPolicies[0].registryScopes[6]", Message: `not a valid repository path`},
				{Path: "trustPolicies[0].registryScopes[7]", Message: `empty`},
			},
		},
		{
			name: "missing scopes",
			in:   policyOf(statement(`"a"`, `[]`, strictSV, okStores, okID)),
			want: []Problem{{Path: "trustPolicies[0].registryScopes", Message: "missing; list repositories"}},
		},
		{
			name: "duplicate scopes across statements and within one",
			in:   policyOf(ok("a", `["reg.io/app"]`), ok("b", `["reg.io/app", "reg.io/other", "reg.io/other"]`)),
			want: []Problem{
				{Path: "trustPolicies[1].registryScopes[0]", Message: `"reg.io/app" is already covered by trustPolicies[0]`},
				{Path: "trustPolicies[1].registryScopes[2]", Message: `listed twice in this statement (also registryScopes[1])`},
			},
		},
		{
			name: "more than one wildcard statement",
			in:   policyOf(ok("a", `["*"]`), ok("b", `["*"]`)),
			want: []Problem{{Path: "trustPolicies[1].registryScopes[0]", Message: `"*" is also the scope of trustPolicies[0]; only one statement may use "*"`}},
		},
		{
			name: "wildcard with other scopes",
			in:   policyOf(ok("a", `["reg.io/app", "*"]`)),
			want: []Problem{{Path: "trustPolicies[0].registryScopes[1]", Message: `"*" must be the only scope in its statement`}},
		},
		{
			name: "skip with trust stores and identities",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "skip"}`, okStores, okID)),
			want: []Problem{
				{Path: "trustPolicies[0].trustStores", Message: `a "skip" statement must not list trust stores`},
				{Path: "trustPolicies[0].trustedIdentities", Message: `a "skip" statement must not list trusted identities`},
			},
		},
		{
			name: "non-skip without trust stores or identities",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "permissive"}`, ``, `[]`)),
			want: []Problem{
				{Path: "trustPolicies[0].trustStores", Message: `missing; level "permissive" needs at least one trust store`},
				{Path: "trustPolicies[0].trustedIdentities", Message: `missing; list the signers to trust`},
			},
		},
		{
			name: "bad store references",
			in:   policyOf(statement(`"a"`, `["*"]`, strictSV, `["prod", "x509:prod", "CA:prod", "ca:my store", "ca:", "signingAuthority:sa", "tsa:ts"]`, okID)),
			want: []Problem{
				{Path: "trustPolicies[0].trustStores[0]", Message: `"prod" is not TYPE:NAME; write it like "ca:prod"`},
				{Path: "trustPolicies[0].trustStores[1]", Message: `unknown store type "x509"; use ca, signingAuthority or tsa`},
				{Path: "trustPolicies[0].trustStores[2]", Message: `types are case sensitive, write "ca:prod"`},
				{Path: "trustPolicies[0].trustStores[3]", Message: `invalid store name "my store"`},
				{Path: "trustPolicies[0].trustStores[4]", Message: `has no store name`},
			},
		},
		{
			name: "only tsa stores",
			in:   policyOf(statement(`"a"`, `["*"]`, strictSV, `["tsa:ts"]`, okID)),
			want: []Problem{{Path: "trustPolicies[0].trustStores", Message: `lists only tsa stores`}},
		},
		{
			name: "bad level",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "strong"}`, okStores, okID)),
			want: []Problem{{Path: "trustPolicies[0].signatureVerification.level", Message: `"strong" is not a verification level; use strict, permissive, audit or skip`}},
		},
		{
			name: "missing level",
			in:   policyOf(statement(`"a"`, `["*"]`, ``, okStores, okID)),
			want: []Problem{{Path: "trustPolicies[0].signatureVerification.level", Message: `missing`}},
		},
		{
			name: "bad override keys and values",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "strict", "override": {"integrity": "log", "expiry": "skip", "authenticity": "ignore", "revocation": "maybe", "colour": "log", "authenticTimestamp": 3}}`, okStores, okID)),
			want: []Problem{
				{Path: "trustPolicies[0].signatureVerification.override.authenticTimestamp", Message: `must be a string, not the number 3`},
				{Path: "trustPolicies[0].signatureVerification.override.authenticity", Message: `"ignore" is not an action; use "enforce" or "log"`},
				{Path: "trustPolicies[0].signatureVerification.override.colour", Message: `unknown check "colour"`},
				{Path: "trustPolicies[0].signatureVerification.override.expiry", Message: `only revocation can be skipped`},
				{Path: "trustPolicies[0].signatureVerification.override.integrity", Message: `integrity is always enforced and cannot be overridden`},
				{Path: "trustPolicies[0].signatureVerification.override.revocation", Message: `"maybe" is not an action; use "enforce", "log" or "skip"`},
			},
		},
		{
			name: "override on skip",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "skip", "override": {"revocation": "log"}}`, ``, ``)),
			want: []Problem{{Path: "trustPolicies[0].signatureVerification.override", Message: `level "skip" cannot be customized`}},
		},
		{
			name: "bad verifyTimestamp",
			in:   policyOf(statement(`"a"`, `["*"]`, `{"level": "strict", "verifyTimestamp": "sometimes"}`, okStores, okID)),
			want: []Problem{{Path: "trustPolicies[0].signatureVerification.verifyTimestamp", Message: `"sometimes" is not valid; use "always" (the default) or "afterCertExpiry"`}},
		},
		{
			name: "trusted identity problems",
			in: policyOf(statement(`"a"`, `["*"]`, strictSV, okStores, `[
				"x509.subject: C=US, ST=WA, O=Acme, CN=ok",
				"CN=builder",
				"x509.subject: CN=x",
				"x509.subject: C=US, ST=WA, O=Acme, CN=a+OU=b",
				"x509.subject: C=US, ST=WA, ST=OR, O=Acme",
				"x509.subject: C=US, ST=WA, O=#0403",
				"x509.san: example.com",
				"X509.Subject: C=US, ST=WA, O=Acme",
				"x509.subject:   ",
				"x509.subject: C=US, ST=WA, O=Acme, CN=ok, OU=more",
				"",
				"x509.subject: C=US, ST=WA, O"
			]`)),
			want: []Problem{
				{Path: "trustPolicies[0].trustedIdentities[1]", Message: `"CN=builder" lacks the identity type; write "x509.subject: CN=builder"`},
				{Path: "trustPolicies[0].trustedIdentities[2]", Message: `"x509.subject: CN=x" lacks C, ST and O`},
				{Path: "trustPolicies[0].trustedIdentities[3]", Message: `multi-valued RDN`},
				{Path: "trustPolicies[0].trustedIdentities[4]", Message: `repeats the ST attribute`},
				{Path: "trustPolicies[0].trustedIdentities[5]", Message: `hex-encoded attribute value`},
				{Path: "trustPolicies[0].trustedIdentities[6]", Message: `identity type "x509.san"; hallmark supports only "x509.subject:" identities`},
				{Path: "trustPolicies[0].trustedIdentities[7]", Message: `write the identity type exactly as "x509.subject:"`},
				{Path: "trustPolicies[0].trustedIdentities[8]", Message: `has no distinguished name`},
				{Path: "trustPolicies[0].trustedIdentities[10]", Message: `empty`},
				{Path: "trustPolicies[0].trustedIdentities[11]", Message: `is not a valid distinguished name`},
				{Path: "trustPolicies[0].trustedIdentities[9]", Message: `overlaps with trustedIdentities[0]`},
			},
		},
		{
			name: "wildcard identity with others",
			in:   policyOf(statement(`"a"`, `["*"]`, strictSV, okStores, `["*", "x509.subject: C=US, ST=WA, O=Acme"]`)),
			want: []Problem{{Path: "trustPolicies[0].trustedIdentities[0]", Message: `"*" must be the only trusted identity`}},
		},
		{
			name: "every problem at once, in document order",
			in:   `{"version": "0.9", "trustPolicies": [` + statement(`"a"`, `["reg.io/*"]`, `{"level": "strict"}`, ``, okID) + `, ` + statement(`"a"`, `["*"]`, `{"level": "nope"}`, okStores, okID) + `]}`,
			want: []Problem{
				{Path: "version", Message: `"0.9" is not supported`},
				{Path: "trustPolicies[0].registryScopes[0]", Message: `wildcard inside a repository path`},
				{Path: "trustPolicies[0].trustStores", Message: `missing`},
				{Path: "trustPolicies[1].name", Message: `already the name of trustPolicies[0]`},
				{Path: "trustPolicies[1].signatureVerification.level", Message: `"nope" is not a verification level`},
			},
		},
	}
}

func TestParseTrustPolicyProblems(t *testing.T) {
	for _, tt := range policyProblemCases() {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted the policy: %+v", doc)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("errors.Is(err, ErrInvalidPolicy) = false for %v", err)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, want *PolicyError", err)
			}
			if len(pe.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(pe.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				got := pe.Problems[i]
				if got.Path != w.Path || !strings.Contains(got.Message, w.Message) {
					t.Errorf("problem %d = %q\nwant path %q with message containing %q", i, got.String(), w.Path, w.Message)
				}
			}
			// Error() lists every problem, one per line, after a header.
			if lines := strings.Split(err.Error(), "\n"); len(lines) != len(tt.want)+1 {
				t.Errorf("Error() has %d lines, want %d:\n%s", len(lines), len(tt.want)+1, err)
			}
		})
	}
}

// TestParseTrustPolicyAgreesWithNotation checks that every malformed case
// above is one notation-go rejects too, except the few that hallmark rejects
// on purpose: there our message must not describe a rule notation-go lacks.
func TestParseTrustPolicyAgreesWithNotation(t *testing.T) {
	stricter := map[string]bool{
		"null is not an empty value":      true, // encoding/json reads null as "absent"
		"duplicate key":                   true, // encoding/json keeps the last one
		"only tsa stores":                 true, // notation-go fails every signature at verify time instead
		"unknown fields with suggestions": true, // encoding/json ignores unknown fields
	}
	for _, tt := range policyProblemCases() {
		t.Run(tt.name, func(t *testing.T) {
			var doc trustpolicy.Document
			if err := json.Unmarshal([]byte(tt.in), &doc); err != nil {
				return // not even JSON notation-go can read
			}
			err := doc.Validate()
			if stricter[tt.name] {
				if err != nil {
					t.Errorf("case is marked stricter than notation-go, but notation-go rejects it too: %v", err)
				}
				return
			}
			if err == nil {
				t.Errorf("hallmark rejects this policy but notation-go accepts it; mark it as stricter or fix the check")
			}
		})
	}
	doc, err := Parse([]byte(validPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Fatalf("notation-go rejects a policy hallmark accepts: %v", err)
	}
}

func TestLoadTrustPolicy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "trustpolicy.json")
	if err := os.WriteFile(good, []byte(validPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, maxTrustPolicySize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version": "2.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		wantErr string // "" means success
		wantIs  error
	}{
		{name: "regular file", path: good},
		{name: "symlink", path: link, wantErr: "is a symlink", wantIs: ErrInvalidPolicy},
		{name: "directory with a policy inside", path: dir, wantErr: "did you mean " + good, wantIs: ErrInvalidPolicy},
		{name: "too large", path: big, wantErr: "the limit is 1048576 bytes", wantIs: ErrInvalidPolicy},
		{name: "missing", path: filepath.Join(dir, "nope.json"), wantErr: "does not exist", wantIs: os.ErrNotExist},
		{name: "invalid content names the file", path: bad, wantErr: "trust policy " + bad + " has 2 problems", wantIs: ErrInvalidPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Load(tt.path)
			if tt.wantErr == "" {
				if err != nil || doc == nil {
					t.Fatalf("Load = %v, %v", doc, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

func TestValidateTrustPolicy(t *testing.T) {
	doc := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.TrustPolicy{{
		Name:                  "a",
		RegistryScopes:        []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict"},
		TrustStores:           []string{"ca:x"},
		TrustedIdentities:     []string{"x509.subject: CN=only"},
	}}}
	err := Validate(doc)
	if err == nil || !strings.Contains(err.Error(), `trustPolicies[0].trustedIdentities[0]: "x509.subject: CN=only" lacks C, ST and O`) {
		t.Fatalf("Validate = %v", err)
	}
	if err := Validate(nil); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("Validate(nil) = %v", err)
	}
}
