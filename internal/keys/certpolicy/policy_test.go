package certpolicy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testSubject = "CN=signer,O=Example,ST=WA,C=US"

// keyDoc is a policy with the given keyProperties object.
func keyDoc(keyProps string) string {
	return `{"keyProperties":` + keyProps + `,"x509CertificateProperties":{"subject":"` + testSubject + `"}}`
}

// x509Doc is a policy whose x509CertificateProperties are the subject plus
// the given members.
func x509Doc(members string) string {
	return `{"x509CertificateProperties":{"subject":"` + testSubject + `",` + members + `}}`
}

func TestParsePolicyFiles(t *testing.T) {
	tests := []struct {
		file     string
		keySpec  string
		ca       bool
		wantErrs []string // paths that must be reported; nil means valid
	}{
		{file: "notation.json", keySpec: "RSA-2048"},
		{file: "wrapped-ec.json", keySpec: "EC-384"},
		{file: "ca.json", keySpec: "EC-256", ca: true},
		{file: "akv-default.json", wantErrs: []string{
			"x509CertificateProperties.keyUsage[0]: cRLSign is not allowed",
			"x509CertificateProperties.keyUsage[1]: dataEncipherment is not allowed",
			"x509CertificateProperties.keyUsage[3]: keyEncipherment is not allowed",
			"x509CertificateProperties.keyUsage[4]: keyAgreement is not allowed",
			"x509CertificateProperties.keyUsage[5]: keyCertSign is not allowed",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "policy", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(data)
			if tt.wantErrs != nil {
				checkPolicyError(t, err, tt.wantErrs...)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := p.KeySpec(); got != tt.keySpec {
				t.Errorf("KeySpec() = %q; want %q", got, tt.keySpec)
			}
			if p.IsCA() != tt.ca {
				t.Errorf("IsCA() = %v; want %v", p.IsCA(), tt.ca)
			}
			if w := p.Warnings(); len(w) > 0 {
				t.Errorf("Warnings() = %v; want none", w)
			}
		})
	}
}

func TestParsePolicyKeepsVaultFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "policy", "notation.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key.ReuseKey == nil || !*p.Key.ReuseKey {
		t.Errorf("reuseKey not kept: %v", p.Key.ReuseKey)
	}
	if p.Secret == nil || p.Secret.ContentType != "application/x-pem-file" {
		t.Errorf("secretProperties not kept: %+v", p.Secret)
	}
	if len(p.LifetimeActions) != 1 || p.LifetimeActions[0].Trigger == nil || *p.LifetimeActions[0].Trigger.DaysBeforeExpiry != 30 {
		t.Errorf("lifetimeActions not kept: %+v", p.LifetimeActions)
	}
	if p.Attributes == nil || string(p.Attributes.Created) != `"2026-01-05T10:00:00+00:00"` {
		t.Errorf("attributes not kept: %+v", p.Attributes)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, p *Policy)
	}{
		{"empty sections", `{"x509CertificateProperties":{"subject":"CN=a"}}`, func(t *testing.T, p *Policy) {
			want := &Policy{
				Issuer: IssuerParameters{Name: "Self"},
				Key:    KeyProperties{KeyType: "RSA", KeySize: 2048},
				X509: X509Properties{Subject: "CN=a", EKUs: []string{OIDCodeSigning},
					KeyUsage: []string{"digitalSignature"}, ValidityInMonths: 12},
			}
			if a, b := mustJSON(t, p), mustJSON(t, want); a != b {
				t.Errorf("got %s\nwant %s", a, b)
			}
		}},
		{"EC curve from keySize", keyDoc(`{"keyType":"EC","keySize":384}`), func(t *testing.T, p *Policy) {
			if p.Key.Curve != "P-384" {
				t.Errorf("curve = %q; want P-384", p.Key.Curve)
			}
		}},
		{"EC default curve", keyDoc(`{"keyType":"EC-HSM"}`), func(t *testing.T, p *Policy) {
			if p.KeySpec() != "EC-256" {
				t.Errorf("KeySpec = %q; want EC-256", p.KeySpec())
			}
		}},
		{"curve implies EC", keyDoc(`{"curve":"P-521"}`), func(t *testing.T, p *Policy) {
			if p.Key.KeyType != "EC" || p.KeySpec() != "EC-521" {
				t.Errorf("key = %+v; want EC P-521", p.Key)
			}
		}},
		{"explicit empty EKUs stay empty", x509Doc(`"ekus":[]`), func(t *testing.T, p *Policy) {
			if p.X509.EKUs == nil || len(p.X509.EKUs) != 0 {
				t.Errorf("ekus = %#v; want empty, not nil", p.X509.EKUs)
			}
		}},
		{"null EKUs get the default", x509Doc(`"ekus":null`), func(t *testing.T, p *Policy) {
			if !slices.Equal(p.X509.EKUs, []string{OIDCodeSigning}) {
				t.Errorf("ekus = %v; want codeSigning", p.X509.EKUs)
			}
		}},
		{"CA defaults", x509Doc(`"basicConstraints":{"ca":true}`), func(t *testing.T, p *Policy) {
			if !slices.Equal(p.X509.KeyUsage, []string{"keyCertSign", "cRLSign"}) || p.X509.EKUs != nil {
				t.Errorf("CA usages = %v, ekus = %v; want [keyCertSign cRLSign], none", p.X509.KeyUsage, p.X509.EKUs)
			}
		}},
		{"issuer is kept", `{"issuerParameters":{"name":"root-ca"},"x509CertificateProperties":{"subject":"CN=a"}}`, func(t *testing.T, p *Policy) {
			if p.SelfSigned() || p.Issuer.Name != "root-ca" {
				t.Errorf("issuer = %+v; want root-ca", p.Issuer)
			}
		}},
		{"self in any case", `{"issuerParameters":{"name":"self"},"x509CertificateProperties":{"subject":"CN=a"}}`, func(t *testing.T, p *Policy) {
			if !p.SelfSigned() {
				t.Error("issuer self is not self-signed")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, p)
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each must appear in the error
	}{
		// Documents that are not policies.
		{"empty", ``, []string{"policy is empty"}},
		{"blank", "  \n", []string{"policy is empty"}},
		{"cut short", `{"keyProperties":`, []string{"the document ends early, at line 1, column 18"}},
		{"syntax error position", "{\n  \"keyProperties\": {\n    \"keySize\": 2048,\n  }\n}", []string{"line 4, column 3"}},
		{"array", `[{}]`, []string{"must be a JSON object, not an array"}},
		{"string", `"policy"`, []string{`must be a JSON object, not the string "policy"`}},
		{"null", `null`, []string{"not null"}},
		{"trailing data", `{} {}`, []string{"unexpected content after the JSON document at line 1, column 4"}},
		{"too large", `{"id":"` + strings.Repeat("x", MaxSize) + `"}`, []string{"larger than 1048576 bytes"}},
		{"wrapped null", `{"policy":null}`, []string{"policy: must be an object, not null"}},

		// Wrong JSON types, every one reported.
		{"wrong types", `{"keyProperties":{"keySize":"2048","exportable":"yes","keyType":3},` +
			`"x509CertificateProperties":{"subject":["CN=a"],"ekus":"1.3.6.1.5.5.7.3.3","keyUsage":[1],"validityInMonths":1.5},` +
			`"issuerParameters":[]}`, []string{
			`keyProperties.keySize: must be a whole number, not the string "2048"`,
			`keyProperties.exportable: must be true or false, not the string "yes"`,
			`keyProperties.keyType: must be a string, not the number 3`,
			`x509CertificateProperties.subject: must be a string, not an array`,
			`x509CertificateProperties.ekus: must be an array, not the string`,
			`x509CertificateProperties.keyUsage[0]: must be a string, not the number 1`,
			`x509CertificateProperties.validityInMonths: must be a whole number, not the number 1.5`,
			`issuerParameters: must be an object, not an array`,
		}},
		{"number out of range", keyDoc(`{"keySize":99999999999}`), []string{"keyProperties.keySize: the number 99999999999 is out of range; it must be from -2147483648 to 2147483647"}},
		{"exponent", keyDoc(`{"keySize":2e3}`), []string{"keyProperties.keySize: must be a whole number, not the number 2e3"}},

		// Unknown and repeated fields, with their paths.
		{"unknown top-level field", `{"color":"blue","x509CertificateProperties":{"subject":"CN=a"}}`, []string{`color: unknown field "color"; known fields here: attributes, id, issuerParameters`}},
		{"unknown nested field", keyDoc(`{"keySize":2048,"strength":"high"}`), []string{`keyProperties.strength: unknown field`}},
		{"unknown field in array element", `{"lifetimeActions":[{"action":{"actionType":"AutoRenew","when":1}}],"x509CertificateProperties":{"subject":"CN=a"}}`,
			[]string{`lifetimeActions[0].action.when: unknown field`}},
		{"case mismatch", keyDoc(`{"KeySize":1024}`), []string{`keyProperties.KeySize: unknown field "KeySize"; did you mean "keySize"? (field names are case-sensitive)`}},
		{"REST field names", `{"key_props":{"kty":"RSA"},"x509_props":{"subject":"CN=a"}}`, []string{
			`key_props: unknown field; hallmark reads the Azure CLI's camelCase form: use "keyProperties"`,
			`x509_props: unknown field; hallmark reads the Azure CLI's camelCase form: use "x509CertificateProperties"`,
		}},
		{"certificate bundle", `{"policy":{"x509CertificateProperties":{"subject":"CN=a"}},"cer":"MII="}`, []string{`cer: unknown field next to "policy"`}},
		{"wrapped unknown field", `{"policy":{"x509CertificateProperties":{"subject":"CN=a","sans":[]}}}`, []string{`policy.x509CertificateProperties.sans: unknown field`}},
		{"duplicate field", keyDoc(`{"keySize":4096,"keySize":1024}`), []string{`keyProperties.keySize: appears more than once; keep one`}},

		// Key properties the Notary Project forbids.
		{"RSA 1024", keyDoc(`{"keyType":"RSA","keySize":1024}`), []string{"keyProperties.keySize: 1024 is below 2048"}},
		{"RSA 8192", keyDoc(`{"keyType":"RSA","keySize":8192}`), []string{"keyProperties.keySize: 8192 is above 4096"}},
		{"RSA 2560", keyDoc(`{"keyType":"RSA-HSM","keySize":2560}`), []string{"keyProperties.keySize: 2560 is not allowed; use 2048, 3072 or 4096"}},
		{"RSA with curve", keyDoc(`{"keyType":"RSA","curve":"P-256"}`), []string{`keyProperties.curve: "P-256" is only for EC keys`}},
		{"secp256k1", keyDoc(`{"keyType":"EC","curve":"P-256K"}`), []string{"keyProperties.curve: P-256K (secp256k1) is not allowed by the Notary Project"}},
		{"P-224", keyDoc(`{"keyType":"EC","curve":"P-224"}`), []string{`keyProperties.curve: "P-224" is not allowed`}},
		{"EC size mismatch", keyDoc(`{"keyType":"EC","curve":"P-256","keySize":384}`), []string{"keyProperties.keySize: 384 does not match curve P-256"}},
		{"symmetric key", keyDoc(`{"keyType":"oct-HSM"}`), []string{"keyProperties.keyType: oct-HSM is a symmetric key and cannot sign"}},
		{"unknown key type", keyDoc(`{"keyType":"DSA"}`), []string{`keyProperties.keyType: "DSA" is not a key type`}},

		// Extended key usages.
		{"serverAuth", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.3","1.3.6.1.5.5.7.3.1"]`), []string{
			"x509CertificateProperties.ekus[1]: 1.3.6.1.5.5.7.3.1 (serverAuth) is not allowed in a Notary Project signing certificate; use 1.3.6.1.5.5.7.3.3 (codeSigning)"}},
		{"clientAuth", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.2"]`), []string{"ekus[0]: 1.3.6.1.5.5.7.3.2 (clientAuth) is not allowed"}},
		{"emailProtection", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.4"]`), []string{"ekus[0]: 1.3.6.1.5.5.7.3.4 (emailProtection) is not allowed"}},
		{"timeStamping", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.8"]`), []string{"ekus[0]: 1.3.6.1.5.5.7.3.8 (timeStamping) is not allowed"}},
		{"anyExtendedKeyUsage", x509Doc(`"ekus":["2.5.29.37.0"]`), []string{"ekus[0]: 2.5.29.37.0 (anyExtendedKeyUsage) is not allowed"}},
		{"forbidden EKU in a CA", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.1"],"basicConstraints":{"ca":true}`), []string{"ekus[0]: 1.3.6.1.5.5.7.3.1 (serverAuth) is not allowed in a hallmark CA certificate"}},
		{"EKU by name", x509Doc(`"ekus":["codeSigning"]`), []string{`ekus[0]: "codeSigning" is a name, not an OID; use 1.3.6.1.5.5.7.3.3`}},
		{"forbidden EKU by name", x509Doc(`"ekus":["serverAuth"]`), []string{`ekus[0]: serverAuth is not allowed`}},
		{"EKU not an OID", x509Doc(`"ekus":["1.3.6.x"]`), []string{`ekus[0]: "1.3.6.x" is not a dotted OID`}},
		{"EKU twice", x509Doc(`"ekus":["1.3.6.1.5.5.7.3.3","1.3.6.1.5.5.7.3.3"]`), []string{`ekus[1]: 1.3.6.1.5.5.7.3.3 is listed twice`}},

		// Key usages.
		{"keyEncipherment", x509Doc(`"keyUsage":["digitalSignature","keyEncipherment"]`), []string{"keyUsage[1]: keyEncipherment is not allowed in a Notary Project signing certificate"}},
		{"dataEncipherment", x509Doc(`"keyUsage":["digitalSignature","dataEncipherment"]`), []string{"keyUsage[1]: dataEncipherment is not allowed"}},
		{"keyAgreement", x509Doc(`"keyUsage":["digitalSignature","keyAgreement"]`), []string{"keyUsage[1]: keyAgreement is not allowed"}},
		{"keyCertSign in a leaf", x509Doc(`"keyUsage":["digitalSignature","keyCertSign"]`), []string{`keyUsage[1]: keyCertSign is not allowed in a Notary Project signing certificate; for a CA key add "basicConstraints": {"ca": true}`}},
		{"cRLSign", x509Doc(`"keyUsage":["digitalSignature","cRLSign"]`), []string{"keyUsage[1]: cRLSign is not allowed"}},
		{"encipherOnly", x509Doc(`"keyUsage":["digitalSignature","encipherOnly"]`), []string{"keyUsage[1]: encipherOnly is not allowed"}},
		{"decipherOnly", x509Doc(`"keyUsage":["digitalSignature","decipherOnly"]`), []string{"keyUsage[1]: decipherOnly is not allowed"}},
		{"no digitalSignature", x509Doc(`"keyUsage":["nonRepudiation"]`), []string{"x509CertificateProperties.keyUsage: must include digitalSignature"}},
		{"empty key usage", x509Doc(`"keyUsage":[]`), []string{"x509CertificateProperties.keyUsage: must include digitalSignature"}},
		{"misspelt key usage", x509Doc(`"keyUsage":["DigitalSignature"]`), []string{
			`keyUsage[0]: "DigitalSignature" is not a key usage; did you mean digitalSignature?`,
			"x509CertificateProperties.keyUsage: must include digitalSignature"}},
		{"unknown key usage", x509Doc(`"keyUsage":["digitalSignature","signing"]`), []string{`keyUsage[1]: "signing" is not a key usage; use one of`}},
		{"key usage twice", x509Doc(`"keyUsage":["digitalSignature","digitalSignature"]`), []string{`keyUsage[1]: digitalSignature is listed twice`}},
		{"CA without keyCertSign", x509Doc(`"keyUsage":["cRLSign"],"basicConstraints":{"ca":true}`), []string{"x509CertificateProperties.keyUsage: must include keyCertSign for a CA certificate"}},
		{"CA with keyEncipherment", x509Doc(`"keyUsage":["keyCertSign","keyEncipherment"],"basicConstraints":{"ca":true}`), []string{"keyUsage[1]: keyEncipherment is not allowed in a hallmark CA certificate"}},

		// Everything else.
		{"validity 0 months after defaults is fine, negative is not", x509Doc(`"validityInMonths":-1`), []string{"x509CertificateProperties.validityInMonths: -1 is out of range; use 1 to 1200"}},
		{"validity 101 years", x509Doc(`"validityInMonths":1201`), []string{"validityInMonths: 1201 is out of range"}},
		{"no subject", `{"keyProperties":{}}`, []string{"x509CertificateProperties.subject: is required"}},
		{"bad subject", `{"x509CertificateProperties":{"subject":"CN=a,,O=b"}}`, []string{"x509CertificateProperties.subject: is not a valid distinguished name (incomplete type, value pair); write it as RFC 4514"}},
		{"bad country", `{"x509CertificateProperties":{"subject":"CN=a,C=USA"}}`, []string{"x509CertificateProperties.subject: country C=USA is not a two-letter country code"}},
		{"issuer Unknown", `{"issuerParameters":{"name":"Unknown"},"x509CertificateProperties":{"subject":"CN=a"}}`, []string{"issuerParameters.name: Unknown (a certificate signing request completed by hand) is not supported"}},
		{"issuer not a key name", `{"issuerParameters":{"name":"my ca"},"x509CertificateProperties":{"subject":"CN=a"}}`, []string{`issuerParameters.name: "my ca" is neither "Self" nor a key name`}},
		{"pathLen without CA", x509Doc(`"basicConstraints":{"pathLenConstraint":1}`), []string{`basicConstraints.pathLenConstraint: is only allowed with "ca": true`}},
		{"negative pathLen", x509Doc(`"basicConstraints":{"ca":true,"pathLenConstraint":-1}`), []string{`basicConstraints.pathLenConstraint: -1 is negative`}},
		{"UPNs", x509Doc(`"subjectAlternativeNames":{"upns":["a@b"]}`), []string{"subjectAlternativeNames.upns: user principal names are not supported"}},
		{"bad DNS name", x509Doc(`"subjectAlternativeNames":{"dnsNames":["ok.example","not ok"]}`), []string{`subjectAlternativeNames.dnsNames[1]: "not ok" is not a DNS name`}},
		{"bad e-mail", x509Doc(`"subjectAlternativeNames":{"emails":["nobody"]}`), []string{`subjectAlternativeNames.emails[0]: "nobody" is not an ASCII e-mail address`}},
		{"wrapped paths", `{"policy":{"keyProperties":{"keySize":1024},"x509CertificateProperties":{"subject":"CN=a"}}}`, []string{"policy.keyProperties.keySize: 1024 is below 2048"}},

		// Every problem at once.
		{"all problems together", `{"keyProperties":{"keyType":"RSA","keySize":1024},"x509CertificateProperties":` +
			`{"subject":"","ekus":["1.3.6.1.5.5.7.3.1"],"keyUsage":["keyEncipherment"],"validityInMonths":5000}}`, []string{
			"keyProperties.keySize: 1024 is below 2048",
			"x509CertificateProperties.subject: is required",
			"x509CertificateProperties.ekus[0]: 1.3.6.1.5.5.7.3.1 (serverAuth) is not allowed",
			"x509CertificateProperties.keyUsage[0]: keyEncipherment is not allowed",
			"x509CertificateProperties.keyUsage: must include digitalSignature",
			"x509CertificateProperties.validityInMonths: 5000 is out of range",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %s", mustJSON(t, p))
			}
			checkPolicyError(t, err, tt.want...)
		})
	}
}

// checkPolicyError checks that err is a *PolicyError wrapping
// ErrInvalidPolicy whose problems include each of want (as substrings of
// "path: message").
func checkPolicyError(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("error %v does not wrap ErrInvalidPolicy", err)
	}
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PolicyError", err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(pe.Problems, func(p Problem) bool { return strings.Contains(p.String(), w) }) {
			t.Errorf("no problem contains %q; got:\n%s", w, problemList(pe.Problems))
		}
	}
	if len(pe.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(pe.Problems), len(want), problemList(pe.Problems))
	}
}

func problemList(probs []Problem) string {
	var b strings.Builder
	for _, p := range probs {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestValidateUnfilledPolicy(t *testing.T) {
	// A policy built in code without ApplyDefaults: Validate must say what
	// is missing rather than assume.
	err := (&Policy{}).Validate()
	checkPolicyError(t, err,
		"issuerParameters.name: is required",
		`keyProperties.keyType: "" is not a key type`,
		"x509CertificateProperties.subject: is required",
		"x509CertificateProperties.keyUsage: must include digitalSignature",
		"x509CertificateProperties.validityInMonths: 0 is out of range",
	)
}

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if p.KeySpec() != "RSA-2048" || !p.SelfSigned() || p.IsCA() || p.X509.ValidityInMonths != 12 {
		t.Errorf("Default() = %s", mustJSON(t, p))
	}
	// Each call returns a new policy that callers may change.
	p.X509.Subject = "CN=changed"
	if Default().X509.Subject == "CN=changed" {
		t.Error("Default shares state between calls")
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"complete subject", keyDoc(`{}`), nil},
		{"only CN", `{"x509CertificateProperties":{"subject":"CN=a"}}`, []string{"x509CertificateProperties.subject: has no C, ST, O;"}},
		{"no ST", `{"x509CertificateProperties":{"subject":"CN=a,O=b,C=US"}}`, []string{"x509CertificateProperties.subject: has no ST;"}},
		{"S counts as ST", `{"x509CertificateProperties":{"subject":"CN=a,O=b,S=WA,C=US"}}`, nil},
		{"exportable", keyDoc(`{"exportable":true}`), []string{"keyProperties.exportable: is true, but hallmark never exports private keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := p.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("Warnings() = %v; want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("warning %d = %q; want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// invalidTestdataPolicy is the one testdata policy that is meant not to
// parse (Azure Key Vault's default policy, whose key usages the Notary
// Project forbids; TestParsePolicyFiles checks its errors). Every other
// file must parse and round-trip, so a file broken by mistake fails here
// instead of being skipped.
const invalidTestdataPolicy = "akv-default.json"

func TestPolicyJSONRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "policy", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(data)
			if filepath.Base(f) == invalidTestdataPolicy {
				if err == nil {
					t.Fatalf("%s parses; it is meant to be the invalid example", f)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checkRoundTrip(t, p)
		})
	}
}

// checkRoundTrip checks that a parsed policy survives being stored as JSON
// and read again unchanged, as key stores do.
func checkRoundTrip(t *testing.T, p *Policy) {
	t.Helper()
	first := mustJSON(t, p)
	p2, err := Parse([]byte(first))
	if err != nil {
		t.Fatalf("policy %s does not parse again: %v", first, err)
	}
	if second := mustJSON(t, p2); second != first {
		t.Fatalf("policy changed on a round trip:\n%s\n%s", first, second)
	}
	if err := p2.Validate(); err != nil {
		t.Fatalf("policy validates after parsing but not after a round trip: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "policy", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(keyDoc(`{"keyType":"EC","keySize":384}`)))
	f.Add([]byte(x509Doc(`"ekus":[],"basicConstraints":{"ca":true,"pathLenConstraint":2}`)))
	f.Add([]byte(`{"policy":{"x509CertificateProperties":{"subject":"O=\"a, b\",CN=c\\2C"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPolicy) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a *PolicyError with problems", err)
			}
			return
		}
		// An accepted policy is valid, stays valid, and can be stored.
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy that Validate rejects: %v", err)
		}
		checkRoundTrip(t, p)
		if p.KeySpec() == "" {
			t.Fatalf("accepted policy has no key spec: %s", mustJSON(t, p))
		}
		_ = p.Warnings()
		if _, err := parseDN(p.X509.Subject); err != nil {
			t.Fatal(err)
		}
	})
}
