package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestValidateCosign(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   map[string]string
	}{
		{
			name: "a valid keyed and keyless configuration",
			change: func(c *Config) {
				c.Cosign = Cosign{TrustedRootFile: "root.json", Policies: []CosignPolicy{
					{Name: "k", Scopes: []string{"r.io/app", "r.io:5000/b"}, Keys: []CosignKey{{File: "cosign.pub"}, {Key: "release/*"}}},
					{Name: "kl", Scopes: []string{"*"}, Keyless: []CosignIdentity{{SubjectRegExp: "^.*@example.com$", Issuer: "https://accounts.google.com"}}},
				}}
				c.SignatureKinds = SignatureKinds{Default: "notation", Rules: []SignatureKindRule{{Scopes: []string{"r.io/app"}, Require: "cosign"}, {Scopes: []string{"r.io:5000/b"}, Require: "each"}}}
			},
		},
		{
			name: "policy problems",
			change: func(c *Config) {
				c.Cosign = Cosign{Policies: []CosignPolicy{
					{Scopes: []string{"r.io/*"}},
					{Name: "x", Scopes: []string{"*"}, Keys: []CosignKey{{File: "a", PEM: "b"}}, Keyless: []CosignIdentity{{Subject: "a", SubjectRegExp: "b", IssuerRegExp: "("}}},
				}}
			},
			want: map[string]string{
				"cosign.policies[0].name":                    "required",
				"cosign.policies[0].scopes[0]":               `"r.io/*" is not REGISTRY/REPOSITORY`,
				"cosign.policies[0]":                         "accepts nothing",
				"cosign.policies[1].keys[0]":                 "exactly one of file, pem and key",
				"cosign.policies[1].keyless[0]":              "exactly one of subject and subjectRegExp",
				"cosign.policies[1].keyless[0].issuerRegExp": "not a regular expression",
				"cosign.policies[1]":                         "need cosign.trustedRootFile",
			},
		},
		{
			name: "Key Vault key settings",
			change: func(c *Config) {
				c.Cosign = Cosign{Policies: []CosignPolicy{{Name: "kv", Scopes: []string{"*"}, Keys: []CosignKey{
					{Key: "https://v.vault.azure.net/keys/signer", CurrentVersionOnly: true, Azure: &AzureCredentials{ClientID: "c", TenantID: "t"}},
					{Key: "https://v.vault.azure.net/keys/signer/0123", CurrentVersionOnly: true},
					{Key: "https://v.vault.azure.net/certificates/signer", CurrentVersionOnly: true},
					{File: "cosign.pub", Azure: &AzureCredentials{ClientID: "c"}},
					{Key: "https://v.vault.azure.net/keys/signer", Azure: &AzureCredentials{Endpoints: []string{"r.io"}}},
				}}}}
			},
			want: map[string]string{
				"cosign.policies[0].keys[1].currentVersionOnly": "only for a Key Vault key named without a version",
				"cosign.policies[0].keys[2].currentVersionOnly": "only for a Key Vault key named without a version",
				"cosign.policies[0].keys[3].azure":              "only for a Key Vault key",
				"cosign.policies[0].keys[4].azure.endpoints":    "only for registries",
			},
		},
		{
			name: "signature kinds that cannot be met",
			change: func(c *Config) {
				c.SignatureKinds = SignatureKinds{Default: "both", Rules: []SignatureKindRule{{Scopes: []string{"r.io/a"}, Require: "cosign"}, {Scopes: []string{"r.io/a"}, Require: "any"}}}
			},
			want: map[string]string{
				"signatureKinds.default":            `"both" must be notation, cosign, any, all or each`,
				"signatureKinds.rules[0].require":   "cosign needs cosign.policies",
				"signatureKinds.rules[1].scopes[0]": "is in another rule",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base(t)
			tt.change(c)
			err := c.Validate()
			got := map[string]string{}
			if e, ok := err.(*Error); ok {
				for _, p := range e.Problems {
					got[p.Path] += p.Message + " | "
				}
			} else if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			for path, msg := range tt.want {
				if !strings.Contains(got[path], msg) {
					t.Errorf("problem at %s = %q, want it to say %q", path, got[path], msg)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("problems = %v, want only %v", got, tt.want)
			}
		})
	}
}

func TestSignatureKindDefault(t *testing.T) {
	c := base(t)
	if def := c.SignatureKindDefault(); def != KindNotation {
		t.Errorf("default without cosign = %s, want notation", def)
	}
	c.Cosign.Policies = []CosignPolicy{{Name: "k", Scopes: []string{"*"}, Keys: []CosignKey{{File: "k.pub"}}}}
	if def := c.SignatureKindDefault(); def != KindAny {
		t.Errorf("default with cosign = %s, want any", def)
	}
}

// TestCosignPathsResolve: cosign's files are relative to the configuration
// file like every other path, and are watched for reloads.
func TestCosignPathsResolve(t *testing.T) {
	dir := t.TempDir()
	data := baseYAML + "cosign: {trustedRootFile: root.json, policies: [{name: a, scopes: ['*'], keys: [{file: cosign.pub}]}]}\n"
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cosign.TrustedRootFile != filepath.Join(dir, "root.json") || c.Cosign.Policies[0].Keys[0].File != filepath.Join(dir, "cosign.pub") {
		t.Errorf("cosign paths = %q, %q", c.Cosign.TrustedRootFile, c.Cosign.Policies[0].Keys[0].File)
	}
	if !slices.Contains(c.Files(), filepath.Join(dir, "cosign.pub")) {
		t.Errorf("Files() = %q lacks the cosign key", c.Files())
	}
}
