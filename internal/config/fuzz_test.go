package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// FuzzLoad feeds arbitrary bytes to the configuration parser, which reads
// ConfigMaps that many people can edit. It must never panic; a configuration
// it accepts must validate, and must parse again to the same configuration
// when written out as JSON (which YAML reads too).
func FuzzLoad(f *testing.F) {
	addSeeds(f)
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
	// The configuration's reader leaves a null unset, in these fields as in
	// every other; encoding/json keeps it as the JSON text null.
	unset := func(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }
	if unset(a) && unset(b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func addSeeds(f *testing.F) {
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
}

// FuzzDecodeAgreesWithJSON: the configuration decoder, which reads strict's
// Nodes field by field to report every problem with its path, reads what
// encoding/json reads from the same document with the same field names.
// Whatever it accepts, encoding/json accepts too (unknown fields refused),
// to the same configuration.
func FuzzDecodeAgreesWithJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decode("", data)
		if err != nil {
			return
		}
		root, _, err := strict.NewYAMLReader(data, yamlLimits).Next()
		if errors.Is(err, io.EOF) {
			root = &strict.Node{Kind: strict.Null}
		} else if err != nil {
			t.Fatalf("decode accepted what the reader refuses: %v", err)
		}
		js, err := json.Marshal(root.Value())
		if err != nil {
			t.Fatalf("an accepted document cannot be written as JSON: %v", err)
		}
		want := &Config{}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(want); err != nil {
			t.Fatalf("encoding/json refuses what decode accepted: %v\n%s", err, js)
		}
		if diff := cmp.Diff(want, c, cmp.Comparer(sameJSON)); diff != "" {
			t.Fatalf("decode and encoding/json disagree (-encoding/json +decode):\n%s", diff)
		}
	})
}
