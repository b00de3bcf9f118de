package strict

import (
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

func TestYAMLReader(t *testing.T) {
	lim := YAMLLimits{MaxAliases: 4, MaxValues: 50, MaxDepth: 4}
	tests := []struct {
		name, in string
		want     any    // Value() of the first document
		problem  string // "path: message" of the first problem
		err      error
		errText  string
	}{
		{name: "mapping", in: "b: 1\na: [x, 2.5, true, ~]\n", want: map[string]any{"b": 1, "a": []any{"x", 2.5, true, nil}}},
		{name: "float stays a float", in: "a: 1.0\n", want: map[string]any{"a": 1.0}},
		{name: "empty", in: "", err: io.EOF},
		{name: "empty document", in: "---\n", want: nil},
		{name: "merge", in: "b: &b {x: 1}\na:\n  <<: *b\n  z: 2\n", want: map[string]any{"b": map[string]any{"x": 1}, "a": map[string]any{"x": 1, "z": 2}}},
		{name: "list", in: "- {b: 1, a: 2}\n", want: []any{map[string]any{"a": 2, "b": 1}}},
		{name: "boolean key", in: "a:\n  on: 1\n", want: map[string]any{"a": map[string]any{}}, problem: "a: a key is read by YAML as the boolean true (YAML 1.1"},
		{name: "number key", in: "1: x\n", want: map[string]any{}, problem: "key 1 is the number 1, not a string; quote it"},
		{name: "null key", in: "~: x\n", want: map[string]any{}, problem: "a key is empty or null"},
		{name: "too deep", in: "a: [[[[1]]]]\n", want: map[string]any{"a": []any{[]any{[]any{nil}}}}, problem: "a[0][0][0]: nests deeper than 4 levels"},
		{name: "syntax", in: "a: [\n", errText: "not valid YAML: line 1"},
		{name: "aliases", in: "a: &a x\nb: *a\nc: &c *a\nd: *c\n", err: ErrTooManyAliases},
		{name: "values", in: "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]\nb: [*a, *a, *a]\n", err: ErrTooManyValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, probs, err := NewYAMLReader([]byte(tt.in), lim).Next()
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errText)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if got := n.Value(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("value %#v, want %#v", got, tt.want)
			}
			if tt.problem == "" && len(probs) > 0 || tt.problem != "" && (len(probs) != 1 || !strings.Contains(probs[0].String(), tt.problem)) {
				t.Errorf("problems %q, want one containing %q", probs, tt.problem)
			}
		})
	}
}

func TestYAMLReaderKeepsOrderAndRepeats(t *testing.T) {
	r := NewYAMLReader([]byte("b: 1\na: {q: 1, p: 2}\nb: 3\n---\nc: 1\n"), YAMLLimits{})
	n, _, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n.Keys, []string{"b", "a"}) || !reflect.DeepEqual(n.Dups, []string{"b"}) || n.Vals["b"].Str != "3" || !reflect.DeepEqual(n.Vals["a"].Keys, []string{"q", "p"}) {
		t.Fatalf("keys %v, dups %v, b = %s, a's keys %v", n.Keys, n.Dups, n.Vals["b"].Str, n.Vals["a"].Keys)
	}
	if n, _, err := r.Next(); err != nil || !reflect.DeepEqual(n.Keys, []string{"c"}) {
		t.Fatalf("second document %v, %v", n, err)
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last document: %v", err)
	}
}

// plainYAML turns what the YAML library decodes into an interface{} into
// the values Value returns, and NaN into a string DeepEqual can compare.
func plainYAML(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		m := map[any]any{}
		for k, e := range x {
			m[k] = e
		}
		return plainYAML(m)
	case map[any]any:
		out := map[string]any{}
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			pe, ok := plainYAML(e)
			if !ok {
				return nil, false
			}
			out[ks] = pe
		}
		return out, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			pe, ok := plainYAML(e)
			if !ok {
				return nil, false
			}
			out[i] = pe
		}
		return out, true
	case float64:
		if math.IsNaN(x) {
			return "NaN!", true
		}
	}
	return v, true
}

func nanFree(v any) any {
	p, _ := plainYAML(v)
	return p
}

// FuzzYAMLReader: the reader and the YAML library agree. Whatever the
// library decodes with string keys, the reader reads without a problem
// and to the same values; order and repeats are what the reader adds.
func FuzzYAMLReader(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: [1, 2.0, .inf, .nan, x, ~, yes]\nb: {c: d}\n", "a: 1\na: 2\n", "on: 1\n", "- a\n- b: c\n",
		"a: &x {b: 1}\nc: *x\n", "<<: {a: 1}\nb: 2\n", "a: 0x10\nb: 1e3\nc: 18446744073709551615\n", "{a: [", "--- 1\n--- 2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, probs, err := NewYAMLReader(data, YAMLLimits{MaxAliases: 16, MaxValues: 10000}).Next()
		if errors.Is(err, ErrTooManyValues) || errors.Is(err, ErrTooManyAliases) {
			return // the library would spend its time expanding aliases
		}
		var want any
		stdErr := yaml.Unmarshal(data, &want)
		if errors.Is(err, io.EOF) {
			if stdErr != nil || want != nil {
				t.Fatalf("reader saw no document, the library read %#v, %v", want, stdErr)
			}
			return
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("reader error %v, library error %v", err, stdErr)
		}
		if err != nil {
			return
		}
		want, stringKeys := plainYAML(want)
		if !stringKeys {
			if len(probs) == 0 {
				t.Fatal("a key that is not a string went unreported")
			}
			return
		}
		if len(probs) > 0 {
			t.Fatalf("problems %v in a document with string keys only", probs)
		}
		if got := nanFree(n.Value()); !reflect.DeepEqual(got, want) {
			t.Fatalf("reader read %#v, the library %#v", got, want)
		}
	})
}
