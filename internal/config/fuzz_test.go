package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzLoad feeds arbitrary bytes to the configuration parser, which reads
// ConfigMaps that many people can edit. It must never panic; a configuration
// it accepts must validate, and must parse again to the same configuration
// when written out as JSON (which YAML reads too).
func FuzzLoad(f *testing.F) {
	f.Add(Example())
	f.Add([]byte(baseYAML))
	for _, s := range []string{
		"", "~", "[]", "a: 1\na: 2\n", "on: yes\n", "listen: 8443\n",
		"verification: {deadline: 2s, cache: {positiveTTL: 1m, negativeTTL: 2m}}\n",
		"registries: [{hosts: ['[', '*.io'], credentials: {username: u, passwordFile: p}}]\n",
		"trustPolicy: {inline: {version: .inf, trustPolicies: [&a {x: *a}]}}\n",
		"admission: {namespaceModes: {'a.b': audit}, exemptImages: ['*']}\n",
		"a: &a [*a, *a]\n",
		"cosign: {trustedRootFile: r.json, policies: [{name: a, scopes: ['*'], keys: [{pem: x}], keyless: [{subjectRegExp: '^a$', issuer: i}]}]}\n",
		"signatureKinds: {default: any, rules: [{scopes: [r.io/app], require: cosign}]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("a configuration returned with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted configuration does not validate: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted configuration cannot be written: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("written configuration does not parse again: %v\n%s", err, out)
		}
		if diff := cmp.Diff(c, again, cmpopts.EquateEmpty(), cmp.Comparer(sameJSON)); diff != "" {
			t.Fatalf("round trip changed the configuration (-first +again):\n%s", diff)
		}
	})
}

// sameJSON compares JSON documents by value.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
