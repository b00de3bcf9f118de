package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// baseYAML is the smallest valid configuration.
const baseYAML = `
tls: {certFile: tls.crt, keyFile: tls.key}
trustStores:
  - name: prod
    type: ca
    certificates: [{file: ca.pem}]
trustPolicy:
  inline:
    version: "1.0"
    trustPolicies:
      - name: p
        registryScopes: ["*"]
        signatureVerification: {level: strict}
        trustStores: ["ca:prod"]
        trustedIdentities: ["*"]
`

func base(t *testing.T) *Config {
	t.Helper()
	c, err := Parse([]byte(baseYAML))
	if err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	return c
}

func pemOf(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// problemsOf returns the problems of an *Error as "path: message".
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error does not match ErrInvalidConfig")
	}
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

// wantProblems checks that got holds exactly one problem per want, each
// starting with the wanted "path: " and containing the wanted text.
func wantProblems(t *testing.T, got []string, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
	}
	for path, text := range want {
		found := slices.ContainsFunc(got, func(g string) bool {
			return strings.HasPrefix(g, path+": ") && strings.Contains(g, text)
		})
		if !found {
			t.Errorf("no problem %q containing %q in:\n  %s", path, text, strings.Join(got, "\n  "))
		}
	}
}

func TestExample(t *testing.T) {
	c, err := Parse(Example())
	if err != nil {
		t.Fatalf("the documented example does not parse: %v", err)
	}
	if c.Mode != ModeDeny || len(c.Registries) != 3 || len(c.TrustStores) != 2 || c.Admission.NamespaceModes["staging"] != ModeAudit {
		t.Errorf("example parsed to an unexpected configuration: %+v", c)
	}
	// The example documents the defaults: writing them out must not change
	// anything Default would choose.
	d := Default()
	if c.Listen != d.Listen || c.Verification != d.Verification || c.TrustStoreRefresh != d.TrustStoreRefresh || *c.Admission.Mutate != *d.Admission.Mutate ||
		!slices.Equal(c.Admission.ExcludeNamespaces, d.Admission.ExcludeNamespaces) {
		t.Errorf("the example's documented defaults differ from Default():\nexample %+v\ndefault %+v", c, d)
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	want := &Config{
		Listen: ":8443",
		Mode:   ModeDeny,
		Admission: Admission{
			ExcludeNamespaces: []string{"kube-system"},
			Mutate:            d.Admission.Mutate,
		},
		TrustStoreRefresh: Duration{time.Minute},
		Verification: Verification{
			Deadline:      Duration{2500 * time.Millisecond},
			MaxSignatures: verify.DefaultMaxSignatures,
			Cache: Cache{
				PositiveTTL: Duration{cache.DefaultPositiveTTL},
				NegativeTTL: Duration{cache.DefaultNegativeTTL},
				MaxEntries:  cache.DefaultMaxEntries,
			},
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Default() (-want +got):\n%s", diff)
	}
	if d.Admission.Mutate == nil || !*d.Admission.Mutate {
		t.Error("mutate does not default to true")
	}

	t.Run("set values are kept", func(t *testing.T) {
		c, err := Parse([]byte(baseYAML + `
listen: "127.0.0.1:9443"
mode: audit
admission: {excludeNamespaces: [], mutate: false}
verification: {deadline: 8s, maxSignatures: 5, cache: {positiveTTL: 1m, negativeTTL: 1m, maxEntries: 7}}
`))
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:9443" || c.Mode != ModeAudit || c.Admission.ExcludeNamespaces == nil ||
			len(c.Admission.ExcludeNamespaces) != 0 || *c.Admission.Mutate ||
			c.Verification.Deadline.Duration != 8*time.Second || c.Verification.MaxSignatures != 5 ||
			c.Verification.Cache != (Cache{Duration{time.Minute}, Duration{time.Minute}, 7}) {
			t.Errorf("set values were overridden: %+v", c)
		}
	})
	t.Run("null means unset", func(t *testing.T) {
		c, err := Parse([]byte(baseYAML + "admission: {excludeNamespaces: null, mutate: null}\nverification:\n"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Admission.ExcludeNamespaces, DefaultExcludeNamespaces) || !*c.Admission.Mutate {
			t.Errorf("null did not give the defaults: %+v", c.Admission)
		}
	})
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want map[string]string
	}{
		{
			name: "unknown fields, with the nearest field suggested",
			yaml: "listn: x\ncolour: blue\nregistries: [{hosts: [a.io], plainHttp: true}]\n",
			want: map[string]string{
				"listn":                   `unknown field "listn"; did you mean "listen"?`,
				"colour":                  `unknown field "colour"; known fields here: admission,`,
				"registries[0].plainHttp": `did you mean "plainHTTP"? (field names are case-sensitive)`,
			},
		},
		{
			name: "wrong types",
			yaml: "listen: 8443\nmode: [deny]\nadmission: {mutate: \"yes\", exemptImages: x}\nverification: {maxSignatures: 1.5, cache: {maxEntries: many}}\n",
			want: map[string]string{
				"listen":                        "must be a string, not the number 8443",
				"mode":                          "must be a string, not a list",
				"admission.mutate":              `must be true or false, not the string "yes"`,
				"admission.exemptImages":        "must be a list",
				"verification.maxSignatures":    "must be a whole number, not the number 1.5",
				"verification.cache.maxEntries": "must be a whole number",
			},
		},
		{
			name: "durations need a unit",
			yaml: "verification: {deadline: \"2\", cache: {positiveTTL: 5, negativeTTL: soon}}\n",
			want: map[string]string{
				"verification.deadline":          `"2" is not a duration`,
				"verification.cache.positiveTTL": `must be a duration such as "2s", not the number 5`,
				"verification.cache.negativeTTL": `"soon" is not a duration`,
			},
		},
		{
			name: "repeated keys are refused, not silently resolved",
			yaml: "mode: deny\nmode: audit\nadmission:\n  namespaceModes: {a: deny, a: audit}\n",
			want: map[string]string{
				"mode":                       "appears more than once",
				"admission.namespaceModes.a": "appears more than once",
			},
		},
		{
			name: "YAML 1.1 boolean keys",
			yaml: "admission:\n  namespaceModes:\n    on: audit\n    \"off\": audit\n",
			want: map[string]string{
				"admission.namespaceModes": "read by YAML as the boolean true",
			},
		},
		{
			name: "non-string keys",
			yaml: "1: x\n",
			want: map[string]string{"": "key 1 is the number 1, not a string"},
		},
		{
			name: "not a mapping",
			yaml: "- listen\n",
			want: map[string]string{"": "must be a YAML mapping"},
		},
		{
			name: "syntax error",
			yaml: "tls: {certFile: a\n",
			want: map[string]string{"": "is not valid YAML"},
		},
		{
			name: "two documents",
			yaml: "listen: \":1\"\n---\nlisten: \":2\"\n",
			want: map[string]string{"": "more than one YAML document"},
		},
		{
			name: "inline policy values JSON cannot hold",
			yaml: "trustPolicy:\n  inline: {version: .inf, trustPolicies: [{1: x}]}\n",
			want: map[string]string{
				"trustPolicy.inline.version":          "+Inf cannot be written in JSON",
				"trustPolicy.inline.trustPolicies[0]": "key 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			// The snippets leave out the required fields, which
			// validation, run over whatever decoded, reports too.
			got := slices.DeleteFunc(problemsOf(t, err), func(p string) bool {
				return strings.HasPrefix(p, "tls.certFile: required") || strings.HasPrefix(p, "tls.keyFile: required") || strings.HasPrefix(p, "trustPolicy: required")
			})
			// "" problems print without a path.
			want := map[string]string{}
			for p, m := range tt.want {
				if p == "" {
					if len(got) != 1 || !strings.Contains(got[0], m) {
						t.Fatalf("got %q, want one problem containing %q", got, m)
					}
					return
				}
				want[p] = m
			}
			wantProblems(t, got, want)
		})
	}

	t.Run("nested too deeply", func(t *testing.T) {
		deep := "trustPolicy: {inline: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}\n"
		got := problemsOf(t, func() error { _, err := Parse([]byte(deep)); return err }())
		if len(got) == 0 || !strings.Contains(got[0], "nests deeper than 32 levels") {
			t.Fatalf("got %q", got)
		}
	})
	// A field that does not decode does not hide the problems of the
	// others: one run reports them all, decoding problems first.
	t.Run("decoding and validation problems at once", func(t *testing.T) {
		got := problemsOf(t, func() error {
			_, err := Parse([]byte("mode: warn\nunknownField: 1\nlisten: [1]\nregistries: [{hosts: [\"bad host\"]}]\ntls: {certFile: c, keyFile: k}\ntrustPolicy: {file: p}\ntrustStoreDir: ts\n"))
			return err
		}())
		wantProblems(t, got, map[string]string{
			"unknownField":           "unknown field",
			"listen":                 "",
			"mode":                   "must be deny or audit",
			"registries[0].hosts[0]": "is not HOST or HOST:PORT",
		})
		if len(got) == 0 || !strings.HasPrefix(got[0], "unknownField") && !strings.HasPrefix(got[0], "listen") {
			t.Errorf("decoding problems do not come first: %q", got)
		}
		for _, p := range got {
			if strings.HasPrefix(p, "listen:") && strings.Contains(p, "required") {
				t.Errorf("a field that did not decode is reported again by validation: %q", got)
			}
		}
	})
	t.Run("oversized", func(t *testing.T) {
		_, err := Parse(make([]byte, maxConfigSize+1))
		if got := problemsOf(t, err); len(got) != 1 || !strings.Contains(got[0], "probably the wrong file") {
			t.Fatalf("got %q", got)
		}
	})
}

func TestValidateProblems(t *testing.T) {
	root := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Test Root")
	leaf := signingtest.Leaf(t, signingtest.Key(t, signingtest.EC384).Public(), "Test Leaf", root, signingtest.Key(t, signingtest.EC256))

	tests := []struct {
		name   string
		change func(c *Config)
		want   map[string]string
	}{
		{
			name:   "listener and TLS",
			change: func(c *Config) { c.Listen = "8443"; c.TLS = TLS{} },
			want: map[string]string{
				"listen":       `"8443" is not HOST:PORT`,
				"tls.certFile": "required: the API server and Gatekeeper call webhooks over HTTPS only",
				"tls.keyFile":  "required",
			},
		},
		{
			name:   "port out of range",
			change: func(c *Config) { c.Listen = ":99999" },
			want:   map[string]string{"listen": "not a number from 1 to 65535"},
		},
		{
			name: "modes",
			change: func(c *Config) {
				c.Mode = "warn"
				c.Admission.NamespaceModes = map[string]Mode{"team-a": "enforce", "Team_B": ModeAudit}
			},
			want: map[string]string{
				"mode":                            `"warn" must be deny or audit`,
				"admission.namespaceModes.team-a": `"enforce" must be deny or audit`,
				"admission.namespaceModes.Team_B": "is not a namespace name",
			},
		},
		{
			name: "namespaces that contradict each other",
			change: func(c *Config) {
				c.Admission.ExcludeNamespaces = []string{"kube-system", "infra", "infra"}
				c.Admission.IncludeNamespaces = []string{"apps", "infra"}
				c.Admission.NamespaceModes = map[string]Mode{"kube-system": ModeAudit, "other": ModeAudit}
			},
			want: map[string]string{
				"admission.excludeNamespaces[2]":       `"infra" is already listed at admission.excludeNamespaces[1]`,
				"admission.includeNamespaces[1]":       "also excluded by admission.excludeNamespaces[1]",
				"admission.namespaceModes.kube-system": "excluded by admission.excludeNamespaces[0], so its mode never applies",
				"admission.namespaceModes.other":       "not in admission.includeNamespaces",
			},
		},
		{
			name: "exempt images",
			change: func(c *Config) {
				c.Admission.ExemptImages = []string{"*", "registry.k8s.io/[pause", "https://r.io/x", "", "registry.k8s.io/pause:*", "r.io/**/x", "*/**", "r.io/**"}
			},
			want: map[string]string{
				"admission.exemptImages[0]": "exempts every image; to admit unverified images, use mode: audit",
				"admission.exemptImages[1]": "syntax error in pattern",
				"admission.exemptImages[5]": "'**' is only allowed as the last path element",
				"admission.exemptImages[6]": "exempts every image",
				"admission.exemptImages[2]": "has a URL scheme",
				"admission.exemptImages[3]": "is empty",
			},
		},
		{
			name: "verification limits",
			change: func(c *Config) {
				c.Verification = Verification{
					Deadline:      Duration{time.Minute},
					MaxSignatures: 5000,
					Cache:         Cache{PositiveTTL: Duration{2 * time.Hour}, NegativeTTL: Duration{-time.Second}, MaxEntries: -1},
				}
			},
			want: map[string]string{
				"verification.deadline":          "longer than 30s",
				"verification.maxSignatures":     "5000 is more than 1000",
				"verification.cache.positiveTTL": "2h0m0s is longer than 1h0m0s",
				"verification.cache.negativeTTL": "must be positive",
				"verification.cache.maxEntries":  "must be positive",
			},
		},
		{
			name: "negative TTL above the positive one",
			change: func(c *Config) {
				c.Verification.Cache = Cache{PositiveTTL: Duration{time.Minute}, NegativeTTL: Duration{2 * time.Minute}}
			},
			want: map[string]string{"verification.cache.negativeTTL": "must not exceed positiveTTL"},
		},
		{
			name: "negative TTL above the default positive one",
			change: func(c *Config) {
				c.Verification.Cache = Cache{NegativeTTL: Duration{10 * time.Minute}}
			},
			want: map[string]string{"verification.cache.negativeTTL": "must not exceed positiveTTL (5m0s)"},
		},
		{
			name: "registry hosts",
			change: func(c *Config) {
				c.Registries = []Registry{
					{Hosts: []string{"*.azurecr.io"}},
					{Hosts: []string{"[", "https://r.io", "r.io/path", "", "*.AzureCR.io"}},
					{},
				}
			},
			want: map[string]string{
				"registries[1].hosts[0]": `"[" is not a valid glob`,
				"registries[1].hosts[1]": "has a URL scheme",
				"registries[1].hosts[2]": "is not HOST or HOST:PORT",
				"registries[1].hosts[3]": "is empty",
				"registries[1].hosts[4]": "already matched by registries[0].hosts[0], which comes first and wins",
				"registries[2].hosts":    "required",
			},
		},
		{
			name: "allowed registries",
			change: func(c *Config) {
				c.AllowedRegistries = []string{"ghcr.io", "[", "https://r.io", "r.io/path", ""}
			},
			want: map[string]string{
				"allowedRegistries[1]": `"[" is not a valid glob`,
				"allowedRegistries[2]": "has a URL scheme",
				"allowedRegistries[3]": "is not HOST or HOST:PORT",
				"allowedRegistries[4]": "is empty",
			},
		},
		{
			name: "registry TLS settings that cancel out",
			change: func(c *Config) {
				c.Registries = []Registry{
					{Hosts: []string{"a.io"}, PlainHTTP: true, InsecureSkipTLSVerify: true},
					{Hosts: []string{"b.io"}, PlainHTTP: true, CAFile: "ca.pem"},
					{Hosts: []string{"c.io"}, InsecureSkipTLSVerify: true, CAFile: "ca.pem"},
				}
			},
			want: map[string]string{
				"registries[0].insecureSkipTLSVerify": "no effect with plainHTTP",
				"registries[1].caFile":                "no effect with plainHTTP",
				"registries[2].caFile":                "no effect with insecureSkipTLSVerify",
			},
		},
		{
			name: "credentials",
			change: func(c *Config) {
				c.Registries = []Registry{
					{Hosts: []string{"a.io"}, Credentials: Credentials{DockerConfigFile: "c.json", TokenFile: "t"}},
					{Hosts: []string{"b.io"}, Credentials: Credentials{Username: "u"}},
					{Hosts: []string{"c.io"}, Credentials: Credentials{PasswordFile: "p"}},
					{Hosts: []string{"d.io"}, Credentials: Credentials{Username: "u", PasswordFromEnv: "1PASS", PasswordFile: "p"}},
					{Hosts: []string{"e.io"}, Credentials: Credentials{TokenFromEnv: "T", TokenFile: "t"}},
				}
			},
			want: map[string]string{
				"registries[0].credentials":                 "gives dockerConfigFile and token; give one source",
				"registries[1].credentials.username":        "needs a password",
				"registries[2].credentials.username":        "required with a password",
				"registries[3].credentials.passwordFile":    "not both",
				"registries[3].credentials.passwordFromEnv": `"1PASS" is not an environment variable name`,
				"registries[4].credentials.tokenFile":       "not both",
			},
		},
		{
			name: "trust stores",
			change: func(c *Config) {
				c.TrustStores = append(c.TrustStores,
					TrustStore{Name: "prod", Type: "root", Certificates: []CertificateSource{{File: "a"}}},
					TrustStore{Name: "prod", Type: "ca"},
					TrustStore{Name: "bad name", Type: "tsa", Certificates: []CertificateSource{
						{},
						{File: "a", Dir: "b"},
						{PEM: "not pem"},
						{PEM: pemOf(leaf)},
						{Key: "release"},
						{Key: "-bad/1"},
						{PEM: pemOf(leaf), Azure: &AzureCredentials{ClientID: "x"}},
						{Key: "https://v.vault.azure.net/certificates/c/c53ad379d88d4cbe87c2bd3af2c29140", Azure: &AzureCredentials{Endpoints: []string{"*.azurecr.io"}}},
						{Key: "https://v.vault.azure.net/certificates/c/c53ad379d88d4cbe87c2bd3af2c29140", CurrentVersionOnly: true},
						{File: "a.pem", CurrentVersionOnly: true},
						{Key: "https://v.vault.azure.net/certificates/c", CurrentVersionOnly: true},
					}},
				)
			},
			want: map[string]string{
				"trustStores[1].type":                               "\"root\" must be ca, signingAuthority or tsa",
				"trustStores[2]":                                    "trust store ca:prod is already defined by trustStores[0]",
				"trustStores[2].certificates":                       "required",
				"trustStores[3].name":                               "may use only letters",
				"trustStores[3].certificates[0]":                    "give one of file, dir, pem or key",
				"trustStores[3].certificates[1]":                    "gives file and dir; give one per entry",
				"trustStores[3].certificates[2].pem":                "holds no PEM certificate",
				"trustStores[3].certificates[3].pem":                "",
				"trustStores[3].certificates[4].key":                "needs keyStore.dir",
				"trustStores[3].certificates[5].key":                "",
				"trustStores[3].certificates[6].pem":                "",
				"trustStores[3].certificates[6].azure":              "only for a Key Vault key",
				"trustStores[3].certificates[7].azure.endpoints":    "only for registries",
				"trustStores[3].certificates[8].currentVersionOnly": "only for a Key Vault key named without a version",
				"trustStores[3].certificates[9].currentVersionOnly": "only for a Key Vault key named without a version",
			},
		},
		{
			// A vault or token is read without the local key store.
			name: "key in a vault with no keyStore.dir",
			change: func(c *Config) {
				c.TrustStores[0].Certificates = append(c.TrustStores[0].Certificates,
					CertificateSource{Key: "https://myvault.vault.azure.net/certificates/release/c53ad379d88d4cbe87c2bd3af2c29140"})
			},
		},
		{
			name: "inline PEM that a trust store accepts",
			change: func(c *Config) {
				c.TrustStores[0].Certificates = append(c.TrustStores[0].Certificates, CertificateSource{PEM: pemOf(root)})
			},
		},
		{
			name: "trust policy given twice",
			change: func(c *Config) {
				c.TrustPolicy.File = "trustpolicy.json"
			},
			want: map[string]string{"trustPolicy": "give file or inline, not both"},
		},
		{
			name:   "trust policy missing",
			change: func(c *Config) { c.TrustPolicy = TrustPolicy{} },
			want:   map[string]string{"trustPolicy": "required"},
		},
		{
			name: "inline policy problems keep their paths",
			change: func(c *Config) {
				c.TrustPolicy.Inline = []byte(`{"version":"1.0","trustPolicies":[{"name":"","registryScopes":["*"],"signatureVerification":{"level":"strictest"},"trustStores":["ca:prod"],"trustedIdentities":["*"]}]}`)
			},
			want: map[string]string{
				"trustPolicy.inline.trustPolicies[0].name":                        "",
				"trustPolicy.inline.trustPolicies[0].signatureVerification.level": "",
			},
		},
		{
			name: "a statement naming an undefined trust store",
			change: func(c *Config) {
				c.TrustPolicy.Inline = []byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:prod","signingAuthority:release"],"trustedIdentities":["*"]}]}`)
			},
			want: map[string]string{
				"trustPolicy.inline.trustPolicies[0].trustStores[1]": `"signingAuthority:release" is not defined in trustStores; add an entry with name: release and type: signingAuthority there`,
			},
		},
		{
			name: "undefined stores may come from trustStoreDir",
			change: func(c *Config) {
				c.TrustStores = nil
				c.TrustStoreDir = "truststore"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base(t)
			tt.change(c)
			got := problemsOf(t, c.Validate())
			wantProblems(t, got, tt.want)
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		// Cases that change disjoint fields, applied together.
		together := []string{"listener and TLS", "modes", "exempt images", "verification limits", "registry hosts", "trust policy missing"}
		c := base(t)
		want := map[string]string{}
		for _, tt := range tests {
			if slices.Contains(together, tt.name) {
				tt.change(c)
				for p, m := range tt.want {
					want[p] = m
				}
			}
		}
		wantProblems(t, problemsOf(t, c.Validate()), want)
	})

	t.Run("validate ignores whether defaults were applied", func(t *testing.T) {
		c := &Config{TLS: TLS{CertFile: "a", KeyFile: "b"}, TrustPolicy: TrustPolicy{File: "p.json"}}
		if err := c.Validate(); err != nil {
			t.Fatalf("zero fields were judged as zero, not as their defaults: %v", err)
		}
		if c.Listen != "" || c.Admission.Mutate != nil {
			t.Fatal("Validate changed the configuration")
		}
	})
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "real", "hallmark.yaml")
	if err := os.WriteFile(cfg, []byte(baseYAML+"keyStore: {dir: /abs/keys}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// As a Kubernetes ConfigMap volume does: the file is a symlink.
	link := filepath.Join(dir, "hallmark.yaml")
	if err := os.Symlink(filepath.Join("real", "hallmark.yaml"), link); err != nil {
		t.Fatal(err)
	}
	c, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tls.crt"); c.TLS.CertFile != want {
		t.Errorf("certFile %q, want %q (relative to the file's folder)", c.TLS.CertFile, want)
	}
	if want := filepath.Join(dir, "ca.pem"); c.TrustStores[0].Certificates[0].File != want {
		t.Errorf("certificate file %q, want %q", c.TrustStores[0].Certificates[0].File, want)
	}
	if c.KeyStore.Dir != "/abs/keys" {
		t.Errorf("absolute path changed to %q", c.KeyStore.Dir)
	}
	if got, want := c.Files(), []string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), "/abs/keys", filepath.Join(dir, "ca.pem")}; !slices.Equal(got, want) {
		t.Errorf("Files() = %q, want %q", got, want)
	}

	t.Run("problems name the file", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte("mode: maybe\n"), 0o600)
		_, err := Load(bad)
		var e *Error
		if !errors.As(err, &e) || e.Source != bad || !strings.Contains(err.Error(), bad) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a folder is refused", func(t *testing.T) {
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		if _, err := Load(filepath.Join(dir, "none.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestWarnings(t *testing.T) {
	c := base(t)
	c.Mode = ModeAudit
	c.Admission.ExemptImages = []string{"r.io/pause:*"}
	c.Registries = []Registry{
		{Hosts: []string{"127.0.0.1:*", "localhost:5000"}, PlainHTTP: true},
		{Hosts: []string{"build.internal"}, PlainHTTP: true},
		{Hosts: []string{"test.internal"}, InsecureSkipTLSVerify: true},
	}
	got := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		"mode: audit admits images that fail verification",
		"admission.exemptImages: images matching r.io/pause:* are admitted without verification",
		"registries[1].plainHTTP: build.internal are reached over unencrypted HTTP",
		"registries[2].insecureSkipTLSVerify: the TLS certificates of test.internal are not verified",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "registries[0]") {
		t.Errorf("plain HTTP to loopback warned about:\n%s", got)
	}
	if w := base(t).Warnings(); len(w) != 0 {
		t.Errorf("a safe configuration has warnings: %q", w)
	}
}

// TestDocumentedExample keeps docs/configuration.md showing the example that
// `hallmark config example` prints.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, bytes.TrimRight(Example(), "\n")) {
		t.Fatal("docs/configuration.md does not hold the example of `hallmark config example`; copy internal/config/testdata/example.yaml into it")
	}
}

// TestAliasBomb: anchors that repeat each other are refused before the
// loader walks millions of values.
func TestAliasBomb(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 6 {
		name := fmt.Sprintf("b%d", i)
		doc += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, err := Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases") {
		t.Fatalf("Parse of an alias bomb = %v, want the expansion refused", err)
	}
}

// TestRequireDigestWarnings: requireDigest false is warned about, as are
// the trusted namespace prefix and mutation turned off.
func TestRequireDigestWarnings(t *testing.T) {
	c := base(t)
	no := false
	c.Admission.RequireDigest = &no
	c.Admission.TrustNamespacePrefixFromAnyCaller = true
	got := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"admission.requireDigest: false admits images named by a tag", "admission.trustNamespacePrefixFromAnyCaller"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	c = base(t)
	c.Admission.Mutate = &no
	if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, "admission.mutate: false leaves tags unpinned") {
		t.Errorf("mutate false is not warned about:\n%s", got)
	}
}

// A YAML merge key ("<<: *base") brings its fields in, as every YAML reader
// does; the configuration reader once dropped them without a word.
func TestMergeKeys(t *testing.T) {
	_, err := Parse([]byte(baseYAML + "defaults: &d {insecureSkipTLSVerify: true, plainHTTP: false}\n"))
	if err == nil || !strings.Contains(err.Error(), "defaults") {
		t.Fatalf("an unknown top-level field was accepted: %v", err)
	}
	c, err := Parse([]byte(strings.Replace(baseYAML, "tls: {certFile: tls.crt, keyFile: tls.key}", "tls:\n  <<: {certFile: tls.crt}\n  keyFile: tls.key", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.CertFile != "tls.crt" || c.TLS.KeyFile != "tls.key" {
		t.Fatalf("tls = %+v", c.TLS)
	}
	_, err = Parse([]byte(strings.Replace(baseYAML, "tls: {certFile: tls.crt, keyFile: tls.key}", "tls:\n  <<: {certFil: tls.crt}\n  keyFile: tls.key", 1)))
	if err == nil || !strings.Contains(err.Error(), `tls.certFil: unknown field "certFil"`) {
		t.Fatalf("a misspelt merged field: %v", err)
	}
}
